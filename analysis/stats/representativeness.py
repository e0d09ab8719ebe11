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
:func:`r_indicator_fit`    one row: as :func:`r_indicator`, plus ``n_dropped``, ``model``
=========================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.stats.models import _outcome01, design_matrix

__all__ = ["r_indicator", "reach_propensities", "r_indicator_fit"]


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != (n,):
        raise ValueError(f"weights must have one value per propensity ({n}), got {w.shape[0]}.")
    if np.isnan(w).any() or (w <= 0).any():
        raise ValueError("weights must be positive and not missing (design weights 1/pi_i).")
    return w


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
    cols = [outcome, *categorical, *continuous] + ([weights] if weights else [])
    absent = [c for c in cols if c not in data.columns]
    if absent:
        raise ValueError(f"reach_propensities: columns not in data: {absent}.")
    if not categorical and not continuous:
        raise ValueError("reach_propensities: pass at least one auxiliary variable.")
    d = data[cols]
    d = d.loc[d.notna().all(axis=1)]
    y = _outcome01(d[outcome], "reach_propensities").to_numpy(dtype=float)
    X, _ = design_matrix(d, categorical, continuous, reference)
    w = _weights(None if weights is None else d[weights], len(d))
    X = X.to_numpy()  # the fit is the same; statsmodels' pandas wrapping costs a quarter of it
    model = GLM(y, X, family=families.Binomial(), var_weights=w)
    res = model.fit()
    if not res.converged:
        raise ValueError("reach_propensities: the propensity model did not converge.")
    return pd.Series(np.asarray(res.predict(X), dtype=float), index=d.index, name="propensity")


def r_indicator_fit(
    data: pd.DataFrame,
    outcome: str,
    categorical: Sequence[str] = (),
    continuous: Sequence[str] = (),
    *,
    weights: str | None = None,
) -> pd.DataFrame:
    """R-indicator of reach, with propensities fitted on auxiliary variables.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per sampled resident, reached or not. Not modified.
    outcome : str
        Boolean or 0/1 column (``reached``).
    categorical, continuous : sequence of str
        Auxiliary variables of the propensity model (main effects).
    weights : str, optional
        Column of design weights.

    Returns
    -------
    pandas.DataFrame
        One row: the columns of :func:`r_indicator`, plus ``n_dropped`` (rows left out for a
        missing value) and ``model`` (the auxiliary variables, for the table note).

    Notes
    -----
    :func:`reach_propensities` then :func:`r_indicator`, on complete rows. The R-indicator
    is only as good as the auxiliaries: variables not in the model cannot show
    unrepresentativeness, so the report names them (``model``).

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
    """
    rho = reach_propensities(data, outcome, categorical, continuous, weights=weights)
    w = None if weights is None else data.loc[rho.index, weights]
    out = r_indicator(rho.to_numpy(), w)
    out["n_dropped"] = int(len(data) - len(rho))
    out["model"] = f"{outcome} ~ " + " + ".join([*categorical, *continuous])
    return out
