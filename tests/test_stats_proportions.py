"""Tests for analysis.stats.proportions.

Oracles: Newcombe (1998) Table II (published, 4 decimals), statsmodels
``proportion_confint(method="wilson")`` (an independent implementation; second check), and hand
computations written out below.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from analysis.stats.proportions import (
    multiselect_shares,
    representation_ratio,
    representation_ratios,
    wilson_ci,
)


# Newcombe, R. G. (1998). Statistics in Medicine 17, 857-872, Table II, method 3 (score
# interval without continuity correction), 95% limits printed to 4 decimals.
NEWCOMBE_TABLE_II = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("k, n, low, high", NEWCOMBE_TABLE_II)
def test_wilson_newcombe_1998_table_ii(k, n, low, high):
    res = wilson_ci(k, n).iloc[0]
    assert res["ci_low"] == pytest.approx(low, abs=5e-5)
    assert res["ci_high"] == pytest.approx(high, abs=5e-5)
    assert res["share"] == k / n


def test_wilson_hand_symmetric_case():
    # Hand: k = 5, n = 10, z = 1.959964 (z^2 = 3.841459).
    # centre = (0.5 + z^2/20) / (1 + z^2/10) = 0.5 (symmetric)
    # half = z * sqrt(0.5*0.5/10 + z^2/400) / (1 + z^2/10)
    #      = 1.959964 * sqrt(0.025 + 0.0096036) / 1.3841459 = 0.3645936 / 1.3841459 = 0.2634069
    res = wilson_ci(5, 10).iloc[0]
    assert res["ci_low"] == pytest.approx(0.5 - 0.2634069, abs=1e-6)
    assert res["ci_high"] == pytest.approx(0.5 + 0.2634069, abs=1e-6)


def test_wilson_vectorised_matches_statsmodels_at_90_percent():
    # Second check: statsmodels' own Wilson implementation on the same counts.
    k = np.array([0, 1, 7, 50, 99, 100])
    n = np.array([5, 3, 20, 100, 100, 100])
    res = wilson_ci(k, n, confidence=0.90)
    low, high = proportion_confint(k, n, alpha=0.10, method="wilson")
    np.testing.assert_allclose(res["ci_low"], low, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res["ci_high"], high, rtol=1e-10, atol=1e-12)
    assert res["ci_low"].iloc[0] == 0.0 and res["ci_high"].iloc[-1] == 1.0


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), data=st.data())
def test_wilson_bounds_contain_share_and_stay_in_unit_interval(n, data):
    k = data.draw(st.integers(0, n))
    r = wilson_ci(k, n).iloc[0]
    assert 0.0 <= r["ci_low"] <= r["share"] <= r["ci_high"] <= 1.0


@pytest.mark.parametrize("k, n, msg", [(3, 0, "at least 1"), (5, 4, "between 0 and n"),
                                        (-1, 4, "between 0 and n"), (1.5, 4, "whole numbers"),
                                        (np.nan, 4, "missing")])
def test_wilson_bad_counts(k, n, msg):
    with pytest.raises(ValueError, match=msg):
        wilson_ci(k, n)


def test_wilson_bad_confidence():
    with pytest.raises(ValueError, match="confidence"):
        wilson_ci(1, 2, confidence=95)


# --------------------------------------------------------------------------------------------
# multi-select
# --------------------------------------------------------------------------------------------
@pytest.fixture
def heard():
    return pd.DataFrame({
        "site": ["DH"] * 5 + ["LH"] * 4,
        "flyer": [True, False, True, None, True, False, False, True, None],
        "buren": [True, True, False, None, False, True, True, True, None],
    })


def test_multiselect_shares_hand_counts(heard):
    before = heard.copy()
    out = multiselect_shares(heard, ["flyer", "buren"])
    pd.testing.assert_frame_equal(heard, before)  # input untouched
    # Hand: 7 answered (rows 3 and 8 answered nothing); flyer ticked 4 times, buren 5 times.
    assert out[["option", "n", "k", "n_missing"]].values.tolist() == [
        ["flyer", 7, 4, 2], ["buren", 7, 5, 2]]
    assert out["share"].tolist() == [4 / 7, 5 / 7]
    low, high = proportion_confint(4, 7, method="wilson")  # statsmodels' Wilson as oracle
    assert out.loc[0, "ci_low"] == pytest.approx(low) and out.loc[0, "ci_high"] == pytest.approx(high)


def test_multiselect_shares_by_site(heard):
    out = multiselect_shares(heard, ["flyer", "buren"], by="site")
    # Hand: DH 4 answered, flyer 3, buren 2, 1 missing; LH 3 answered, flyer 1, buren 3.
    assert out[["site", "option", "n", "k", "n_missing"]].values.tolist() == [
        ["DH", "flyer", 4, 3, 1], ["DH", "buren", 4, 2, 1],
        ["LH", "flyer", 3, 1, 1], ["LH", "buren", 3, 3, 1]]
    assert out.loc[3, "ci_high"] == 1.0


def test_multiselect_shares_group_without_answers_is_missing_not_zero():
    df = pd.DataFrame({"site": ["DH", "PS"], "a": [True, None], "b": [False, None]})
    out = multiselect_shares(df, ["a", "b"], by="site")
    ps = out[out.site == "PS"]
    assert (ps["n"] == 0).all() and ps["share"].isna().all()


def test_multiselect_shares_rejects_partial_rows_and_codes():
    with pytest.raises(ValueError, match="some options missing"):
        multiselect_shares(pd.DataFrame({"a": [True, None], "b": [False, True]}), ["a", "b"])
    with pytest.raises(ValueError, match="boolean column"):
        multiselect_shares(pd.DataFrame({"a": ["Y", ""], "b": [False, True]}), ["a", "b"])
    with pytest.raises(ValueError, match="not one string"):
        multiselect_shares(pd.DataFrame({"a": [True]}), "a")
    with pytest.raises(ValueError, match="missing 'site'"):
        multiselect_shares(pd.DataFrame({"a": [True], "site": [None]}), ["a"], by="site")


# --------------------------------------------------------------------------------------------
# representation ratios
# --------------------------------------------------------------------------------------------
def test_representation_ratio_hand_and_statsmodels():
    # Hand: 40 of 100 visitors vs 20% of the neighbourhood: ratio 0.40 / 0.20 = 2.0.
    # CI: Wilson interval of 40/100 (statsmodels as oracle) divided by the known 0.20.
    res = representation_ratio(40, 100, 0.20).iloc[0]
    assert res["ratio"] == pytest.approx(2.0)
    low, high = proportion_confint(40, 100, method="wilson")
    assert res["ci_low"] == pytest.approx(low / 0.20, rel=1e-10)
    assert res["ci_high"] == pytest.approx(high / 0.20, rel=1e-10)
    # Hand check of those bounds: 0.3094013 / 0.2 and 0.4979974 / 0.2.
    assert res["ci_low"] == pytest.approx(1.547007, abs=1e-5)
    assert res["ci_high"] == pytest.approx(2.489987, abs=1e-5)


def test_representation_ratio_unknown_population_share_gives_missing_ratio():
    res = representation_ratio([10, 5], [20, 20], [0.5, np.nan])
    assert res["ratio"].iloc[0] == pytest.approx(1.0)
    assert math.isnan(res["ratio"].iloc[1]) and math.isnan(res["ci_low"].iloc[1])
    with pytest.raises(ValueError, match="proportion"):
        representation_ratio(10, 20, 23.0)  # a percentage, not a proportion


def test_representation_ratios_per_site_hand():
    visitors = pd.DataFrame({
        "site": ["DH"] * 5 + ["LH"] * 4,
        "gender": ["vrouw", "vrouw", "vrouw", "man", None, "vrouw", "man", "man", "man"],
    })
    pop = {"DH": {"vrouw": 0.5, "man": 0.5}, "LH": {"vrouw": 0.52, "man": 0.48, "anders": np.nan}}
    out = representation_ratios(visitors, "gender", pop, by="site")
    # Hand: DH 4 known (1 missing): vrouw 3/4 -> 0.75/0.5 = 1.5, man 1/4 -> 0.5.
    #       LH 4 known: vrouw 1/4 -> 0.25/0.52 = 0.4807692, man 3/4 -> 0.75/0.48 = 1.5625, anders NaN.
    assert out[["site", "level", "n", "k", "n_missing"]].values.tolist() == [
        ["DH", "vrouw", 4, 3, 1], ["DH", "man", 4, 1, 1],
        ["LH", "vrouw", 4, 1, 0], ["LH", "man", 4, 3, 0], ["LH", "anders", 4, 0, 0]]
    np.testing.assert_allclose(out["ratio"].iloc[:4], [1.5, 0.5, 0.25 / 0.52, 1.5625])
    assert math.isnan(out["ratio"].iloc[4])


def test_representation_ratios_unknown_level_raises():
    visitors = pd.DataFrame({"gender": ["vrouw", "anders"]})
    with pytest.raises(ValueError, match=r"\['anders'\]"):
        representation_ratios(visitors, "gender", {"vrouw": 0.5, "man": 0.5})
