"""Proportions with Wilson score intervals, multi-select shares and representation ratios.

Used by notebook 02 (STUDY.md section 6, "02 reach"): reasons for not coming (non-visitors and
proxy reports), how visitors heard of the krachtpunt, and visitors compared with the CBS
neighbourhood population.

=============================  ===============================================================
function                       returns (columns)
=============================  ===============================================================
:func:`wilson_ci`              ``n``, ``k``, ``share``, ``ci_low``, ``ci_high``
:func:`multiselect_shares`     [``by``], ``option``, ``n``, ``k``, ``share``, ``ci_low``,
                               ``ci_high``, ``n_missing``
:func:`representation_ratio`   ``n``, ``k``, ``share``, ``population_share``, ``ratio``,
                               ``ci_low``, ``ci_high``
:func:`representation_ratios`  [``by``], ``level``, then as :func:`representation_ratio`,
                               plus ``n_missing``
=============================  ===============================================================

Shares are proportions between 0 and 1, unrounded; :mod:`analysis.fmt` turns them into
Dutch percentages at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["wilson_ci", "multiselect_shares", "representation_ratio", "representation_ratios"]


def _z(confidence: float) -> float:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ValueError(f"confidence must be a number between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _wilson_bounds(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score bounds; exact 0 at k = 0 and exact 1 at k = n, as the formula gives."""
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(k == 0, 0.0, centre - half)
    high = np.where(k == n, 1.0, centre + half)
    return low, high


def _counts(k, n) -> tuple[np.ndarray, np.ndarray]:
    k_arr = np.atleast_1d(np.asarray(k, dtype=float))
    n_arr = np.atleast_1d(np.asarray(n, dtype=float))
    if k_arr.shape != n_arr.shape:
        raise ValueError(f"k and n must have the same length, got {k_arr.shape} and {n_arr.shape}.")
    if np.isnan(k_arr).any() or np.isnan(n_arr).any():
        raise ValueError("k and n must not be missing; drop those rows first.")
    if (k_arr != np.round(k_arr)).any() or (n_arr != np.round(n_arr)).any():
        raise ValueError("k and n must be whole numbers (counts of respondents).")
    if (n_arr < 1).any():
        raise ValueError("n must be at least 1: a share of nobody has no confidence interval.")
    if (k_arr < 0).any() or (k_arr > n_arr).any():
        raise ValueError("k must lie between 0 and n.")
    return k_arr, n_arr


def wilson_ci(k, n, confidence: float = 0.95) -> pd.DataFrame:
    """Share ``k / n`` with its Wilson score confidence interval.

    Parameters
    ----------
    k : int or array_like of int
        Number of respondents with the characteristic.
    n : int or array_like of int
        Number of respondents asked (the denominator), at least 1.
    confidence : float, default 0.95
        Confidence level of the two-sided interval.

    Returns
    -------
    pandas.DataFrame
        One row per element of ``k``: ``n``, ``k`` (integers), ``share`` (``k / n``),
        ``ci_low``, ``ci_high`` (Wilson bounds). Unrounded.

    Notes
    -----
    The Wilson (1927) score interval inverts the score test of the proportion:

    .. math::

        \\frac{\\hat p + z^2/(2n) \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/(4n^2)}}{1 + z^2/n}

    with :math:`z` the :math:`(1+\\text{confidence})/2` normal quantile. It stays inside [0, 1]
    and keeps close to nominal coverage for small ``n`` and shares near 0 or 1, which is why
    Newcombe (1998) and Brown, Cai & DasGupta (2001) recommend it over the Wald interval.
    No continuity correction (Newcombe's method 3). At ``k = 0`` the lower bound is exactly 0
    and at ``k = n`` the upper bound exactly 1 (the formula's values, set exactly to avoid
    rounding noise). Same numbers as ``statsmodels.stats.proportion.proportion_confint(k, n,
    method="wilson")``; own code so that arrays of counts give a tidy table in one call.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
       inference. *Journal of the American Statistical Association*, 22(158), 209-212.
    .. [2] Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion:
       comparison of seven methods. *Statistics in Medicine*, 17(8), 857-872 (Table II,
       method 3).
    .. [3] Brown, L. D., Cai, T. T., & DasGupta, A. (2001). Interval estimation for a binomial
       proportion. *Statistical Science*, 16(2), 101-133.

    Examples
    --------
    Newcombe (1998), Table II, example (a): 81 of 263, interval 0.2553 to 0.3662.

    >>> from analysis.stats.proportions import wilson_ci
    >>> wilson_ci(81, 263).round(4)
         n   k  share  ci_low  ci_high
    0  263  81  0.308  0.2553   0.3662
    """
    z = _z(confidence)
    k_arr, n_arr = _counts(k, n)
    low, high = _wilson_bounds(k_arr, n_arr, z)
    return pd.DataFrame(
        {
            "n": n_arr.astype("int64"),
            "k": k_arr.astype("int64"),
            "share": k_arr / n_arr,
            "ci_low": low,
            "ci_high": high,
        }
    )


def _check_frame(data, columns: Sequence[str], what: str) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what}: data must be a pandas DataFrame, got {type(data).__name__}.")
    if isinstance(columns, str):
        raise ValueError(f"{what}: pass a list of column names, not one string.")
    columns = list(columns)
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{what}: columns not in data: {missing}.")
    return columns


def _as_bool_option(s: pd.Series) -> pd.Series:
    """Option column as nullable boolean; anything but True/False/1/0/missing is an error."""
    allowed = {True, False}
    bad = [v for v in s.dropna().unique() if v not in allowed]
    if bad:
        raise ValueError(
            f"multiselect_shares: option column {s.name!r} has values {bad[:5]!r}; each option "
            "must be a boolean column (True = ticked, False = not ticked, missing = question "
            "not answered). Recode it in cleaning."
        )
    return s.astype("boolean")


def multiselect_shares(
    data: pd.DataFrame,
    options: Sequence[str],
    by: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Share of respondents who ticked each option of a multi-select question, with Wilson CIs.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent (or proxy report). Not modified.
    options : sequence of str
        The option columns, in the order the table should show them. Each is boolean:
        ``True`` ticked, ``False`` not ticked, missing = the question was not answered.
    by : str, optional
        Column to split by (e.g. ``"site"``); one block of rows per value, in sorted (or
        categorical) order. Rows with a missing ``by`` value raise ``ValueError``.
    confidence : float, default 0.95
        Confidence level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (``by`` value,) option: [``by``], ``option``, ``n`` (respondents who
        answered the question), ``k`` (who ticked the option), ``share`` = ``k / n``,
        ``ci_low``, ``ci_high`` (Wilson, see :func:`wilson_ci`), ``n_missing`` (rows that did
        not answer the question). A group in which nobody answered gives ``n = 0`` and missing
        share and bounds.

    Notes
    -----
    The denominator is everyone who answered the question, i.e. whose option columns are all
    non-missing; a respondent may tick several options, so shares do not add to 1. A row
    with all options missing did not answer and is counted in ``n_missing``. A row with
    some options missing and others not is inconsistent (cleaning should have filled the
    unticked options with ``False``) and raises ``ValueError`` rather than being guessed.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.proportions import multiselect_shares
    >>> df = pd.DataFrame({"flyer": [True, False, True, None],
    ...                    "buren": [True, True, False, None]})
    >>> multiselect_shares(df, ["flyer", "buren"])[["option", "n", "k", "n_missing"]]
      option  n  k  n_missing
    0  flyer  3  2          1
    1  buren  3  2          1
    """
    columns = _check_frame(data, options, "multiselect_shares")
    if not columns:
        raise ValueError("multiselect_shares: options is empty; pass the option columns.")
    if by is not None:
        _check_frame(data, [by], "multiselect_shares")
        if data[by].isna().any():
            raise ValueError(
                f"multiselect_shares: {data[by].isna().sum()} rows have a missing {by!r}; "
                "drop or recode them before splitting."
            )
    z = _z(confidence)
    opts = pd.DataFrame({c: _as_bool_option(data[c]) for c in columns}, index=data.index)
    n_na = opts.isna().sum(axis=1)
    partial = (n_na > 0) & (n_na < len(columns))
    if partial.any():
        raise ValueError(
            f"multiselect_shares: {int(partial.sum())} rows have some options missing and others "
            f"answered (first index {partial[partial].index[0]!r}); fill unticked options with "
            "False in cleaning."
        )
    answered = n_na == 0
    if by is None:
        groups = [(None, slice(None))]
    else:
        levels = _levels(data[by])
        groups = [(lv, (data[by] == lv).to_numpy()) for lv in levels]
    rows = []
    for lv, mask in groups:
        sub = opts[mask]
        ans = answered[mask]
        n = int(ans.sum())
        for c in columns:
            k = int(sub.loc[ans, c].sum())
            if n > 0:
                low, high = _wilson_bounds(np.array([k]), np.array([n]), z)
                share, lo, hi = k / n, float(low[0]), float(high[0])
            else:
                share = lo = hi = np.nan
            row = {"option": c, "n": n, "k": k, "share": share, "ci_low": lo, "ci_high": hi,
                   "n_missing": int((~ans).sum())}
            if by is not None:
                row = {by: lv, **row}
            rows.append(row)
    return pd.DataFrame(rows)


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().unique())
        return [c for c in s.cat.categories if c in present]
    return sorted(s.dropna().unique())


def representation_ratio(k, n, population_share, confidence: float = 0.95) -> pd.DataFrame:
    """Share of a group among visitors divided by its share in the neighbourhood population.

    Parameters
    ----------
    k : int or array_like of int
        Visitors in the group.
    n : int or array_like of int
        Visitors with a known value (denominator).
    population_share : float or array_like of float
        The group's share of the neighbourhood population (CBS Kerncijfers wijken en buurten),
        between 0 (exclusive) and 1. ``NaN`` where CBS gives no figure: the ratio is then
        missing, so the table shows which comparisons could not be made.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``n``, ``k``, ``share`` (``k / n``), ``population_share``, ``ratio`` (``share /
        population_share``), ``ci_low``, ``ci_high``. A ratio of 1 means the group is as
        common among visitors as in the neighbourhood; above 1 over-represented.

    Notes
    -----
    The CBS figure is a register count of the whole neighbourhood, so it is treated as known
    (no sampling error). The interval is then the Wilson interval of the visitor share
    (:func:`wilson_ci`) divided by the population share; it has the Wilson interval's
    coverage because dividing by a constant is monotone. If the CBS figure is itself an
    estimate (a survey-based or rounded figure), this interval is too narrow. The CBS year
    and the survey year may differ; the caller states both.

    Examples
    --------
    40 of 100 visitors are 65 or older, against 20% of the neighbourhood:

    >>> from analysis.stats.proportions import representation_ratio
    >>> representation_ratio(40, 100, 0.20)[["share", "ratio"]]
       share  ratio
    0    0.4    2.0
    """
    res = wilson_ci(k, n, confidence)
    pop = np.atleast_1d(np.asarray(population_share, dtype=float))
    if pop.shape != (len(res),) and pop.shape != (1,):
        raise ValueError(f"population_share must be one number or one per k, got shape {pop.shape}.")
    pop = np.broadcast_to(pop, (len(res),))
    known = ~np.isnan(pop)
    if ((pop[known] <= 0) | (pop[known] > 1)).any():
        raise ValueError(
            "population_share must be a proportion in (0, 1] (e.g. 0.23 for 23%), or NaN where "
            "CBS gives no figure."
        )
    out = res[["n", "k", "share"]].copy()
    out["population_share"] = pop
    out["ratio"] = res["share"] / pop
    out["ci_low"] = res["ci_low"] / pop
    out["ci_high"] = res["ci_high"] / pop
    return out


def representation_ratios(
    data: pd.DataFrame,
    column: str,
    population: Mapping,
    by: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Representation ratio of each level of a categorical variable among visitors.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per visitor (filter the reach data to reached respondents first). Not modified.
    column : str
        Categorical column whose levels are compared (e.g. ``"age_group"``).
    population : mapping
        Level -> population share (0-1), or, with ``by``, ``by`` value -> (level -> share).
        Every level that occurs in ``data`` must be a key; give ``NaN`` where CBS has no
        figure. Levels in the mapping that no visitor has get ``k = 0``.
    by : str, optional
        Column to split by (e.g. ``"site"``: each site has its own neighbourhood).
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        [``by``], ``level``, ``n``, ``k``, ``share``, ``population_share``, ``ratio``,
        ``ci_low``, ``ci_high``, ``n_missing`` (visitors with ``column`` missing, not in ``n``).

    Notes
    -----
    See :func:`representation_ratio`. The denominator ``n`` is the visitors with a known
    value. A level present in the data but absent from ``population`` raises ``ValueError``
    instead of being dropped, because dropping it would silently change what the shares mean.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.proportions import representation_ratios
    >>> visitors = pd.DataFrame({"gender": ["vrouw"] * 6 + ["man"] * 4})
    >>> representation_ratios(visitors, "gender", {"vrouw": 0.5, "man": 0.5})[
    ...     ["level", "n", "k", "ratio"]]
       level   n  k  ratio
    0  vrouw  10  6    1.2
    1    man  10  4    0.8
    """
    cols = [column] + ([by] if by is not None else [])
    _check_frame(data, cols, "representation_ratios")
    if not isinstance(population, Mapping):
        raise ValueError("representation_ratios: population must be a mapping level -> share.")
    if by is None:
        blocks = [(None, data[column], population)]
    else:
        if data[by].isna().any():
            raise ValueError(f"representation_ratios: rows with a missing {by!r}; drop them first.")
        blocks = []
        for lv in _levels(data[by]):
            if lv not in population or not isinstance(population[lv], Mapping):
                raise ValueError(
                    f"representation_ratios: population has no mapping for {by} = {lv!r}; with "
                    "`by`, pass {by value: {level: share}}."
                )
            blocks.append((lv, data.loc[data[by] == lv, column], population[lv]))
    frames = []
    for lv, values, pop in blocks:
        present = set(values.dropna().unique())
        unknown = sorted(map(str, present - set(pop)))
        if unknown:
            raise ValueError(
                f"representation_ratios: levels {unknown} of {column!r} are not in population"
                + (f" for {by} = {lv!r}" if by is not None else "")
                + "; add them (NaN share where CBS gives no figure)."
            )
        levels = list(pop)
        n = int(values.notna().sum())
        if n == 0:
            raise ValueError(
                f"representation_ratios: no visitor has a known {column!r}"
                + (f" for {by} = {lv!r}" if by is not None else "") + "."
            )
        k = [int((values == level).sum()) for level in levels]
        res = representation_ratio(k, [n] * len(levels), [pop[x] for x in levels], confidence)
        res.insert(0, "level", levels)
        res["n_missing"] = int(values.isna().sum())
        if by is not None:
            res.insert(0, by, lv)
        frames.append(res)
    return pd.concat(frames, ignore_index=True)
