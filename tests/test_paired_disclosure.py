"""Secondary suppression of the paired tables (notebook 03; issue 17).

Each hand-made case is a published table from which a hidden count (or a small group's mean)
comes back by arithmetic when only the small cells themselves are hidden (``secondary=False``:
``disclosure.attack`` pins it), and is protected with secondary suppression (the attacker's
intervals are as wide as the rule of :mod:`analysis.stats.disclosure` asks). Then the same attack on the tables of a stage-03 run on the shipped
synthetic data, with and without secondary suppression.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import changes, config
from analysis import interviews as iv
from analysis.stats import disclosure

K = 5


def publish(tables, secondary):
    return changes.publish_tables(tables, min_cell=K, secondary=secondary)


def attack(pub) -> pd.DataFrame:
    """What an attacker gets from the published tables (read back as text, as from the CSVs)."""
    text = {name: t.astype(object).where(t.notna(), "").astype(str) for name, t in pub.items()}
    return disclosure.attack(changes.ledger(text, K)).set_index("key")


def attrition(rows) -> pd.DataFrame:
    """paired_attrition rows: (site, completers, mean, dropouts, mean of the drop-outs)."""
    out = []
    for site, nc, mc, nd, md in rows:
        out.append({"site": site, "outcome": "djg_total", "label": "Eenzaamheid", "n_persons_completers": nc,
                    "n_persons_dropouts": nd, "n_completers": nc, "mean_completers": mc, "sd_completers": 1.0,
                    "n_dropouts": nd, "mean_dropouts": md, "sd_dropouts": 1.0 if nd > 1 else np.nan,
                    "difference": md - mc if nd else np.nan, "not_estimable": ""})
    return pd.DataFrame(out)


# The issue's example: PS has 4 completers; all sites 17 (mean 64/17), DH 7 (mean 25/7), LH 6
# (mean 25/6). Drop-outs: DH 2, LH 1, PS 0 (all 3).
ISSUE = attrition([("alle", 17, 64 / 17, 3, 2.0), ("DH", 7, 25 / 7, 2, 2.5), ("LH", 6, 25 / 6, 1, 1.0),
                   ("PS", 4, 3.5, 0, np.nan)])


def test_the_issues_mean_comes_back_without_secondary_suppression():
    pub = publish({"paired_attrition": ISSUE}, secondary=False)["paired_attrition"].set_index("site")
    assert pub.loc["PS", "mean_completers"] == "<5"
    a = attack(publish({"paired_attrition": ISSUE}, secondary=False))
    # the count by one subtraction: 17 - 7 - 6 = 4
    n_ps = a.loc[[("pairs", "PS")], ["low", "high"]].iloc[0]
    assert (n_ps["low"], n_ps["high"]) == (4, 4) and not a.loc[[("pairs", "PS")], "protected"].iloc[0]
    # and then the mean: (17 * 3.7647 - 7 * 3.5714 - 6 * 4.1667) / 4 = (64 - 25 - 25) / 4 = 3.5
    m = (17 * float(pub.loc["alle", "mean_completers"]) - 7 * float(pub.loc["DH", "mean_completers"])
         - 6 * float(pub.loc["LH", "mean_completers"])) / n_ps["low"]
    assert m == pytest.approx(3.5)


def test_the_issues_mean_is_protected_with_secondary_suppression():
    pub = publish({"paired_attrition": ISSUE}, secondary=True)
    a = attack(pub)
    small = a[a["mark"] == "<5"]
    assert ("pairs", "PS") in small.index and small["protected"].all()
    # the mean of PS cannot be solved: besides PS, the mean of another group of the equation
    # all = DH + LH + PS is hidden (each hidden with its count)
    att = pub["paired_attrition"].set_index("site")
    hidden_means = [s for s in ("alle", "DH", "LH") if disclosure.is_mark(att.loc[s, "mean_completers"])]
    assert hidden_means
    for s in hidden_means:
        assert disclosure.is_mark(att.loc[s, "n_completers"]) or disclosure.is_mark(att.loc[s, "n_persons_completers"])


def summary(values: dict) -> pd.DataFrame:
    return pd.DataFrame({"key": list(values), "value": pd.Series(list(values.values()), dtype=object), "label": "",
                         "n_basis": pd.Series([""] * len(values), dtype=object)})


def test_dropouts_come_back_as_t0_minus_pairs():
    """21 interviewed at T0, 18 pairs (= interviewed at T1): 21 - 18 = 3 drop-outs."""
    s = summary({"n_persons_t0": 21, "n_persons_t1": 18, "n_pairs": 18, "n_dropouts": 3})
    a = attack(publish({"paired_summary": s}, secondary=False))
    row = a.loc[[("dropouts", "alle")]].iloc[0]
    assert (row["mark"], row["low"], row["high"], row["protected"]) == ("<5", 3, 3, False)
    pub = publish({"paired_summary": s}, secondary=True)
    a = attack(pub)
    assert a.loc[[("dropouts", "alle")], "protected"].iloc[0]
    # the cheapest count was hidden: the T0 total (a total), not the pairs (every analysis rests on them)
    v = pub["paired_summary"].set_index("key")["value"]
    assert v["n_persons_t0"] == "x" and v["n_pairs"] == 18


def changes_rows(rows) -> pd.DataFrame:
    """paired_changes rows (scope, site, n_pairs, n_excluded_missing, mean_change) for djg_total."""
    out = []
    for scope, site, n, ex, mc in rows:
        out.append({"scope": scope, "site": site, "outcome": "djg_total", "label": "Eenzaamheid", "n_pairs": n,
                    "n_excluded_missing": ex, "n_zero": 0, "mean_t0": 3.0, "mean_change": mc, "dz": mc / 2,
                    "p_t": 0.5, "df": n - 1, "not_estimable": ""})
    return pd.DataFrame(out)


def test_excluded_pairs_come_back_from_the_pairs_of_the_site_and_are_protected():
    """Pairs of DH (attrition: 7 completers) = 6 with the outcome + 1 missing: 7 - 6 = 1."""
    att = attrition([("alle", 13, 3.0, 0, np.nan), ("DH", 7, 3.0, 0, np.nan), ("LH", 6, 3.0, 0, np.nan)])
    ch = changes_rows([("all", "alle", 12, 1, -1.0), ("site", "DH", 6, 1, -1.5), ("site", "LH", 6, 0, -0.5)])
    tables = {"paired_attrition": att, "paired_changes": ch}
    a = attack(publish(tables, secondary=False))
    for key in (("n_excluded", "site", "DH", "djg_total"), ("n_excluded", "all", "alle", "djg_total")):
        row = a.loc[[key]].iloc[0]
        assert (row["low"], row["high"], row["protected"]) == (1, 1, False)
    pub = publish(tables, secondary=True)
    a = attack(pub)
    assert a.loc[a["mark"] == "<5", "protected"].all()
    # the statistics of a group whose count is hidden are hidden with it (no mean of a hidden group)
    ch_pub = pub["paired_changes"]
    for _, r in ch_pub.iterrows():
        if disclosure.is_mark(r["n_pairs"]):
            assert all(disclosure.is_mark(r[c]) for c in ("mean_t0", "mean_change", "dz", "p_t", "df")), r.to_dict()


def themes(rows) -> pd.DataFrame:
    """paired_themes rows (wave, site, code, n_persons, n_interviewed)."""
    return pd.DataFrame([{"wave": w, "site": s, "code_group": "veranderingen", "code": c, "label": c, "n_persons": n,
                          "n_interviewed": d, "pct_persons": 100 * n / d} for w, s, c, n, d in rows])


def test_a_sites_theme_count_comes_back_from_the_all_sites_row_and_is_protected():
    """All sites 9 mention "meetellen", DH 7, LH 2: 9 - 7 = 2."""
    th = themes([("T1", "alle", "meetellen", 9, 13), ("T1", "DH", "meetellen", 7, 7), ("T1", "LH", "meetellen", 2, 6)])
    a = attack(publish({"paired_themes": th}, secondary=False))
    row = a.loc[[("themes", "T1", "LH", "meetellen")]].iloc[0]
    assert (row["low"], row["high"], row["protected"]) == (2, 2, False)
    pub = publish({"paired_themes": th}, secondary=True)
    assert attack(pub).loc[lambda d: d["mark"] == "<5", "protected"].all()
    t = pub["paired_themes"].set_index("site")
    # the percentage beside a hidden count is hidden too (2 / 6 would give it back)
    assert t.loc["LH", "pct_persons"] == "<5"
    assert any(disclosure.is_mark(t.loc[s, "n_persons"]) for s in ("alle", "DH"))


def test_lift_and_percentage_are_hidden_with_any_count_they_rest_on():
    """lift = n_both x n_interviewed / (n_mechanism x n_change) gives n_both = 3 back from
    published 1.3 x 10 x 6 / 26 ... (here: 3 x 26 / (10 x 6) = 1.3); the percentage 100 x 3 / 6 = 50."""
    co = pd.DataFrame([{"mechanism": "steun", "mechanism_label": "steun", "change": "meetellen",
                        "change_label": "meetellen", "n_both": 3, "n_mechanism": 10, "n_change": 6,
                        "n_interviewed": 26, "pct_change_with_mechanism": 50.0, "lift": 1.3, "not_estimable": ""}])
    lift = co.loc[0, "lift"]
    assert lift * 10 * 6 / 26 == pytest.approx(3)  # what an attacker would do with a published lift
    for secondary in (False, True):
        r = publish({"paired_cooccurrence": co}, secondary=secondary)["paired_cooccurrence"].iloc[0]
        assert (r["n_both"], r["lift"], r["pct_change_with_mechanism"]) == ("<5", "<5", "<5")


def test_rank_sums_are_not_published():
    """r+ + r- = m(m + 1)/2: 12 pairs, r+ = 30, r- = 15 give m = 9 non-zero changes, so 3 zeros."""
    s = 30 + 15
    m = (math.isqrt(8 * s + 1) - 1) // 2
    assert m * (m + 1) // 2 == s and 12 - m == 3
    ch = changes_rows([("all", "alle", 12, 0, -1.0)]).assign(n_zero=3, r_plus=30.0, r_minus=15.0)
    res = {"changes": ch}
    pub = changes._to_publish(res)["paired_changes"]
    assert "r_plus" not in pub and "r_minus" not in pub and "n_zero" in pub
    assert changes.publish_tables({"paired_changes": pub}, min_cell=K)["paired_changes"].loc[0, "n_zero"] == "<5"


def test_binary_publishes_margins_not_the_four_cells():
    """The 2 x 2 cells stay internal, and the McNemar p and Newcombe's interval (computed from
    them) are shown only when every cell has at least 5 persons."""
    b = pd.DataFrame([{"scope": "all", "site": "alle", "outcome": "lonely", "label": "eenzaam", "variable": "djg_total",
                       "rule": "djg_total >= 2", "n_pairs": 17, "n_excluded_missing": 0, "n_both": 10, "n_t0_only": 5,
                       "n_t1_only": 0, "n_neither": 2, "n_t0": 15, "n_t1": 10, "prop_t0": 15 / 17, "prop_t1": 10 / 17,
                       "difference": -5 / 17, "ci_low": -0.5, "ci_high": -0.03, "ci_method": "Newcombe",
                       "confidence_level": 0.95, "n_discordant": 5, "test": "exact McNemar", "p_mcnemar": 0.0625,
                       "not_estimable": ""}])
    pub = changes.publish_tables(changes._to_publish({"binary": b}), min_cell=K)["paired_binary"].iloc[0]
    assert not {"n_both", "n_t0_only", "n_t1_only", "n_neither", "n_discordant"} & set(pub.index)
    assert pub["p_mcnemar"] == "<5" and pub["ci_low"] == "<5"  # n_neither = 2
    assert pub["n_t0"] == 15 and pub["prop_t1"] == pytest.approx(10 / 17)


# --- a stage-03 run on the shipped synthetic data ---------------------------------------------


@pytest.fixture(scope="module")
def res():
    d = iv.clean_interviews(config.RAW_DIR)
    return changes.analyse(d.interviews, d.pairs, d.segments, n_resamples=99, seed=1)


def test_synthetic_run_every_small_cell_is_protected(res):
    pub = changes.publishable(res, secondary=True)
    a = attack(pub)
    small = a[a["mark"] == "<5"]
    assert len(small) > 50 and small["protected"].all(), small[~small["protected"].astype(bool)].head()
    # every statistic of a group whose count is hidden is hidden too
    ch = pub["paired_changes"]
    hidden = ch["n_pairs"].map(disclosure.is_mark)
    assert ch.loc[hidden, ["mean_t0", "mean_change", "dz", "p_t", "df"]].map(disclosure.is_mark).all().all()
    assert not ({"r_plus", "r_minus"} & set(ch.columns))


def test_synthetic_run_without_secondary_suppression_gives_cells_away(res):
    a = attack(changes.publishable(res, secondary=False))
    small = a[a["mark"] == "<5"]
    exposed = small[~small["protected"].astype(bool)]
    assert len(exposed) > 10
    # among them the drop-outs: 21 interviewed at T0 - 18 pairs
    row = a.loc[[("dropouts", "alle")]].iloc[0]
    assert row["low"] == row["high"] == 3


def test_a_headline_statistic_is_hidden_with_its_basis():
    """18 pairs, 2 without an interview date: the mean interval rests on 18 - 2 = 16 dated pairs,
    so its n_basis 16 gives the 2 back; hidden ("x"), the mean goes with it."""
    s = summary({"n_persons_t0": 25, "n_persons_t1": 18, "n_pairs": 18, "n_dropouts": 7, "n_interval_outside": 0,
                 "n_interval_unknown": 2, "n_pairs_interval_ok": 16, "interval_months_mean": 6.1})
    s.loc[s["key"] == "interval_months_mean", "n_basis"] = 16
    a = attack(publish({"paired_summary": s}, secondary=False))
    row = a.loc[[("pairs_interval_unknown", "alle")]].iloc[0]
    assert (row["low"], row["high"], row["protected"]) == (2, 2, False)
    pub = publish({"paired_summary": s}, secondary=True)["paired_summary"].set_index("key")
    assert attack({"paired_summary": pub.reset_index()}).loc[[("pairs_interval_unknown", "alle")], "protected"].iloc[0]
    if disclosure.is_mark(pub.loc["interval_months_mean", "n_basis"]):
        assert pub.loc["interval_months_mean", "value"] == pub.loc["interval_months_mean", "n_basis"]
    else:  # protected by hiding the pairs instead: then the basis is shown and so is the mean
        assert pub.loc["interval_months_mean", "value"] == 6.1


def test_the_interview_flow_is_protected_with_the_paired_tables():
    """The cleaning's flow shows 21 kept T0 interviews and 18 kept T1 interviews: with the
    summary hiding its T0 count only, 21 - 18 = 3 drop-outs come back from the flow."""
    s = summary({"n_persons_t0": 21, "n_persons_t1": 18, "n_pairs": 18, "n_dropouts": 3})
    flow = pd.DataFrame({"file": ["interviews.xlsx[T0]", "interviews.xlsx[T1]", "gecodeerde_segmenten.csv"],
                         "wave": ["T0", "T1", "T0+T1"], "received": [21, 18, 158], "out_of_scope": [0, 0, 0],
                         "kept": [21, 18, 158]})
    alone = publish({"paired_summary": s}, secondary=True)
    a = attack({**alone, "interview_flow": flow})
    assert not a.loc[[("dropouts", "alle")], "protected"].iloc[0]
    pub = publish({"paired_summary": s, "interview_flow": flow}, secondary=True)
    a = attack(pub)
    assert a.loc[a["mark"] == "<5", "protected"].all()
    assert pub["interview_flow"].loc[2, "kept"] == 158  # text fragments are not persons
