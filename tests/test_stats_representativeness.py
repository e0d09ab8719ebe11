"""Tests for analysis.stats.representativeness (R-indicator, Schouten, Cobben & Bethlehem 2009).

Oracles: hand computations of the paper's formulas written out below. For the fitted
propensities, a saturated model whose maximum-likelihood fit is known in closed form (the
observed share per category), and statsmodels' Logit run directly as a consistency check.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis.stats.representativeness import r_indicator, r_indicator_fit, reach_propensities


def test_r_indicator_unweighted_hand():
    # Hand: rho = .2, .4, .6, .8; mean .5; sum of squares .09 + .01 + .01 + .09 = .2
    # S^2 = .2 / (4 - 1) = .0666667; S = .2581989; R = 1 - 2 S = .4836022
    # max bias = (1 - R) / (2 * mean) = .5163978 / 1 = .5163978
    r = r_indicator([0.2, 0.4, 0.6, 0.8]).iloc[0]
    assert r["n"] == 4 and r["N"] == 4.0
    assert r["mean_propensity"] == pytest.approx(0.5)
    assert r["sd_propensity"] == pytest.approx(0.2581989, abs=1e-7)
    assert r["r_indicator"] == pytest.approx(0.4836022, abs=1e-7)
    assert r["max_bias"] == pytest.approx(0.5163978, abs=1e-7)


def test_r_indicator_design_weighted_hand():
    # Hand (paper, section 3): rho = .2, .5, .8 with design weights d = 1, 2, 3; N = sum d = 6.
    # mean = (1*.2 + 2*.5 + 3*.8) / 6 = 3.6 / 6 = .6
    # sum d (rho - mean)^2 = 1*.16 + 2*.01 + 3*.04 = .30;  S^2 = .30 / (6 - 1) = .06
    # S = .2449490; R = 1 - .4898979 = .5101021; max bias = .4898979 / (2 * .6) = .4082483
    r = r_indicator([0.2, 0.5, 0.8], weights=[1, 2, 3]).iloc[0]
    assert r["N"] == 6.0
    assert r["mean_propensity"] == pytest.approx(0.6)
    assert r["sd_propensity"] == pytest.approx(0.2449490, abs=1e-7)
    assert r["r_indicator"] == pytest.approx(0.5101021, abs=1e-7)
    assert r["max_bias"] == pytest.approx(0.4082483, abs=1e-7)


def test_r_indicator_bounds():
    # Equal propensities: S = 0, R = 1 (fully representative).
    assert r_indicator([0.3] * 10).iloc[0]["r_indicator"] == pytest.approx(1.0)
    # Half 0, half 1 (n = 2m): S^2 = 2m * .25 / (2m - 1) -> R slightly below 0 only through
    # the n - 1 divisor: m = 50 gives S = sqrt(25 / 99) = .5025189, R = -.0050378.
    r = r_indicator([0.0] * 50 + [1.0] * 50).iloc[0]
    assert r["r_indicator"] == pytest.approx(1 - 2 * math.sqrt(25 / 99), abs=1e-12)


@pytest.mark.parametrize("rho, w, msg", [
    ([0.2], None, "at least 2"),
    ([0.2, np.nan], None, "missing"),
    ([0.2, 1.2], None, r"\[0, 1\]"),
    ([0.2, 0.3], [1, 0], "positive"),
    ([0.2, 0.3], [1], "one value per"),
])
def test_r_indicator_bad_input(rho, w, msg):
    with pytest.raises(ValueError, match=msg):
        r_indicator(rho, w)


def saturated_frame():
    # 10 residents aged "jong", 3 reached; 10 "oud", 6 reached; 2 rows with missing age.
    return pd.DataFrame({
        "reached": [True] * 3 + [False] * 7 + [True] * 6 + [False] * 4 + [True, False],
        "age_group": ["jong"] * 10 + ["oud"] * 10 + [None, None],
    })


def test_r_indicator_fit_saturated_model_hand():
    # Hand: with one categorical auxiliary the logistic MLE is the share per category:
    # rho = .3 for 10 rows, .6 for 10 rows. mean = .45;
    # sum (rho - mean)^2 = 10 * .15^2 + 10 * .15^2 = .45;  S^2 = .45 / 19 = .0236842
    # S = .1538968;  R = 1 - .3077935 = .6922065;  max bias = .3077935 / .9 = .3419928
    df = saturated_frame()
    before = df.copy()
    rho = reach_propensities(df, "reached", ["age_group"])
    np.testing.assert_allclose(rho.to_numpy(), [0.3] * 10 + [0.6] * 10, atol=1e-8)
    assert list(rho.index) == list(range(20))
    r = r_indicator_fit(df, "reached", ["age_group"]).iloc[0]
    pd.testing.assert_frame_equal(df, before)
    assert r["n"] == 20 and r["n_dropped"] == 2
    assert r["r_indicator"] == pytest.approx(0.6922065, abs=1e-7)
    assert r["max_bias"] == pytest.approx(0.3419928, abs=1e-7)
    assert r["model"] == "reached ~ age_group"


def test_r_indicator_fit_weighted_saturated_hand():
    # Hand: weighted saturated model -> weighted reach share per category.
    # jong: reached [1, 1, 0, 0] with weights [1, 3, 1, 1] -> 4/6 = 2/3
    # oud:  reached [1, 0, 0, 0] with weights [2, 1, 1, 2] -> 2/6 = 1/3
    # N = 12; mean = (6 * 2/3 + 6 * 1/3) / 12 = .5; sum d (rho - .5)^2 = 12 * (1/6)^2 = 1/3
    # S^2 = (1/3) / 11 = .0303030; S = .1740777; R = 1 - .3481553 = .6518447
    df = pd.DataFrame({
        "reached": [1, 1, 0, 0, 1, 0, 0, 0],
        "age_group": ["jong"] * 4 + ["oud"] * 4,
        "w": [1, 3, 1, 1, 2, 1, 1, 2],
    })
    rho = reach_propensities(df, "reached", ["age_group"], weights="w")
    np.testing.assert_allclose(rho.to_numpy(), [2 / 3] * 4 + [1 / 3] * 4, atol=1e-8)
    r = r_indicator_fit(df, "reached", ["age_group"], weights="w").iloc[0]
    assert r["N"] == 12.0
    assert r["r_indicator"] == pytest.approx(0.6518447, abs=1e-7)


def test_reach_propensities_agree_with_statsmodels_logit():
    # Consistency check: statsmodels' formula Logit run directly on the same data.
    rng = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame({
        "age": rng.normal(50, 15, n),
        "gender": rng.choice(["man", "vrouw"], n),
        "site": rng.choice(["DH", "LH", "PS"], n),
    })
    lin = -1 + 0.03 * (df["age"] - 50) + 0.5 * (df["gender"] == "vrouw")
    df["reached"] = rng.random(n) < 1 / (1 + np.exp(-lin))
    rho = reach_propensities(df, "reached", ["gender", "site"], ["age"])
    direct = smf.logit("reached ~ C(gender) + C(site) + age", data=df.assign(
        reached=df["reached"].astype(int))).fit(disp=0)
    np.testing.assert_allclose(rho.to_numpy(), direct.predict(df).to_numpy(), rtol=1e-6)


def test_reach_propensities_bad_input():
    df = saturated_frame()
    with pytest.raises(ValueError, match="at least one auxiliary"):
        reach_propensities(df, "reached")
    with pytest.raises(ValueError, match="not in data"):
        reach_propensities(df, "reached", ["nope"])
    with pytest.raises(ValueError, match="boolean or 0/1"):
        reach_propensities(df.assign(reached="ja"), "reached", ["age_group"])


# --- issue 15: bootstrap interval and "not estimable" -------------------------------------------


def test_bootstrap_se_matches_the_delta_method_on_large_data():
    # Independent oracle: one binary auxiliary, groups of n1 = n2 = 2000. The saturated model's
    # propensities are the group shares q1, q2, so (Schouten et al. 2009, eq. for S^2)
    #   S = |q1 - q2| sqrt(n1 n2 / (n (n - 1))),   R = 1 - 2 S,
    # and by the delta method with Var(q_j) = q_j (1 - q_j) / n_j (the group sizes' own
    # variation enters only at second order when n1 = n2):
    #   SE(R) = 2 sqrt(n1 n2 / (n (n - 1))) sqrt(q1 (1 - q1) / n1 + q2 (1 - q2) / n2).
    # 999 resamples estimate an SE to about 1 / sqrt(2 * 999) = 2.2%: allow 10%.
    rng = np.random.default_rng(3)
    n1 = n2 = 2000
    y = np.r_[rng.random(n1) < 0.3, rng.random(n2) < 0.5].astype(int)
    df = pd.DataFrame({"g": ["a"] * n1 + ["b"] * n2, "y": y})
    q1, q2, n = y[:n1].mean(), y[n1:].mean(), n1 + n2
    k = math.sqrt(n1 * n2 / (n * (n - 1)))
    se = 2 * k * math.sqrt(q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2)
    r = r_indicator_fit(df, "y", ["g"], n_boot=999, seed=1).iloc[0]
    assert r["r_indicator"] == pytest.approx(1 - 2 * abs(q1 - q2) * k, abs=1e-9)
    assert r["se"] == pytest.approx(se, rel=0.10)
    # the percentile interval is close to the normal one, R +- 1.96 SE, on this much data
    assert r["ci_low"] == pytest.approx(r["r_indicator"] - 1.96 * se, abs=0.2 * se)
    assert r["ci_high"] == pytest.approx(r["r_indicator"] + 1.96 * se, abs=0.2 * se)
    assert r["n_boot"] == 999 and r["n_boot_failed"] == 0 and r["not_estimable"] == ""


def test_batched_newton_fit_equals_statsmodels():
    # consistency check of the bootstrap's own fitter against statsmodels on the same counts
    from analysis.stats.representativeness import _fit_cells

    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["m", "v"], n)})
    df["r"] = (rng.random(n) < 0.2 + 0.3 * (df["a"] == "y") + 0.2 * (df["b"] == "v")).astype(int)
    want = smf.logit("r ~ C(a) + C(b)", df).fit(disp=0).predict(df).to_numpy()
    from analysis.stats.models import design_matrix

    X, _ = design_matrix(df, ["a", "b"])
    Xu, inv = np.unique(X.to_numpy(), axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    mu, ok = _fit_cells(Xu, np.bincount(inv, weights=df["r"], minlength=len(Xu))[None, :],
                        np.bincount(inv, minlength=len(Xu)).astype(float)[None, :])
    assert ok[0]
    np.testing.assert_allclose(mu[0][inv], want, rtol=1e-7)


def test_r_indicator_not_estimable_reasons():
    base = pd.DataFrame({"reached": [1, 0, 0, 1, 1, 1], "age_group": ["jong"] * 3 + ["oud"] * 3})
    # everyone old was reached: quasi-complete separation, the MLE does not exist
    r = r_indicator_fit(base, "reached", ["age_group"], n_boot=99, seed=1).iloc[0]
    assert r["not_estimable"].startswith("separation on age_group: every respondent with age_group = 'oud'")
    assert math.isnan(r["r_indicator"]) and math.isnan(r["ci_low"])
    none = r_indicator_fit(base.assign(reached=0), "reached", ["age_group"]).iloc[0]
    assert none["not_estimable"] == "empty group: no one with reached = 1 among 6"
    one = r_indicator_fit(base.iloc[:1], "reached", ["age_group"]).iloc[0]
    assert one["not_estimable"].startswith("too few respondents (n = 1")
    zero = r_indicator_fit(base.iloc[:0], "reached", ["age_group"]).iloc[0]
    assert zero["not_estimable"].startswith("too few respondents (n = 0") and zero["n"] == 0


def test_r_indicator_interval_not_estimable_when_resamples_separate():
    # 1/4 reached among the young, 3/4 among the old (R = 0.4655 by hand, see the doctest): at
    # n = 8 a resample often has a group all reached or all not; more than 10% fail
    df = pd.DataFrame({"reached": [1, 0, 0, 0, 1, 1, 1, 0], "age_group": ["jong"] * 4 + ["oud"] * 4})
    r = r_indicator_fit(df, "reached", ["age_group"], n_boot=200, seed=2).iloc[0]
    assert r["r_indicator"] == pytest.approx(1 - 2 * math.sqrt(8 * 0.25 ** 2 / 7))
    assert r["n_boot_failed"] > 20 and math.isnan(r["ci_low"])
    assert r["not_estimable"].startswith("separation in ") and r["not_estimable"].endswith("no interval")
    with pytest.raises(ValueError, match="n_boot"):
        r_indicator_fit(df, "reached", ["age_group"], n_boot=-1)
