"""Paired-change statistics (analysis/stats/paired.py) against independent oracles.

Where each expected number comes from is said above its test:
- R's ``?wilcox.test`` example (Hollander & Wolfe 1973, p. 29): ``wilcox.test(x, y, paired =
  TRUE, alternative = "greater")`` prints ``V = 40, p-value = 0.01953``;
- hand computations written out in the comments (t-test, exact signed-rank p by enumeration,
  RCI, Holm, rank-biserial);
- brute-force enumeration of all 2^n sign patterns (itertools), a different algorithm from the
  convolution the module uses;
- statsmodels ``multipletests`` (Holm), pingouin ``wilcoxon`` (rank-biserial), scipy's
  permutation route of ``wilcoxon`` (with ties and zeros), scipy's noncentral t (power);
- statistical properties on generated data with known truth (coverage, recovery).
Agreement with the very scipy call a function wraps (``ttest_rel``) is only a consistency check.
"""

from __future__ import annotations

import itertools
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import scipy.stats as st
from statsmodels.stats.multitest import multipletests

from analysis.config import study
from analysis.stats.paired import (
    bootstrap_ci,
    cohen_dz,
    holm,
    load_reliability,
    minimum_detectable_effect,
    mixed_model_wave,
    paired_change,
    paired_t,
    rank_biserial,
    reliable_change,
    reliable_change_counts,
    wilcoxon_signed_rank,
)

# R ?wilcox.test, Hollander & Wolfe (1973) p. 29: Hamilton depression scale factor IV,
# first (x) and second (y) visit after initiation of a therapy.
HW_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
HW_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def brute_force_signed_rank_p(d, zero_method="wilcox"):
    """(P(W+ <= w), P(W+ >= w)) by enumerating every sign pattern of the non-zero differences."""
    d = np.asarray(d, dtype=float)
    if zero_method == "wilcox":
        d = d[d != 0]
    ranks = st.rankdata(np.abs(d))
    nz = d != 0
    w = Fraction(ranks[d > 0].sum())
    r_nz = [Fraction(r) for r in ranks[nz]]
    le = ge = 0
    for signs in itertools.product((0, 1), repeat=len(r_nz)):
        s = sum((r for r, sg in zip(r_nz, signs) if sg), Fraction(0))
        le += s <= w
        ge += s >= w
    total = 2 ** len(r_nz)
    return Fraction(le, total), Fraction(ge, total)


# --------------------------------------------------------------------------------------------
# Wilcoxon signed-rank
# --------------------------------------------------------------------------------------------
def test_wilcoxon_r_documentation_example():
    # R: wilcox.test(x, y, paired = TRUE, alternative = "greater") -> V = 40, p-value = 0.01953.
    # R's differences are x - y; ours are y - x (T1 - T0), so R's V is our r_minus and R's
    # "greater" is our "less".
    # Hand check: x - y = 0.952, -0.147, 1.022, 0.430, 0.620, 0.590, 0.490, -0.080, 0.010;
    # ranks of |d|: 0.010:1, 0.080:2, 0.147:3, 0.430:4, 0.490:5, 0.590:6, 0.620:7, 0.952:8,
    # 1.022:9. Negative (x - y < 0): ranks 3 and 2 -> 5, so V = 45 - 5 = 40.
    # P(V >= 40) = P(negative rank sum <= 5) = #{subsets of 1..9 with sum <= 5} / 2^9
    # = #{{}, {1}, {2}, {3}, {4}, {5}, {1,2}, {1,3}, {1,4}, {2,3}} / 512 = 10/512 = 0.01953125.
    r = wilcoxon_signed_rank(HW_X, HW_Y, alternative="less").iloc[0]
    assert r.r_minus == 40
    assert r.r_plus == 5
    assert r.p == pytest.approx(10 / 512, abs=1e-15)
    assert round(r.p, 5) == 0.01953  # as R prints it
    assert r.method == "exact" and not r.ties and r.n_zero == 0
    # Two-sided: R doubles the smaller tail (min(2p, 1)): 20/512.
    two = wilcoxon_signed_rank(HW_X, HW_Y).iloc[0]
    assert two.p == pytest.approx(20 / 512, abs=1e-15)
    # Same data in the other direction ("greater" on y - x) is the other tail: 1 - 9/512... by
    # enumeration P(W+ >= 5) = 1 - P(W+ <= 4) = 1 - #{{},{1},{2},{3},{4},{1,2},{1,3}}/512.
    other = wilcoxon_signed_rank(HW_X, HW_Y, alternative="greater").iloc[0]
    assert other.p == pytest.approx(1 - 7 / 512, abs=1e-15)


def test_wilcoxon_tiny_n_all_positive_hand_enumerated():
    # n = 5, all changes positive, no ties: W+ = 1+2+3+4+5 = 15 is the largest of the 2^5 = 32
    # equally likely sign patterns, so one-sided p = 1/32 and two-sided p = 2/32.
    x = [0, 0, 0, 0, 0]
    y = [1, 2, 3, 4, 5]
    assert wilcoxon_signed_rank(x, y, alternative="greater").p.iloc[0] == pytest.approx(1 / 32, abs=1e-15)
    assert wilcoxon_signed_rank(x, y).p.iloc[0] == pytest.approx(2 / 32, abs=1e-15)
    assert wilcoxon_signed_rank(x, y, alternative="less").p.iloc[0] == pytest.approx(1.0)


def test_wilcoxon_ties_hand_enumerated():
    # d = 1, 1, 2, 2, -3: midranks 1.5, 1.5, 3.5, 3.5, 5; W+ = 10, R- = 5.
    # P(W+ >= 10) = P(R- <= 5): subsets of {1.5, 1.5, 3.5, 3.5, 5} with sum <= 5:
    # {} ; {1.5} x2 ; {3.5} x2 ; {5} ; {1.5, 1.5} ; {1.5, 3.5} x4  -> 1+2+2+1+1+4 = 11 of 32.
    d = [1, 1, 2, 2, -3]
    r = wilcoxon_signed_rank(np.zeros(5), d, alternative="greater").iloc[0]
    assert r.r_plus == 10 and r.r_minus == 5 and r.ties
    assert r.method == "exact, conditional on tied ranks"
    assert r.p == pytest.approx(11 / 32, abs=1e-15)


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_wilcoxon_exact_with_ties_and_zeros_matches_enumeration(zero_method, seed):
    # Generated Likert-like changes with many ties and zeros (n = 12): compare with brute-force
    # enumeration of the 2^n sign patterns and with scipy's permutation route
    # (stats.wilcoxon with PermutationMethod(n_resamples=inf) enumerates all patterns too).
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 7, 12).astype(float)
    y = np.clip(x + rng.integers(-2, 4, 12), 0, 6).astype(float)
    d = y - x
    le, ge = brute_force_signed_rank_p(d, zero_method)
    for alt, expected in [("less", le), ("greater", ge), ("two-sided", min(1, 2 * min(le, ge)))]:
        got = wilcoxon_signed_rank(x, y, zero_method=zero_method, alternative=alt).p.iloc[0]
        assert got == pytest.approx(float(expected), rel=1e-12), alt
    sp = st.wilcoxon(d, zero_method=zero_method, method=st.PermutationMethod(n_resamples=np.inf))
    ours = wilcoxon_signed_rank(x, y, zero_method=zero_method).p.iloc[0]
    assert ours == pytest.approx(sp.pvalue, rel=1e-9)


def test_wilcoxon_no_ties_equals_classical_exact_distribution():
    # Continuous changes, n = 20: the classical signed-rank distribution (scipy method="exact",
    # R psignrank) applies; consistency check of the convolution without ties.
    rng = np.random.default_rng(7)
    x = rng.normal(size=20)
    y = x + rng.normal(0.4, 1, 20)
    for alt in ("two-sided", "greater", "less"):
        ours = wilcoxon_signed_rank(x, y, alternative=alt).p.iloc[0]
        assert ours == pytest.approx(st.wilcoxon(y - x, method="exact", alternative=alt).pvalue, rel=1e-10)


def test_wilcoxon_scipy_exact_is_not_exact_with_ties():
    # Documents the scipy 1.17 behaviour the module works around: method="exact" ignores ties
    # (and zeros) and rounds the statistic, so it differs from the enumerated p here.
    d = np.array([1, 1, 2, 2, -3, 0, 1, 2])
    le, ge = brute_force_signed_rank_p(d, "pratt")
    ours = wilcoxon_signed_rank(np.zeros(8), d, zero_method="pratt").p.iloc[0]
    assert ours == pytest.approx(float(min(1, 2 * min(le, ge))), rel=1e-12)
    assert st.wilcoxon(d, zero_method="pratt", method="exact").pvalue != pytest.approx(ours, rel=1e-3)


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt"])
def test_wilcoxon_normal_approximation_matches_tie_and_zero_corrected_formula(zero_method):
    # Above 200 non-zero differences the normal approximation with continuity correction is
    # used; scipy's asymptotic branch (tie correction, Cureton's zero correction for "pratt",
    # correction=True as R's correct = TRUE) is the consistency check.
    rng = np.random.default_rng(11)
    x = rng.integers(0, 10, 400).astype(float)
    y = x + rng.integers(-3, 5, 400)
    r = wilcoxon_signed_rank(x, y, zero_method=zero_method).iloc[0]
    assert r.method == "normal approximation, continuity-corrected"
    sp = st.wilcoxon(y - x, zero_method=zero_method, method="asymptotic", correction=True)
    assert r.p == pytest.approx(sp.pvalue, rel=1e-9)


def test_wilcoxon_zero_handling_and_reporting():
    # d = 0, 0, 1, 2, 3: "wilcox" drops the zeros -> ranks 1, 2, 3, W+ = 6 = max of 2^3 -> two-sided
    # p = 2/8. "pratt" ranks the zeros (1.5, 1.5) and keeps 3, 4, 5 for the non-zeros: W+ = 12,
    # the maximum of the 2^3 patterns of the non-zero signs -> 2/8 as well, but conditional on
    # the Pratt ranks.
    x = [0, 0, 0, 0, 0]
    y = [0, 0, 1, 2, 3]
    w = wilcoxon_signed_rank(x, y).iloc[0]
    assert (w.n_zero, w.n_nonzero, w.r_plus, w.p, w.method) == (2, 3, 6.0, 0.25, "exact")
    assert "zeros dropped" in w.test
    p = wilcoxon_signed_rank(x, y, zero_method="pratt").iloc[0]
    assert (p.r_plus, p.p, p.method) == (12.0, 0.25, "exact, conditional on Pratt ranks")
    assert "Pratt" in p.test
    allzero = wilcoxon_signed_rank([1, 2, 3], [1, 2, 3]).iloc[0]
    assert np.isnan(allzero.p) and allzero.method == "no non-zero differences"


# --------------------------------------------------------------------------------------------
# paired t
# --------------------------------------------------------------------------------------------
def test_paired_t_hand_computation_hollander_wolfe():
    # d = y - x = -(x - y); x - y = 0.952, -0.147, 1.022, 0.430, 0.620, 0.590, 0.490, -0.080, 0.010
    # sum(x - y) = 3.887, mean = 3.887 / 9 = 0.431888...
    # sum of squares = 0.906304 + 0.021609 + 1.044484 + 0.1849 + 0.3844 + 0.3481 + 0.2401
    #                  + 0.0064 + 0.0001 = 3.136397
    # SS = 3.136397 - 3.887^2 / 9 = 3.136397 - 1.678752111 = 1.457644889; var = SS / 8
    # sd = sqrt(0.182205611) = 0.426855; se = sd / 3 = 0.142285; t = 0.431889 / 0.142285 = 3.0354
    mean = 3.887 / 9
    var = (3.136397 - 3.887**2 / 9) / 8
    se = np.sqrt(var) / 3
    t_hand = -mean / se  # our d is y - x
    r = paired_t(HW_X, HW_Y).iloc[0]
    assert r.mean_change == pytest.approx(-mean, rel=1e-12)
    assert r.sd_change == pytest.approx(np.sqrt(var), rel=1e-9)
    assert r.t == pytest.approx(t_hand, rel=1e-9)
    assert round(abs(r.t), 4) == 3.0354
    assert r.df == 8
    assert r.p == pytest.approx(2 * st.t.sf(abs(t_hand), 8), rel=1e-9)
    q = st.t.ppf(0.975, 8)
    assert (r.ci_low, r.ci_high) == pytest.approx((-mean - q * se, -mean + q * se), rel=1e-9)
    # consistency with the wrapped call
    assert r.p == pytest.approx(st.ttest_rel(HW_Y, HW_X).pvalue, rel=1e-12)


# --------------------------------------------------------------------------------------------
# effect sizes
# --------------------------------------------------------------------------------------------
def test_cohen_dz_hand_and_noncentral_t_interval():
    # d = 1, 2, 0, 3: mean 1.5, deviations -0.5, 0.5, -1.5, 1.5, SS = 5, sd = sqrt(5/3)
    # dz = 1.5 / sqrt(5/3) = 1.161895
    r = cohen_dz([1, 2, 3, 4], [2, 4, 3, 7]).iloc[0]
    assert r.dz == pytest.approx(1.5 / np.sqrt(5 / 3), rel=1e-12)
    # The limits invert the noncentral t: with t_obs = dz * sqrt(n), df = 3,
    # P(T >= t_obs | ncp = low * sqrt(n)) = 0.025 and P(T <= t_obs | ncp = high * sqrt(n)) = 0.025.
    t_obs = r.dz * 2
    assert st.nct.sf(t_obs, 3, r.ci_low * 2) == pytest.approx(0.025, abs=1e-9)
    assert st.nct.cdf(t_obs, 3, r.ci_high * 2) == pytest.approx(0.025, abs=1e-9)


def test_cohen_dz_interval_agrees_with_large_sample_formula():
    # For large n the noncentral-t interval approaches dz +/- 1.96 * sqrt(1/n + dz^2 / (2n))
    # (Hedges & Olkin 1985 normal approximation for a standardised mean).
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.normal(size=n)
    y = x + rng.normal(0.3, 1, n)
    r = cohen_dz(x, y).iloc[0]
    half = 1.959964 * np.sqrt(1 / n + r.dz**2 / (2 * n))
    assert r.ci_low == pytest.approx(r.dz - half, abs=2e-3)
    assert r.ci_high == pytest.approx(r.dz + half, abs=2e-3)


def test_cohen_dz_interval_coverage():
    # Known truth: changes ~ N(0.5, 1), so delta_z = 0.5; 95% intervals should cover it in
    # about 95% of 1000 samples of n = 15 (binomial SE 0.7%; accept 0.93-0.97).
    rng = np.random.default_rng(2026)
    hits = 0
    for _ in range(1000):
        d = rng.normal(0.5, 1, 15)
        r = cohen_dz(np.zeros(15), d).iloc[0]
        hits += r.ci_low <= 0.5 <= r.ci_high
    assert 0.93 <= hits / 1000 <= 0.97


def test_rank_biserial_hand_and_pingouin():
    # d = 1, 2, -3, 4: ranks 1, 2, 3, 4; R+ = 1 + 2 + 4 = 7, R- = 3; r = (7 - 3) / 10 = 0.4
    r = rank_biserial([0, 0, 0, 0], [1, 2, -3, 4]).iloc[0]
    assert (r.r_plus, r.r_minus, r.rank_biserial) == (7.0, 3.0, 0.4)
    # Generated data with ties and zeros: pingouin.wilcoxon(y, x) computes Kerby's r on y - x
    # with zeros dropped (its own code).
    rng = np.random.default_rng(5)
    x = rng.integers(0, 7, 25).astype(float)
    y = np.clip(x + rng.integers(-2, 4, 25), 0, 6).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = pg.wilcoxon(y, x)["RBC"].iloc[0]
    assert rank_biserial(x, y).rank_biserial.iloc[0] == pytest.approx(expected, rel=1e-12)


def test_rank_biserial_pratt_keeps_zero_ranks_in_denominator():
    # d = 0, 0, 1, 2, 3 with Pratt: ranks 1.5, 1.5, 3, 4, 5; R+ = 12, R- = 0, S = 15 -> 0.8
    r = rank_biserial(np.zeros(5), [0, 0, 1, 2, 3], zero_method="pratt").iloc[0]
    assert r.rank_biserial == pytest.approx(12 / 15)
    # all zero: defined as 0 (no change)
    assert rank_biserial([1, 2], [1, 2]).rank_biserial.iloc[0] == 0.0


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt"])
def test_bootstrap_statistics_from_counts_equal_numpy_and_rankdata(zero_method):
    # The bootstrap statistics are computed from counts of the distinct changes; on every
    # resample (row) they must equal numpy's mean and median, d_z = mean / sd (ddof 1), and
    # rank_biserial (scipy.stats.rankdata midranks) on the same changes: integer and half-point
    # changes with ties and zeros, odd and even n (the jackknife's n - 1), a resample of zeros
    # only, and scipy's axis convention.
    from analysis.stats.paired import _change_codes, _count_stats

    rng = np.random.default_rng(11)
    d = rng.integers(-4, 5, 40) / 2
    d[:2] = 0.0
    values, codes = _change_codes(d)
    for n in (40, 39):
        idx = rng.integers(0, d.size, (300, n))
        idx[0] = 0  # zeros only
        rows = d[idx]
        expected = {
            "mean": rows.mean(axis=1),
            "median": np.median(rows, axis=1),
            "dz": [r.mean() / r.std(ddof=1) if r.std() > 0 else np.nan for r in rows],
            "rank_biserial": [rank_biserial(np.zeros(n), r, zero_method=zero_method).rank_biserial.iloc[0] for r in rows],
        }
        for name, want in expected.items():
            stat = _count_stats(values, name, zero_method)
            np.testing.assert_allclose(stat(codes[idx]), want, rtol=1e-12, atol=1e-12, err_msg=f"{name}, n={n}")
            np.testing.assert_allclose(stat(codes[idx].T, axis=0), want, rtol=1e-12, atol=1e-12)
    assert np.shape(_count_stats(values, "mean")(codes)) == ()
    assert _count_stats(values, "rank_biserial")(codes[:2]) == 0.0


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------
def test_bootstrap_recovers_known_mean_change():
    # Generated pairs with a known true mean change of 3 (T1 = T0 + 3 + noise): the 95% BCa
    # interval of the mean change covers 3, and the median-change interval covers the true
    # median change (also 3, symmetric noise).
    rng = np.random.default_rng(42)
    x = rng.normal(50, 10, 60)
    y = x + 3 + rng.normal(0, 4, 60)
    m = bootstrap_ci(x, y, statistic="mean", n_resamples=4999, seed=1).iloc[0]
    md = bootstrap_ci(x, y, statistic="median", n_resamples=4999, seed=1).iloc[0]
    assert m.ci_low < 3 < m.ci_high
    assert md.ci_low < 3 < md.ci_high
    assert m.ci_method == "BCa bootstrap"


def test_bootstrap_coverage_of_mean_change():
    # Coverage of the BCa interval for the mean change at n = 25 over 300 generated data sets
    # with true mean change 2 (skewed changes: gamma(2) - 2 + 2). Expected ~0.95 minus a little
    # small-sample undercoverage; accept 0.89-0.99 (binomial SE 1.3%).
    rng = np.random.default_rng(99)
    hits = 0
    for i in range(300):
        d = rng.gamma(2.0, 1.0, 25) - 2.0 + 2.0
        r = bootstrap_ci(np.zeros(25), d, n_resamples=999, seed=i).iloc[0]
        hits += r.ci_low <= 2.0 <= r.ci_high
    assert 0.89 <= hits / 300 <= 0.99


def test_bootstrap_is_reproducible_and_uses_study_defaults():
    rng = np.random.default_rng(0)
    x = rng.normal(size=21)
    y = x + rng.normal(0.5, 1, 21)
    a = bootstrap_ci(x, y, statistic="rank_biserial").iloc[0]
    b = bootstrap_ci(x, y, statistic="rank_biserial").iloc[0]
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    cfg = study()["analysis"]
    assert a.n_resamples == cfg["bootstrap_resamples"] and a.seed == cfg["seed"]
    c = bootstrap_ci(x, y, statistic="rank_biserial", seed=cfg["seed"] + 1).iloc[0]
    assert (c.ci_low, c.ci_high) != (a.ci_low, a.ci_high)
    pct = bootstrap_ci(x, y, ci_method="percentile", n_resamples=999, seed=1).iloc[0]
    assert pct.ci_method == "percentile bootstrap"


@pytest.mark.filterwarnings("ignore:The BCa confidence interval cannot be calculated")
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_bootstrap_of_several_statistics_equals_one_call_each(method):
    # Several statistics share one set of resamples; each interval must be exactly what a call
    # of its own (same seed, so the same persons drawn) gives.
    rng = np.random.default_rng(6)
    x = rng.integers(0, 11, 40).astype(float)
    y = np.clip(x + rng.integers(-3, 5, 40), 0, 10).astype(float)
    names = ["mean", "dz", "rank_biserial", "median"]
    together = bootstrap_ci(x, y, statistic=names, ci_method=method, n_resamples=999, seed=4)
    assert list(together.statistic) == names
    for name, row in zip(names, together.itertuples()):
        alone = bootstrap_ci(x, y, statistic=name, ci_method=method, n_resamples=999, seed=4).iloc[0]
        assert (row.estimate, row.ci_low, row.ci_high) == pytest.approx(
            (alone.estimate, alone.ci_low, alone.ci_high), rel=0, abs=0, nan_ok=True)
    assert together.estimate.iloc[2] == rank_biserial(x, y).rank_biserial.iloc[0]
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_ci(x, y, statistic=["mean", "variance"])


@pytest.mark.filterwarnings("ignore:The BCa confidence interval cannot be calculated")
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_bootstrap_with_a_method_per_statistic_equals_one_call_each():
    # One draw, several interval methods (the reused bootstrap distribution): each interval
    # must be what a call of its own with that method and the same seed gives.
    rng = np.random.default_rng(7)
    x = rng.integers(0, 11, 45).astype(float)
    y = np.clip(x + rng.integers(-3, 5, 45), 0, 10).astype(float)
    names = ["mean", "median", "dz", "rank_biserial"]
    methods = ["BCa", "percentile", "basic", "BCa"]
    mixed = bootstrap_ci(x, y, statistic=names, ci_method=methods, n_resamples=999, seed=3)
    assert list(mixed.ci_method) == [f"{m} bootstrap" for m in methods]
    for name, method, row in zip(names, methods, mixed.itertuples()):
        alone = bootstrap_ci(x, y, statistic=name, ci_method=method, n_resamples=999, seed=3).iloc[0]
        assert (row.ci_low, row.ci_high) == (alone.ci_low, alone.ci_high)
    with pytest.raises(ValueError, match="one per statistic"):
        bootstrap_ci(x, y, statistic=names, ci_method=["BCa", "percentile"])


def test_bootstrap_batches_do_not_change_the_interval(monkeypatch):
    # Resampling in cache-sized batches must draw the same persons as one big array: the same
    # intervals, to the bit, for batches of 1 resample, of a few, and for one batch.
    import analysis.stats.paired as paired

    rng = np.random.default_rng(2)
    x = rng.integers(0, 11, 50).astype(float)
    y = np.clip(x + rng.integers(-3, 5, 50), 0, 10).astype(float)
    names = ["mean", "dz", "rank_biserial"]
    runs = []
    for values in (150, 50 * 7, 10**12):
        monkeypatch.setattr(paired, "BOOTSTRAP_BATCH_VALUES", values)
        runs.append(bootstrap_ci(x, y, statistic=names, n_resamples=499, seed=8)[["ci_low", "ci_high"]])
    pd.testing.assert_frame_equal(runs[0], runs[2], check_exact=True)
    pd.testing.assert_frame_equal(runs[1], runs[2], check_exact=True)


# --------------------------------------------------------------------------------------------
# paired_change
# --------------------------------------------------------------------------------------------
PAIRED_CHANGE_COLUMNS = [
    "n_pairs", "n_excluded_missing", "mean_t0", "mean_t1", "mean_change", "sd_change",
    "mean_change_ci_low", "mean_change_ci_high", "median_change", "median_change_ci_low",
    "median_change_ci_high", "median_change_ci_method", "t_test", "t", "df", "p_t", "mean_change_t_ci_low",
    "mean_change_t_ci_high", "wilcoxon_test", "wilcoxon_method", "zero_method", "n_zero", "ties",
    "r_plus", "r_minus", "p_wilcoxon", "dz", "dz_ci_low", "dz_ci_high", "dz_boot_ci_low",
    "dz_boot_ci_high", "rank_biserial", "rank_biserial_ci_low", "rank_biserial_ci_high",
    "alternative", "confidence_level", "ci_method", "n_resamples", "seed", "not_estimable",
]  # fmt: skip


def test_paired_change_one_row_with_named_tests():
    rng = np.random.default_rng(21)
    x = pd.Series(rng.integers(20, 80, 21).astype(float), index=[f"p{i}" for i in range(21)])
    y = x + rng.normal(6, 10, 21).round()
    x.iloc[3] = np.nan  # drop-out at T0 for one item -> pair left out and counted
    xb, yb = x.copy(), y.copy()
    r = paired_change(x, y)
    pd.testing.assert_series_equal(x, xb)  # inputs not modified
    pd.testing.assert_series_equal(y, yb)
    assert list(r.columns) == PAIRED_CHANGE_COLUMNS and len(r) == 1
    r = r.iloc[0]
    assert r.n_pairs == 20 and r.n_excluded_missing == 1
    assert r.t_test == "paired t-test"
    assert r.wilcoxon_test.startswith("Wilcoxon signed-rank test (exact")
    assert r.ci_method == "BCa bootstrap" and r.n_resamples == 9999
    keep = x.notna()
    d = (y - x)[keep].to_numpy()
    assert r.mean_change == pytest.approx(d.mean()) and r.median_change == np.median(d)
    assert r.dz == pytest.approx(d.mean() / d.std(ddof=1))
    assert r.mean_change_ci_low < r.mean_change < r.mean_change_ci_high
    assert r.rank_biserial_ci_low <= r.rank_biserial <= r.rank_biserial_ci_high
    assert r.dz_ci_low < r.dz < r.dz_ci_high
    # the median's own interval method: the same numbers as bootstrap_ci with that method
    p = paired_change(x, y, median_ci_method="percentile", n_resamples=999, seed=3).iloc[0]
    ref = bootstrap_ci(x, y, statistic="median", ci_method="percentile", n_resamples=999, seed=3).iloc[0]
    assert (p.median_change_ci_low, p.median_change_ci_high) == (ref.ci_low, ref.ci_high)
    assert (p.median_change_ci_method, p.ci_method) == ("percentile bootstrap", "BCa bootstrap")
    with pytest.raises(ValueError, match="median_ci_method"):
        paired_change(x, y, median_ci_method="normal", n_resamples=99, seed=1)


@pytest.mark.parametrize(
    "x, y, message",
    [
        ([1, 2, 3], [1, 2], "x has 3 values and y has 2"),
        (np.ones((3, 2)), np.ones((3, 2)), "one-dimensional"),
        (pd.Series([1, 2, 3], index=["a", "b", "c"]), pd.Series([1, 2, 3], index=["a", "c", "b"]), "not paired by person"),
        (pd.DataFrame({"a": [1, 2]}), [1, 2], "DataFrame"),
        (["1", "x"], [1, 2], "numeric"),
        (None, [1, 2], "None"),
    ],
)
def test_unpaired_or_bad_input_raises(x, y, message):
    with pytest.raises(ValueError, match=message):
        paired_change(x, y, n_resamples=99, seed=1)
    with pytest.raises(ValueError, match=message):
        wilcoxon_signed_rank(x, y)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="zero_method"):
        wilcoxon_signed_rank([1, 2], [2, 3], zero_method="zsplit")
    with pytest.raises(ValueError, match="alternative"):
        paired_t([1, 2], [2, 3], alternative="bigger")
    with pytest.raises(ValueError, match="ci_method"):
        bootstrap_ci([1, 2, 3], [2, 3, 5], ci_method="studentized")
    with pytest.raises(ValueError, match="confidence_level"):
        paired_t([1, 2], [2, 3], confidence_level=1.5)
    # too few pairs is valid data, not a bad argument: a row with the reason (issue 15)
    r = paired_t([1, np.nan], [2, 3]).iloc[0]
    assert r.not_estimable == "too few pairs (n = 1; at least 2 needed)" and np.isnan(r.p)


# --------------------------------------------------------------------------------------------
# Holm
# --------------------------------------------------------------------------------------------
def test_holm_hand_and_statsmodels():
    # p = 0.01, 0.04, 0.03, 0.005 (m = 4). Sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03;
    # 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> running max 0.06. Back in input order:
    # 0.03, 0.06, 0.06, 0.02.
    r = holm(pd.Series([0.01, 0.04, 0.03, 0.005], index=["who5", "djg", "pg", "zrm"]))
    assert list(r.index) == ["who5", "djg", "pg", "zrm"]
    assert r.p_holm.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    assert r.reject.tolist() == [True, False, False, True]
    # statsmodels as oracle on generated p-values (with ties and values near 1)
    rng = np.random.default_rng(8)
    p = np.r_[rng.uniform(0, 0.1, 8), rng.uniform(0, 1, 8), 0.02, 0.02, 1.0]
    reject, adj, _, _ = multipletests(p, alpha=0.05, method="holm")
    got = holm(p)
    assert got.p_holm.to_numpy() == pytest.approx(adj, abs=1e-15)
    assert got.reject.to_numpy(dtype=bool).tolist() == reject.tolist()
    assert (got.m == p.size).all()


def test_holm_missing_and_invalid():
    # NaN stays NaN and is not counted: m = 2 -> 0.01 x 2 = 0.02, 0.04 x 1 = 0.04
    r = holm([0.01, np.nan, 0.04])
    assert r.p_holm.iloc[0] == pytest.approx(0.02) and np.isnan(r.p_holm.iloc[1])
    assert r.p_holm.iloc[2] == pytest.approx(0.04) and (r.m == 2).all()
    assert pd.isna(r.reject.iloc[1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.2, 1.5])
    with pytest.raises(ValueError, match="numbers"):
        holm([0.2, "klein"])


# --------------------------------------------------------------------------------------------
# reliable change
# --------------------------------------------------------------------------------------------
def test_rci_hand_computation():
    # T0 = 10, 12, 14, 16, 18: mean 14, deviations -4, -2, 0, 2, 4, SS = 40, SD = sqrt(10).
    # r_xx = 0.8: SE = sqrt(10) * sqrt(0.2) = sqrt(2); S_diff = sqrt(2 * 2) = 2.
    # Changes 5, 1, -4, 0, 4 -> RCI 2.5, 0.5, -2.0, 0, 2.0 -> improved, unchanged, worse,
    # unchanged, improved (|RCI| > 1.96; higher is better).
    x = pd.Series([10, 12, 14, 16, 18], index=list("abcde"))
    y = pd.Series([15, 13, 10, 16, 22], index=list("abcde"))
    r = reliable_change(x, y, reliability=0.8, higher_is_better=True)
    assert list(r.index) == list("abcde")
    assert r.s_diff.iloc[0] == pytest.approx(2.0, rel=1e-12)
    assert r.rci.tolist() == pytest.approx([2.5, 0.5, -2.0, 0.0, 2.0], rel=1e-12)
    assert r.category.astype(str).tolist() == ["improved", "unchanged", "worse", "unchanged", "improved"]
    # lower is better (e.g. loneliness): the same changes flip
    low = reliable_change(x, y, reliability=0.8, higher_is_better=False)
    assert low.category.astype(str).tolist() == ["worse", "unchanged", "improved", "unchanged", "worse"]
    c = reliable_change_counts(r)
    assert c.set_index("category").n.to_dict() == {"improved": 2, "unchanged": 2, "worse": 1}
    assert c.proportion.sum() == pytest.approx(1.0)


def test_rci_boundary_is_strict_and_missing_pairs():
    # SD_T0 comes from all five T0 scores (also person e, who has no T1): S_diff = 2 as above.
    # Change 3.9 -> RCI 1.95 unchanged; 4.0 -> 2.0 improved; e has no T1 -> no category.
    x, y = [10, 12, 14, 16, 18], [13.9, 16, 14, 16, np.nan]
    r = reliable_change(x, y, reliability=0.8, higher_is_better=True)
    assert r.sd_t0.iloc[0] == pytest.approx(np.sqrt(10), rel=1e-12)
    assert r.rci.tolist()[:2] == pytest.approx([1.95, 2.0], rel=1e-12)
    assert r.category.astype(str).tolist()[:2] == ["unchanged", "improved"]
    assert pd.isna(r.category.iloc[4])
    # strict: an RCI equal to the criterion is not a reliable change
    at = reliable_change(x, y, reliability=0.8, higher_is_better=True, criterion=float(r.rci.iloc[1]))
    assert at.category.astype(str).iloc[1] == "unchanged"
    c = reliable_change_counts(r).iloc[0]
    assert c.n_classified == 4 and c.n_missing == 1


def test_rci_from_reliability_yaml():
    # who5: r = 0.81 (verified, test-retest ICC). T0 = 40, 44, 48, 52, 56: SD = sqrt(160/4) =
    # sqrt(40); SE = sqrt(40) * sqrt(0.19); S_diff = sqrt(2) * SE = sqrt(80 * 0.19) = sqrt(15.2)
    # = 3.898718. Change +8 -> 2.0520 improved; -8 -> worse; +4 -> 1.0260 unchanged.
    r = reliable_change([40, 44, 48, 52, 56], [48, 36, 52, 52, 56], scale="who5")
    assert r.s_diff.iloc[0] == pytest.approx(np.sqrt(15.2), rel=1e-12)
    assert r.category.astype(str).tolist()[:3] == ["improved", "worse", "unchanged"]
    assert load_reliability().loc["who5", "verified"]
    # DJG has no verified reliability: no guessing, a clear error...
    with pytest.raises(ValueError, match="No verified reliability for scale 'djg_total'"):
        reliable_change([1, 2, 3], [0, 2, 5], scale="djg_total")
    # ...unless the caller gives one; the direction still comes from the YAML (lower is better)
    r = reliable_change([1, 2, 3], [0, 2, 6], scale="djg_total", reliability=0.7)
    assert not r.higher_is_better.iloc[0]
    assert r.category.astype(str).iloc[2] == "worse"  # loneliness went up by 3
    with pytest.raises(ValueError, match="not in the reliability file"):
        reliable_change([1, 2], [2, 3], scale="ucla")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        reliable_change([1, 2], [2, 3], reliability=1.0, higher_is_better=True)
    with pytest.raises(ValueError, match="higher_is_better"):
        reliable_change([1, 2], [2, 3], reliability=0.8)


# --------------------------------------------------------------------------------------------
# minimum detectable effect
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [10, 21, 60])
def test_mde_has_the_stated_power(n):
    # Oracle: the power of a two-sided paired t-test written out with scipy's noncentral t
    # (not statsmodels): power = P(T > t_c) + P(T < -t_c), T ~ nct(n - 1, dz * sqrt(n)).
    r = minimum_detectable_effect(n, sd_change=12.0).iloc[0]
    df, ncp = n - 1, r.dz * np.sqrt(n)
    t_c = st.t.ppf(0.975, df)
    power = st.nct.sf(t_c, df, ncp) + st.nct.cdf(-t_c, df, ncp)
    assert power == pytest.approx(0.8, abs=1e-6)
    assert r.change == pytest.approx(12.0 * r.dz)


def test_mde_n21_order_of_magnitude_and_errors():
    # Cohen (1988): d = 0.5 needs about 34 pairs for 80% power; with 21 pairs the detectable
    # d_z is larger, about 0.64.
    assert minimum_detectable_effect(21).dz.iloc[0] == pytest.approx(0.6428, abs=1e-3)
    assert np.isnan(minimum_detectable_effect(21).change.iloc[0])
    assert minimum_detectable_effect(21).not_estimable.iloc[0] == ""
    for bad in (-1, 2.5, "3", None, np.nan):
        with pytest.raises(ValueError, match="n_pairs"):
            minimum_detectable_effect(bad)
    with pytest.raises(ValueError, match="must exceed alpha"):
        minimum_detectable_effect(10, power=0.04, alpha=0.05)
    with pytest.raises(ValueError, match="between 0 and 1"):
        minimum_detectable_effect(10, alpha=0)
    with pytest.raises(ValueError, match="sd_change"):
        minimum_detectable_effect(10, sd_change=0)


def _power_by_integration(dz, n, alpha):
    # Independent of scipy's noncentral t: T = (Z + ncp) / (S / sqrt(df)) with Z ~ N(0, 1) and
    # S ~ chi(df), so power = E_S[Phi(ncp - c S / sqrt(df)) + Phi(-ncp - c S / sqrt(df))]; the
    # chi density k s^(df-1) exp(-s^2/2), k = 2^(1 - df/2) / Gamma(df/2), is written out and
    # the expectation integrated numerically (quad, split where the normal cdf steps down).
    from scipy import integrate, special

    df, ncp = n - 1, dz * np.sqrt(n)
    c = st.t.isf(alpha / 2, df)
    logk = (1 - df / 2) * np.log(2) - special.gammaln(df / 2)

    def integrand(s):
        u = c * s / np.sqrt(df)
        return (special.ndtr(ncp - u) + special.ndtr(-ncp - u)) * np.exp(logk + special.xlogy(df - 1, s) - s * s / 2)

    s0, w = ncp * np.sqrt(df) / c, 10 * np.sqrt(df) / c
    knots = sorted({0.0, max(0.0, s0 - w), s0, s0 + w, np.sqrt(df) + 40})
    return sum(integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
               for lo, hi in zip(knots, knots[1:]))


ALPHAS = [0.05] + [0.05 / k for k in range(2, 21)]


def test_power_by_integration_reproduces_g_power():
    # the oracle itself against G*Power's printed power (Howell's handout, see below)
    assert _power_by_integration(1 / 3, 25, 0.05) == pytest.approx(0.360, abs=5e-4)


@pytest.mark.parametrize("n", range(2, 31))
def test_mde_has_80_percent_power_for_every_small_n_and_holm_alpha(n):
    # Issue 15: statsmodels' solve_power stopped early for n <= 5 at small alpha. Oracle: the
    # power integrated over the chi distribution (above), not scipy's noncentral t.
    # (statsmodels' forward TTestPower.power is no oracle here: it returns NaN for n <= 6 at
    # small alpha, from scipy's nct.cdf in the far lower tail.)
    for alpha in ALPHAS:
        r = minimum_detectable_effect(n, alpha=alpha).iloc[0]
        assert r.not_estimable == ""
        assert _power_by_integration(r.dz, n, alpha) == pytest.approx(0.8, abs=1e-6)


def test_mde_the_case_of_issue_15():
    # n = 5, alpha = 0.05/17: the effect with 80% power is 3.62 (statsmodels said 2.97).
    r = minimum_detectable_effect(5, alpha=0.05 / 17).iloc[0]
    assert r.dz == pytest.approx(3.62, abs=0.005)
    assert _power_by_integration(2.97, 5, 0.05 / 17) < 0.7  # the old answer had too little power


def test_mde_agrees_with_statsmodels_solver_where_that_converges():
    from statsmodels.stats.power import TTestPower

    for n in (10, 21, 60, 200):
        ours = minimum_detectable_effect(n, alpha=0.01).dz.iloc[0]
        theirs = TTestPower().solve_power(effect_size=None, nobs=n, alpha=0.01, power=0.8)
        assert ours == pytest.approx(theirs, rel=1e-4)  # statsmodels stops at about 1e-5


def test_mde_published_g_power_values():
    # Howell, "G*Power: t Tests" (handout GPower3-T, one-sample t): n = 25, d = 1/3,
    # alpha = .05 two-sided -> G*Power power = 0.360 (three digits). So the d_z with power
    # 0.3595 is at most 1/3 and the d_z with power 0.3605 at least 1/3.
    assert minimum_detectable_effect(25, power=0.3595).dz.iloc[0] <= 1 / 3
    assert minimum_detectable_effect(25, power=0.3605).dz.iloc[0] >= 1 / 3
    # G*Power 3.1, matched pairs, a priori, dz = 0.5, alpha = .05, power .80 -> N = 34
    # (actual power 0.8077775; the well-known textbook case, weaker source: as commonly
    # reproduced, not from a stored printout): 34 pairs detect 0.5, 33 do not.
    assert minimum_detectable_effect(34).dz.iloc[0] < 0.5 < minimum_detectable_effect(33).dz.iloc[0]
    assert minimum_detectable_effect(34, power=0.8077775).dz.iloc[0] == pytest.approx(0.5, abs=1e-6)


def test_mde_too_few_pairs_or_unreachable_power_is_not_estimable():
    for n in (0, 1):
        r = minimum_detectable_effect(n, sd_change=3.0).iloc[0]
        assert np.isnan(r.dz) and np.isnan(r.change)
        assert r.not_estimable == f"too few pairs (n = {n}; at least 2 needed)"
    # 2 pairs at alpha 1e-6: scipy's noncentral t does not converge -> said, not a wrong number
    r = minimum_detectable_effect(2, alpha=1e-6).iloc[0]
    assert np.isnan(r.dz) and r.not_estimable.startswith("too few pairs (n = 2) for power 0.8")
    # 2 pairs at alpha 1e-4 still works: df = 1, the t is Cauchy-like; check by integration
    r = minimum_detectable_effect(2, alpha=1e-4).iloc[0]
    assert r.not_estimable == ""
    assert _power_by_integration(r.dz, 2, 1e-4) == pytest.approx(0.8, abs=1e-6)


# --------------------------------------------------------------------------------------------
# mixed model
# --------------------------------------------------------------------------------------------
def long_data(n=30, change=2.0, seed=4, dropout=0):
    rng = np.random.default_rng(seed)
    person = [f"p{i:02d}" for i in range(n)]
    site = np.array(["DH", "LH", "PS"])[np.arange(n) % 3]
    level = rng.normal(50, 8, n) + np.select([site == "DH", site == "LH"], [3.0, -2.0], 0.0)
    t0 = level + rng.normal(0, 4, n)
    t1 = level + change + rng.normal(0, 4, n)
    df = pd.DataFrame(
        {
            "person": np.repeat(person, 2),
            "site": np.repeat(site, 2),
            "wave": ["T0", "T1"] * n,
            "score": np.ravel(np.column_stack([t0, t1])),
        }
    )
    if dropout:
        df.loc[df.index[1 : 2 * dropout : 2], "score"] = np.nan  # T1 missing for the first persons
    return df, t0, t1


def test_mixed_model_balanced_equals_paired_analysis():
    # With complete, balanced pairs and a positive person variance, the REML wave effect is the
    # mean paired change and its SE is the paired-t SE (sd(d) / sqrt(n)): a property of the
    # balanced random-intercept model (ANOVA = REML estimates), checked here on generated data.
    df, t0, t1 = long_data()
    before = df.copy()
    r = mixed_model_wave(df, "score").iloc[0]
    pd.testing.assert_frame_equal(df, before)
    d = t1 - t0
    assert r.estimate == pytest.approx(d.mean(), rel=1e-6)
    assert r.se == pytest.approx(d.std(ddof=1) / np.sqrt(d.size), rel=1e-3)
    assert r.person_variance > 0
    assert (r.n_obs, r.n_persons, r.n_complete_pairs, r.n_sites) == (60, 30, 30, 3)
    assert r.term == "wave (T1 vs T0)" and "REML" in r.model and r.fit_warnings == ""
    assert r.ci_low < r.estimate < r.ci_high and 0 <= r.p <= 1


def test_mixed_model_uses_dropouts_and_recovers_change():
    # 60 persons, 10 without T1: all 110 observations are used; the true change is 2.
    df, _, _ = long_data(n=60, change=2.0, seed=9, dropout=10)
    r = mixed_model_wave(df, "score").iloc[0]
    assert (r.n_obs, r.n_persons, r.n_complete_pairs) == (110, 60, 50)
    assert r.ci_low < 2.0 < r.ci_high


@pytest.mark.parametrize("dropout, site", [(10, "site"), (0, "site"), (7, None)])
def test_mixed_model_equals_statsmodels_mixedlm(dropout, site):
    # Oracle: statsmodels MixedLM (REML) on the same numbers, unbalanced (drop-outs) and with
    # site fixed effects. Estimates and variances agree to optimiser tolerance; the SE is the
    # GLS one (lme4's), which statsmodels' Hessian-based SE approaches to ~1e-3.
    import statsmodels.formula.api as smf

    df, _, _ = long_data(n=60, change=1.5, seed=3, dropout=dropout)
    r = mixed_model_wave(df, "score", site=site).iloc[0]
    f = df.dropna(subset=["score"]).assign(t1=lambda d: (d.wave == "T1").astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("score ~ t1" + (" + C(site)" if site else ""), f, groups=f["person"]).fit(reml=True)
    assert r.estimate == pytest.approx(fit.fe_params["t1"], rel=1e-5)
    assert r.person_variance == pytest.approx(fit.cov_re.iloc[0, 0], rel=1e-4)
    assert r.residual_variance == pytest.approx(fit.scale, rel=1e-4)
    assert r.se == pytest.approx(fit.bse_fe["t1"], rel=2e-3)
    assert r.converged and r.fit_warnings == ""


def test_mixed_model_se_is_gls_se_at_the_reml_variances():
    # Oracle: statsmodels GLS with the covariance V = s2_u Z Z' + s2_e I built from the returned
    # variances gives the same coefficient and (X' V^-1 X)^-1.
    import statsmodels.api as sm

    df, _, _ = long_data(n=40, change=2.0, seed=12, dropout=6)
    r = mixed_model_wave(df, "score").iloc[0]
    f = df.dropna(subset=["score"]).reset_index(drop=True)
    same = (f.person.to_numpy()[:, None] == f.person.to_numpy()[None, :]).astype(float)
    v = r.person_variance * same + r.residual_variance * np.eye(len(f))
    X = pd.get_dummies(f.site, drop_first=True, dtype=float).assign(const=1.0, t1=(f.wave == "T1").astype(float))
    gls = sm.GLS(f.score.to_numpy(), X, sigma=v).fit()
    assert r.estimate == pytest.approx(gls.params["t1"], rel=1e-9)
    assert r.se == pytest.approx(np.sqrt(gls.normalized_cov_params.loc["t1", "t1"]), rel=1e-9)


def test_mixed_model_without_person_variance_is_ols_and_says_so():
    # Scores with no person effect (T0 and T1 independent noise; one extreme anti-correlated
    # pair design): the REML person variance is 0 (boundary), the fit is OLS (oracle: numpy
    # least squares, SE from the OLS covariance), and the warning says it.
    rng = np.random.default_rng(8)
    n = 30
    t0 = rng.normal(10, 2, n)
    t1 = 20 - t0 + 1.0  # within-person negative correlation: no positive person variance
    df = pd.DataFrame({"person": np.repeat([f"p{i}" for i in range(n)], 2), "wave": ["T0", "T1"] * n,
                       "score": np.ravel(np.column_stack([t0, t1]))})
    r = mixed_model_wave(df, "score", site=None).iloc[0]
    X = np.column_stack([np.ones(2 * n), np.tile([0.0, 1.0], n)])
    beta, rss, *_ = np.linalg.lstsq(X, df.score.to_numpy(), rcond=None)
    s2 = rss[0] / (2 * n - 2)
    assert r.person_variance == 0.0 and "boundary" in r.fit_warnings
    assert r.estimate == pytest.approx(beta[1], rel=1e-12)
    assert r.se == pytest.approx(np.sqrt(s2 * np.linalg.inv(X.T @ X)[1, 1]), rel=1e-9)


def test_mixed_model_errors():
    df, _, _ = long_data()
    with pytest.raises(ValueError, match="outside"):
        mixed_model_wave(df.assign(wave=df.wave.replace("T1", "T2")), "score")
    one = mixed_model_wave(df[df.site == "DH"], "score").iloc[0]  # valid data: not an error
    assert one.not_estimable.startswith("too few sites (one site in 'site'") and np.isnan(one.estimate)
    ok = mixed_model_wave(df[df.site == "DH"], "score", site=None).iloc[0]
    assert np.isnan(ok.n_sites) and "site" not in ok.model.split(";")[0]
    with pytest.raises(ValueError, match="More than one row"):
        mixed_model_wave(pd.concat([df, df.iloc[:1]]), "score")
    with pytest.raises(ValueError, match="not in data"):
        mixed_model_wave(df, "wellbeing")
    with pytest.raises(ValueError, match="'site' has missing values"):
        mixed_model_wave(df.assign(site=df.site.where(df.index != 3)), "score")
    # 3 sites, 4 rows: nothing left for the error -> not estimable, not an exception
    r = mixed_model_wave(df.iloc[[0, 1, 2, 3, 4, 5]].iloc[[0, 1, 2, 4]], "score").iloc[0]
    assert r.not_estimable.startswith("too few")
    with pytest.raises(ValueError, match="confidence_level"):
        mixed_model_wave(df, "score", confidence_level=95)
    with pytest.raises(ValueError, match="must be numeric"):
        mixed_model_wave(df.assign(score="x"), "score")


def _degenerate(score, person=None, wave=None, site=None):
    n = len(score)
    return pd.DataFrame({"person": person or [f"p{i // 2}" for i in range(n)],
                         "wave": wave or ["T0", "T1"] * (n // 2),
                         "site": site or ["A"] * (n // 2) + ["B"] * (n - n // 2),
                         "score": np.asarray(score, dtype=float)})


@pytest.mark.parametrize("score, site, start", [
    ([5.0] * 8, "site", "no variation: outcome constant (5 in every observation)"),
    ([1, 1, 4, 4, 2, 2, 7, 7], None, "no variation: no one changed (every change is 0)"),
    ([1, 3, 4, 6, 2, 4, 7, 9], None, "no variation: every complete pair changed by the same amount (2)"),
    ([1, np.nan, 4, np.nan, 2, 3, 7, np.nan], None, "too few pairs (n = 1 complete pairs"),
    ([1, np.nan, 4, np.nan, 2, np.nan, 7, np.nan], None, "too few pairs (only T0 observed"),
    ([np.nan] * 8, None, "too few respondents (no observed score)"),
    ([1, 2, 4, 5, np.nan, np.nan, np.nan, np.nan], "site", "too few sites (one site"),  # site B all missing
])
def test_mixed_model_degenerate_cases_are_not_estimable(score, site, start):
    # Issue 15: a constant outcome divided by zero, and "no one changed" gave a tiny SE with
    # p = 1. Each case is now a row with NaN statistics and the reason.
    r = mixed_model_wave(_degenerate(score), "score", site=site)
    assert len(r) == 1
    r = r.iloc[0]
    assert r.not_estimable.startswith(start), r.not_estimable
    assert np.isnan([r.estimate, r.se, r.z, r.p, r.ci_low, r.ci_high, r.p_t]).all()
    assert r.n_obs == int(np.isfinite(score).sum())


def test_mixed_model_t_reference_equals_paired_t_when_balanced():
    # Oracle: scipy's paired t-test on the same pairs. With complete balanced pairs the REML
    # estimate and SE are the paired ones, so against t with n - 1 df the p-value and the
    # interval are the paired t's (to the REML tolerance); the Wald z interval is narrower.
    for n, seed in ((4, 1), (6, 2), (30, 4)):
        df, t0, t1 = long_data(n=n, seed=seed)
        r = mixed_model_wave(df, "score", site=None).iloc[0]
        ref = st.ttest_rel(t1, t0)
        ci = ref.confidence_interval()
        assert r.not_estimable == "" and r.df_t == n - 1
        assert r.p_t == pytest.approx(ref.pvalue, rel=2e-3)
        assert (r.ci_t_low, r.ci_t_high) == pytest.approx((ci.low, ci.high), rel=2e-3)
        assert r.ci_high - r.ci_low < r.ci_t_high - r.ci_t_low


def test_scores_from_scoring_feed_paired_change():
    # The scorer returns nullable Int64 with <NA>; pairs with <NA> at either wave are left out.
    # Changes of the complete pairs: 1-3 = -2, 2-2 = 0, 0-1 = -1, 0-0 = 0, 2-4 = -2.
    x = pd.Series([3, 2, pd.NA, 5, 1, 0, 4], dtype="Int64")
    y = pd.Series([1, 2, 3, pd.NA, 0, 0, 2], dtype="Int64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa is degenerate for r_rb = -1 (all changes <= 0)
        r = paired_change(x, y, n_resamples=999, seed=1).iloc[0]
    assert (r.n_pairs, r.n_excluded_missing, r.n_zero) == (5, 2, 2)
    assert r.mean_change == pytest.approx(-1.0) and r.rank_biserial == -1.0
    # zeros dropped: |d| = 2, 1, 2 -> ranks 2.5, 1, 2.5, all negative: r_minus = 6, and the
    # exact two-sided p is 2 * P(all three negative) = 2/8
    assert r.r_minus == 6.0 and r.p_wilcoxon == pytest.approx(0.25)


def test_dz_interval_with_many_pairs_and_a_large_t():
    """National-monitor sizes: t near 40 with 1,800 pairs must still give a finite interval.

    Oracle: for large df the noncentral-t interval of dz approaches dz ± 1.96·sqrt(1/n + dz²/(2n))
    (the usual large-sample standard error of a standardized mean difference).
    """
    import numpy as np

    from analysis.stats.paired import cohen_dz

    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 1800)
    y = x + rng.normal(0.9, 1, 1800)
    row = cohen_dz(x, y).iloc[0]
    se = np.sqrt(1 / 1800 + row["dz"] ** 2 / (2 * 1800))
    assert np.isfinite([row["ci_low"], row["ci_high"]]).all()
    assert row["ci_low"] == pytest.approx(row["dz"] - 1.96 * se, abs=0.01)
    assert row["ci_high"] == pytest.approx(row["dz"] + 1.96 * se, abs=0.01)


# --------------------------------------------------------------------------------------------
# d_z interval at the study's size (issue 15)
# --------------------------------------------------------------------------------------------
def _nct_cdf_by_integration(t, df, lam):
    # Independent of scipy's noncentral t: P(T <= t) = E_S[Phi(t S / sqrt(df) - lam)] with
    # S ~ chi(df) (T = (Z + lam) / (S / sqrt(df))), t >= 0; the chi density written out and
    # integrated with quad, split where the normal cdf steps.
    from scipy import integrate, special

    logk = (1 - df / 2) * np.log(2) - special.gammaln(df / 2)

    def integrand(s):
        return special.ndtr(t * s / np.sqrt(df) - lam) * np.exp(logk + special.xlogy(df - 1, s) - s * s / 2)

    top = np.sqrt(df) + 40
    knots = {0.0, top}
    if t > 0:
        s0, w = lam * np.sqrt(df) / t, 10 * np.sqrt(df) / t
        knots |= {k for k in (s0 - w, s0, s0 + w) if 0 < k < top}
    knots = sorted(knots)
    return sum(integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
               for lo, hi in zip(knots, knots[1:]))


@pytest.mark.parametrize("n", [2, 3, 4, 6])
@pytest.mark.parametrize("t_obs", [0.0, 0.7, 5.0, 40.0, -40.0, 300.0])
def test_dz_interval_finite_and_correct_at_small_n_and_large_t(n, t_obs):
    # Issue 15: scipy's nct.cdf returned NaN at 3 pairs and t = 40 and stage 03 stopped.
    # Oracle: the limits are where the integrated cdf is 0.975 (low) and 0.025 (high).
    from analysis.stats.paired import _dz_ci

    df, dz = n - 1, t_obs / np.sqrt(n)
    lo, hi = _dz_ci(dz, n, 0.95)
    assert np.isfinite([lo, hi]).all() and lo <= dz <= hi
    sign = 1 if t_obs >= 0 else -1  # F(t; lam) = 1 - F(-t; -lam)
    t, low, high = sign * t_obs, *sorted((sign * lo * np.sqrt(n), sign * hi * np.sqrt(n)))
    assert _nct_cdf_by_integration(t, df, low) == pytest.approx(0.975, abs=1e-8)
    assert _nct_cdf_by_integration(t, df, high) == pytest.approx(0.025, abs=1e-8)


def test_dz_interval_three_pairs_t_40_through_cohen_dz():
    # changes chosen so that t = mean / (sd / sqrt(3)) = 40 exactly: d = m + (-1, 0, 1) * s
    # has sd = s, so m = 40 s / sqrt(3)
    s = 0.5
    d = 40 * s / np.sqrt(3) + np.array([-s, 0.0, s])
    r = cohen_dz(np.zeros(3), d).iloc[0]
    assert r.not_estimable == "" and r.dz * np.sqrt(3) == pytest.approx(40, rel=1e-12)
    assert _nct_cdf_by_integration(40.0, 2, r.ci_low * np.sqrt(3)) == pytest.approx(0.975, abs=1e-8)
    assert _nct_cdf_by_integration(40.0, 2, r.ci_high * np.sqrt(3)) == pytest.approx(0.025, abs=1e-8)


@pytest.mark.parametrize("df", [1, 2, 5, 50])
@pytest.mark.parametrize("t_obs", [1e4, 1e5, 1e7, 1e200])
def test_dz_interval_for_huge_t_approaches_chi_quantiles(df, t_obs):
    # Oracle (analytic): as t -> inf with lam = c t, F = E_S[Phi(t (S/sqrt(df) - c))] ->
    # P(S/sqrt(df) >= c), so lam_low / t -> sqrt(chi2_{.025}(df)/df) and lam_high / t ->
    # sqrt(chi2_{.975}(df)/df), with relative error O(1/t^2). scipy's nct is not used (it
    # loses digits beyond t = 1e3 and fails beyond 1e5).
    from analysis.stats.paired import _nct_ci

    lo, hi = _nct_ci(t_obs, df, 0.95)
    assert lo / t_obs == pytest.approx(np.sqrt(st.chi2.ppf(0.025, df) / df), rel=1e-6)
    assert hi / t_obs == pytest.approx(np.sqrt(st.chi2.ppf(0.975, df) / df), rel=1e-6)


def test_dz_interval_is_continuous_where_the_method_changes():
    from analysis.stats.paired import NCT_ASYMPTOTIC_T, NCT_SCIPY_MAX_T, _nct_ci

    for df in (1, 2, 20):
        for edge in (NCT_SCIPY_MAX_T, NCT_ASYMPTOTIC_T):
            below = np.array(_nct_ci(edge * (1 - 1e-9), df, 0.95))
            above = np.array(_nct_ci(edge * (1 + 1e-9), df, 0.95))
            assert above == pytest.approx(below, rel=1e-7)


def test_cohen_dz_small_or_constant_data_not_estimable():
    assert cohen_dz([], []).not_estimable.iloc[0] == "too few pairs (n = 0; at least 2 needed)"
    assert cohen_dz([1], [3]).not_estimable.iloc[0] == "too few pairs (n = 1; at least 2 needed)"
    r = cohen_dz([1, 2, 3], [3, 4, 5]).iloc[0]
    assert r.not_estimable == "no variation: every pair changed by the same amount (2)"
    assert np.isnan([r.dz, r.ci_low, r.ci_high]).all()
    assert cohen_dz([1, 2], [1, 2]).not_estimable.iloc[0] == "no variation: no one changed (every change is 0)"
    # item means: 1.0 and 1.0000000000000002 are the same change, not an SD of 1e-16
    x = np.array([7 / 3, 5 / 3, 4 / 3])
    r = cohen_dz(x, x + 1).iloc[0]
    assert r.not_estimable.startswith("no variation: every pair changed by the same amount (1)")


# --------------------------------------------------------------------------------------------
# valid data of every size: a row with the reason, never an exception (issue 15)
# --------------------------------------------------------------------------------------------
def test_small_or_constant_data_give_reasons_not_errors():
    few = "too few pairs (n = {}; at least {} needed)"
    assert wilcoxon_signed_rank([], []).not_estimable.iloc[0] == few.format(0, 1)
    w = wilcoxon_signed_rank([1, 2], [1, 2]).iloc[0]
    assert w.not_estimable == "no variation: no one changed (every change is 0)" and np.isnan(w.p)
    # one non-zero change: the exact two-sided p is 2 * min(1/2, 1/2) = 1, a valid test
    w = wilcoxon_signed_rank([1], [3]).iloc[0]
    assert w.p == 1.0 and w.not_estimable == ""
    assert rank_biserial([], []).not_estimable.iloc[0] == few.format(0, 1)
    assert rank_biserial([1, 2], [1, 2]).rank_biserial.iloc[0] == 0.0  # defined: no change
    b = bootstrap_ci([1], [2], statistic=["mean", "dz"], n_resamples=199, seed=1)
    assert (b.not_estimable == few.format(1, 2)).all() and b.estimate.isna().all()
    for n in (0, 1):
        r = paired_change(np.arange(n, dtype=float), np.arange(n) + 2.0, n_resamples=199, seed=1).iloc[0]
        assert r.not_estimable == few.format(n, 2)
        assert np.isnan([r.t, r.p_t, r.p_wilcoxon, r.dz, r.rank_biserial, r.mean_change_ci_low]).all()
        assert (r.mean_change == 2.0) if n else np.isnan(r.mean_change)
    assert list(paired_change([], [], n_resamples=199, seed=1).columns) == PAIRED_CHANGE_COLUMNS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy: degenerate bootstrap distribution
        r = paired_change([1, 2, 3], [1, 2, 3], n_resamples=199, seed=1).iloc[0]
    assert r.not_estimable.startswith("no variation: no one changed (every change is 0)")
    assert np.isnan([r.t, r.p_t, r.p_wilcoxon, r.dz]).all() and r.rank_biserial == 0.0
    # reliable change: the SD of T0 from one score, or from equal scores, is not estimable
    rc = reliable_change([4.0], [6.0], reliability=0.8, higher_is_better=True)
    assert rc.not_estimable.iloc[0].startswith("too few respondents (n = 1 at T0")
    rc = reliable_change([4.0, 4.0], [6.0, 2.0], reliability=0.8, higher_is_better=True)
    assert (rc.not_estimable == "no variation: every T0 score is 4, so the SD of T0 is 0").all()
    counts = reliable_change_counts(rc)
    assert counts.proportion.isna().all() and counts.not_estimable.iloc[0].startswith("no variation")
    rc = reliable_change([1.0, 3.0, np.nan], [2.0, 3.0, 5.0], reliability=0.8, higher_is_better=True)
    assert rc.not_estimable.tolist()[:2] == ["", ""] and rc.not_estimable.iloc[2].startswith("too few pairs")
    with pytest.raises(ValueError, match="sd_t0"):
        reliable_change([1.0, 3.0], [2.0, 3.0], reliability=0.8, higher_is_better=True, sd_t0=0)


def test_changes_too_small_for_their_sd_are_not_estimable_and_do_not_hang():
    # Found by hypothesis: changes of 1e-306 and 2e-314 differ, but their squared deviations
    # underflow, so the SD is 0 and d_z was NaN; the interval search then looped forever.
    d = np.array([1e-306, 0.0, 2.2250738585072014e-314])
    for r in (cohen_dz(np.zeros(3), d), paired_t(np.zeros(3), d)):
        assert r.not_estimable.iloc[0].startswith("no variation: the changes (at most 1e-306 in size)")
    from analysis.stats.paired import _nct_ci

    with pytest.raises(ValueError, match="finite t"):
        _nct_ci(np.nan, 2, 0.95)
