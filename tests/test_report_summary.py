"""The report's generated sentences (Samenvatting, limitations, model method): every claim from the tables.

The values are written by hand here, as the results tables would hold them, so each test says
which number must appear where, and what is said when a value is not estimable or suppressed.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis import report as r


def changes_table(**overrides) -> pd.DataFrame:
    rows = pd.DataFrame({
        "scope": "all", "outcome": ["djg_total", "who5", "djg_social"], "order": [0, 3, 1],
        "holm_family": ["primary", "primary", "secondary"],
        "label_short": ["Eenzaamheid totaal", "WHO-5 welbevinden", "Sociale eenzaamheid"],
        "not_estimable": ["", "", ""],
    })
    for k, v in overrides.items():
        rows[k] = v
    return rows


@pytest.fixture
def summary_detail(monkeypatch):
    """summary_detail reads results/reach_summary.csv; give it the labels by hand."""
    labels = {"strongest_1_or": "alleenstaand", "strongest_2_or": "18-34 jaar",
              "top_reason_non_visitors_pct": "kende het niet", "top_reason_proxy_pct": "taal"}
    monkeypatch.setattr(r, "summary_detail", lambda name, key, out=None: labels[key])


REACH = {"n_respondents_all": 451.0, "pct_reached_all": 42.13, "pct_reached_all_ci_low": 37.66,
         "pct_reached_all_ci_high": 46.73, "strongest_1_or": 2.5987, "strongest_1_ci_low": 1.6329,
         "strongest_1_ci_high": 4.1359, "strongest_2_or": 0.5006, "strongest_2_ci_low": 0.3002,
         "strongest_2_ci_high": 0.8348, "top_reason_non_visitors_pct": 60.9, "top_reason_proxy_pct": 40.9}
PAIRED = {"n_pairs": 18.0, "primary_test": "t", "alpha": 0.05, "mean_change_djg_total": -1.1765,
          "mean_change_ci_low_djg_total": -1.8824, "mean_change_ci_high_djg_total": -0.4118,
          "mean_change_who5": 7.5, "mean_change_ci_low_who5": 2.75, "mean_change_ci_high_who5": 12.75,
          "n_holm_below_alpha_primary": 1.0, "n_outcomes_family_primary": 2.0, "n_not_tested_primary": 0.0,
          "mde_dz_all": 0.7007, "median_pairs_per_site": 6.0}


def test_summary_numbers_come_from_the_tables(summary_detail):
    text = r.summary_bullets(REACH, PAIRED, changes_table())
    # 42.13 -> "42", CI 37.66-46.73 -> "38–47"; OR 2.5987 -> "2,60" (1.6329-4.1359 -> "1,63–4,14")
    assert "Van de 451 bewoners" in text and "42% het krachtpunt" in text and "(95%-BI 38–47%)" in text
    assert "'alleenstaand' (odds ratio 2,60; 95%-BI 1,63–4,14)" in text
    assert "'18-34 jaar' (odds ratio 0,50; 95%-BI 0,30–0,83)" in text
    # mean change 7.5 with CI 2.75-12.75 -> one decimal, rounded half away from zero: 2,8–12,8
    assert "WHO-5 welbevinden veranderde gemiddeld met 7,5 punten (95%-BI 2,8–12,8)" in text
    # headline from the pre-specified primary test and family only: 1 of 2, named
    assert "Bij 1 van de 2 vooraf gekozen primaire uitkomsten (eenzaamheid totaal en WHO-5 welbevinden)" in text
    assert "gepaarde t-toets" in text and "Sociale eenzaamheid" not in text
    assert "Met 18 paren is alleen een verandering van ongeveer 0,7 keer" in text
    assert text.count("\n- ") == 3 and text.startswith("- **Bereik.**")


def test_summary_says_what_could_not_be_estimated(summary_detail):
    reach = dict(REACH, strongest_1_or=float("nan"), strongest_2_or=float("nan"))
    paired = dict(PAIRED, n_pairs=1.0, mean_change_who5=float("nan"), mean_change_ci_low_who5=float("nan"),
                  mean_change_ci_high_who5=float("nan"), mean_change_djg_total="<5", mde_dz_all=float("nan"),
                  n_holm_below_alpha_primary=0.0, n_not_tested_primary=2.0, primary_test="wilcoxon")
    ch = changes_table(not_estimable=["", "too few pairs (n = 1; at least 2 needed)", ""])
    text = r.summary_bullets(reach, paired, ch)
    assert "niet te schatten (zie @sec-bereik)" in text
    assert "de verandering in WHO-5 welbevinden was niet te schatten (te weinig paren)" in text
    assert "Eenzaamheid totaal rust op minder dan vijf personen" in text
    assert "Wilcoxon-rangtekentoets" in text and "bij 2 kon niet getoetst worden" in text
    assert "kleinste aantoonbare effect niet te berekenen" in text
    assert not re.search(r"(?<!\d)–|–(?!\d)", text)  # no dash standing in for a missing number
    assert "nan" not in text.lower()


def test_summary_with_no_forms_and_suppressed_pairs(summary_detail):
    reach = {"n_respondents_all": 0.0, "top_reason_non_visitors_pct": float("nan"),
             "top_reason_proxy_pct": float("nan")}
    paired = dict(PAIRED, n_pairs="<5")
    text = r.summary_bullets(reach, paired, changes_table())
    assert "Er zijn geen bereiksvragenlijsten geanalyseerd." in text
    assert "te weinig redenen genoemd" in text
    assert "Minder dan vijf bezoekers zijn twee keer geïnterviewd." in text


def test_limitations_read_the_number_of_pairs():
    text = r.limitations(False, {"median_pairs_per_site": 4.0, "n_pairs": 13.0})
    assert "in de mediaan 4 bezoekers twee keer geïnterviewd (13 in totaal)" in text
    assert "zeven" not in text
    assert "Synthetische data" in r.limitations(True)


def test_model_method_sentence_follows_the_table():
    base = {"site_left_out": "", "not_estimable": ""}
    loso = pd.DataFrame([dict(base, model="site_fixed", method="maximum likelihood"),
                         dict(base, model="leave_one_site_out", method="maximum likelihood", site_left_out="DH")])
    text = r.model_method_sentence(loso)
    assert "zonder één van de krachtpunten" in text and "Firth" not in text
    cluster = pd.DataFrame([dict(base, model="site_fixed", method="Firth penalised likelihood"),
                            dict(base, model="site_fixed_cluster", method="maximum likelihood", n_clusters=300)])
    text = r.model_method_sentence(cluster)
    assert "cluster-robuuste standaardfouten per krachtpunt (300 krachtpunten)" in text
    assert "[@firth1993; @heinze2002]" in text
    ne = pd.DataFrame([dict(base, model="site_fixed", method="maximum likelihood", not_estimable="no variation: x")])
    assert "niet te schatten waren" in r.model_method_sentence(ne)
