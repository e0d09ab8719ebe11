"""Tests for analysis.stats.models (logistic regression odds ratios, forest plot).

Oracles: the 2x2 odds ratio ad/bc with Woolf's standard error, written out by hand; statsmodels'
formula interface (``smf.logit``) run directly on the same data, which builds its own design
matrix (a consistency check of our design matrix and table); and recovery of known
coefficients from data simulated with a fixed seed.
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
    assert ours.loc["lonely[ja]", "se"] == pytest.approx(direct.bse[sm_name], rel=1e-6)
    assert ours.loc["lonely[ja]", "ci_low"] == pytest.approx(math.exp(direct.conf_int().loc[sm_name, 0]), rel=1e-6)
    assert (ours["se_type"] == "cluster-robust by site (3 clusters)").all()
    assert (ours["n_clusters"] == 3).all()
    # Cluster-robust SEs differ from the model-based ones (same point estimates).
    model = logistic_or(df, "reached", ["gender", "lonely"], ["age"], reference=REF).set_index("term")
    np.testing.assert_allclose(ours["odds_ratio"], model["odds_ratio"], rtol=1e-8)
    assert not np.allclose(ours["se"], model["se"])


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
    assert (both[1]["se_type"] == "cluster-robust by site (3 clusters)").all()
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


def test_separation_raises():
    # Everyone with "ja" is reached: complete separation, no finite OR.
    df = pd.DataFrame({"reached": [True] * 10 + [True] * 5 + [False] * 5,
                       "lonely": ["ja"] * 10 + ["nee"] * 10})
    with pytest.raises(ValueError, match="separation|converge"):
        logistic_or(df, "reached", ["lonely"])


def test_bad_arguments():
    df = two_by_two(5, 5, 5, 5)
    with pytest.raises(ValueError, match="boolean or 0/1"):
        logistic_or(df.assign(reached="ja"), "reached", ["lonely"])
    with pytest.raises(ValueError, match="one value"):
        logistic_or(df.assign(reached=True), "reached", ["lonely"])
    with pytest.raises(ValueError, match="not in data"):
        logistic_or(df, "reached", ["nope"])
    with pytest.raises(ValueError, match="at least one predictor"):
        logistic_or(df, "reached")
    with pytest.raises(ValueError, match="does not occur"):
        logistic_or(df, "reached", ["lonely"], reference={"lonely": "misschien"})
    with pytest.raises(ValueError, match="collinear"):
        logistic_or(df.assign(copy=df["lonely"]), "reached", ["lonely", "copy"])
    with pytest.raises(ValueError, match="one value"):
        logistic_or(df.assign(site="DH"), "reached", ["lonely"], cluster="site")


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
