"""Property-based tests (hypothesis) of the reach model at every size (issue 15).

``logistic_or`` and ``reach.reach_model`` / ``model_frame`` / ``model_display`` /
``forest_figure`` are called with generated data of 0 to 60 rows: one site or several, a
site with one respondent, everyone in one group, constant and missing covariates. The
property: no exception (invalid arguments are not generated), and every coefficient row is
either finite numbers with the estimate inside its interval, or NaN with a reason that starts
with one of the keys of the issue-15 convention.
"""

from __future__ import annotations

import copy

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from analysis import codebook, reach  # noqa: E402
from analysis.stats.models import logistic_or  # noqa: E402

KEYS = ("too few respondents", "no variation", "separation", "empty group", "too few sites", "not enough events")
NUMERIC = ["odds_ratio", "ci_low", "ci_high", "p", "log_or", "se"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_rows(t: pd.DataFrame) -> None:
    assert "not_estimable" in t.columns
    for _, r in t.iterrows():
        vals = r[NUMERIC].to_numpy(dtype=float)
        if r["not_estimable"]:
            assert r["not_estimable"].startswith(KEYS), r["not_estimable"]
            assert np.isnan(vals).all(), r.to_dict()
        else:
            assert np.isfinite(vals).all(), r.to_dict()
            assert r["ci_low"] <= r["odds_ratio"] * (1 + 1e-9) and r["odds_ratio"] <= r["ci_high"] * (1 + 1e-9)
            assert 0 <= r["p"] <= 1


@st.composite
def frames(draw):
    n = draw(st.integers(0, 60))
    kind = draw(st.sampled_from(["random", "all_one", "all_zero", "by_x"]))
    n_sites = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.integers(0, 2, n).astype(float)
    if kind == "random":
        y = rng.integers(0, 2, n)
    elif kind == "by_x":  # separation on x, or nearly
        y = (x > 0).astype(int) if draw(st.booleans()) else np.where(rng.random(n) < 0.1, 1 - x, x).astype(int)
    else:
        y = np.full(n, 1 if kind == "all_one" else 0)
    df = pd.DataFrame({
        "y": pd.array(y, dtype="Int64"),
        "x": x,
        "const": np.zeros(n),
        "g": rng.choice(["a", "b", "c"][:draw(st.integers(1, 3))], n),
        "site": rng.choice(["DH", "LH", "PS"][:n_sites], n),
    })
    if n and draw(st.booleans()):  # some missing values
        df.loc[rng.random(n) < 0.2, "x"] = np.nan
        df.loc[rng.random(n) < 0.1, "y"] = pd.NA
    return df


@SETTINGS
@given(frames(), st.sampled_from(["auto", "never", "always"]), st.sampled_from([0.0, 2.0]))
def test_logistic_or_every_row_a_number_or_a_reason(df, firth, min_epv):
    before = df.copy()
    cluster = [None] if firth == "always" else [None, "site"]  # no cluster-robust SEs for a Firth fit
    tables = logistic_or(df, "y", ["g"], ["x", "const"], site="site", cluster=cluster,
                         firth=firth, min_events_per_parameter=min_epv)
    main = tables[0]
    pd.testing.assert_frame_equal(df, before)  # input untouched
    for t in tables:
        check_rows(t)
        assert len(t) >= 3  # at least a row per predictor (g, x, const; site may have no level to show)
        assert (t["n_used"] + t["n_dropped"] == len(df)).all()
    assert (main["not_estimable"][main["term"] == "const"] != "").all()  # a constant is never estimated


# --- the stage functions ----------------------------------------------------------------------
CB = codebook.load()
CODES = {v: CB.codes(v) for v in ("gender", "origin", "education", "household", "activity", "finances")}


@st.composite
def reach_frames(draw):
    n = draw(st.integers(0, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sites = ["DH", "LH", "PS"][:draw(st.integers(1, 3))]
    d = pd.DataFrame({"respondent_id": [f"R{i}" for i in range(n)], "site": rng.choice(sites, n)})
    one_group = draw(st.sampled_from([None, True, False]))
    d["reached"] = pd.array(rng.random(n) < 0.5 if one_group is None else np.full(n, one_group), dtype="boolean")
    if n and draw(st.booleans()):  # one site entirely reached (separation on the site)
        d.loc[d["site"] == sites[-1], "reached"] = True
    d["age"] = pd.array(rng.integers(18, 90, n), dtype="Int64")
    d["djg_total"] = pd.array(rng.integers(0, 7, n), dtype="Int64")
    constant = draw(st.sampled_from([None, "gender", "household"]))
    for var, codes in CODES.items():
        d[var] = np.full(n, codes[0], dtype=object) if var == constant else rng.choice(codes, n).astype(object)
    if n and draw(st.booleans()):
        d.loc[rng.random(n) < 0.15, "education"] = None
    if n and draw(st.booleans()):  # a site with one respondent
        d.loc[d.index[0], "site"] = "PS"
        d.loc[d.index[1:], "site"] = d.loc[d.index[1:], "site"].replace("PS", "DH")
    return d


@pytest.fixture(scope="module")
def spec():
    s = copy.deepcopy(reach.spec())
    return s


@SETTINGS
@given(data=reach_frames())
def test_reach_model_display_and_forest_on_any_size(spec, data):
    before = data.copy()
    m = reach.reach_model(data, spec, CB)
    pd.testing.assert_frame_equal(data, before)
    check_rows(m)
    names = list(spec["model"]["covariates"])
    main = m[m["model"] == "site_fixed"]
    assert list(main.loc[main["covariate"] != "site", "term"]) == names  # every covariate has its row
    assert set(m["model"]) <= {"site_fixed", "leave_one_site_out"}  # < cluster_robust_min_sites sites
    disp = reach.model_display(m, spec)
    assert len(disp) == len(main) + 3
    cells = disp.drop(columns="Kenmerk").to_numpy().ravel()
    assert not any("nan" in str(c).lower() for c in cells)
    fig = reach.forest_figure(m, spec)
    plt.close(fig)
