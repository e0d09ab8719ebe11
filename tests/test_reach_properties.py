"""Property tests (hypothesis) for stage 02: every table function on generated reach data of any size.

Issue 15: valid data never crash. Reach data of every size from 0 upward, one to three sites,
ties, constant columns, a group nobody is in, a variable nobody answered, a level nobody chose:
each stage-02 table function (and the statistics under it) returns, without an exception, a
table in which every statistic is a number or carries a reason in ``not_estimable``. Fast on
purpose: few examples, small Monte Carlo and bootstrap sizes (the numbers themselves are checked
against oracles in test_reach.py and tests/test_stats_*.py).
"""

from __future__ import annotations

import copy
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from analysis import cbs, codebook, reach  # noqa: E402
from analysis.stats import compare, proportions, representativeness  # noqa: E402

CB = codebook.load()
SPEC = reach.spec()
S = copy.deepcopy(SPEC)
S["table1"]["fisher_resamples"] = 100          # speed: the Monte Carlo p is not what is checked here
S["r_indicator"] = {**S["r_indicator"], "bootstrap_resamples": 29}
REF = cbs.read_reference()
REASONS = list(CB.multi_columns("reasons"))
HEARD = list(CB.multi_columns("heard"))
CATEGORICAL = [v for v in SPEC["table1"]["categorical"] if v not in SPEC["derived"]]
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _codes(var):
    return list(CB.codes(var))


@st.composite
def reach_data(draw, max_size=25):
    """A reach table as notebook 01 writes it: sizes 0..max_size, often degenerate."""
    n = draw(st.integers(0, max_size))
    sites = draw(st.lists(st.sampled_from(["DH", "LH", "PS"]), min_size=1, max_size=3, unique=True))
    rows = {"respondent_id": [f"R{i}" for i in range(n)],
            "site": draw(st.lists(st.sampled_from(sites), min_size=n, max_size=n))}
    reached = st.sampled_from([True, False, None]) if draw(st.booleans()) else st.just(draw(st.booleans()))
    rows["reached"] = pd.array(draw(st.lists(reached, min_size=n, max_size=n)), dtype="boolean")
    for var in CATEGORICAL:
        # a constant column, a column nobody answered, or a random one (levels nobody chose are common)
        kind = draw(st.sampled_from(["random", "constant", "missing"]))
        if kind == "constant":
            value = draw(st.sampled_from(_codes(var)))
            rows[var] = [value] * n
        elif kind == "missing":
            rows[var] = [None] * n
        else:
            rows[var] = draw(st.lists(st.sampled_from(_codes(var) + [None]), min_size=n, max_size=n))
    rows["age"] = pd.array(draw(st.lists(st.one_of(st.none(), st.integers(18, 99)), min_size=n, max_size=n)), dtype="Int64")
    rows["djg_total"] = pd.array(draw(st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=n, max_size=n)),
                                 dtype="Int64")
    for cols in (HEARD, REASONS):
        answered = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        ticks = draw(st.lists(st.lists(st.booleans(), min_size=len(cols), max_size=len(cols)), min_size=n, max_size=n))
        for j, c in enumerate(cols):
            rows[c] = pd.array([t[j] if a else None for t, a in zip(ticks, answered)], dtype="boolean")
    return pd.DataFrame(rows)


@st.composite
def proxy_data(draw, max_size=10):
    n = draw(st.integers(0, max_size))
    rows = {"site": draw(st.lists(st.sampled_from(["DH", "LH", "PS"]), min_size=n, max_size=n)),
            "would_like": draw(st.lists(st.sampled_from(_codes("would_like") + [None]), min_size=n, max_size=n))}
    answered = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    for c in REASONS:
        rows[c] = pd.array([draw(st.booleans()) if a else None for a in answered], dtype="boolean")
    return pd.DataFrame(rows)


def _numbers_or_reasons(table, value_cols, what):
    """Every row: each of ``value_cols`` is a finite-or-infinite number, or the row has a reason."""
    reason = table["not_estimable"].fillna("").astype(str)
    for col in value_cols:
        v = pd.to_numeric(table[col], errors="coerce")
        bad = v.isna() & (reason == "")
        assert not bad.any(), f"{what}: {col} is NaN without a reason in rows {list(table.index[bad])[:5]}"
    for r in reason[reason != ""]:
        reach.not_estimable_nl(r, SPEC)  # every reason starts with an agreed key (raises otherwise)


def _model_stub(n_used):
    # reach_model belongs to another helper; summary() must accept a model table with reasons
    return pd.DataFrame({"model": ["site_fixed"], "term": ["lonely"], "covariate": ["lonely"], "label": ["eenzaam"],
                         "odds_ratio": [np.nan], "ci_low": [np.nan], "ci_high": [np.nan], "p": [np.nan],
                         "log_or": [np.nan], "n_used": [n_used], "n_dropped": [0],
                         "not_estimable": ["too few respondents: stub"]})


# 20 examples: each runs Table 1 per site and pooled (~1 s), the suite must stay under 10 minutes
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=reach_data(), proxy=proxy_data())
def test_every_stage02_table_completes(data, proxy, tmp_path_factory):
    before = data.copy()
    d = reach.prepare(data, S, CB)
    assert len(d) == int(data["reached"].notna().sum())
    counts = reach.reach_counts(data, S, CB)
    assert counts.loc[counts["site"] == "all", "n"].item() == len(d)
    _numbers_or_reasons(counts, ["share", "ci_low", "ci_high"], "reach_counts")
    t1 = reach.table1_by_site(data, S, CB)
    _numbers_or_reasons(t1, ["p", "smd"], "table1")
    disp = reach.table1_display(t1, counts, S)
    # a p-value is shown exactly when its test ran, and then its test's name stands beside it
    firsts = disp[disp["Toets"] != ""]
    assert (firsts["p"].eq("–") == firsts["Toets"].str.startswith("niet getoetst")).all()
    assert not (disp["Toets"].str.startswith("niet getoetst:") & disp["Toetswaarde"].ne("")).any()
    rep = reach.representation(data, REF, S, CB)
    assert (rep["ratio"].notna() == (rep["n"] > 0)).all()
    sites = reach.site_codes(data["site"], CB)
    nc = reach.not_compared(REF, sites, S, CB)
    assert set(nc["site"]) <= set(sites)
    ri = reach.r_indicators(data, S, CB)
    _numbers_or_reasons(ri, ["r_indicator", "ci_low", "ci_high"], "r_indicator")
    rs = reach.reasons(data, proxy, S, CB)
    wl = reach.would_like(proxy, S, CB)
    hd = reach.heard(data, S, CB)
    for name, t in (("reasons", rs), ("would_like", wl), ("heard", hd)):
        _numbers_or_reasons(t, ["share", "ci_low", "ci_high"], name)
    summ = reach.summary(counts, _model_stub(len(d)), ri, rs, wl, S)
    assert summ["key"].is_unique
    ne = reach.not_estimable_table(t1, ri, rs, wl, hd, None, S)
    assert reach.not_estimable_text(ne)
    out = tmp_path_factory.mktemp("props")
    for name, frame in (("reach_counts", counts), ("reach_table1", t1), ("reach_table1_display", disp),
                        ("reach_representation", rep), ("reach_cbs_not_compared", nc), ("reach_r_indicator", ri),
                        ("reach_reasons", rs), ("reach_would_like", wl), ("reach_heard", hd), ("reach_summary", summ),
                        ("reach_not_estimable", ne)):
        reach.suppress(frame, name, S)
        assert reach.publish(frame, name, out, S).is_file()
    pd.testing.assert_frame_equal(data, before)  # inputs untouched


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=reach_data(max_size=15), proxy=proxy_data(max_size=6))
def test_stage02_figures_complete(data, proxy):
    for fig in (reach.representation_figure(reach.representation(data, REF, S, CB), S),
                reach.reasons_figure(reach.reasons(data, proxy, S, CB), S),
                reach.heard_figure(reach.heard(data, S, CB), S)):
        assert fig.axes
        plt.close(fig)


@SETTINGS
@given(n_true=st.integers(0, 8), n_false=st.integers(0, 8), levels=st.integers(1, 3), values=st.data())
def test_compare_statistics_complete(n_true, n_false, levels, values):
    n = n_true + n_false
    g = [True] * n_true + [False] * n_false
    x = values.draw(st.lists(st.one_of(st.none(), st.sampled_from("abc"[:levels])), min_size=n, max_size=n))
    v = values.draw(st.lists(st.one_of(st.none(), st.integers(0, 3).map(float)), min_size=n, max_size=n))
    df = pd.DataFrame({"g": pd.Series(g, dtype=bool), "x": pd.Categorical(x, categories=list("abc")),
                       "v": pd.Series(v, dtype=float)})
    t = compare.table1(df, "g", ["x"], ["v"], nonnormal=[], groups=[True, False], n_resamples=100)
    _numbers_or_reasons(t, ["p", "smd"], "compare.table1")
    t2 = compare.table1(df, "g", ["x"], ["v"], nonnormal=["v"], groups=[True, False], n_resamples=100)
    _numbers_or_reasons(t2, ["p", "smd"], "compare.table1 (Mann-Whitney)")
    for smd in (compare.smd_categorical(df.loc[df.g, "x"], df.loc[~df.g, "x"], levels=list("abc")),
                compare.smd_continuous(df.loc[df.g, "v"], df.loc[~df.g, "v"])):
        assert isinstance(smd, float)


@SETTINGS
@given(k=st.integers(0, 30), extra=st.integers(0, 30), pop=st.floats(0.01, 1.0))
def test_proportions_complete(k, extra, pop):
    n = k + extra
    if n == 0:
        with pytest.raises(ValueError, match="at least 1"):
            proportions.wilson_ci(k, n)
        return
    w = proportions.wilson_ci(k, n).iloc[0]
    assert 0 <= w["ci_low"] <= w["share"] <= w["ci_high"] <= 1
    rr = proportions.representation_ratio(k, n, pop).iloc[0]
    assert rr["ci_low"] <= rr["ratio"] <= rr["ci_high"]
    df = pd.DataFrame({"a": pd.array([True] * k + [None] * extra, dtype="boolean")})
    ms = proportions.multiselect_shares(df, ["a"]).iloc[0]
    assert ms["n"] == k and (math.isnan(ms["share"]) == (k == 0))


@SETTINGS
@given(y=st.lists(st.integers(0, 1), min_size=0, max_size=30), data=st.data())
def test_r_indicator_fit_complete(y, data):
    a = data.draw(st.lists(st.sampled_from(["p", "q", "r"]), min_size=len(y), max_size=len(y)))
    b = data.draw(st.lists(st.sampled_from(["m", "v"]), min_size=len(y), max_size=len(y)))
    df = pd.DataFrame({"y": y, "a": a, "b": b})
    r = representativeness.r_indicator_fit(df, "y", ["a", "b"], n_boot=29, seed=1)
    _numbers_or_reasons(r, ["r_indicator", "ci_low", "ci_high"], "r_indicator_fit")
    ok = r["r_indicator"].notna()
    assert (r.loc[ok, "r_indicator"] <= 1 + 1e-12).all()
