"""Logistic regression of being reached, as odds ratios, and a forest plot.

Notebook 02 (STUDY.md section 6, "02 reach"): who is reached, adjusted for the other
characteristics, with site as a fixed effect. Valid data of any size give a table: what cannot
be estimated is a row with its reason in ``not_estimable``; separated data are fitted by Firth's
penalised likelihood (rule and sources in :func:`logistic_or`).

=====================  ======================================================================
function               returns
=====================  ======================================================================
:func:`logistic_or`    one row per term: ``term``, ``variable``, ``level``, ``reference``,
                       ``odds_ratio``, ``ci_low``, ``ci_high``, ``p``, ``log_or``, ``se``,
                       ``test``, ``se_type``, ``n_used``, ``n_dropped``, ``n_clusters``,
                       ``method``, ``separation``, ``events_per_parameter``, ``not_estimable``
:func:`forest_plot`    a matplotlib Figure
=====================  ======================================================================

Maximum likelihood is fitted by statsmodels (``Logit``); separation is detected with Konis's
linear program and Firth's fit with its profile intervals computed by ``firthmodels`` (MIT,
maintained; its benchmarks compare it with R's logistf, and tests/test_stats_models.py checks
it against a closed form). This module builds the design matrix with explicit term names (so
the table never has to parse formula strings) and shapes the result.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["logistic_or", "forest_plot", "design_matrix"]


# --------------------------------------------------------------------------------------------
# design matrix
# --------------------------------------------------------------------------------------------
def _level_codes(s: pd.Series, keep: np.ndarray) -> tuple[np.ndarray, list]:
    """Integer codes of the kept rows of a column, and its levels observed there, in order.

    Categorical order for a categorical column, else sorted (``False`` before ``True``). Codes
    and numpy instead of a comparison per level and pandas row selection: a per-site model of
    a national monitor builds 300 designs, and the pandas operations cost ~5 ms per design.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy()[keep]
        used = np.flatnonzero(np.bincount(codes, minlength=len(s.cat.categories)))
        renumber = np.full(len(s.cat.categories), -1)
        renumber[used] = np.arange(used.size)
        return renumber[codes], [s.cat.categories[i] for i in used]
    try:
        codes, levels = pd.factorize(s[keep], sort=True)
    except TypeError:
        raise ValueError(f"column {s.name!r} mixes value types; clean it to one type.") from None
    return codes, list(levels)


def _outcome01(s: pd.Series, what: str, allow_constant: bool = False) -> pd.Series:
    """The outcome as Float64 0/1; other values raise (an invalid argument), one value too unless allowed."""
    vals = set(s.dropna().unique())
    if not vals <= {0, 1}:  # True == 1 and False == 0
        raise ValueError(
            f"{what}: outcome {s.name!r} must be boolean or 0/1, got values "
            f"{sorted(map(repr, vals))[:5]}."
        )
    if len(vals) < 2 and not allow_constant:
        raise ValueError(f"{what}: outcome {s.name!r} has only one value; nothing to model.")
    return s.astype("Float64")


def design_matrix(
    data: pd.DataFrame,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    reference: Mapping | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dummy-coded design matrix with an intercept, from complete rows only.

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified. Only rows without missing values in the listed columns are used.
    categorical : sequence of str
        Treatment-coded (one indicator per level except the reference).
    continuous : sequence of str
        Entered as they are (linear).
    reference : mapping, optional
        Column -> reference level. Default: the first observed level (categorical order if
        the column is categorical, else sorted; ``False`` for a boolean column). Keys for
        columns of ``data`` that are not in this model are ignored; other keys raise.

    Returns
    -------
    X : pandas.DataFrame
        Columns ``"intercept"``, then ``"<var>[<level>]"`` per non-reference level, then the
        continuous columns; float; index = the complete rows of ``data``.
    terms : pandas.DataFrame
        One row per column of ``X``: ``term``, ``variable``, ``level``, ``reference``.

    Notes
    -----
    Only levels observed among the complete rows get a column: an unobserved level has no
    estimable coefficient. A reference level not observed there raises ``ValueError``.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.models import design_matrix
    >>> df = pd.DataFrame({"g": ["b", "a", "c", None], "x": [1.0, 2.0, 3.0, 4.0]})
    >>> X, terms = design_matrix(df, ["g"], ["x"])
    >>> X
       intercept  g[b]  g[c]    x
    0        1.0   1.0   0.0  1.0
    1        1.0   0.0   0.0  2.0
    2        1.0   0.0   1.0  3.0
    """
    categorical, continuous = list(categorical), list(continuous)
    reference = dict(reference or {})
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"design_matrix: data must be a DataFrame, got {type(data).__name__}.")
    cols = categorical + continuous
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ValueError(f"design_matrix: columns not in data: {missing}.")
    if len(set(cols)) != len(cols):
        raise ValueError("design_matrix: a column is listed twice.")
    stray = [k for k in reference if k not in data.columns or k in continuous]
    if stray:
        raise ValueError(
            f"design_matrix: reference given for {stray}, which are not columns of data or are "
            "continuous. (References for columns not in this model are allowed, so one mapping "
            "from the study config can serve several models.)"
        )
    complete = np.ones(len(data), dtype=bool)
    for col in cols:
        complete &= data[col].notna().to_numpy()
    parts = {"intercept": np.ones(int(complete.sum()))}
    terms = {"term": ["intercept"], "variable": ["intercept"], "level": [np.nan], "reference": [np.nan]}

    def add(term, variable, level, ref):
        for key, value in zip(terms, (term, variable, level, ref)):
            terms[key].append(value)

    for var in categorical:
        codes, levels = _level_codes(data[var], complete)
        ref = reference.get(var, levels[0] if levels else None)
        if ref not in levels:
            raise ValueError(
                f"design_matrix: reference level {ref!r} of {var!r} does not occur among the "
                f"complete rows (levels: {levels})."
            )
        for i, lv in enumerate(levels):
            if lv == ref:
                continue
            name = f"{var}[{lv}]"
            parts[name] = (codes == i).astype(float)
            add(name, var, lv, ref)
    for var in continuous:
        s = data[var]
        if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
            raise ValueError(f"design_matrix: continuous {var!r} is not numeric; list it as categorical.")
        parts[var] = s.to_numpy(dtype=float, na_value=np.nan)[complete]
        add(var, var, np.nan, np.nan)
    X = pd.DataFrame(parts, index=data.index[complete])
    return X, pd.DataFrame({"term": terms["term"], "variable": terms["variable"],
                            "level": pd.Series(terms["level"], dtype=object),
                            "reference": pd.Series(terms["reference"], dtype=object)})


# --------------------------------------------------------------------------------------------
# logistic regression
# --------------------------------------------------------------------------------------------
#: Columns of the :func:`logistic_or` table, in order.
OR_COLUMNS = ["term", "variable", "level", "reference", "odds_ratio", "ci_low", "ci_high", "p", "log_or", "se",
              "test", "se_type", "n_used", "n_dropped", "n_clusters", "method", "separation",
              "events_per_parameter", "not_estimable"]
ML = "maximum likelihood"
FIRTH = "Firth penalised likelihood"


def logistic_or(
    data: pd.DataFrame,
    outcome: str,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    *,
    site: str | None = None,
    cluster: str | None | list[str | None] = None,
    reference: Mapping | None = None,
    confidence: float = 0.95,
    include_intercept: bool = False,
    firth: str = "auto",
    profile: Sequence[str] | None = None,
    min_events_per_parameter: float = 0.0,
) -> pd.DataFrame | list[pd.DataFrame]:
    """Odds ratios from a logistic regression of a binary outcome, complete cases.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent. Not modified.
    outcome : str
        Boolean or 0/1 column (``reached``); ``True`` / 1 is the modelled event.
    categorical, continuous : sequence of str
        Predictors (see :func:`design_matrix`).
    site : str, optional
        Column entered as a categorical fixed effect (its terms are in the table too, with
        ``variable = site``).
    cluster : str, optional, or a list of str and None
        Column by which standard errors are made cluster-robust (CR1, t with G - 1 df; see
        Notes). Default: model-based standard errors. A list (e.g. ``[None, "site"]``) fits
        the model once and returns a list with one table per entry, each with its own
        standard errors (the cluster-robust fit starts at the first fit's estimates).
    reference : mapping, optional
        Column -> reference level, for ``categorical`` and ``site``.
    confidence : float, default 0.95
        Level of the confidence intervals.
    include_intercept : bool, default False
        Also give the intercept row (its "odds ratio" is the odds at the reference levels
        and zero for the continuous predictors).
    firth : {"auto", "always", "never"}, default "auto"
        ``"auto"``: maximum likelihood, and Firth's penalised likelihood when the data are
        separated (rule in Notes); ``"always"``: Firth; ``"never"``: separated data give
        rows that are not estimable, with the reason.
    profile : sequence of str, optional
        Variables whose Firth intervals and p-values come from the profile penalised
        likelihood (default: all). The others get Wald intervals from the penalised fit
        (``test`` says which): with 300 site terms, 600 profile bounds would take minutes.
    min_events_per_parameter : float, default 0
        Below this many events per parameter (``events_per_parameter``: the rarer outcome's
        count divided by the number of non-intercept parameters) the model is not fitted
        and every row is not estimable ("not enough events"). 0: never.

    Returns
    -------
    pandas.DataFrame
        One row per term: ``term``, ``variable``, ``level``, ``reference`` (the reference
        level; NaN for continuous), ``odds_ratio``, ``ci_low``, ``ci_high``, ``p``,
        ``log_or``, ``se`` (of ``log_or``), ``test`` (what gave ``p`` and the interval),
        ``se_type``, ``n_used`` (complete cases), ``n_dropped`` (rows with a missing outcome
        or predictor), ``n_clusters`` (NaN unless ``cluster``), ``method`` (``"maximum
        likelihood"`` or ``"Firth penalised likelihood"``), ``separation`` (why Firth was
        used: ``"separation on <terms>: ..."``; empty otherwise), ``events_per_parameter``,
        ``not_estimable`` (empty when the row was estimated, else the reason; the numeric
        cells of such a row are NaN). Unrounded.

    Notes
    -----
    Complete-case analysis: a row with any missing value in the outcome, a predictor, the
    site or the cluster column is left out, and ``n_dropped`` says how many. Odds ratios are
    :math:`e^{\\beta}`; under maximum likelihood the intervals are Wald,
    :math:`e^{\\beta \\pm z\\,SE}`, with p from the Wald z-statistic (as statsmodels and R's
    ``summary.glm``).

    **What is not estimable** (a reason row instead of an error; valid data never raise):
    no complete case ("too few respondents"); an outcome with one value among the complete
    cases, a predictor column that is constant, or one that is a linear combination of the
    columns before it (aliased, dropped as R's ``glm`` gives ``NA``) ("no variation"); a
    reference level with no complete case ("empty group"); fewer events per parameter than
    ``min_events_per_parameter`` ("not enough events"); fewer than 2 clusters ("too few
    sites"). The other terms are estimated without the dropped ones.

    **Separation rule.** Before fitting, the linear program of Konis (2007) -- the check of
    R's ``detectseparation`` (Kosmidis, Schumacher & Schwendinger 2022), here
    ``firthmodels.detect_separation`` -- decides whether some direction :math:`b \\neq 0`
    has :math:`(2y_i - 1)\\,x_i'b \\ge 0` for every respondent, i.e. complete or
    quasi-complete separation, in which the maximum-likelihood estimate does not exist (e.g.
    a covariate level whose respondents are all reached). A maximum-likelihood fit that
    still fails (statsmodels 0.15.0 only *warns* with ``PerfectSeparationWarning`` when
    fitted probabilities reach 0 or 1, and quasi-complete separation usually shows only as a
    ``ConvergenceWarning`` or a singular Hessian) counts as separated too. Separated data
    are fitted by Firth's (1993) penalised likelihood (Heinze & Schemper 2002), which has
    finite estimates whenever the design has full rank (Kosmidis & Firth 2021), with
    ``firthmodels.FirthLogisticRegression``; intervals are profile penalised likelihood
    intervals and p-values penalised likelihood-ratio tests, as R's ``logistf`` gives by
    default. ``separation`` names the terms in the separating direction.

    **Cluster-robust errors** (``cluster``): statsmodels' sandwich (``cov_type="cluster"``)
    with the CR1 small-sample factor :math:`\\frac{G}{G-1}\\frac{N-1}{N-K}`, and intervals
    and p from the t distribution with :math:`G - 1` degrees of freedom (Cameron & Miller
    2015, section VI). Even so they need many clusters (Cameron & Miller advise some 20-50);
    callers use them only above a configured number of sites. Not available for a Firth
    fit (reason row).

    References
    ----------
    .. [1] Hosmer, D. W., Lemeshow, S., & Sturdivant, R. X. (2013). *Applied Logistic
       Regression* (3rd ed.). Wiley.
    .. [2] Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
       inference. *Journal of Human Resources*, 50(2), 317-372.
    .. [3] Woolf, B. (1955). On estimating the relation between blood group and disease.
       *Annals of Human Genetics*, 19, 251-253 (the 2x2 case: OR = ad/bc,
       SE(log OR) = sqrt(1/a + 1/b + 1/c + 1/d), which this model reproduces exactly).
    .. [4] Firth, D. (1993). Bias reduction of maximum likelihood estimates. *Biometrika*,
       80(1), 27-38.
    .. [5] Heinze, G., & Schemper, M. (2002). A solution to the problem of separation in
       logistic regression. *Statistics in Medicine*, 21(16), 2409-2419.
    .. [6] Konis, K. (2007). *Linear programming algorithms for detecting separated data in
       binary logistic regression models*. DPhil thesis, University of Oxford.
    .. [7] Kosmidis, I., & Firth, D. (2021). Jeffreys-prior penalty, finiteness and
       shrinkage in binomial-response generalized linear models. *Biometrika*, 108(1), 71-82.

    Examples
    --------
    A single binary predictor reproduces the 2x2 odds ratio ad/bc = (20 * 30) / (10 * 40):

    >>> import pandas as pd
    >>> from analysis.stats.models import logistic_or
    >>> df = pd.DataFrame({
    ...     "reached": [True] * 20 + [False] * 10 + [True] * 40 + [False] * 30,
    ...     "lonely": ["ja"] * 30 + ["nee"] * 70,
    ... })
    >>> r = logistic_or(df, "reached", ["lonely"], reference={"lonely": "nee"})
    >>> r[["term", "reference", "odds_ratio", "n_used", "method"]]
             term reference  odds_ratio  n_used              method
    0  lonely[ja]       nee         1.5     100  maximum likelihood

    Everyone lonely reached (a zero cell): Firth's estimate, which for a 2x2 table is the
    odds ratio with 0.5 added to each cell, (30.5 * 30.5) / (0.5 * 40.5) = 45.94:

    >>> df.loc[20:29, "reached"] = True
    >>> r = logistic_or(df, "reached", ["lonely"], reference={"lonely": "nee"})
    >>> round(r["odds_ratio"].item(), 2), r["method"].item()
    (45.94, 'Firth penalised likelihood')
    >>> r["separation"].item()
    'separation on lonely[ja]: all 30 with lonely[ja] = 1 have reached = 1'
    """
    from statsmodels.discrete.discrete_model import Logit  # not statsmodels.api: half the import time

    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"logistic_or: data must be a DataFrame, got {type(data).__name__}.")
    categorical, continuous = list(categorical), list(continuous)
    if site is not None:
        if site in categorical:
            raise ValueError(f"logistic_or: {site!r} is both site and a categorical predictor.")
        categorical = categorical + [site]
    clusters = list(cluster) if isinstance(cluster, list) else [cluster]
    needed = [outcome] + categorical + continuous + [c for c in clusters if c]
    missing = [c for c in dict.fromkeys(needed) if c not in data.columns]
    if missing:
        raise ValueError(f"logistic_or: columns not in data: {missing}.")
    if not categorical and not continuous:
        raise ValueError("logistic_or: pass at least one predictor.")
    if not 0 < confidence < 1:
        raise ValueError("logistic_or: confidence must lie between 0 and 1.")
    if firth not in ("auto", "always", "never"):
        raise ValueError(f"logistic_or: firth must be 'auto', 'always' or 'never', not {firth!r}.")
    if not (isinstance(min_events_per_parameter, (int, float)) and min_events_per_parameter >= 0):
        raise ValueError("logistic_or: min_events_per_parameter must be a number >= 0.")
    if firth == "always" and any(clusters):
        raise ValueError("logistic_or: firth='always' has no cluster-robust standard errors; drop cluster.")
    predictors = categorical + continuous
    profiled = set(predictors if profile is None else profile)
    stray = profiled - set(predictors)
    if stray:
        raise ValueError(f"logistic_or: profile names {sorted(stray)}, which are not predictors of this model.")
    complete = data[list(dict.fromkeys(needed))].notna().all(axis=1)
    d = data.loc[complete]
    y = _outcome01(d[outcome], "logistic_or", allow_constant=True).to_numpy(dtype=float)
    n_used, n_dropped = len(d), int((~complete).sum())
    X, terms, reasons = _estimable_design(d, categorical, continuous, reference)
    base = dict(n_used=n_used, n_dropped=n_dropped, include_intercept=include_intercept, predictors=predictors)

    k = X.shape[1] - 1  # non-intercept parameters
    events = int(min(y.sum(), n_used - y.sum())) if n_used else 0
    epv = events / k if k > 0 else np.nan
    whole = ""  # a reason that applies to the whole model
    if n_used == 0:
        whole = "too few respondents: no complete cases"
    elif y.min() == y.max():
        whole = f"no variation: {outcome} = {y[0]:g} for all {n_used} complete cases"
    elif k > 0 and epv < min_events_per_parameter:
        whole = (f"not enough events: {events} of the rarer outcome for {k} parameters (EPV {epv:.2f}; "
                 f"at least {min_events_per_parameter:g} per parameter needed)")

    tables, first, firth_fit, sep = [], None, None, ""
    if not whole and firth != "always":
        sep = _separation(X, y, outcome)
        if not sep:
            logit = Logit(y, X)  # built once: its rank check (a QR) costs 1 s at 9,000 rows and 70 columns
            first, failure = _fit_logit(logit, {"disp": 0, "maxiter": 200})
            if failure:
                sep = f"separation suspected: the maximum-likelihood fit failed ({failure})"
    for by in clusters:
        n_clusters, se_type = np.nan, "model-based"
        why = whole
        if by is not None:
            codes = pd.factorize(d[by])[0]
            n_clusters = int(codes.max() + 1) if len(codes) else 0
            se_type = f"cluster-robust CR1 by {by} ({n_clusters} clusters)"
            if not why and n_clusters < 2:
                why = f"too few sites: {n_clusters} cluster(s) of {by} among the complete cases; at least 2 needed"
        common = dict(base, se_type=se_type, n_clusters=n_clusters, epv=epv)
        if why:
            tables.append(_or_table(None, terms, reasons, confidence, why=why, **common))
            continue
        if first is not None:
            if by is None:
                est = _ml_estimates(first, confidence)
            else:
                fit_kw = {"disp": 0, "maxiter": 200, "start_params": first.params, "cov_type": "cluster",
                          "cov_kwds": {"groups": codes, "use_correction": True, "df_correction": True}}
                res, failure = _fit_logit(logit, fit_kw)
                if failure:  # the first fit converged from scratch: this does not happen on valid data
                    raise RuntimeError(f"logistic_or: the cluster-robust refit failed ({failure}).")
                est = _ml_estimates(res, confidence, df=n_clusters - 1)
            tables.append(_or_table(est, terms, reasons, confidence, method=ML, **common))
            continue
        if firth == "never":
            tables.append(_or_table(None, terms, reasons, confidence, why=sep, separation=sep, **common))
            continue
        if by is not None:
            tables.append(_or_table(None, terms, reasons, confidence, separation=sep, **common,
                                    why=f"{sep}; no cluster-robust standard errors for the Firth fit"))
            continue
        if firth_fit is None:
            firth_fit = _fit_firth(X, y, confidence, [v in profiled for v in terms["variable"]])
        est = firth_fit
        if isinstance(est, str):
            tables.append(_or_table(None, terms, reasons, confidence, separation=sep, **common,
                                    why=f"{sep or 'separation'}; {est}"))
        else:
            tables.append(_or_table(est, terms, reasons, confidence, method=FIRTH, separation=sep, **common))
    return tables if isinstance(cluster, list) else tables[0]


def _estimable_design(d: pd.DataFrame, categorical: list, continuous: list, reference: Mapping | None):
    """:func:`design_matrix` without the columns that cannot be estimated, and a reason row for each.

    Returns ``X``, its ``terms`` and a frame of reason rows (``term``, ``variable``, ``level``,
    ``reference``, ``not_estimable``). Dropped, in this order: a categorical variable whose
    reference level has no complete case ("empty group") or with one level only, a constant
    column, a column that is a linear combination of the columns before it (aliased).
    """
    reference = dict(reference or {})
    n = len(d)
    rows = []
    cats, refs = [], {}
    keep = np.ones(n, dtype=bool)
    for var in categorical:
        _, levels = _level_codes(d[var], keep)
        ref = reference.get(var, levels[0] if levels else None)
        if not levels:
            rows.append((var, var, np.nan, ref, "too few respondents: no complete cases"))
        elif ref not in levels:
            for lv in levels:
                rows.append((f"{var}[{lv}]", var, lv, ref,
                             f"empty group: reference level {ref!r} of {var} has no complete cases"))
        elif len(levels) == 1:
            rows.append((var, var, np.nan, ref, f"no variation: {var} = {ref!r} for all {n} complete cases"))
        else:
            cats.append(var)
            if var in reference:
                refs[var] = ref
    stray = {k: v for k, v in reference.items() if k not in categorical}  # design_matrix checks these
    X, terms = design_matrix(d, cats, continuous, {**stray, **refs})
    A = X.to_numpy()
    gram = A.T @ A  # aliasing from the k x k cross-products: an SVD per column of 9,000 rows took 20 s
    kept = [0]
    for j in range(1, X.shape[1]):
        col = A[:, j]
        t = terms.iloc[j]
        if n == 0:
            rows.append((t["term"], t["variable"], t["level"], t["reference"], "too few respondents: no complete cases"))
            continue
        if col.min() == col.max():
            rows.append((t["term"], t["variable"], t["level"], t["reference"],
                         f"no variation: {t['term']} = {col[0]:g} for all {n} complete cases"))
            continue
        # squared residual of column j regressed on the kept columns, relative to its square sum
        coef = np.linalg.lstsq(gram[np.ix_(kept, kept)], gram[kept, j], rcond=None)[0]
        if gram[j, j] - gram[kept, j] @ coef <= 1e-9 * gram[j, j]:
            with_ = [terms["term"].iloc[i] for i, c in zip(kept, coef) if abs(c) > 1e-8]
            rows.append((t["term"], t["variable"], t["level"], t["reference"],
                         f"no variation: {t['term']} is a linear combination of {', '.join(with_)} among the "
                         f"complete cases (aliased)"))
        else:
            kept.append(j)
    reasons = pd.DataFrame(rows, columns=["term", "variable", "level", "reference", "not_estimable"])
    return X.iloc[:, kept], terms.iloc[kept].reset_index(drop=True), reasons


def _separation(X: pd.DataFrame, y: np.ndarray, outcome: str) -> str:
    """``""``, or ``"separation on <terms>: ..."`` when Konis's (2007) linear program finds separation."""
    from firthmodels import detect_separation  # imports scikit-learn (~1.5 s): only when a model is fitted

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # its QR rank check: see _fit_firth
        res = detect_separation(X.to_numpy(), y, fit_intercept=False)
    if not res.separation:
        return ""
    cols = [j for j in range(1, X.shape[1]) if res.directions[j] != 0]
    names = [X.columns[j] for j in cols]
    for j in cols:  # a single 0/1 column explains it: say which group has one outcome
        x = X.iloc[:, j].to_numpy()
        if set(np.unique(x)) <= {0.0, 1.0}:
            for value in (1.0, 0.0):
                ys = y[x == value]
                if len(ys) and ys.min() == ys.max():
                    return (f"separation on {X.columns[j]}: all {len(ys)} with {X.columns[j]} = {value:g} "
                            f"have {outcome} = {ys[0]:g}")
    return (f"separation on {', '.join(names) or 'the intercept'}: together they predict {outcome} perfectly for "
            "some respondents (Konis 2007 linear program)")


def _fit_logit(model, fit_kw: dict):
    """``(result, "")`` from ``model.fit``, or ``(None, what went wrong)`` for separation or non-convergence."""
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning,
        HessianInversionWarning,
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", HessianInversionWarning)
        try:
            res = model.fit(**fit_kw)
        except (PerfectSeparationWarning, PerfectSeparationError, ConvergenceWarning,
                HessianInversionWarning, np.linalg.LinAlgError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
    if not res.mle_retvals.get("converged", True):
        return None, "did not converge"
    if not np.isfinite(res.bse).all():
        return None, "standard errors not finite"
    return res, ""


def _ml_estimates(res, confidence: float, df: int | None = None) -> dict:
    """Estimates, SEs, intervals and p of a statsmodels fit: Wald z, or t with ``df`` (cluster-robust)."""
    beta = res.params.to_numpy()
    se = res.bse.to_numpy()
    if df is None:
        q = stats.norm.ppf(0.5 + confidence / 2)
        p = 2 * stats.norm.sf(np.abs(beta / se))
        test = "Wald z"
    else:
        q = stats.t.ppf(0.5 + confidence / 2, df)
        p = 2 * stats.t.sf(np.abs(beta / se), df)
        test = f"Wald t ({df} df = clusters - 1)"
    return {"log_or": beta, "se": se, "lo": beta - q * se, "hi": beta + q * se, "p": p,
            "test": np.array([test] * len(beta), dtype=object)}


def _fit_firth(X: pd.DataFrame, y: np.ndarray, confidence: float, profiled: list[bool]):
    """Firth's penalised fit (firthmodels): estimates and, for ``profiled`` columns, profile intervals and LR p.

    Returns a dict as :func:`_ml_estimates`, or a string saying what did not converge.
    """
    from firthmodels import FirthLogisticRegression
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    m = FirthLogisticRegression(fit_intercept=False, backend="numpy", max_iter=200, gtol=1e-7, xtol=1e-7)
    idx = [j for j, p in enumerate(profiled) if p and j > 0]
    z = stats.norm.ppf(0.5 + confidence / 2)
    # one BLAS thread: the profile bounds solve many tiny systems, for which waking OpenBLAS's
    # threads costs ~16 ms a call (100 times the work) on a shared 2-core machine
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # checked through converged_ and NaN bounds below
        m.fit(X.to_numpy(), y)
        if not m.converged_:
            return "the Firth fit did not converge"
        beta, se = m.coef_.copy(), m.bse_.copy()
        lo, hi = beta - z * se, beta + z * se
        p = 2 * stats.norm.sf(np.abs(beta / se))
        test = np.array(["Wald z (Firth)"] * len(beta), dtype=object)
        if idx:
            m.lrt(idx)
            retry = [j for j in idx if np.isnan(m.lrt_pvalues_[j])]
            if retry:  # a warm-started constrained fit can stall where a cold start converges
                m.lrt(retry, warm_start=False)
            ci = m.conf_int(alpha=1 - confidence, method="pl", features=idx, max_iter=200, tol=1e-8)
            for j in idx:  # where a profile bound or the LR test did not converge: Wald, and say so
                if np.isfinite([ci[j, 0], ci[j, 1], m.lrt_pvalues_[j]]).all():
                    lo[j], hi[j], p[j] = ci[j, 0], ci[j, 1], m.lrt_pvalues_[j]
                    test[j] = "penalised likelihood ratio (Firth; profile interval)"
                else:
                    test[j] = "Wald z (Firth; the profile penalised likelihood did not converge)"
    bad = [X.columns[j] for j in range(1, len(beta)) if not np.isfinite([lo[j], hi[j], p[j], se[j]]).all()]
    if bad:
        return f"the Firth fit has no finite standard error for {', '.join(bad)}"
    return {"log_or": beta, "se": se, "lo": lo, "hi": hi, "p": p, "test": test}


def _or_table(est, terms: pd.DataFrame, reasons: pd.DataFrame, confidence: float, *, se_type: str, n_used: int,
              n_dropped: int, n_clusters: float, include_intercept: bool, predictors: list, epv: float,
              method: str = "", separation: str = "", why: str = "") -> pd.DataFrame:
    """The table of :func:`logistic_or`: estimated rows from ``est`` (or NaN with ``why``), then reason rows."""
    out = terms.copy()
    if est is None:
        for c in ("log_or", "se", "odds_ratio", "ci_low", "ci_high", "p"):
            out[c] = np.nan
        out["test"] = ""
        out["not_estimable"] = why
    else:
        out["log_or"] = est["log_or"]
        out["se"] = est["se"]
        out["odds_ratio"] = np.exp(est["log_or"])
        out["ci_low"] = np.exp(est["lo"])
        out["ci_high"] = np.exp(est["hi"])
        out["p"] = est["p"]
        out["test"] = est["test"]
        out["not_estimable"] = ""
    if len(reasons):
        r = reasons.assign(**{c: np.nan for c in ("log_or", "se", "odds_ratio", "ci_low", "ci_high", "p")}, test="")
        out = pd.concat([out, r[out.columns]], ignore_index=True)
    out["se_type"] = se_type
    out["n_used"] = n_used
    out["n_dropped"] = n_dropped
    out["n_clusters"] = n_clusters
    out["method"] = method
    out["separation"] = separation
    out["events_per_parameter"] = epv
    # rows in the order of the predictors as given (reason rows where their variable is)
    rank = {v: i for i, v in enumerate(["intercept"] + predictors)}
    out["_order"] = out["variable"].map(rank)
    out = out.sort_values("_order", kind="stable").drop(columns="_order")
    if not include_intercept:
        out = out[out["term"] != "intercept"]
    out = out.reset_index(drop=True)
    out["level"] = out["level"].astype(object)
    out["reference"] = out["reference"].astype(object)
    return out[OR_COLUMNS]


# --------------------------------------------------------------------------------------------
# forest plot
# --------------------------------------------------------------------------------------------
def forest_plot(
    table: pd.DataFrame,
    labels: Mapping[str, str] | Sequence[str] | None = None,
    *,
    estimate: str = "odds_ratio",
    low: str = "ci_low",
    high: str = "ci_high",
    annotations: Sequence[str] | None = None,
    xlabel: str = "Odds ratio (95%-BI)",
    title: str | None = None,
    ax=None,
):
    """Forest plot of odds ratios with confidence intervals on a log axis.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per term, top row first (e.g. from :func:`logistic_or`, filtered). Not
        modified. Needs the ``estimate``, ``low`` and ``high`` columns and, when ``labels`` is
        a mapping, a ``term`` column.
    labels : mapping or sequence of str, optional
        The text per row (the caller supplies Dutch labels): a mapping ``term -> label``
        (every term must be a key) or a sequence with one label per row. Default: ``term``.
    estimate, low, high : str
        Column names of the estimate and the interval.
    annotations : sequence of str, optional
        Text per row shown at the right (e.g. "1,52 (1,10-2,10)" from
        :func:`analysis.fmt.estimate_ci`). Default: none.
    xlabel, title : str
        Axis label and title (Dutch, from the caller).
    ax : matplotlib Axes, optional
        Draw into this axes; default a new figure sized to the number of rows.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    A log x-axis, so that an odds ratio of 2 and of 1/2 lie equally far from the reference
    line at 1 (dashed). Labels are the y tick labels and annotations the tick labels of a
    twin axis on the right, so matplotlib lays them out in their own margins and they cannot
    overlap the intervals or each other; the figure height grows with the number of rows
    and ``constrained`` layout makes room for the longest label. Rows with a missing
    estimate or bound raise ``ValueError`` (filter them out and say why).

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.models import forest_plot
    >>> t = pd.DataFrame({"term": ["a", "b"], "odds_ratio": [1.5, 0.8],
    ...                   "ci_low": [1.1, 0.5], "ci_high": [2.0, 1.3]})
    >>> fig = forest_plot(t, {"a": "Alleenstaand", "b": "Vrouw"})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Alleenstaand', 'Vrouw']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if not isinstance(table, pd.DataFrame):
        raise ValueError("forest_plot: table must be a DataFrame.")
    for c in (estimate, low, high):
        if c not in table.columns:
            raise ValueError(f"forest_plot: column {c!r} not in table.")
    if len(table) == 0:
        raise ValueError("forest_plot: table has no rows.")
    est = table[estimate].to_numpy(dtype=float)
    lo = table[low].to_numpy(dtype=float)
    hi = table[high].to_numpy(dtype=float)
    if np.isnan(np.concatenate([est, lo, hi])).any():
        raise ValueError("forest_plot: missing estimates or bounds; filter those rows out first.")
    if (np.concatenate([est, lo, hi]) <= 0).any():
        raise ValueError("forest_plot: estimates and bounds must be positive (odds ratios).")
    if not ((lo <= est) & (est <= hi)).all():
        raise ValueError("forest_plot: every estimate must lie inside its interval.")
    if labels is None:
        if "term" not in table.columns:
            raise ValueError("forest_plot: pass labels or a table with a 'term' column.")
        text = [str(t) for t in table["term"]]
    elif isinstance(labels, Mapping):
        if "term" not in table.columns:
            raise ValueError("forest_plot: a label mapping needs a 'term' column.")
        absent = [t for t in table["term"] if t not in labels]
        if absent:
            raise ValueError(f"forest_plot: no label for terms {absent}.")
        text = [labels[t] for t in table["term"]]
    else:
        text = list(labels)
        if len(text) != len(table):
            raise ValueError(f"forest_plot: {len(text)} labels for {len(table)} rows.")
    if annotations is not None:
        annotations = list(annotations)
        if len(annotations) != len(table):
            raise ValueError(f"forest_plot: {len(annotations)} annotations for {len(table)} rows.")

    n = len(table)
    if ax is None:
        fig = plt.figure(figsize=(7.0, 1.0 + 0.38 * n), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    y = np.arange(n)[::-1]
    ax.axvline(1.0, color="0.4", linestyle="--", linewidth=1, zorder=1)
    ax.hlines(y, lo, hi, color="0.15", linewidth=1.5, zorder=2)
    ax.plot(est, y, "s", color="0.15", markersize=6, zorder=3)
    ax.set_xscale("log")
    xmin = min(lo.min(), 1.0) / 1.25
    xmax = max(hi.max(), 1.0) * 1.25
    ax.set_xlim(xmin, xmax)
    decades = np.log10(xmax / xmin)  # tick density that keeps at least three labelled ticks
    subs = ((1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0) if decades < 0.7 else
            (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if decades < 1.5 else (1.0, 2.0, 5.0))
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}".replace(".", ",")))
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks(y, text)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if annotations is not None:
        ax2 = ax.twinx()
        ax2.set_ylim(ax.get_ylim())
        ax2.set_yticks(y, annotations)
        ax2.tick_params(axis="y", length=0)
        for side in ("top", "right", "left", "bottom"):
            ax2.spines[side].set_visible(False)
    return fig
