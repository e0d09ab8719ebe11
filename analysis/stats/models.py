"""Logistic regression of being reached, as odds ratios, and a forest plot.

Notebook 02 (STUDY.md section 6, "02 reach"): who is reached, adjusted for the other
characteristics, with site as a fixed effect; cluster-robust standard errors by site as a
sensitivity analysis.

=====================  ======================================================================
function               returns
=====================  ======================================================================
:func:`logistic_or`    one row per term: ``term``, ``variable``, ``level``, ``reference``,
                       ``odds_ratio``, ``ci_low``, ``ci_high``, ``p``, ``log_or``, ``se``,
                       ``test``, ``se_type``, ``n_used``, ``n_dropped``, ``n_clusters``
:func:`forest_plot`    a matplotlib Figure
=====================  ======================================================================

The model is fitted by statsmodels (``statsmodels.api.Logit``, maximum likelihood); this
module builds the design matrix with explicit term names (so the table never has to parse
formula strings) and shapes the result.
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


def _outcome01(s: pd.Series, what: str) -> pd.Series:
    vals = set(s.dropna().unique())
    if not vals <= {0, 1}:  # True == 1 and False == 0
        raise ValueError(
            f"{what}: outcome {s.name!r} must be boolean or 0/1, got values "
            f"{sorted(map(repr, vals))[:5]}."
        )
    if len(vals) < 2:
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
        Column by which standard errors are made cluster-robust (sensitivity analysis, e.g.
        ``cluster="site"``). Default: model-based standard errors. A list (e.g.
        ``[None, "site"]``) fits the model once and returns a list with one table per entry,
        each with its own standard errors (the cluster-robust fit starts at the first fit's
        estimates, so it needs one Newton step instead of a fit of its own).
    reference : mapping, optional
        Column -> reference level, for ``categorical`` and ``site``.
    confidence : float, default 0.95
        Level of the Wald confidence intervals.
    include_intercept : bool, default False
        Also give the intercept row (its "odds ratio" is the odds at the reference levels
        and zero for the continuous predictors).

    Returns
    -------
    pandas.DataFrame
        One row per term: ``term``, ``variable``, ``level``, ``reference`` (the reference
        level; NaN for continuous), ``odds_ratio``, ``ci_low``, ``ci_high``, ``p`` (Wald),
        ``log_or``, ``se`` (of ``log_or``), ``test`` (``"Wald z"``), ``se_type``,
        ``n_used`` (complete cases), ``n_dropped`` (rows with a missing outcome or
        predictor), ``n_clusters`` (NaN unless ``cluster``). Unrounded.

    Notes
    -----
    Complete-case analysis: a row with any missing value in the outcome, a predictor, the
    site or the cluster column is left out, and ``n_dropped`` says how many. Odds ratios are
    :math:`e^{\\beta}`, intervals :math:`e^{\\beta \\pm z\\,SE}` and p-values from the Wald
    z-statistic (the normal reference, as statsmodels and R's ``summary.glm`` do).

    Cluster-robust standard errors use statsmodels' sandwich estimator
    (``cov_type="cluster"``) with its default small-sample correction
    :math:`\\frac{G}{G-1}\\frac{N-1}{N-K}`. With few clusters (three sites here) they are
    themselves very uncertain and usually too small (Cameron & Miller 2015 advise at least
    some 20-50 clusters); with site also as a fixed effect, the site terms' robust SEs mean
    little. Treat the cluster-robust run as a sensitivity check, not as the main result.

    Non-convergence or (quasi-)complete separation (a level in which everyone, or nobody, is
    reached) raises ``ValueError``: the estimates would be meaningless. Merge sparse levels.

    References
    ----------
    .. [1] Hosmer, D. W., Lemeshow, S., & Sturdivant, R. X. (2013). *Applied Logistic
       Regression* (3rd ed.). Wiley.
    .. [2] Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
       inference. *Journal of Human Resources*, 50(2), 317-372.
    .. [3] Woolf, B. (1955). On estimating the relation between blood group and disease.
       *Annals of Human Genetics*, 19, 251-253 (the 2x2 case: OR = ad/bc,
       SE(log OR) = sqrt(1/a + 1/b + 1/c + 1/d), which this model reproduces exactly).

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
    >>> r[["term", "reference", "odds_ratio", "n_used"]]
             term reference  odds_ratio  n_used
    0  lonely[ja]       nee         1.5     100
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
    complete = data[list(dict.fromkeys(needed))].notna().all(axis=1)
    d = data.loc[complete]
    y = _outcome01(d[outcome], "logistic_or").to_numpy(dtype=float)
    X, terms = design_matrix(d, categorical, continuous, reference)
    model = Logit(y, X)
    if model.df_model + model.k_constant < X.shape[1]:  # statsmodels' rank of X (one QR, reused)
        raise ValueError(
            "logistic_or: the predictors are collinear (e.g. a level that occurs at one site "
            "only, or a variable that is constant among the complete cases); drop or merge."
        )
    tables, first = [], None
    for by in clusters:
        fit_kw: dict = {"disp": 0, "maxiter": 200}
        n_clusters = np.nan
        se_type = "model-based"
        if by is not None:
            codes = pd.factorize(d[by])[0]
            n_clusters = int(codes.max() + 1)
            if n_clusters < 2:
                raise ValueError(f"logistic_or: cluster {by!r} has one value; nothing to cluster.")
            fit_kw.update(cov_type="cluster", cov_kwds={"groups": codes})
            se_type = f"cluster-robust by {by} ({n_clusters} clusters)"
        if first is not None:
            fit_kw["start_params"] = first.params
        res = _fit_logit(model, fit_kw)
        first = res if first is None else first
        tables.append(_or_table(res, terms, confidence, se_type, n_used=len(d), n_dropped=int((~complete).sum()),
                                n_clusters=n_clusters, include_intercept=include_intercept))
    return tables if isinstance(cluster, list) else tables[0]


def _fit_logit(model, fit_kw: dict):
    """``model.fit`` with separation and non-convergence turned into a ``ValueError`` that says what to do."""
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
            raise ValueError(
                f"logistic_or: the model did not converge ({type(exc).__name__}: {exc}); there "
                "is probably (quasi-)complete separation. Merge sparse levels or drop a predictor."
            ) from None
    if not res.mle_retvals.get("converged", True):
        raise ValueError("logistic_or: the model did not converge; merge sparse levels.")
    return res


def _or_table(res, terms: pd.DataFrame, confidence: float, se_type: str, *, n_used: int, n_dropped: int,
              n_clusters: float, include_intercept: bool) -> pd.DataFrame:
    """The table of :func:`logistic_or` from one statsmodels fit (Wald intervals and p on the log scale)."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    beta = res.params.to_numpy()
    se = res.bse.to_numpy()
    out = terms.copy()
    out["log_or"] = beta
    out["se"] = se
    out["odds_ratio"] = np.exp(beta)
    out["ci_low"] = np.exp(beta - z * se)
    out["ci_high"] = np.exp(beta + z * se)
    out["p"] = 2 * stats.norm.sf(np.abs(beta / se))
    out["test"] = "Wald z"
    out["se_type"] = se_type
    out["n_used"] = n_used
    out["n_dropped"] = n_dropped
    out["n_clusters"] = n_clusters
    if not include_intercept:
        out = out[out["term"] != "intercept"].reset_index(drop=True)
    return out[["term", "variable", "level", "reference", "odds_ratio", "ci_low", "ci_high",
                "p", "log_or", "se", "test", "se_type", "n_used", "n_dropped", "n_clusters"]]


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
