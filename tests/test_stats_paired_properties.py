"""Property-based tests (hypothesis) of analysis/stats/paired.py at every size (issue 15).

Every public statistic is called with generated data of every size from 0 upward, with ties,
zeros, constant columns and missing values. The properties, from the project's convention for
valid data: no exception other than a documented ``ValueError`` for invalid arguments, and
every row either has finite numbers or a non-empty ``not_estimable`` reason that starts with one
of the agreed keys. The numbers themselves are checked against oracles in test_stats_paired.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from analysis.stats.paired import (
    bootstrap_ci,
    cohen_dz,
    holm,
    minimum_detectable_effect,
    mixed_model_wave,
    paired_change,
    paired_t,
    rank_biserial,
    reliable_change,
    reliable_change_counts,
    wilcoxon_signed_rank,
)

KEYS = ("too few pairs", "too few respondents", "no variation", "separation", "empty group", "too few sites",
        "not enough events")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# values with many ties and zeros (integer scores), a few non-integers (item means), and
# occasionally a missing value
_value = hs.one_of(hs.integers(-3, 3).map(float), hs.sampled_from([7 / 3, 2.5, 1e-9, 40.0]),
                   hs.just(np.nan))


@hs.composite
def pairs(draw, max_n=9):
    """(x, y): T0 and T1 of n persons, n from 0; sometimes a constant column or no change."""
    n = draw(hs.integers(0, max_n))
    x = np.array(draw(hs.lists(_value, min_size=n, max_size=n)), dtype=float)
    kind = draw(hs.sampled_from(["free", "free", "same", "shift", "constant_x", "constant_y"]))
    if kind == "same":  # no one changed
        y = x.copy()
    elif kind == "shift":  # everyone changed by the same amount
        y = x + draw(hs.sampled_from([1.0, -2.0, 1 / 3]))
    else:
        y = np.array(draw(hs.lists(_value, min_size=n, max_size=n)), dtype=float)
        if kind == "constant_x":
            x = np.where(np.isnan(x), np.nan, 2.0)
        elif kind == "constant_y":
            y = np.where(np.isnan(y), np.nan, 2.0)
    return x, y


def assert_rows_numbers_or_reason(frame: pd.DataFrame, *, skip=()):
    """Every row: all numeric cells finite, or a reason that starts with a known key."""
    assert "not_estimable" in frame.columns
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c]) and c not in skip]
    for _, row in frame.iterrows():
        reason = row["not_estimable"]
        assert isinstance(reason, str)
        values = pd.to_numeric(row[numeric], errors="coerce").to_numpy(dtype=float)
        if reason:
            assert reason.startswith(KEYS), reason
        else:
            assert np.isfinite(values).all(), dict(zip(numeric, values))


def _complete(x, y):
    return int((~(np.isnan(x) | np.isnan(y))).sum())


@FAST
@given(pairs(), hs.sampled_from(["two-sided", "greater", "less"]))
def test_paired_t_any_size(xy, alternative):
    x, y = xy
    r = paired_t(x, y, alternative=alternative)
    assert len(r) == 1 and r.n.iloc[0] == _complete(x, y)
    assert_rows_numbers_or_reason(r)
    if r.n.iloc[0] < 2:
        assert r.not_estimable.iloc[0].startswith("too few pairs")


@FAST
@given(pairs(max_n=14), hs.sampled_from(["wilcox", "pratt"]), hs.sampled_from(["two-sided", "greater", "less"]))
def test_wilcoxon_any_size(xy, zero_method, alternative):
    x, y = xy
    r = wilcoxon_signed_rank(x, y, zero_method=zero_method, alternative=alternative)
    assert_rows_numbers_or_reason(r)
    p = r.p.iloc[0]
    assert np.isnan(p) or 0 <= p <= 1
    assert np.isnan(p) == (r.n_nonzero.iloc[0] == 0)


@FAST
@given(pairs(), hs.sampled_from([0.8, 0.95, 0.99]))
def test_cohen_dz_any_size(xy, level):
    x, y = xy
    r = cohen_dz(x, y, confidence_level=level)
    assert_rows_numbers_or_reason(r)
    row = r.iloc[0]
    if not row.not_estimable:
        assert row.ci_low <= row.dz <= row.ci_high


@FAST
@given(pairs(), hs.sampled_from(["wilcox", "pratt"]))
def test_rank_biserial_any_size(xy, zero_method):
    x, y = xy
    r = rank_biserial(x, y, zero_method=zero_method)
    assert_rows_numbers_or_reason(r)
    rb = r.rank_biserial.iloc[0]
    assert np.isnan(rb) or -1 <= rb <= 1


@FAST
@given(pairs(max_n=7), hs.sampled_from(["BCa", "percentile", "basic"]))
@pytest.mark.filterwarnings("ignore")  # scipy warns on degenerate bootstrap distributions
def test_bootstrap_any_size(xy, method):
    x, y = xy
    r = bootstrap_ci(x, y, statistic=["mean", "median", "dz", "rank_biserial"], ci_method=method,
                     n_resamples=199, seed=1)
    assert len(r) == 4
    assert_rows_numbers_or_reason(r)


@FAST
@given(pairs(max_n=7), hs.sampled_from(["wilcox", "pratt"]))
@pytest.mark.filterwarnings("ignore")
def test_paired_change_any_size(xy, zero_method):
    x, y = xy
    before = (x.copy(), y.copy())
    r = paired_change(x, y, zero_method=zero_method, median_ci_method="percentile", n_resamples=199, seed=1)
    np.testing.assert_array_equal(x, before[0])  # inputs not modified
    np.testing.assert_array_equal(y, before[1])
    assert len(r) == 1 and r.n_pairs.iloc[0] == _complete(x, y)
    assert_rows_numbers_or_reason(r)
    if r.n_pairs.iloc[0] < 2:
        assert r.not_estimable.iloc[0] == f"too few pairs (n = {r.n_pairs.iloc[0]}; at least 2 needed)"
        return
    # each part's reason is in the combined one
    parts = [paired_t(x, y), wilcoxon_signed_rank(x, y, zero_method=zero_method), cohen_dz(x, y)]
    for part in parts:
        assert part.not_estimable.iloc[0] in r.not_estimable.iloc[0]


@FAST
@given(hs.lists(hs.one_of(hs.floats(0, 1), hs.just(np.nan), hs.sampled_from([0.0, 1.0, 0.05])), max_size=20))
def test_holm_any_size(p):
    r = holm(p)
    assert len(r) == len(p)
    ok = ~np.isnan(np.asarray(p, dtype=float))
    adj = r.p_holm.to_numpy()
    # a missing p stays missing (its reason is in the table it came from); the others are
    # adjusted upwards, never above 1
    assert np.isnan(adj[~ok]).all() and np.isfinite(adj[ok]).all()
    assert (adj[ok] >= np.asarray(p, dtype=float)[ok] - 1e-15).all() and (adj[ok] <= 1).all()
    assert (r.m == ok.sum()).all()


@FAST
@given(pairs(), hs.sampled_from([None, 3.0]), hs.booleans())
def test_reliable_change_any_size(xy, sd_t0, higher_is_better):
    x, y = xy
    r = reliable_change(x, y, reliability=0.8, higher_is_better=higher_is_better, sd_t0=sd_t0)
    assert len(r) == len(x)
    assert_rows_numbers_or_reason(r)
    c = reliable_change_counts(r)
    assert len(c) == 3 and c.n.sum() == c.n_classified.iloc[0]
    assert_rows_numbers_or_reason(c)


@FAST
@given(hs.integers(0, 40), hs.sampled_from([0.05] + [0.05 / k for k in range(2, 21)]),
       hs.sampled_from([None, 4.0]), hs.sampled_from([0.8, 0.9]))
def test_mde_any_size(n, alpha, sd_change, power):
    r = minimum_detectable_effect(n, alpha=alpha, sd_change=sd_change, power=power)
    assert_rows_numbers_or_reason(r, skip=["sd_change", "change"] if sd_change is None else [])
    assert (r.not_estimable.iloc[0] == "") == (n >= 2)


@hs.composite
def long_tables(draw):
    """A long interview table: 0-8 persons, 1-3 sites, a wave missing or a missing outcome."""
    n = draw(hs.integers(0, 8))
    n_sites = draw(hs.integers(1, 3))
    rows = []
    for i in range(n):
        site = f"S{draw(hs.integers(1, n_sites))}"
        waves = draw(hs.sampled_from([("T0", "T1"), ("T0", "T1"), ("T0",), ("T1",)]))
        for w in waves:
            rows.append({"person": f"p{i}", "wave": w, "site": site, "score": draw(_value)})
    frame = pd.DataFrame(rows, columns=["person", "wave", "site", "score"])
    if draw(hs.booleans()) and len(frame):  # a constant outcome
        frame["score"] = frame["score"].where(frame["score"].isna(), 5.0)
    return frame


@FAST
@given(long_tables(), hs.booleans())
def test_mixed_model_any_size(data, with_site):
    before = data.copy()
    r = mixed_model_wave(data, "score", site="site" if with_site else None)
    pd.testing.assert_frame_equal(data, before)
    assert len(r) == 1
    assert_rows_numbers_or_reason(r, skip=[] if with_site else ["n_sites"])
    row = r.iloc[0]
    if not row.not_estimable:
        assert row.se > 0 and row.residual_variance > 0 and row.ci_t_low <= row.ci_low <= row.estimate


@settings(max_examples=40, deadline=None)
@given(hs.integers(0, 6), hs.integers(0, 6))
def test_invalid_arguments_still_raise(n, m):
    # unequal lengths are not paired data: ValueError, never a not-estimable row
    x, y = np.zeros(n), np.ones(m)
    if n == m:
        return
    for f in (paired_t, wilcoxon_signed_rank, cohen_dz, rank_biserial):
        with pytest.raises(ValueError, match="paired data need one T0 and one T1"):
            f(x, y)
    with pytest.raises(ValueError, match="paired data need one T0 and one T1"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            paired_change(x, y, n_resamples=199, seed=1)


@hs.composite
def nearly_constant_changes(draw):
    """Changes c + s * e with a small spread s (down to 1e-12 of c): large and huge t."""
    n = draw(hs.integers(2, 8))
    c = draw(hs.floats(-1e4, 1e4, allow_nan=False))
    s = draw(hs.sampled_from([1e-12, 1e-9, 1e-6, 1e-3, 0.1, 1.0])) * max(abs(c), 1.0)
    e = np.array(draw(hs.lists(hs.floats(-1, 1), min_size=n, max_size=n)))
    return np.zeros(n), c + s * e


@settings(max_examples=80, deadline=None)
@given(nearly_constant_changes(), hs.sampled_from([0.9, 0.95, 0.999]))
def test_cohen_dz_and_t_with_nearly_constant_changes(xy, level):
    # issue 15: the d_z interval must be finite for any finite t (here up to about 1e13)
    x, y = xy
    for r in (cohen_dz(x, y, confidence_level=level), paired_t(x, y, confidence_level=level)):
        assert_rows_numbers_or_reason(r)
    row = cohen_dz(x, y, confidence_level=level).iloc[0]
    if not row.not_estimable:
        assert row.ci_low <= row.dz <= row.ci_high
