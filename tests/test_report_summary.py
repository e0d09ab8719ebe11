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


# --- values hidden by secondary suppression ("x", issue 17) -------------------------------------

def test_the_one_reader_knows_both_marks():
    # "<5": a count 0-4; "x": a count of 5 or more hidden to protect a "<5" elsewhere
    assert [r.mark(v) for v in ("<5", " x", "12", 3.0, float("nan"))] == ["<5", "x", None, None, None]
    assert [r.num(v, 0) for v in ("<5", "x", 7.0)] == ["<5", "x", "7"]
    assert [r.count(v) for v in ("<5", "x", 14.0)] == ["minder dan vijf", "een niet gepubliceerd aantal", "14"]
    assert not r.is_number("x") and r.is_number(0.0)
    # a cell built from several values carries the stronger mark: "<5" over "x"
    assert r._ci(1.0, "x", 2.0, 1) == "x" and r._ci("x", "<5", 2.0, 1) == "<5"


def test_summary_with_hidden_values_says_not_published(summary_detail):
    reach = dict(REACH, n_respondents_all="x")
    paired = dict(PAIRED, n_pairs="x", mean_change_who5="x", mean_change_ci_low_who5="x",
                  mean_change_ci_high_who5="x", n_not_tested_primary="x")
    text = r.summary_bullets(reach, paired, changes_table())
    assert "Het aantal bewoners dat de bereiksvragenlijst invulde, wordt niet gepubliceerd" in text
    assert "het totaal is niet gepubliceerd, om het kleine aantal uitvallers te beschermen" in text
    assert "de verandering in WHO-5 welbevinden wordt niet gepubliceerd" in text
    assert "bij een niet gepubliceerd aantal kon niet getoetst worden" in text
    assert "Met een niet gepubliceerd aantal paren" in text
    assert not re.search(r"(?<![\w-])x(?![\w-])", text)  # the mark itself never stands in the prose
    # a hidden share beside a shown N: the share is not printed, nor computed from other cells
    text = r.summary_bullets(dict(REACH, pct_reached_all="x"), PAIRED, changes_table())
    assert "451 bewoners vulden de bereiksvragenlijst in; het aandeel dat het krachtpunt bezocht, wordt niet gepubliceerd" in text
    assert "38–47" not in text  # nor its interval


def test_reach_sentences_with_hidden_values():
    rs = {"n_respondents_all": 302.0, "n_reached_all": "x", "pct_reached_all": "x",
          "pct_reached_all_ci_low": "x", "pct_reached_all_ci_high": "x"}
    assert r.reach_overall_sentence(rs) == (
        "Van de 302 bewoners die de bereiksvragenlijst invulden, bezochten een niet gepubliceerd aantal het "
        "krachtpunt minstens één keer in de afgelopen zes maanden (percentage niet gepubliceerd).")
    c = pd.DataFrame({"site": ["DH", "LH", "PS"], "site_label": ["Delfshaven", "Lindenholt", "De Pitstop"],
                      "n": [10, "x", "<5"], "n_missing": [0, 0, 0], "share": [0.4, "x", "<5"], "not_estimable": ""})
    assert r.reach_by_site_sentence(c, max_sites=5) == (
        "Per krachtpunt was dat 40% bij Delfshaven; bij De Pitstop rust het op minder dan vijf personen en wordt het "
        "niet getoond; bij Lindenholt wordt het niet gepubliceerd (om een klein aantal elders te beschermen).")


def test_flow_sentence_does_not_sum_over_a_hidden_cell():
    flow = pd.DataFrame({"file": ["DH_bereik.csv", "LH_bereik.xlsx", "proxy_meldingen.csv"],
                         "site": ["DH", "LH", "alle"], "received": ["x", 150, 66], "duplicates": ["<5", 0, 0],
                         "out_of_scope": ["<5", 0, 0], "kept": [159, 150, 66]})
    text = r.flow_sentence(flow)
    # kept 159 + 150 = 309 is a sum of shown cells; received and removed would need the hidden ones
    assert text.startswith("Van de ontvangen formulieren is een deel als dubbel of leeg verwijderd")
    assert text.endswith("; 309 zijn geanalyseerd.")
    assert r.flow_table(flow)["Ontvangen"].tolist() == ["x", "150", "66"]
    assert r.marks_note(r.flow_table(flow)) == f"*{r.MARKS_NOTE}*"
    assert r.marks_note(r.flow_table(flow.iloc[1:])) == ""  # only where a mark occurs
    assert r.empty_sites_sentence(flow).startswith("Van De Pitstop kwamen geen formulieren binnen;")  # no row: 0
    # a hidden received with 0 kept: forms came in, how many is not said
    gone = flow.assign(received=["<5", 150, 66], duplicates=["<5", 0, 0], kept=[0, 150, 66])
    assert "van Buurtsteunpunt Delfshaven kwamen minder dan vijf formulieren binnen, maar na het opschonen bleef " \
           "er geen over" in r.empty_sites_sentence(gone)


def test_paired_sentences_with_hidden_values():
    binary = pd.DataFrame({"scope": "all", "label": ["eenzaam"], "prop_t0": ["x"], "prop_t1": [0.4],
                           "difference": ["x"], "ci_low": ["x"], "ci_high": ["x"], "p_mcnemar": ["x"],
                           "not_estimable": [""]})
    assert r.binary_sentence(binary) == ("Voor 'eenzaam' wordt het aandeel op T0 niet gepubliceerd (om een klein "
                                         "aantal elders te beschermen).")
    assert r.interval_sentence({"interval_months_mean": "x", "interval_months_min": 4.6,
                                "interval_months_max": 7.9}).endswith("wordt niet gepubliceerd (om een klein aantal "
                                                                      "elders te beschermen).")
    rci = pd.DataFrame({"outcome": "who5", "label": "WHO-5", "status": "computed",
                        "category": ["improved", "unchanged", "worse"], "n": ["<5", "x", "x"],
                        "reliable_change_threshold": 16.7, "not_estimable": ""})
    assert r.rci_sentence(rci) == ("Bij WHO-5 verbeterden minder dan vijf personen betrouwbaar, was er bij een niet "
                                   "gepubliceerd aantal personen geen betrouwbare verandering en gingen een niet "
                                   "gepubliceerd aantal personen betrouwbaar achteruit (drempel 16,7 punten).")


# --- the whole report on results full of "x" --------------------------------------------------

#: Columns that are design, not data (never suppressed): a mark there is not a case to test.
NEVER_MARKED = {"order", "alpha", "confidence_level", "min_cell", "reliable_change_threshold", "site_left_out"}
#: Summary rows that are design or settings, not counts or statistics of persons.
NEVER_MARKED_KEYS = {"alpha", "primary_test", "n_outcomes_family_primary", "n_outcomes_family_secondary"}


def mark_at_random(results_dir, share: float = 0.3, seed: int = 17) -> int:
    """Replace a share of the numeric cells of every results CSV by "x" (as secondary suppression
    could); returns how many were replaced."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = 0
    for path in sorted(results_dir.glob("*.csv")):
        t = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in t.columns:
            if col in NEVER_MARKED:
                continue
            numeric = pd.to_numeric(t[col], errors="coerce").notna()
            if "key" in t.columns:
                numeric &= ~t["key"].isin(NEVER_MARKED_KEYS)
            pick = numeric & pd.Series(rng.random(len(t)) < share, index=t.index)
            t.loc[pick, col] = "x"
            n += int(pick.sum())
        t.to_csv(path, index=False, lineterminator="\n")
    return n


def report_with_hidden_values(source, tmp_path):
    """Any count or statistic may come back as "x": the report still renders, says "niet
    gepubliceerd" in its text, explains the marks under the tables, and never prints "nan".
    Called by tests/test_pipeline_e2e.py with the outputs of its pipeline run (``source``)."""
    import html
    import shutil

    from analysis import config
    from analysis.render import render_report

    out = tmp_path / "out"
    shutil.copytree(source / "results", out / "results")
    shutil.copytree(source / "figures", out / "figures")
    shutil.copy(source / "provenance.json", out / "provenance.json")
    assert mark_at_random(out / "results") > 100
    files = render_report(config.REPORT_QMD, tmp_path / "_output", formats=("html",), env={config.ENV_OUT: str(out)})
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", files["html"].read_text(encoding="utf-8"), flags=re.S | re.I)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))
    assert "niet gepubliceerd" in text
    assert r.MARKS_NOTE in text
    assert not re.search(r"\bnan\b", text, re.I)
    assert not re.search(r"\bx ?%|\b(?:x|<5) (?:bewoners|bezoekers|personen|paren|meldingen)\b", text)  # no bare mark in prose
