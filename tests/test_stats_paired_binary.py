"""Paired binary outcomes (analysis/stats/paired_binary.py).

Where each expected number comes from:
- Newcombe (1998), Stat Med 17:2635-2650, Table II, method 10 (hybrid score), examples (a)-(d):
  the four limits to 4 decimals as transcribed in the tests of the R package ``propint``
  (M. Papenberg, ``ci.two.dep.props``, "produces the results reported in Newcombe1998"); the
  paper itself could not be read offline. Example (c) is also derived by hand below, from the
  Wilson formula written out (not statsmodels' Wilson function that the module calls).
- Exact McNemar p-values counted by hand from the binomial distribution (written out), and
  scipy's ``binomtest`` (another library than the statsmodels call the module wraps).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

from analysis.stats import paired_binary as pb

# Newcombe (1998) Table II, method 10. Newcombe's table: e both yes, f yes at the first
# classification only, g yes at the second only, h neither; theta = (f - g) / n. Here the
# first classification is T1 (difference T1 - T0), so a = e, c = f, b = g, d = h.
NEWCOMBE_TABLE_II = [
    # (e, f, g, h), (lower, upper)
    ((36, 12, 2, 0), (0.0569, 0.3404)),
    ((18, 12, 2, 18), (0.0562, 0.3290)),
    ((53, 0, 0, 1), (-0.0729, 0.0729)),
    ((0, 30, 0, 0), (0.8395, 1.0)),
]


@pytest.mark.parametrize(("efgh", "limits"), NEWCOMBE_TABLE_II)
def test_newcombe_method_10_table_ii(efgh, limits):
    e, f, g, h = efgh
    r = pb.newcombe_paired_ci(e, g, f, h).iloc[0]
    assert r["difference"] == pytest.approx((f - g) / (e + f + g + h))
    # the paper prints 4 decimals
    assert r["ci_low"] == pytest.approx(limits[0], abs=5e-5)
    assert r["ci_high"] == pytest.approx(limits[1], abs=5e-5)
    assert r["not_estimable"] == ""


def test_newcombe_example_c_by_hand():
    # (e, f, g, h) = (53, 0, 0, 1): n = 54, both shares 53/54, difference 0.
    n, k, z = 54, 53, 1.959963984540054
    p = k / n
    # Wilson (1927): (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    centre, half = p + z**2 / (2 * n), z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    lo, hi = (centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n)
    # eh - fg = 53 > n/2 = 27, so phi = (53 - 27) / sqrt(53 * 1 * 53 * 1) = 26/53
    phi = 26 / 53
    dl, du = p - lo, hi - p
    lower = -math.sqrt(dl**2 - 2 * phi * dl * du + du**2)
    upper = math.sqrt(du**2 - 2 * phi * du * dl + dl**2)
    r = pb.newcombe_paired_ci(53, 0, 0, 1).iloc[0]
    assert r["phi"] == pytest.approx(phi)
    assert (r["ci_low"], r["ci_high"]) == (pytest.approx(lower), pytest.approx(upper))
    assert r["ci_low"] == pytest.approx(-0.0729, abs=5e-5)


def test_phi_zero_band_and_negative_branch():
    # eh - fg between 0 and n/2: phi = 0 (Newcombe's correction); eh < fg: phi = (eh - fg)/sqrt(...)
    # (e, f, g, h) = (2, 3, 3, 4): eh - fg = 8 - 9 = -1 < 0 -> phi = -1 / sqrt(5 * 7 * 5 * 7) = -1/35
    assert pb.newcombe_paired_ci(2, 3, 3, 4).iloc[0]["phi"] == pytest.approx(-1 / 35)
    # (2, 1, 1, 2): eh - fg = 4 - 1 = 3 = n/2 -> phi = 0; (3, 1, 1, 3): 9 - 1 = 8 > 4 -> 4 / 16
    assert pb.newcombe_paired_ci(2, 1, 1, 2).iloc[0]["phi"] == 0.0
    assert pb.newcombe_paired_ci(3, 1, 1, 3).iloc[0]["phi"] == pytest.approx(0.25)
    # (5, 1, 1, 5): 25 - 1 = 24 > 6 -> phi = 18 / sqrt(6 * 6 * 6 * 6) = 0.5
    assert pb.newcombe_paired_ci(5, 1, 1, 5).iloc[0]["phi"] == pytest.approx(0.5)


@pytest.mark.parametrize(("b", "c"), [(1, 6), (6, 1), (2, 12), (3, 3), (0, 5), (0, 1)])
def test_mcnemar_exact_by_hand(b, c):
    n, k = b + c, min(b, c)
    # two-sided exact: 2 * sum_{j <= min(b, c)} C(n, j) / 2^n, capped at 1
    hand = min(1.0, 2 * sum(math.comb(n, j) for j in range(k + 1)) / 2**n)
    r = pb.mcnemar_exact(b, c).iloc[0]
    assert r["p"] == pytest.approx(hand)
    # scipy's binomial test (a different library from the statsmodels call the module uses)
    assert r["p"] == pytest.approx(st.binomtest(b, n, 0.5).pvalue)
    assert r["n_discordant"] == n and r["not_estimable"] == ""


def test_mcnemar_examples_written_out():
    # b = 1, c = 6: 2 * (C(7,0) + C(7,1)) / 128 = 2 * 8 / 128 = 0.125
    assert pb.mcnemar_exact(1, 6)["p"].iloc[0] == pytest.approx(0.125)
    # b = 2, c = 12: 2 * (1 + 14 + 91) / 16384 = 0.0129395
    assert pb.mcnemar_exact(2, 12)["p"].iloc[0] == pytest.approx(212 / 16384)


def test_no_discordant_pairs_is_not_estimable_for_the_test_only():
    r = pb.paired_proportions([1, 1, 0, 0], [1, 1, 0, 0]).iloc[0]
    assert np.isnan(r["p_mcnemar"]) and r["not_estimable"].startswith("no variation")
    # the interval still exists (Newcombe's interval does not collapse at b = c = 0)
    assert r["difference"] == 0 and r["ci_low"] < 0 < r["ci_high"]
    assert pb.mcnemar_exact(0, 0)["not_estimable"].iloc[0].startswith("no variation")


def test_no_pairs():
    r = pb.paired_proportions([], []).iloc[0]
    assert r["n_pairs"] == 0 and r["not_estimable"].startswith("too few pairs")
    assert np.isnan(r[["prop_t0", "prop_t1", "difference", "ci_low", "ci_high", "p_mcnemar"]].astype(float)).all()
    # all missing at one wave: no pairs either
    r = pb.paired_proportions([1, 0, None], [None, None, None]).iloc[0]
    assert r["n_pairs"] == 0 and r["n_excluded_missing"] == 3 and r["not_estimable"].startswith("too few pairs")


def test_table_counts_and_direction():
    # T0: 1 1 0 0 0 1; T1: 0 0 0 0 1 0 -> a = 0, b = 3 (T0 only), c = 1 (T1 only), d = 2
    r = pb.paired_proportions([1, 1, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0]).iloc[0]
    assert (r["n_both"], r["n_t0_only"], r["n_t1_only"], r["n_neither"]) == (0, 3, 1, 2)
    assert (r["prop_t0"], r["prop_t1"]) == (pytest.approx(3 / 6), pytest.approx(1 / 6))
    assert r["difference"] == pytest.approx(-2 / 6)  # T1 minus T0
    # 2 * (C(4,0) + C(4,1)) / 16 = 10/16
    assert r["p_mcnemar"] == pytest.approx(10 / 16)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="True/False"):
        pb.paired_table([1, 2], [0, 1])
    with pytest.raises(ValueError, match="paired"):
        pb.paired_table([1, 0, 1], [0, 1])
    with pytest.raises(ValueError, match="indexes"):
        pb.paired_table(pd.Series([1, 0], index=["a", "b"]), pd.Series([1, 0], index=["b", "a"]))
    with pytest.raises(ValueError, match="count"):
        pb.mcnemar_exact(-1, 2)
    with pytest.raises(ValueError, match="count"):
        pb.newcombe_paired_ci(1.5, 0, 0, 1)
    with pytest.raises(ValueError, match="confidence_level"):
        pb.newcombe_paired_ci(1, 1, 1, 1, confidence_level=95)


def test_inputs_not_modified():
    x = pd.Series([True, False, None, True], dtype=object)
    y = pd.Series([False, False, True, True], dtype=object)
    bx, by = x.copy(), y.copy()
    pb.paired_proportions(x, y)
    pd.testing.assert_series_equal(x, bx)
    pd.testing.assert_series_equal(y, by)


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.tuples(hs.sampled_from([0, 1, None]), hs.sampled_from([0, 1, None])), max_size=12))
def test_property_every_row_a_number_or_a_reason(pairs):
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    r = pb.paired_proportions(x, y).iloc[0]
    assert r["n_pairs"] + r["n_excluded_missing"] == len(pairs)
    for col in ("prop_t0", "prop_t1", "difference", "ci_low", "ci_high", "p_mcnemar"):
        assert np.isfinite(r[col]) or r["not_estimable"] != "", col
    if r["n_pairs"]:
        assert -1 <= r["ci_low"] <= r["difference"] <= r["ci_high"] <= 1
        assert np.isfinite(r["p_mcnemar"]) == (r["n_discordant"] > 0)
        if r["n_discordant"]:
            assert 0 < r["p_mcnemar"] <= 1
