"""Tests for analysis.stats.models (logistic regression odds ratios, forest plot).

Oracles: the 2x2 odds ratio ad/bc with Woolf's standard error, written out by hand; statsmodels'
formula interface (``smf.logit``) run directly on the same data, which builds its own design
matrix (a consistency check of our design matrix and table); recovery of known coefficients
from data simulated with a fixed seed; the cluster-robust sandwich (CR1, t with G - 1 df)
written out with numpy; Firth's estimate, profile penalised-likelihood interval and penalised
likelihood-ratio p for a 2x2 table with a zero cell, worked out in closed form (the penalised
likelihood of a 2x2 table is the likelihood of the table with 0.5 added to each cell); and
Firth ~ maximum likelihood on large non-separated data.

Why no logistf ``sex2`` numbers: that data set (239 rows) ships only inside the R package
(``data/sex2.rda``), and we do not copy third-party data into this repository; the closed-form
2x2 oracle checks the same estimator exactly, with separation.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from scipy import stats  # noqa: E402

from analysis.stats.models import design_matrix, forest_plot, logistic_or  # noqa: E402


def two_by_two(a, b, c, d):
    """a: exposed & reached, b: exposed & not, c: unexposed & reached, d: unexposed & not."""
    return pd.DataFrame({
        "reached": [True] * a + [False] * b + [True] * c + [False] * d,
        "lonely": ["ja"] * (a + b) + ["nee"] * (c + d),
    })


def test_single_binary_predictor_equals_woolf_2x2_hand():
    # Hand (Woolf 1955): a = 20, b = 10, c = 40, d = 30.
    # OR = ad / bc = 600 / 400 = 1.5;  log OR = 0.4054651
    # SE = sqrt(1/20 + 1/10 + 1/40 + 1/30) = sqrt(0.2083333) = 0.4564355
    # 95% CI = exp(0.4054651 -/+ 1.959964 * 0.4564355) = exp(0.4054651 -/+ 0.8945971)
    #        = exp(-0.4891320), exp(1.3000622) = 0.6131584, 3.6695248
    # Wald p = 2 * Phi(-0.4054651 / 0.4564355) = 2 * Phi(-0.8883295)
    df = two_by_two(20, 10, 40, 30)
    r = logistic_or(df, "reached", ["lonely"], reference={"lonely": "nee"}).iloc[0]
    assert (r["term"], r["variable"], r["level"], r["reference"]) == ("lonely[ja]", "lonely", "ja", "nee")
    assert r["odds_ratio"] == pytest.approx(1.5, rel=1e-8)
    assert r["se"] == pytest.approx(math.sqrt(1 / 20 + 1 / 10 + 1 / 40 + 1 / 30), rel=1e-6)
    assert r["ci_low"] == pytest.approx(0.6131584, rel=1e-6)
    assert r["ci_high"] == pytest.approx(3.6695248, rel=1e-6)
    assert r["p"] == pytest.approx(2 * stats.norm.cdf(-0.8883295), rel=1e-6)
    assert (r["n_used"], r["n_dropped"], r["test"], r["se_type"]) == (100, 0, "Wald z", "model-based")


def test_reference_level_flips_the_odds_ratio():
    # Hand: with "ja" as reference the OR is bc/ad = 1/1.5.
    r = logistic_or(two_by_two(20, 10, 40, 30), "reached", ["lonely"], reference={"lonely": "ja"}).iloc[0]
    assert r["term"] == "lonely[nee]"
    assert r["odds_ratio"] == pytest.approx(1 / 1.5, rel=1e-8)


@pytest.fixture
def sim():
    """Reach data simulated from a known logistic model (fixed seed)."""
    rng = np.random.default_rng(20240501)
    n = 4000
    df = pd.DataFrame({
        "gender": rng.choice(["man", "vrouw"], n),
        "lonely": rng.choice(["nee", "ja"], n, p=[0.6, 0.4]),
        "education": rng.choice(["laag", "midden", "hoog"], n),
        "age": rng.normal(55, 15, n).round(),
        "site": rng.choice(["DH", "LH", "PS"], n),
    })
    true = {"intercept": -1.0, "gender[vrouw]": 0.5, "lonely[ja]": 0.7, "education[laag]": 0.4,
            "education[midden]": 0.2, "age": 0.02, "site[LH]": 0.3, "site[PS]": -0.4}
    lin = (true["intercept"] + true["gender[vrouw]"] * (df.gender == "vrouw")
           + true["lonely[ja]"] * (df.lonely == "ja")
           + true["education[laag]"] * (df.education == "laag")
           + true["education[midden]"] * (df.education == "midden")
           + true["age"] * df.age + true["site[LH]"] * (df.site == "LH")
           + true["site[PS]"] * (df.site == "PS"))
    df["reached"] = pd.array(rng.random(n) < 1 / (1 + np.exp(-lin)), dtype="boolean")
    # Some missing values, to be dropped as complete cases.
    df.loc[rng.choice(n, 40, replace=False), "education"] = None
    df.loc[rng.choice(n, 25, replace=False), "reached"] = None
    return df, true


REF = {"education": "hoog", "gender": "man", "lonely": "nee", "site": "DH"}


def test_agrees_with_statsmodels_formula_on_same_data(sim):
    df, _ = sim
    before = df.copy()
    ours = logistic_or(df, "reached", ["gender", "lonely", "education"], ["age"], site="site",
                       reference=REF).set_index("term")
    pd.testing.assert_frame_equal(df, before)  # input untouched
    cc = df.dropna(subset=["reached", "education"]).assign(reached=lambda d: d.reached.astype(int))
    direct = smf.logit(
        "reached ~ C(gender, Treatment('man')) + C(lonely, Treatment('nee'))"
        " + C(education, Treatment('hoog')) + age + C(site, Treatment('DH'))", data=cc).fit(disp=0)
    names = {
        "gender[vrouw]": "C(gender, Treatment('man'))[T.vrouw]",
        "lonely[ja]": "C(lonely, Treatment('nee'))[T.ja]",
        "education[laag]": "C(education, Treatment('hoog'))[T.laag]",
        "education[midden]": "C(education, Treatment('hoog'))[T.midden]",
        "age": "age",
        "site[LH]": "C(site, Treatment('DH'))[T.LH]",
        "site[PS]": "C(site, Treatment('DH'))[T.PS]",
    }
    ci = direct.conf_int()
    for ours_name, sm_name in names.items():
        assert ours.loc[ours_name, "odds_ratio"] == pytest.approx(math.exp(direct.params[sm_name]), rel=1e-6)
        assert ours.loc[ours_name, "ci_low"] == pytest.approx(math.exp(ci.loc[sm_name, 0]), rel=1e-6)
        assert ours.loc[ours_name, "ci_high"] == pytest.approx(math.exp(ci.loc[sm_name, 1]), rel=1e-6)
        assert ours.loc[ours_name, "p"] == pytest.approx(direct.pvalues[sm_name], rel=1e-5)
    assert set(ours.index) == set(names)  # no intercept by default
    assert (ours["n_used"] == direct.nobs).all()
    assert (ours["n_dropped"] == len(df) - direct.nobs).all()


def test_cluster_robust_agrees_with_statsmodels_formula(sim):
    df, _ = sim
    ours = logistic_or(df, "reached", ["gender", "lonely"], ["age"], cluster="site",
                       reference=REF).set_index("term")
    cc = df.dropna(subset=["reached"]).assign(reached=lambda d: d.reached.astype(int))
    groups = pd.factorize(cc["site"])[0]
    direct = smf.logit("reached ~ C(gender, Treatment('man')) + C(lonely, Treatment('nee')) + age",
                       data=cc).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    sm_name = "C(lonely, Treatment('nee'))[T.ja]"
    # statsmodels' default cluster SE is CR1 (use_correction=True): the same SE ...
    assert ours.loc["lonely[ja]", "se"] == pytest.approx(direct.bse[sm_name], rel=1e-6)
    # ... but our interval uses t with G - 1 = 2 df (statsmodels' Logit uses the normal)
    b, se = direct.params[sm_name], direct.bse[sm_name]
    assert ours.loc["lonely[ja]", "ci_low"] == pytest.approx(math.exp(b - stats.t.ppf(0.975, 2) * se), rel=1e-6)
    assert (ours["se_type"] == "cluster-robust CR1 by site (3 clusters)").all()
    assert (ours["test"] == "Wald t (2 df = clusters - 1)").all()
    assert (ours["n_clusters"] == 3).all()
    # Cluster-robust SEs differ from the model-based ones (same point estimates).
    model = logistic_or(df, "reached", ["gender", "lonely"], ["age"], reference=REF).set_index("term")
    np.testing.assert_allclose(ours["odds_ratio"], model["odds_ratio"], rtol=1e-8)
    assert not np.allclose(ours["se"], model["se"])


def test_cluster_robust_cr1_and_t_by_hand():
    # The sandwich written out (Cameron & Miller 2015, eq. 11 and section VI.B):
    #   V = c * B^-1 (sum_g s_g s_g') B^-1,  B = X' W X,  s_g = sum_{i in g} x_i (y_i - p_i),
    #   c = G / (G - 1) * (N - 1) / (N - K)  (CR1, Stata's and statsmodels' factor),
    # interval b +- t_{G-1, .975} sqrt(V_jj), p = 2 * t_{G-1}.sf(|b| / se).
    # The ML estimate by plain Newton-Raphson on the log-likelihood, not statsmodels.
    rng = np.random.default_rng(3)
    n, G = 90, 6
    g = np.repeat(np.arange(G), n // G)
    x = rng.normal(size=n) + 0.3 * g
    lin = -0.3 + 0.8 * x + rng.normal(0, 0.7, G)[g]
    yv = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(float)
    X = np.column_stack([np.ones(n), x])
    beta = np.zeros(2)
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ beta))
        beta = beta + np.linalg.solve(X.T @ (X * (p * (1 - p))[:, None]), X.T @ (yv - p))
    p = 1 / (1 + np.exp(-X @ beta))
    bread = np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))
    scores = np.array([X[g == k].T @ (yv - p)[g == k] for k in range(G)])
    c = G / (G - 1) * (n - 1) / (n - 2)
    V = c * bread @ (scores.T @ scores) @ bread
    se = math.sqrt(V[1, 1])
    tq = stats.t.ppf(0.975, G - 1)
    df = pd.DataFrame({"y": yv, "x": x, "g": g})
    r = logistic_or(df, "y", continuous=["x"], cluster="g").iloc[0]
    assert r["log_or"] == pytest.approx(beta[1], rel=1e-7)
    assert r["se"] == pytest.approx(se, rel=1e-6)
    assert r["ci_low"] == pytest.approx(math.exp(beta[1] - tq * se), rel=1e-6)
    assert r["ci_high"] == pytest.approx(math.exp(beta[1] + tq * se), rel=1e-6)
    assert r["p"] == pytest.approx(2 * stats.t.sf(abs(beta[1]) / se, G - 1), rel=1e-6)
    assert r["n_clusters"] == G and r["not_estimable"] == ""


def test_one_fit_for_model_based_and_cluster_robust_equals_two_fits(sim):
    # cluster=[None, "site"] fits once and starts the cluster-robust fit at those estimates:
    # each table must match its own call (and so statsmodels, tests above) to rounding.
    df, _ = sim
    args = (df, "reached", ["gender", "lonely"], ["age"])
    both = logistic_or(*args, site="site", cluster=[None, "site"], reference=REF)
    assert isinstance(both, list) and len(both) == 2
    for got, cluster in zip(both, (None, "site")):
        alone = logistic_or(*args, site="site", cluster=cluster, reference=REF)
        pd.testing.assert_frame_equal(got, alone, check_exact=False, rtol=1e-9, atol=0)
    assert (both[1]["se_type"] == "cluster-robust CR1 by site (3 clusters)").all()
    assert not np.allclose(both[0]["se"], both[1]["se"])


def test_recovers_known_odds_ratios(sim):
    # Recovery: with n = 4000 the 95% CIs cover the true ORs (exp of the simulation's
    # coefficients), and the estimates are close to them.
    df, true = sim
    res = logistic_or(df, "reached", ["gender", "lonely", "education"], ["age"], site="site",
                      reference=REF).set_index("term")
    for term, beta in true.items():
        if term == "intercept":
            continue
        assert res.loc[term, "ci_low"] <= math.exp(beta) <= res.loc[term, "ci_high"], term


def test_confidence_interval_coverage_over_replicates():
    # Coverage study: 200 data sets of n = 800 from a known model; each 95% CI should cover
    # the true OR in about 95% of them. Binomial SD of the coverage is sqrt(.95*.05/200) =
    # 0.015, so [0.90, 0.99] is a band of about 3 SD.
    rng = np.random.default_rng(11)
    true = {"lonely[ja]": 0.7, "age": 0.03}
    hits = {k: 0 for k in true}
    reps = 200
    for _ in range(reps):
        n = 800
        lonely = rng.random(n) < 0.4
        age = rng.normal(0, 10, n)
        lin = -0.5 + true["lonely[ja]"] * lonely + true["age"] * age
        df = pd.DataFrame({"lonely": np.where(lonely, "ja", "nee"), "age": age,
                           "reached": rng.random(n) < 1 / (1 + np.exp(-lin))})
        res = logistic_or(df, "reached", ["lonely"], ["age"], reference={"lonely": "nee"}).set_index("term")
        for term, beta in true.items():
            hits[term] += res.loc[term, "ci_low"] <= math.exp(beta) <= res.loc[term, "ci_high"]
    for term in true:
        assert 0.90 <= hits[term] / reps <= 0.99, (term, hits[term] / reps)


# --------------------------------------------------------------------------------------------
# separation: Firth's penalised likelihood
# --------------------------------------------------------------------------------------------
def _firth_2x2_hand(a, b, c, d, level=0.95):
    """Firth for a 2x2 table in closed form (a: x=1 & y=1, b: x=1 & y=0, c: x=0 & y=1, d: x=0 & y=0).

    With an intercept and one binary x the model is saturated and the Fisher information has
    determinant n0 p0 (1 - p0) * n1 p1 (1 - p1), so the penalised log-likelihood
    l(b) + 0.5 log det I(b) equals, up to a constant, the binomial log-likelihood of the table with
    0.5 added to every cell (Firth 1993, section 3; Heinze & Schemper 2002, section 2):
        l*(alpha, psi) = (c + .5) log p0 + (d + .5) log(1 - p0) + (a + .5) log p1 + (b + .5) log(1 - p1),
        logit p0 = alpha, logit p1 = alpha + psi.
    Estimate: psi = log((a + .5)(d + .5) / ((b + .5)(c + .5))).
    Penalised LR test of psi = 0 (penalty of the full model, as logistf): p0 = p1 = p, maximised at
    p = (a + c + 1) / (N + 2). Profile interval: the psi with 2 (l*max - max_alpha l*(alpha, psi)) =
    chi2_1(level), found with scipy's brentq over a 1-D maximisation in alpha.
    """
    from scipy import optimize

    def lstar(alpha, psi):
        p0, p1 = 1 / (1 + math.exp(-alpha)), 1 / (1 + math.exp(-alpha - psi))
        return ((c + .5) * math.log(p0) + (d + .5) * math.log(1 - p0)
                + (a + .5) * math.log(p1) + (b + .5) * math.log(1 - p1))

    psi = math.log((a + .5) * (d + .5) / ((b + .5) * (c + .5)))
    alpha = math.log((c + .5) / (d + .5))
    top = lstar(alpha, psi)
    n, k = a + b + c + d, a + c
    p = (k + 1) / (n + 2)
    null = (k + 1) * math.log(p) + (n - k + 1) * math.log(1 - p)
    pval = stats.chi2.sf(2 * (top - null), 1)

    def profile(q):
        return -optimize.minimize_scalar(lambda al: -lstar(al, q), bounds=(-30, 30), method="bounded",
                                         options={"xatol": 1e-12}).fun

    crit = stats.chi2.ppf(level, 1) / 2
    lo = optimize.brentq(lambda q: top - profile(q) - crit, psi - 20, psi, xtol=1e-12)
    hi = optimize.brentq(lambda q: top - profile(q) - crit, psi, psi + 20, xtol=1e-12)
    return psi, lo, hi, pval


def test_firth_on_a_zero_cell_equals_the_closed_form_2x2():
    # All 12 lonely respondents reached (b = 0): quasi-complete separation, no ML estimate.
    a, b, c, d = 12, 0, 20, 25
    psi, lo, hi, pval = _firth_2x2_hand(a, b, c, d)
    assert psi == pytest.approx(math.log(12.5 * 25.5 / (0.5 * 20.5)))  # the hand formula itself
    r = logistic_or(two_by_two(a, b, c, d), "reached", ["lonely"], reference={"lonely": "nee"}).iloc[0]
    assert r["method"] == "Firth penalised likelihood"
    assert r["separation"] == "separation on lonely[ja]: all 12 with lonely[ja] = 1 have reached = 1"
    assert r["not_estimable"] == ""
    assert r["log_or"] == pytest.approx(psi, rel=1e-7)
    assert math.log(r["ci_low"]) == pytest.approx(lo, rel=1e-5)
    assert math.log(r["ci_high"]) == pytest.approx(hi, rel=1e-5)
    assert r["p"] == pytest.approx(pval, rel=1e-5)
    assert r["test"].startswith("penalised likelihood ratio")


def test_firth_always_on_a_table_without_zero_cell_equals_closed_form():
    a, b, c, d = 7, 3, 9, 14
    psi, lo, hi, pval = _firth_2x2_hand(a, b, c, d)
    r = logistic_or(two_by_two(a, b, c, d), "reached", ["lonely"], reference={"lonely": "nee"},
                    firth="always").iloc[0]
    assert r["separation"] == "" and r["method"] == "Firth penalised likelihood"
    assert (r["log_or"], math.log(r["ci_low"]), math.log(r["ci_high"]), r["p"]) == pytest.approx(
        (psi, lo, hi, pval), rel=1e-5)


def test_firth_close_to_ml_on_large_non_separated_data(sim):
    # Firth's bias correction is O(1/n): at n = 4000 the estimates agree with ML to about 1%,
    # and the profile intervals with the Wald ones to a few per cent.
    df, _ = sim
    args = (df, "reached", ["gender", "lonely", "education"], ["age"])
    ml = logistic_or(*args, site="site", reference=REF).set_index("term")
    fi = logistic_or(*args, site="site", reference=REF, firth="always").set_index("term")
    assert (ml["method"] == "maximum likelihood").all() and (fi["method"] == "Firth penalised likelihood").all()
    np.testing.assert_allclose(fi["log_or"], ml["log_or"], rtol=0.02, atol=2e-4)
    np.testing.assert_allclose(fi["se"], ml["se"], rtol=0.01)
    np.testing.assert_allclose(np.log(fi["ci_low"]), np.log(ml["ci_low"]), atol=0.01)
    np.testing.assert_allclose(np.log(fi["ci_high"]), np.log(ml["ci_high"]), atol=0.01)
    # Firth shrinks towards zero: |beta_Firth| <= |beta_ML| for every term here
    assert (fi["log_or"].abs() <= ml["log_or"].abs() + 1e-9).all()


def test_separation_by_a_combination_is_detected():
    # Complete separation along x1 + x2 = 1, by neither variable alone: Konis's LP finds it.
    rng = np.random.default_rng(5)
    x1, x2 = rng.random(30), rng.random(30)
    df = pd.DataFrame({"y": (x1 + x2 > 1).astype(int), "x1": x1, "x2": x2})
    assert 0 < df["y"].mean() < 1
    r = logistic_or(df, "y", continuous=["x1", "x2"])
    assert (r["method"] == "Firth penalised likelihood").all()
    assert r["separation"].iloc[0].startswith("separation on x1, x2: together")
    assert np.isfinite(r[["odds_ratio", "ci_low", "ci_high", "p"]].to_numpy()).all()


def test_separation_with_firth_never_is_not_estimable():
    r = logistic_or(two_by_two(12, 0, 20, 25), "reached", ["lonely"], reference={"lonely": "nee"},
                    firth="never").iloc[0]
    assert r["not_estimable"] == "separation on lonely[ja]: all 12 with lonely[ja] = 1 have reached = 1"
    assert np.isnan(r[["odds_ratio", "ci_low", "ci_high", "p", "se"]].to_numpy(dtype=float)).all()


def test_separation_and_cluster_robust_is_not_estimable_with_reason():
    df = two_by_two(12, 0, 20, 25).assign(g=lambda d: np.arange(len(d)) % 3)
    main, robust = logistic_or(df, "reached", ["lonely"], reference={"lonely": "nee"}, cluster=[None, "g"])
    assert main["not_estimable"].iloc[0] == "" and main["method"].iloc[0] == "Firth penalised likelihood"
    assert robust["not_estimable"].iloc[0].endswith("no cluster-robust standard errors for the Firth fit")


# --------------------------------------------------------------------------------------------
# small and degenerate data: a reason instead of an error
# --------------------------------------------------------------------------------------------
def _assert_number_or_reason(t):
    keys = ("too few respondents", "no variation", "separation", "empty group", "too few sites",
            "not enough events")
    for _, r in t.iterrows():
        vals = r[["odds_ratio", "ci_low", "ci_high", "p", "log_or", "se"]].to_numpy(dtype=float)
        if r["not_estimable"]:
            assert r["not_estimable"].startswith(keys), r["not_estimable"]
            assert np.isnan(vals).all(), r.to_dict()
        else:
            assert np.isfinite(vals).all(), r.to_dict()
            assert r["ci_low"] <= r["odds_ratio"] <= r["ci_high"]


def test_no_complete_case_and_one_outcome_value_are_not_estimable():
    df = two_by_two(5, 5, 5, 5)
    empty = logistic_or(df.assign(reached=pd.array([pd.NA] * 20, dtype="boolean")), "reached", ["lonely"])
    assert empty["not_estimable"].tolist() == ["too few respondents: no complete cases"]
    assert empty["term"].tolist() == ["lonely"] and empty["n_used"].tolist() == [0]
    allin = logistic_or(df.assign(reached=True), "reached", ["lonely"], reference={"lonely": "nee"})
    assert allin["not_estimable"].tolist() == ["no variation: reached = 1 for all 20 complete cases"]
    _assert_number_or_reason(empty)
    _assert_number_or_reason(allin)


def test_constant_and_aliased_columns_are_dropped_with_a_reason():
    # The other terms are exactly those of the model without the dropped column (R's glm: NA).
    df = two_by_two(20, 10, 40, 30).assign(const=0.0, x=lambda d: (d.index % 3 == 0).astype(float))
    df["copy"] = df["x"]
    r = logistic_or(df, "reached", ["lonely"], ["const", "x", "copy"], reference={"lonely": "nee"}).set_index("term")
    without = logistic_or(df, "reached", ["lonely"], ["x"], reference={"lonely": "nee"}).set_index("term")
    assert r.loc["const", "not_estimable"] == "no variation: const = 0 for all 100 complete cases"
    assert r.loc["copy", "not_estimable"] == ("no variation: copy is a linear combination of x among the complete "
                                              "cases (aliased)")
    for t in ("lonely[ja]", "x"):
        assert r.loc[t, "odds_ratio"] == pytest.approx(without.loc[t, "odds_ratio"], rel=1e-10)
        assert r.loc[t, "not_estimable"] == ""
    assert list(r.index) == ["lonely[ja]", "const", "x", "copy"]  # the order the predictors were given
    _assert_number_or_reason(r.reset_index())


def test_absent_reference_level_one_level_and_too_few_events():
    df = two_by_two(20, 10, 40, 30)
    r = logistic_or(df, "reached", ["lonely"], reference={"lonely": "misschien"})
    assert r["not_estimable"].tolist() == ["empty group: reference level 'misschien' of lonely has no complete cases"] * 2
    one = logistic_or(df[df["lonely"] == "ja"], "reached", ["lonely"])
    assert one["not_estimable"].tolist() == ["no variation: lonely = 'ja' for all 30 complete cases"]
    # 20 + 40 reached, 10 + 30 not: 40 events of the rarer outcome for 1 parameter
    few = logistic_or(df, "reached", ["lonely"], min_events_per_parameter=50)
    assert few["not_estimable"].iloc[0] == ("not enough events: 40 of the rarer outcome for 1 parameters "
                                            "(EPV 40.00; at least 50 per parameter needed)")
    assert few["events_per_parameter"].iloc[0] == 40
    for t in (r, one, few):
        _assert_number_or_reason(t)


def test_one_cluster_is_too_few_sites():
    r = logistic_or(two_by_two(5, 5, 5, 5).assign(site="DH"), "reached", ["lonely"], cluster="site")
    assert r["not_estimable"].iloc[0].startswith("too few sites: 1 cluster(s) of site")


def test_bad_arguments():
    df = two_by_two(5, 5, 5, 5)
    with pytest.raises(ValueError, match="boolean or 0/1"):
        logistic_or(df.assign(reached="ja"), "reached", ["lonely"])
    with pytest.raises(ValueError, match="not in data"):
        logistic_or(df, "reached", ["nope"])
    with pytest.raises(ValueError, match="at least one predictor"):
        logistic_or(df, "reached")
    with pytest.raises(ValueError, match="confidence"):
        logistic_or(df, "reached", ["lonely"], confidence=1.5)
    with pytest.raises(ValueError, match="firth must be"):
        logistic_or(df, "reached", ["lonely"], firth="sometimes")
    with pytest.raises(ValueError, match="profile names"):
        logistic_or(df, "reached", ["lonely"], profile=["age"])
    with pytest.raises(ValueError, match="min_events_per_parameter"):
        logistic_or(df, "reached", ["lonely"], min_events_per_parameter=-1)
    with pytest.raises(ValueError, match="continuous"):
        logistic_or(df.assign(x=1.0), "reached", ["lonely"], ["x"], reference={"x": 1.0})
    with pytest.raises(ValueError, match="no cluster-robust"):
        logistic_or(df.assign(site="DH"), "reached", ["lonely"], cluster="site", firth="always")
    with pytest.raises(ValueError, match="both site and"):
        logistic_or(df.assign(site="DH"), "reached", ["site"], site="site")


def test_design_matrix_levels_and_reference():
    df = pd.DataFrame({"edu": pd.Categorical(["hoog", "laag", "midden", "laag"],
                                             categories=["laag", "midden", "hoog"]),
                       "age": [30.0, 40.0, None, 50.0]})
    X, terms = design_matrix(df, ["edu"], ["age"])
    # Row 2 (missing age) dropped; reference = first category "laag"; "midden" not observed
    # among complete rows -> no column.
    assert list(X.columns) == ["intercept", "edu[hoog]", "age"]
    assert list(X.index) == [0, 1, 3]
    assert terms.loc[1, "reference"] == "laag"


# --------------------------------------------------------------------------------------------
# forest plot
# --------------------------------------------------------------------------------------------
def _overlaps(boxes):
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if boxes[i].overlaps(boxes[j])]


def test_forest_plot_log_axis_reference_line_labels_and_no_overlap(sim):
    df, _ = sim
    res = logistic_or(df, "reached", ["gender", "lonely", "education"], ["age"], site="site", reference=REF)
    res = res[res["variable"] != "site"]
    labels = {"gender[vrouw]": "Vrouw (ref. man)", "lonely[ja]": "Eenzaam (ref. niet eenzaam)",
              "education[laag]": "Opleiding laag (ref. hoog)",
              "education[midden]": "Opleiding midden (ref. hoog)", "age": "Leeftijd (per jaar)"}
    notes = [f"{v:.2f}" for v in res["odds_ratio"]]
    before = res.copy()
    fig = forest_plot(res, labels, annotations=notes, title="Kans om bereikt te worden")
    pd.testing.assert_frame_equal(res, before)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == [labels[t] for t in res["term"]]
    # A vertical line at 1.
    assert any(np.allclose(line.get_xdata(), [1, 1]) for line in ax.get_lines())
    lo, hi = ax.get_xlim()
    assert lo < res["ci_low"].min() and hi > res["ci_high"].max() and lo < 1 < hi
    # No text overlaps any other text, and all text lies inside the figure.
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    xlo, xhi = ax.get_xlim()
    texts = [ax.xaxis.label, ax.title]
    texts += [t for t in ax.get_xticklabels() if xlo <= t.get_position()[0] <= xhi]
    texts += [t for a in fig.axes if a.yaxis.get_visible() for t in a.get_yticklabels()]
    texts = [t for t in texts if t.get_text() and t.get_visible()]
    assert len(texts) >= 2 * len(res) + 2 + 3  # labels, annotations, xlabel, title, >= 3 x ticks
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert not _overlaps(boxes), [(texts[i].get_text(), texts[j].get_text()) for i, j in _overlaps(boxes)]
    fig_box = fig.bbox
    for t, b in zip(texts, boxes):
        assert b.x0 >= fig_box.x0 - 1 and b.x1 <= fig_box.x1 + 1, t.get_text()
        assert b.y0 >= fig_box.y0 - 1 and b.y1 <= fig_box.y1 + 1, t.get_text()
    plt.close(fig)


def test_forest_plot_bad_input():
    t = pd.DataFrame({"term": ["a"], "odds_ratio": [1.5], "ci_low": [1.1], "ci_high": [2.0]})
    with pytest.raises(ValueError, match="no label"):
        forest_plot(t, {"b": "B"})
    with pytest.raises(ValueError, match="labels for"):
        forest_plot(t, ["A", "B"])
    with pytest.raises(ValueError, match="missing"):
        forest_plot(t.assign(ci_low=np.nan))
    with pytest.raises(ValueError, match="inside its interval"):
        forest_plot(t.assign(ci_low=1.6))
    plt.close("all")
