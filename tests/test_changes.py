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
    for (_, _), g in hand_table.groupby(["scope", "site"]):
        p = g["p_t"].to_numpy()
        # Holm with m = 2: smallest p times 2, the other max(that, p) (capped at 1)
        lo, hi = np.argmin(p), np.argmax(p)
        first = min(1, 2 * p[lo])
        assert g["p_t_holm"].to_numpy()[lo] == pytest.approx(first)
        assert g["p_t_holm"].to_numpy()[hi] == pytest.approx(max(first, p[hi]))
        assert (g["holm_m"] == 2).all()


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
    assert (res["changes"].groupby(["scope", "site"])["holm_m"].max() <= 17).all()
    overall = res["changes"][res["changes"]["scope"] == "all"]
    assert overall["holm_m"].iloc[0] == overall["p_t"].notna().sum() == 17


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
    assert fmt.number(float(s["mde_dz_all_holm"]), 2) in text
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
