"""Paired change between two waves (T0, T1) of the same persons (STUDY.md section 6, "03 paired").

Every function takes ``x`` = the T0 values and ``y`` = the T1 values of the same persons, in the
same order, and describes the change ``d = y - x`` (T1 minus T0). Each returns a tidy one-row
(or long) DataFrame with unrounded numbers; the columns are listed in each docstring. Every
p-value has the name of its test beside it.

Pairing rules (all functions): ``x`` and ``y`` must be one-dimensional and of equal length; when
both are pandas Series their indexes must be identical (pair by person first, e.g. from the
wide pairs table). Anything else raises ``ValueError`` -- there is no unpaired fallback. A pair
with a missing value at either wave is left out and counted in ``n_excluded_missing``.

Valid data of any size never raise (issue 15). A statistic that cannot be computed from them
-- too few pairs, no variation (e.g. no one changed), a single site -- is NaN and its row says
why in the string column ``not_estimable`` ("" when computed; otherwise a reason that starts
with a key such as "too few pairs" or "no variation", as the report expects). Invalid
arguments (unpaired or non-numeric input, unknown options, a level or alpha outside (0, 1))
still raise ``ValueError``. Each docstring lists its function's cases.

=================================  ==================================================
function                           what
=================================  ==================================================
:func:`paired_change`              everything below for one outcome, one row
:func:`paired_t`                   paired t-test with t-based CI of the mean change
:func:`wilcoxon_signed_rank`       Wilcoxon signed-rank test, exact for small n
:func:`cohen_dz`                   Cohen's d_z with noncentral-t CI
:func:`rank_biserial`              matched-pairs rank-biserial correlation (Kerby)
:func:`bootstrap_ci`               bootstrap CI of mean/median change, d_z, r_rb
:func:`holm`                       Holm step-down adjusted p-values
:func:`reliable_change`            Jacobson-Truax RCI per person
:func:`reliable_change_counts`     improved / unchanged / worse counts
:func:`minimum_detectable_effect`  smallest d_z (and change) detectable with n pairs
:func:`mixed_model_wave`           mixed-model (REML) sensitivity analysis, wave effect
=================================  ==================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats as st
import yaml
from scipy.optimize import brentq

from analysis.stats import threadwarnings
from analysis.stats.models import design_matrix

__all__ = [
    "paired_change",
    "paired_t",
    "wilcoxon_signed_rank",
    "cohen_dz",
    "rank_biserial",
    "bootstrap_ci",
    "holm",
    "load_reliability",
    "reliable_change",
    "reliable_change_counts",
    "minimum_detectable_effect",
    "mixed_model_wave",
]

RELIABILITY_FILE = Path(__file__).resolve().parent.parent / "reliability.yaml"

#: Above this many non-zero differences the Wilcoxon p-value uses the normal approximation
#: (method="auto"); at or below it the exact distribution is computed (see wilcoxon_signed_rank).
WILCOXON_EXACT_MAX = 200

#: Values resampled per vectorised call in :func:`bootstrap_ci` (scipy's ``batch``): batches that
#: stay in the CPU cache bound the bootstrap's memory and make it 1.2-1.5 times faster at 1,800
#: pairs than one 9,999 x n array; the resamples drawn are the same (tested).
BOOTSTRAP_BATCH_VALUES = 2**19

_ALTERNATIVES = ("two-sided", "greater", "less")
_ZERO_METHODS = ("wilcox", "pratt")
_CI_METHODS = ("BCa", "percentile", "basic")
_ZERO_LABEL = {"wilcox": "zeros dropped", "pratt": "zeros ranked (Pratt)"}


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _as_pairs(x, y) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate paired input; return complete pairs (as float copies) and the number left out."""
    for name, v in (("x", x), ("y", y)):
        if v is None:
            raise ValueError(f"{name} is None; give T0 values as x and T1 values as y (same persons, same order).")
        if isinstance(v, pd.DataFrame):
            raise ValueError(f"{name} is a DataFrame; pass one column (a Series) per wave.")
    if isinstance(x, pd.Series) and isinstance(y, pd.Series) and not x.index.equals(y.index):
        raise ValueError(
            "x and y are Series with different indexes, so they are not paired by person. "
            "Build the wide pairs table first (one row per person) and pass its T0 and T1 columns."
        )
    try:
        xa = np.asarray(pd.to_numeric(pd.Series(np.asarray(x, dtype=object).ravel()), errors="raise"), dtype=float)
        ya = np.asarray(pd.to_numeric(pd.Series(np.asarray(y, dtype=object).ravel()), errors="raise"), dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"x and y must be numeric: {exc}") from None
    if np.ndim(x) != 1 or np.ndim(y) != 1:
        raise ValueError(f"x and y must be one-dimensional (got {np.ndim(x)} and {np.ndim(y)} dimensions).")
    if xa.shape != ya.shape:
        raise ValueError(
            f"x has {xa.size} values and y has {ya.size}: paired data need one T0 and one T1 value per "
            "person. Pair by person first; an unpaired test is not a substitute."
        )
    if np.isinf(xa).any() or np.isinf(ya).any():
        raise ValueError("x and y must be finite (infinite value found).")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    return xa[keep], ya[keep], int((~keep).sum())


def _check_choice(value, allowed, name):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}.")


def _check_level(confidence_level):
    if not (0 < confidence_level < 1):
        raise ValueError(f"confidence_level must be between 0 and 1, got {confidence_level!r}.")


# Valid data never raise: a statistic that cannot be computed from them gets NaN and a reason in
# ``not_estimable`` (the project's convention: "" when computed, else a reason that starts with a
# key such as "too few pairs" or "no variation"). Invalid arguments still raise ValueError.
def _too_few(n: int, minimum: int) -> str:
    """The "too few pairs" reason, or "" when ``n >= minimum``."""
    return f"too few pairs (n = {n}; at least {minimum} needed)" if n < minimum else ""


def _no_variation(d: np.ndarray) -> str:
    """The "no variation" reason when every change is the same, else "".

    Equal up to floating-point rounding counts as equal (range at most 8 machine epsilons of
    the largest |change|): scores that are means of items give changes such as 1.0 and
    1.0000000000000002, whose SD of 1e-16 would make t and d_z about 1e16, numbers of rounding.
    """
    if d.size == 0:
        return ""
    scale = float(np.max(np.abs(d)))
    if float(np.ptp(d)) > 8 * np.finfo(float).eps * scale:
        return ""
    if scale == 0:
        return "no variation: no one changed (every change is 0)"
    return f"no variation: every pair changed by the same amount ({float(np.mean(d)):g})"


def _sd_underflow(d: np.ndarray) -> str:
    """The "no variation" reason when the changes vary but their SD underflows to 0, else "".

    Changes of about 1e-300 and less (never a score, but valid numbers) have squared
    deviations below the smallest double, so the SD is 0 while the changes differ.
    """
    if d.size >= 2 and not np.std(d, ddof=1) > 0:
        return (f"no variation: the changes (at most {float(np.max(np.abs(d))):.3g} in size) are too small for "
                "their SD in floating point")
    return ""


def _bootstrap_defaults(n_resamples, seed):
    """Resamples and seed: the arguments, else analysis/study.yaml (configuration, not code)."""
    if n_resamples is None or seed is None:
        from analysis.config import study

        cfg = study()["analysis"]
        n_resamples = cfg["bootstrap_resamples"] if n_resamples is None else n_resamples
        seed = cfg["seed"] if seed is None else seed
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive whole number, got {n_resamples!r}.")
    return int(n_resamples), int(seed)


# --------------------------------------------------------------------------------------------
# paired t-test
# --------------------------------------------------------------------------------------------
def paired_t(x, y, *, alternative: str = "two-sided", confidence_level: float = 0.95) -> pd.DataFrame:
    """Paired (Student) t-test of the mean change T1 - T0.

    Parameters
    ----------
    x, y : array-like
        T0 and T1 values of the same persons (see module docstring for the pairing rules).
    alternative : {"two-sided", "greater", "less"}
        "greater" tests mean change > 0 (T1 higher than T0).
    confidence_level : float
        Level of the two-sided t-based interval of the mean change.

    Returns
    -------
    pandas.DataFrame
        One row: ``test``, ``n``, ``n_excluded_missing``, ``mean_change``, ``sd_change``,
        ``se``, ``t``, ``df``, ``p``, ``alternative``, ``ci_low``, ``ci_high``,
        ``not_estimable`` ("" or the reason the test could not be computed).

    Notes
    -----
    With ``d = y - x``: ``t = mean(d) / (sd(d) / sqrt(n))``, ``df = n - 1``, ``sd`` with
    denominator ``n - 1``. Same as R ``t.test(y, x, paired = TRUE)`` (note the order: R
    subtracts its second argument). The interval is always two-sided
    (``mean(d) +/- t_{1-a/2, n-1} * se``), whatever ``alternative`` is; R reports a one-sided
    interval for a one-sided test. Pairs with a missing value are left out.

    Not estimable (NaN ``t``, ``p`` and interval, with the reason; no exception): fewer than 2
    pairs ("too few pairs"; ``mean_change`` is still the one change), or every change the same
    up to rounding ("no variation": SD 0, so t is undefined; R's ``t.test`` stops with "data
    are essentially constant"). Invalid arguments raise ``ValueError``.

    References
    ----------
    .. [1] Student (1908). The probable error of a mean. *Biometrika*, 6(1), 1-25.

    Examples
    --------
    >>> r = paired_t([1, 2, 3, 4], [2, 4, 3, 7])
    >>> r[["n", "mean_change", "t", "df"]]
       n  mean_change        t  df
    0  4          1.5  2.32379   3
    """
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    _check_level(confidence_level)
    x, y, n_missing = _as_pairs(x, y)
    n = x.size
    d = y - x
    reason = _too_few(n, 2) or _no_variation(d) or _sd_underflow(d)
    mean = float(d.mean()) if n else np.nan
    sd = float(d.std(ddof=1)) if n >= 2 else np.nan
    se = sd / np.sqrt(n) if n >= 2 else np.nan
    t = p = np.nan
    ci = (np.nan, np.nan)
    if not reason:
        res = st.ttest_rel(y, x, alternative=alternative)
        t, p = float(res.statistic), float(res.pvalue)
        ci = st.t.interval(confidence_level, n - 1, loc=mean, scale=se)
    return pd.DataFrame(
        {
            "test": "paired t-test",
            "n": n,
            "n_excluded_missing": n_missing,
            "mean_change": mean,
            "sd_change": sd,
            "se": se,
            "t": t,
            "df": n - 1 if n >= 2 else np.nan,
            "p": p,
            "alternative": alternative,
            "ci_low": ci[0],
            "ci_high": ci[1],
            "not_estimable": reason,
        },
        index=[0],
    )


# --------------------------------------------------------------------------------------------
# Wilcoxon signed-rank
# --------------------------------------------------------------------------------------------
def _signed_ranks(d: np.ndarray, zero_method: str):
    """Ranks of |d| (midranks for ties) and the masks of positive/negative differences."""
    if zero_method == "wilcox":
        d = d[d != 0]
    ranks = st.rankdata(np.abs(d), method="average")
    return d, ranks, d > 0, d < 0


def _signed_rank_null(signed_ranks2: np.ndarray) -> np.ndarray:
    """Exact null pmf of 2*W+ given the (doubled, integer) ranks of the non-zero differences.

    Under H0 each non-zero difference is positive or negative with probability 1/2,
    independently, given the observed absolute values (the permutation distribution of
    Wilcoxon's statistic, exact also with tied ranks). Its generating function is
    prod_i (1 + z^(2 r_i)) / 2; this convolves the factors one at a time. Own code because
    scipy's method="exact" uses the no-ties distribution, and enumerating 2^n sign patterns
    (scipy's permutation route) is exponential in n.
    """
    total = int(signed_ranks2.sum())
    pmf = np.zeros(total + 1)
    pmf[0] = 1.0
    top = 0
    for r in signed_ranks2.astype(int):
        new = 0.5 * pmf
        new[r : top + r + 1] += 0.5 * pmf[: top + 1]
        pmf = new
        top += r
    return pmf


def wilcoxon_signed_rank(
    x,
    y,
    *,
    zero_method: str = "wilcox",
    alternative: str = "two-sided",
    method: str = "auto",
) -> pd.DataFrame:
    """Wilcoxon signed-rank test of the change T1 - T0, exact for small n (also with ties).

    Parameters
    ----------
    x, y : array-like
        T0 and T1 values of the same persons.
    zero_method : {"wilcox", "pratt"}
        "wilcox" (default): zero differences are dropped before ranking (Wilcoxon 1945; what R's
        ``wilcox.test`` and scipy's default do). "pratt": zeros are ranked with the others and
        then left out of the statistic (Pratt 1959).
    alternative : {"two-sided", "greater", "less"}
        "greater": changes tend to be positive (T1 higher than T0).
    method : {"auto", "exact", "asymptotic"}
        "auto": exact when there are at most ``WILCOXON_EXACT_MAX`` (200) non-zero
        differences, otherwise the normal approximation.

    Returns
    -------
    pandas.DataFrame
        One row: ``test`` (test name with the method and zero handling), ``n``,
        ``n_excluded_missing``, ``n_zero``, ``n_nonzero``, ``ties`` (whether the absolute
        non-zero differences have ties), ``zero_method``, ``method`` ("exact", "exact,
        conditional on tied ranks", "exact, conditional on Pratt ranks" (zeros ranked, no
        ties) or "normal approximation, continuity-corrected"),
        ``r_plus`` (sum of ranks of positive changes, R's ``V`` for ``wilcox.test(y, x,
        paired = TRUE)``), ``r_minus``, ``p``, ``alternative``, ``not_estimable`` ("" or the
        reason ``p`` is NaN).

    Notes
    -----
    Ranks are midranks of ``|d|`` (ties share the average rank). The statistic is
    ``W+ = r_plus``.

    *Exact p-value.* Under H0 every non-zero difference is equally likely positive or negative,
    given the observed absolute values. The exact distribution of ``W+`` is computed by
    convolution over the observed (mid)ranks, so it is exact also when ranks are tied or zeros
    were dropped -- the permutation (conditional) distribution of Wilcoxon's statistic
    (Hollander, Wolfe & Chicken 2014, section 3.1; the "exact" distribution of R's
    ``coin::wilcoxsign_test``). Without ties or zeros it equals the classical signed-rank
    distribution (R ``psignrank``). Two-sided ``p = min(1, 2 * min(P(W+ <= w), P(W+ >= w)))``,
    as in R.

    *Deviations from R and scipy (1.17).* R's ``wilcox.test`` is exact only for n < 50 without
    ties or zeros and otherwise uses the normal approximation; this function stays exact with
    ties and zeros, so its p-value differs from R's there. scipy 1.17's ``method="exact"``
    uses the no-ties distribution and rounds a non-integer statistic conservatively (not exact
    with ties or zeros); its ``method="auto"`` switches, with ties or zeros, to a permutation
    test for n <= 13 (which equals the exact conditional p here) and to the normal approximation
    for larger n. Which method was used is reported in the ``method`` column.

    *Normal approximation* (more than 200 non-zero differences, or ``method="asymptotic"``):
    ``z = (W+ - E - c) / sqrt(V)`` with ``E = sum(r)/2`` and ``V = sum(r**2)/4`` over the
    ranks of the non-zero differences (this is the tie-corrected variance, and with "pratt"
    Cureton's correction for zeros) and continuity correction ``c = 0.5 * sign`` as R's
    default ``correct = TRUE`` (scipy's default is no correction).

    With no non-zero differences there is nothing to test: ``p`` is NaN and ``not_estimable``
    says "no variation: no one changed"; with no pairs at all it says "too few pairs". One
    non-zero difference is a valid (if powerless) exact test: two-sided p = 1. Invalid
    arguments raise ``ValueError``.

    References
    ----------
    .. [1] Wilcoxon, F. (1945). Individual comparisons by ranking methods. *Biometrics
       Bulletin*, 1(6), 80-83.
    .. [2] Pratt, J. W. (1959). Remarks on zeros and ties in the Wilcoxon signed rank
       procedures. *JASA*, 54(287), 655-667.
    .. [3] Hollander, M., Wolfe, D. A., & Chicken, E. (2014). *Nonparametric Statistical
       Methods* (3rd ed.). Wiley. (1st ed. 1973, p. 29: the example in R's ``?wilcox.test``.)

    Examples
    --------
    R's ``?wilcox.test`` example (Hollander & Wolfe 1973, p. 29). R computes x - y; the change
    here is y - x, so R's ``V = 40`` is ``r_minus`` and R's "greater" is "less" here:

    >>> x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    >>> y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    >>> r = wilcoxon_signed_rank(x, y, alternative="less")
    >>> r[["r_minus", "p", "method"]]
       r_minus         p method
    0     40.0  0.019531  exact
    """
    _check_choice(zero_method, _ZERO_METHODS, "zero_method")
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    _check_choice(method, ("auto", "exact", "asymptotic"), "method")
    x, y, n_missing = _as_pairs(x, y)
    n = x.size
    d_all = y - x
    n_zero = int((d_all == 0).sum())
    d, ranks, pos, neg = _signed_ranks(d_all, zero_method)
    nonzero = d != 0
    n_nonzero = int(nonzero.sum())
    r_plus = float(ranks[pos].sum())
    r_minus = float(ranks[neg].sum())
    r_nz = ranks[nonzero]
    ties = bool(np.unique(np.abs(d[nonzero])).size < n_nonzero)
    pratt_zeros = zero_method == "pratt" and n_zero > 0

    use = method
    if method == "auto":
        use = "exact" if n_nonzero <= WILCOXON_EXACT_MAX else "asymptotic"

    reason = _too_few(n, 1) or ("no variation: no one changed (every change is 0)" if n_nonzero == 0 else "")
    if n_nonzero == 0:
        p, label = np.nan, "no non-zero differences"
    elif use == "exact":
        ranks2 = np.rint(2 * r_nz).astype(int)
        pmf = _signed_rank_null(ranks2)
        w2 = int(np.rint(2 * r_plus))
        p_le = float(pmf[: w2 + 1].sum())
        p_ge = float(pmf[w2:].sum())
        p = {"greater": p_ge, "less": p_le}.get(alternative, min(1.0, 2 * min(p_le, p_ge)))
        p = min(p, 1.0)
        label = (
            "exact, conditional on tied ranks"
            if ties
            else ("exact, conditional on Pratt ranks" if pratt_zeros else "exact")
        )
    else:
        mean = r_nz.sum() / 2
        sd = np.sqrt((r_nz**2).sum() / 4)
        z0 = r_plus - mean
        corr = {"greater": 0.5, "less": -0.5}.get(alternative, 0.5 * np.sign(z0))
        z = (z0 - corr) / sd
        p = {"greater": st.norm.sf(z), "less": st.norm.cdf(z)}.get(alternative, 2 * st.norm.sf(abs(z)))
        p = float(min(p, 1.0))
        label = "normal approximation, continuity-corrected"
    return pd.DataFrame(
        {
            "test": f"Wilcoxon signed-rank test ({label}; {_ZERO_LABEL[zero_method]})",
            "n": n,
            "n_excluded_missing": n_missing,
            "n_zero": n_zero,
            "n_nonzero": n_nonzero,
            "ties": ties,
            "zero_method": zero_method,
            "method": label,
            "r_plus": r_plus if n else np.nan,
            "r_minus": r_minus if n else np.nan,
            "p": p,
            "alternative": alternative,
            "not_estimable": reason,
        },
        index=[0],
    )


# --------------------------------------------------------------------------------------------
# effect sizes
# --------------------------------------------------------------------------------------------
def _dz_stat(d, axis=-1):
    # zero SD of the changes: d_z undefined -> NaN (never +/-inf, which would break BCa)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.std(d, axis=axis, ddof=1)
        return np.where(sd > 0, np.mean(d, axis=axis) / np.where(sd > 0, sd, 1.0), np.nan)


def _change_codes(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct changes and each change's index among them (small integers).

    The bootstrap resamples these indices instead of the changes: the same persons are drawn
    (scipy draws indices either way), a resample of 2-byte integers moves a quarter of the
    memory, and every statistic of a resample follows from how often each distinct change
    occurs in it (:func:`_count_stats`).
    """
    values, code = np.unique(d, return_inverse=True)
    return values, code.astype(np.int16 if values.size < 2**15 else np.int32)


def _count_stats(values: np.ndarray, statistic: str | Sequence[str], zero_method: str = "wilcox"):
    """A vectorised bootstrap statistic of resampled :func:`_change_codes` (axis: the persons).

    ``statistic`` is one name or a sequence of names; for a sequence the values are stacked
    along a new first axis (scipy's vector-valued statistic), all from one count per resample.
    Own code because counting the ``k`` distinct changes per resample (one ``bincount``)
    replaces a pass over 9,999 x n floats per statistic and a sort per resample for ranks and
    medians: mean and d_z from the counts, the median from the cumulative counts (the mean of
    the two middle values when n is even, as ``numpy.median``), and the rank-biserial
    correlation from midranks of |d| (count below plus (count + 1) / 2; "wilcox": zeros get no
    rank, "pratt": zeros are ranked but signed 0). Checked against numpy and
    :func:`rank_biserial` on every resample in the tests.
    """
    names = [statistic] if isinstance(statistic, str) else list(statistic)
    k = values.size
    mags, mag_of = np.unique(np.abs(values), return_inverse=True)
    to_mag = np.zeros((k, mags.size))
    to_mag[np.arange(k), mag_of] = 1.0  # distinct change -> distinct |change|
    sign = np.sign(values)

    def one(name, counts, n):
        if name == "rank_biserial":
            ranked = counts if zero_method == "pratt" else counts * (sign != 0)
            per_mag = ranked @ to_mag
            midrank = np.cumsum(per_mag, axis=1) - per_mag + (per_mag + 1) / 2
            total = (per_mag * midrank).sum(axis=1)
            signed = ((counts * sign) @ to_mag * midrank).sum(axis=1)
            # every difference zero: R+ = R- = 0, defined as r_rb = 0 (no change)
            return np.where(total > 0, signed / np.where(total > 0, total, 1.0), 0.0)
        if name == "median":
            cum = np.cumsum(counts, axis=1)
            lo = np.argmax(cum > ((n - 1) // 2)[:, None], axis=1)
            hi = np.argmax(cum > (n // 2)[:, None], axis=1)
            return (values[lo] + values[hi]) / 2
        mean = counts @ values / n
        if name == "mean":
            return mean
        # dz; zero SD of the changes: undefined -> NaN (never +/-inf, which would break BCa)
        sd = np.sqrt((counts * (values[None, :] - mean[:, None]) ** 2).sum(axis=1) / (n - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.nan)

    def stat(c, axis=-1):
        c = np.moveaxis(np.asarray(c), axis, -1)
        rows = c.reshape(-1, c.shape[-1]).astype(np.intp)
        m = rows.shape[0]
        rows += k * np.arange(m)[:, None]
        counts = np.bincount(rows.ravel(), minlength=m * k).reshape(m, k).astype(float)
        n = counts.sum(axis=1)
        out = np.stack([one(name, counts, n).reshape(c.shape[:-1]) for name in names])
        return out[0] if isinstance(statistic, str) else out

    return stat


def cohen_dz(x, y, *, confidence_level: float = 0.95) -> pd.DataFrame:
    """Cohen's d_z for paired data (mean change / SD of the changes) with a noncentral-t CI.

    Parameters
    ----------
    x, y : array-like
        T0 and T1 values of the same persons.
    confidence_level : float
        Level of the two-sided interval.

    Returns
    -------
    pandas.DataFrame
        One row: ``n``, ``n_excluded_missing``, ``dz``, ``ci_low``, ``ci_high``,
        ``ci_method``, ``not_estimable`` ("" or the reason ``dz`` is NaN).

    Notes
    -----
    ``d_z = mean(d) / sd(d)`` with ``d = y - x`` and ``sd`` with denominator ``n - 1``
    (Cohen 1988, section 2.3.5; Lakens 2013, formula 6). No small-sample (Hedges) correction.
    Because ``t = d_z * sqrt(n)`` follows a noncentral t distribution with ``n - 1`` df and
    noncentrality ``delta_z * sqrt(n)``, the interval inverts that distribution: the limits
    ``lambda`` solve ``F_nct(t_obs; n - 1, lambda) = 1 - a/2`` and ``a/2`` and are divided by
    ``sqrt(n)`` (Steiger & Fouladi 1997; Cumming & Finch 2001). Exact under normality of the
    changes. The noncentral t is scipy's ``nct.sf`` for ``|t| <= 1e3`` and an integral over the
    chi distribution beyond (:func:`_nct_cdf_mixture`; scipy's ``nct.cdf`` returns NaN at small
    df and large t, e.g. 3 pairs and t = 40), and from ``|t| = 1e6`` the limits' asymptotic
    form, so the interval is finite for every finite t and every n >= 2.

    Not estimable (NaN ``dz`` and interval, with the reason; no exception): fewer than 2 pairs,
    or every change the same up to rounding (SD 0: ``d_z`` undefined), or changes so small
    (about 1e-300) that their SD underflows to 0. Invalid arguments raise ``ValueError``.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences* (2nd ed.).
    .. [2] Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative
       science. *Frontiers in Psychology*, 4, 863.
    .. [3] Cumming, G., & Finch, S. (2001). A primer on the understanding, use, and calculation
       of confidence intervals that are based on central and noncentral distributions.
       *Educational and Psychological Measurement*, 61(4), 532-574.

    Examples
    --------
    >>> r = cohen_dz([1, 2, 3, 4], [2, 4, 3, 7])
    >>> round(float(r["dz"].iloc[0]), 4)
    1.1619
    """
    _check_level(confidence_level)
    x, y, n_missing = _as_pairs(x, y)
    n = x.size
    d = y - x
    reason = _too_few(n, 2) or _no_variation(d) or _sd_underflow(d)
    dz = lo = hi = np.nan
    if not reason:
        dz = float(_dz_stat(d))
        lo, hi = _dz_ci(dz, n, confidence_level)
    return pd.DataFrame(
        {
            "n": n,
            "n_excluded_missing": n_missing,
            "dz": dz,
            "ci_low": lo,
            "ci_high": hi,
            "ci_method": "noncentral t",
            "not_estimable": reason,
        },
        index=[0],
    )


def _dz_ci(dz: float, n: int, level: float) -> tuple[float, float]:
    """Noncentral-t interval of d_z: the noncentrality limits of ``t = d_z sqrt(n)`` over sqrt(n).

    From ``|t| >= NCT_ASYMPTOTIC_T`` the limits are ``d_z`` times the asymptotic factors
    (computed on d_z, so that ``t`` itself cannot overflow).
    """
    if abs(dz) * np.sqrt(n) >= NCT_ASYMPTOTIC_T:
        c_low, c_high = _nct_asymptotic_factors(n - 1, level)
        return (dz * c_low, dz * c_high) if dz > 0 else (dz * c_high, dz * c_low)
    lo, hi = _nct_ci(dz * np.sqrt(n), n - 1, level)
    return lo / np.sqrt(n), hi / np.sqrt(n)


def _nct_cdf_mixture(t: float, df: int, lam: float) -> float:
    """``P(T <= t)`` for ``T`` noncentral t (``df``, ``lam``) and ``t >= 0``, by integration.

    ``T = (Z + lam) / (S / sqrt(df))`` with ``Z`` standard normal and ``S ~ chi(df)``, so
    ``P(T <= t) = E_S[Phi(t S / sqrt(df) - lam)]``, integrated with ``quad`` over the chi
    density, split where the normal cdf steps (``s0 = lam sqrt(df) / t``). Own code only as the
    fallback where scipy 1.17's ``nct`` (Boost) does not converge: at few df and ``t`` beyond
    about 1e5 (a nearly constant change), where the limits are about ``t`` times constants.
    """
    from scipy import integrate, special

    if t == 0:
        return float(st.norm.cdf(-lam))
    root_df = np.sqrt(df)
    logk = (1 - df / 2) * np.log(2) - special.gammaln(df / 2)

    def integrand(s):
        return special.ndtr(t * (s / root_df) - lam) * np.exp(logk + special.xlogy(df - 1, s) - s * s / 2)

    top = root_df + 40.0  # the chi density beyond is below 1e-300
    s0, w = lam / t * root_df, 10.0 * root_df / t
    knots = sorted({0.0, top, *(k for k in (s0 - w, s0, s0 + w) if 0 < k < top)})
    total = sum(integrate.quad(integrand, lo, hi, epsabs=1e-15, epsrel=1e-12, limit=200)[0]
                for lo, hi in zip(knots, knots[1:]))
    return float(min(1.0, max(0.0, total)))


#: Up to this |t| the d_z interval uses scipy's noncentral t; above it scipy 1.17 loses digits
#: (about 1e-8 at t = 1e4, 1e-6 at 1e5, tested) and :func:`_nct_cdf_mixture` is used.
NCT_SCIPY_MAX_T = 1e3
#: From this |t| on the limits are ``t * sqrt(chi2_q(df) / df)`` (relative error O(1/t^2)).
NCT_ASYMPTOTIC_T = 1e6


def _nct_cdf(t: float, df: int, lam: float) -> float:
    """``P(T <= t)`` for ``t >= 0``: ``1 - nct.sf`` up to ``NCT_SCIPY_MAX_T``, else the integral.

    ``1 - sf`` rather than scipy's ``nct.cdf``, which returns NaN or wrong values at small df
    far from the centre (e.g. 2 df, t = 40, noncentrality -40: NaN; issue 15); ``sf`` is
    accurate there (tested against the integral), and absolute accuracy is all the interval's
    targets (a/2, 1 - a/2) need. Where scipy warns that it did not converge, or returns NaN,
    :func:`_nct_cdf_mixture` is used as well.
    """
    if t > NCT_SCIPY_MAX_T:
        return _nct_cdf_mixture(t, df, lam)
    with threadwarnings.recorded() as caught:
        value = 1.0 - float(st.nct.sf(t, df, lam))
    if np.isfinite(value) and not any("did not converge" in str(w) for w in caught):
        return value
    return _nct_cdf_mixture(t, df, lam)


def _nct_asymptotic_factors(df: int, level: float) -> tuple[float, float]:
    """``(c_low, c_high)`` with limits ``t * c`` as ``t -> inf``: quantiles of ``chi(df)/sqrt(df)``.

    ``F(t; lam = c t) = E_S[Phi(t (S / sqrt(df) - c))] -> P(S / sqrt(df) >= c)``, so the limit
    solving ``F = 1 - a/2`` is ``c = sqrt(chi2_{a/2}(df) / df)`` and the other
    ``sqrt(chi2_{1-a/2}(df) / df)``.
    """
    a = 1 - level
    return float(np.sqrt(st.chi2.ppf(a / 2, df) / df)), float(np.sqrt(st.chi2.ppf(1 - a / 2, df) / df))


def _nct_ci(t_obs: float, df: int, level: float) -> tuple[float, float]:
    """Noncentrality limits (lambda_low, lambda_high) for an observed t (pivoting the CDF).

    Finite for every finite ``t_obs`` and ``df >= 1``: a negative t is reflected
    (``F(t; lam) = 1 - F(-t; -lam)``), the CDF is :func:`_nct_cdf`, the bracket is widened
    until it holds the root, and from ``|t| = NCT_ASYMPTOTIC_T`` on the limits are
    :func:`_nct_asymptotic_factors` times ``t``.
    """
    if not np.isfinite(t_obs):
        raise ValueError(f"_nct_ci needs a finite t, got {t_obs!r} (a defect in the caller).")
    if t_obs < 0:
        lo, hi = _nct_ci(-t_obs, df, level)
        return -hi, -lo
    if t_obs >= NCT_ASYMPTOTIC_T:
        c_low, c_high = _nct_asymptotic_factors(df, level)
        return t_obs * c_low, t_obs * c_high
    a = 1 - level

    # Bracket in steps of about two standard errors of the noncentrality estimate,
    # sqrt(1 + t^2 / (2 df)) (Cumming & Finch 2001), not of |t|: with large n the t values are
    # large and steps of |t| reach noncentralities where scipy's noncentral t is slow or fails.
    base = 4.0 * float(np.hypot(1.0, t_obs / np.sqrt(2.0 * df)))

    def root(target):
        f = lambda lam: _nct_cdf(t_obs, df, lam) - target  # noqa: E731 (decreasing in lam)
        step = base
        lo, hi = t_obs - step, t_obs + step
        while f(lo) < 0:
            lo -= step
            step *= 2
            if not np.isfinite(lo):  # F -> 1 as lam -> -inf: never for a correct F
                raise ArithmeticError(f"no lower bracket for the noncentral-t limit (t = {t_obs}, df = {df})")
        step = base
        while f(hi) > 0:
            hi += step
            step *= 2
            if not np.isfinite(hi):  # F -> 0 as lam -> inf
                raise ArithmeticError(f"no upper bracket for the noncentral-t limit (t = {t_obs}, df = {df})")
        return brentq(f, lo, hi, xtol=1e-12, rtol=1e-12)

    return root(1 - a / 2), root(a / 2)


def rank_biserial(x, y, *, zero_method: str = "wilcox") -> pd.DataFrame:
    """Matched-pairs rank-biserial correlation of the change T1 - T0 (Kerby's simple difference).

    Parameters
    ----------
    x, y : array-like
        T0 and T1 values of the same persons.
    zero_method : {"wilcox", "pratt"}
        As in :func:`wilcoxon_signed_rank`, so that the effect size matches the test.

    Returns
    -------
    pandas.DataFrame
        One row: ``n``, ``n_excluded_missing``, ``n_zero``, ``zero_method``, ``r_plus``,
        ``r_minus``, ``rank_biserial``, ``not_estimable`` ("" or the reason it is NaN).

    Notes
    -----
    ``r_rb = (R+ - R-) / S`` where ``R+`` and ``R-`` are the sums of the ranks of ``|d|`` for
    positive and negative changes and ``S`` the sum of all ranks (Kerby 2014, "simple difference
    formula"; King, Rosopa & Minium 2011). Range -1 to 1; positive when T1 tends to be higher.
    With "wilcox" zeros are dropped first, so ``S = R+ + R- = m(m+1)/2`` for the ``m`` non-zero
    differences (as pingouin's ``wilcoxon``). With "pratt" the zeros keep their ranks in ``S``,
    which pulls ``r_rb`` towards 0 (a zero is evidence of no change). When every difference is
    zero, ``R+ = R- = 0`` and ``r_rb`` is defined as 0 (no change in either direction), so a
    bootstrap resample of only zeros counts as "no change" instead of making the interval NaN.
    With no pairs it is not estimable (NaN, "too few pairs"); one pair gives +/-1 (or 0).

    References
    ----------
    .. [1] Kerby, D. S. (2014). The simple difference formula: An approach to teaching
       nonparametric correlation. *Comprehensive Psychology*, 3, 11.IT.3.1.

    Examples
    --------
    >>> rank_biserial([0, 0, 0, 0], [1, 2, -3, 4])[["r_plus", "r_minus", "rank_biserial"]]
       r_plus  r_minus  rank_biserial
    0     7.0      3.0            0.4
    """
    _check_choice(zero_method, _ZERO_METHODS, "zero_method")
    x, y, n_missing = _as_pairs(x, y)
    n = x.size
    d_all = y - x
    d, ranks, pos, neg = _signed_ranks(d_all, zero_method)
    r_plus, r_minus = float(ranks[pos].sum()), float(ranks[neg].sum())
    total = float(ranks.sum())
    reason = _too_few(n, 1)
    return pd.DataFrame(
        {
            "n": n,
            "n_excluded_missing": n_missing,
            "n_zero": int((d_all == 0).sum()),
            "zero_method": zero_method,
            "r_plus": np.nan if reason else r_plus,
            "r_minus": np.nan if reason else r_minus,
            "rank_biserial": np.nan if reason else ((r_plus - r_minus) / total if total > 0 else 0.0),
            "not_estimable": reason,
        },
        index=[0],
    )


# --------------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------------
def bootstrap_ci(
    x,
    y,
    *,
    statistic: str = "mean",
    zero_method: str = "wilcox",
    ci_method: str | Sequence[str] = "BCa",
    n_resamples: int | None = None,
    seed: int | None = None,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Bootstrap confidence interval of a paired-change statistic (resampling persons).

    Parameters
    ----------
    x, y : array-like
        T0 and T1 values of the same persons.
    statistic : {"mean", "median", "dz", "rank_biserial"} or a sequence of them
        Mean change, median change, Cohen's d_z, or the rank-biserial correlation (with
        ``zero_method``). Several statistics share one set of resamples (one row each).
    zero_method : {"wilcox", "pratt"}
        Only for ``statistic="rank_biserial"``.
    ci_method : {"BCa", "percentile", "basic"} or a sequence of them
        Passed to :func:`scipy.stats.bootstrap`: one method for every statistic, or one per
        statistic. Default BCa.
    n_resamples, seed : int, optional
        Default: ``bootstrap_resamples`` (9999) and ``seed`` from ``analysis/study.yaml``.
    confidence_level : float
        Level of the two-sided interval.

    Returns
    -------
    pandas.DataFrame
        One row per statistic: ``statistic``, ``n``, ``n_excluded_missing``, ``estimate``, ``ci_low``,
        ``ci_high``, ``ci_method`` (e.g. "BCa bootstrap"), ``n_resamples``, ``seed``,
        ``confidence_level``, ``not_estimable`` ("" or the reason a number of the row is NaN).

    Notes
    -----
    Persons are resampled with replacement, i.e. the changes ``d = y - x`` are resampled, which
    keeps each T0 with its own T1. The interval is scipy's ``bootstrap`` (scipy 1.17) with the
    bias-corrected and accelerated (BCa) method by default (Efron 1987; Efron & Tibshirani 1993,
    ch. 14): second-order accurate, and it corrects for the skew and bias that small samples of
    bounded scale scores have; the acceleration comes from the jackknife. The generator is
    ``numpy.random.default_rng(seed)``, fresh for every call, so a CI does not depend on which
    other CIs were computed before it. When the bootstrap distribution is degenerate (e.g. all
    changes equal) scipy warns and returns NaN limits; that is passed on, not replaced by
    another method. This happens in particular for the rank-biserial correlation when every
    change goes the same way (r_rb = +/-1 in every resample and jackknife sample); the
    ``ci_method="percentile"`` interval then collapses to the point and says as little. For the
    median of discrete scores the bootstrap distribution is lumpy and
    the interval is rough whatever the method. For ``statistic="dz"`` a resample whose changes
    are all equal has no SD and an undefined d_z (NaN); then the BCa interval is NaN too -- use
    the noncentral-t interval of :func:`cohen_dz`, which is the primary interval for d_z.

    Not estimable (no exception): with fewer than 2 pairs no resampling is done (every row NaN,
    "too few pairs"); a row whose estimate or interval is NaN says why in ``not_estimable``
    ("no variation: ..." -- every change the same, or a degenerate bootstrap distribution as
    above). scipy's warnings are passed on unchanged. Invalid arguments raise ``ValueError``.

    References
    ----------
    .. [1] Efron, B. (1987). Better bootstrap confidence intervals. *JASA*, 82(397), 171-185.
    .. [2] Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman &
       Hall.

    Examples
    --------
    >>> r = bootstrap_ci([1, 2, 3, 4, 5, 6], [2, 4, 3, 7, 6, 9], n_resamples=999, seed=1)
    >>> r[["statistic", "estimate", "ci_method", "n_resamples"]]
      statistic  estimate      ci_method  n_resamples
    0      mean  1.666667  BCa bootstrap          999
    >>> bool(r.ci_low.iloc[0] < 1.666667 < r.ci_high.iloc[0])
    True
    """
    names = [statistic] if isinstance(statistic, str) else list(statistic)
    for name in names:
        _check_choice(name, ("mean", "median", "dz", "rank_biserial"), "statistic")
    methods = [ci_method] * len(names) if isinstance(ci_method, str) else list(ci_method)
    if len(methods) != len(names):
        raise ValueError(f"ci_method: give one method, or one per statistic ({len(names)}), not {len(methods)}")
    for method in methods:
        _check_choice(method, _CI_METHODS, "ci_method")
    _check_choice(zero_method, _ZERO_METHODS, "zero_method")
    _check_level(confidence_level)
    n_resamples, seed = _bootstrap_defaults(n_resamples, seed)
    x, y, n_missing = _as_pairs(x, y)
    n = x.size
    too_few = _too_few(n, 2)
    if too_few:
        return pd.DataFrame(
            {
                "statistic": names, "n": n, "n_excluded_missing": n_missing, "estimate": np.nan,
                "ci_low": np.nan, "ci_high": np.nan, "ci_method": [f"{m} bootstrap" for m in methods],
                "n_resamples": n_resamples, "seed": seed, "confidence_level": confidence_level,
                "not_estimable": too_few,
            },
        )
    values, codes = _change_codes(y - x)
    common = {"vectorized": True, "axis": -1, "confidence_level": confidence_level,
              "batch": max(1, BOOTSTRAP_BATCH_VALUES // n)}
    # One draw of the persons for every statistic (a vector-valued statistic: one resample
    # and one count feed them all); each further interval method reuses that bootstrap
    # distribution (scipy's ``bootstrap_result`` with no new resamples). The intervals equal
    # those of a call of their own with the same seed (tested). A degenerate distribution (e.g.
    # d_z undefined in a resample) makes scipy warn in the draw and again for the interval.
    statistics = _count_stats(values, names, zero_method)
    drawn = st.bootstrap((codes,), statistics, n_resamples=n_resamples, method="percentile",
                         rng=np.random.default_rng(seed), **common)
    low, high = np.empty(len(names)), np.empty(len(names))
    for method in dict.fromkeys(methods):
        rows = [j for j, m in enumerate(methods) if m == method]
        res = st.bootstrap(
            (codes,), _count_stats(values, [names[j] for j in rows], zero_method), n_resamples=0,
            bootstrap_result=dataclasses.replace(drawn, bootstrap_distribution=drawn.bootstrap_distribution[rows]),
            method=method, **common)
        low[rows], high[rows] = res.confidence_interval.low, res.confidence_interval.high
    estimate = np.atleast_1d(statistics(codes).astype(float))
    same = _no_variation(y - x) or _sd_underflow(y - x)
    reasons = [
        "" if np.isfinite([est, lo, hi]).all()
        else same or (f"no variation: the bootstrap distribution of the {name} is degenerate or undefined in "
                      f"some resamples, so the {method} interval is not computable")
        for name, method, est, lo, hi in zip(names, methods, estimate, low, high)
    ]
    return pd.DataFrame(
        {
            "statistic": names,
            "n": n,
            "n_excluded_missing": n_missing,
            "estimate": estimate,
            "ci_low": low,
            "ci_high": high,
            "ci_method": [f"{m} bootstrap" for m in methods],
            "n_resamples": n_resamples,
            "seed": seed,
            "confidence_level": confidence_level,
            "not_estimable": reasons,
        },
    )


# --------------------------------------------------------------------------------------------
# everything for one outcome
# --------------------------------------------------------------------------------------------
def paired_change(
    x,
    y,
    *,
    zero_method: str = "wilcox",
    alternative: str = "two-sided",
    ci_method: str = "BCa",
    median_ci_method: str | None = None,
    n_resamples: int | None = None,
    seed: int | None = None,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Change from T0 to T1 for one outcome: estimates, tests and effect sizes in one row.

    Parameters
    ----------
    x, y : array-like
        T0 and T1 values of the same persons (equal length, same order; two Series must have
        identical indexes). Pairs with a missing value at either wave are left out.
    zero_method : {"wilcox", "pratt"}
        Zero changes in the Wilcoxon test and the rank-biserial correlation; default "wilcox"
        (dropped, as R's ``wilcox.test``).
    alternative : {"two-sided", "greater", "less"}
        For the two tests; intervals are always two-sided.
    ci_method : {"BCa", "percentile", "basic"}
        Bootstrap interval method (default BCa).
    median_ci_method : {"BCa", "percentile", "basic"}, optional
        Interval method for the median change only; default ``ci_method``. BCa has no
        interval for the median of integer scores (its jackknife acceleration is 0/0), so
        callers with such scores pass "percentile" (stated in ``median_change_ci_method``).
    n_resamples, seed : int, optional
        Bootstrap resamples and seed; default from ``analysis/study.yaml`` (9999, fixed seed).
    confidence_level : float
        Level of every interval.

    Returns
    -------
    pandas.DataFrame
        One row with columns:

        - ``n_pairs``, ``n_excluded_missing``
        - ``mean_t0``, ``mean_t1``, ``mean_change``, ``sd_change``,
          ``mean_change_ci_low``, ``mean_change_ci_high`` (bootstrap)
        - ``median_change``, ``median_change_ci_low``, ``median_change_ci_high``,
          ``median_change_ci_method`` (bootstrap)
        - ``t_test`` (name), ``t``, ``df``, ``p_t``, ``mean_change_t_ci_low``,
          ``mean_change_t_ci_high`` (t-based interval)
        - ``wilcoxon_test`` (name with method and zero handling), ``wilcoxon_method``,
          ``zero_method``, ``n_zero``, ``ties``, ``r_plus``, ``r_minus``, ``p_wilcoxon``
        - ``dz``, ``dz_ci_low``, ``dz_ci_high`` (noncentral t), ``dz_boot_ci_low``,
          ``dz_boot_ci_high`` (bootstrap)
        - ``rank_biserial``, ``rank_biserial_ci_low``, ``rank_biserial_ci_high`` (bootstrap)
        - ``alternative``, ``confidence_level``, ``ci_method`` (e.g. "BCa bootstrap"),
          ``n_resamples``, ``seed``
        - ``not_estimable``: "" when every statistic was computed, else the reasons of the
          parts, distinct, joined by "; " (e.g. "no variation: no one changed (every change
          is 0)"; a bootstrap interval's reason names its statistic).

    Notes
    -----
    The change is ``d = y - x`` (T1 minus T0); see :func:`paired_t`,
    :func:`wilcoxon_signed_rank`, :func:`cohen_dz`, :func:`rank_biserial` and
    :func:`bootstrap_ci` for the formulas, the zero and tie handling, and the deviations from
    R and scipy. In short: Wilcoxon p exact (conditional on tied ranks) up to 200 non-zero
    differences; zeros dropped by default; BCa bootstrap intervals resampling persons, 9999
    resamples with the study's fixed seed; d_z interval from the noncentral t. Every bootstrap
    interval uses a fresh generator from the same seed. Multiple outcomes: adjust ``p_t`` or
    ``p_wilcoxon`` with :func:`holm`.

    Valid data never raise. With fewer than 2 pairs the row has the counts, the means (and
    with one pair its change as ``mean_change`` / ``median_change``) and NaN statistics, and
    ``not_estimable`` = "too few pairs (n = 1; at least 2 needed)". Otherwise each statistic
    that its own function reports as not estimable is NaN and its reason is collected.
    Invalid arguments raise ``ValueError``.

    Examples
    --------
    Changes 1, 2, 0, 3, 1, 3, -1, 2: the zero is dropped, the ranks of the seven others are
    2, 2, 2, 4.5, 4.5, 6.5, 6.5 and only the -1 (rank 2) is negative, so ``r_minus = 2``,
    ``r_rb = (26 - 2) / 28`` and the exact two-sided p is 2 * 4/128 (4 of the 2^7 sign patterns
    have ``r_minus <= 2``: none negative, or one of the three rank-2 values):

    >>> r = paired_change([1, 2, 3, 4, 5, 6, 7, 8], [2, 4, 3, 7, 6, 9, 6, 10], n_resamples=999, seed=1)
    >>> r[["n_pairs", "mean_change", "r_minus", "rank_biserial", "p_wilcoxon"]]
       n_pairs  mean_change  r_minus  rank_biserial  p_wilcoxon
    0        8        1.375      2.0       0.857143      0.0625
    >>> r["wilcoxon_test"].iloc[0]
    'Wilcoxon signed-rank test (exact, conditional on tied ranks; zeros dropped)'
    """
    _check_choice(zero_method, _ZERO_METHODS, "zero_method")
    _check_choice(ci_method, _CI_METHODS, "ci_method")
    median_ci_method = ci_method if median_ci_method is None else median_ci_method
    _check_choice(median_ci_method, _CI_METHODS, "median_ci_method")
    n_resamples, seed = _bootstrap_defaults(n_resamples, seed)
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    _check_level(confidence_level)
    xs, ys, n_missing = _as_pairs(x, y)
    too_few = _too_few(xs.size, 2)
    if too_few:
        return _paired_change_too_few(xs, ys, n_missing, too_few, zero_method=zero_method, alternative=alternative,
                                      ci_method=ci_method, median_ci_method=median_ci_method,
                                      n_resamples=n_resamples, seed=seed, confidence_level=confidence_level)
    t = paired_t(xs, ys, alternative=alternative, confidence_level=confidence_level).iloc[0]
    w = wilcoxon_signed_rank(xs, ys, zero_method=zero_method, alternative=alternative).iloc[0]
    dz = cohen_dz(xs, ys, confidence_level=confidence_level).iloc[0]
    rb = rank_biserial(xs, ys, zero_method=zero_method).iloc[0]
    methods = {"mean": ci_method, "median": median_ci_method, "dz": ci_method, "rank_biserial": ci_method}
    rows = bootstrap_ci(xs, ys, statistic=list(methods), zero_method=zero_method, ci_method=list(methods.values()),
                        n_resamples=n_resamples, seed=seed, confidence_level=confidence_level)
    boot = {r["statistic"]: r for _, r in rows.iterrows()}
    d = ys - xs
    row = {
        "n_pairs": xs.size,
        "n_excluded_missing": n_missing,
        "mean_t0": xs.mean(),
        "mean_t1": ys.mean(),
        "mean_change": d.mean(),
        "sd_change": d.std(ddof=1),
        "mean_change_ci_low": boot["mean"]["ci_low"],
        "mean_change_ci_high": boot["mean"]["ci_high"],
        "median_change": float(np.median(d)),
        "median_change_ci_low": boot["median"]["ci_low"],
        "median_change_ci_high": boot["median"]["ci_high"],
        "median_change_ci_method": boot["median"]["ci_method"],
        "t_test": t["test"],
        "t": t["t"],
        "df": t["df"],
        "p_t": t["p"],
        "mean_change_t_ci_low": t["ci_low"],
        "mean_change_t_ci_high": t["ci_high"],
        "wilcoxon_test": w["test"],
        "wilcoxon_method": w["method"],
        "zero_method": zero_method,
        "n_zero": w["n_zero"],
        "ties": w["ties"],
        "r_plus": w["r_plus"],
        "r_minus": w["r_minus"],
        "p_wilcoxon": w["p"],
        "dz": dz["dz"],
        "dz_ci_low": dz["ci_low"],
        "dz_ci_high": dz["ci_high"],
        "dz_boot_ci_low": boot["dz"]["ci_low"],
        "dz_boot_ci_high": boot["dz"]["ci_high"],
        "rank_biserial": rb["rank_biserial"],
        "rank_biserial_ci_low": boot["rank_biserial"]["ci_low"],
        "rank_biserial_ci_high": boot["rank_biserial"]["ci_high"],
        "alternative": alternative,
        "confidence_level": confidence_level,
        "ci_method": f"{ci_method} bootstrap",
        "n_resamples": n_resamples,
        "seed": seed,
        "not_estimable": _join_reasons(
            [t["not_estimable"], w["not_estimable"], dz["not_estimable"], rb["not_estimable"]]
            + [r["not_estimable"] for r in boot.values()]),
    }
    return pd.DataFrame(row, index=[0])


def _join_reasons(reasons: Sequence[str]) -> str:
    """The distinct non-empty reasons, in order, joined by "; " (the first one leads)."""
    return "; ".join(dict.fromkeys(r for r in reasons if r))


def _paired_change_too_few(xs, ys, n_missing, reason, **options) -> pd.DataFrame:
    """The :func:`paired_change` row for fewer than 2 pairs: counts and means, NaN statistics."""
    d = ys - xs
    row = dict.fromkeys(_PAIRED_CHANGE_COLUMNS, np.nan)
    row.update({
        "n_pairs": xs.size, "n_excluded_missing": n_missing,
        "mean_t0": xs.mean() if xs.size else np.nan, "mean_t1": ys.mean() if ys.size else np.nan,
        "mean_change": d.mean() if d.size else np.nan, "median_change": float(np.median(d)) if d.size else np.nan,
        "median_change_ci_method": f"{options['median_ci_method']} bootstrap", "t_test": "paired t-test",
        "wilcoxon_test": f"Wilcoxon signed-rank test ({_ZERO_LABEL[options['zero_method']]})",
        "wilcoxon_method": "", "zero_method": options["zero_method"], "n_zero": int((d == 0).sum()),
        "ties": False, "alternative": options["alternative"], "confidence_level": options["confidence_level"],
        "ci_method": f"{options['ci_method']} bootstrap", "n_resamples": options["n_resamples"],
        "seed": options["seed"], "not_estimable": reason,
    })
    return pd.DataFrame(row, index=[0])


#: The columns of :func:`paired_change`, in order.
_PAIRED_CHANGE_COLUMNS = [
    "n_pairs", "n_excluded_missing", "mean_t0", "mean_t1", "mean_change", "sd_change", "mean_change_ci_low",
    "mean_change_ci_high", "median_change", "median_change_ci_low", "median_change_ci_high",
    "median_change_ci_method", "t_test", "t", "df", "p_t", "mean_change_t_ci_low", "mean_change_t_ci_high",
    "wilcoxon_test", "wilcoxon_method", "zero_method", "n_zero", "ties", "r_plus", "r_minus", "p_wilcoxon", "dz",
    "dz_ci_low", "dz_ci_high", "dz_boot_ci_low", "dz_boot_ci_high", "rank_biserial", "rank_biserial_ci_low",
    "rank_biserial_ci_high", "alternative", "confidence_level", "ci_method", "n_resamples", "seed", "not_estimable",
]


# --------------------------------------------------------------------------------------------
# Holm
# --------------------------------------------------------------------------------------------
def holm(pvalues, *, alpha: float = 0.05) -> pd.DataFrame:
    """Holm's step-down adjustment of a family of p-values.

    Parameters
    ----------
    pvalues : array-like or pandas.Series
        One p-value per outcome. A Series keeps its index (e.g. outcome names) in the result.
    alpha : float
        Family-wise error rate for the ``reject`` column.

    Returns
    -------
    pandas.DataFrame
        One row per p-value, in the input order and with the input index: ``p``, ``p_holm``,
        ``reject`` (``p_holm <= alpha``), ``m`` (family size used).

    Notes
    -----
    Sort the ``m`` p-values ascending, ``p_(1) <= ... <= p_(m)``. The adjusted values are
    ``p_holm_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` (Holm 1979); an outcome is rejected
    when its adjusted value is at most ``alpha``, which is the same as Holm's sequential rule.
    Identical to R's ``p.adjust(p, "holm")`` and statsmodels' ``multipletests(p,
    method="holm")``. Missing p-values (a test that could not be computed) stay missing and are
    not counted in ``m`` -- as R's ``p.adjust`` does; statsmodels would fail on them. A value
    outside [0, 1] raises ``ValueError``.

    References
    ----------
    .. [1] Holm, S. (1979). A simple sequentially rejective multiple test procedure.
       *Scandinavian Journal of Statistics*, 6(2), 65-70.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005])
           p  p_holm  reject  m
    0  0.010    0.03    True  4
    1  0.040    0.06   False  4
    2  0.030    0.06   False  4
    3  0.005    0.02    True  4
    """
    if not (0 < alpha < 1):
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    index = pvalues.index if isinstance(pvalues, pd.Series) else None
    p = np.asarray(pd.to_numeric(pd.Series(np.asarray(pvalues, dtype=object).ravel()), errors="coerce"), dtype=float)
    if np.ndim(pvalues) != 1:
        raise ValueError("pvalues must be one-dimensional.")
    given = pd.Series(np.asarray(pvalues, dtype=object).ravel())
    if (given.notna() & np.isnan(p)).any():
        raise ValueError(f"pvalues must be numbers; got {given[given.notna() & np.isnan(p)].iloc[0]!r}.")
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1].")
    m = int(ok.sum())
    adj = np.full(p.size, np.nan)
    if m:
        pv = p[ok]
        order = np.argsort(pv, kind="mergesort")
        stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * pv[order]))
        out = np.empty(m)
        out[order] = stepped
        adj[ok] = out
    reject = pd.array(np.where(ok, adj <= alpha, False), dtype="boolean")
    reject[~ok] = pd.NA
    return pd.DataFrame({"p": p, "p_holm": adj, "reject": reject, "m": m}, index=index)


# --------------------------------------------------------------------------------------------
# reliable change
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _load_reliability(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["scales"]


def load_reliability(path: str | Path | None = None) -> pd.DataFrame:
    """The reliability table (``analysis/reliability.yaml``), one row per scale.

    Returns
    -------
    pandas.DataFrame
        Index ``scale``; columns ``reliability`` (NaN when not verified), ``kind``,
        ``higher_is_better``, ``verified``, ``source``.

    Examples
    --------
    >>> float(load_reliability().loc["who5", "reliability"])
    0.81
    """
    scales = _load_reliability(str(path or RELIABILITY_FILE))
    rows = {
        k: {
            "reliability": np.nan if v.get("reliability") is None else float(v["reliability"]),
            "kind": v.get("kind"),
            "higher_is_better": bool(v["higher_is_better"]),
            "verified": bool(v.get("verified", False)),
            "source": " ".join(str(v.get("source", "")).split()),
        }
        for k, v in scales.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("scale")


def reliable_change(
    x,
    y,
    *,
    scale: str | None = None,
    reliability: float | None = None,
    higher_is_better: bool | None = None,
    sd_t0: float | None = None,
    criterion: float = 1.96,
    reliability_file: str | Path | None = None,
) -> pd.DataFrame:
    """Jacobson-Truax reliable change index per person: improved / unchanged / worse.

    Parameters
    ----------
    x, y : array-like
        T0 and T1 values of the same persons. A Series index (person IDs) is kept.
    scale : str, optional
        Key in ``analysis/reliability.yaml`` (e.g. ``"who5"``, ``"djg_total"``) giving the
        reliability and the direction. Explicit ``reliability`` / ``higher_is_better`` override
        it.
    reliability : float, optional
        r_xx in (0, 1). Required when ``scale`` has no verified value in the YAML.
    higher_is_better : bool, optional
        Direction of improvement. Required when no ``scale`` is given.
    sd_t0 : float, optional
        SD used for the standard error of measurement. Default: the SD (n - 1) of all
        available T0 scores (including persons without T1: the baseline sample).
    criterion : float
        |RCI| above this is a reliable change (1.96: two-sided 5%).
    reliability_file : path, optional
        Another YAML with the same layout.

    Returns
    -------
    pandas.DataFrame
        One row per person (input order and index): ``t0``, ``t1``, ``change``, ``rci``,
        ``category`` ("improved", "unchanged", "worse"; missing when either wave is missing),
        and the constants used: ``reliability``, ``sd_t0``, ``s_diff``, ``higher_is_better``;
        ``not_estimable``: "" when the person's RCI was computed, else the reason.

    Raises
    ------
    ValueError
        If the reliability is unknown (``null`` in the YAML and not given), not in (0, 1), the
        direction is unknown, or the input is not paired.

    Notes
    -----
    Jacobson & Truax (1991): ``SE = SD_T0 * sqrt(1 - r_xx)``, ``S_diff = sqrt(2 * SE**2)``,
    ``RCI = (x_T1 - x_T0) / S_diff``. ``|RCI| > criterion`` is a reliable change; its sign and
    ``higher_is_better`` decide improved or worse (for the loneliness scale, lower is better).
    Jacobson & Truax take SD_T0 from a pre-treatment or normative sample; here, by default,
    from this study's T0 scores, all of them, also of persons seen only at T0 (pass ``sd_t0``
    to use a normative SD). A reliability that
    could not be verified is never guessed: it must be in the YAML with its source or given
    by the caller.

    Not estimable (valid data, no exception; ``rci`` NaN and ``category`` missing): a person
    without both waves ("too few pairs (this person has no complete pair ...)"), and for every
    person when the SD of T0 is taken from the data and there are fewer than 2 T0 scores ("too
    few respondents") or they are all equal ("no variation": SD 0, so no SE of measurement).
    A reliability, criterion or ``sd_t0`` given out of range is an invalid argument and raises.

    References
    ----------
    .. [1] Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach
       to defining meaningful change in psychotherapy research. *Journal of Consulting and
       Clinical Psychology*, 59(1), 12-19.

    Examples
    --------
    >>> r = reliable_change([10, 12, 14, 16, 18], [15, 13, 10, 16, 22],
    ...                     reliability=0.8, higher_is_better=True)
    >>> r[["change", "rci", "category"]]
       change  rci   category
    0     5.0  2.5   improved
    1     1.0  0.5  unchanged
    2    -4.0 -2.0      worse
    3     0.0  0.0  unchanged
    4     4.0  2.0   improved
    """
    if scale is not None:
        table = load_reliability(reliability_file)
        if scale not in table.index:
            raise ValueError(f"scale {scale!r} is not in the reliability file; known: {list(table.index)}.")
        entry = table.loc[scale]
        if reliability is None:
            if np.isnan(entry["reliability"]):
                raise ValueError(
                    f"No verified reliability for scale {scale!r} in reliability.yaml (source: "
                    f"{entry['source']}). Fill it in there with its source, or pass reliability= "
                    "with a cited value; the RCI is not computed with a guessed reliability."
                )
            reliability = float(entry["reliability"])
        if higher_is_better is None:
            higher_is_better = bool(entry["higher_is_better"])
    if reliability is None:
        raise ValueError("Give scale= (a key of reliability.yaml) or reliability= (r_xx with its source).")
    if higher_is_better is None:
        raise ValueError("Give higher_is_better= (or a scale= whose direction is in reliability.yaml).")
    if not (0 < reliability < 1):
        raise ValueError(f"reliability must lie strictly between 0 and 1, got {reliability!r}.")
    if criterion <= 0:
        raise ValueError(f"criterion must be positive, got {criterion!r}.")

    index = x.index if isinstance(x, pd.Series) else (y.index if isinstance(y, pd.Series) else None)
    _as_pairs(x, y)  # validates pairing (lengths, indexes, numbers)
    xa = np.asarray(pd.to_numeric(pd.Series(np.asarray(x, dtype=object)), errors="raise"), dtype=float)
    ya = np.asarray(pd.to_numeric(pd.Series(np.asarray(y, dtype=object)), errors="raise"), dtype=float)
    reason = ""
    if sd_t0 is None:
        baseline = xa[~np.isnan(xa)]
        if baseline.size < 2:
            reason = f"too few respondents (n = {baseline.size} at T0; at least 2 needed for the SD of T0)"
        elif np.ptp(baseline) == 0:
            reason = f"no variation: every T0 score is {float(baseline[0]):g}, so the SD of T0 is 0"
        sd_t0 = np.nan if reason else float(np.std(baseline, ddof=1))
    elif not (sd_t0 > 0 and np.isfinite(sd_t0)):
        raise ValueError(f"sd_t0 must be positive and finite, got {sd_t0!r}.")
    se = sd_t0 * np.sqrt(1 - reliability)
    s_diff = np.sqrt(2 * se**2)
    change = ya - xa
    rci = change / s_diff
    better = rci if higher_is_better else -rci
    category = np.where(better > criterion, "improved", np.where(better < -criterion, "worse", "unchanged"))
    cat = pd.Categorical(
        np.where(np.isnan(rci), None, category), categories=["improved", "unchanged", "worse"]
    )
    missing = "too few pairs (this person has no complete pair: T0 or T1 missing)"
    return pd.DataFrame(
        {
            "t0": xa,
            "t1": ya,
            "change": change,
            "rci": rci,
            "category": cat,
            "reliability": reliability,
            "sd_t0": sd_t0,
            "s_diff": s_diff,
            "higher_is_better": bool(higher_is_better),
            "not_estimable": reason or np.where(np.isnan(change), missing, ""),
        },
        index=index,
    )


def reliable_change_counts(rci: pd.DataFrame) -> pd.DataFrame:
    """Counts of improved / unchanged / worse from :func:`reliable_change`.

    Parameters
    ----------
    rci : pandas.DataFrame
        The result of :func:`reliable_change` (its ``category`` column is used).

    Returns
    -------
    pandas.DataFrame
        Three rows (improved, unchanged, worse): ``category``, ``n``, ``proportion`` (of the
        persons with both waves), ``n_classified``, ``n_missing``, ``not_estimable`` ("" or,
        when no one could be classified, the reason the proportions are NaN: the one
        :func:`reliable_change` gave for everyone, else "too few pairs").

    Examples
    --------
    >>> r = reliable_change([10, 12, 14, 16, 18], [15, 13, 10, 16, 22],
    ...                     reliability=0.8, higher_is_better=True)
    >>> reliable_change_counts(r)[["category", "n", "proportion"]]
        category  n  proportion
    0   improved  2         0.4
    1  unchanged  2         0.4
    2      worse  1         0.2
    """
    if not isinstance(rci, pd.DataFrame) or "category" not in rci.columns:
        raise ValueError("Pass the DataFrame returned by reliable_change() (it needs a 'category' column).")
    cat = pd.Categorical(rci["category"], categories=["improved", "unchanged", "worse"])
    counts = pd.Series(cat).value_counts(sort=False)
    n_classified = int(counts.sum())
    reason = ""
    if not n_classified:
        given = [r for r in rci.get("not_estimable", pd.Series(dtype=object)) if r]
        reason = (given[0] if given and not given[0].startswith("too few pairs (this person")
                  else "too few pairs (n = 0 with both waves; at least 1 needed)")
    return pd.DataFrame(
        {
            "category": list(counts.index.astype(str)),
            "n": counts.to_numpy().astype(int),
            "proportion": counts.to_numpy() / n_classified if n_classified else np.nan,
            "n_classified": n_classified,
            "n_missing": int(pd.isna(cat).sum()),
            "not_estimable": reason,
        }
    )


# --------------------------------------------------------------------------------------------
# power
# --------------------------------------------------------------------------------------------
#: Upper end of the search for the minimum detectable d_z: an effect of 1e12 SDs is beyond any
#: scale; if even that has less than the requested power, the effect is reported not estimable.
MDE_DZ_MAX = 1e12


class _NotConverged(ArithmeticError):
    """scipy's noncentral t did not converge (see :func:`_paired_t_power`)."""


def _paired_t_power(dz: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired (one-sample) t-test at effect ``dz`` with ``n`` pairs.

    ``P(T > t_c) + P(T < -t_c)`` with ``T`` noncentral t (``n - 1`` df, noncentrality
    ``dz * sqrt(n)``) and ``t_c = t_{1 - alpha/2, n - 1}``. The lower tail is taken as
    ``P(T' > t_c)`` with ``T'`` of noncentrality ``-dz * sqrt(n)`` (the same by symmetry)
    because scipy 1.17's ``nct.cdf`` returns NaN or wrong values far in the lower tail (e.g.
    4 df, noncentrality 8.1, t = -6.5), while ``nct.sf`` stays accurate there (tested against
    an integral over the chi-square distribution).
    """
    df = n - 1
    t_c = st.t.isf(alpha / 2, df)
    ncp = dz * np.sqrt(n)
    # scipy (Boost) warns "Series did not converge" and returns its last partial sum far out
    # (2 pairs at alpha <= 1e-5); such a value is not a power: NaN, and the caller says so.
    with threadwarnings.recorded() as caught:
        value = float(st.nct.sf(t_c, df, ncp) + st.nct.sf(t_c, df, -ncp))
    if any("did not converge" in str(w) for w in caught):
        return np.nan
    return value


def minimum_detectable_effect(
    n_pairs: int, *, sd_change: float | None = None, power: float = 0.8, alpha: float = 0.05
) -> pd.DataFrame:
    """Smallest standardised change (d_z) a two-sided paired t-test detects with given power.

    Parameters
    ----------
    n_pairs : int
        Number of complete pairs (a whole number, 0 or more).
    sd_change : float, optional
        SD of the changes, to express the effect in scale units.
    power, alpha : float
        Power (default 0.8) and two-sided significance level (default 0.05), with
        ``0 < alpha < power < 1``.

    Returns
    -------
    pandas.DataFrame
        One row: ``test``, ``n_pairs``, ``alpha``, ``power``, ``alternative``, ``dz``,
        ``sd_change``, ``change`` (``dz * sd_change``; NaN without ``sd_change``),
        ``not_estimable`` ("" when ``dz`` was computed, else the reason; ``dz`` and ``change``
        are then NaN).

    Notes
    -----
    Solves ``power(d_z) = P(|T| > t_{1-alpha/2, n-1}) = target`` for ``d_z``, with ``T``
    noncentral t (``n - 1`` df, noncentrality ``d_z * sqrt(n)``; :func:`_paired_t_power`),
    by Brent's method on a bracket ``[0, hi]`` whose upper end is doubled until its power
    reaches the target (power is ``alpha`` at 0 and increases with ``d_z``). In scale units
    the detectable mean change is ``d_z * SD(d)``. Own root search because statsmodels 0.15's
    ``TTestPower.solve_power`` stops early for n <= 5 with a small alpha and says nothing (at
    n = 5 and alpha = 0.05/17 it returns 2.97 where 80% power needs 3.62); its forward
    ``power()`` agrees with :func:`_paired_t_power` (tested).

    Not estimable (a row with NaN, never an exception): fewer than 2 pairs (no t-test), or no
    ``d_z`` up to ``MDE_DZ_MAX`` (1e12) reaches the power in floating point (only for 2-3
    pairs at an alpha far below any used here: 2 pairs at alpha <= 1e-5, where scipy's
    noncentral t does not converge). Invalid arguments (negative or fractional ``n_pairs``,
    alpha or power outside (0, 1), ``power <= alpha``, ``sd_change <= 0``) raise
    ``ValueError``.

    References
    ----------
    .. [1] Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences* (2nd ed.).
    .. [2] Faul, F., Erdfelder, E., Lang, A.-G., & Buchner, A. (2007). G*Power 3. *Behavior
       Research Methods*, 39(2), 175-191.

    Examples
    --------
    >>> r = minimum_detectable_effect(21, sd_change=10)
    >>> round(float(r.dz.iloc[0]), 3), round(float(r.change.iloc[0]), 2)
    (0.643, 6.43)
    >>> round(float(minimum_detectable_effect(5, alpha=0.05 / 17).dz.iloc[0]), 2)
    3.62
    >>> minimum_detectable_effect(1).not_estimable.iloc[0]
    'too few pairs (n = 1; at least 2 needed)'
    """
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer, float, np.floating)) \
            or not np.isfinite(n_pairs) or int(n_pairs) != n_pairs or n_pairs < 0:
        raise ValueError(f"n_pairs must be a whole number (0 or more), got {n_pairs!r}.")
    if not (0 < alpha < 1) or not (0 < power < 1):
        raise ValueError(f"alpha and power must lie between 0 and 1, got {alpha!r} and {power!r}.")
    if not power > alpha:
        raise ValueError(f"power ({power!r}) must exceed alpha ({alpha!r}): a test has power alpha at no effect.")
    if sd_change is not None and not (sd_change > 0 and np.isfinite(sd_change)):
        raise ValueError(f"sd_change must be positive and finite, got {sd_change!r}.")
    n = int(n_pairs)
    dz, reason = np.nan, ""
    if n < 2:
        reason = f"too few pairs (n = {n}; at least 2 needed)"
    else:
        def f(d):  # increasing in d; scipy's failure to converge stops the search
            value = _paired_t_power(d, n, alpha) - power
            if np.isnan(value):
                raise _NotConverged
            return value

        why = f"too few pairs (n = {n}) for power {power} at alpha = {alpha:g}: "
        try:
            hi = 1.0
            while hi <= MDE_DZ_MAX and f(hi) < 0:
                hi *= 2.0
            if hi <= MDE_DZ_MAX:
                dz = float(brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-12))
            else:
                reason = why + f"no effect size up to d_z = {MDE_DZ_MAX:g} reaches it"
        except _NotConverged:
            reason = why + "the power cannot be computed in floating point (scipy's noncentral t does not converge)"
    return pd.DataFrame(
        {
            "test": "paired t-test",
            "n_pairs": n,
            "alpha": alpha,
            "power": power,
            "alternative": "two-sided",
            "dz": dz,
            "sd_change": np.nan if sd_change is None else float(sd_change),
            "change": np.nan if sd_change is None else dz * float(sd_change),
            "not_estimable": reason,
        },
        index=[0],
    )


# --------------------------------------------------------------------------------------------
# mixed model sensitivity analysis
# --------------------------------------------------------------------------------------------
def _random_intercept_reml(y: np.ndarray, X: np.ndarray, groups) -> dict:
    """REML fit of ``y = X b + u_person + e`` with a random intercept per person.

    Own code because statsmodels ``MixedLM`` loops over persons in Python (about 12 s per
    outcome at 2,100 persons and 300 sites); with a random intercept only, ``V = s2_e H`` with
    ``H_i = I + g J`` per person has ``H_i^-1 = I - g / (1 + g n_i) J`` and
    ``|H_i| = 1 + g n_i``, so the REML criterion profiled over ``b`` and ``s2_e``
    (Harville 1977; Pinheiro & Bates 2000, section 2.2)

        (N - p) log s2_e(g) + sum_i log(1 + g n_i) + log |X' H^-1 X|

    is computed from person sums and minimised over the one ratio ``rho = g / (1 + g)`` in
    [0, 1) (bounded Brent; the boundary rho = 0 is compared explicitly).
    """
    from scipy.optimize import minimize_scalar
    from scipy.sparse import csr_matrix

    codes, _ = pd.factorize(pd.Series(groups), sort=False)
    n, p = X.shape
    sizes = np.bincount(codes)
    person_sum = csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(sizes.size, n))
    zx, zy = np.asarray(person_sum @ X), person_sum @ y
    xtx, xty, yty = X.T @ X, X.T @ y, float(y @ y)
    if n <= p or np.linalg.matrix_rank(xtx) < p:
        raise ValueError(f"The mixed model's design has {p} columns and rank {np.linalg.matrix_rank(xtx)} "
                         f"with {n} observations: too few observations or a site without any.")
    # The weight g / (1 + g n_i) depends on a person's number of rows only (1 or 2 here), so
    # the person-sum cross products are summed once per size, not at every step of the search.
    by_size = [(float(k), zx[sizes == k].T @ zx[sizes == k], zx[sizes == k].T @ zy[sizes == k],
                float(zy[sizes == k] @ zy[sizes == k]), int((sizes == k).sum())) for k in np.unique(sizes)]

    def profile(rho: float):
        g = rho / (1.0 - rho)
        xhx, xhy, yhy, logdet_h = xtx.copy(), xty.copy(), yty, 0.0
        for k, cxx, cxy, cyy, count in by_size:
            w = g / (1.0 + g * k)
            xhx -= w * cxx
            xhy -= w * cxy
            yhy -= w * cyy
            logdet_h += count * np.log1p(g * k)
        beta = np.linalg.solve(xhx, xhy)
        s2 = (yhy - xhy @ beta) / (n - p)
        crit = (n - p) * np.log(s2) + logdet_h + np.linalg.slogdet(xhx)[1]
        return crit, beta, s2, g, xhx

    opt = minimize_scalar(lambda r: profile(r)[0], bounds=(0.0, 1.0 - 1e-9), method="bounded",
                          options={"xatol": 1e-10})
    inner, boundary = profile(float(opt.x)), profile(0.0)
    rho = float(opt.x) if inner[0] <= boundary[0] else 0.0
    _, beta, s2, g, xhx = inner if rho else boundary
    notes = []
    if rho == 0.0:
        notes.append("person variance estimated at 0 (boundary): the wave effect is the OLS estimate")
    if not opt.success:
        notes.append(f"REML optimisation did not converge: {opt.message}")
    return {"beta": beta, "se": np.sqrt(np.diag(s2 * np.linalg.inv(xhx))), "person_variance": float(g * s2),
            "residual_variance": float(s2), "converged": bool(opt.success), "warnings": "; ".join(notes)}


def mixed_model_wave(
    data: pd.DataFrame,
    outcome: str,
    *,
    wave: str = "wave",
    person: str = "person",
    site: str | None = "site",
    levels: Sequence[str] = ("T0", "T1"),
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Wave effect from a linear mixed model: outcome ~ wave + site, random intercept per person.

    Parameters
    ----------
    data : pandas.DataFrame
        Long table, one row per person per wave. Not modified.
    outcome : str
        Outcome column (numeric).
    wave, person : str
        Columns with the wave label and the (pseudonymised) person ID.
    site : str or None
        Site column, entered as a fixed effect. ``None`` leaves site out (e.g. a per-site
        model); a site column with a single site gives a not-estimable row (pass ``site=None``).
    levels : pair of str
        The wave labels (T0, T1); other labels raise ``ValueError``.
    confidence_level : float
        Level of the Wald interval.

    Returns
    -------
    pandas.DataFrame
        One row: ``model`` (formula and method), ``term``, ``estimate`` (mean T1 - T0 change),
        ``se``, ``z``, ``p``, ``ci_low``, ``ci_high``, ``n_obs``, ``n_persons``,
        ``n_complete_pairs``, ``n_sites``, ``person_variance``, ``residual_variance``,
        ``converged`` (NaN when not fitted), ``fit_warnings``; the same test with a t reference:
        ``df_t`` (``n_complete_pairs - 1``), ``p_t``, ``ci_t_low``, ``ci_t_high``; and
        ``not_estimable`` ("" when fitted, else the reason; every statistic is then NaN).

    Notes
    -----
    ``outcome_ij = b0 + b1 [wave_ij = T1] + site effects + u_i + e_ij``, ``u_i ~ N(0, s2_u)``,
    fitted by REML (:func:`_random_intercept_reml`; the same estimates as statsmodels
    ``MixedLM``, tested). Unlike the paired tests it uses persons seen only once (drop-outs,
    under missing-at-random), which is why it is the sensitivity analysis (STUDY.md section 6).
    With complete, balanced pairs and a positive person variance, ``b1`` equals the mean paired
    change and its SE the paired-t SE. The SE is the GLS one at the REML variances,
    ``sqrt(s2_e [X' H^-1 X]^-1)`` (as R's ``lme4``/``nlme`` report it; statsmodels' Hessian-based
    SE differs in the fourth digit). ``z``, ``p`` and ``ci_*`` are Wald z with normal intervals
    (not t with Kenward-Roger df as R's lmerTest would). With few persons they are
    anti-conservative: with 3 complete pairs the 95% normal interval is about 0.46 times the
    width of the t interval with 2 df. Hence ``p_t`` / ``ci_t_*``: the same estimate and SE
    against a t with ``n_complete_pairs - 1`` df -- in the balanced complete case exactly the
    paired t-test (tested); with drop-outs a simple, somewhat conservative choice (the
    drop-outs' between-person information is not counted), not a Satterthwaite or
    Kenward-Roger df. Prefer ``p_t`` at the study's size. Rows with a missing outcome are left
    out (counted in ``n_obs``). A person variance on the boundary (0) or a fit that did not
    converge is said in ``fit_warnings``, not hidden.

    Not estimable (valid data, no exception; NaN statistics and the reason in
    ``not_estimable``): no observed outcome or only one wave ("too few respondents" / "too few
    pairs"); a ``site`` column with a single site left ("too few sites": pass ``site=None`` for
    a per-site model); a constant outcome ("no variation: outcome constant"); fewer than 2
    complete pairs (person and residual variance cannot be separated: "too few pairs"); every
    complete pair with the same change, e.g. no one changed (zero residual variance, so no SE:
    "no variation: no one changed ..."); more parameters than observations or a rank-deficient
    design ("too few respondents"). ``ValueError`` is kept for invalid arguments: a missing
    column, wave labels outside ``levels``, missing person or site, duplicate person-wave
    rows, a non-numeric outcome.

    References
    ----------
    .. [1] Laird, N. M., & Ware, J. H. (1982). Random-effects models for longitudinal data.
       *Biometrics*, 38(4), 963-974.
    .. [2] Harville, D. A. (1977). Maximum likelihood approaches to variance component
       estimation and to related problems. *JASA*, 72(358), 320-338.
    .. [3] Pinheiro, J. C., & Bates, D. M. (2000). *Mixed-Effects Models in S and S-PLUS*.
       Springer.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({
    ...     "person": ["a", "a", "b", "b", "c", "c", "d", "d"],
    ...     "wave": ["T0", "T1"] * 4,
    ...     "score": [10, 12, 14, 17, 9, 10, 12, 16]})
    >>> r = mixed_model_wave(long, "score", site=None)
    >>> round(float(r.estimate.iloc[0]), 6), int(r.n_persons.iloc[0])
    (2.5, 4)
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError("data must be a long DataFrame (one row per person per wave).")
    _check_level(confidence_level)
    needed = [outcome, wave, person] + ([site] if site is not None else [])
    absent = [c for c in needed if c not in data.columns]
    if absent:
        raise ValueError(f"column(s) {absent} not in data; available: {list(data.columns)}.")
    levels = list(levels)
    if len(levels) != 2:
        raise ValueError(f"levels must name two waves (T0, T1), got {levels}.")
    unknown = set(data[wave].dropna().unique()) - set(levels)
    if unknown or data[wave].isna().any():
        raise ValueError(f"wave column {wave!r} has values {sorted(map(str, unknown)) or ['<missing>']} outside {levels}.")
    for col in [person] + ([site] if site is not None else []):
        if data[col].isna().any():
            raise ValueError(f"column {col!r} has missing values; every row needs a {col}.")
    if data.duplicated([person, wave]).any():
        raise ValueError("More than one row for the same person and wave; one row per person per wave is required.")
    try:
        y = pd.to_numeric(data[outcome], errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"outcome {outcome!r} must be numeric: {exc}") from None
    frame = pd.DataFrame(
        {
            "y": y.to_numpy(),
            "t1": (data[wave] == levels[1]).astype(float).to_numpy(),
            "person": data[person].astype(str).to_numpy(),
        }
    )
    if site is not None:
        frame["site"] = data[site].astype(str).to_numpy()
    frame = frame[frame["y"].notna()].reset_index(drop=True)
    n_sites = int(frame["site"].nunique()) if site is not None else np.nan
    wide = frame.pivot(index="person", columns="t1", values="y").reindex(columns=[0.0, 1.0])
    changes = (wide[1.0] - wide[0.0]).dropna().to_numpy()
    n_pairs = int(changes.size)
    counts = {"n_obs": len(frame), "n_persons": int(frame["person"].nunique()), "n_complete_pairs": n_pairs,
              "n_sites": n_sites}
    model = f"{outcome} ~ wave{' + site' if site is not None else ''} + (1 | person); REML, Wald z"
    term = f"wave ({levels[1]} vs {levels[0]})"
    reason = ""
    if frame.empty:
        reason = f"too few respondents (no observed {outcome})"
    elif frame["t1"].nunique() < 2:
        reason = f"too few pairs (only {levels[int(frame['t1'].iloc[0])]} observed: no wave effect)"
    elif site is not None and n_sites < 2:
        reason = (f"too few sites (one site in {site!r} with an observed {outcome}: no site effect; "
                  "pass site=None for a per-site model)")
    elif np.ptp(frame["y"].to_numpy()) == 0:
        reason = f"no variation: outcome constant ({float(frame['y'].iloc[0]):g} in every observation)"
    elif n_pairs < 2:
        reason = (f"too few pairs (n = {n_pairs} complete pairs; at least 2 needed to separate person and "
                  "residual variance)")
    else:
        reason = _no_variation(changes).replace("every pair changed", "every complete pair changed")
        if reason:
            reason += ": zero residual variance, so no standard error"
    if not reason:
        X, _ = design_matrix(frame, ["site"] if site is not None else [], ["t1"])
        # wave second, as the fit has always been ordered: the REML search is only as exact as its
        # tolerance (about 1e-6 relative), so another column order gives other last digits
        X = X[["intercept", "t1", *X.columns.drop(["intercept", "t1"])]]
        rank = int(np.linalg.matrix_rank(X.to_numpy()))
        if len(X) <= X.shape[1] or rank < X.shape[1]:
            reason = (f"too few respondents ({len(X)} observations for {X.shape[1]} parameters, design rank "
                      f"{rank}: wave and site effects cannot all be estimated)")
    if reason:
        nan = np.nan
        return pd.DataFrame(
            {"model": model, "term": term, "estimate": nan, "se": nan, "z": nan, "p": nan, "ci_low": nan,
             "ci_high": nan, **counts, "person_variance": nan, "residual_variance": nan, "converged": nan,
             "fit_warnings": "", "df_t": nan, "p_t": nan, "ci_t_low": nan, "ci_t_high": nan,
             "not_estimable": reason},
            index=[0],
        )
    fit = _random_intercept_reml(frame["y"].to_numpy(), X.to_numpy(), frame["person"])
    a = 1 - confidence_level
    est, se = float(fit["beta"][1]), float(fit["se"][1])
    zq = st.norm.ppf(1 - a / 2)
    z = est / se
    df_t = n_pairs - 1
    tq = st.t.ppf(1 - a / 2, df_t)
    return pd.DataFrame(
        {
            "model": model,
            "term": term,
            "estimate": est,
            "se": se,
            "z": z,
            "p": float(2 * st.norm.sf(abs(z))),
            "ci_low": est - zq * se,
            "ci_high": est + zq * se,
            **counts,
            "person_variance": fit["person_variance"],
            "residual_variance": fit["residual_variance"],
            "converged": fit["converged"],
            "fit_warnings": fit["warnings"],
            "df_t": df_t,
            "p_t": float(2 * st.t.sf(abs(z), df_t)),
            "ci_t_low": est - tq * se,
            "ci_t_high": est + tq * se,
            "not_estimable": "",
        },
        index=[0],
    )
