"""Tests for analysis.stats.compare (Table 1 parts).

Every expected number names its oracle: a published example, a hand computation written out
here, or an independent calculation (exact enumeration with math.comb / the normal and t
distributions), never the scipy test function that the code itself wraps.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.stats.compare import (
    categorical_summary,
    categorical_test,
    continuous_summary,
    continuous_test,
    smd_categorical,
    smd_continuous,
    table1,
)


def frame_from_table(table, levels, groups=(True, False), var="x", group="g"):
    """Long data from a levels x groups count table."""
    rows = []
    for i, lv in enumerate(levels):
        for j, g in enumerate(groups):
            rows += [(lv, g)] * int(table[i][j])
    return pd.DataFrame(rows, columns=[var, group])


# --------------------------------------------------------------------------------------------
# SMD, continuous
# --------------------------------------------------------------------------------------------
def test_smd_continuous_hand_equal_variances():
    # Hand: means 3 and 5, sample variances 2.5 and 2.5 -> (3 - 5) / sqrt((2.5 + 2.5) / 2)
    # = -2 / 1.5811388 = -1.2649111
    assert smd_continuous([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]) == pytest.approx(-1.2649111, abs=1e-7)


def test_smd_continuous_hand_unequal_variances_average_not_pooled():
    # Hand (Austin 2009, eq. 1): x mean 3 var 2.5 (n 5); y = 2,4,...,12 mean 7 var 14 (n 6).
    # (3 - 7) / sqrt((2.5 + 14) / 2) = -4 / sqrt(8.25) = -4 / 2.8722813 = -1.3926212.
    # (The n-weighted pooled SD would give sqrt((4*2.5 + 5*14)/9) = 2.9814240 -> -1.3416408.)
    d = smd_continuous([1, 2, 3, 4, 5], [2, 4, 6, 8, 10, 12])
    assert d == pytest.approx(-1.3926212, abs=1e-7)


def test_smd_continuous_missing_dropped_and_degenerate_cases():
    # NaN dropped: same as without it.
    assert smd_continuous([1, 2, 3, np.nan], [2, 3, 4]) == pytest.approx(smd_continuous([1, 2, 3], [2, 3, 4]))
    # Same constant in both groups: defined as 0 (as R tableone StdDiff).
    assert smd_continuous([4, 4], [4, 4, 4]) == 0.0
    # Zero variance but different means: undefined.
    assert math.isnan(smd_continuous([4, 4], [5, 5]))
    # A group with one value has no variance.
    assert math.isnan(smd_continuous([1], [2, 3]))


def test_smd_continuous_rejects_text():
    with pytest.raises(ValueError, match="non-numeric"):
        smd_continuous(["a", "b"], [1, 2])


# --------------------------------------------------------------------------------------------
# SMD, categorical
# --------------------------------------------------------------------------------------------
def test_smd_categorical_two_levels_equals_austin_binary_formula():
    # Hand (Austin 2009 binary SMD): p1 = 4/8 = 0.5, p2 = 2/8 = 0.25;
    # |0.5 - 0.25| / sqrt((0.5*0.5 + 0.25*0.75) / 2) = 0.25 / sqrt(0.21875) = 0.5345225
    x = ["a", "b"] * 4
    y = ["a", "a", "a", "b"] * 2
    assert smd_categorical(x, y) == pytest.approx(0.5345225, abs=1e-7)


def test_smd_categorical_three_levels_hand_mahalanobis():
    # Hand (Yang & Dalton 2012): group 1 shares (a, b, c) = (.5, .3, .2), group 2 (.2, .3, .5).
    # Drop level a: p1 = (.3, .2), p2 = (.3, .5), d = (0, -.3).
    # S1 = [[.3*.7, -.3*.2], [-.3*.2, .2*.8]] = [[.21, -.06], [-.06, .16]]
    # S2 = [[.21, -.15], [-.15, .25]];  S = (S1 + S2)/2 = [[.21, -.105], [-.105, .205]]
    # det S = .21*.205 - .105^2 = .032025;  S^-1 = [[.205, .105], [.105, .21]] / .032025
    # d' S^-1 d = (.3^2 * .21) / .032025 = .0189 / .032025 = .5901639;  sqrt = .7682213
    x = ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    y = ["a"] * 2 + ["b"] * 3 + ["c"] * 5
    assert smd_categorical(x, y) == pytest.approx(0.7682213, abs=1e-7)


def test_smd_categorical_missing_dropped_and_degenerate():
    assert smd_categorical(["a", "b", None], ["a", "b"]) == pytest.approx(0.0)
    assert smd_categorical(["a", "a"], ["a"]) == 0.0
    with pytest.raises(ValueError, match="not in levels"):
        smd_categorical(["a", "z"], ["a"], levels=["a", "b"])


level_lists = st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=3, max_size=40)


@settings(max_examples=100, deadline=None)
@given(x=level_lists, y=level_lists)
def test_smd_categorical_does_not_depend_on_which_level_is_left_out(x, y):
    # Property: a Mahalanobis distance does not depend on which level is left out, as long as
    # S is regular. S = (S1 + S2)/2 is singular only if some v != 0 has zero variance in both
    # groups, i.e. is constant on each group's levels; when the two groups share a level and
    # every level occurs, that forces v = 0. So: groups that share a level -> invariance.
    if not set(x) & set(y):
        return
    levels = sorted(set(x) | set(y))
    forward = smd_categorical(x, y, levels=levels)
    backward = smd_categorical(x, y, levels=levels[::-1])
    rotated = smd_categorical(x, y, levels=levels[1:] + levels[:1])
    assert np.isfinite(forward)
    assert backward == pytest.approx(forward, rel=1e-7, abs=1e-9)
    assert rotated == pytest.approx(forward, rel=1e-7, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(x=st.lists(st.booleans(), min_size=2, max_size=50), y=st.lists(st.booleans(), min_size=2, max_size=50))
def test_smd_categorical_binary_matches_austin_formula(x, y):
    # Property (Austin 2009): for two levels, |p1 - p2| / sqrt((p1 q1 + p2 q2) / 2).
    p1, p2 = np.mean(x), np.mean(y)
    denom = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
    got = smd_categorical(x, y, levels=[False, True])
    if denom > 0:
        assert got == pytest.approx(abs(p1 - p2) / math.sqrt(denom), rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------------------------
# categorical tests
# --------------------------------------------------------------------------------------------
def test_chi_square_rxc_agresti_party_identification():
    # Published: Agresti (2007) An Introduction to Categorical Data Analysis, Table 2.5, and
    # R's ?chisq.test example: gender x party, X-squared = 30.07, df = 2, p-value = 2.954e-07.
    table = [[762, 484], [327, 239], [468, 477]]  # levels (Democrat, Independent, Republican) x (F, M)
    df = frame_from_table(table, ["Democrat", "Independent", "Republican"], groups=("F", "M"))
    res = categorical_test(df, "x", "g", groups=["F", "M"]).iloc[0]
    assert res["test"] == "Pearson chi-square"
    assert res["statistic"] == pytest.approx(30.07, abs=0.005)
    assert res["dof"] == 2
    assert res["p"] == pytest.approx(2.954e-07, rel=5e-4)
    assert res["n"] == 2757


def test_chi_square_2x2_yates_hand():
    # Hand: table [[20, 30], [30, 20]], n = 100, every expected count 25.
    # Yates: sum (|O - E| - 0.5)^2 / E = 4 * 4.5^2 / 25 = 3.24; p = 2 * Phi(-sqrt(3.24)) = 2 * Phi(-1.8)
    # Uncorrected: 4 * 5^2 / 25 = 4.0; p = 2 * Phi(-2).
    df = frame_from_table([[20, 30], [30, 20]], ["ja", "nee"])
    yates = categorical_test(df, "x", "g").iloc[0]
    assert yates["test"] == "Pearson chi-square (Yates continuity correction)"
    assert yates["statistic"] == pytest.approx(3.24, abs=1e-12)
    assert yates["p"] == pytest.approx(2 * stats.norm.cdf(-1.8), rel=1e-10)
    assert yates["p"] == pytest.approx(0.0718606, abs=1e-7)  # normal table: 2 * 0.0359303
    plain = categorical_test(df, "x", "g", yates=False).iloc[0]
    assert plain["test"] == "Pearson chi-square"
    assert plain["statistic"] == pytest.approx(4.0, abs=1e-12)
    assert plain["p"] == pytest.approx(0.0455003, abs=1e-7)  # 2 * Phi(-2) = 2 * 0.0227501
    assert yates["min_expected"] == pytest.approx(25.0)


def fisher_2x2_two_sided(a, b, c, d):
    """Hand: hypergeometric probabilities of all tables with the margins, summed where no
    more probable than the observed (the two-sided p of R's fisher.test)."""
    r1, c1, n = a + b, a + c, a + b + c + d
    def prob(x):
        return math.comb(r1, x) * math.comb(n - r1, c1 - x) / math.comb(n, c1)
    p_obs = prob(a)
    lo, hi = max(0, c1 - (n - r1)), min(r1, c1)
    return sum(prob(x) for x in range(lo, hi + 1) if prob(x) <= p_obs * (1 + 1e-7))


def test_fisher_2x2_when_expected_below_5_hand_enumeration():
    # Table [[8, 2], [1, 5]] (rows ja/nee, columns True/False): expected for (ja, False) is
    # 10 * 7 / 16 = 4.375 < 5 -> Fisher exact.
    # Hand enumeration (above) gives 0.0349650 (also scipy's and R's documented value).
    df = frame_from_table([[8, 2], [1, 5]], ["ja", "nee"])
    res = categorical_test(df, "x", "g").iloc[0]
    assert res["test"] == "Fisher exact"
    expected = fisher_2x2_two_sided(8, 2, 1, 5)
    assert expected == pytest.approx(0.0349650, abs=1e-7)
    assert res["p"] == pytest.approx(expected, rel=1e-9)
    assert res["min_expected"] == pytest.approx(2.625)  # smallest: (nee, False) = 6 * 7 / 16


def exact_ffh_2xk(table):
    """Hand: the exact Fisher-Freeman-Halton p for a 2 x k table, by enumerating every table
    with the observed margins; P(table) = prod(row!) prod(col!) / (n! prod(cell!))."""
    table = np.asarray(table)
    rows, cols, n = table.sum(axis=1), table.sum(axis=0), table.sum()

    def logp(t):
        return (sum(math.lgamma(v + 1) for v in rows) + sum(math.lgamma(v + 1) for v in cols)
                - math.lgamma(n + 1) - sum(math.lgamma(v + 1) for v in t.ravel()))

    p_obs = math.exp(logp(table))
    total = 0.0
    k = len(cols)

    def rec(j, left, top):
        nonlocal total
        if j == k - 1:
            if 0 <= left <= cols[j]:
                t = np.array([top + [left], [c - x for c, x in zip(cols, top + [left])]])
                p = math.exp(logp(t))
                if p <= p_obs * (1 + 1e-7):
                    total += p
            return
        for x in range(0, min(left, cols[j]) + 1):
            rec(j + 1, left - x, top + [x])

    rec(0, int(rows[0]), [])
    return total


def test_fisher_freeman_halton_monte_carlo_against_exact_enumeration():
    # Table 3 levels x 2 groups with small expected counts -> Fisher-Freeman-Halton (Monte Carlo).
    # Oracle: exact enumeration above, p = 0.0571471 for [[8, 2, 3], [1, 5, 4]] (groups x levels).
    # Monte Carlo SE with 100 000 tables is sqrt(.057 * .943 / 1e5) = 0.0007; tolerance 0.004.
    groups_by_levels = [[8, 2, 3], [1, 5, 4]]
    expected = exact_ffh_2xk(groups_by_levels)
    assert expected == pytest.approx(0.0571471, abs=1e-7)
    df = frame_from_table(np.array(groups_by_levels).T, ["a", "b", "c"])
    res = categorical_test(df, "x", "g").iloc[0]
    assert res["test"].startswith("Fisher-Freeman-Halton (Monte Carlo, 100000 tables, seed ")
    assert res["p"] == pytest.approx(expected, abs=0.004)
    # Fixed seed: the same p every run.
    assert categorical_test(df, "x", "g").iloc[0]["p"] == res["p"]


def test_categorical_test_leaves_missing_out_and_does_not_modify_input():
    df = frame_from_table([[20, 30], [30, 20]], ["ja", "nee"])
    with_na = pd.concat([df, pd.DataFrame({"x": [None] * 7, "g": [True] * 7})], ignore_index=True)
    before = with_na.copy()
    res = categorical_test(with_na, "x", "g").iloc[0]
    assert res["n"] == 100
    assert res["statistic"] == pytest.approx(3.24)
    pd.testing.assert_frame_equal(with_na, before)


def test_categorical_test_single_level_is_not_tested():
    df = pd.DataFrame({"x": ["a"] * 6, "g": [True, False] * 3})
    res = categorical_test(df, "x", "g").iloc[0]
    assert res["test"].startswith("not tested")
    assert math.isnan(res["p"])


def test_categorical_test_bad_group_raises():
    df = pd.DataFrame({"x": ["a", "b", "a"], "g": [True, None, False]})
    with pytest.raises(ValueError, match="missing"):
        categorical_test(df, "x", "g")
    df3 = pd.DataFrame({"x": ["a", "b", "a"], "g": ["p", "q", "r"]})
    with pytest.raises(ValueError, match="exactly two groups"):
        categorical_test(df3, "x", "g")
    with pytest.raises(ValueError, match="not in data"):
        categorical_test(df, "nope", "g")


# --------------------------------------------------------------------------------------------
# continuous tests
# --------------------------------------------------------------------------------------------
def test_welch_t_hand():
    # Hand (Welch 1947): x = 1..5 (mean 3, var 2.5, n 5); y = 2, 4, ..., 12 (mean 7, var 14, n 6).
    # se^2 = 2.5/5 + 14/6 = 0.5 + 2.3333333 = 2.8333333; t = (3 - 7) / sqrt(2.8333333) = -2.3763541
    # df = (17/6)^2 / ((1/2)^2/4 + (7/3)^2/5) = (289/36) / (829/720) = 5780/829 = 6.9722557
    df = pd.DataFrame({"g": [True] * 5 + [False] * 6, "v": [1, 2, 3, 4, 5, 2, 4, 6, 8, 10, 12]})
    res = continuous_test(df, "v", "g").iloc[0]
    assert res["test"] == "Welch t-test"
    assert res["statistic"] == pytest.approx(-2.3763541, abs=1e-7)
    assert res["dof"] == pytest.approx(5780 / 829, rel=1e-12)
    # p from the t distribution with those df (scipy.stats.t, not the t-test function):
    assert res["p"] == pytest.approx(2 * stats.t.sf(4 / math.sqrt(17 / 6), 5780 / 829), rel=1e-10)
    assert res["n"] == 11


def test_mann_whitney_exact_hand():
    # Hand: x = 1, 2, 3 all below y = 4, 5, 6: U = 0; of the C(6, 3) = 20 equally likely
    # rank sets, one gives U = 0 and one U = 9, so two-sided p = 2/20 = 0.1.
    df = pd.DataFrame({"g": [True] * 3 + [False] * 3, "v": [1, 2, 3, 4, 5, 6]})
    res = continuous_test(df, "v", "g", nonnormal=True).iloc[0]
    assert res["test"] == "Mann-Whitney U (exact)"
    assert res["statistic"] == 0.0
    assert res["p"] == pytest.approx(0.1, abs=1e-12)


def test_mann_whitney_ties_normal_approximation_hand():
    # Hand: x = 1, 2, 2, 3; y = 2, 3, 4, 5, 5 (ties -> normal approximation).
    # Sorted 1 2 2 2 3 3 4 5 5 -> ranks 1, 3, 3, 3, 5.5, 5.5, 7, 8.5, 8.5.
    # R_x = 1 + 3 + 3 + 5.5 = 12.5;  U_x = 12.5 - 4*5/2 = 2.5;  E[U] = 4*5/2 = 10.
    # Tie groups t = 3, 2, 2: sum(t^3 - t) = 24 + 6 + 6 = 36; N = 9.
    # Var U = (4*5/12) * ((N + 1) - 36 / (N (N - 1))) = (5/3) * (10 - 0.5) = 95/6
    # z = (|2.5 - 10| - 0.5) / sqrt(95/6) = 7 / 3.9791121 = 1.759178; p = 2 Phi(-z).
    df = pd.DataFrame({"g": [True] * 4 + [False] * 5, "v": [1, 2, 2, 3, 2, 3, 4, 5, 5]})
    res = continuous_test(df, "v", "g", nonnormal=True).iloc[0]
    assert res["test"] == "Mann-Whitney U (normal approximation, tie and continuity corrected)"
    assert res["statistic"] == 2.5
    assert res["p"] == pytest.approx(2 * stats.norm.sf(7 / math.sqrt(95 / 6)), rel=1e-10)


def test_continuous_test_small_group_and_text():
    df = pd.DataFrame({"g": [True, False, False], "v": [1.0, 2.0, 3.0]})
    res = continuous_test(df, "v", "g").iloc[0]
    assert res["test"].startswith("not tested") and math.isnan(res["p"])
    bad = pd.DataFrame({"g": [True, False], "v": ["a", "b"]})
    with pytest.raises(ValueError, match="non-numeric"):
        continuous_test(bad, "v", "g")


# --------------------------------------------------------------------------------------------
# summaries and table1
# --------------------------------------------------------------------------------------------
def test_categorical_summary_counts_and_missing_level():
    df = pd.DataFrame({"g": [True] * 4 + [False] * 2, "x": ["a", "a", "b", None, "b", "b"]})
    out = categorical_summary(df, "x", "g")
    got = {(r.group, r.level): (r.n, r.pct) for r in out.itertuples()}
    # Hand: True: a 2/4, b 1/4, missing 1/4; False: b 2/2; overall a 2/6, b 3/6, missing 1/6.
    assert got[(True, "a")] == (2, 50.0)
    assert got[(True, "missing")] == (1, 25.0)
    assert got[(False, "a")] == (0, 0.0)
    assert got[(False, "b")] == (2, 100.0)
    assert got[("overall", "b")] == (3, 50.0)
    assert got[("overall", "missing")][0] == 1
    assert list(out["level"].unique()) == ["a", "b", "missing"]
    with pytest.raises(ValueError, match="real level"):
        categorical_summary(df.assign(x=df["x"].fillna("missing")), "x", "g")


def test_categorical_summary_keeps_categorical_order_and_empty_levels():
    x = pd.Categorical(["laag", "hoog", "hoog", "laag"], categories=["laag", "midden", "hoog"])
    df = pd.DataFrame({"g": [True, True, False, False], "x": x})
    out = categorical_summary(df, "x", "g", overall=False)
    assert list(out["level"].unique()) == ["laag", "midden", "hoog"]
    assert out.loc[out.level == "midden", "n"].tolist() == [0, 0]
    # The empty level is left out of the test (its expected counts would be 0):
    # 2x2 table [[1, 1], [1, 1]] -> Fisher exact, p = 1.
    res = categorical_test(df, "x", "g").iloc[0]
    assert (res["test"], res["p"]) == ("Fisher exact", 1.0)


def test_continuous_summary_hand():
    # Hand: True values 20, 30, 40 (one missing): mean 30, sd 10, median 30,
    # quartiles by linear interpolation (R type 7): q1 = 20 + 0.5*10 = 25, q3 = 35.
    df = pd.DataFrame({"g": [True] * 4 + [False] * 2, "age": [20, 30, 40, None, 50, 60]})
    out = continuous_summary(df, "age", "g")
    assert list(out["group"]) == [True, False, "overall"]
    assert out.iloc[0][["n", "mean", "sd", "median", "q1", "q3", "n_missing"]].tolist() == [
        3, 30.0, 10.0, 30.0, 25.0, 35.0, 1]
    assert out.iloc[2]["n"] == 5
    assert out.iloc[2]["mean"] == pytest.approx(40.0)  # (20+30+40+50+60)/5


@pytest.fixture
def reach_frame():
    rng = np.random.default_rng(1)
    n = 60
    return pd.DataFrame({
        "reached": np.array([True, False])[rng.integers(0, 2, n)],
        "gender": rng.choice(["man", "vrouw", None], n, p=[0.45, 0.45, 0.10]),
        "education": pd.Categorical(rng.choice(["laag", "midden", "hoog"], n),
                                    categories=["laag", "midden", "hoog"]),
        "age": np.where(rng.random(n) < 0.1, np.nan, rng.normal(55, 15, n)),
        "visits": rng.poisson(3, n).astype(float),
    })


def test_table1_structure_and_agreement_with_parts(reach_frame):
    before = reach_frame.copy()
    t = table1(reach_frame, "reached", ["gender", "education"], ["age", "visits"], nonnormal=["visits"])
    pd.testing.assert_frame_equal(reach_frame, before)  # input untouched
    assert list(t.columns) == ["variable", "type", "level", "group", "n", "pct", "mean", "sd",
                               "median", "q1", "q3", "n_missing", "smd", "test", "statistic_name", "statistic",
                               "dof", "p", "not_estimable"]
    # Rows: gender 3 levels (incl. missing) x 3 groups, education 3 x 3, 2 continuous x 3.
    assert len(t) == 9 + 9 + 6
    # Group percentages of a categorical variable add up to 100 (missing included).
    sums = t[t.type == "categorical"].groupby(["variable", "group"])["pct"].sum()
    assert np.allclose(sums, 100)
    # Test and SMD agree with the parts, on non-missing rows only.
    g = t[t.variable == "gender"].iloc[0]
    part = categorical_test(reach_frame, "gender", "reached").iloc[0]
    assert (g["test"], g["p"]) == (part["test"], part["p"])
    known = reach_frame.dropna(subset=["gender"])
    assert g["smd"] == pytest.approx(smd_categorical(known.loc[known.reached, "gender"],
                                                     known.loc[~known.reached, "gender"]))
    v = t[t.variable == "visits"].iloc[0]
    assert v["test"].startswith("Mann-Whitney U")
    a = t[t.variable == "age"].iloc[0]
    assert a["test"] == "Welch t-test"
    r = reach_frame
    assert a["smd"] == pytest.approx(abs(smd_continuous(r.loc[r.reached, "age"], r.loc[~r.reached, "age"])))
    assert t.loc[(t.variable == "age") & (t.group == "overall"), "n_missing"].iloc[0] == r["age"].isna().sum()


def test_table1_argument_errors(reach_frame):
    with pytest.raises(ValueError, match="both categorical and continuous"):
        table1(reach_frame, "reached", ["gender"], ["gender"])
    with pytest.raises(ValueError, match="nonnormal"):
        table1(reach_frame, "reached", ["gender"], ["age"], nonnormal=["visits"])
    with pytest.raises(ValueError, match="at least one"):
        table1(reach_frame, "reached")
    with pytest.raises(ValueError, match="list of column names"):
        table1(reach_frame, "reached", "gender")  # a string would be read letter by letter
    broken = reach_frame.assign(reached=reach_frame["reached"].astype(object))
    broken.loc[0, "reached"] = None
    with pytest.raises(ValueError, match="missing"):
        table1(broken, "reached", ["gender"])


# --------------------------------------------------------------------------------------------
# issue 15: what the statistic is, and "not estimable" instead of an error on valid data
# --------------------------------------------------------------------------------------------
def test_fisher_2x2_statistic_is_the_sample_odds_ratio_hand():
    # [[8, 3], [2, 7]]: sample odds ratio (8 * 7) / (3 * 2) = 56 / 6 = 9.3333 (Agresti 2007, 2.4)
    res = categorical_test(frame_from_table([[8, 3], [2, 7]], ["vrouw", "man"]), "x", "g").iloc[0]
    assert res["test"] == "Fisher exact" and res["statistic_name"] == "odds_ratio"
    # levels sorted: man [2, 7] first, vrouw [8, 3]: OR = (2 * 3) / (7 * 8) = 6 / 56
    assert res["statistic"] == pytest.approx(6 / 56)
    assert res["not_estimable"] == ""


def test_fisher_freeman_halton_statistic_is_the_table_probability_hand():
    # 3 x 2 table [[1, 0], [1, 1], [0, 2]] (n = 5; rows 1, 2, 2; columns 2, 3). Probability of
    # this table given the margins (Freeman & Halton 1951): prod(row!) prod(col!) / (n! prod(cell!))
    # = (1! 2! 2!)(2! 3!) / (5! * 1! 0! 1! 1! 0! 2!) = (4 * 12) / (120 * 2) = 0.2
    f = math.factorial
    hand = (f(1) * f(2) * f(2) * f(2) * f(3)) / (f(5) * f(2))
    df = frame_from_table([[1, 0], [1, 1], [0, 2]], ["a", "b", "c"])
    res = categorical_test(df, "x", "g", n_resamples=1000).iloc[0]
    assert res["test"].startswith("Fisher-Freeman-Halton") and res["statistic_name"] == "table_probability"
    assert hand == pytest.approx(0.2) and res["statistic"] == pytest.approx(hand)
    assert isinstance(res["statistic"], float) and isinstance(res["p"], float)  # scipy gives 1-element arrays


def test_chi_square_and_t_and_u_statistic_names():
    chi = categorical_test(frame_from_table([[20, 30], [30, 20]], ["ja", "nee"]), "x", "g").iloc[0]
    assert chi["statistic_name"] == "chi2"
    df = pd.DataFrame({"g": [True] * 3 + [False] * 3, "v": [1, 2, 3, 4, 5, 6]})
    assert continuous_test(df, "v", "g").iloc[0]["statistic_name"] == "t"
    assert continuous_test(df, "v", "g", nonnormal=True).iloc[0]["statistic_name"] == "U"


def test_empty_group_is_not_estimable_and_counts_stay():
    # a site where everyone was reached: 4 reached (3 a, 1 b), nobody not reached
    df = pd.DataFrame({"g": [True] * 4, "x": ["a", "a", "a", "b"], "v": [1.0, 2.0, 3.0, 4.0]})
    t = table1(df, "g", ["x"], ["v"], groups=[True, False], group_names={False: "the not-reached group"})
    x = t[t["variable"] == "x"].set_index(["level", "group"])
    assert x.loc[("a", True), "n"] == 3 and x.loc[("a", True), "pct"] == pytest.approx(75.0)
    assert x.loc[("a", False), "n"] == 0 and math.isnan(x.loc[("a", False), "pct"])
    assert (x["not_estimable"] == "empty group: no one in the not-reached group answered 'x'").all()
    assert x["p"].isna().all() and x["smd"].isna().all()
    v = t[t["variable"] == "v"].iloc[0]
    assert v["not_estimable"].startswith("empty group") and math.isnan(v["p"])


def test_no_variation_and_too_few_are_reasons():
    df = pd.DataFrame({"g": [True, True, False, False], "x": ["a"] * 4, "v": [2.0, 2.0, 2.0, 2.0],
                       "w": [1.0, 1.0, 3.0, 3.0]})
    assert categorical_test(df, "x", "g").iloc[0]["not_estimable"] == "no variation: every answer to 'x' is 'a'"
    mw = continuous_test(df, "v", "g", nonnormal=True).iloc[0]
    assert mw["not_estimable"].startswith("no variation") and math.isnan(mw["p"])
    welch = continuous_test(df, "w", "g").iloc[0]        # SE 0: t would be infinite
    assert welch["not_estimable"].startswith("no variation") and math.isnan(welch["statistic"])
    one = continuous_test(df.iloc[1:], "w", "g").iloc[0]  # 1 reached value
    assert one["not_estimable"].startswith("too few respondents (n = 1 in group True and 2 in group False")
    none = categorical_test(df.assign(x=None), "x", "g").iloc[0]
    assert none["not_estimable"].startswith("too few respondents (n = 0")
    # each group in one level, a different one: Fisher p exists, the SMD does not
    sep = table1(pd.DataFrame({"g": [True, True, False, False], "x": ["a", "a", "b", "b"]}), "g", ["x"]).iloc[0]
    assert not math.isnan(sep["p"]) and math.isnan(sep["smd"]) and sep["not_estimable"].startswith("no variation: SMD")


def test_zero_rows_table1_is_all_reasons():
    df = pd.DataFrame({"g": pd.Series([], dtype=bool), "x": pd.Categorical([], categories=["a", "b"]),
                       "v": pd.Series([], dtype=float)})
    t = table1(df, "g", ["x"], ["v"])
    assert (t["n"] == 0).all() and t["not_estimable"].str.len().gt(0).all()
    with pytest.raises(ValueError, match="do not match"):
        table1(pd.DataFrame({"g": ["p", "q"], "x": ["a", "b"]}), "g", ["x"], groups=["p", "r"])
