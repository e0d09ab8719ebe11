"""Paired-change results of notebook 03 (analysis/changes.py).

Where each expected number comes from is said above its test:
- hand computations written out in the comments (means, t, exact signed-rank p by counting sign
  patterns, Holm's steps, RCI constants, person counts of hand-made segments);
- scipy's t and noncentral-t distributions (not the functions the module calls) for the
  paired t p-value and the power at the minimum detectable effect;
- the generator's true parameters (``python -m analysis synth --seed 11 --scale 30``) for the
  recovery test.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
import yaml

from analysis.stats import disclosure
from analysis import changes, config, fmt
from analysis import interviews as iv
from analysis.stats import paired as ps

INFO = changes.outcome_info()


def _pairs(site, rows):
    """Wide pairs for who5 and djg_total from (who5_t0, who5_t1, djg_t0, djg_t1) tuples."""
    out = []
    for i, (w0, w1, d0, d1) in enumerate(rows):
        out.append({"person_id": f"{site}{i}", "site": site, "interval_ok": True,
                    "who5_t0": w0, "who5_t1": w1, "djg_total_t0": d0, "djg_total_t1": d1})
    return pd.DataFrame(out)


HAND = pd.concat([
    # DH: who5 changes 4, 8, 12, 16, 20 (all up); djg changes -1, 0, -2, -1, 1
    _pairs("DH", [(40, 44, 3, 2), (40, 48, 2, 2), (50, 62, 4, 2), (60, 76, 1, 0), (20, 40, 0, 1)]),
    # LH: who5 changes 0, -4, 8, 4, 12, 20; djg changes 0, 0, -1, -1, -1, -2
    _pairs("LH", [(48, 48, 2, 2), (52, 48, 3, 3), (36, 44, 4, 3), (64, 68, 2, 1), (28, 40, 5, 4), (44, 64, 6, 4)]),
], ignore_index=True)


@pytest.fixture(scope="module")
def hand_table():
    return changes.change_table(HAND, INFO.loc[["djg_total", "who5"]], scopes=("all", "site"), n_resamples=199, seed=1)


def test_hand_made_descriptives_and_t(hand_table):
    r = hand_table[(hand_table["scope"] == "site") & (hand_table["site"] == "DH")].set_index("outcome")
    w = r.loc["who5"]
    # T0 40, 40, 50, 60, 20 -> mean 42; T1 44, 48, 62, 76, 40 -> mean 54; changes 4..20 -> mean 12
    assert (w["n_pairs"], w["mean_t0"], w["mean_t1"], w["mean_change"]) == (5, 42, 54, 12)
    assert w["median_t0"] == 40 and w["median_change"] == 12
    # sd of 4, 8, 12, 16, 20 = sqrt(160 / 4) = sqrt(40); t = 12 / (sqrt(40) / sqrt(5)) = 4.2426
    t = 12 / (np.sqrt(40) / np.sqrt(5))
    assert w["t"] == pytest.approx(t) and w["df"] == 4
    assert w["p_t"] == pytest.approx(2 * st.t.sf(t, 4))
    assert w["dz"] == pytest.approx(12 / np.sqrt(40))
    # five positive changes: only 1 of the 2^5 sign patterns has R- = 0, two-sided p = 2/32
    assert w["p_wilcoxon"] == pytest.approx(2 / 32)
    assert w["rank_biserial"] == pytest.approx(1.0)


def test_zero_changes_dropped_and_said(hand_table):
    r = hand_table[(hand_table["scope"] == "site") & (hand_table["site"] == "LH")].set_index("outcome").loc["who5"]
    # LH who5 changes 0, -4, 8, 4, 12, 20: one zero, dropped; |d| 4, 8, 4, 12, 20 -> ranks
    # 1.5, 3, 1.5, 4, 5; R- = 1.5 (the -4); sign patterns of the five with R- <= 1.5: none
    # negative, or one of the two rank-1.5 values: 3 of 32, two-sided p = 6/32
    assert r["n_zero"] == 1 and "zeros dropped" in r["wilcoxon_test"]
    assert r["r_minus"] == 1.5 and r["p_wilcoxon"] == pytest.approx(6 / 32)


def test_holm_across_the_family_per_scope_and_site(hand_table):
    # djg_total and who5 are the primary family of study.yaml (m = 2 in each scope and site)
    assert (hand_table["holm_family"] == "primary").all()
    for (_, _), g in hand_table.groupby(["scope", "site"]):
        p = g["p_t"].to_numpy()
        # Holm with m = 2: smallest p times 2, the other max(that, p) (capped at 1)
        lo, hi = np.argmin(p), np.argmax(p)
        first = min(1, 2 * p[lo])
        assert g["p_t_holm"].to_numpy()[lo] == pytest.approx(first)
        assert g["p_t_holm"].to_numpy()[hi] == pytest.approx(max(first, p[hi]))
        assert (g["holm_m_t"] == 2).all()


def test_direction_turned_for_loneliness(hand_table):
    r = hand_table[hand_table["scope"] == "all"].set_index("outcome")
    assert r.loc["djg_total", "dz"] < 0 < r.loc["djg_total", "dz_improvement"]
    assert r.loc["djg_total", "dz_improvement"] == pytest.approx(-r.loc["djg_total", "dz"])
    assert r.loc["djg_total", "dz_improvement_ci_low"] == pytest.approx(-r.loc["djg_total", "dz_ci_high"])
    assert r.loc["who5", "dz_improvement"] == pytest.approx(r.loc["who5", "dz"])


def test_input_not_modified():
    before = HAND.copy()
    changes.change_table(HAND, INFO.loc[["who5"]], scopes=("all",), n_resamples=99, seed=1)
    pd.testing.assert_frame_equal(before, HAND)


def test_threads_give_the_same_table_and_file_warnings_under_their_own_row(monkeypatch):
    # One thread and two threads: the same table to the bit. Each outcome's warnings reach its
    # own row's notes: a wrapper warns with the outcome's T0 sum after a pause, so that the
    # threads interleave; a mixed-up hook would put a message under the wrong row.
    import time
    import warnings

    info = INFO.loc[["djg_total", "who5"]]
    monkeypatch.setenv("KRACHTPUNTEN_THREADS", "1")
    one = changes.change_table(HAND, info, scopes=("all", "site"), n_resamples=99, seed=1)
    monkeypatch.setenv("KRACHTPUNTEN_THREADS", "2")
    two = changes.change_table(HAND, info, scopes=("all", "site"), n_resamples=99, seed=1)
    pd.testing.assert_frame_equal(one, two, check_exact=True)

    original = ps.paired_change

    def noisy(x, y, **kw):
        time.sleep(0.02 * (len(x) % 3))
        warnings.warn(f"T0 sum {x.sum():g}", UserWarning)
        return original(x, y, **kw)

    monkeypatch.setattr(changes.ps, "paired_change", noisy)
    table = changes.change_table(HAND, info, scopes=("all", "site"), n_resamples=99, seed=1)
    for _, row in table.iterrows():
        g = HAND if row["scope"] == "all" else HAND[HAND["site"] == row["site"]]
        assert f"T0 sum {g[row['outcome'] + '_t0'].sum():g}" in row["notes"]
        assert row["notes"].count("T0 sum") == 1
    assert changes._workers() == 2


def test_unknown_scope_is_an_error():
    with pytest.raises(ValueError, match="scope"):
        changes.change_table(HAND, INFO.loc[["who5"]], scopes=("everyone",), n_resamples=99)


# --- on the shipped synthetic data ------------------------------------------------------------


@pytest.fixture(scope="module")
def res():
    d = iv.clean_interviews(config.RAW_DIR)
    return changes.analyse(d.interviews, d.pairs, d.segments, n_resamples=199, seed=1)


def test_outcome_family_has_pg_mean(res):
    assert list(res["info"].index) == iv.outcomes()[:10] + ["pg_mean"] + iv.outcomes()[10:]
    assert (res["changes"].groupby(["scope", "site"])["holm_m_t"].max() <= 15).all()
    overall = res["changes"][res["changes"]["scope"] == "all"]
    # Holm within the pre-specified families of study.yaml: 2 primary + 15 secondary outcomes
    m = overall.groupby("holm_family")["holm_m_t"].first()
    assert m.to_dict() == {"primary": 2, "secondary": 15} and overall["p_t"].notna().sum() == 17


def test_pg_mean_is_mean_of_dimensions(res):
    iv_ = res["interviews"]
    row = iv_.dropna(subset=changes.PG_DIMS).iloc[0]
    assert row["pg_mean"] == pytest.approx(np.mean([float(row[c]) for c in changes.PG_DIMS]))
    assert res["interviews"]["pg_mean"].isna().sum() == 1  # the out-of-range PG meedoen (T1)


def test_rci_only_for_verified_reliability(res):
    rci = res["rci"]
    assert set(rci.loc[rci["status"] == "computed", "outcome"]) == {"who5"}
    rest = rci[rci["status"] != "computed"]
    assert (rest["status"] == "not computed: no verified reliability").all() and rest["n"].isna().all()
    assert len(rest) == 16
    who = rci[rci["outcome"] == "who5"].iloc[0]
    # Jacobson & Truax: S_diff = SD_T0 * sqrt(2 * (1 - r)); SD of all 20 T0 WHO-5 scores
    t0 = res["interviews"].query("wave == 'T0'")["who5"].astype(float)
    assert who["sd_t0"] == pytest.approx(t0.std(ddof=1))
    assert who["s_diff"] == pytest.approx(t0.std(ddof=1) * np.sqrt(2 * (1 - 0.81)))
    persons = res["rci_persons"]
    up = ((persons["change"] / who["s_diff"]) > 1.96).sum()
    assert rci.query("outcome == 'who5' and category == 'improved'")["n"].iloc[0] == up


def test_mde_has_80_percent_power(res):
    m = res["mde"].query("scope == 'all' and outcome == 'pg_zingeving'").iloc[0]
    n, dz = int(m["n_pairs"]), m["mde_dz"]
    # power of the two-sided paired t-test at dz: P(|T| > t_crit), T noncentral t(n-1, dz sqrt(n))
    crit = st.t.ppf(0.975, n - 1)
    power = st.nct.sf(crit, n - 1, dz * np.sqrt(n)) + st.nct.cdf(-crit, n - 1, dz * np.sqrt(n))
    assert power == pytest.approx(0.8, abs=1e-6)
    assert m["mde_dz_holm_strictest"] > dz
    assert m["mde_change"] == pytest.approx(dz * m["sd_change"])


def test_publishable_suppresses_small_counts(res):
    pub = changes.publishable(res)
    counts = {"paired_changes": ["n_pairs", "n_excluded_missing", "n_zero"], "paired_rci": ["n", "n_missing"],
              "paired_mde": ["n_pairs"],
              "paired_attrition": ["n_persons_completers", "n_persons_dropouts", "n_completers", "n_dropouts"],
              "paired_themes": ["n_persons", "n_interviewed"], "paired_cooccurrence": ["n_both", "n_mechanism", "n_change"]}
    for name, cols in counts.items():
        for col in cols:
            values = pd.to_numeric(pub[name][col], errors="coerce")
            assert not values.between(1, 4).any(), f"{name}.{col} publishes a count of 1-4"
    # a site row with fewer than 5 pairs shows no statistic (PS loneliness: 4 pairs)
    ch = pub["paired_changes"]
    small = res["changes"]["n_pairs"].between(1, 4)
    assert small.any()
    assert (ch.loc[small, ["mean_change", "p_wilcoxon", "dz", "median_t0"]] == "<5").all().all()
    # the 3 drop-outs: their means are not published; zero is shown
    att = pub["paired_attrition"].query("site == 'alle'")
    assert (att["mean_dropouts"] == "<5").all()
    assert "<5" in set(pub["paired_summary"].set_index("key").loc[["n_dropouts"], "value"])
    themes = pub["paired_themes"]
    assert "n_segments" not in themes and (pd.to_numeric(themes["n_persons"], errors="coerce") == 0).any()
    # internal tables are the unsuppressed ones
    assert res["changes"].loc[small, "mean_change"].notna().all()


def test_docstring_documents_every_column(res):
    """The report is written from the module docstring: every published column must be in it."""
    pub = changes.publishable(res)
    doc = changes.__doc__
    for name, table in pub.items():
        assert f"``{name}.csv``" in doc
        for col in table.columns:
            assert col in doc, f"{name}.{col} not documented in analysis/changes.py"


def test_themes_count_persons_not_segments():
    interviews = pd.DataFrame({"person_id": ["a", "b", "a", "b", "c"], "site": ["DH", "DH", "DH", "DH", "LH"],
                               "wave": ["T0", "T0", "T1", "T1", "T0"]})
    segments = pd.DataFrame({
        "segment_id": range(1, 8), "person_id": ["a", "a", "a", "b", "a", "a", "b"],
        "site": "DH", "wave": ["T1", "T1", "T1", "T1", "T1", "T1", "T0"],
        "code_group": ["veranderingen"] * 4 + ["mechanismen"] * 2 + ["veranderingen"],
        "code": ["sociale_contacten"] * 3 + ["sociale_contacten", "steun_medebezoekers", "huiskamersfeer",
                                             "meetellen"]})
    t = changes.theme_counts(segments, interviews).set_index(["wave", "site", "code"])
    # sociale_contacten at T1: a (three segments) and b (one) -> 2 persons of the 2 interviewed
    r = t.loc[("T1", "DH", "sociale_contacten")]
    assert (r["n_persons"], r["n_segments"], r["n_interviewed"], r["pct_persons"]) == (2, 4, 2, 100)
    assert t.loc[("T0", "alle", "meetellen"), "n_interviewed"] == 3  # a, b (DH) and c (LH) at T0
    assert t.loc[("T1", "alle", "vrij_voelen"), "n_persons"] == 0
    c = changes.cooccurrence(segments, interviews).set_index(["mechanism", "change"])
    # at T1 only a mentions steun_medebezoekers, and a and b sociale_contacten: both codes = a only
    r = c.loc[("steun_medebezoekers", "sociale_contacten")]
    assert (r["n_both"], r["n_mechanism"], r["n_change"], r["pct_change_with_mechanism"]) == (1, 1, 2, 50)
    assert r["lift"] == pytest.approx(1 * 2 / (1 * 2))


def test_mde_text_uses_computed_numbers(res):
    text = changes.mde_text(res["summary"], res["changes"])
    s = res["summary"].set_index("key")["value"]
    assert f"{int(s['n_pairs'])} paren" in text
    assert fmt.number(float(s["mde_dz_all"]), 2) in text
    assert fmt.number(float(s["mde_dz_all_holm_primary"]), 2) in text
    assert fmt.number(float(s["mde_change_who5"]), 0) in text


def test_summary_keys_are_unique_and_labelled(res):
    s = res["summary"]
    assert s["key"].is_unique and s["label"].str.len().gt(0).all()


# --- recovery on a large generated data set ---------------------------------------------------


@pytest.mark.slow
def test_recovers_true_changes(tmp_path_factory):
    """630 interviewees (90 sites x 7; seed 11): estimated mean changes against the truth.

    Targets. ``true_change`` is the shift of each person's *continuous* score; the generator then
    rounds and clips to the instrument's range (analysis/synth/truth.py). For the Positieve
    Gezondheid dimensions (T0 mean 5.8, SD 1.3, range 0-10), the ZRM domains (3.0, 0.7, range
    1-5) and WHO-5 items (2.3-2.8, range 0-5) rounding a spread-out score is unbiased to within
    about 1e-4 and the clipped tails hold well under 1% of the scores, so the expected observed
    change equals ``true_change`` to within a few thousandths: those are compared with the true
    value (pg_mean with the mean of the six dimension changes). For loneliness the true change
    is a shift on the *latent* scale (-0.6), which the six dichotomised items turn into a change
    on the 0-6 score that has no closed form; there the target is ``realised_mean_change`` (the
    mean change among completers in the complete truth, before defects), which checks that
    cleaning, scoring and pairing reproduce the truth despite the planted missing items.

    Seventeen 95% intervals will not all cover their target every time (on average about one in
    twenty misses). So: no more than two of the 14 population targets may fall outside their 95%
    BCa interval (P(3 or more misses) = 0.03 when all are right), and every one must lie inside
    its family-wise 95% interval (t-based at level 1 - 0.05/14, Bonferroni).
    """
    raw = tmp_path_factory.mktemp("synth11")
    subprocess.run([sys.executable, "-m", "analysis", "synth", "--seed", "11", "--scale", "30", "--out", str(raw)],
                   check=True, capture_output=True)
    truth = yaml.safe_load((raw / "true_parameters.yaml").read_text(encoding="utf-8"))["interviews"]
    d = iv.clean_interviews(raw)
    assert len(d.interviews.query("wave == 'T0'")) == 630
    info = changes.outcome_info()
    _, pairs = changes.with_pg_mean(d.interviews, d.pairs)
    table = changes.change_table(pairs, info, scopes=("all",), n_resamples=999, seed=1).set_index("outcome")
    population = dict(truth["true_change"])
    population.pop("djg_latent")
    population["pg_mean"] = np.mean([population[o] for o in changes.PG_DIMS])
    misses = []
    level = 1 - 0.05 / len(population)
    for o, target in population.items():
        r = table.loc[o]
        if not (r["mean_change_ci_low"] <= target <= r["mean_change_ci_high"]):
            misses.append(o)
        x, y = changes._xy(pairs, o)
        fw = ps.paired_t(x, y, confidence_level=level).iloc[0]
        assert fw["ci_low"] <= target <= fw["ci_high"], f"{o}: {target} outside the family-wise interval"
    assert len(misses) <= 2, f"true change outside the 95% CI for {misses}"
    for o in ("djg_total", "djg_emotional", "djg_social"):
        r = table.loc[o]
        assert r["mean_change_ci_low"] <= truth["realised_mean_change"][o] <= r["mean_change_ci_high"]
        assert r["mean_change_ci_high"] < 0  # less lonely, as the latent shift says


# --- per-site analyses only up to analysis.per_site_detail_max -------------------------------


def test_site_scope_only_up_to_the_maximum(res, monkeypatch):
    import matplotlib.pyplot as plt

    pairs, info = res["pairs"], res["info"].loc[["who5"]]
    assert changes.analysis_scopes(pairs) == ("all", "site", "interval_ok")  # 3 sites, maximum 12
    assert set(res["changes"]["scope"]) == {"all", "site", "interval_ok"}
    monkeypatch.setattr(changes, "per_site_detail_max", lambda: 2)  # as 300 sites against 12
    scopes = changes.analysis_scopes(pairs)
    assert scopes == ("all", "interval_ok")
    ch = changes.change_table(pairs, info, scopes=scopes, n_resamples=99, seed=1)
    assert "site" not in set(ch["scope"]) and "site" not in set(changes.mde_table(ch)["scope"])
    assert changes.headline_table(ch, "site").empty
    assert "meer dan 2" in changes.site_detail_note(3)
    fig = changes.plot_slopes(pairs, res["info"], "who5")
    assert [ax.get_title() for ax in fig.axes] == ["Alle 3 krachtpunten samen"]
    plt.close(fig)
    monkeypatch.setattr(changes, "per_site_detail_max", lambda: 3)
    fig = changes.plot_slopes(pairs, res["info"], "who5")
    assert len(fig.axes) == 3
    plt.close(fig)


def test_slope_lines_one_segment_per_distinct_pair():
    # Hand-made pairs: (1 -> 2) twice, (3 -> 3) once, (4 -> 2) once. Higher is better: 1 -> 2 is
    # "beter" and drawn 1 + 1.2 = 2.2 wide, 3 -> 3 "gelijk", 4 -> 2 "slechter", both 1.0 wide;
    # lower is better turns better and worse around. No persons: no segments.
    from matplotlib.colors import to_rgba

    pts = pd.DataFrame({"t0": [1.0, 1.0, 3.0, 4.0], "t1": [2.0, 2.0, 3.0, 2.0]})
    for higher, first, last in ((True, "beter", "slechter"), (False, "slechter", "beter")):
        lines = changes._person_lines(pts, higher)
        got = {(tuple(seg[0]), tuple(seg[1])): (tuple(col), w) for seg, col, w in
               zip(lines.get_segments(), lines.get_colors(), lines.get_linewidths())}
        want = {((0.0, 1.0), (1.0, 2.0)): (first, 2.2), ((0.0, 3.0), (1.0, 3.0)): ("gelijk", 1.0),
                ((0.0, 4.0), (1.0, 2.0)): (last, 1.0)}
        assert set(got) == set(want)
        for key, (colour, width) in want.items():
            assert got[key][0] == pytest.approx(to_rgba(changes.COLOURS[colour], 0.75))
            assert got[key][1] == pytest.approx(width)
    assert len(changes._person_lines(pts.iloc[:0], True).get_segments()) == 0
    # 51 persons on one pair (all sites pooled): the widest line is 6 pt, a single person 1 pt
    many = pd.DataFrame({"t0": [5.0] * 51 + [2.0], "t1": [6.0] * 51 + [2.0]})
    assert sorted(changes._person_lines(many, True).get_linewidths()) == pytest.approx([1.0, 6.0])


# --- issue 15: valid data of any size, pre-specified families, paired binary outcomes ----------
#
# Small data sets are built by hand: every person has a site, a T0 score per outcome and a change
# (None = dropped out before T1). The expected values are hand computations written out.

from hypothesis import given, settings as hsettings
from hypothesis import strategies as hs

OUTCOMES = iv.outcomes()
RANGES = {o: changes.outcome_info().loc[o, ["scale_low", "scale_high"]].tolist() for o in OUTCOMES}
EMPTY_SEGMENTS = pd.DataFrame({"segment_id": pd.Series(dtype=int), "person_id": pd.Series(dtype=object),
                               "site": pd.Series(dtype=object), "wave": pd.Series(dtype=object),
                               "code_group": pd.Series(dtype=object), "code": pd.Series(dtype=object)})


def _data(persons, constant=(), no_change=()):
    """Long interviews and wide pairs from (site, t0_level, change or None) per person.

    Outcome o's T0 score is ``lo + (t0_level + i) % (hi - lo + 1)`` (i = the outcome's index),
    its T1 score T0 + change clipped to the range; outcomes in ``constant`` are ``lo`` at both
    waves for everybody, outcomes in ``no_change`` keep their T0 score.
    """
    rows = []
    for k, (site, level, change) in enumerate(persons):
        pid = f"P{k:02d}"
        for wave, day in (("T0", "2025-01-06"), ("T1", "2025-07-07")):
            if wave == "T1" and change is None:
                continue
            row = {"person_id": pid, "site": site, "wave": wave, "date": pd.Timestamp(day)}
            for i, o in enumerate(OUTCOMES):
                lo, hi = RANGES[o]
                t0 = lo + (level + i) % int(hi - lo + 1)
                v = t0 if wave == "T0" or o in no_change else min(hi, max(lo, t0 + change))
                row[o] = lo if o in constant else v
            rows.append(row)
    cols = ["person_id", "site", "wave", "date", *OUTCOMES]
    long = pd.DataFrame(rows, columns=cols)
    long["wave"] = long["wave"].astype(object)
    long["date"] = pd.to_datetime(long["date"])
    for o in OUTCOMES:
        long[o] = pd.array(long[o].tolist(), dtype="Int64")
    pairs = iv.pair(long, OUTCOMES, (4, 8))
    return long, pairs


def _analyse(long, pairs, segments=EMPTY_SEGMENTS, outcomes=None):
    return changes.analyse(long, pairs, segments, n_resamples=99, seed=1, outcomes=outcomes)


#: Per table, the statistic columns that must be a number or come with a reason.
CORE = {"changes": ["mean_change", "t", "p_t", "p_wilcoxon", "dz", "dz_ci_low", "dz_ci_high", "rank_biserial",
                    "p_t_holm", "p_wilcoxon_holm", "p_primary", "p_primary_holm"],
        "binary": ["prop_t0", "prop_t1", "difference", "ci_low", "ci_high", "p_mcnemar"],
        "mixed_model": ["estimate", "se", "p", "ci_low", "ci_high"],
        "mde": ["mde_dz", "mde_dz_holm_strictest"],
        "attrition": ["mean_completers", "mean_dropouts", "sd_completers", "sd_dropouts", "difference"],
        "cooccurrence": ["pct_change_with_mechanism", "lift"]}


def _check_number_or_reason(res):
    """Every statistic a finite number, or its row says why not (a reason with a known key)."""
    for name, cols in CORE.items():
        t = res[name]
        assert "not_estimable" in t, name
        for _, r in t.iterrows():
            for part in changes._split_reasons(r["not_estimable"]):
                assert changes.reason_key(part)  # starts with a known key (raises otherwise)
            for c in cols:
                v = pd.to_numeric(pd.Series([r[c]]), errors="coerce").iloc[0]
                assert np.isfinite(v) or r["not_estimable"] != "", f"{name}.{c} is {r[c]!r} without a reason: {r.to_dict()}"
    rci = res["rci"]
    comp = rci[rci["status"] == "computed"]
    assert (comp["n"].notna() | (comp["not_estimable"] != "")).all()


def _all_stage_functions(res, tmp=None):
    """The publishing, text and figure functions on an analysed result: none may raise."""
    import matplotlib.pyplot as plt

    pub = changes.publishable(res)
    text = changes.not_estimable_text(pub)
    assert text.startswith("**Wat niet te berekenen was.**")
    changes.mde_text(pub["paired_summary"])
    for scope in ("all", "site", "interval_ok"):
        changes.headline_table(pub["paired_changes"], scope)
        changes.binary_overview(pub["paired_binary"], scope)
    changes.themes_overview(pub["paired_themes"])
    changes.cooccurrence_matrix(pub["paired_cooccurrence"])
    sites = sorted(res["interviews"]["site"].unique())
    for inst in res["info"]["instrument"].unique():
        plt.close(changes.plot_slopes(res["pairs"], res["info"], inst, sites=sites, published=pub["paired_changes"]))
    plt.close(changes.plot_change_summary(pub["paired_changes"], pub["paired_mde"]))
    return pub, text


def test_two_sites_two_pairs_each_by_hand():
    # DH: levels 1, 3 with changes +1, +2; LH: levels 2, 2 with changes -1, +1
    long, pairs = _data([("DH", 1, 1), ("DH", 3, 2), ("LH", 2, -1), ("LH", 2, 1)])
    res = _analyse(long, pairs)
    _check_number_or_reason(res)
    _all_stage_functions(res)
    ch = res["changes"].set_index(["scope", "site", "outcome"])
    # zrm_financien (index 10, range 1-5): T0 = 1 + (level + 10) % 5 -> DH 2, 4; LH 3, 3;
    # T1 clipped: 3, 5 (DH), 2, 4 (LH); changes +1, +1, -1, +1: mean 0.5, SD sqrt(3)/... :
    # deviations 0.5, 0.5, -1.5, 0.5 -> SS = 3, SD = 1, t = 0.5 / (1 / 2) = 1, df 3
    r = ch.loc[("all", "alle", "zrm_financien")]
    assert (r["n_pairs"], r["mean_change"], r["sd_change"]) == (4, 0.5, 1.0)
    assert r["t"] == pytest.approx(1.0) and r["p_t"] == pytest.approx(2 * st.t.sf(1.0, 3))
    # per site, 2 pairs: DH changes +1, +1 -> same amount: t and dz undefined, said
    dh = ch.loc[("site", "DH", "zrm_financien")]
    assert np.isnan(dh["p_t"]) and np.isnan(dh["dz"])
    assert dh["not_estimable"].startswith("no variation: every pair changed by the same amount (1)")
    # the Wilcoxon test still exists: two positive changes, exact two-sided p = 2 * 1/4
    assert dh["p_wilcoxon"] == pytest.approx(0.5)
    # every site has its rows, the two sites x 2 pairs: n_pairs 2 in each
    assert set(res["changes"].query("scope == 'site'")["n_pairs"]) == {2}


def test_holm_within_pre_specified_families_by_hand():
    # families of study.yaml: primary = djg_total, who5; secondary = the other 15
    long, pairs = _data([("DH", k, c) for k, c in zip(range(8), [1, 2, 0, 3, 1, 2, 4, -1])]
                        + [("LH", k, c) for k, c in zip(range(6), [2, 1, 1, 0, 3, 2])])
    info = changes.outcome_info()
    _, pairs = changes.with_pg_mean(long, pairs)
    t = changes.change_table(pairs, info, scopes=("all",), n_resamples=99, seed=1).set_index("outcome")
    assert set(t.loc[["djg_total", "who5"], "holm_family"]) == {"primary"}
    assert (t.drop(["djg_total", "who5"])["holm_family"] == "secondary").all()
    # primary family, m = 2 (Holm 1979): smaller p x 2; the larger max(that, p x 1)
    p = t.loc[["djg_total", "who5"], "p_t"].to_numpy()
    small, large = sorted(p)
    want = {min(p): min(1, 2 * small), max(p): min(1, max(2 * small, large))}
    for o in ("djg_total", "who5"):
        assert t.loc[o, "p_t_holm"] == pytest.approx(want[t.loc[o, "p_t"]])
        assert t.loc[o, "holm_m_t"] == 2 and t.loc[o, "family_size"] == 2
    # secondary family: m = number of computed p-values among the 15; the i-th smallest
    # p (i = 1..m) times (m - i + 1), running maximum, capped at 1
    sec = t[t["holm_family"] == "secondary"]
    ps_ = sec["p_t"].dropna().sort_values()
    m = len(ps_)
    running, hand = 0.0, {}
    for i, (o, v) in enumerate(ps_.items()):
        running = max(running, min(1.0, (m - i) * v))
        hand[o] = running
    for o, v in hand.items():
        assert sec.loc[o, "p_t_holm"] == pytest.approx(v)
    assert (sec["holm_m_t"] == m).all() and (sec["family_size"] == 15).all()
    # primary test t (study.yaml): p_primary is p_t
    assert (t["p_primary_holm"].fillna(-1) == t["p_t_holm"].fillna(-1)).all()


def test_headline_counts_only_primary_test_and_family():
    long, pairs = _data([("DH", k, c) for k, c in zip(range(8), [1, 2, 1, 3, 1, 2, 4, 1])]
                        + [("LH", k, c) for k, c in zip(range(6), [2, 1, 1, 2, 3, 2])])
    res = _analyse(long, pairs)
    s = res["summary"].set_index("key")["value"]
    allc = res["changes"].query("scope == 'all'")
    prim = allc[allc["holm_family"] == "primary"]
    assert s["primary_test"] == "t"
    assert s["n_outcomes_family_primary"] == 2
    assert s["n_holm_below_alpha_primary"] == int((prim["p_t_holm"] < 0.05).sum())
    sec = allc[allc["holm_family"] == "secondary"]
    assert s["n_holm_below_alpha_secondary"] == int((sec["p_t_holm"] < 0.05).sum())
    assert "n_outcomes_holm_t" not in s.index and "n_outcomes_holm_wilcoxon" not in s.index
    # the Holm-strictest MDE of the primary family uses alpha / 2 (2 primary outcomes):
    # power of the paired t at that dz is 0.80 (noncentral t, scipy)
    n = int(prim["n_pairs"].max())
    dz = float(s["mde_dz_all_holm_primary"])
    crit = st.t.isf(0.025 / 2, n - 1)
    power = st.nct.sf(crit, n - 1, dz * np.sqrt(n)) + st.nct.cdf(-crit, n - 1, dz * np.sqrt(n))
    assert power == pytest.approx(0.8, abs=1e-3)


def test_outcome_with_no_change_and_constant_outcome():
    persons = [("DH", k, c) for k, c in zip(range(6), [1, 2, 1, 2, 1, 3])]
    long, pairs = _data(persons, constant=("zrm_financien",), no_change=("pg_zingeving",))
    res = _analyse(long, pairs)
    _check_number_or_reason(res)
    _all_stage_functions(res)
    r = res["changes"].query("scope == 'all'").set_index("outcome")
    for o in ("zrm_financien", "pg_zingeving"):
        assert r.loc[o, "mean_change"] == 0
        assert r.loc[o, "not_estimable"].startswith("no variation: no one changed")
        assert np.isnan(r.loc[o, ["p_t", "p_wilcoxon", "dz", "rank_biserial"]].astype(float)).all()
    # the untestable outcome is not in the Holm family's m: 15 - 2 p-values
    assert r.loc["djg_social", "holm_m_t"] == 13
    # RCI of WHO-5 still computed; the mixed model rows are a number or a reason
    assert (res["rci"].query("outcome == 'who5'")["not_estimable"] == "").all()


def test_empty_t1_wave():
    long, pairs = _data([("DH", 1, None), ("DH", 2, None), ("LH", 3, None)])
    assert len(pairs) == 0
    res = _analyse(long, pairs)
    _check_number_or_reason(res)
    pub, text = _all_stage_functions(res)
    ch = res["changes"]
    assert (ch["n_pairs"] == 0).all()
    assert ch["not_estimable"].str.startswith("too few pairs (n = 0").all()
    # every site interviewed has its per-site rows
    assert set(ch.query("scope == 'site'")["site"]) == {"DH", "LH"}
    assert res["mixed_model"]["not_estimable"].str.startswith("too few pairs").all()
    assert res["binary"]["not_estimable"].str.startswith("too few pairs").all()
    # published: 3 drop-outs (<5) = 3 interviewed - 0 pairs, so the zeros beside them are "<5" too
    # and no reason is given ("too few pairs (n = 0)" would say the hidden count); internally it is
    assert "te weinig paren" in changes.not_estimable_text(res) and "te weinig paren" not in text
    assert (pub["paired_changes"]["n_pairs"] == "<5").all()
    s = res["summary"].set_index("key")["value"]
    assert s["n_pairs"] == 0 and s["n_dropouts"] == 3 and np.isnan(s["mde_dz_all"])


def test_no_interviews_at_all():
    long, pairs = _data([])
    res = _analyse(long, pairs)
    _check_number_or_reason(res)
    _all_stage_functions(res)
    assert (res["changes"]["scope"] != "site").all()


def test_one_pair_and_a_site_where_everyone_dropped_out():
    long, pairs = _data([("DH", 2, 1), ("LH", 1, None), ("LH", 3, None)])
    res = _analyse(long, pairs)
    _check_number_or_reason(res)
    pub, text = _all_stage_functions(res)
    lh = res["changes"].query("scope == 'site' and site == 'LH'")
    assert len(lh) == 17 and (lh["n_pairs"] == 0).all()
    one = res["changes"].query("scope == 'all'")
    assert (one["n_pairs"] <= 1).all() and one["not_estimable"].str.startswith("too few pairs").all()
    # published rows on 1-4 pairs give no reason: "too few pairs" beside "<5" would say n is 1
    pc = pub["paired_changes"]
    small = res["changes"]["n_pairs"].between(1, 4)
    assert small.any() and (pc.loc[small, "n_pairs"] == "<5").all()
    assert (pc.loc[small, "not_estimable"] == "").all()
    shown_zero = pc["n_pairs"].map(lambda v: v == 0)
    assert (pc.loc[shown_zero, "not_estimable"].str.startswith("too few pairs")).all()
    # the site where everyone dropped out keeps its rows; its reasons are said internally, and in
    # the published text only where its counts are shown (its 0 pairs beside the hidden drop-outs are "<5")
    assert "Wijkatelier Lindenholt" in changes.not_estimable_text(res)


def test_mixed_model_agreement_rule():
    # inside the CI and the same sign -> agrees; opposite signs -> not; missing -> NA
    assert changes._agreement(1.0, 1.2, 0.1, 2.3) is True
    assert changes._agreement(-0.1, 0.5, -1.0, 2.0) is False
    assert changes._agreement(3.0, 1.2, 0.1, 2.3) is False
    assert changes._agreement(0.0, 0.0, -1.0, 1.0) is True
    assert changes._agreement(np.nan, 1.0, 0.0, 2.0) is pd.NA


def test_binary_table_by_hand():
    # lonely = djg_total >= 2 (index 0, range 0-6: T0 = level % 7). Levels 0, 1, 2, 3, 4, 5
    # with changes +2, +1, -1, -2, 0, 0: T0 0 1 2 3 4 5 -> T1 2 2 1 1 4 5.
    # T0 lonely: 2, 3, 4, 5 (4 persons); T1 lonely: 2 (the 0 -> 2), 2 (1 -> 2), 4, 5 -> 4 persons
    # a (both) = 2 (levels 4, 5), b (T0 only) = 2 (2 -> 1, 3 -> 1), c (T1 only) = 2, d = 0
    long, pairs = _data([("DH", k, c) for k, c in zip(range(6), [2, 1, -1, -2, 0, 0])])
    b = changes.binary_table(pairs, scopes=("all",)).set_index("outcome").loc["lonely"]
    assert (b["n_both"], b["n_t0_only"], b["n_t1_only"], b["n_neither"]) == (2, 2, 2, 0)
    assert b["difference"] == 0 and b["rule"] == "djg_total >= 2"
    # exact McNemar on b = c = 2: 2 * P(B <= 2 | 4, 1/2) = 2 * 11/16 -> capped at 1
    assert b["p_mcnemar"] == 1.0
    # published: the margins (4 and 4 of 6) as "<5" with their shares; the four cells stay
    # internal, and the McNemar p (on b = c = 2) is hidden because a cell is under 5
    res = _analyse(long, pairs)
    pub = changes.publishable(res)["paired_binary"].query("scope == 'all' and outcome == 'lonely'").iloc[0]
    for c in ("n_t0", "n_t1", "p_mcnemar", "prop_t0", "prop_t1", "ci_low"):
        assert pub[c] == "<5", c
    assert pub["n_pairs"] == 6 and "n_both" not in pub.index and "n_discordant" not in pub.index


def test_binary_thresholds_come_from_configuration():
    long, pairs = _data([("DH", k, c) for k, c in zip(range(6), [2, 1, -1, -2, 0, 0])])
    cfg = changes.paired_settings()
    cfg = {**cfg, "binary": {"lonely": {"variable": "djg_total", "min": 5, "nl": "sterk eenzaam"}}}
    b = changes.binary_table(pairs, scopes=("all",), settings=cfg).iloc[0]
    # djg_total >= 5: T0 5 only (level 5) and T1 5 only: a = 1, b = c = 0, d = 5
    assert (b["n_both"], b["n_t0_only"], b["n_t1_only"], b["n_neither"]) == (1, 0, 0, 5)
    assert b["rule"] == "djg_total >= 5" and b["not_estimable"].startswith("no variation")


def test_settings_are_checked():
    study = {"paired": {**config.study()["paired"], "primary_test": "sign"}}
    with pytest.raises(ValueError, match="primary_test"):
        changes.paired_settings(study)
    with pytest.raises(ValueError, match="in no family"):
        changes.outcome_families(INFO, {**changes.paired_settings(), "families": {"primary": ["who5"]}})
    with pytest.raises(ValueError, match="both"):
        changes.outcome_families(INFO.loc[["who5"]], {**changes.paired_settings(),
                                                      "families": {"a": ["who5"], "b": ["who5"]}})
    bad = {"paired": {k: v for k, v in config.study()["paired"].items() if k != "not_estimable_nl"}}
    with pytest.raises(ValueError, match="not_estimable_nl"):
        changes.paired_settings(bad)


def test_rci_middle_category_is_no_reliable_change(res):
    rci = res["rci"].query("outcome == 'who5'")
    assert set(rci["category_nl"]) == {"betrouwbaar verbeterd", "geen betrouwbare verandering",
                                       "betrouwbaar verslechterd"}
    assert "rci_who5_no_reliable_change" in set(res["summary"]["key"])


SIZES = hs.integers(min_value=0, max_value=10)
PROPERTY_OUTCOMES = ["djg_total", "who5", "pg_meedoen", "pg_mean", "zrm_financien"]
VARIED = ["djg_total", "who5", "pg_meedoen", "pg_zingeving", "zrm_financien"]


@hsettings(max_examples=30, deadline=None)
@given(data=hs.data())
def test_property_stage_functions_on_any_size(data):
    """Generated pair tables of 0-10 persons (ties, zeros, constant columns, empty sites)."""
    n = data.draw(SIZES, label="persons")
    persons = data.draw(hs.lists(hs.tuples(hs.sampled_from(["DH", "LH", "PS"]), hs.integers(0, 3),
                                           hs.one_of(hs.none(), hs.integers(-1, 1))), min_size=n, max_size=n),
                        label="persons")
    constant = data.draw(hs.sets(hs.sampled_from(VARIED), max_size=3), label="constant")
    no_change = data.draw(hs.sets(hs.sampled_from(VARIED), max_size=3), label="no_change")
    long, pairs = _data(persons, constant=constant, no_change=no_change)
    # one outcome per instrument (and pg_mean, computed from the six PG dimensions), for speed
    res = _analyse(long, pairs, outcomes=PROPERTY_OUTCOMES)
    _check_number_or_reason(res)
    _all_stage_functions(res)


# --- the report's sentences and tables of the changes chapter (analysis/report.py) -------------


def test_report_rci_sentence_says_no_reliable_change():
    from analysis import report as r

    rci = pd.DataFrame({"outcome": "who5", "label": "WHO-5", "status": "computed",
                        "category": ["improved", "unchanged", "worse"], "n": ["<5", "14", "0"],
                        "reliable_change_threshold": 16.74, "not_estimable": ""})
    text = r.rci_sentence(rci)
    assert "geen betrouwbare verandering" in text and "gelijk" not in text
    assert "minder dan vijf personen" in text and "16,7 punten" in text
    # not estimable: said with the Dutch key, no counts
    rci2 = rci.assign(n=None, not_estimable="too few pairs (n = 0; at least 1 needed)")
    assert "kon de index niet worden berekend (te weinig paren)" in r.rci_sentence(rci2)


def test_report_mixed_model_sentence_counts_the_flag():
    from analysis import report as r

    # 3 outcomes: agrees, does not agree, not judged -> "1 van de 2 ... Bij 1 niet ... Voor 1 ..."
    mm = pd.DataFrame({"agrees_with_paired": [True, False, None]})
    text = r.mixed_model_sentence(mm)
    assert text.startswith("Bij 1 van de 2 uitkomsten") and "Bij 1 niet" in text and "Voor 1 uitkomst kon" in text
    assert "bevestigt" not in text
    assert "voor geen enkele uitkomst" in r.mixed_model_sentence(pd.DataFrame({"agrees_with_paired": [None]}))


def test_report_binary_table_and_sentence_from_published_rows(res):
    from analysis import report as r

    pub = changes.publishable(res)["paired_binary"]
    table = r.paired_binary_table(pub)
    assert len(table) == 2 and set(table["Uitkomst"]) == {"Eenzaam (De Jong Gierveld 2 of hoger)",
                                                        "Laag welbevinden (WHO-5 onder 50)"}
    row = pub.query("scope == 'all' and outcome == 'lonely'").iloc[0]
    # the share as a percentage with the count: 100 x n_t0 / n_pairs
    if not disclosure.is_mark(row["prop_t0"]):  # else hidden with its count: report.py shows the mark
        assert table.iloc[0]["T0: aantal (%)"] == f"{row['n_t0']} ({fmt.number(100 * float(row['prop_t0']), 0)}%)"
    text = r.binary_sentence(pub)
    if disclosure.is_mark(row["prop_t1"]):  # hidden with its count (secondary suppression): no share
        assert "% op T1" not in text
    else:
        assert f"{fmt.number(100 * float(row['prop_t1']), 0)}% op T1" in text
