"""R-indicator of representativeness (Schouten, Cobben & Bethlehem 2009).

Notebook 02 (STUDY.md section 6, "02 reach"): how evenly the krachtpunt reaches the
residents, summarised in one number. Here "response" is *being reached* (at least one visit
in the past 6 months) among the residents who filled in the reach questionnaire.

=========================  ===================================================================
function                   returns
=========================  ===================================================================
:func:`r_indicator`        one row: ``n``, ``N``, ``mean_propensity``, ``sd_propensity``,
                           ``r_indicator``, ``max_bias``
:func:`reach_propensities` Series of estimated propensities (complete rows)
:func:`r_indicator_fit`    one row: as :func:`r_indicator`, plus ``se``, ``ci_low``,
                           ``ci_high``, ``n_boot``, ``n_boot_failed``, ``n_dropped``, ``model``,
                           ``not_estimable``
:func:`r_indicator_boot`   bootstrap replicates of the R-indicator (array; NaN = not fitted)
=========================  ===================================================================

A propensity model that cannot be fitted on valid data (nobody reached or everybody, fewer than
two respondents, separation: a level of an auxiliary in which everyone or no one was reached)
gives NaN and a reason in ``not_estimable`` (keys ``too few respondents``, ``empty group``,
``separation``), as everywhere in the project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.stats.models import _outcome01, design_matrix

__all__ = ["r_indicator", "reach_propensities", "r_indicator_fit", "r_indicator_boot", "SEPARATION_EPS"]

#: A fitted propensity closer than this to 0 or 1 counts as separation (the maximum-likelihood
#: estimate does not exist; fitted values only approach their limit), in the data and in every
#: bootstrap resample alike.
SEPARATION_EPS = 1e-6


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != (n,):
        raise ValueError(f"weights must have one value per propensity ({n}), got {w.shape[0]}.")
    if np.isnan(w).any() or (w <= 0).any():
        raise ValueError("weights must be positive and not missing (design weights 1/pi_i).")
    return w


def _complete_cases(data: pd.DataFrame, outcome: str, categorical, continuous, weights, what: str) -> pd.DataFrame:
    """The model's columns, rows without a missing value; ValueError for absent columns."""
    cols = [outcome, *categorical, *continuous] + ([weights] if weights else [])
    absent = [c for c in cols if c not in data.columns]
    if absent:
        raise ValueError(f"{what}: columns not in data: {absent}.")
    if not categorical and not continuous:
        raise ValueError(f"{what}: pass at least one auxiliary variable.")
    d = data[cols]
    return d.loc[d.notna().all(axis=1)]


def r_indicator(propensities, weights=None) -> pd.DataFrame:
    """R-indicator from given (estimated) response or reach propensities.

    Parameters
    ----------
    propensities : array_like of float
        Estimated propensity :math:`\\hat\\rho_i` of every sampled unit, respondents and
        non-respondents alike (here: reached and not reached), each in [0, 1].
    weights : array_like of float, optional
        Design weights :math:`d_i = 1/\\pi_i`; default 1 for every unit (simple random sample,
        or no design information).

    Returns
    -------
    pandas.DataFrame
        One row: ``n`` (units), ``N`` (:math:`\\sum d_i`), ``mean_propensity``
        (:math:`\\bar\\rho`), ``sd_propensity`` (:math:`S(\\hat\\rho)`), ``r_indicator``
        (:math:`1 - 2S`), ``max_bias`` (:math:`(1-R)/(2\\bar\\rho)`). Unrounded.

    Notes
    -----
    Schouten, Cobben & Bethlehem (2009, section 2-3) define

    .. math::

        \\bar\\rho = \\frac{1}{N}\\sum_{i \\in s} d_i \\hat\\rho_i, \\qquad
        S^2(\\hat\\rho) = \\frac{1}{N-1}\\sum_{i \\in s} d_i (\\hat\\rho_i - \\bar\\rho)^2,
        \\qquad R(\\hat\\rho) = 1 - 2 S(\\hat\\rho),

    with :math:`N = \\sum d_i` (the known population size in the paper; its design-based
    estimate here). :math:`R = 1` when everyone has the same propensity (representative
    reach); since a variable in [0, 1] has SD at most 1/2, :math:`R \\ge 0` (up to the
    :math:`N/(N-1)` factor: half at 0 and half at 1 gives a value just below 0). With unit weights
    :math:`S` is the ordinary sample SD (``ddof = 1``).

    ``max_bias`` is the paper's bound on the absolute bias of a respondent (here: visitor)
    mean of any variable :math:`y`, in units of :math:`S(y)`:
    :math:`|B(\\bar y_r)| \\le S(\\rho) S(y) / \\bar\\rho = (1-R)\\,S(y) / (2\\bar\\rho)`, the
    "maximal absolute standardized bias"; it equals the coefficient of variation of the
    propensities. It holds for variables in the span of the auxiliaries.

    The R-indicator depends on the auxiliary variables and the propensity model: compare
    values only with the same model. It is a sample estimate with its own bias and
    variance (Shlomo, Skinner & Schouten 2012); no standard error is given here.

    References
    ----------
    .. [1] Schouten, B., Cobben, F., & Bethlehem, J. (2009). Indicators for the
       representativeness of survey response. *Survey Methodology*, 35(1), 101-113.
    .. [2] Shlomo, N., Skinner, C., & Schouten, B. (2012). Estimation of an indicator of the
       representativeness of survey response. *Journal of Statistical Planning and
       Inference*, 142, 201-211.

    Examples
    --------
    Propensities 0.2, 0.4, 0.6, 0.8: mean 0.5, :math:`S^2 = 0.2/3`, :math:`S = 0.2582`,
    :math:`R = 1 - 0.5164 = 0.4836`.

    >>> from analysis.stats.representativeness import r_indicator
    >>> r_indicator([0.2, 0.4, 0.6, 0.8]).round(4)
       n    N  mean_propensity  sd_propensity  r_indicator  max_bias
    0  4  4.0              0.5         0.2582       0.4836    0.5164
    """
    rho = np.asarray(propensities, dtype=float).ravel()
    n = len(rho)
    if n < 2:
        raise ValueError("r_indicator: need at least 2 propensities.")
    if np.isnan(rho).any():
        raise ValueError("r_indicator: missing propensities; estimate one for every sampled unit.")
    if (rho < 0).any() or (rho > 1).any():
        raise ValueError("r_indicator: propensities must lie in [0, 1].")
    d = _weights(weights, n)
    N = d.sum()
    if N <= 1:
        raise ValueError("r_indicator: the weights sum to 1 or less; pass design weights 1/pi_i.")
    mean = (d * rho).sum() / N
    s = np.sqrt((d * (rho - mean) ** 2).sum() / (N - 1))
    r = 1 - 2 * s
    return pd.DataFrame([{
        "n": n, "N": float(N), "mean_propensity": float(mean), "sd_propensity": float(s),
        "r_indicator": float(r),
        "max_bias": float((1 - r) / (2 * mean)) if mean > 0 else np.nan,
    }])


def reach_propensities(
    data: pd.DataFrame,
    outcome: str,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    *,
    weights: str | None = None,
    reference: Mapping | None = None,
) -> pd.Series:
    """Reach propensities from a main-effects logistic regression on auxiliary variables.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per sampled resident, reached or not. Not modified.
    outcome : str
        Boolean or 0/1 column (``reached``).
    categorical, continuous : sequence of str
        Auxiliary variables (see :func:`analysis.stats.models.design_matrix`).
    weights : str, optional
        Column of design weights; the model is then fitted by weighted (pseudo-)maximum
        likelihood, as Schouten et al. (2009) do.
    reference : mapping, optional
        Reference levels; they do not change the fitted propensities.

    Returns
    -------
    pandas.Series
        :math:`\\hat\\rho_i`, named ``"propensity"``, indexed like the complete rows of
        ``data`` (rows with a missing outcome, auxiliary or weight are left out).

    Notes
    -----
    Fitted by ``statsmodels`` GLM (binomial family, logit link) with ``var_weights``. With a
    single categorical auxiliary the model is saturated and the propensities equal the
    observed reach share in each category.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats.representativeness import reach_propensities
    >>> df = pd.DataFrame({"reached": [1, 0, 0, 0, 1, 1, 1, 0],
    ...                    "age_group": ["jong"] * 4 + ["oud"] * 4})
    >>> reach_propensities(df, "reached", ["age_group"]).round(4).tolist()
    [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75]
    """
    from statsmodels.genmod import families  # not statsmodels.api: half the import time
    from statsmodels.genmod.generalized_linear_model import GLM

    if not isinstance(data, pd.DataFrame):
        raise ValueError("reach_propensities: data must be a DataFrame.")
    d = _complete_cases(data, outcome, categorical, continuous, weights, "reach_propensities")
    y = _outcome01(d[outcome], "reach_propensities").to_numpy(dtype=float)
    X, _ = design_matrix(d, categorical, continuous, reference)
    w = _weights(None if weights is None else d[weights], len(d))
    X = X.to_numpy()  # the fit is the same; statsmodels' pandas wrapping costs a quarter of it
    model = GLM(y, X, family=families.Binomial(), var_weights=w)
    res = model.fit()
    if not res.converged:
        raise ValueError("reach_propensities: the propensity model did not converge.")
    return pd.Series(np.asarray(res.predict(X), dtype=float), index=d.index, name="propensity")


def _expit(eta: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * eta))  # = 1 / (1 + exp(-eta)) without overflow


def _fit_cells(Xu: np.ndarray, k: np.ndarray, m: np.ndarray, iterations: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Binomial logistic fits for many count vectors at once (Newton-Raphson, one per row).

    Our own batched Newton-Raphson because the bootstrap refits the model hundreds of times per
    site and statsmodels' per-fit overhead (~3 ms) would make that minutes at the national scale.
    ``Xu`` (cells x parameters) holds the distinct covariate patterns, ``k`` and ``m``
    (replicates x cells) the reached and the respondents per pattern. Returns the fitted
    propensities per cell and whether each fit is usable: converged, and no propensity of a
    non-empty cell within :data:`SEPARATION_EPS` of 0 or 1. A parameter whose level is absent
    from a replicate has no information; a ridge of 1e-10 on the information keeps it near 0,
    which does not change the fitted values of the cells present.
    """
    B, P = k.shape[0], Xu.shape[1]
    beta = np.zeros((B, P))
    active = np.ones(B, dtype=bool)
    outer = Xu[:, :, None] * Xu[:, None, :]  # (cells, P, P)
    ridge = 1e-10 * np.eye(P)  # a level absent from a resample: zero row in the information; the
    # ridge keeps the solve defined and moves only the path, not the fixed point (score = 0)
    for _ in range(iterations):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        mu = _expit(beta[idx] @ Xu.T)
        w = m[idx] * mu * (1 - mu)
        score = (k[idx] - m[idx] * mu) @ Xu
        info = np.tensordot(w, outer, axes=(1, 0)) + ridge
        step = np.linalg.solve(info, score[:, :, None])[:, :, 0]
        beta[idx] += step
        active[idx] = np.abs(step).max(axis=1) > 1e-9
    mu = _expit(beta @ Xu.T)
    extreme = ((mu < SEPARATION_EPS) | (mu > 1 - SEPARATION_EPS)) & (m > 0)
    return mu, ~active & ~extreme.any(axis=1)


def _r_from_cells(mu: np.ndarray, m: np.ndarray) -> np.ndarray:
    """R = 1 - 2 S(rho) per row, the propensities given per cell with ``m`` units each (unit weights)."""
    n = m.sum(axis=1)
    mean = (m * mu).sum(axis=1) / n
    s2 = (m * (mu - mean[:, None]) ** 2).sum(axis=1) / (n - 1)
    return 1 - 2 * np.sqrt(s2)


def r_indicator_boot(X, y, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap replicates of the R-indicator: resample respondents, refit the propensity model.

    Parameters
    ----------
    X : array_like, (n, p)
        Design matrix of the propensity model (intercept and 0/1 indicators; its distinct rows
        are the covariate patterns, so a resample is a multinomial draw of pattern x outcome).
    y : array_like of 0/1, (n,)
    n_boot, seed : int
        Number of resamples (at least 1) and the seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray
        ``n_boot`` R-indicators; NaN where the resample's model could not be fitted
        (separation, or everyone in one group).

    Notes
    -----
    The nonparametric bootstrap of Efron & Tibshirani (1993, ch. 6) over respondents, each
    resample with the propensity model refitted, so the interval includes the uncertainty of
    the estimated propensities (the main part of the R-indicator's variance, Shlomo, Skinner &
    Schouten 2012). Resampling n units with replacement is a multinomial draw over the observed
    (pattern, outcome) cells, which makes a replicate a fit on a handful of cells
    (:func:`_fit_cells`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(8), [0] * 4 + [1] * 4])
    >>> r = r_indicator_boot(X, [1, 0, 0, 0, 1, 1, 1, 0], 200, seed=1)
    >>> r.shape, bool(np.isnan(r).any())   # several resamples separate at n = 8
    ((200,), True)
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if X.ndim != 2 or X.shape[0] != len(y):
        raise ValueError("r_indicator_boot: X must be (n, p) with one row per value of y.")
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise ValueError("r_indicator_boot: n_boot must be a positive integer (e.g. 999).")
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise ValueError("r_indicator_boot: y must be 0/1.")
    n = len(y)
    Xu, inv = np.unique(X, axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    K = len(Xu)
    cells = np.bincount(inv * 2 + y.astype(int), minlength=2 * K)
    draws = np.random.default_rng(seed).multinomial(n, cells / n, size=int(n_boot))
    k, m = draws[:, 1::2].astype(float), (draws[:, 0::2] + draws[:, 1::2]).astype(float)
    mu, ok = _fit_cells(Xu, k, m)
    r = _r_from_cells(mu, m)
    r[~ok] = np.nan
    return r


def _separation(d: pd.DataFrame, y: np.ndarray, categorical: Sequence[str], outcome: str) -> str:
    """The first level of an auxiliary in which everyone or no one is reached, as a reason."""
    for var in categorical:
        x = d[var]
        levels = x.cat.categories if isinstance(x.dtype, pd.CategoricalDtype) else sorted(x.unique())
        for lv in levels:
            inside = (x == lv).to_numpy()
            if inside.any() and y[inside].min() == y[inside].max():
                who = "every" if y[inside][0] == 1 else "no"
                return (f"separation on {var}: {who} respondent with {var} = {lv!r} has {outcome} = 1"
                        f" ({int(inside.sum())} respondents)")
    return ""


def r_indicator_fit(
    data: pd.DataFrame,
    outcome: str,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    *,
    weights: str | None = None,
    n_boot: int = 0,
    seed: int = 0,
    max_failed_share: float = 0.1,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """R-indicator of reach, with propensities fitted on auxiliary variables, and its bootstrap CI.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per sampled resident, reached or not. Not modified.
    outcome : str
        Boolean or 0/1 column (``reached``).
    categorical, continuous : sequence of str
        Auxiliary variables of the propensity model (main effects).
    weights : str, optional
        Column of design weights (no bootstrap with weights: pass ``n_boot=0``).
    n_boot : int, default 0
        Bootstrap resamples for ``se`` and the percentile interval (0: none, NaN).
    seed : int
        Seed of the bootstrap.
    max_failed_share : float, default 0.1
        Largest share of resamples whose model cannot be fitted (separation) for which an
        interval is still given; above it the interval is not estimable.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row: the columns of :func:`r_indicator`, plus ``se`` (SD of the bootstrap
        replicates), ``ci_low``, ``ci_high`` (percentile interval), ``n_boot`` (resamples
        drawn), ``n_boot_failed`` (resamples left out because their model could not be
        fitted), ``n_dropped`` (rows left out for a missing value), ``model`` (the auxiliary
        variables, for the table note) and ``not_estimable`` (``""`` or the reason, see the
        module docstring; a reason for the interval alone leaves ``r_indicator`` in place).

    Notes
    -----
    :func:`reach_propensities` then :func:`r_indicator`, on complete rows. The R-indicator
    is only as good as the auxiliaries: variables not in the model cannot show
    unrepresentativeness, so the report names them (``model``).

    Not estimable, by a rule written down here: fewer than 2 complete rows; everyone (or no
    one) reached; or separation: a level of a categorical auxiliary in which everyone or no one
    is reached, or any fitted propensity within :data:`SEPARATION_EPS` of 0 or 1 (then the
    maximum-likelihood fit does not exist and the propensities are limits, not estimates).

    The interval is the percentile interval of :func:`r_indicator_boot`, which refits the model
    in every resample (Efron & Tibshirani 1993). Schouten, Cobben & Bethlehem (2009, section 4)
    give an analytic approximation of the standard error; the bootstrap is simpler to check and
    is tested against the delta-method SE of a one-auxiliary model on large generated data. The
    R-indicator is biased downwards in small samples (Shlomo, Skinner & Schouten 2012); the
    percentile interval does not correct that. Resamples in which the model separates are left
    out (counted in ``n_boot_failed``), which conditions the interval on a fittable sample; when
    more than ``max_failed_share`` of them fail, no interval is given.

    References
    ----------
    .. [1] Schouten, B., Cobben, F., & Bethlehem, J. (2009). *Survey Methodology*, 35(1), 101-113.
    .. [2] Shlomo, N., Skinner, C., & Schouten, B. (2012). *Journal of Statistical Planning and
       Inference*, 142, 201-211.
    .. [3] Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman &
       Hall, chapters 6 and 13.

    Examples
    --------
    Reach 1/4 among the young and 3/4 among the old: :math:`S^2 = 8 \\times 0.25^2 / 7`,
    :math:`R = 1 - 2\\sqrt{0.0714} = 0.4655`.

    >>> import pandas as pd
    >>> from analysis.stats.representativeness import r_indicator_fit
    >>> df = pd.DataFrame({"reached": [1, 0, 0, 0, 1, 1, 1, 0],
    ...                    "age_group": ["jong"] * 4 + ["oud"] * 4})
    >>> round(float(r_indicator_fit(df, "reached", ["age_group"])["r_indicator"].iloc[0]), 4)
    0.4655
    >>> r_indicator_fit(df.assign(reached=1), "reached", ["age_group"])[["r_indicator", "not_estimable"]]
       r_indicator                                 not_estimable
    0          NaN  empty group: no one with reached = 0 among 8
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError("r_indicator_fit: data must be a DataFrame.")
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValueError("r_indicator_fit: n_boot must be a whole number >= 0 (e.g. 999; 0 for no interval).")
    if n_boot and weights is not None:
        raise ValueError("r_indicator_fit: the bootstrap assumes unit weights; pass n_boot=0 with design weights.")
    if not 0 <= max_failed_share < 1:
        raise ValueError("r_indicator_fit: max_failed_share must be in [0, 1), e.g. 0.1.")
    if not 0 < confidence < 1:
        raise ValueError("r_indicator_fit: confidence must be between 0 and 1, e.g. 0.95.")
    categorical, continuous = list(categorical), list(continuous)
    d = _complete_cases(data, outcome, categorical, continuous, weights, "r_indicator_fit")
    y = _outcome01(d[outcome], "r_indicator_fit", allow_constant=True).to_numpy(dtype=float)
    n = len(d)
    out = {"n": n, "N": float(n), "mean_propensity": np.nan, "sd_propensity": np.nan, "r_indicator": np.nan,
           "max_bias": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_boot": int(n_boot),
           "n_boot_failed": 0, "n_dropped": int(len(data) - n),
           "model": f"{outcome} ~ " + " + ".join([*categorical, *continuous]), "not_estimable": ""}
    if n < 2:
        out["not_estimable"] = f"too few respondents (n = {n} with complete auxiliaries; at least 2 needed)"
    elif y.min() == y.max():
        out["not_estimable"] = f"empty group: no one with {outcome} = {1 - int(y[0])} among {n}"
    else:
        out["not_estimable"] = _separation(d, y, categorical, outcome)
    if out["not_estimable"]:
        out["n_boot"] = 0
        return pd.DataFrame([out])
    X, _ = design_matrix(d, categorical, continuous)
    Xu, inv = np.unique(X.to_numpy(), axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    m0 = np.bincount(inv, minlength=len(Xu)).astype(float)[None, :]
    _, fits = _fit_cells(Xu, np.bincount(inv, weights=y, minlength=len(Xu))[None, :], m0)
    rho = None if not fits[0] else reach_propensities(d, outcome, categorical, continuous, weights=weights)
    # the same rule as in every bootstrap resample (a combination of levels may separate although
    # no single level does); checked before statsmodels, which would not converge
    if rho is None or ((rho < SEPARATION_EPS) | (rho > 1 - SEPARATION_EPS)).any():
        out.update(n_boot=0, not_estimable="separation: fitted propensities of 0 or 1 (a combination of "
                                           "auxiliary levels in which everyone or no one is reached)")
        return pd.DataFrame([out])
    w = None if weights is None else d[weights]
    out.update(r_indicator(rho.to_numpy(), w).iloc[0].to_dict())
    out["n"] = n
    if n_boot:
        reps = r_indicator_boot(X.to_numpy(), y, int(n_boot), seed)
        failed = int(np.isnan(reps).sum())
        out["n_boot_failed"] = failed
        if failed > max_failed_share * n_boot:
            out["not_estimable"] = (f"separation in {failed} of {n_boot} bootstrap resamples (more than "
                                    f"{max_failed_share:.0%}): no interval")
        else:
            ok = reps[~np.isnan(reps)]
            alpha = 1 - confidence
            out.update(se=float(ok.std(ddof=1)), ci_low=float(np.quantile(ok, alpha / 2)),
                       ci_high=float(np.quantile(ok, 1 - alpha / 2)))
    return pd.DataFrame([out])
