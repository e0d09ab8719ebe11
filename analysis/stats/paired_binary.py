"""Paired binary outcomes: the same persons classified yes/no at T0 and at T1.

For a yes/no outcome measured twice (e.g. lonely by the CBS definition, De Jong Gierveld total
>= 2), the change in the share of persons with "yes" is the difference of two *paired*
proportions: the two shares rest on the same persons, so they are correlated and the tests for
two independent groups do not apply. The paired 2 x 2 table of one outcome:

=============  ============  ============
               T1 yes        T1 no
=============  ============  ============
**T0 yes**     ``a`` (both)  ``b`` (T0 only)
**T0 no**      ``c`` (T1 only) ``d`` (neither)
=============  ============  ============

``n = a + b + c + d``; share at T0 ``(a + b) / n``, at T1 ``(a + c) / n``; their difference
(T1 minus T0) is ``(c - b) / n``: only the *discordant* pairs ``b`` and ``c`` (persons who
changed category) carry information about the change.

=================================  ==================================================
function                           what
=================================  ==================================================
:func:`paired_table`               the 2 x 2 counts a, b, c, d from two yes/no columns
:func:`mcnemar_exact`              exact McNemar test (binomial test on b of b + c)
:func:`newcombe_paired_ci`         CI of the difference, Newcombe (1998) method 10
:func:`paired_proportions`         everything above for one outcome, one row
=================================  ==================================================

Every function returns a tidy one-row DataFrame with unrounded numbers; a statistic that the
data cannot give (no pairs; no discordant pairs for the test) is NaN and its reason is in the
``not_estimable`` column (the project's convention: the reason starts with "too few pairs" or
"no variation"). Invalid arguments raise ``ValueError``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats as st

__all__ = ["paired_table", "mcnemar_exact", "newcombe_paired_ci", "paired_proportions"]

MCNEMAR_TEST = "exact McNemar test (two-sided binomial test on the discordant pairs)"
CI_METHOD = "Newcombe (1998) method 10 (hybrid Wilson score, corrected phi)"


def _count(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or v is None:
        raise ValueError(f"{name} must be a whole count >= 0, got {v!r}.")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole count >= 0, got {v!r}.") from None
    if not np.isfinite(f) or f < 0 or f != round(f):
        raise ValueError(f"{name} must be a whole count >= 0, got {v!r}.")
    return int(f)


def _check_level(confidence_level):
    if not (0 < confidence_level < 1):
        raise ValueError(f"confidence_level must be between 0 and 1, got {confidence_level!r}.")


def _as_binary(v, name: str) -> np.ndarray:
    """A yes/no column as float (1, 0, NaN for missing); anything else is an error."""
    if v is None or isinstance(v, pd.DataFrame):
        raise ValueError(f"{name} must be one yes/no column (True/False or 1/0, missing allowed).")
    s = pd.Series(np.asarray(v, dtype=object).ravel())
    if np.ndim(v) != 1:
        raise ValueError(f"{name} must be one-dimensional (got {np.ndim(v)} dimensions).")
    missing = s.isna()
    vals = s[~missing]
    ok = vals.map(lambda x: isinstance(x, (bool, np.bool_, int, np.integer, float, np.floating))
                  and not isinstance(x, str) and float(x) in (0.0, 1.0))
    if not ok.all():
        raise ValueError(f"{name} must hold True/False or 1/0 (or missing); found {vals[~ok].iloc[0]!r}.")
    out = np.full(len(s), np.nan)
    out[(~missing).to_numpy()] = vals.astype(float).to_numpy()
    return out


def paired_table(x, y) -> pd.DataFrame:
    """The paired 2 x 2 counts of a yes/no outcome at T0 (``x``) and T1 (``y``).

    ``x`` and ``y`` hold one value per person in the same order (True/False or 1/0; missing
    allowed). A person missing at either wave is left out and counted in
    ``n_excluded_missing``. Two Series must have identical indexes (paired by person).

    Returns
    -------
    pandas.DataFrame
        One row: ``n_pairs``, ``n_excluded_missing``, ``a`` (yes at both), ``b`` (yes at T0
        only), ``c`` (yes at T1 only), ``d`` (no at both).

    Examples
    --------
    >>> paired_table([True, True, False, False, None], [True, False, True, True, False])
       n_pairs  n_excluded_missing  a  b  c  d
    0        4                   1  1  1  2  0
    """
    if isinstance(x, pd.Series) and isinstance(y, pd.Series) and not x.index.equals(y.index):
        raise ValueError("x and y are Series with different indexes, so they are not paired by person; "
                         "pass the T0 and T1 columns of one wide pairs table.")
    xa, ya = _as_binary(x, "x"), _as_binary(y, "y")
    if xa.shape != ya.shape:
        raise ValueError(f"x has {xa.size} values and y has {ya.size}: paired data need one T0 and one T1 "
                         "value per person.")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    x1, y1 = xa[keep] == 1, ya[keep] == 1
    return pd.DataFrame({"n_pairs": int(keep.sum()), "n_excluded_missing": int((~keep).sum()),
                         "a": int((x1 & y1).sum()), "b": int((x1 & ~y1).sum()),
                         "c": int((~x1 & y1).sum()), "d": int((~x1 & ~y1).sum())}, index=[0])


def mcnemar_exact(b, c) -> pd.DataFrame:
    """Exact McNemar test: is moving into the category as likely as moving out of it?

    Parameters
    ----------
    b, c : int
        Discordant pairs: ``b`` yes at T0 only, ``c`` yes at T1 only.

    Returns
    -------
    pandas.DataFrame
        One row: ``test``, ``n_discordant`` (``b + c``), ``b``, ``c``, ``p`` (two-sided),
        ``not_estimable`` ("" or the reason).

    Notes
    -----
    Given ``b + c`` discordant pairs, under H0 (equal marginal proportions) ``b`` is
    Binomial(``b + c``, 1/2); the two-sided p is ``min(1, 2 P(B <= min(b, c)))`` (McNemar
    1947; the exact version as in R ``exact2x2::mcnemar.exact`` and statsmodels
    ``mcnemar(table, exact=True)``, which computes it here). With no discordant pairs there is
    nothing to test (nobody changed category): ``p`` is NaN and the reason is given, not the
    trivial p = 1.

    References
    ----------
    .. [1] McNemar, Q. (1947). Note on the sampling error of the difference between correlated
       proportions or percentages. *Psychometrika*, 12(2), 153-157.

    Examples
    --------
    Seven discordant pairs, one of them yes at T0 only: p = 2 (1 + 7) / 2^7 = 0.125.

    >>> mcnemar_exact(1, 6)[["n_discordant", "p"]]
       n_discordant      p
    0             7  0.125
    """
    from statsmodels.stats.contingency_tables import mcnemar

    b, c = _count(b, "b"), _count(c, "c")
    row = {"test": MCNEMAR_TEST, "n_discordant": b + c, "b": b, "c": c, "p": np.nan, "not_estimable": ""}
    if b + c == 0:
        row["not_estimable"] = "no variation: no discordant pairs (nobody changed category), nothing to test"
    else:
        # the concordant cells do not enter the exact test; statsmodels takes the full table
        row["p"] = float(mcnemar(np.array([[0, b], [c, 0]]), exact=True).pvalue)
    return pd.DataFrame(row, index=[0])


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=2 * st.norm.sf(z), method="wilson")
    return float(lo), float(hi)


def newcombe_paired_ci(a, b, c, d, *, confidence_level: float = 0.95) -> pd.DataFrame:
    """CI of the difference of two paired proportions, T1 minus T0: Newcombe's method 10.

    Parameters
    ----------
    a, b, c, d : int
        The paired 2 x 2 table (module docstring): ``a`` yes at both waves, ``b`` at T0
        only, ``c`` at T1 only, ``d`` at neither.
    confidence_level : float
        Level of the two-sided interval (default 0.95).

    Returns
    -------
    pandas.DataFrame
        One row: ``n_pairs``, ``prop_t0``, ``prop_t1``, ``difference`` (``prop_t1 -
        prop_t0 = (c - b) / n``), ``ci_low``, ``ci_high``, ``ci_method``,
        ``confidence_level``, ``phi`` (the corrected phi used), ``not_estimable``.

    Notes
    -----
    Newcombe (1998), method 10 (a "hybrid score" or square-and-add interval): with the Wilson
    score limits ``(l1, u1)`` of the T1 share ``p1`` and ``(l2, u2)`` of the T0 share ``p2``,
    and ``D = p1 - p2``,

        ``L = D - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)``
        ``U = D + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)``

    where ``phi`` corrects for the correlation of the paired shares. With Newcombe's
    notation for the table with T1 first (``e = a``, ``f = c``, ``g = b``, ``h = d``),
    ``phi = (eh - fg - n/2) / sqrt((e+f)(g+h)(e+g)(f+h))`` when ``eh - fg > n/2``, 0 when
    ``0 <= eh - fg <= n/2``, ``(eh - fg) / sqrt(...)`` when ``eh < fg``, and 0 when the
    denominator is 0 (Newcombe 1998, section 2, method 10; also Altman et al. 2000,
    *Statistics with Confidence*, ch. 6). The interval always lies within [-1, 1], never
    collapses to a point when there are no discordant pairs (unlike the Wald interval), and
    has coverage close to nominal at small n (Newcombe 1998, Table III). Own code because
    statsmodels 0.15 has no paired-proportion interval (its development version adds
    ``confint_proportions_paired``); the Wilson limits are statsmodels'
    ``proportion_confint(method="wilson")``. With ``n = 0`` nothing is estimable.

    References
    ----------
    .. [1] Newcombe, R. G. (1998). Improved confidence intervals for the difference between
       binomial proportions based on paired data. *Statistics in Medicine*, 17(22),
       2635-2650.
    .. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
       inference. *JASA*, 22(158), 209-212.

    Examples
    --------
    Newcombe (1998), Table II, example (a): 36 both, 12 and 2 discordant, 0 neither; the
    difference 10/50 = 0.2 with method 10's interval 0.0569 to 0.3404 (T1 is the first
    classification here, so f = c = 12 and g = b = 2):

    >>> r = newcombe_paired_ci(36, 2, 12, 0)
    >>> r[["difference", "ci_low", "ci_high"]].round(4)
       difference  ci_low  ci_high
    0         0.2  0.0569   0.3404
    """
    _check_level(confidence_level)
    a, b, c, d = (_count(v, k) for v, k in ((a, "a"), (b, "b"), (c, "c"), (d, "d")))
    n = a + b + c + d
    row = {"n_pairs": n, "prop_t0": np.nan, "prop_t1": np.nan, "difference": np.nan, "ci_low": np.nan,
           "ci_high": np.nan, "ci_method": CI_METHOD, "confidence_level": confidence_level, "phi": np.nan,
           "not_estimable": ""}
    if n == 0:
        row["not_estimable"] = "too few pairs (n = 0; at least 1 needed)"
        return pd.DataFrame(row, index=[0])
    z = float(st.norm.isf((1 - confidence_level) / 2))
    # Newcombe's notation with T1 as the first classification: e, f, g, h
    e, f, g, h = a, c, b, d
    p1, p2 = (e + f) / n, (e + g) / n
    l1, u1 = _wilson(e + f, n, z)
    l2, u2 = _wilson(e + g, n, z)
    den = float(e + f) * (g + h) * (e + g) * (f + h)
    cross = e * h - f * g
    if den == 0:
        phi = 0.0
    elif cross > n / 2:
        phi = (cross - n / 2) / np.sqrt(den)
    elif cross >= 0:
        phi = 0.0
    else:
        phi = cross / np.sqrt(den)
    dl, du1, du2, dl2 = p1 - l1, u1 - p1, u2 - p2, p2 - l2
    diff = p1 - p2
    # the radicands are >= (x - y)^2 >= 0 since |phi| <= 1; max() only guards rounding
    low = diff - np.sqrt(max(dl**2 - 2 * phi * dl * du2 + du2**2, 0.0))
    high = diff + np.sqrt(max(du1**2 - 2 * phi * du1 * dl2 + dl2**2, 0.0))
    row.update({"prop_t0": p2, "prop_t1": p1, "difference": diff, "ci_low": float(low), "ci_high": float(high),
                "phi": float(phi)})
    return pd.DataFrame(row, index=[0])


def paired_proportions(x, y, *, confidence_level: float = 0.95) -> pd.DataFrame:
    """Share with "yes" at T0 and T1, their difference with CI, and the exact McNemar test.

    Parameters
    ----------
    x, y : array-like
        Yes/no at T0 and at T1 per person, same persons in the same order (True/False or
        1/0; missing allowed, see :func:`paired_table`).
    confidence_level : float
        Level of the interval of the difference.

    Returns
    -------
    pandas.DataFrame
        One row: ``n_pairs``, ``n_excluded_missing``, ``n_both`` (a), ``n_t0_only`` (b),
        ``n_t1_only`` (c), ``n_neither`` (d), ``n_t0`` (a + b, yes at T0), ``n_t1`` (a + c),
        ``prop_t0``, ``prop_t1``, ``difference`` (T1 - T0), ``ci_low``, ``ci_high``,
        ``ci_method``, ``confidence_level``, ``n_discordant`` (b + c), ``test``,
        ``p_mcnemar``, ``not_estimable`` (the reasons, "; "-joined, "" when all computed).

    Examples
    --------
    >>> r = paired_proportions([1, 1, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0])
    >>> r[["n_t0", "n_t1", "difference", "n_discordant", "p_mcnemar"]]
       n_t0  n_t1  difference  n_discordant  p_mcnemar
    0     3     1   -0.333333             4      0.625
    """
    t = paired_table(x, y).iloc[0]
    a, b, c, d = (int(t[k]) for k in "abcd")
    ci = newcombe_paired_ci(a, b, c, d, confidence_level=confidence_level).iloc[0]
    reasons = [ci["not_estimable"]] if ci["not_estimable"] else []
    p = np.nan
    if t["n_pairs"] > 0:
        m = mcnemar_exact(b, c).iloc[0]
        p = m["p"]
        if m["not_estimable"]:
            reasons.append(m["not_estimable"])
    return pd.DataFrame({
        "n_pairs": int(t["n_pairs"]), "n_excluded_missing": int(t["n_excluded_missing"]),
        "n_both": a, "n_t0_only": b, "n_t1_only": c, "n_neither": d, "n_t0": a + b, "n_t1": a + c,
        "prop_t0": ci["prop_t0"], "prop_t1": ci["prop_t1"], "difference": ci["difference"],
        "ci_low": ci["ci_low"], "ci_high": ci["ci_high"], "ci_method": CI_METHOD,
        "confidence_level": confidence_level, "n_discordant": b + c, "test": MCNEMAR_TEST,
        "p_mcnemar": p, "not_estimable": "; ".join(reasons),
    }, index=[0])
