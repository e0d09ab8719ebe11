"""Two-group comparisons for Table 1: standardized mean differences, tests, and the table.

Notebook 02 compares reached (``True``) with not reached (``False``) respondents (STUDY.md
section 6, "02 reach"). Built like tableone, from small parts whose numeric output is kept
and tested; formatting ("n (%)", "p < 0,001") happens in :mod:`analysis.fmt`.

===========================  =================================================================
function                     returns
===========================  =================================================================
:func:`smd_continuous`       float: signed Cohen's d with the average-variance SD
:func:`smd_categorical`      float: Yang & Dalton (2012) multi-category SMD (>= 0)
:func:`categorical_test`     one row: ``variable``, ``test``, ``statistic_name``,
                             ``statistic``, ``dof``, ``p``, ``min_expected``, ``n``,
                             ``not_estimable``
:func:`continuous_test`      one row: ``variable``, ``test``, ``statistic_name``,
                             ``statistic``, ``dof``, ``p``, ``n``, ``not_estimable``
:func:`categorical_summary`  per group and level: ``n``, ``pct``
:func:`continuous_summary`   per group: ``n``, ``mean``, ``sd``, ``median``, ``q1``, ``q3``,
                             ``n_missing``
:func:`table1`               long tidy Table 1 (see its docstring)
===========================  =================================================================

Rules chosen, in one place (each function's Notes says why):

* Categorical test: Pearson chi-square; with an expected count under 5 in any cell Fisher's
  exact test (2x2) or the Fisher-Freeman-Halton test by Monte Carlo with a fixed seed (r x c).
  Yates' continuity correction on 2x2 chi-square, as R ``chisq.test`` and both tableones do.
* Continuous test: Welch's t-test, or Mann-Whitney U for variables the caller declares
  ``nonnormal`` (declared in the study config, not chosen from the data).
* SMD: reported as an absolute value in the table, as R tableone does.
* Missing values: a level of their own in the counts, left out of tests and SMDs.
* What a test's ``statistic`` holds is named in ``statistic_name`` (:data:`STATISTIC_NAMES`):
  ``chi2``, ``odds_ratio`` (Fisher 2x2), ``table_probability`` (Fisher-Freeman-Halton: the
  probability of the observed table), ``t`` (Welch) or ``U`` (Mann-Whitney).
* A test or SMD that cannot be computed on valid data (nobody in a group, one observed level,
  no variation, too few values) gives NaN and a reason in ``not_estimable`` that starts with one
  of the keys ``too few respondents`` / ``empty group`` / ``no variation``; otherwise ``""``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "smd_continuous",
    "smd_categorical",
    "categorical_test",
    "continuous_test",
    "categorical_summary",
    "continuous_summary",
    "table1",
    "STATISTIC_NAMES",
    "DEFAULT_SEED",
    "DEFAULT_RESAMPLES",
]

#: Seed of the Monte Carlo Fisher-Freeman-Halton test, so every run gives the same p-value.
DEFAULT_SEED = 20240501
#: Number of random tables for the Monte Carlo Fisher-Freeman-Halton test: the Monte Carlo
#: standard error of p is at most sqrt(0.25 / 100000) = 0.0016.
DEFAULT_RESAMPLES = 100_000
#: What the ``statistic`` column holds, by ``statistic_name`` (English; the display maps it).
STATISTIC_NAMES = {
    "chi2": "Pearson chi-square statistic",
    "odds_ratio": "sample odds ratio (Fisher exact, 2x2; 0 or inf when a cell is 0)",
    "table_probability": "probability of the observed table under independence (Fisher-Freeman-Halton)",
    "t": "Welch t statistic (first group minus second)",
    "U": "Mann-Whitney U of the first group",
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _numeric(x, what: str) -> np.ndarray:
    s = x if isinstance(x, pd.Series) else pd.Series(np.asarray(x, dtype=object).ravel())
    if pd.api.types.is_bool_dtype(s.dtype):
        raise ValueError(f"{what}: boolean values; list a yes/no variable as categorical.")
    if not pd.api.types.is_numeric_dtype(s.dtype):
        try:
            s = pd.to_numeric(s, errors="raise")
        except (ValueError, TypeError):
            raise ValueError(f"{what}: non-numeric values; clean them first.") from None
    return s.to_numpy(dtype=float, na_value=np.nan)


def _check_data(data, columns: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what}: data must be a pandas DataFrame, got {type(data).__name__}.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{what}: columns not in data: {missing}.")


def _group_levels(data: pd.DataFrame, group: str, groups, what: str) -> list:
    g = data[group]
    if g.isna().any():
        raise ValueError(
            f"{what}: {int(g.isna().sum())} rows have a missing {group!r}; a row must be in one "
            "group. Drop them (and say so) before the table."
        )
    present = list(pd.unique(g))
    if groups is None:
        if set(present) <= {True, False} and (len(present) == 2 or pd.api.types.is_bool_dtype(g.dtype)):
            groups = [True, False]  # reached first; a boolean group is two groups even if one is empty
        elif isinstance(g.dtype, pd.CategoricalDtype):
            groups = [c for c in g.cat.categories if c in set(present)]
        else:
            groups = sorted(present)
    groups = list(groups)
    if len(groups) != 2:
        raise ValueError(f"{what}: {group!r} must have exactly two groups, got {groups}.")
    extra = [v for v in present if v not in groups]
    if extra:
        raise ValueError(f"{what}: groups {groups} do not match the values of {group!r}: {present}.")
    if len(set(map(repr, groups))) != 2:
        raise ValueError(f"{what}: the two groups must differ, got {groups}.")
    # a listed group nobody is in is valid data (a site where everyone was reached): the
    # summaries count 0 and the tests say "empty group" instead of raising
    return groups


def _name(gr, group_names) -> str:
    """How a reason names group ``gr``: ``group_names[gr]`` or ``group <value>``."""
    if group_names and gr in group_names:
        return str(group_names[gr])
    return f"group {gr!r}"


def _scalar(x) -> float:
    """scipy returns some statistics as 1-element arrays (fisher_exact with MonteCarloMethod)."""
    return float(np.asarray(x, dtype=float).ravel()[0])


def _category_levels(s: pd.Series) -> list:
    """Observed levels, in categorical order if the column is categorical, else sorted."""
    present = set(s.dropna().unique())
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [c for c in s.cat.categories if c in present]
    try:
        return sorted(present)
    except TypeError:
        raise ValueError(
            f"column {s.name!r} mixes value types ({sorted(map(repr, present))[:4]}); clean it to "
            "one type or make it categorical."
        ) from None


# --------------------------------------------------------------------------------------------
# standardized mean differences
# --------------------------------------------------------------------------------------------
def smd_continuous(x, y) -> float:
    """Standardized mean difference of a continuous variable between two groups.

    Parameters
    ----------
    x, y : array_like
        Values in the first (e.g. reached) and second group. Missing values (NaN) are
        dropped in each group.

    Returns
    -------
    float
        ``(mean(x) - mean(y)) / sqrt((var(x) + var(y)) / 2)``, signed, unrounded. ``0.0`` when
        both groups are one and the same constant; ``NaN`` when the variances are zero but
        the means differ, or a group has fewer than 2 values.

    Notes
    -----
    Cohen's d with the denominator Austin (2009, eq. 1) recommends for balance diagnostics:
    the square root of the *unweighted* average of the two sample variances (``ddof = 1``),
    not the ``n``-weighted pooled SD of the t-test. This is what R tableone (``StdDiff``)
    and Python tableone compute, so the numbers can be compared with theirs. Sample sizes do
    not enter, so the SMD does not grow with ``n`` as a test statistic does; |SMD| > 0.1 is
    the usual mark of a noteworthy imbalance (Austin 2009). :func:`table1` reports the
    absolute value, as tableone does.

    References
    ----------
    .. [1] Austin, P. C. (2009). Balance diagnostics for comparing the distribution of
       baseline covariates between treatment groups in propensity-score matched samples.
       *Statistics in Medicine*, 28(25), 3083-3107.
    .. [2] Yoshida, K., & Bartel, A. tableone (R package), function ``StdDiff``.

    Examples
    --------
    Means 3 and 5, variances 2.5 and 2.5: d = (3 - 5) / sqrt(2.5) = -1.2649.

    >>> from analysis.stats.compare import smd_continuous
    >>> round(smd_continuous([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]), 4)
    -1.2649
    """
    a = _numeric(x, "smd_continuous")
    b = _numeric(y, "smd_continuous")
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    diff = a.mean() - b.mean()
    pooled = (a.var(ddof=1) + b.var(ddof=1)) / 2
    if pooled == 0:
        return 0.0 if diff == 0 else float("nan")
    return float(diff / np.sqrt(pooled))


def smd_categorical(x, y, levels: Sequence | None = None) -> float:
    """Standardized mean difference of a categorical variable (Yang & Dalton 2012).

    Parameters
    ----------
    x, y : array_like
        Category of each member of the first and second group. Missing values (None/NaN) are
        dropped.
    levels : sequence, optional
        All levels, in order (the first is the one left out). Default: the observed levels
        of ``x`` and ``y`` together, sorted.

    Returns
    -------
    float
        The SMD, >= 0, unrounded. ``0.0`` when both groups are in the same single level.

    Notes
    -----
    With :math:`K` levels, let :math:`\\hat p_1, \\hat p_2` be the vectors of the shares of
    levels 2..K in each group (level 1 left out, since the shares add to 1), and

    .. math::

        S_{kk} = \\frac{p_{1k}(1-p_{1k}) + p_{2k}(1-p_{2k})}{2}, \\qquad
        S_{kl} = -\\frac{p_{1k}p_{1l} + p_{2k}p_{2l}}{2} \\; (k \\ne l).

    Then :math:`\\text{SMD} = \\sqrt{(\\hat p_1-\\hat p_2)^\\top S^{-1} (\\hat p_1-\\hat p_2)}`,
    the Mahalanobis distance of the two share vectors (Yang & Dalton 2012). For two levels it
    reduces to Austin's (2009) binary SMD
    :math:`|p_1-p_2| / \\sqrt{(p_1(1-p_1)+p_2(1-p_2))/2}`. As R tableone
    (``StdDiffMulti``), :math:`S^{-1}` is the Moore-Penrose inverse, which equals the inverse
    when :math:`S` is regular and still gives a value when a level is empty in both groups'
    complement; and the value is ``NaN`` when :math:`S` is all zeros but the shares differ.

    References
    ----------
    .. [1] Yang, D., & Dalton, J. E. (2012). A unified approach to measuring the effect size
       between two groups using SAS. SAS Global Forum 2012, paper 335-2012.
    .. [2] Austin, P. C. (2009). *Statistics in Medicine*, 28(25), 3083-3107.

    Examples
    --------
    Two levels, shares 0.5 and 0.25: |0.5 - 0.25| / sqrt((0.25 + 0.1875) / 2) = 0.5345.

    >>> from analysis.stats.compare import smd_categorical
    >>> round(smd_categorical(["a", "b"] * 4, ["a", "a", "a", "b"] * 2), 4)
    0.5345
    """
    xs = pd.Series(np.asarray(x, dtype=object).ravel()).dropna()
    ys = pd.Series(np.asarray(y, dtype=object).ravel()).dropna()
    if len(xs) == 0 or len(ys) == 0:
        return float("nan")
    if levels is None:
        levels = _category_levels(pd.concat([xs, ys], ignore_index=True))
    levels = list(levels)
    unknown = (set(xs) | set(ys)) - set(levels)
    if unknown:
        raise ValueError(f"smd_categorical: values {sorted(map(str, unknown))} are not in levels.")
    if len(levels) < 2:
        return 0.0
    p1 = np.array([(xs == lv).mean() for lv in levels[1:]])
    p2 = np.array([(ys == lv).mean() for lv in levels[1:]])
    s1 = np.diag(p1) - np.outer(p1, p1)
    s2 = np.diag(p2) - np.outer(p2, p2)
    s = (s1 + s2) / 2
    d = p1 - p2
    if np.all(s == 0):
        return 0.0 if np.all(d == 0) else float("nan")
    return float(np.sqrt(max(d @ np.linalg.pinv(s) @ d, 0.0)))


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------
def categorical_test(
    data: pd.DataFrame,
    variable: str,
    group: str,
    *,
    groups: Sequence | None = None,
    yates: bool = True,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    group_names: Mapping | None = None,
) -> pd.DataFrame:
    """Test of association between a categorical variable and the two groups.

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified.
    variable, group : str
        Column names. ``group`` must have exactly two values and no missing values.
    groups : sequence, optional
        Order of the two groups (default ``[True, False]`` for a boolean group).
    yates : bool, default True
        Continuity correction for 2x2 chi-square tests (see Notes).
    n_resamples, seed : int
        Random tables and seed for the Monte Carlo Fisher-Freeman-Halton test.
    group_names : mapping, optional
        Group value -> name used in the ``not_estimable`` reason (e.g. ``{False: "not
        reached"}``); default ``group <value>``.

    Returns
    -------
    pandas.DataFrame
        One row: ``variable``, ``test`` (name of the test used), ``statistic_name``
        (``chi2``, ``odds_ratio`` or ``table_probability``, see :data:`STATISTIC_NAMES`),
        ``statistic`` (chi-square; the sample odds ratio for Fisher 2x2, 0 or ``inf`` when a
        cell is 0; the observed table's probability for Fisher-Freeman-Halton), ``dof``
        (chi-square only), ``p``, ``min_expected`` (smallest expected count under
        independence), ``n`` (rows with a non-missing value), ``not_estimable`` (``""``, or
        why there is no test: ``too few respondents``, ``empty group``, ``no variation``).

    Notes
    -----
    Rows with a missing value are left out (the table shows them as a level of their own,
    but "missing" is not a category to test). Levels nobody has are left out of the table
    (a zero row has expected counts of 0). The rule, as in tableone, is by the smallest
    expected count :math:`E = (\\text{row total} \\times \\text{column total}) / n`:

    * every :math:`E \\ge 5`: Pearson chi-square (``scipy.stats.chi2_contingency``). For a
      2x2 table with Yates' continuity correction by default, because R's ``chisq.test``
      (``correct = TRUE``), R tableone and Python tableone all use it, so our p-values can be
      checked against theirs. Yates' correction is conservative (Campbell 2007); set
      ``yates=False`` for the uncorrected test. Larger tables are never corrected.
    * some :math:`E < 5`, 2x2: Fisher's exact test, two-sided (``scipy.stats.fisher_exact``;
      the two-sided p sums the tables no more probable than the observed one, as R's
      ``fisher.test``).
    * some :math:`E < 5`, larger: the Fisher-Freeman-Halton test (Freeman & Halton 1951), the
      same criterion for r x c tables. scipy computes it only by Monte Carlo
      (``fisher_exact`` with ``MonteCarloMethod``: random tables with the observed margins),
      so the p-value carries Monte Carlo error (SE <= 0.0016 with 100 000 tables) and is
      fixed by ``seed``. The test name says so.
    * no answer at all, a group without answers, or fewer than two observed levels:
      nothing to test; ``test`` is ``"not tested"``, ``p`` is NaN and ``not_estimable`` says
      why (these are valid data at a small site, not errors).

    References
    ----------
    .. [1] Freeman, G. H., & Halton, J. H. (1951). Note on an exact treatment of contingency,
       goodness of fit and other problems of significance. *Biometrika*, 38, 141-149.
    .. [2] Campbell, I. (2007). Chi-squared and Fisher-Irwin tests of two-by-two tables with
       small sample recommendations. *Statistics in Medicine*, 26, 3661-3675.
    .. [3] Agresti, A. (2007). *An Introduction to Categorical Data Analysis* (2nd ed.),
       section 2.4.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.compare import categorical_test
    >>> df = pd.DataFrame({"reached": [True] * 10 + [False] * 10,
    ...                    "gender": ["vrouw"] * 8 + ["man"] * 2 + ["vrouw"] * 3 + ["man"] * 7})
    >>> r = categorical_test(df, "gender", "reached")
    >>> r.loc[0, "test"], round(float(r.loc[0, "p"]), 4)
    ('Fisher exact', 0.0698)
    """
    _check_data(data, [variable, group], "categorical_test")
    groups = _group_levels(data, group, groups, "categorical_test")
    if not isinstance(n_resamples, (int, np.integer)) or isinstance(n_resamples, bool) or n_resamples < 100:
        raise ValueError("n_resamples must be an integer of at least 100 (the pipeline uses study.yaml's 100000).")
    keep = data[variable].notna()
    v = data.loc[keep, variable]
    g = data.loc[keep, group]
    levels = _category_levels(v)
    table = np.array([[int(((v == lv) & (g == gr)).sum()) for gr in groups] for lv in levels],
                     dtype=np.int64).reshape(len(levels), len(groups))
    n = int(table.sum())
    out = {"variable": variable, "test": "", "statistic_name": "", "statistic": np.nan, "dof": np.nan,
           "p": np.nan, "min_expected": np.nan, "n": n, "not_estimable": ""}
    col_totals = table.sum(axis=0)
    if n == 0:
        reason = f"too few respondents (n = 0 with an answer to {variable!r})"
    elif (col_totals == 0).any():
        who = _name(groups[int(np.flatnonzero(col_totals == 0)[0])], group_names)
        reason = f"empty group: no one in {who} answered {variable!r}"
    elif len(levels) < 2:
        reason = f"no variation: every answer to {variable!r} is {levels[0]!r}"
    else:
        reason = ""
    if reason:
        out.update(test="not tested", not_estimable=reason)
        return pd.DataFrame([out])
    expected = stats.contingency.expected_freq(table)
    out["min_expected"] = float(expected.min())
    if expected.min() >= 5:
        correction = bool(yates and table.shape == (2, 2))
        res = stats.chi2_contingency(table, correction=correction)
        out.update(
            test="Pearson chi-square" + (" (Yates continuity correction)" if correction else ""),
            statistic_name="chi2", statistic=float(res.statistic), dof=float(res.dof), p=float(res.pvalue),
        )
    elif table.shape == (2, 2):
        res = stats.fisher_exact(table)
        out.update(test="Fisher exact", statistic_name="odds_ratio", statistic=_scalar(res.statistic),
                   p=_scalar(res.pvalue))
    else:
        method = stats.MonteCarloMethod(n_resamples=int(n_resamples), rng=np.random.default_rng(seed))
        res = stats.fisher_exact(table, method=method)
        out.update(
            test=f"Fisher-Freeman-Halton (Monte Carlo, {n_resamples} tables, seed {seed})",
            statistic_name="table_probability", statistic=_scalar(res.statistic), p=_scalar(res.pvalue),
        )
    return pd.DataFrame([out])


def continuous_test(
    data: pd.DataFrame,
    variable: str,
    group: str,
    *,
    nonnormal: bool = False,
    groups: Sequence | None = None,
    group_names: Mapping | None = None,
) -> pd.DataFrame:
    """Welch's t-test or the Mann-Whitney U test of a continuous variable between two groups.

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified.
    variable, group : str
        Column names. ``group`` must have exactly two values and no missing values.
    nonnormal : bool, default False
        ``False``: Welch's t-test. ``True``: Mann-Whitney U.
    groups : sequence, optional
        Order of the two groups (default ``[True, False]`` for a boolean group); the t
        statistic is first minus second, U is the first group's.
    group_names : mapping, optional
        Group value -> name used in the ``not_estimable`` reason.

    Returns
    -------
    pandas.DataFrame
        One row: ``variable``, ``test``, ``statistic_name`` (``t`` or ``U``), ``statistic``
        (t or U), ``dof`` (Welch-Satterthwaite degrees of freedom; NaN for U), ``p``
        (two-sided), ``n`` (non-missing values), ``not_estimable`` (``""`` or the reason).

    Notes
    -----
    Which test is chosen by the caller (the study configuration lists the skewed variables,
    as tableone's ``nonnormal``), not by a normality pre-test on the same data: testing
    normality first and picking the test on its outcome distorts the error rates of the
    second test (Rochon, Gondan & Kieser 2012). Welch's t-test rather than Student's,
    because it does not assume equal variances and loses almost nothing when they are
    equal (Delacre, Lakens & Leys 2017); note that R tableone uses Student's (``oneway.test``
    with ``var.equal = TRUE``), so its p-values differ slightly from ours.

    Mann-Whitney U (``scipy.stats.mannwhitneyu``, two-sided): exact when the smaller group
    has at most 8 values and there are no ties, otherwise the normal approximation with tie
    correction and continuity correction (scipy's ``"auto"`` rule, made explicit here so the
    test name says which was used). Missing values are dropped. Not estimable (NaN, test
    ``"not tested"`` and the reason in ``not_estimable``): a group without values (``empty
    group``), fewer than 2 values in a group (``too few respondents``), or nothing for the test
    to use (``no variation``: Welch with every value the same within each group, so the
    standard error is 0; Mann-Whitney with every value tied, so the rank variance is 0).

    References
    ----------
    .. [1] Welch, B. L. (1947). The generalization of "Student's" problem when several
       different population variances are involved. *Biometrika*, 34, 28-35.
    .. [2] Mann, H. B., & Whitney, D. R. (1947). On a test of whether one of two random
       variables is stochastically larger than the other. *Ann. Math. Statist.*, 18, 50-60.
    .. [3] Rochon, J., Gondan, M., & Kieser, M. (2012). To test or not to test: preliminary
       assessment of normality when comparing two independent samples. *BMC Medical
       Research Methodology*, 12, 81.
    .. [4] Delacre, M., Lakens, D., & Leys, C. (2017). Why psychologists should by default use
       Welch's t-test instead of Student's t-test. *International Review of Social
       Psychology*, 30(1), 92-101.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.compare import continuous_test
    >>> df = pd.DataFrame({"g": [True] * 3 + [False] * 3, "age": [1, 2, 3, 4, 5, 6]})
    >>> continuous_test(df, "age", "g", nonnormal=True)[["test", "statistic", "p"]]
                         test  statistic    p
    0  Mann-Whitney U (exact)        0.0  0.1
    """
    _check_data(data, [variable, group], "continuous_test")
    groups = _group_levels(data, group, groups, "continuous_test")
    values = _numeric(data[variable], f"continuous_test({variable!r})")
    gvals = data[group].to_numpy()
    a = values[(gvals == groups[0]) & ~np.isnan(values)]
    b = values[(gvals == groups[1]) & ~np.isnan(values)]
    out = {"variable": variable, "test": "", "statistic_name": "", "statistic": np.nan, "dof": np.nan,
           "p": np.nan, "n": int(len(a) + len(b)), "not_estimable": ""}
    pooled = np.concatenate([a, b])
    if len(a) == 0 or len(b) == 0:
        who = _name(groups[0] if len(a) == 0 else groups[1], group_names)
        reason = f"empty group: no one in {who} has a value of {variable!r}"
    elif len(a) < 2 or len(b) < 2:
        reason = (f"too few respondents (n = {len(a)} in {_name(groups[0], group_names)} and {len(b)} in "
                  f"{_name(groups[1], group_names)} with a value of {variable!r}; at least 2 per group needed)")
    elif nonnormal and np.all(pooled == pooled[0]):
        reason = f"no variation: every value of {variable!r} is {pooled[0]:g}"
    elif not nonnormal and a.var() == 0 and b.var() == 0:
        reason = f"no variation: {variable!r} is constant within each group (standard error 0)"
    else:
        reason = ""
    if reason:
        out.update(test="not tested", not_estimable=reason)
        return pd.DataFrame([out])
    if nonnormal:
        ties = len(np.unique(np.concatenate([a, b]))) < len(a) + len(b)
        method = "exact" if (min(len(a), len(b)) <= 8 and not ties) else "asymptotic"
        res = stats.mannwhitneyu(a, b, alternative="two-sided", method=method, use_continuity=True)
        name = ("Mann-Whitney U (exact)" if method == "exact" else
                "Mann-Whitney U (normal approximation, tie and continuity corrected)")
        out.update(test=name, statistic_name="U", statistic=float(res.statistic), p=float(res.pvalue))
    else:
        res = stats.ttest_ind(a, b, equal_var=False)
        out.update(test="Welch t-test", statistic_name="t", statistic=float(res.statistic), dof=float(res.df),
                   p=float(res.pvalue))
    return pd.DataFrame([out])


# --------------------------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------------------------
def categorical_summary(
    data: pd.DataFrame,
    variable: str,
    group: str,
    *,
    groups: Sequence | None = None,
    overall: bool = True,
    missing_label: str = "missing",
) -> pd.DataFrame:
    """Counts and percentages of each level of a categorical variable per group.

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified.
    variable, group : str
        Column names.
    groups : sequence, optional
        Order of the two groups (default ``[True, False]`` for a boolean group).
    overall : bool, default True
        Also give the whole sample, with ``group = "overall"``.
    missing_label : str, default "missing"
        Level shown for missing values; raises ``ValueError`` if it is also a real level.

    Returns
    -------
    pandas.DataFrame
        One row per group and level: ``variable``, ``level``, ``group``, ``n``, ``pct``. The
        levels are, for a categorical column, all its categories in their order (a declared
        level nobody has shows as 0, as in R tableone), else the observed values sorted;
        then, if any value is missing, ``missing_label`` last.

    Notes
    -----
    ``pct`` is the percentage (0-100) of *all* rows of the group, the missing level
    included, so a group's levels add up to 100 and the missing share is visible (R
    tableone's ``includeNA = TRUE``). For "valid percentages" exclude the missing row and
    rescale. The tests and SMDs leave missing values out.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.compare import categorical_summary
    >>> df = pd.DataFrame({"g": [True, True, False, False], "x": ["a", None, "a", "b"]})
    >>> categorical_summary(df, "x", "g", overall=False)
      variable    level  group  n   pct
    0        x        a   True  1  50.0
    1        x        b   True  0   0.0
    2        x  missing   True  1  50.0
    3        x        a  False  1  50.0
    4        x        b  False  1  50.0
    5        x  missing  False  0   0.0
    """
    _check_data(data, [variable, group], "categorical_summary")
    groups = _group_levels(data, group, groups, "categorical_summary")
    v = data[variable]
    if isinstance(v.dtype, pd.CategoricalDtype):
        levels = list(v.cat.categories)  # every declared level, also those nobody has
    else:
        levels = _category_levels(v)
    if missing_label in levels:
        raise ValueError(
            f"categorical_summary: {variable!r} has a real level {missing_label!r}; pass another "
            "missing_label."
        )
    any_missing = bool(v.isna().any())
    blocks = [(gr, (data[group] == gr).to_numpy()) for gr in groups]
    if overall:
        blocks.append(("overall", np.ones(len(data), dtype=bool)))
    rows = []
    for gr, mask in blocks:
        sub = v[mask]
        total = len(sub)
        counts = [(lv, int((sub == lv).sum())) for lv in levels]
        if any_missing:
            counts.append((missing_label, int(sub.isna().sum())))
        for lv, c in counts:
            rows.append({"variable": variable, "level": lv, "group": gr, "n": c,
                         "pct": 100 * c / total if total else np.nan})
    out = pd.DataFrame(rows)
    out["level"] = out["level"].astype(object)
    out["group"] = out["group"].astype(object)
    return out


def continuous_summary(
    data: pd.DataFrame,
    variable: str,
    group: str,
    *,
    groups: Sequence | None = None,
    overall: bool = True,
) -> pd.DataFrame:
    """Mean, SD, median and quartiles of a continuous variable per group.

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified.
    variable, group : str
        Column names.
    groups : sequence, optional
        Order of the two groups (default ``[True, False]`` for a boolean group).
    overall : bool, default True
        Also give the whole sample, with ``group = "overall"``.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``variable``, ``group``, ``n`` (non-missing), ``mean``, ``sd``
        (``ddof = 1``), ``median``, ``q1``, ``q3``, ``n_missing``.

    Notes
    -----
    Quartiles by linear interpolation between order statistics (numpy's default, R's
    ``quantile`` type 7, which R tableone uses). Missing values are left out and counted in
    ``n_missing``.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.compare import continuous_summary
    >>> df = pd.DataFrame({"g": [True] * 4 + [False] * 2, "age": [20, 30, 40, None, 50, 60]})
    >>> continuous_summary(df, "age", "g", overall=False)[["group", "n", "mean", "median", "q1", "n_missing"]]
       group  n  mean  median    q1  n_missing
    0   True  3  30.0    30.0  25.0          1
    1  False  2  55.0    55.0  52.5          0
    """
    _check_data(data, [variable, group], "continuous_summary")
    groups = _group_levels(data, group, groups, "continuous_summary")
    values = _numeric(data[variable], f"continuous_summary({variable!r})")
    gvals = data[group].to_numpy()
    blocks = [(gr, gvals == gr) for gr in groups]
    if overall:
        blocks.append(("overall", np.ones(len(data), dtype=bool)))
    rows = []
    for gr, mask in blocks:
        x = values[mask]
        ok = x[~np.isnan(x)]
        n = len(ok)
        rows.append({
            "variable": variable, "group": gr, "n": n,
            "mean": float(ok.mean()) if n else np.nan,
            "sd": float(ok.std(ddof=1)) if n > 1 else np.nan,
            "median": float(np.median(ok)) if n else np.nan,
            "q1": float(np.quantile(ok, 0.25)) if n else np.nan,
            "q3": float(np.quantile(ok, 0.75)) if n else np.nan,
            "n_missing": int(np.isnan(x).sum()),
        })
    out = pd.DataFrame(rows)
    out["group"] = out["group"].astype(object)
    return out


# --------------------------------------------------------------------------------------------
# Table 1
# --------------------------------------------------------------------------------------------
def _with_test(summ: pd.DataFrame, test: pd.Series, reason: str) -> pd.DataFrame:
    """The summary rows with the variable's test columns and ``not_estimable`` repeated."""
    for col in ("test", "statistic_name", "statistic", "dof", "p"):
        summ[col] = test[col]
    summ["not_estimable"] = reason
    return summ


TABLE1_COLUMNS = ["variable", "type", "level", "group", "n", "pct", "mean", "sd", "median",
                  "q1", "q3", "n_missing", "smd", "test", "statistic_name", "statistic", "dof", "p",
                  "not_estimable"]


def table1(
    data: pd.DataFrame,
    group: str,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    *,
    nonnormal: Sequence[str] = (),
    groups: Sequence | None = None,
    overall: bool = True,
    missing_label: str = "missing",
    yates: bool = True,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    group_names: Mapping | None = None,
) -> pd.DataFrame:
    """Numeric Table 1: two groups compared on categorical and continuous variables.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent. Not modified.
    group : str
        The two-valued grouping column (``reached``: ``True`` / ``False``); no missing values.
    categorical, continuous : sequence of str
        Variables, in the order the table shows them (categorical first, then continuous).
    nonnormal : sequence of str
        Continuous variables tested with Mann-Whitney U instead of Welch's t (declared in the
        study config; see :func:`continuous_test`).
    groups : sequence, optional
        Order of the two groups (default ``[True, False]`` for a boolean group).
    overall : bool, default True
        Also give the whole sample, with ``group = "overall"``.
    missing_label : str, default "missing"
        The level under which missing values of categorical variables are counted.
    yates, n_resamples, seed
        Passed to :func:`categorical_test`.
    group_names : mapping, optional
        Group value -> name in the ``not_estimable`` reasons (e.g. ``{True: "reached"}``).

    Returns
    -------
    pandas.DataFrame
        Long and tidy, unrounded, one row per variable x level x group (categorical) or
        variable x group (continuous), columns:

        ``variable``, ``type`` (``"categorical"``/``"continuous"``), ``level`` (NaN for
        continuous), ``group``, ``n`` (count in the level; non-missing values for
        continuous), ``pct`` (0-100, of all rows of the group; categorical only),
        ``mean``, ``sd``, ``median``, ``q1``, ``q3``, ``n_missing`` (continuous only),
        ``smd`` (absolute SMD, see :func:`smd_categorical` / :func:`smd_continuous`),
        ``test``, ``statistic_name`` (what ``statistic`` holds: ``chi2``, ``odds_ratio``,
        ``table_probability``, ``t``, ``U``; :data:`STATISTIC_NAMES`), ``statistic``, ``dof``,
        ``p`` (see :func:`categorical_test` / :func:`continuous_test`), ``not_estimable``
        (``""``, or why the test or the SMD could not be computed; its NaN cells are then
        those). ``smd`` to ``not_estimable`` belong to the variable and are repeated on each
        of its rows.

    Notes
    -----
    The pieces are :func:`categorical_summary`, :func:`continuous_summary`,
    :func:`categorical_test`, :func:`continuous_test`, :func:`smd_categorical` and
    :func:`smd_continuous`; each is tested on its own. Missing values of a categorical
    variable are a level of their own in the counts but are left out of the test and the SMD;
    for continuous variables they are counted in ``n_missing``. A group nobody is in (a site
    where everyone was reached) is valid: its counts are 0, its percentages NaN, and the test
    and SMD are not estimable with the reason ``empty group``. Both mean/SD and
    median/quartiles are given for every continuous variable; the report shows the pair that
    matches the test (mean/SD with Welch, median [Q1-Q3] with Mann-Whitney). No correction
    for multiple testing: Table 1 p-values describe, they do not confirm.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.compare import table1
    >>> df = pd.DataFrame({
    ...     "reached": [True] * 10 + [False] * 10,
    ...     "gender": ["vrouw"] * 8 + ["man"] * 2 + ["vrouw"] * 3 + ["man"] * 7,
    ...     "age": list(range(60, 70)) + list(range(40, 50)),
    ... })
    >>> t = table1(df, "reached", ["gender"], ["age"], overall=False)
    >>> t[t.variable == "age"][["group", "n", "mean", "test"]]
       group   n  mean          test
    4   True  10  64.5  Welch t-test
    5  False  10  44.5  Welch t-test
    >>> round(float(t.loc[0, "smd"]), 4)  # |0.8 - 0.3| / sqrt((0.8*0.2 + 0.3*0.7) / 2)
    1.1625
    """
    for name, seq in (("categorical", categorical), ("continuous", continuous),
                      ("nonnormal", nonnormal)):
        if isinstance(seq, str) or any(not isinstance(c, str) for c in seq):
            raise ValueError(f"table1: {name} must be a list of column names.")
    categorical, continuous, nonnormal = list(categorical), list(continuous), list(nonnormal)
    _check_data(data, [group, *categorical, *continuous], "table1")
    if not categorical and not continuous:
        raise ValueError("table1: pass at least one categorical or continuous variable.")
    both = set(categorical) & set(continuous)
    if both:
        raise ValueError(f"table1: {sorted(both)} listed as both categorical and continuous.")
    stray = set(nonnormal) - set(continuous)
    if stray:
        raise ValueError(f"table1: nonnormal {sorted(stray)} are not in continuous.")
    if group in categorical or group in continuous:
        raise ValueError(f"table1: the group column {group!r} cannot also be a variable.")
    groups = _group_levels(data, group, groups, "table1")
    gvals = data[group]
    frames = []
    for var in categorical:
        summ = categorical_summary(data, var, group, groups=groups, overall=overall,
                                   missing_label=missing_label)
        test = categorical_test(data, var, group, groups=groups, yates=yates,
                                n_resamples=n_resamples, seed=seed, group_names=group_names).iloc[0]
        levels = _category_levels(data[var])
        smd = smd_categorical(data.loc[gvals == groups[0], var], data.loc[gvals == groups[1], var],
                              levels=levels)
        summ["type"] = "categorical"
        summ["smd"] = smd
        reason = test["not_estimable"] or ("" if not np.isnan(smd) else
                                           "no variation: SMD undefined (each group is in one level, a different one)")
        frames.append(_with_test(summ, test, reason))
    for var in continuous:
        summ = continuous_summary(data, var, group, groups=groups, overall=overall)
        test = continuous_test(data, var, group, groups=groups, nonnormal=var in nonnormal,
                               group_names=group_names).iloc[0]
        values = _numeric(data[var], f"table1({var!r})")
        g = gvals.to_numpy()
        smd = smd_continuous(values[g == groups[0]], values[g == groups[1]])
        summ["type"] = "continuous"
        summ["level"] = np.nan
        summ["smd"] = abs(smd)
        reason = test["not_estimable"] or ("" if not np.isnan(smd) else
                                           "no variation: SMD undefined (no variation within either group)")
        frames.append(_with_test(summ, test, reason))
    out = pd.concat(frames, ignore_index=True)
    for col in TABLE1_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    out["n"] = out["n"].astype("int64")
    out["n_missing"] = out["n_missing"].astype("Int64")
    out["level"] = out["level"].astype(object)
    return out[TABLE1_COLUMNS]
