"""Tests for analysis.fmt. Expected strings are written out by hand from the Dutch conventions
(decimal comma, point between thousands, en dash in ranges) and the rounding rule in
analysis.fmt.number (half away from zero on the printed decimal value)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import fmt


@pytest.mark.parametrize("x, decimals, expected", [
    (0.5, 1, "0,5"),
    (12.345, 2, "12,35"),      # half up on the decimal value 12.345 (binary is 12.3449999...)
    (2.675, 2, "2,68"),        # format() would give 2.67
    (0.125, 2, "0,13"),        # format() would give 0.12 (half to even)
    (-1.25, 1, "-1,3"),        # half away from zero
    (-0.04, 1, "0,0"),         # no "-0,0"
    (1234.56, 1, "1.234,6"),
    (1234567, 0, "1.234.567"),
    (999.96, 1, "1.000,0"),
    (42, 0, "42"),
    (np.int64(7), 0, "7"),
])
def test_number(x, decimals, expected):
    assert fmt.number(x, decimals) == expected


def test_number_options_and_errors():
    assert fmt.number(1234.5, 1, thousands="") == "1234,5"
    assert fmt.number(None) == "–" and fmt.number(np.nan) == "–" and fmt.number(pd.NA, na="") == ""
    for bad in ("12", True, float("inf")):
        with pytest.raises(ValueError):
            fmt.number(bad)
    with pytest.raises(ValueError, match="decimals"):
        fmt.number(1.0, -1)


def test_percent_and_n_pct():
    assert fmt.percent(12.345) == "12,3%"
    assert fmt.percent(0.123, proportion=True) == "12,3%"
    assert fmt.percent(0.5, 0, proportion=True) == "50%"
    assert fmt.percent(np.nan) == "–"
    assert fmt.n_pct(12, 34.5) == "12 (34,5%)"
    assert fmt.n_pct(1500, 100.0, 0) == "1.500 (100%)"


def test_mean_sd_median_iqr():
    assert fmt.mean_sd(45.23, 12.08) == "45,2 (12,1)"
    assert fmt.mean_sd(45.23, np.nan) == "45,2 (–)"  # one value: no SD
    assert fmt.median_iqr(12, 8, 15) == "12,0 [8,0–15,0]"
    assert fmt.median_iqr(3.25, 1.5, 4, 2) == "3,25 [1,50–4,00]"
    assert fmt.median_iqr(np.nan, 1, 2) == "–"


@pytest.mark.parametrize("p, expected", [
    (0.0, "< 0,001"),
    (0.0004, "< 0,001"),
    (0.000999, "< 0,001"),
    (0.001, "0,001"),
    (0.0012, "0,001"),
    (0.0456, "0,046"),
    (0.05, "0,050"),
    (0.9996, "1,000"),
    (1.0, "1,000"),
])
def test_pvalue(p, expected):
    assert fmt.pvalue(p) == expected


def test_pvalue_errors_and_missing():
    assert fmt.pvalue(np.nan) == "–"
    assert fmt.pvalue(0.00004, 4, threshold=0.0001) == "< 0,0001"
    with pytest.raises(ValueError, match="between 0 and 1"):
        fmt.pvalue(1.2)


def test_ci_and_estimate_ci():
    assert fmt.ci(0.981, 1.544) == "0,98–1,54"
    assert fmt.ci(-0.5, 1.2) == "-0,50 tot 1,20"
    assert fmt.ci(-2, -1, 0) == "-2 tot -1"
    assert fmt.ci(-0.001, 0.5) == "0,00–0,50"  # rounds to 0: no minus sign, so the dash is clear
    assert fmt.ci(np.nan, 1) == "–"
    assert fmt.estimate_ci(1.234, 0.98, 1.54) == "1,23 (0,98–1,54)"
    assert fmt.estimate_ci(1.5, 1.1, 2.0, 1) == "1,5 (1,1–2,0)"


# --------------------------------------------------------------------------------------------
# small-cell suppression
# --------------------------------------------------------------------------------------------
@pytest.fixture
def table():
    return pd.DataFrame({
        "level": ["a", "b", "c", "d", "e"],
        "n": [0, 1, 4, 5, 30],
        "pct": [0.0, 2.5, 10.0, 12.5, 75.0],
        "n_pct": ["0 (0,0%)", "1 (2,5%)", "4 (10,0%)", "5 (12,5%)", "30 (75,0%)"],
        "other": [1, 2, 3, 4, 5],
    })


def test_suppress_small_cells_rule(table):
    before = table.copy()
    out = fmt.suppress_small_cells(table, ["n"], derived={"n": ["pct", "n_pct"]})
    pd.testing.assert_frame_equal(table, before)  # input untouched
    # Rule: 0 shown, 1-4 replaced, 5 and up shown; derived columns follow their count.
    assert out["n"].tolist() == [0, "<5", "<5", 5, 30]
    assert out["pct"].tolist() == [0.0, "<5", "<5", 12.5, 75.0]
    assert out["n_pct"].tolist() == ["0 (0,0%)", "<5", "<5", "5 (12,5%)", "30 (75,0%)"]
    assert out["other"].tolist() == [1, 2, 3, 4, 5]  # not derived: untouched
    assert out["other"].dtype == table["other"].dtype


def test_suppress_small_cells_threshold_mark_and_shared_derived():
    t = pd.DataFrame({"k": [2, 12], "n": [20, 2], "share": [0.1, 6.0]})
    out = fmt.suppress_small_cells(t, ["k", "n"], min_cell=3, derived={"k": ["share"], "n": ["share"]},
                                   mark="x")
    # Hand: min_cell 3 -> counts 1-2 suppressed. Row 0: k=2 -> k and share; row 1: n=2 -> n and share.
    assert out.values.tolist() == [["x", 20, "x"], [12, "x", "x"]]


def test_suppress_small_cells_errors(table):
    with pytest.raises(ValueError, match="whole counts"):
        fmt.suppress_small_cells(table.assign(n=[0, 1.5, 4, 5, 30]), ["n"])
    with pytest.raises(ValueError, match="whole counts"):
        fmt.suppress_small_cells(table.assign(n=[0, None, 4, 5, 30]), ["n"])
    with pytest.raises(ValueError, match="not in table"):
        fmt.suppress_small_cells(table, ["n"], derived={"n": ["nope"]})
    with pytest.raises(ValueError, match="not in count_cols"):
        fmt.suppress_small_cells(table, ["n"], derived={"other": ["pct"]})
    with pytest.raises(ValueError, match="list of column names"):
        fmt.suppress_small_cells(table, "n")
