"""Formatting at the edge: Dutch numbers for tables and text, and small-cell suppression.

The statistics functions return unrounded numbers; only this module turns them into text
(STYLE.md, point 4). Dutch conventions: decimal comma, a point between thousands, "%"
directly after the number, an en dash in ranges.

=============================  ===============================================================
function                       example output
=============================  ===============================================================
:func:`number`                 ``"1.234,6"``
:func:`percent`                ``"12,3%"``
:func:`n_pct`                  ``"12 (34,5%)"``
:func:`mean_sd`                ``"45,2 (12,1)"``
:func:`median_iqr`             ``"12,0 [8,0–15,0]"``
:func:`pvalue`                 ``"< 0,001"``, ``"0,046"``
:func:`ci`                     ``"0,98–1,54"``
:func:`estimate_ci`            ``"1,23 (0,98–1,54)"``
:func:`suppress_small_cells`   a copy of a table with counts 1-4 (and what derives from them)
                               replaced by ``"<5"``
=============================  ===============================================================

Missing values (None/NaN) print as ``na`` (default an en dash "–").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

__all__ = [
    "NA",
    "number",
    "percent",
    "n_pct",
    "mean_sd",
    "median_iqr",
    "pvalue",
    "ci",
    "estimate_ci",
    "suppress_small_cells",
]

#: What a missing value prints as.
NA = "–"
_DASH = "–"  # en dash, for ranges


def _is_missing(x) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return bool(np.isnan(x))
    except TypeError:
        return False


def _real(x, what: str) -> float:
    if isinstance(x, (bool, np.bool_)) or isinstance(x, str):
        raise ValueError(f"{what}: expected a number, got {x!r}.")
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected a number, got {x!r}.") from None
    if math.isinf(value):
        raise ValueError(f"{what}: cannot format an infinite value.")
    return value


def number(x, decimals: int = 1, *, thousands: str = ".", na: str = NA) -> str:
    """A number with a decimal comma, rounded half away from zero.

    Parameters
    ----------
    x : float or int
        The number; None/NaN gives ``na``.
    decimals : int, default 1
        Digits after the comma (0 for counts).
    thousands : str, default "."
        Separator between groups of three digits, used from 1000 on; ``""`` for none.
    na : str, default "–"

    Returns
    -------
    str

    Notes
    -----
    Rounds the shortest decimal representation of ``x`` (its ``repr``) half away from zero,
    as a reader rounding the printed number would: 2.675 gives "2,68" (Python's
    ``format`` gives "2.67" because the binary value lies just below 2.675, and rounds
    0.125 to "0.12", half to even). A result that rounds to zero loses its minus sign
    ("0,0", not "-0,0"). Negative numbers use a hyphen-minus.

    Examples
    --------
    >>> from analysis.fmt import number
    >>> number(1234.56)
    '1.234,6'
    >>> number(2.675, 2), number(0.125, 2), number(-0.04), number(float("nan"))
    ('2,68', '0,13', '0,0', '–')
    """
    if _is_missing(x):
        return na
    value = _real(x, "number")
    if not isinstance(decimals, (int, np.integer)) or decimals < 0:
        raise ValueError(f"number: decimals must be a whole number >= 0, got {decimals!r}.")
    q = Decimal(repr(value)).quantize(Decimal(1).scaleb(-int(decimals)), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)
    text = f"{q:,.{int(decimals)}f}"  # e.g. "-1,234.6"
    return text.replace(",", "\0").replace(".", ",").replace("\0", thousands)


def percent(x, decimals: int = 1, *, proportion: bool = False, na: str = NA) -> str:
    """A percentage, "12,3%".

    Parameters
    ----------
    x : float
        The percentage (0-100), or with ``proportion=True`` a proportion (0-1).
    decimals : int, default 1
    proportion : bool, default False
        ``True`` when ``x`` is a share between 0 and 1 (as in :mod:`analysis.stats.proportions`);
        ``False`` when it is already a percentage (as ``pct`` in
        :func:`analysis.stats.compare.table1`). Explicit, so a share is never printed as 0,3%.
    na : str, default "–"

    Returns
    -------
    str

    Examples
    --------
    >>> from analysis.fmt import percent
    >>> percent(12.345), percent(0.5, 0, proportion=True)
    ('12,3%', '50%')
    """
    if _is_missing(x):
        return na
    value = _real(x, "percent") * (100 if proportion else 1)
    return number(value, decimals) + "%"


def n_pct(n, pct, decimals: int = 1, *, na: str = NA) -> str:
    """Count with percentage, "12 (34,5%)"; ``pct`` is a percentage (0-100).

    Examples
    --------
    >>> from analysis.fmt import n_pct
    >>> n_pct(12, 34.5)
    '12 (34,5%)'
    """
    if _is_missing(n):
        return na
    return f"{number(n, 0)} ({percent(pct, decimals, na=na)})"


def mean_sd(mean, sd, decimals: int = 1, *, na: str = NA) -> str:
    """Mean with standard deviation, "45,2 (12,1)".

    Examples
    --------
    >>> from analysis.fmt import mean_sd
    >>> mean_sd(45.23, 12.08)
    '45,2 (12,1)'
    """
    if _is_missing(mean):
        return na
    return f"{number(mean, decimals)} ({number(sd, decimals, na=na)})"


def median_iqr(median, q1, q3, decimals: int = 1, *, na: str = NA) -> str:
    """Median with first and third quartile, "12,0 [8,0–15,0]".

    Examples
    --------
    >>> from analysis.fmt import median_iqr
    >>> median_iqr(12, 8, 15)
    '12,0 [8,0–15,0]'
    """
    if _is_missing(median):
        return na
    return f"{number(median, decimals)} [{ci(q1, q3, decimals, na=na)}]"


def pvalue(p, decimals: int = 3, *, threshold: float = 0.001, na: str = NA) -> str:
    """A p-value, "0,046", or "< 0,001" below ``threshold``.

    Parameters
    ----------
    p : float
        Between 0 and 1; otherwise ``ValueError``.
    decimals : int, default 3
    threshold : float, default 0.001
        Smaller p-values print as "< 0,001" (APA style, with a Dutch comma).
    na : str, default "–"
        For a test that was not done.

    Notes
    -----
    A p-value that rounds up to the threshold prints as the threshold ("0,001" for
    p = 0.0012), never as "0,000".

    Examples
    --------
    >>> from analysis.fmt import pvalue
    >>> pvalue(0.0004), pvalue(0.0456), pvalue(0.5)
    ('< 0,001', '0,046', '0,500')
    """
    if _is_missing(p):
        return na
    value = _real(p, "pvalue")
    if not 0 <= value <= 1:
        raise ValueError(f"pvalue: a p-value lies between 0 and 1, got {value!r}.")
    if value < threshold:
        return "< " + number(threshold, decimals)
    return number(value, decimals)


def ci(low, high, decimals: int = 2, *, na: str = NA) -> str:
    """A confidence interval, "0,98–1,54" (or "-0,50 tot 1,20" when a bound is negative).

    Notes
    -----
    An en dash between two numbers reads as "to"; next to a minus sign it is ambiguous, so
    when either bound is negative the word "tot" is used instead.

    Examples
    --------
    >>> from analysis.fmt import ci
    >>> ci(0.981, 1.544), ci(-0.5, 1.2)
    ('0,98–1,54', '-0,50 tot 1,20')
    """
    if _is_missing(low) or _is_missing(high):
        return na
    lo, hi = _real(low, "ci"), _real(high, "ci")
    sep = " tot " if (number(lo, decimals).startswith("-") or hi < 0) else _DASH
    return f"{number(lo, decimals)}{sep}{number(hi, decimals)}"


def estimate_ci(estimate, low, high, decimals: int = 2, *, na: str = NA) -> str:
    """Estimate with its interval, "1,23 (0,98–1,54)".

    Examples
    --------
    >>> from analysis.fmt import estimate_ci
    >>> estimate_ci(1.234, 0.98, 1.54)
    '1,23 (0,98–1,54)'
    """
    if _is_missing(estimate):
        return na
    return f"{number(estimate, decimals)} ({ci(low, high, decimals, na=na)})"


def suppress_small_cells(
    table: pd.DataFrame,
    count_cols: Sequence[str],
    min_cell: int = 5,
    *,
    derived: Mapping[str, Sequence[str]] | None = None,
    mark: str | None = None,
) -> pd.DataFrame:
    """Replace small counts, and the figures derived from them, before a table is published.

    Parameters
    ----------
    table : pandas.DataFrame
        The table to publish, numeric or already formatted. Not modified.
    count_cols : sequence of str
        Columns holding counts of people (whole numbers >= 0, no missing values).
    min_cell : int, default 5
        Counts from 1 to ``min_cell - 1`` are suppressed (STUDY.md section 9: "cells under 5").
    derived : mapping, optional
        Count column -> the columns computed from it in the same row (its percentage, a
        formatted "n (%)" cell, a mean over those people...). They are suppressed wherever
        their count is. Several counts may share a derived column.
    mark : str, optional
        The replacement text; default ``f"<{min_cell}"``, i.e. ``"<5"``.

    Returns
    -------
    pandas.DataFrame
        A copy in which the suppressed cells hold ``mark``; affected columns become
        ``object`` dtype, others keep theirs.

    Notes
    -----
    **Zero is shown.** Counts of 1-4 are suppressed, 0 is not: a zero cell names no person, and
    hiding zeros would also hide structural zeros the reader needs (no "anders" in a site).
    Be aware that a zero can still disclose something about a *group* (if no visitor of a
    site is "niet eenzaam", every visitor there is lonely); such attribute disclosure is
    for the author to judge per table.

    **A derived "<5" is not "<5%".** In a percentage column ``mark`` means "based on fewer
    than 5 people", not "below 5 percent". Pass ``mark`` (or format the count and the
    percentage into one "n (%)" cell and list that as derived) if the table could be misread.

    **Primary suppression only.** A suppressed cell can often be recovered from a row or
    column total minus the other cells, or from the other tables. The published tables are
    protected against that by :func:`analysis.stats.disclosure.protect` (secondary
    suppression, over the ledgers of all tables of a stage); this function is the first step
    for a table outside those ledgers.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.fmt import suppress_small_cells
    >>> t = pd.DataFrame({"level": ["a", "b", "c"], "n": [12, 3, 0], "pct": [80.0, 20.0, 0.0]})
    >>> suppress_small_cells(t, ["n"], derived={"n": ["pct"]})
      level   n   pct
    0     a  12  80.0
    1     b  <5    <5
    2     c   0   0.0
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError("suppress_small_cells: table must be a DataFrame.")
    if isinstance(count_cols, str):
        raise ValueError("suppress_small_cells: count_cols must be a list of column names.")
    count_cols = list(count_cols)
    derived = {k: list(v) for k, v in (derived or {}).items()}
    if not isinstance(min_cell, (int, np.integer)) or min_cell < 1:
        raise ValueError("suppress_small_cells: min_cell must be a whole number >= 1.")
    stray = set(derived) - set(count_cols)
    if stray:
        raise ValueError(f"suppress_small_cells: derived keys {sorted(stray)} are not in count_cols.")
    absent = [c for c in count_cols + [c for v in derived.values() for c in v]
              if c not in table.columns]
    if absent:
        raise ValueError(f"suppress_small_cells: columns not in table: {absent}.")
    mark = f"<{min_cell}" if mark is None else mark
    out = table.copy()
    masks: dict[str, pd.Series] = {}
    for col in count_cols:
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() | (values < 0) | (values != values.round())
        if bad.any():
            raise ValueError(
                f"suppress_small_cells: {col!r} must hold whole counts >= 0 without missing "
                f"values; row {bad[bad].index[0]!r} has {table[col][bad].iloc[0]!r}."
            )
        small = (values >= 1) & (values < min_cell)
        masks[col] = masks.get(col, False) | small
        for dcol in derived.get(col, []):
            masks[dcol] = masks.get(dcol, False) | small
    for col, mask in masks.items():
        if mask.any():
            out[col] = out[col].astype(object)
            out.loc[mask, col] = mark
    return out
