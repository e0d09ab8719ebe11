"""Scale scores for the interview instruments (STUDY.md section 2, "Scoring").

One function per instrument. Each takes a DataFrame and the names of the item columns, checks
every answer, and returns a new DataFrame (same index, one row per form) with the scores.
Inputs are never modified. An answer the instrument does not allow raises ``ValueError`` naming
the column and the value: cleaning (notebook 01) harmonises codes; scoring never turns an
unknown code into a missing value.

=====================  =====================================================================
function               returns (columns)
=====================  =====================================================================
:func:`djg_loneliness`  ``total``, ``emotional``, ``social``, ``band``, ``lonely``
:func:`who5`            ``raw``, ``score``, ``poor_wellbeing``, ``likely_depression``
:func:`positive_health` ``mean``, ``n_answered``
:func:`zrm_domains`     the domain columns, validated, as nullable integers (no total)
=====================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "DJG_ANSWERS",
    "DJG_EMOTIONAL",
    "DJG_SOCIAL",
    "DJG_BANDS",
    "djg_loneliness",
    "who5",
    "positive_health",
    "zrm_domains",
]

#: The three answers of the face-to-face version of the De Jong Gierveld scale, as cleaning
#: codes them (Manual, section 2: "ja", "min of meer", "nee").
DJG_ANSWERS = ("ja", "min of meer", "nee")
#: Positions (1-based, questionnaire order as CBS and the manual print them) of the
#: emotional items: 1 leegte, 4 mis mensen, 6 in de steek gelaten.
DJG_EMOTIONAL = (1, 4, 6)
#: Positions of the social items: 2 terugvallen, 3 vertrouwen, 5 nauw verbonden.
DJG_SOCIAL = (2, 3, 5)
#: Bands of the 0-6 total (Manual, section 8 syntax ``recode lones``; CBS uses the same).
DJG_BANDS = ("niet eenzaam", "matig eenzaam", "sterk eenzaam")

_BAND_DTYPE = pd.CategoricalDtype(list(DJG_BANDS), ordered=True)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _show(value) -> str:
    """A value as the message shows it: quoted text, plain numbers (no numpy reprs)."""
    return repr(value) if isinstance(value, str) else str(value)


def _check_columns(data: pd.DataFrame, columns: Sequence[str], n: int, what: str) -> list[str]:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what}: data must be a pandas DataFrame, got {type(data).__name__}.")
    if isinstance(columns, str):
        raise ValueError(f"{what}: columns must be a list of {n} column names, not one string.")
    columns = list(columns)
    if len(columns) != n:
        raise ValueError(f"{what}: expected {n} item columns in questionnaire order, got {len(columns)}: {columns}.")
    if len(set(columns)) != n:
        raise ValueError(f"{what}: item columns must be distinct, got {columns}.")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{what}: column(s) {missing} not in the data; available: {list(data.columns)}.")
    return columns


def _numeric_items(data: pd.DataFrame, columns: list[str], low: int, high: int, what: str) -> np.ndarray:
    """Items as a float array (NaN = missing), each value checked to be an integer in [low, high]."""
    out = np.empty((len(data), len(columns)), dtype=float)
    for j, col in enumerate(columns):
        s = data[col]
        na = s.isna().to_numpy()
        values = s[~na]
        num = pd.to_numeric(values, errors="coerce")
        bad = num.isna() | (num < low) | (num > high) | (num != np.floor(num))
        # booleans are not scores even though pandas treats them as numbers
        if pd.api.types.is_bool_dtype(values.dtype):
            bad[:] = True
        if bad.any():
            first = values[bad].iloc[0]
            raise ValueError(
                f"{what}: column {col!r} has value {_show(first)} (row {_show(values[bad].index[0])}); "
                f"allowed are whole numbers {low}-{high} or missing. Fix or recode it in cleaning."
            )
        col_values = np.full(len(data), np.nan)
        col_values[~na] = num.to_numpy(dtype=float)
        out[:, j] = col_values
    return out


# --------------------------------------------------------------------------------------------
# De Jong Gierveld 6-item loneliness scale
# --------------------------------------------------------------------------------------------
def djg_loneliness(data: pd.DataFrame, items: Sequence[str]) -> pd.DataFrame:
    """Score the De Jong Gierveld 6-item loneliness scale (total, emotional, social, band).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per form. Not modified.
    items : sequence of str
        The six item columns **in questionnaire order** (STUDY.md section 2; CBS and the manual
        print them in this order): 1 "Ik ervaar een leegte om me heen" (emotional), 2 "Er zijn
        genoeg mensen op wie ik in geval van narigheid kan terugvallen" (social), 3 "Ik ken veel
        mensen op wie ik volledig kan vertrouwen" (social), 4 "Ik mis mensen om me heen"
        (emotional), 5 "Er zijn genoeg mensen met wie ik me nauw verbonden voel" (social),
        6 "Vaak voel ik me in de steek gelaten" (emotional). Answers are the strings ``"ja"``,
        ``"min of meer"``, ``"nee"`` or missing (``None``, ``NaN``, ``pd.NA``).

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``, columns:

        - ``total`` (Int64, 0-6): number of items answered in the lonely direction; missing
          when more than one item is missing.
        - ``emotional`` (Int64, 0-3): items 1 + 4 + 6; missing when any of them is missing.
        - ``social`` (Int64, 0-3): items 2 + 3 + 5; missing when any of them is missing.
        - ``band`` (ordered categorical): ``"niet eenzaam"`` (0-1), ``"matig eenzaam"`` (2-4),
          ``"sterk eenzaam"`` (5-6); missing when ``total`` is.
        - ``lonely`` (boolean): ``total >= 2`` ("eenzaam"); missing when ``total`` is.

    Raises
    ------
    ValueError
        If a column is absent, the number of item columns is not six, or an answer is not one of
        ``"ja"``, ``"min of meer"``, ``"nee"`` (the message names the column and the value).

    Notes
    -----
    Dichotomous scoring as in the manual (De Jong Gierveld & Van Tilburg, Manual of the
    Loneliness Scale, section 8): an emotional (negatively worded) item scores 1 for ``"ja"`` or
    ``"min of meer"``; a social (positively worded) item scores 1 for ``"nee"`` or ``"min of
    meer"``. "Min of meer" therefore always scores 1. The manual's SPSS syntax counts codes
    (2, 3) on the emotional items ``lone3 lone9 lone10`` and codes (1, 2) on the social items
    ``lone4 lone7 lone8``, with the answers coded 1 = nee, 2 = min of meer, 3 = ja; in our item
    order these are items 1, 4, 6 and 2, 3, 5. CBS (2020, technical explanation) describes the
    same rule ("somewhat" or "yes" scores 1 after reversing the social statements).

    Missing items, exactly as in that syntax::

        count mlones = <six items> (sys, lo thru -1).   if (mlones > 1) lones = -1.
        count mlones = <three items> (sys, lo thru -1). if (mlones > 0) lonesocs/loneemos = -1.

    so the total is the count of lonely answers over the answered items when at most one item
    is missing (with one missing item: the count over the five answered, **not prorated** to six),
    and each subscale is missing as soon as one of its three items is. With one missing item the
    total is therefore *not* ``emotional + social`` (one of them is missing). Bands follow the
    syntax ``recode lones (0 thru 1=0)(2 thru 4=1)(5,6=2)``.

    Answers must match exactly; harmonising spelling or case ("Ja", "min-of-meer") is
    cleaning's job, so that a mistyped answer is found there and logged, not scored as missing.

    References
    ----------
    .. [1] De Jong Gierveld, J., & Van Tilburg, T. (2006). A 6-item scale for overall,
       emotional, and social loneliness: Confirmatory tests on survey data. *Research on Aging*,
       28(5), 582-598. https://doi.org/10.1177/0164027506289723
    .. [2] De Jong Gierveld, J., & Van Tilburg, T. G. (1999, updated online). *Manual of the
       Loneliness Scale*. Vrije Universiteit Amsterdam, section 8 ("A short scale", SPSS syntax).
       https://home.fsw.vu.nl/tg.van.tilburg/manual_loneliness_scale_1999.html
    .. [3] CBS (2020). Loneliness survey - technical explanation.
       https://www.cbs.nl/en-gb/news/2020/13/nearly-1-in-10-dutch-people-frequently-lonely-in-2019/loneliness-survey-technical-explanation

    Examples
    --------
    >>> import pandas as pd
    >>> forms = pd.DataFrame(
    ...     [["ja", "nee", "min of meer", "nee", "ja", "nee"],
    ...      ["nee", "ja", "ja", "nee", "ja", "nee"],
    ...      ["min of meer", None, "ja", "ja", "nee", "nee"]],
    ...     columns=[f"djg{i}" for i in range(1, 7)], index=["a", "b", "c"])
    >>> djg_loneliness(forms, [f"djg{i}" for i in range(1, 7)])
       total  emotional  social           band  lonely
    a      3          1       2  matig eenzaam    True
    b      0          0       0   niet eenzaam   False
    c      3          2    <NA>  matig eenzaam    True
    """
    what = "De Jong Gierveld loneliness"
    items = _check_columns(data, items, 6, what)
    n = len(data)
    lonely_item = np.zeros((n, 6), dtype=float)
    for j, col in enumerate(items):
        s = data[col]
        na = s.isna().to_numpy()
        known = s.isin(DJG_ANSWERS).to_numpy()
        bad = ~na & ~known
        if bad.any():
            first_pos = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{what}: column {col!r} has answer {_show(s.iloc[first_pos])} (row {_show(s.index[first_pos])}); "
                f"allowed are {list(DJG_ANSWERS)} or missing. Harmonise it in cleaning."
            )
        position = j + 1
        scoring = ("ja", "min of meer") if position in DJG_EMOTIONAL else ("nee", "min of meer")
        col_score = s.isin(scoring).to_numpy().astype(float)
        col_score[na] = np.nan
        lonely_item[:, j] = col_score

    def count(positions, max_missing):
        block = lonely_item[:, [p - 1 for p in positions]]
        n_missing = np.isnan(block).sum(axis=1)
        score = np.nansum(block, axis=1)
        return pd.array(np.where(n_missing > max_missing, np.nan, score), dtype="Float64").astype("Int64")

    total = count(range(1, 7), max_missing=1)
    emotional = count(DJG_EMOTIONAL, max_missing=0)
    social = count(DJG_SOCIAL, max_missing=0)
    band = pd.cut(
        pd.Series(total, dtype="Float64").astype(float), bins=[-0.5, 1.5, 4.5, 6.5], labels=list(DJG_BANDS)
    ).astype(_BAND_DTYPE)
    return pd.DataFrame(
        {
            "total": total,
            "emotional": emotional,
            "social": social,
            "band": band.to_numpy(),
            "lonely": pd.array(total >= 2, dtype="boolean"),
        },
        index=data.index,
    ).astype({"band": _BAND_DTYPE})


# --------------------------------------------------------------------------------------------
# WHO-5
# --------------------------------------------------------------------------------------------
def who5(data: pd.DataFrame, items: Sequence[str]) -> pd.DataFrame:
    """Score the WHO-5 Well-Being Index (raw 0-25, percentage score 0-100, screening flags).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per form. Not modified.
    items : sequence of str
        The five item columns (any order; each item is scored 0 "at no time" to 5 "all of the
        time"). Values must be whole numbers 0-5 or missing.

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``, columns:

        - ``raw`` (Int64, 0-25): sum of the five items; missing unless all five are answered.
        - ``score`` (Int64, 0-100): ``raw * 4``.
        - ``poor_wellbeing`` (boolean): ``score < 50``.
        - ``likely_depression`` (boolean): ``score <= 28``.

    Raises
    ------
    ValueError
        If a value is not a whole number 0-5 (the message names the column and the value).

    Notes
    -----
    Raw score = sum of items (0-25); percentage score = raw x 4 (0-100), higher is better
    (WHO 1998; Topp et al. 2015). A score below 50 indicates poor wellbeing and is the usual
    trigger for depression screening; 28 or less indicates likely depression (Topp et al. 2015).
    A change of 10 points is clinically relevant (Topp et al. 2015; used in notebook 03, not
    here).

    Missing items: the index is computed only when all five items are answered (STUDY.md
    section 2); WHO gives no rule for partial forms, so none is invented here (no prorating).

    References
    ----------
    .. [1] World Health Organization, Regional Office for Europe (1998). *Wellbeing measures in
       primary health care: the DepCare project*. Copenhagen: WHO.
    .. [2] Topp, C. W., Østergaard, S. D., Søndergaard, S., & Bech, P. (2015). The WHO-5
       Well-Being Index: a systematic review of the literature. *Psychotherapy and
       Psychosomatics*, 84(3), 167-176. https://doi.org/10.1159/000376585

    Examples
    --------
    >>> import pandas as pd
    >>> forms = pd.DataFrame({"w1": [5, 1, 3], "w2": [4, 1, None], "w3": [4, 2, 3],
    ...                       "w4": [3, 1, 3], "w5": [4, 2, 3]})
    >>> who5(forms, ["w1", "w2", "w3", "w4", "w5"])
        raw  score  poor_wellbeing  likely_depression
    0    20     80           False              False
    1     7     28            True               True
    2  <NA>   <NA>            <NA>               <NA>
    """
    what = "WHO-5"
    items = _check_columns(data, items, 5, what)
    values = _numeric_items(data, items, 0, 5, what)
    complete = ~np.isnan(values).any(axis=1)
    raw = np.where(complete, np.nansum(values, axis=1), np.nan)
    raw = pd.array(raw, dtype="Float64").astype("Int64")
    score = raw * 4
    return pd.DataFrame(
        {
            "raw": raw,
            "score": score,
            "poor_wellbeing": pd.array(score < 50, dtype="boolean"),
            "likely_depression": pd.array(score <= 28, dtype="boolean"),
        },
        index=data.index,
    )


# --------------------------------------------------------------------------------------------
# Positieve Gezondheid
# --------------------------------------------------------------------------------------------
#: The six dimensions of the spider web (Huber et al. 2016), in the order the tool shows them.
PG_DIMENSIONS = (
    "lichaamsfuncties",
    "mentaal welbevinden",
    "zingeving",
    "kwaliteit van leven",
    "meedoen",
    "dagelijks functioneren",
)


def positive_health(data: pd.DataFrame, dimensions: Sequence[str]) -> pd.DataFrame:
    """Summarise the Positieve Gezondheid spider web: mean of the six dimension scores (0-10).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per form. Not modified.
    dimensions : sequence of str
        The six dimension columns (lichaamsfuncties, mentaal welbevinden, zingeving, kwaliteit
        van leven, meedoen, dagelijks functioneren), each a whole number 0-10 or missing.

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``, columns:

        - ``mean`` (float, 0-10): mean of the six dimensions; NaN unless all six are answered.
        - ``n_answered`` (int, 0-6): number of dimensions answered.

    Raises
    ------
    ValueError
        If a value is not a whole number 0-10 (the message names the column and the value).

    Notes
    -----
    Huber et al. (2016) define the six dimensions; the spider-web tool shows them side by side
    and defines **no total score**. The mean over the six dimensions is this project's summary
    (STUDY.md section 2 lists the six 0-10 scores); each dimension should also be analysed on
    its own. Missing-data rule (this project's decision, since the instrument has none): the
    mean is computed only when all six dimensions are answered, so that a mean always covers the
    same six dimensions and is comparable between T0 and T1; no prorating. The short form
    scores each dimension 0-10 in whole numbers; a half point is rejected rather than rounded.

    References
    ----------
    .. [1] Huber, M., van Vliet, M., Giezenberg, M., Winkens, B., Heerkens, Y., Dagnelie,
       P. C., & Knottnerus, J. A. (2016). Towards a 'patient-centred' operationalisation of the
       new dynamic concept of health: a mixed methods study. *BMJ Open*, 6(1), e010091.
       https://doi.org/10.1136/bmjopen-2015-010091

    Examples
    --------
    >>> import pandas as pd
    >>> forms = pd.DataFrame([[6, 7, 8, 5, 6, 4], [6, 7, None, 5, 6, 4]],
    ...                      columns=[f"pg{i}" for i in range(1, 7)])
    >>> positive_health(forms, [f"pg{i}" for i in range(1, 7)])
       mean  n_answered
    0   6.0           6
    1   NaN           5
    """
    what = "Positieve Gezondheid"
    dimensions = _check_columns(data, dimensions, 6, what)
    values = _numeric_items(data, dimensions, 0, 10, what)
    n_answered = (~np.isnan(values)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.where(n_answered == 6, values.sum(axis=1) / 6.0, np.nan)
    return pd.DataFrame({"mean": mean, "n_answered": n_answered.astype("int64")}, index=data.index)


# --------------------------------------------------------------------------------------------
# Zelfredzaamheid-Matrix
# --------------------------------------------------------------------------------------------
#: The six ZRM domains used in this study (STUDY.md section 2), out of the matrix's 13.
ZRM_DOMAINS = (
    "financien",
    "dagbesteding",
    "sociaal netwerk",
    "lichamelijke gezondheid",
    "geestelijke gezondheid",
    "maatschappelijke participatie",
)


def zrm_domains(data: pd.DataFrame, domains: Sequence[str]) -> pd.DataFrame:
    """Validate Zelfredzaamheid-Matrix domain ratings (1-5 each; no total score).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per interview. Not modified.
    domains : sequence of str
        The domain columns to validate (this study uses six of the 13 domains; any number of
        columns is accepted). Each rating is a whole number 1-5 or missing.

    Returns
    -------
    pandas.DataFrame
        Same index as ``data``; the domain columns, in the order given, as nullable integers
        (Int64, 1-5 or ``<NA>``).

    Raises
    ------
    ValueError
        If a rating is not a whole number 1-5 (the message names the column and the value).

    Notes
    -----
    The interviewer rates each domain from 1 (acute problematiek) through 2 (niet
    zelfredzaam), 3 (beperkt zelfredzaam), 4 (voldoende zelfredzaam) to 5 (volledig
    zelfredzaam); higher is better. The ZRM has **no total score** (ZRM-handleiding 2017):
    domains are analysed separately, so this function only validates them. A missing rating
    stays missing; nothing is imputed.

    References
    ----------
    .. [1] Lauriks, S., Buster, M. C. A., de Wit, M. A. S., van de Weerd, S., Tigchelaar, G., &
       Fassaert, T. (2013). *Zelfredzaamheid-Matrix 2013*. Amsterdam: GGD Amsterdam.
    .. [2] GGD Amsterdam (2017). *Zelfredzaamheid-Matrix. Handleiding ZRM 2017*.
    .. [3] Fassaert, T., Lauriks, S., van de Weerd, S., et al. (2014). Psychometric properties
       of the Dutch version of the Self-Sufficiency Matrix (SSM-D). *Community Mental Health
       Journal*, 50(5), 583-590.

    Examples
    --------
    >>> import pandas as pd
    >>> zrm_domains(pd.DataFrame({"fin": [1, 5.0, None], "soc": [3, 4, 2]}), ["fin", "soc"])
        fin  soc
    0     1    3
    1     5    4
    2  <NA>    2
    """
    what = "Zelfredzaamheid-Matrix"
    if isinstance(domains, str):
        raise ValueError(f"{what}: domains must be a list of column names, not one string.")
    domains = list(domains)
    if not domains:
        raise ValueError(f"{what}: give at least one domain column.")
    domains = _check_columns(data, domains, len(domains), what)
    values = _numeric_items(data, domains, 1, 5, what)
    return pd.DataFrame(
        {col: pd.array(values[:, j], dtype="Float64").astype("Int64") for j, col in enumerate(domains)},
        index=data.index,
    )
