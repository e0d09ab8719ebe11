"""Notebook 02, reach: who is reached, who is not, and why not (STUDY.md section 6, "02 reach").

Tidy tables in, tidy unrounded tables out, one function per result; the statistics themselves
live in :mod:`analysis.stats` (tested against oracles there), the choices (variables, model
covariates, CBS comparisons, display order, Dutch labels) in the ``reach:`` section of
``analysis/study.yaml``. :func:`publish_all` writes every table twice: unsuppressed to
``<out>/internal/<name>.csv`` and, protected together (:func:`protect_tables`), to
``<out>/results/<name>.csv``, the only version the report and notebook 02 may show: counts 1-4
(and a 0 beside them) are ``"<5"`` (``analysis.min_cell``), and further counts of 5 or more are
``"x"`` (secondary suppression, ``analysis.secondary_suppression``) until no "<5" can be
recovered or narrowed from all the reach tables together; shares, CIs, ratios, percentages and
means of a hidden count are hidden with it (:func:`ledger` lists the arithmetic the attacker is
credited with). Table 1 (tidy and display) is published for the pooled block only; the per-site
blocks stay in ``internal/``. Figures go to ``<out>/figures/<name>.png``, drawn from the
published tables: a hidden point is left out and marked "<5" or "x".

Per-site detail (``analysis.per_site_detail_max`` in study.yaml, 12): the per-site blocks of
Table 1 (``reach_table1``, ``reach_table1_display``: tests per site) and the per-site panels of
the figures are produced for at most that many sites. With more sites (a national monitor)
hundreds of per-site p-values would be a multiple-testing exercise nobody can read: Table 1 has
only the pooled block (``site == "all"``), the reasons and channels figures show the pooled
panel, the representation figure the sites with the most visitors compared (there is no pooled
CBS population), the forest plot the covariates only (the site terms stay in
``reach_model.csv``), and each title says so; :func:`site_detail_note` writes the sentence
notebook 02 shows. The descriptive per-site tables (counts, representation, R-indicator,
reasons, would-like, channels, summary) stay per site: they grow linearly with the sites.

Conventions in every table: ``site`` is a site code, or ``"all"`` for the sites pooled;
``share`` is a proportion (0-1) and ``pct`` a percentage (0-100); ``ci_low``/``ci_high`` are
95% bounds (Wilson for shares); ``n`` is the denominator (people), ``k`` the people counted;
codes are codebook codes and ``label`` / ``*_label`` their Dutch labels.

Results tables (``<out>/results/``; the same columns in ``<out>/internal/``)
-----------------------------------------------------------------------------
``reach_counts.csv`` -- respondents and reach per site (:func:`reach_counts`)
    * ``site`` -- site code or ``all``
    * ``site_label`` -- Dutch name of the krachtpunt
    * ``n`` -- respondents with a known reach status
    * ``k`` -- reached (at least one visit in the past 6 months)
    * ``share`` -- ``k / n``
    * ``ci_low``, ``ci_high`` -- Wilson 95% CI of ``share``
    * ``n_missing`` -- respondents whose reach status is unknown (left out of every analysis)
    * ``not_estimable`` -- ``""``, or ``too few respondents ...`` where ``n`` is 0, or ``empty
      group: no forms from <site>`` for a site that delivered no forms (or a header only)

A site that delivered no forms keeps its rows in every per-site table (counts, Table 1,
representation, R-indicator, reasons, channels), with n = 0, empty numbers and ``not_estimable``
= ``empty group: no forms from <site>``, when the notebook passes ``sites=`` (:func:`expected_sites`,
the sites with a reach export in the codebook). It is not in the reach model (a site without
rows is no level of the site fixed effect); analysis/report.py says so in a sentence.

``reach_table1.csv`` -- Table 1, long and numeric (:func:`table1_by_site`)
    * ``site``, ``site_label``
    * ``variable`` -- tidy variable (``djg_band`` = De Jong Gierveld band, derived here)
    * ``variable_label`` -- its Dutch label
    * ``type`` -- ``categorical`` or ``continuous``
    * ``level`` -- code of the level (``missing`` = not answered; empty for continuous)
    * ``level_label`` -- Dutch label of the level (``onbekend`` for missing)
    * ``group`` -- ``True`` (reached), ``False`` (not reached), ``overall``
    * ``n`` -- categorical: people in the level; continuous: people with a value
    * ``pct`` -- categorical: % of all people of the group (missing level included)
    * ``mean``, ``sd``, ``median``, ``q1``, ``q3`` -- continuous only
    * ``n_missing`` -- continuous only: people without a value
    * ``smd`` -- absolute standardized mean difference reached vs not reached (Yang & Dalton
      multi-category SMD for categorical variables), per variable, repeated on its rows
    * ``test`` -- name of the test behind ``p`` (chi-square, Fisher exact, Fisher-Freeman-
      Halton Monte Carlo, Welch t, Mann-Whitney U; the rule is in analysis/stats/compare.py)
    * ``statistic_name`` -- what ``statistic`` holds: ``chi2``, ``odds_ratio`` (Fisher 2x2),
      ``table_probability`` (Fisher-Freeman-Halton), ``t`` (Welch), ``U`` (Mann-Whitney)
    * ``statistic``, ``dof``, ``p`` -- test statistic, its degrees of freedom (chi-square,
      Welch) and two-sided p-value, per variable
    * ``not_estimable`` -- ``""``, or why the test or SMD could not be computed (e.g. ``empty
      group: no one in the not-reached group at LH answered 'gender'``)

``reach_table1_display.csv`` -- Table 1 formatted for the report (:func:`table1_display`)
    * ``site`` -- site code or ``all`` (filter on it; rows are in display order)
    * ``Krachtpunt`` -- Dutch site name
    * ``Kenmerk`` -- Dutch variable label (first row ``Aantal respondenten``)
    * ``Categorie`` -- Dutch level label, or ``gemiddelde (SD)`` / ``mediaan [IQR]``
    * ``Bereikt``, ``Niet bereikt``, ``Totaal`` -- ``"n (%)"``, mean (SD) or median [Q1-Q3],
      Dutch decimal comma; ``<5`` where the count is 1-4
    * ``SMD`` -- two decimals, on a variable's first row only
    * ``Toetswaarde`` -- the statistic named by what it is: ``"χ² = 4,65 (vg 3)"``,
      ``"OR = 0,11"``, ``"P(tabel) = 0,0040"``, ``"t = -1,20 (vg 17,3)"``, ``"U = 34,0"``
    * ``p`` -- ``"0,046"`` / ``"< 0,001"``, on a variable's first row only (``–`` if not tested)
    * ``Toets`` -- Dutch name of the test behind ``p``, or ``niet getoetst: <reden>``

``reach_model.csv`` -- logistic regression of reached (:func:`reach_model`)
    * ``model`` -- ``site_fixed`` (main: site as fixed effect, model-based SEs);
      ``leave_one_site_out`` (sensitivity below ``reach.model.cluster_robust_min_sites`` sites:
      refitted without ``site_left_out``; covariate rows only); ``site_fixed_cluster`` (from that
      number of sites: CR1 cluster-robust SEs, t with G - 1 df; covariate rows only)
    * ``term`` -- covariate name from study.yaml (``age_18_34``, ...), or ``site[<code>]``
    * ``covariate`` -- the covariate name, or ``site`` for the site terms
    * ``label`` -- Dutch label with the reference category
    * ``odds_ratio``, ``ci_low``, ``ci_high`` -- OR and its 95% CI
    * ``p``, ``test`` -- Wald z; Wald t (G - 1 df) for cluster-robust; "penalised likelihood
      ratio (Firth; profile interval)" for Firth fits
    * ``log_or``, ``se`` -- coefficient and its standard error; ``se_type`` -- kind of SE
    * ``n_used`` -- complete cases in the model; ``n_dropped`` -- respondents left out for a
      missing value; ``n_events`` -- reached among ``n_used``
    * ``n_clusters`` -- number of sites (cluster-robust model only)
    * ``site_left_out`` -- the site left out (leave-one-site-out rows), else empty
    * ``method`` -- ``maximum likelihood`` or ``Firth penalised likelihood``
    * ``separation`` -- why Firth was used (``separation on <term>: ...``), else empty
    * ``events_per_parameter`` -- the rarer of reached / not reached per non-intercept parameter
    * ``not_estimable`` -- empty, or the reason (the numbers are then NaN)

``reach_model_display.csv`` -- the models side by side, formatted (:func:`model_display`)
    * ``Kenmerk`` -- Dutch label; footer rows ``Methode``, ``Gebeurtenissen per parameter (EPV)``,
      ``Aantal in de analyse (weggelaten)``
    * ``OR (95%-BI)``, ``p`` -- main model
    * ``OR zonder <krachtpunt>`` -- per site left out (leave-one-site-out), or from
      ``cluster_robust_min_sites`` sites the cluster-robust OR and p columns

``reach_representation.csv`` -- visitors vs CBS population (:func:`representation`)
    * ``site``, ``site_label``, ``variable``, ``variable_label``, ``level``, ``level_label``
    * ``region_code``, ``region_name`` -- the CBS region (the site's, or ``NL01`` for the
      national loneliness reference)
    * ``cbs_variable``, ``year``, ``table_id`` -- which CBS figure, from which year and table
    * ``n`` -- visitors (reached) with an answer among the compared levels
    * ``k`` -- visitors in the level
    * ``share`` -- ``k / n``
    * ``population_share`` -- the level's share of the CBS population over the compared levels
    * ``ratio`` -- ``share / population_share`` (1 = as common among visitors as in the
      population; above 1 over-represented)
    * ``ci_low``, ``ci_high`` -- 95% CI of ``ratio`` (Wilson CI of ``share`` / population share)
    * ``n_excluded`` -- visitors whose answer is outside the compared levels (e.g. gender
      ``anders``, age 18-24); in ``internal/`` only (:data:`INTERNAL_COLUMNS`)
    * ``n_missing`` -- visitors without an answer
    * ``population`` -- who the CBS figure covers, in Dutch (e.g. all inhabitants, children
      included, for gender; inhabitants aged 25 and over for age)
    * ``reference_is_estimate`` -- ``True`` for a survey estimate (the national loneliness
      bands), whose uncertainty the interval does not include
    * ``caveat`` -- Dutch caveat for the report, if any
    * ``not_estimable`` -- ``""``, or ``empty group: no forms from <site>`` (then n = 0, no ratio)

``reach_cbs_not_compared.csv`` -- comparisons that could NOT be made (:func:`not_compared`)
    * ``site``, ``site_label``, ``variable``, ``variable_label``
    * ``level``, ``level_label`` -- the level that could not be compared, empty when no level
      of the variable could
    * ``region_code`` -- the CBS region looked up
    * ``cbs_variables`` -- the CBS figures needed (``;``-separated)
    * ``reason`` -- the reference file's own reason (``note``), verbatim, or the study.yaml
      reason for a level that cannot be compared exactly
    * ``reason_nl`` -- the reason in Dutch

``reach_r_indicator.csv`` -- R-indicator of reach (:func:`r_indicators`)
    * ``site``, ``site_label``
    * ``n`` -- respondents in the propensity model; ``N`` -- sum of weights (= ``n``)
    * ``mean_propensity``, ``sd_propensity`` -- mean and SD of the estimated reach propensities
    * ``r_indicator`` -- ``1 - 2 * sd_propensity`` (1 = reach does not depend on the
      auxiliaries)
    * ``max_bias`` -- maximal absolute standardized bias ``(1 - R) / (2 * mean)``
    * ``se`` -- bootstrap standard error of ``r_indicator``
    * ``ci_low``, ``ci_high`` -- 95% percentile bootstrap interval (resamples of respondents,
      propensity model refitted in each)
    * ``n_boot`` -- resamples drawn; ``n_boot_failed`` -- resamples whose model separated (left out)
    * ``n_dropped`` -- respondents left out (missing auxiliary, or a level not used)
    * ``model`` -- the propensity model, e.g. ``reached ~ age_group + gender``
    * ``not_estimable`` -- ``""``, or why the R-indicator (or only its interval) is missing

``reach_reasons.csv`` -- reasons for not coming (:func:`reasons`)
    * ``site``, ``site_label``
    * ``source`` -- ``non_visitors`` (reach questionnaire, not reached) or ``proxy`` (what
      visitors report about people they know who do not come)
    * ``source_label`` -- Dutch name of the source
    * ``option``, ``label`` -- reason code and Dutch label (codebook order)
    * ``n`` -- people who answered the question; ``k`` -- who ticked the reason
    * ``share``, ``ci_low``, ``ci_high`` -- ``k / n`` with Wilson 95% CI (a person may tick
      several reasons: shares do not add to 1)
    * ``n_missing`` -- people of the source who did not answer the question

``reach_would_like.csv`` -- would the person reported by a proxy like to come (:func:`would_like`)
    * ``site``, ``site_label``, ``level``, ``label`` -- ``ja`` / ``nee`` / ``weet_niet``
    * ``n`` -- proxy reports with an answer; ``k`` -- reports with this answer
    * ``share``, ``ci_low``, ``ci_high`` -- Wilson 95% CI
    * ``n_missing`` -- reports without an answer

``reach_heard.csv`` -- how visitors heard of the krachtpunt, aim 2 (:func:`heard`)
    * ``site``, ``site_label``, ``option``, ``label``
    * ``n`` -- visitors (reached) who answered; ``k`` -- who ticked the channel
    * ``share``, ``ci_low``, ``ci_high`` -- Wilson 95% CI (several channels possible)
    * ``n_missing`` -- visitors who did not answer

``reach_not_estimable.csv`` -- what could not be computed (:func:`not_estimable_table`)
    * ``table``, ``site``, ``site_label``, ``what`` -- which statistic, in Dutch
    * ``reason`` -- the table's ``not_estimable`` reason; ``reason_nl`` -- its key in Dutch

The reasons, would-like and channels tables also have ``not_estimable`` (``too few
respondents ...`` where ``n`` is 0).

``reach_summary.csv`` -- headline numbers the report text quotes (:func:`summary`)
    * ``key`` -- stable name, e.g. ``n_respondents_all``, ``pct_reached_DH``, ``or_lonely``,
      ``or_lonely_ci_low``, ``strongest_1_or``, ``r_indicator_all``
    * ``value`` -- the number, unrounded (percentages 0-100); ``<5`` where it rests on 1-4
      people
    * ``label`` -- what it is, in Dutch

Figures (``<out>/figures/``)
----------------------------
``reach_forest.png`` (:func:`forest_figure`), ``reach_representation.png``
(:func:`representation_figure`), ``reach_reasons.png`` (:func:`reasons_figure`),
``reach_heard.png`` (:func:`heard_figure`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import codebook as codebook_mod
from analysis import config, fmt, results
from analysis.config import per_site_detail_max
from analysis.stats import compare, disclosure, models, proportions, representativeness

__all__ = [
    "ALL", "spec", "load", "prepare", "reach_counts", "table1_by_site", "table1_display",
    "model_frame", "reach_model", "model_display", "forest_figure", "cbs_shares",
    "representation", "not_compared", "r_indicators", "representation_figure", "reasons",
    "would_like", "heard", "reasons_figure", "heard_figure", "summary", "suppress", "publish",
    "ledger", "protect_tables", "publish_all", "compute_all",
    "not_estimable_nl", "not_estimable_table", "not_estimable_text",
    "save_figure", "site_codes", "per_site_detail_max", "per_site_detail", "site_detail_note",
]

#: ``site`` value of the rows that pool all sites.
ALL = "all"
#: Level code under which Table 1 counts missing answers.
MISSING = "missing"
MODEL_MAIN = "site_fixed"
MODEL_CLUSTER = "site_fixed_cluster"
SOURCES = {"non_visitors": "niet-bezoekers (zelf)", "proxy": "volgens bezoekers (proxy)"}


# ----------------------------------------------------------------------------------------------
# configuration and data
# ----------------------------------------------------------------------------------------------
def spec(study: Mapping | None = None) -> dict:
    """The ``reach:`` section of analysis/study.yaml, checked, with ``min_cell`` and ``alpha``.

    Returns a new dict (the cached study settings are not modified).

    Examples
    --------
    >>> s = spec()
    >>> s["min_cell"], s["model"]["outcome"], list(s["model"]["covariates"])[:2]
    (5, 'reached', ['age_18_34', 'age_65_plus'])
    """
    study = config.study() if study is None else study
    if "reach" not in study:
        raise ValueError("analysis/study.yaml has no 'reach:' section; notebook 02 reads its settings there.")
    s = {k: v for k, v in study["reach"].items()}
    for key in ("group", "table1", "model", "cbs", "r_indicator", "derived", "not_estimable_nl", "statistics_nl"):
        if key not in s:
            raise ValueError(f"analysis/study.yaml reach: needs a {key!r} entry (see the comments there).")
    for name, d in s["model"]["covariates"].items():
        if "variable" not in d or not ({"in", "min", "max"} & set(d)):
            raise ValueError(f"reach.model.covariates.{name}: give a variable and 'in' (codes) or 'min'/'max'.")
        if "nl" not in d:
            raise ValueError(f"reach.model.covariates.{name}: give its Dutch label 'nl'.")
    s["min_cell"] = int(study["analysis"]["min_cell"])
    s["alpha"] = float(study["analysis"]["alpha"])
    s["per_site_detail_max"] = per_site_detail_max(study)
    s["seed"] = int(study["analysis"]["seed"])
    s["secondary_suppression"] = bool(study["analysis"].get("secondary_suppression", True))
    s["sites"] = {code: dict(cfg) for code, cfg in study["sites"].items()}
    return s


def per_site_detail(n_sites: int, s: Mapping | None = None) -> bool:
    """Whether ``n_sites`` sites get per-site inferential detail (at most ``per_site_detail_max``).

    Examples
    --------
    >>> per_site_detail(3), per_site_detail(300)
    (True, False)
    """
    limit = per_site_detail_max() if s is None else int(s["per_site_detail_max"])
    return int(n_sites) <= limit


def site_detail_note(n_sites: int, s: Mapping | None = None) -> str:
    """Dutch sentence (Markdown) for notebook 02: which tables and figures are per site.

    Examples
    --------
    >>> site_detail_note(300)[:52]
    'Er zijn 300 krachtpunten, meer dan 12: Tabel 1 met t'
    """
    s = spec() if s is None else s
    limit = int(s["per_site_detail_max"])
    if per_site_detail(n_sites, s):
        return (f"Er {'is' if n_sites == 1 else 'zijn'} {n_sites} krachtpunt{'' if n_sites == 1 else 'en'} (niet meer dan "
                f"{limit}): Tabel 1 met toetsen en de figuren staan per krachtpunt en voor alle krachtpunten samen.")
    return (f"Er zijn {n_sites} krachtpunten, meer dan {limit}: Tabel 1 met toetsen staat alleen voor alle "
            f"krachtpunten samen (honderden p-waarden per krachtpunt zou niemand kunnen lezen, en ze zouden vooral "
            f"toevalstreffers opleveren). De figuren over redenen en kanalen tonen alle krachtpunten samen, de "
            f"figuur met de CBS-vergelijking de {limit} krachtpunten met de meeste bezoekers, en het bosdiagram "
            f"alleen de kenmerken (de krachtpunten staan in de modeltabel). Aantallen, bereik, CBS-vergelijking, "
            f"R-indicator, redenen en kanalen staan wel per krachtpunt in de tabellen.")


class ReachData:
    """The processed inputs of notebook 02: ``reach``, ``proxy``, ``sites`` and ``reference``."""

    def __init__(self, reach: pd.DataFrame, proxy: pd.DataFrame, sites: pd.DataFrame, reference: pd.DataFrame):
        self.reach, self.proxy, self.sites, self.reference = reach, proxy, sites, reference

    def __repr__(self) -> str:
        return (f"ReachData(reach={len(self.reach)} rows, proxy={len(self.proxy)} rows, "
                f"sites={len(self.sites)} rows, reference={len(self.reference)} rows)")


def load(out: str | os.PathLike | None = None, reference: str | os.PathLike | None = None) -> ReachData:
    """Read the tables notebook 01 wrote and the CBS reference file."""
    from analysis import cbs

    out = config.processed_dir(out)
    frames = {}
    for name in ("reach", "proxy", "sites"):
        path = out / f"{name}.parquet"
        if not path.is_file():
            raise ValueError(f"{path} is missing: run notebook 01 (python -m analysis run --only 01) first.")
        frames[name] = pd.read_parquet(path)
    return ReachData(frames["reach"], frames["proxy"], frames["sites"], cbs.read_reference(reference))


def _cb(cb):
    return codebook_mod.load() if cb is None else cb


def _site_order(values, cb, sites: Sequence[str] | None = None) -> list:
    present = set(pd.Series(values).dropna().unique()) | set(sites or ())
    known = [s for s in _cb(cb).codes("site") if s in present]
    return known + sorted(present - set(known))


def site_codes(values, cb=None, sites: Sequence[str] | None = None) -> list:
    """The site codes present in ``values`` (and in ``sites``), in study.yaml order (generated sites after, sorted)."""
    return _site_order(values, cb, sites)


def expected_sites(cb=None) -> list:
    """The sites that should have delivered reach forms: every site with a reach export in the codebook.

    Notebook 02 passes them as ``sites=`` to the per-site tables, so that a site that delivered
    no forms (or a header only) keeps its row, with n = 0 and the reason (:func:`no_forms_reason`),
    instead of disappearing without a word. With ``cb`` loaded for a raw directory the generated
    sites of a national monitor are included.

    >>> expected_sites()
    ['DH', 'LH', 'PS']
    """
    cb = _cb(cb)
    have = cb.site_sources("reach")
    return [x for x in cb.codes("site") if x in have]


#: Start of the ``not_estimable`` reason of every row of a site that delivered no forms.
NO_FORMS = "empty group: no forms from"


def no_forms_reason(site: str) -> str:
    """The ``not_estimable`` reason of a site without forms (key ``empty group``, README "Small numbers").

    >>> no_forms_reason("LH")
    'empty group: no forms from LH'
    """
    return f"{NO_FORMS} {site}"


def _no_forms(reach: pd.DataFrame, sites: Sequence[str] | None) -> set:
    """The sites of ``sites`` without a single row in the reach table (no forms, or a header only)."""
    return set(sites or ()) - set(reach["site"].dropna().unique())


def _site_label(site, cb) -> str:
    if site == ALL:
        return spec()["all_sites_label"]
    sites = _cb(cb).sites
    return sites.get(site, {}).get("name", str(site))


def _derived_levels(var: str, s: dict) -> dict:
    return {code: b["nl"] for code, b in s["derived"][var]["bands"].items()}


def _var_label(var: str, s: dict, cb) -> str:
    if var in s["derived"]:
        return s["derived"][var]["nl"]
    return _cb(cb).variable(var)["nl"]


def _level_labels(var: str, s: dict, cb) -> dict:
    if var in s["derived"]:
        return _derived_levels(var, s)
    labels = dict(_cb(cb).labels(var, "nl"))
    return labels


def prepare(reach: pd.DataFrame, s: dict | None = None, cb=None) -> pd.DataFrame:
    """A copy of the reach table ready for analysis: typed, ordered, with derived bands.

    * ``reached`` becomes ``bool``; rows whose reach status is unknown are dropped (counted by
      :func:`reach_counts`), because a respondent must be in one group.
    * Coded variables of Table 1 become categoricals with the codebook's levels in codebook
      order, so tables show every level (also one nobody chose) in questionnaire order. A value
      that is not a codebook code raises ``ValueError`` (cleaning should have caught it).
    * Derived bands (study.yaml ``reach.derived``, e.g. ``djg_band`` from ``djg_total``).
    * ``age`` and ``djg_total`` become float (NaN for missing).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"site": ["DH"] * 3, "reached": pd.array([True, False, None], dtype="boolean"),
    ...                    "age": pd.array([30, None, 70], dtype="Int64"), "djg_total": pd.array([0, 3, 6], dtype="Int64")})
    >>> prepare(df)[["reached", "djg_band"]]
       reached       djg_band
    0     True   niet_eenzaam
    1    False  matig_eenzaam
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    if not isinstance(reach, pd.DataFrame):
        raise ValueError("prepare: reach must be a DataFrame (reach.parquet from notebook 01).")
    group = s["group"]
    for col in ("site", group):
        if col not in reach.columns:
            raise ValueError(f"prepare: column {col!r} missing from the reach table.")
    d = reach.loc[reach[group].notna()].copy()
    d[group] = d[group].astype(bool)
    for var, cfg in s["derived"].items():
        src = cfg["from"]
        if src not in d.columns:
            continue
        x = pd.to_numeric(d[src]).astype(float)
        band = pd.Series(pd.NA, index=d.index, dtype=object)
        for code, b in cfg["bands"].items():
            band[(x >= b["min"]) & (x <= b["max"])] = code
        d[var] = pd.Categorical(band, categories=list(cfg["bands"]))
    for var in s["table1"]["categorical"]:
        if var in s["derived"] or var not in d.columns:
            continue
        codes = cb.codes(var)
        bad = sorted(set(d[var].dropna().astype(str)) - set(codes))
        if bad:
            raise ValueError(f"prepare: {var!r} has values {bad} that are not codebook codes {codes}; fix the cleaning.")
        d[var] = pd.Categorical(d[var].astype(object).where(d[var].notna(), None), categories=codes)
    for var in s["table1"]["continuous"]:
        if var in d.columns:
            d[var] = pd.to_numeric(d[var]).astype(float)
    return d


def _blocks(d: pd.DataFrame, cb, with_all: bool = True, sites: Sequence[str] | None = None):
    """(site code, rows) per site in codebook order (no rows for a site of ``sites`` without data),
    then all sites pooled."""
    by_site = dict(tuple(d.groupby("site", sort=False, observed=True)))  # one pass, not a mask per site
    for site in _site_order(d["site"], cb, sites):
        yield site, by_site.get(site, d.iloc[:0])
    if with_all:
        yield ALL, d


# ----------------------------------------------------------------------------------------------
# counts and Table 1
# ----------------------------------------------------------------------------------------------
def reach_counts(reach: pd.DataFrame, s: dict | None = None, cb=None, sites: Sequence[str] | None = None) -> pd.DataFrame:
    """Respondents and the share reached, per site and pooled, with Wilson 95% CIs.

    ``sites`` (notebook 02: :func:`expected_sites`): every one of them gets a row; one without
    forms has n = 0 and ``not_estimable`` = :func:`no_forms_reason`. Default: the sites in the data.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"site": ["DH"] * 4 + ["LH"] * 2,
    ...                    "reached": pd.array([True, False, False, None, True, True], dtype="boolean")})
    >>> reach_counts(df)[["site", "n", "k", "share", "n_missing"]]
      site  n  k     share  n_missing
    0   DH  3  1  0.333333          1
    1   LH  2  2  1.000000          0
    2  all  5  3  0.600000          1
    >>> reach_counts(df, sites=["DH", "LH", "PS"]).iloc[2][["site", "n", "not_estimable"]].astype(str).tolist()
    ['PS', '0', 'empty group: no forms from PS']
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    g = s["group"]
    known = reach[g].notna()
    flags = pd.DataFrame({"n": known.to_numpy(), "k": (reach[g].astype("boolean").fillna(False) & known).to_numpy(),
                          "n_missing": (~known).to_numpy()}, index=reach.index)
    # one groupby for every site (a loop over 300 sites took seconds), then the pooled row
    counts = _by_site_then_all(flags, reach["site"], cb, sites)
    empty = _no_forms(reach, sites)
    return pd.DataFrame({"site": counts.index, "site_label": [_site_label(x, cb) for x in counts.index],
                         "n": counts["n"].to_numpy(), "k": counts["k"].to_numpy(),
                         **_wilson_or_nan(counts["k"].to_numpy(), counts["n"].to_numpy()),
                         "n_missing": counts["n_missing"].to_numpy(),
                         "not_estimable": [no_forms_reason(x) if x in empty else
                                           f"too few respondents (n = 0 with a known reach status) at "
                                           f"{'all sites' if x == ALL else x}" if n == 0 else ""
                                           for x, n in zip(counts.index, counts["n"])]})


def _by_site_then_all(flags: pd.DataFrame, site: pd.Series, cb, sites: Sequence[str] | None = None) -> pd.DataFrame:
    """Column sums of 0/1 ``flags`` per site (study order, as :func:`_blocks`; 0 for a site of
    ``sites`` without rows), then ``all`` (int64)."""
    per = flags.groupby(site.to_numpy(), sort=False).sum().reindex(_site_order(site, cb, sites), fill_value=0)
    per.loc[ALL] = flags.sum()
    return per.astype("int64")


def _wilson_or_nan(k: np.ndarray, n: np.ndarray) -> dict:
    """``share``, ``ci_low``, ``ci_high`` (Wilson) for arrays of counts; NaN where ``n`` is 0."""
    out = {c: np.full(len(n), np.nan) for c in ("share", "ci_low", "ci_high")}
    pos = n > 0
    if pos.any():
        ci = proportions.wilson_ci(k[pos], n[pos])
        for c in out:
            out[c][pos] = ci[c].to_numpy()
    return out


def table1_by_site(reach: pd.DataFrame, s: dict | None = None, cb=None, sites: Sequence[str] | None = None) -> pd.DataFrame:
    """Table 1 (reached vs not reached) per site and pooled, long and numeric.

    Parameters
    ----------
    reach : pandas.DataFrame
        The reach table of notebook 01 (not modified); :func:`prepare` is applied.
    s : dict, optional
        :func:`spec` (variables, non-normal variables, Monte Carlo tables).
    sites : sequence of str, optional
        Sites that get a block even without data (notebook 02: :func:`expected_sites`); a site
        without forms has counts of 0 and ``not_estimable`` = :func:`no_forms_reason` on every
        row. Default: the sites in the data.

    Returns
    -------
    pandas.DataFrame
        See ``reach_table1.csv`` in the module docstring.

    Notes
    -----
    :func:`analysis.stats.compare.table1` per block: categorical counts with missing as a level
    of its own, mean/SD and median/quartiles for continuous variables, absolute SMDs, and the
    test chosen by the rule in that module (chi-square, or Fisher / Fisher-Freeman-Halton with an
    expected count under 5; Welch t, or Mann-Whitney U for the variables declared non-normal).
    Per-site p-values are descriptive: no correction for the many tests. A site where everyone
    (or no one) was reached, or a variable nobody answered, still gets its counts; its tests and
    SMDs are NaN with the reason in ``not_estimable`` (``empty group: ...``, ``no variation:
    ...``, ``too few respondents ...``).

    Per-site blocks only for at most ``analysis.per_site_detail_max`` sites (study.yaml): with
    more sites (a national monitor) only the pooled block (``site == "all"``) is returned, since
    hundreds of per-site tests would be a multiple-testing exercise nobody can read.
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    d = prepare(reach, s, cb)
    t = s["table1"]
    frames = []
    empty = _no_forms(reach, sites)
    n_sites = len(_site_order(d["site"], cb, sites))
    blocks = _blocks(d, cb, sites=sites) if per_site_detail(n_sites, s) else [(ALL, d)]
    for site, sub in blocks:
        # a site where everyone (or no one) was reached is valid data: counts for both groups
        # (0 in the empty one), the tests and SMDs "not estimable: empty group ..."
        where = "all sites" if site == ALL else site
        names = {True: f"the reached group at {where}", False: f"the not-reached group at {where}"}
        t1 = compare.table1(sub, s["group"], t["categorical"], t["continuous"], nonnormal=t["nonnormal"],
                            groups=[True, False], missing_label=MISSING, n_resamples=int(t["fisher_resamples"]),
                            group_names=names)
        if site in empty:
            t1["not_estimable"] = no_forms_reason(site)
        t1.insert(0, "site", site)
        frames.append(t1)
    out = pd.concat(frames, ignore_index=True)
    out.insert(1, "site_label", out["site"].map({x: _site_label(x, cb) for x in out["site"].unique()}))
    out.insert(3, "variable_label", out["variable"].map(lambda v: _var_label(v, s, cb)))
    labels = {v: {**_level_labels(v, s, cb), MISSING: s["missing_label"]} for v in t["categorical"]}
    out.insert(6, "level_label", [labels[v].get(lv, lv) if tp == "categorical" else np.nan
                                  for v, lv, tp in zip(out["variable"], out["level"], out["type"])])
    return out


def _test_nl(test, s: dict) -> str:
    if not isinstance(test, str) or not test:
        return ""
    for prefix, nl in s["tests_nl"].items():
        if test.startswith(prefix):
            return nl
    return test


def not_estimable_nl(reason, s: dict | None = None) -> str:
    """Dutch reading of a ``not_estimable`` reason: its key, from study.yaml ``reach.not_estimable_nl``.

    ``""`` for a computed row. An unknown key raises ``ValueError``: every reason must start with
    one of the agreed keys, so that the report can say it in Dutch.

    Examples
    --------
    >>> not_estimable_nl("empty group: no one in the not-reached group at LH answered 'gender'")
    'lege groep'
    >>> not_estimable_nl("")
    ''
    """
    s = spec() if s is None else s
    if not isinstance(reason, str) or not reason:
        return ""
    for key, nl in s["not_estimable_nl"].items():
        if reason.startswith(key):
            return nl
    raise ValueError(f"not_estimable reason {reason!r} does not start with a key of reach.not_estimable_nl "
                     f"({', '.join(s['not_estimable_nl'])}); add it to analysis/study.yaml.")


def _statistic_text(name, value, dof, s: dict) -> str:
    """``"χ² = 3,21 (vg 2)"``, ``"OR = 2,50"``, ``"P(tabel) = 0,0040"``, ``"t = -1,20 (vg 17,3)"``, ``"U = 34"``."""
    if not isinstance(name, str) or not name or pd.isna(value):
        return ""
    label = s["statistics_nl"][name]
    if np.isinf(value):
        text = "∞" if value > 0 else "−∞"
    elif name == "table_probability":
        text = "< 0,0001" if value < 0.0001 else fmt.number(value, 4)
    else:
        text = fmt.number(value, 1 if name == "U" else 2)
    sep = " " if text.startswith("<") else " = "
    if name in ("chi2", "t") and not pd.isna(dof):
        return f"{label}{sep}{text} (vg {fmt.number(dof, 0 if float(dof).is_integer() else 1)})"
    return f"{label}{sep}{text}"


def table1_display(table1: pd.DataFrame, counts: pd.DataFrame, s: dict | None = None) -> pd.DataFrame:
    """Table 1 as the report shows it: Dutch labels, formatted cells, small counts as "<5".

    Parameters
    ----------
    table1 : pandas.DataFrame
        From :func:`table1_by_site` (unsuppressed; suppression is applied here, per cell).
    counts : pandas.DataFrame
        From :func:`reach_counts` (the group sizes in the first row of each site).

    Returns
    -------
    pandas.DataFrame
        See ``reach_table1_display.csv`` in the module docstring. ``Toetswaarde`` names
        what the test statistic is (χ², OR, P(tabel), t, U: study.yaml ``reach.statistics_nl``)
        and ``p`` and ``Toets`` stay side by side; a test that could not be done shows ``–`` as
        ``p`` and ``niet getoetst: <reden>`` (study.yaml ``reach.not_estimable_nl``) as ``Toets``.
    """
    s = spec() if s is None else s
    m = s["min_cell"]
    mark = f"<{m}"
    cols = {"True": "Bereikt", "False": "Niet bereikt", "overall": "Totaal"}
    blank = {"SMD": "", "Toetswaarde": "", "p": "", "Toets": ""}

    def cell(n, text):
        return mark if 1 <= n < m else text

    rows = []
    by_site = counts.set_index("site")
    for site, blk in table1.groupby("site", sort=False):
        c = by_site.loc[site]
        base = {"site": site, "Krachtpunt": blk["site_label"].iloc[0]}
        n_no = int(c["n"] - c["k"])
        rows.append({**base, "Kenmerk": "Aantal respondenten", "Categorie": "",
                     "Bereikt": cell(int(c["k"]), fmt.number(c["k"], 0)),
                     "Niet bereikt": cell(n_no, fmt.number(n_no, 0)),
                     "Totaal": cell(int(c["n"]), fmt.number(c["n"], 0)), **blank})
        for var, v in blk.groupby("variable", sort=False):
            first = v.iloc[0]
            reason = first.get("not_estimable", "")
            reason = reason if isinstance(reason, str) else ""
            tested = not pd.isna(first["p"])
            toets = _test_nl(first["test"], s) if tested else "niet getoetst"
            if reason and not tested:
                toets = f"niet getoetst: {not_estimable_nl(reason, s)}"
            head = {"SMD": fmt.number(first["smd"], 2),
                    "Toetswaarde": _statistic_text(first.get("statistic_name", ""), first["statistic"],
                                                          first.get("dof", np.nan), s) if tested else "",
                    "p": fmt.pvalue(first["p"]), "Toets": toets}
            groups = v["group"].astype(str).to_numpy()
            if first["type"] == "categorical":
                for i, (lv, lvl) in enumerate(v.groupby("level", sort=False)):
                    r = {**base, "Kenmerk": first["variable_label"], "Categorie": lvl["level_label"].iloc[0]}
                    lgroups = lvl["group"].astype(str).to_numpy()
                    for gkey, col in cols.items():
                        g = lvl.iloc[int(np.flatnonzero(lgroups == gkey)[0])]
                        r[col] = cell(int(g["n"]), fmt.n_pct(g["n"], g["pct"]))
                    r.update(head if i == 0 else blank)
                    rows.append(r)
            else:
                nonnormal = var in s["table1"]["nonnormal"]
                kinds = [("mediaan [IQR]", "median"), ("gemiddelde (SD)", "mean")]
                if not nonnormal:
                    kinds = kinds[::-1]
                for i, (name, kind) in enumerate(kinds):
                    r = {**base, "Kenmerk": first["variable_label"], "Categorie": name}
                    for gkey, col in cols.items():
                        g = v.iloc[int(np.flatnonzero(groups == gkey)[0])]
                        text = (fmt.median_iqr(g["median"], g["q1"], g["q3"]) if kind == "median"
                                else fmt.mean_sd(g["mean"], g["sd"]))
                        r[col] = cell(int(g["n"]), text)
                    r.update(head if i == 0 else blank)
                    rows.append(r)
    return pd.DataFrame(rows, columns=["site", "Krachtpunt", "Kenmerk", "Categorie", "Bereikt", "Niet bereikt",
                                       "Totaal", "SMD", "Toetswaarde", "p", "Toets"])


# ----------------------------------------------------------------------------------------------
# logistic regression
# ----------------------------------------------------------------------------------------------
def model_frame(reach: pd.DataFrame, s: dict | None = None, cb=None) -> pd.DataFrame:
    """The model's outcome, site and named 0/1 indicators, one row per respondent.

    Returns
    -------
    pandas.DataFrame
        ``respondent_id`` (if present), ``site``, the outcome (0/1 float) and one float column
        per covariate of study.yaml ``reach.model.covariates``: 1 if the respondent's value is
        in ``in`` (or within ``min``/``max``), 0 otherwise, NaN when the variable is missing.
        Rows with an unknown outcome are kept with NaN (the model drops and counts them).
        Any number of rows, also none.

    Notes
    -----
    The definitions are those of the generator's true model (analysis/synth/params.yaml), so
    that the recovery test can compare estimates with the truth by name. An answer that is
    not in ``in`` counts as 0, also "anders" or "zeg ik liever niet" for ``woman``; only a
    missing answer makes the indicator missing.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"site": ["DH"] * 3, "reached": pd.array([True, False, None], dtype="boolean"),
    ...                    "age": pd.array([20, 70, None], dtype="Int64"), "gender": ["vrouw", "anders", None]})
    >>> s = spec(); s["model"] = {**s["model"], "covariates": {k: v for k, v in s["model"]["covariates"].items()
    ...                                                       if k in ("age_18_34", "woman")}}
    >>> model_frame(df, s)
      site  reached  age_18_34  woman
    0   DH      1.0        1.0    1.0
    1   DH      0.0        0.0    0.0
    2   DH      NaN        NaN    NaN
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    m = s["model"]
    if m["outcome"] not in reach.columns or "site" not in reach.columns:
        raise ValueError(f"model_frame: the reach table needs columns 'site' and {m['outcome']!r}.")
    out = reach[[c for c in ("respondent_id", "site") if c in reach.columns]].copy()
    y = reach[m["outcome"]]
    out[m["outcome"]] = y.astype("Float64").astype(float) if y.notna().any() else np.nan
    for name, d in m["covariates"].items():
        var = d["variable"]
        if var not in reach.columns:
            raise ValueError(f"model_frame: covariate {name!r} needs column {var!r}, not in the reach table.")
        x = reach[var]
        if "in" in d:
            if var in cb.variables and cb.variable(var)["type"] in ("category", "ordinal"):
                unknown = sorted(set(d["in"]) - set(cb.codes(var)))
                if unknown:
                    raise ValueError(f"reach.model.covariates.{name}: {unknown} are not codes of {var!r}.")
            ind = x.isin(d["in"]).astype(float)
        else:
            xn = pd.to_numeric(x).astype(float)
            ind = pd.Series(1.0, index=reach.index)
            if "min" in d:
                ind = ind * (xn >= d["min"])
            if "max" in d:
                ind = ind * (xn <= d["max"])
        out[name] = ind.where(x.notna(), np.nan).astype(float)
    return out


#: Model name of the leave-one-site-out sensitivity rows of ``reach_model.csv``.
MODEL_LOSO = "leave_one_site_out"


def reach_model(reach: pd.DataFrame, s: dict | None = None, cb=None) -> pd.DataFrame:
    """Odds ratios of being reached (site fixed effect), with a sensitivity analysis that suits the sites.

    Returns
    -------
    pandas.DataFrame
        See ``reach_model.csv`` in the module docstring. Rows: the main model (``site_fixed``),
        then the sensitivity model: ``leave_one_site_out`` (the main model refitted without
        each site in turn, ``site_left_out`` naming it; covariate rows only) with fewer than
        ``reach.model.cluster_robust_min_sites`` sites, else ``site_fixed_cluster`` (CR1
        cluster-robust by site, t with G - 1 df; covariate rows only). Within each, the
        covariates in study.yaml order, then the site terms. Every row is either estimated or
        says why not in ``not_estimable``.

    Notes
    -----
    :func:`analysis.stats.models.logistic_or` on :func:`model_frame`, complete cases. The
    reference site is the first of analysis/study.yaml with complete cases. Separated data
    (e.g. a site or a covariate level where everyone was reached) are fitted by Firth's
    penalised likelihood with profile intervals (``method``, ``separation``; the rule is in
    ``logistic_or``). With fewer than ``reach.model.min_events_per_parameter`` events per
    parameter no model is reported (``not enough events``).

    Why not cluster-robust errors with three sites: the sandwich with G clusters has rank at
    most G - 1 (2 for 12 parameters), and with site also a fixed effect each site's scores sum
    to zero; Cameron & Miller (2015) advise some 20-50 clusters even with the small-sample
    correction. Leaving one site out instead shows whether a covariate's odds ratio rests on
    one site (Belsley, Kuh & Welsch 1980, deletion diagnostics, applied to clusters).
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    m = s["model"]
    y = m["outcome"]
    mf = model_frame(reach, s, cb)
    names = list(m["covariates"])
    complete = mf[[y, "site", *names]].notna().all(axis=1)
    sites = _site_order(mf.loc[complete, "site"], cb)  # sites with complete cases, study.yaml order
    detail = per_site_detail(len(sites), s)
    kw = dict(continuous=names, site="site", firth=m.get("firth", "auto"),
              min_events_per_parameter=float(m.get("min_events_per_parameter", 0)))
    cluster = m.get("cluster")
    min_sites = int(m.get("cluster_robust_min_sites", 20))
    use_cluster = bool(cluster) and len(sites) >= min_sites

    def fit(frame, sites_in, clusters, profile):
        ref = {"site": sites_in[0]} if sites_in else None
        tables = models.logistic_or(frame, y, cluster=clusters, reference=ref, profile=profile, **kw)
        ok = frame[[y, "site", *names]].notna().all(axis=1)
        for t in tables:
            t["n_events"] = int(frame.loc[ok, y].sum())
        return tables

    profile = names + (["site"] if detail else [])  # 300 site terms: Wald from the penalised fit
    tables = fit(mf, sites, [None] + ([cluster] if use_cluster else []), profile)
    frames = [tables[0].assign(model=MODEL_MAIN, site_left_out="")]
    if use_cluster:
        # with site as fixed effect each site's scores sum to zero: no cluster-robust SE for the
        # site terms themselves (statsmodels returns numerical noise), so they are left out
        frames.append(tables[1][tables[1]["variable"] != "site"].assign(model=MODEL_CLUSTER, site_left_out=""))
    elif len(sites) < 2:
        t = tables[0][tables[0]["variable"] != "site"].copy()
        for c in ("odds_ratio", "ci_low", "ci_high", "p", "log_or", "se"):
            t[c] = np.nan
        t["test"] = ""
        t["not_estimable"] = (f"too few sites: {len(sites)} site(s) with complete cases; leaving one out "
                              "needs at least 2")
        frames.append(t.assign(model=MODEL_LOSO, site_left_out=""))
    else:
        for out_site in sites:
            rest = [x for x in sites if x != out_site]
            t = fit(mf[mf["site"] != out_site], rest, [None], names)[0]
            frames.append(t[t["variable"] != "site"].assign(model=MODEL_LOSO, site_left_out=out_site))
    out = pd.concat(frames, ignore_index=True)
    out["covariate"] = np.where(out["variable"] == "site", "site", out["term"])
    ref_name = _site_label(sites[0], cb) if sites else ""

    def label(t, c, lv):
        if c != "site":
            return m["covariates"][t]["nl"]
        return f"{_site_label(lv, cb)} (ref. {ref_name})" if isinstance(lv, str) else "Krachtpunt"

    out["label"] = [label(t, c, lv) for t, c, lv in zip(out["term"], out["covariate"], out["level"])]
    rank = {t: i for i, t in enumerate(names)}
    all_sites = _site_order(mf["site"], cb)
    site_rank = {x: len(names) + i for i, x in enumerate(all_sites)}
    out["_order"] = [rank[t] if c != "site" else site_rank.get(lv, len(names) + len(all_sites))
                     for t, c, lv in zip(out["term"], out["covariate"], out["level"])]
    model_rank = {MODEL_MAIN: 0, MODEL_CLUSTER: 1, MODEL_LOSO: 1}
    left_rank = {x: i for i, x in enumerate([""] + sites)}
    out["_model"] = out["model"].map(model_rank)
    out["_left"] = out["site_left_out"].map(left_rank)
    out = out.sort_values(["_model", "_left", "_order"], kind="stable").reset_index(drop=True)
    return out[["model", "term", "covariate", "label", "odds_ratio", "ci_low", "ci_high", "p", "log_or", "se",
                "test", "se_type", "n_used", "n_dropped", "n_events", "n_clusters", "site_left_out", "method",
                "separation", "events_per_parameter", "not_estimable"]]


def _not_estimable_nl(reason: str, s: dict) -> str:
    """Dutch "niet te schatten: <reden>" for an English ``not_estimable`` reason (study.yaml, matched at the start)."""
    for key, nl in s["model"].get("not_estimable_nl", {}).items():
        if str(reason).startswith(key):
            return f"niet te schatten: {nl}"
    raise ValueError(f"reach.model.not_estimable_nl in study.yaml has no Dutch reading for {reason!r}; add its key.")


def _method_nl(rows: pd.DataFrame, s: dict) -> str:
    """Dutch name of the estimation method of a model's rows (study.yaml ``reach.model.methods_nl``)."""
    used = [x for x in dict.fromkeys(rows["method"]) if x]
    return "; ".join(s["model"].get("methods_nl", {}).get(x, x) for x in used) or fmt.NA


def model_display(model: pd.DataFrame, s: dict | None = None) -> pd.DataFrame:
    """The main model and its sensitivity analysis side by side, formatted in Dutch (see module docstring).

    Columns ``Kenmerk``, ``OR (95%-BI)``, ``p``, then per site left out ``OR zonder <krachtpunt>``
    (leave-one-site-out; with more than ``per_site_detail_max`` sites one column with the smallest
    and largest), or ``OR (95%-BI), cluster-robuust`` and ``p, cluster-robuust``. A row that could
    not be estimated reads "niet te schatten: <reden>" (``reach.model.not_estimable_nl``). Last
    rows: the method, the events per parameter and the number in the analysis (left out).
    """
    s = spec() if s is None else s
    main = model[model["model"] == MODEL_MAIN].set_index("term")
    sens = model[model["model"] != MODEL_MAIN]
    loso = sens[sens["model"] == MODEL_LOSO]
    left = [x for x in dict.fromkeys(loso["site_left_out"]) if x]
    wide = len(left) > int(s["per_site_detail_max"])

    def or_text(r):
        if r["not_estimable"]:
            return _not_estimable_nl(r["not_estimable"], s)
        return fmt.estimate_ci(r["odds_ratio"], r["ci_low"], r["ci_high"])

    def p_text(r):
        return "" if r["not_estimable"] else fmt.pvalue(r["p"])

    loso_col = "OR zonder één krachtpunt (kleinste tot grootste)"
    rows = []
    for term, r in main.iterrows():
        row = {"Kenmerk": r["label"], "OR (95%-BI)": or_text(r), "p": p_text(r)}
        if len(loso):
            mine = loso[loso["term"] == term]
            if r["covariate"] == "site" or mine.empty:
                cells = {f"OR zonder {_site_label(x, None)}": fmt.NA for x in left} if not wide else {loso_col: fmt.NA}
                if not left:
                    cells = {"OR zonder één krachtpunt": fmt.NA}
            elif not left:  # too few sites to leave one out
                cells = {"OR zonder één krachtpunt": _not_estimable_nl(mine["not_estimable"].iloc[0], s)}
            elif wide:
                ok = mine[mine["not_estimable"] == ""]
                cells = {loso_col: (f"{fmt.number(ok['odds_ratio'].min(), 2)} tot {fmt.number(ok['odds_ratio'].max(), 2)}"
                                    if len(ok) else _not_estimable_nl(mine["not_estimable"].iloc[0], s))}
            else:
                cells = {f"OR zonder {_site_label(x, None)}": or_text(mine[mine["site_left_out"] == x].iloc[0])
                         for x in left}
            row.update(cells)
        elif len(sens):
            q = sens[sens["term"] == term]
            if r["covariate"] != "site" and len(q):
                row["OR (95%-BI), cluster-robuust"] = or_text(q.iloc[0])
                row["p, cluster-robuust"] = p_text(q.iloc[0])
            else:
                row["OR (95%-BI), cluster-robuust"] = fmt.NA
                row["p, cluster-robuust"] = fmt.NA
        rows.append(row)
    m = s["min_cell"]

    def footer(sub):
        """Method, events per parameter and "n (left out)" of one fit's rows."""
        if sub.empty:
            return ["", "", ""]
        first = sub.iloc[0]

        def count(k):
            return f"<{m}" if 1 <= k < m else fmt.number(k, 0)

        n, events = int(first["n_used"]), int(first["n_events"])
        epv = first["events_per_parameter"]
        rarer = min(events, n - events)  # EPV times the parameters gives it: hidden when 1-4
        epv_text = fmt.NA if pd.isna(epv) else f"<{m} bereikt of niet bereikt" if 1 <= rarer < m else fmt.number(epv, 1)
        return [_method_nl(sub, s), epv_text, f"{count(n)} ({count(int(first['n_dropped']))})"]

    columns = {"OR (95%-BI)": main}
    if len(loso) and left and not wide:
        columns.update({f"OR zonder {_site_label(x, None)}": loso[loso["site_left_out"] == x] for x in left})
    elif not len(loso) and len(sens):
        columns["OR (95%-BI), cluster-robuust"] = sens
    cells = {c: footer(sub) for c, sub in columns.items()}
    for i, kenmerk in enumerate(("Methode", "Gebeurtenissen per parameter (EPV)", "Aantal in de analyse (weggelaten)")):
        row = {c: "" for c in rows[0]} if rows else {}
        row.update({"Kenmerk": kenmerk, **{c: v[i] for c, v in cells.items()}})
        rows.append(row)
    return pd.DataFrame(rows)


def forest_figure(model: pd.DataFrame, s: dict | None = None):
    """Forest plot of the main model: covariates in study.yaml order, then the sites.

    Rows that could not be estimated are left out; a note under the figure names them with the
    Dutch reason (``reach.model.not_estimable_nl``), and says when the model was fitted with
    Firth's correction. With more than ``per_site_detail_max`` sites the site terms are left out
    of the figure (they stay in ``reach_model.csv``) and the title says how many sites the model
    adjusts for.
    """
    import matplotlib.pyplot as plt

    s = spec() if s is None else s
    main = model[model["model"] == MODEL_MAIN].reset_index(drop=True)
    if main.empty:
        raise ValueError("forest_figure: no rows of the main model; pass the output of reach_model.")
    n_sites = int((main["covariate"] == "site").sum()) + 1  # the reference site has no row
    title = "Wie wordt bereikt? Gecorrigeerd voor krachtpunt"
    if not per_site_detail(n_sites, s):
        # with many sites the site terms are in reach_model.csv only: hundreds of rows are unreadable
        main = main[main["covariate"] != "site"].reset_index(drop=True)
        title = f"{title} ({n_sites} krachtpunten; hun odds ratio's staan in de tabel)"
    shown = main[main["not_estimable"] == ""].reset_index(drop=True)
    left_out = main[main["not_estimable"] != ""]
    notes = [f"{lab}: {_not_estimable_nl(why, s)}" for lab, why in zip(left_out["label"], left_out["not_estimable"])]
    note = ("Niet getoond: " + "; ".join(notes)) if notes else ""
    if (shown["method"] == models.FIRTH).any():
        note = "Firth-correctie wegens scheiding (profielintervallen). " + note
    xlabel = "Odds ratio op bereikt worden (95%-BI, log-schaal)"
    if shown.empty:
        fig, ax = plt.subplots(figsize=(7.0, 2.0), layout="constrained")
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(0.5, 0.5, _wrap("Geen odds ratio te schatten. " + note, 90), ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
        return fig
    fig = models.forest_plot(
        shown, list(shown["label"]),
        annotations=[fmt.estimate_ci(a, b, c) for a, b, c in zip(shown["odds_ratio"], shown["ci_low"], shown["ci_high"])],
        xlabel=xlabel, title=title,
    )
    if note:  # under the axis, laid out by constrained layout so it is never cut off
        fig.supxlabel(_wrap(note, 110), fontsize=8, ha="center")
    # forest_plot's 1-1.5-2-3-5-7 ticks collide below 1 at this width: powers of 2 instead, or of
    # 10 for the wide intervals of a small or separated model (powers of 2 would collide there)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    if hi / lo <= 2.0 ** 8:
        _log2_ticks(ax, lo, hi)
    else:
        from matplotlib.ticker import FixedLocator, NullLocator

        decades = [e for e in range(-6, 7) if lo <= 10.0 ** e <= hi]
        step = -(-len(decades) // 3)  # at most 3 labelled ticks: the axis is narrow beside long labels
        ax.xaxis.set_major_locator(FixedLocator([10.0 ** e for e in decades if e % step == 0]))
        ax.xaxis.set_minor_locator(NullLocator())
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


# ----------------------------------------------------------------------------------------------
# CBS comparison
# ----------------------------------------------------------------------------------------------
def _reason_nl(note: str, s: dict) -> str:
    for prefix, nl in s["cbs"].get("reasons_nl", {}).items():
        if str(note).startswith(prefix):
            return nl
    return str(note)


def _comparisons(s: dict) -> dict:
    return {k: v for k, v in s["cbs"].items() if isinstance(v, Mapping) and "levels" in v}


def cbs_shares(reference: pd.DataFrame, sites: Sequence[str], s: dict | None = None, cb=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Population shares per site and compared level from the CBS reference file.

    Parameters
    ----------
    reference : pandas.DataFrame
        :func:`analysis.cbs.read_reference` (long: region_code, variable, value, year, ...).
    sites : sequence of str
        Site codes; each site's region is its ``cbs_region`` (study.yaml or generated sites),
        unless the comparison names a fixed ``region`` (the national loneliness figures).

    Returns
    -------
    shares : pandas.DataFrame
        ``site``, ``variable``, ``level``, ``region_code``, ``region_name``, ``cbs_variable``,
        ``year``, ``table_id``, ``value``, ``population_share`` (the level's value over the sum
        of the compared levels' values), ``population`` (who the figure covers, study.yaml),
        ``reference_is_estimate`` (a survey estimate rather than a register count), ``caveat``.
    missing : pandas.DataFrame
        One row per site and variable for which no year has a figure for every compared level:
        ``site``, ``variable``, ``region_code``, ``cbs_variables``, ``reason`` (the reference
        file's notes, verbatim, ``;``-joined).

    Notes
    -----
    The year used is the latest in which CBS has a figure for every compared level, so the
    shares never mix years (Oss: age 2019, gender 2024). A figure is never filled in or
    carried over from another region.

    Examples
    --------
    >>> from analysis import cbs
    >>> sh, miss = cbs_shares(cbs.read_reference(), ["DH"])
    >>> sh.query("variable == 'gender'")[["level", "value", "population_share"]].round(4)  # doctest: +NORMALIZE_WHITESPACE
      level    value  population_share
    0   man  39060.0            0.5057
    1 vrouw  38185.0            0.4943
    >>> sorted(miss["variable"])
    ['age_group', 'household', 'origin']
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    rows, missing = [], []
    site_caveats = s["cbs"].get("site_caveats", {})
    # the reference rows of each region found once (a filter of the whole file per site and
    # variable took seconds for 300 sites); row order within a region is the file's
    by_region = dict(tuple(reference.groupby("region_code", sort=False)))
    no_rows = reference.iloc[:0]

    @functools.cache  # many sites share a region: look each region and variable up once
    def figures(region: str, var: str):
        cbs_vars = list(_comparisons(s)[var]["levels"].values())
        ref = by_region.get(region, no_rows)
        ref = ref[ref["variable"].isin(cbs_vars)]
        have = ref[ref["value"].notna()]
        years = [y for y, g in have.groupby("year") if set(cbs_vars) <= set(g["variable"])]
        if not years:
            notes = [n for n in ref.loc[ref["value"].isna(), "note"].drop_duplicates() if n]
            return None, "; ".join(notes) if notes else f"no figures for {', '.join(cbs_vars)} in the reference file for region {region}"
        g = have[have["year"] == max(years)].set_index("variable")
        total = float(g.loc[cbs_vars, "value"].sum())
        return [{"region_name": g.loc[cv, "region_name"], "cbs_variable": cv, "year": int(max(years)),
                 "table_id": g.loc[cv, "table_id"], "value": float(g.loc[cv, "value"]),
                 "population_share": float(g.loc[cv, "value"]) / total} for cv in cbs_vars], None

    for site in sites:
        region_site = cb.sites.get(site, {}).get("cbs_region")
        for var, comp in _comparisons(s).items():
            region = comp.get("region", region_site)
            cbs_vars = list(comp["levels"].values())
            if region is None:
                missing.append({"site": site, "variable": var, "region_code": "", "cbs_variables": ";".join(cbs_vars),
                                "reason": f"site {site} has no cbs_region in analysis/study.yaml"})
                continue
            found, reason = figures(region, var)
            if found is None:
                missing.append({"site": site, "variable": var, "region_code": region,
                                "cbs_variables": ";".join(cbs_vars), "reason": reason})
                continue
            caveat = " ".join(x for x in (comp.get("caveat", ""), "" if "region" in comp else site_caveats.get(site, "")) if x)
            extra = {"population": comp.get("population", ""),
                     "reference_is_estimate": bool(comp.get("reference_is_estimate", False)), "caveat": caveat}
            for level, fig in zip(comp["levels"], found):
                rows.append({"site": site, "variable": var, "level": level, "region_code": region, **fig, **extra})
    shares = pd.DataFrame(rows, columns=["site", "variable", "level", "region_code", "region_name", "cbs_variable",
                                         "year", "table_id", "value", "population_share", "population",
                                         "reference_is_estimate", "caveat"])
    missing = pd.DataFrame(missing, columns=["site", "variable", "region_code", "cbs_variables", "reason"])
    return shares, missing


def representation(reach: pd.DataFrame, reference: pd.DataFrame, s: dict | None = None, cb=None,
                   sites: Sequence[str] | None = None) -> pd.DataFrame:
    """Representation ratios of visitors (reached) against the CBS population, per site.

    Returns
    -------
    pandas.DataFrame
        See ``reach_representation.csv`` in the module docstring; only site x variable pairs
        for which CBS has a figure for every compared level (see :func:`not_compared`). A site
        of ``sites`` (notebook 02: :func:`expected_sites`) that delivered no forms keeps its
        rows, with n = 0, no ratio and ``not_estimable`` = :func:`no_forms_reason`; ``not_estimable``
        is empty on every other row (a site with forms but no visitor with a compared answer has
        no rows, as before).

    Notes
    -----
    The visitors' shares are taken over the compared levels only, like the population shares:
    for gender over men and women (CBS registers no other answer), for age over 25 and older
    (CBS's 15-24 band includes 15-17-year-olds, who were not surveyed). The interval is
    :func:`analysis.stats.proportions.representation_ratio`: the Wilson interval of the visitor
    share over the CBS share, treated as known. CBS and survey years differ (the year is in the
    table); for De Pitstop the reference is the gemeente Oss, not a wijk.

    Adults with adults where the reference allows it: age from 25 up (the CBS bands 25-44,
    45-64, 65+). Where it does not, ``population`` and ``caveat`` say so: CBS's gender counts
    (``Mannen_6``, ``Vrouwen_7``) are of all inhabitants, children included, and the reference
    file has no adult count by gender. The loneliness bands are a national survey estimate
    (CBS 2022, 15+; ``reference_is_estimate``): its own sampling error is not in the reference
    file, so the interval shown ignores it and is too narrow (the caveat says so).

    Examples
    --------
    Forty women and sixty men among 100 visitors of Delfshaven, where CBS counts 38,185
    women and 39,060 men: ratio for women 0.40 / (38185 / 77245) = 0.8092.

    >>> import pandas as pd
    >>> from analysis import cbs
    >>> df = pd.DataFrame({"site": ["DH"] * 102, "reached": [True] * 102,
    ...                    "gender": ["vrouw"] * 40 + ["man"] * 60 + ["anders"] * 2})
    >>> r = representation(df, cbs.read_reference())
    >>> r[["level", "n", "k", "ratio", "n_excluded"]].round(4)  # doctest: +NORMALIZE_WHITESPACE
      level    n   k   ratio  n_excluded
    0   man  100  60  1.1866           2
    1 vrouw  100  40  0.8092           2
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    d = prepare(reach, s, cb)
    visitors = d[d[s["group"]]]
    empty = _no_forms(reach, sites)
    sites = _site_order(d["site"], cb, sites)
    shares, _ = cbs_shares(reference, sites, s, cb)
    by_site = dict(tuple(visitors.groupby("site", sort=False, observed=True)))  # once, not per site x variable
    no_visitors = visitors.iloc[:0]
    blocks, ks, ns, extra = [], [], [], []
    for (site, var), g in shares.groupby(["site", "variable"], sort=False):
        if var not in visitors.columns:
            continue
        x = by_site.get(site, no_visitors)[var].astype(object)
        levels = list(g["level"])
        known = x.notna()
        inside = x.isin(levels)
        n = int(inside.sum())
        if n == 0 and site not in empty:
            continue
        counts = x[inside].value_counts()
        blocks.append(g)
        ks.extend(int(counts.get(lv, 0)) for lv in levels)
        ns.extend([n] * len(levels))
        extra.append((site, var, len(levels), int((known & ~inside).sum()), int((~known).sum())))
    cols = ["site", "site_label", "variable", "variable_label", "level", "level_label", "region_code", "region_name",
            "cbs_variable", "year", "table_id", "n", "k", "share", "population_share", "ratio", "ci_low", "ci_high",
            "n_excluded", "n_missing", "population", "reference_is_estimate", "caveat", "not_estimable"]
    if not blocks:
        return pd.DataFrame(columns=cols)
    g = pd.concat(blocks, ignore_index=True)
    # one call for every site and variable (elementwise, so the same numbers as a call per block);
    # the rows of a site without forms (n = 0) stay NaN
    ns_, ks_ = np.asarray(ns, dtype="int64"), np.asarray(ks, dtype="int64")
    pos = ns_ > 0
    rr = pd.DataFrame({c: np.full(len(ns_), np.nan) for c in ("share", "ratio", "ci_low", "ci_high")})
    rr["n"], rr["k"] = ns_, ks_
    rr["population_share"] = g["population_share"].to_numpy(dtype=float)
    if pos.any():
        part = proportions.representation_ratio(ks_[pos], ns_[pos], g["population_share"].to_numpy()[pos])
        for c in ("share", "population_share", "ratio", "ci_low", "ci_high"):
            rr.loc[pos, c] = part[c].to_numpy()
    reps = [e[2] for e in extra]
    sites_, vars_ = np.repeat([e[0] for e in extra], reps), np.repeat([e[1] for e in extra], reps)
    site_labels = {x: _site_label(x, cb) for x in dict.fromkeys(sites_)}
    var_labels = {v: _var_label(v, s, cb) for v in dict.fromkeys(vars_)}
    level_labels = {v: _level_labels(v, s, cb) for v in var_labels}
    res = pd.DataFrame({
        "site": sites_.astype(object), "site_label": [site_labels[x] for x in sites_], "variable": vars_.astype(object),
        "variable_label": [var_labels[v] for v in vars_], "level": g["level"].to_numpy(),
        "level_label": [level_labels[v].get(lv, lv) for v, lv in zip(vars_, g["level"])],
        "region_code": g["region_code"].to_numpy(), "region_name": g["region_name"].to_numpy(),
        "cbs_variable": g["cbs_variable"].to_numpy(), "year": g["year"].to_numpy(), "table_id": g["table_id"].to_numpy(),
    })
    for col in ("n", "k", "share", "population_share", "ratio", "ci_low", "ci_high"):
        res[col] = rr[col].to_numpy()
    res["n_excluded"] = np.repeat([e[3] for e in extra], reps)
    res["n_missing"] = np.repeat([e[4] for e in extra], reps)
    res["population"] = g["population"].to_numpy()
    res["reference_is_estimate"] = g["reference_is_estimate"].to_numpy().astype(bool)
    res["caveat"] = g["caveat"].to_numpy()
    res["not_estimable"] = [no_forms_reason(x) if x in empty else "" for x in sites_]
    return res[cols]


def not_compared(reference: pd.DataFrame, sites: Sequence[str], s: dict | None = None, cb=None) -> pd.DataFrame:
    """Which CBS comparisons could not be made, per site, and why.

    Two kinds of rows: a whole variable for which CBS has no figure for the site's region (the
    reason is the reference file's own ``note``), and a level that cannot be compared exactly
    although CBS has a figure near it (``not_compared`` in study.yaml, e.g. 18-24 years).

    Examples
    --------
    >>> from analysis import cbs
    >>> t = not_compared(cbs.read_reference(), ["PS"])
    >>> t[["variable", "level"]].fillna("").values.tolist()
    [['age_group', '18_24'], ['origin', ''], ['household', '']]
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    _, missing = cbs_shares(reference, sites, s, cb)
    hits = dict(tuple(missing.groupby(["site", "variable"], sort=False)))
    rows = []
    for site in sites:
        region_site = cb.sites.get(site, {}).get("cbs_region", "")
        for var, comp in _comparisons(s).items():
            hit = hits.get((site, var), missing.iloc[:0])
            base = {"site": site, "site_label": _site_label(site, cb), "variable": var,
                    "variable_label": _var_label(var, s, cb)}
            if len(hit):
                h = hit.iloc[0]
                rows.append({**base, "level": np.nan, "level_label": np.nan, "region_code": h["region_code"],
                             "cbs_variables": h["cbs_variables"], "reason": h["reason"],
                             "reason_nl": _reason_nl(h["reason"], s)})
                continue
            labels = _level_labels(var, s, cb)
            for level, why in comp.get("not_compared", {}).items():
                rows.append({**base, "level": level, "level_label": labels.get(level, level),
                             "region_code": comp.get("region", region_site),
                             "cbs_variables": ";".join(comp["levels"].values()), "reason": why, "reason_nl": why})
    return pd.DataFrame(rows, columns=["site", "site_label", "variable", "variable_label", "level", "level_label",
                                       "region_code", "cbs_variables", "reason", "reason_nl"])


def r_indicators(reach: pd.DataFrame, s: dict | None = None, cb=None, sites: Sequence[str] | None = None) -> pd.DataFrame:
    """R-indicator of reach (Schouten, Cobben & Bethlehem 2009) per site and pooled.

    ``sites`` (notebook 02: :func:`expected_sites`): every one gets a row; one without forms
    has n = 0 and ``not_estimable`` = :func:`no_forms_reason`. Default: the sites in the data.

    Notes
    -----
    "Response" is being reached, among the residents who filled in the reach questionnaire;
    the propensities come from a main-effects logistic model on the auxiliaries of study.yaml
    ``reach.r_indicator`` (age group and gender: the variables for which a population
    comparison exists at all). Answers outside the listed levels (gender "anders", "zeg ik
    liever niet") are set to missing and their rows left out (``n_dropped``): a handful of them
    per site would be (quasi-)separated. The pooled value uses the same auxiliaries, not the
    site, so it describes how evenly the pooled sample is reached by age and gender. An
    R-indicator is only comparable between models with the same auxiliaries.

    Each value has a percentile bootstrap interval (study.yaml ``reach.r_indicator``:
    ``bootstrap_resamples`` resamples of the respondents, each refitting the propensity model,
    seed ``analysis.seed``), so that sites are compared with their uncertainty. A site whose
    model cannot be fitted (everyone or no one reached, separation) gets NaN and the reason in
    ``not_estimable``; see :func:`analysis.stats.representativeness.r_indicator_fit`.
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    d = prepare(reach, s, cb)
    aux = s["r_indicator"]["auxiliaries"]
    for var, levels in aux.items():
        x = d[var].astype(object)
        d[var] = pd.Categorical(x.where(x.isin(levels)), categories=list(levels))
    cfg = s["r_indicator"]
    rows = []
    empty = _no_forms(reach, sites)
    for site, sub in _blocks(d, cb, sites=sites):
        r = representativeness.r_indicator_fit(sub, s["group"], list(aux), n_boot=int(cfg.get("bootstrap_resamples", 0)),
                                               seed=int(s["seed"]), max_failed_share=float(cfg.get("max_failed_share", 0.1)))
        if site in empty:
            r["not_estimable"] = no_forms_reason(site)
        elif r["not_estimable"].iloc[0]:
            r["not_estimable"] = f"{r['not_estimable'].iloc[0]} at {'all sites' if site == ALL else site}"
        r.insert(0, "site", site)
        r.insert(1, "site_label", _site_label(site, cb))
        rows.append(r)
    return pd.concat(rows, ignore_index=True)


# ----------------------------------------------------------------------------------------------
# reasons, would-like, channels
# ----------------------------------------------------------------------------------------------
def _multi_by_site(data: pd.DataFrame, columns: dict, cb, who: str, sites: Sequence[str] | None = None,
                   no_forms: set = frozenset()) -> pd.DataFrame:
    """:func:`analysis.stats.proportions.multiselect_shares` per site (study order) and pooled.

    The pooled block is the library call itself (which also checks the option columns); the
    per-site blocks are the same counts from one groupby, because a call per site took ~40 ms
    (seconds for a national monitor of 300 sites). Every site of ``sites`` gets rows (n = 0
    without data); those in ``no_forms`` (sites without reach forms) get :func:`no_forms_reason`.
    """
    cols = list(columns)
    pooled = proportions.multiselect_shares(data, cols)
    opts = data[cols].astype("boolean")
    answered = opts.notna().all(axis=1)
    flags = opts.fillna(False).astype("int64")
    flags = flags.mul(answered.astype("int64"), axis=0)
    flags["_n"], flags["_n_missing"] = answered.astype("int64"), (~answered).astype("int64")
    per = _by_site_then_all(flags, data["site"], cb, sites).drop(index=ALL)
    n_sites, n_opts = len(per), len(cols)
    k = per[cols].to_numpy().ravel()
    n = np.repeat(per["_n"].to_numpy(), n_opts)
    sites = pd.DataFrame({"site": np.repeat(per.index.to_numpy(dtype=object), n_opts),
                          "option": np.tile(np.array(cols, dtype=object), n_sites), "n": n, "k": k,
                          **_wilson_or_nan(k, n), "n_missing": np.repeat(per["_n_missing"].to_numpy(), n_opts)})
    pooled.insert(0, "site", ALL)
    out = pd.concat([sites, pooled], ignore_index=True)
    out["option"] = out["option"].map(columns)
    # nobody to count (no non-visitors at a site, no proxy reports): a row with a reason, not an error
    out["not_estimable"] = [no_forms_reason(x) if x in no_forms else
                            f"too few respondents (n = 0 {who} answered) at {'all sites' if x == ALL else x}"
                            if k == 0 else "" for x, k in zip(out["site"], out["n"])]
    return out


def reasons(reach: pd.DataFrame, proxy: pd.DataFrame, s: dict | None = None, cb=None,
            sites: Sequence[str] | None = None) -> pd.DataFrame:
    """Reasons for not coming: non-visitors themselves and proxy reports, per site, Wilson CIs.

    ``sites`` (notebook 02: :func:`expected_sites`): every one gets rows in both sources (n = 0
    without data); a site without reach forms has :func:`no_forms_reason` on its non-visitor
    rows (its proxy reports are a file of their own and are counted as usual).

    Non-visitors are the respondents not reached (the reasons question is asked when they
    never visited); proxy reports are what visitors say about people they know who do not
    come. The two sources answer the same list, so their shares can be set side by side, but
    they describe different people: proxies choose whom they report on.

    Examples
    --------
    >>> import pandas as pd
    >>> cols = list(codebook_mod.load().multi_columns("reasons"))
    >>> nv = pd.DataFrame({"site": ["DH"] * 2, "reached": [False, False],
    ...                    **{c: [c.endswith("taal"), False] for c in cols}})
    >>> px = pd.DataFrame({"site": ["DH"], **{c: [c.endswith("taal")] for c in cols}})
    >>> r = reasons(nv, px)
    >>> r.query("site == 'DH' and option == 'taal'")[["source", "n", "k", "share"]]  # doctest: +NORMALIZE_WHITESPACE
             source  n  k  share
    7  non_visitors  2  1    0.5
    27        proxy  1  1    1.0
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    cols = cb.multi_columns("reasons")
    labels = cb.labels("reasons", "nl")
    non = reach[reach[s["group"]].notna() & ~reach[s["group"]].astype("boolean").fillna(True)]
    a = _multi_by_site(non, cols, cb, "non-visitors", sites, _no_forms(reach, sites))
    a.insert(1, "source", "non_visitors")
    b = _multi_by_site(proxy, cols, cb, "proxy reporters", sites)
    b.insert(1, "source", "proxy")
    out = pd.concat([a, b], ignore_index=True)
    out.insert(1, "site_label", out["site"].map({x: _site_label(x, cb) for x in out["site"].unique()}))
    out.insert(3, "source_label", out["source"].map(SOURCES))
    out.insert(5, "label", out["option"].map(labels))
    return out


def would_like(proxy: pd.DataFrame, s: dict | None = None, cb=None, sites: Sequence[str] | None = None) -> pd.DataFrame:
    """Whether, according to the proxy, the person would like to come; per site, Wilson CIs.

    ``sites``: every one gets rows (n = 0 and a reason where there are no proxy reports).

    Examples
    --------
    >>> import pandas as pd
    >>> px = pd.DataFrame({"site": ["DH"] * 4, "would_like": ["ja", "ja", "nee", None]})
    >>> would_like(px).query("site == 'DH'")[["level", "n", "k", "share", "n_missing"]]
           level  n  k     share  n_missing
    0         ja  3  2  0.666667          1
    1        nee  3  1  0.333333          1
    2  weet_niet  3  0  0.000000          1
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    codes = cb.codes("would_like")
    labels = cb.labels("would_like", "nl")
    x = proxy["would_like"]
    flags = pd.DataFrame({**{c: x.eq(c).fillna(False).astype(bool).to_numpy() for c in codes}, "_n": x.notna().to_numpy(),
                          "_n_missing": x.isna().to_numpy()}, index=proxy.index)
    per = _by_site_then_all(flags, proxy["site"], cb, sites)  # one groupby, not a loop over sites
    n_codes = len(codes)
    k, n = per[codes].to_numpy().ravel(), np.repeat(per["_n"].to_numpy(), n_codes)
    ci = pd.DataFrame({"n": n, "k": k, **_wilson_or_nan(k, n)})  # NaN where nobody answered
    ci.insert(0, "site", np.repeat(per.index.to_numpy(dtype=object), n_codes))
    ci.insert(1, "site_label", ci["site"].map({x: _site_label(x, cb) for x in per.index}))
    ci.insert(2, "level", codes * len(per))
    ci.insert(3, "label", [labels[c] for c in codes] * len(per))
    ci["n_missing"] = np.repeat(per["_n_missing"].to_numpy(), n_codes)
    ci["not_estimable"] = [f"too few respondents (n = 0 proxy reports with an answer) at {'all sites' if x == ALL else x}"
                           if m == 0 else "" for x, m in zip(ci["site"], ci["n"])]
    return ci[["site", "site_label", "level", "label", "n", "k", "share", "ci_low", "ci_high", "n_missing",
               "not_estimable"]]


def heard(reach: pd.DataFrame, s: dict | None = None, cb=None, sites: Sequence[str] | None = None) -> pd.DataFrame:
    """How visitors (reached) heard of the krachtpunt, per site, with Wilson CIs (aim 2).

    ``sites`` (notebook 02: :func:`expected_sites`): every one gets rows; one without forms has
    n = 0 and :func:`no_forms_reason`.
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    cols = cb.multi_columns("heard")
    visitors = reach[reach[s["group"]].astype("boolean").fillna(False)]
    out = _multi_by_site(visitors, cols, cb, "visitors", sites, _no_forms(reach, sites))
    out.insert(1, "site_label", out["site"].map({x: _site_label(x, cb) for x in out["site"].unique()}))
    out.insert(3, "label", out["option"].map(cb.labels("heard", "nl")))
    return out


# ----------------------------------------------------------------------------------------------
# figures
# ----------------------------------------------------------------------------------------------
def _log2_ticks(ax, lo: float, hi: float) -> None:
    """Ticks at powers of 2 (0,25 0,5 1 2 4): evenly spaced on a log axis, so they never collide."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    ticks = [2.0 ** e for e in range(-6, 7) if lo <= 2.0 ** e <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}".replace(".", ",")))


def _empty_figure(title: str, text: str):
    """A small figure that says in words why there is nothing to draw (the report still finds it)."""
    import textwrap

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 1.8), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, textwrap.fill(text, 80), ha="center", va="center", fontsize=10)
    fig.suptitle(title)
    return fig


#: Panel-title note of a site that delivered no forms (its rows carry :func:`no_forms_reason`).
NO_FORMS_NL = "geen formulieren ontvangen"


def _no_forms_sites(table: pd.DataFrame) -> set:
    """Sites whose rows say they delivered no forms (``not_estimable`` starts with :data:`NO_FORMS`)."""
    if "not_estimable" not in table.columns or table.empty:
        return set()
    flagged = table["not_estimable"].fillna("").astype(str).str.startswith(NO_FORMS)
    return set(table.loc[flagged, "site"])


def _shown(k, n, m) -> bool:
    """A point is drawn unless it rests on 1 to m-1 people or is hidden ("<5"/"x", STUDY.md section 9).

    The figures are drawn from the published (suppressed) tables, so a hidden share is never drawn.

    >>> _shown(12, 40, 5), _shown(3, 40, 5), _shown("x", 40, 5), _shown(12, "<5", 5)
    (True, False, False, False)
    """
    if isinstance(k, str) or isinstance(n, str):
        return False
    return not (1 <= k < m or 1 <= n < m)


def _mark_of(*values) -> str:
    """The mark drawn in place of a hidden point: the published mark, "<5" by default."""
    marks = [v for v in values if isinstance(v, str) and v]
    return "x" if marks and all(v == disclosure.SECONDARY for v in marks) else "<5"


def _share_panels(table: pd.DataFrame, series: list[tuple[str, str, str]], title: str, xlabel: str, s: dict):
    """Horizontal dot plot with Wilson CIs, one panel per site, options sorted by pooled share.

    With more than ``per_site_detail_max`` sites only the pooled panel is drawn (and the title
    says so): hundreds of small panels are unreadable and slow to draw.
    """
    import matplotlib.pyplot as plt

    m = s["min_cell"]
    n_sites = int((table["site"].drop_duplicates() != ALL).sum())
    if not per_site_detail(n_sites, s):
        table = table[table["site"] == ALL]
        title = f"{title}\nalle {n_sites} krachtpunten samen (meer dan {s['per_site_detail_max']}: geen panelen per krachtpunt)"
    sites = list(table["site"].drop_duplicates())
    pooled = table[(table["site"] == ALL) & (table[series[0][0]] == series[0][1])] if series[0][0] else table[table["site"] == ALL]
    order = list(pooled.assign(_s=pd.to_numeric(pooled["share"], errors="coerce"))
                 .sort_values("_s", ascending=True, kind="stable")["option"])
    labels = table.drop_duplicates("option").set_index("option")["label"]
    names = table.drop_duplicates("site").set_index("site")["site_label"]
    ncol = min(len(sites), 2)
    nrow = int(np.ceil(len(sites) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol + 1.5, 0.32 * len(order) * nrow + 1.3 * nrow),
                             sharex=True, sharey=True, layout="constrained", squeeze=False)
    offsets = np.linspace(-0.18, 0.18, len(series)) if len(series) > 1 else [0.0]
    y = {opt: i for i, opt in enumerate(order)}
    no_forms = _no_forms_sites(table)
    for ax, site in zip(axes.ravel(), sites):
        blk = table[table["site"] == site]
        for (col, val, name), off, marker, colour in zip(series, offsets, ["o", "s"], ["#1f4e79", "#c55a11"]):
            part = blk[blk[col] == val] if col else blk
            for _, r in part.iterrows():
                yy = y[r["option"]] + off
                if not isinstance(r["n"], str) and r["n"] == 0:  # nobody to count: nothing to draw
                    continue
                if _shown(r["k"], r["n"], m) and not isinstance(r["share"], str):
                    ax.hlines(yy, float(r["ci_low"]), float(r["ci_high"]), color=colour, linewidth=1.2)
                    ax.plot(float(r["share"]), yy, marker, color=colour, markersize=4.5)
                else:
                    ax.text(0.005, yy, _mark_of(r["k"], r["n"], r["share"]).replace("<5", f"<{m}"), color=colour,
                            fontsize=7, va="center")
        ax.set_title(f"{names[site]}\n({NO_FORMS_NL})" if site in no_forms else names[site], fontsize=10)
        ax.set_xlim(0, 1)
        ax.grid(axis="x", color="0.9")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes.ravel()[len(sites):]:
        ax.set_visible(False)
    first = axes.ravel()[0]
    first.set_yticks(range(len(order)), [labels[o] for o in order])
    first.set_ylim(-0.6, len(order) - 0.4)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v * 100:.0f}%"))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, marker=mk, markersize=4.5, label=name)
               for (_, _, name), mk, c in zip(series, ["o", "s"], ["#1f4e79", "#c55a11"])] if len(series) > 1 else []
    fig.legend(handles=handles, loc="outside lower center", ncol=max(len(handles), 1), frameon=False,
               title=f"<{m}: aantal 1 tot {m - 1}, niet getoond; x: verborgen zodat geen <{m} terug te rekenen is",
               title_fontsize=9)
    fig.suptitle(title)
    return fig


def reasons_figure(table: pd.DataFrame, s: dict | None = None):
    """Reasons for not coming per site: non-visitors and proxy reports side by side."""
    s = spec() if s is None else s
    return _share_panels(table, [("source", "non_visitors", SOURCES["non_visitors"]), ("source", "proxy", SOURCES["proxy"])],
                         "Redenen om niet te komen (aandeel met 95%-BI)", "aandeel dat de reden noemt", s)


def heard_figure(table: pd.DataFrame, s: dict | None = None):
    """How visitors heard of the krachtpunt, per site."""
    s = spec() if s is None else s
    return _share_panels(table, [("", None, "bezoekers")], "Hoe bezoekers van het krachtpunt hoorden (aandeel met 95%-BI)",
                         "aandeel bezoekers", s)


def representation_figure(table: pd.DataFrame, s: dict | None = None):
    """Representation ratios with 95% CIs on a log axis; one panel per site, stacked, shared axis.

    Rows in table order (variables as in study.yaml ``reach.cbs``); ratios resting on 1-4
    visitors are not drawn but marked "<5". With more than ``per_site_detail_max`` sites (the
    comparison is per site: there is no pooled CBS population) only that many sites are drawn,
    those with the most visitors compared (largest ``n``), and the title says so.
    """
    import matplotlib.pyplot as plt

    s = spec() if s is None else s
    m = s["min_cell"]
    if table.empty:  # no visitor with a comparable answer, or no CBS figure: say so in the figure
        return _empty_figure("Bezoekers vergeleken met de bevolking (CBS)",
                             "Geen vergelijking mogelijk: geen bezoekers met een antwoord dat met een CBS-cijfer "
                             "te vergelijken is (zie de tabel met niet gemaakte vergelijkingen).")
    sites = list(table["site"].drop_duplicates())
    title = "Bezoekers vergeleken met de bevolking (CBS)"
    limit = int(s["per_site_detail_max"])
    if not per_site_detail(len(sites), s):
        size = pd.to_numeric(table["n"], errors="coerce").groupby(table["site"], sort=False).max()
        top = set(size.sort_values(ascending=False, kind="stable").index[:limit])
        title = f"{title}: de {limit} krachtpunten met de meeste bezoekers (van {len(sites)})"
        sites = [x for x in sites if x in top]
        table = table[table["site"].isin(top)]
    no_forms = _no_forms_sites(table)
    sizes = [1 if x in no_forms else int((table["site"] == x).sum()) for x in sites]  # a site without forms: one line
    fig, axes = plt.subplots(len(sites), 1, figsize=(7.5, 0.34 * sum(sizes) + 0.75 * len(sites) + 1.0),
                             sharex=True, layout="constrained", squeeze=False,
                             gridspec_kw={"height_ratios": sizes})
    shown = table[[_shown(k, n, m) and n > 0 and not isinstance(r, str)
                   for k, n, r in zip(table["k"], table["n"], table["ratio"])]]  # n = 0: no forms
    shown = shown.assign(**{c: pd.to_numeric(shown[c]) for c in ("ratio", "ci_low", "ci_high")})
    positive = shown["ci_low"][shown["ci_low"] > 0]  # a share of 0 has bound 0: no place on a log axis
    lo = min(positive.min() if len(positive) else 1.0, 1.0) / 1.25
    hi = max(shown["ci_high"].max() if shown["ci_high"].notna().any() else 1.0, 1.0) * 1.25
    fixed = {v for v, c in _comparisons(s).items() if "region" in c}  # national, not the site's region
    for ax, site in zip(axes[:, 0], sites):
        blk = table[table["site"] == site].reset_index(drop=True)
        if site in no_forms:
            ax.set_xscale("log")
            ax.set_xlim(lo, hi)
            ax.axis("off")
            ax.text(0.5, 0.5, f"{blk['site_label'].iloc[0]}: {NO_FORMS_NL}, geen vergelijking", transform=ax.transAxes,
                    ha="center", va="center", fontsize=9)
            continue
        y = np.arange(len(blk))[::-1]
        ax.axvline(1.0, color="0.4", linestyle="--", linewidth=1)
        for yy, (_, r) in zip(y, blk.iterrows()):
            if not isinstance(r["n"], str) and r["n"] == 0:
                ax.text(1.0, yy, " –", fontsize=8, va="center")
            elif _shown(r["k"], r["n"], m) and not isinstance(r["ratio"], str):
                ax.hlines(yy, float(r["ci_low"]), float(r["ci_high"]), color="0.15", linewidth=1.4)
                ax.plot(float(r["ratio"]), yy, "s", color="0.15", markersize=5)
            else:
                ax.text(1.0, yy, " " + _mark_of(r["k"], r["n"], r["ratio"]).replace("<5", f"<{m}"), fontsize=8,
                        va="center")
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        _log2_ticks(ax, lo, hi)
        # short labels ("Eenzaamheid: matig eenzaam (2-4)*"); the asterisk is explained below the axis
        ax.set_yticks(y, [f"{vl.split(' (')[0]}: {ll}{'*' if v in fixed else ''}"
                          for v, vl, ll in zip(blk["variable"], blk["variable_label"], blk["level_label"])])
        ax.tick_params(axis="y", length=0, labelsize=9)
        ax.set_ylim(-0.6, len(blk) - 0.4)
        ax.set_title(f"{blk['site_label'].iloc[0]}", fontsize=10, loc="left")
        ax.grid(axis="x", color="0.92")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    note = "\n* vergeleken met het landelijke CBS-cijfer, niet met de wijk" if fixed else ""
    drawn = [ax for ax, x in zip(axes[:, 0], sites) if x not in no_forms] or [axes[-1, 0]]
    drawn[-1].tick_params(axis="x", labelbottom=True)
    drawn[-1].set_xlabel("representatieratio: aandeel onder bezoekers / aandeel in de bevolking (95%-BI)" + note)
    fig.suptitle(f"{title}\n1 = even vaak als in de bevolking; boven 1 oververtegenwoordigd",
                 fontsize=11)
    return fig


# ----------------------------------------------------------------------------------------------
# what could not be computed
# ----------------------------------------------------------------------------------------------
NOT_ESTIMABLE_COLUMNS = ["table", "site", "site_label", "what", "reason", "reason_nl"]


def not_estimable_table(table1: pd.DataFrame | None = None, r_ind: pd.DataFrame | None = None,
                        reasons_table: pd.DataFrame | None = None, would: pd.DataFrame | None = None,
                        heard_table: pd.DataFrame | None = None, model: pd.DataFrame | None = None,
                        s: dict | None = None) -> pd.DataFrame:
    """One row per statistic of stage 02 that could not be computed, with the reason (English and Dutch).

    Collected from the ``not_estimable`` columns of the results tables (``reach_not_estimable.csv``):
    ``table`` (Dutch name of the table), ``site``, ``site_label``, ``what`` (Dutch: which
    statistic), ``reason`` (the table's own reason, verbatim) and ``reason_nl`` (its key in
    Dutch, study.yaml ``reach.not_estimable_nl``). :func:`not_estimable_text` turns it into the
    sentence notebook 02 and the report show. Tables without that column (an older model
    table) contribute nothing. A site that delivered no forms (:func:`no_forms_reason`) gets
    one row per table (``what`` = ``alle cijfers``), not one per variable or option.

    Examples
    --------
    >>> import pandas as pd
    >>> ri = pd.DataFrame({"site": ["PS"], "site_label": ["De Pitstop"], "r_indicator": [float("nan")],
    ...                    "not_estimable": ["empty group: no one with reached = 0 among 3 at PS"]})
    >>> not_estimable_table(r_ind=ri)[["table", "what", "reason_nl"]]
             table       what   reason_nl
    0  R-indicator  de waarde  lege groep
    """
    s = spec() if s is None else s
    rows = []
    said = set()  # (table, site) of the sites without forms already named

    def add(table, site, label, what, reason, part=""):
        reason_nl = not_estimable_nl(reason, s)
        if str(reason).startswith(NO_FORMS):
            if (table, site, part) in said:
                return
            said.add((table, site, part))
            what, reason_nl = f"alle cijfers{part}", f"{reason_nl}: {NO_FORMS_NL}"  # part: " van <source>"
        rows.append({"table": table, "site": site, "site_label": label, "what": what, "reason": reason,
                     "reason_nl": reason_nl})

    def flagged(t):
        if t is None or "not_estimable" not in t.columns:
            return pd.DataFrame(columns=["site", "variable", "source", "model", "r_indicator"])
        return t[t["not_estimable"].fillna("").astype(str) != ""]

    t1 = flagged(table1)
    for (site, _var), g in ([] if t1.empty else t1.groupby(["site", "variable"], sort=False)):
        r = g.iloc[0]
        what = f"toets voor {r['variable_label']}" if pd.isna(r["p"]) else f"SMD voor {r['variable_label']}"
        add("Tabel 1", site, r["site_label"], what, r["not_estimable"])
    mdl = flagged(model)
    for _, r in mdl.iterrows():
        if "model" in mdl.columns and r["model"] != MODEL_MAIN:
            continue
        add("Logistische regressie", ALL, s["all_sites_label"], f"odds ratio {r.get('label', r.get('term', ''))}",
            r["not_estimable"])
    for _, r in flagged(r_ind).iterrows():
        what = "de waarde" if pd.isna(r["r_indicator"]) else "het betrouwbaarheidsinterval"
        add("R-indicator", r["site"], r["site_label"], what, r["not_estimable"])
    for name, t, what in (("Redenen om niet te komen", reasons_table, "redenen"),
                          ("Zou graag komen (proxy)", would, "zou graag komen"),
                          ("Hoe bezoekers ervan hoorden", heard_table, "kanalen")):
        f = flagged(t)
        keys = ["site", "source"] if "source" in f.columns else ["site"]
        for key, g in ([] if f.empty else f.groupby(keys, sort=False)):
            r = g.iloc[0]
            label = f"{what} ({r['source_label']})" if "source" in keys else what
            part = f" van {str(r['source_label']).split(' (')[0]}" if "source" in keys else ""
            add(name, r["site"], r["site_label"], label, r["not_estimable"], part)
    return pd.DataFrame(rows, columns=NOT_ESTIMABLE_COLUMNS)


def not_estimable_text(table: pd.DataFrame, max_sites: int = 5) -> str:
    """Dutch sentence(s) saying what in stage 02 could not be computed, from :func:`not_estimable_table`.

    Grouped by table and reason; at most ``max_sites`` sites are named per group (then "en N
    andere"), so the sentence stays readable for a national monitor. Sites that delivered no
    forms come first, in one sentence that names the tables they are empty in.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame([{"table": "Tabel 1", "site": "PS", "site_label": "De Pitstop", "what": "toets voor Geslacht",
    ...                    "reason": "empty group: ...", "reason_nl": "lege groep"}])
    >>> not_estimable_text(t)
    'Niet alles kon worden berekend. Tabel 1: toets voor Geslacht bij De Pitstop (lege groep).'
    >>> not_estimable_text(t.iloc[:0])
    'Alle statistieken van het bereik konden worden berekend.'
    >>> lh = {"site": "LH", "site_label": "Wijkatelier Lindenholt", "reason": "empty group: no forms from LH",
    ...       "reason_nl": "lege groep: geen formulieren ontvangen"}
    >>> not_estimable_text(pd.DataFrame([{**lh, "table": "Tabel 1", "what": "alle cijfers"},
    ...                                  {**lh, "table": "R-indicator", "what": "alle cijfers"}]))
    'Niet alles kon worden berekend. Van Wijkatelier Lindenholt zijn geen formulieren (lege groep), dus geen cijfers in: Tabel 1 en R-indicator.'
    """
    if table is None or table.empty:
        return "Alle statistieken van het bereik konden worden berekend."
    parts = []
    empty = table["reason"].fillna("").astype(str).str.startswith(NO_FORMS)
    if empty.any():
        for sites_, g in table[empty].groupby("site_label", sort=False):
            tables = [f"{tb} ({w[len('alle cijfers '):]})" if w != "alle cijfers" else tb
                      for tb, w in zip(g["table"], g["what"])]
            listed = ", ".join(tables[:-1]) + " en " + tables[-1] if len(tables) > 1 else tables[0]
            parts.append(f"Van {sites_} zijn geen formulieren (lege groep), dus geen cijfers in: {listed}.")
        table = table[~empty]
    for tname, tg in table.groupby("table", sort=False):
        items = []
        for (what, why), g in tg.groupby(["what", "reason_nl"], sort=False):
            sites = list(dict.fromkeys(g["site_label"]))
            named = ", ".join(sites[:max_sites]) + (f" en {len(sites) - max_sites} andere" if len(sites) > max_sites else "")
            items.append(f"{what} bij {named} ({why})")
        parts.append(f"{tname}: {'; '.join(items)}.")
    return "Niet alles kon worden berekend. " + " ".join(parts)


# ----------------------------------------------------------------------------------------------
# headline numbers
# ----------------------------------------------------------------------------------------------
def summary(counts: pd.DataFrame, model: pd.DataFrame, r_ind: pd.DataFrame, reasons_table: pd.DataFrame,
            would: pd.DataFrame, s: dict | None = None) -> pd.DataFrame:
    """Headline numbers for the report's text, one row per number (``key``, ``value``, ``label``).

    The internal column ``count`` (the number of people the value rests on) lets :func:`suppress`
    blank values resting on 1-4 people; it is dropped from the published table.
    """
    s = spec() if s is None else s
    rows = []

    def add(key, value, label, count=None):
        rows.append({"key": key, "value": value, "label": label, "count": count})

    for _, c in counts.iterrows():
        where = "alle krachtpunten" if c["site"] == ALL else c["site_label"]
        add(f"n_respondents_{c['site']}", int(c["n"]), f"Aantal respondenten, {where}", int(c["n"]))
        add(f"n_reached_{c['site']}", int(c["k"]), f"Aantal bereikt (minstens 1 bezoek in 6 maanden), {where}", int(c["k"]))
        add(f"pct_reached_{c['site']}", 100 * c["share"], f"Percentage bereikt, {where}", int(c["k"]))
        add(f"pct_reached_{c['site']}_ci_low", 100 * c["ci_low"], f"Percentage bereikt, ondergrens 95%-BI, {where}", int(c["k"]))
        add(f"pct_reached_{c['site']}_ci_high", 100 * c["ci_high"], f"Percentage bereikt, bovengrens 95%-BI, {where}", int(c["k"]))
    main = model[(model["model"] == MODEL_MAIN) & (model["covariate"] != "site")]
    # the model may be (partly) not estimable: its rows then carry NaN and a reason (B1's
    # reach_model); the keys stay, with NaN values, so the report's text can say so
    n_used = pd.to_numeric(main["n_used"]).iloc[0] if len(main) else np.nan
    n_dropped = pd.to_numeric(main["n_dropped"]).iloc[0] if len(main) else np.nan
    add("model_n_used", n_used, "Aantal respondenten in het logistische model (volledige gegevens)",
        None if pd.isna(n_used) else int(n_used))
    add("model_n_dropped", n_dropped, "Aantal respondenten weggelaten uit het model (ontbrekende gegevens)",
        None if pd.isna(n_dropped) else int(n_dropped))
    if "not_estimable" in main.columns:
        bad = main["not_estimable"].fillna("").astype(str) != ""
        add("model_n_not_estimable", int(bad.sum()), "Aantal odds ratio's dat niet te schatten was")
    for _, r in main.iterrows():
        add(f"or_{r['term']}", r["odds_ratio"], f"Odds ratio bereikt: {r['label']}")
        add(f"or_{r['term']}_ci_low", r["ci_low"], f"Odds ratio bereikt, ondergrens 95%-BI: {r['label']}")
        add(f"or_{r['term']}_ci_high", r["ci_high"], f"Odds ratio bereikt, bovengrens 95%-BI: {r['label']}")
        add(f"p_{r['term']}", r["p"], f"p-waarde (Wald): {r['label']}")
    strongest = main[pd.to_numeric(main["log_or"]).notna()]  # an OR that is not estimable is never "strongest"
    strongest = strongest.assign(_abs=pd.to_numeric(strongest["log_or"]).abs()).sort_values("_abs", ascending=False, kind="stable")
    for i, (_, r) in enumerate(strongest.head(int(s["model"].get("strongest", 2))).iterrows(), start=1):
        add(f"strongest_{i}_or", r["odds_ratio"], f"Sterkste samenhang nr. {i} (odds ratio): {r['label']}")
        add(f"strongest_{i}_ci_low", r["ci_low"], f"Sterkste samenhang nr. {i}, ondergrens 95%-BI: {r['label']}")
        add(f"strongest_{i}_ci_high", r["ci_high"], f"Sterkste samenhang nr. {i}, bovengrens 95%-BI: {r['label']}")
    for _, r in r_ind.iterrows():
        where = "alle krachtpunten" if r["site"] == ALL else r["site_label"]
        add(f"r_indicator_{r['site']}", r["r_indicator"], f"R-indicator van het bereik ({r['model']}), {where}")
        if "ci_low" in r.index:
            add(f"r_indicator_{r['site']}_ci_low", r["ci_low"], f"R-indicator, ondergrens 95%-BI (bootstrap), {where}")
            add(f"r_indicator_{r['site']}_ci_high", r["ci_high"], f"R-indicator, bovengrens 95%-BI (bootstrap), {where}")
    non = reasons_table[(reasons_table["source"] == "non_visitors") & (reasons_table["site"] == ALL)]
    prx = reasons_table[(reasons_table["source"] == "proxy") & (reasons_table["site"] == ALL)]
    # the keys are always there (the report's text reads them): NaN, and "geen" as the reason's
    # label, when nobody answered (a site without non-visitors, no proxy reports)
    for key, part, who in (("non_visitors", non, "door niet-bezoekers"), ("proxy", prx, "volgens bezoekers (proxy)")):
        n_key = "n_non_visitors_all" if key == "non_visitors" else "n_proxy_all"
        n_label = ("Aantal niet-bezoekers dat redenen gaf, alle krachtpunten" if key == "non_visitors"
                   else "Aantal meldingen over niet-bezoekers (proxy), alle krachtpunten")
        n = int(part["n"].iloc[0]) if len(part) else 0
        add(n_key, n, n_label, n)
        answered = part[part["share"].notna()] if len(part) else part
        if len(answered):
            top = answered.sort_values("share", ascending=False, kind="stable").iloc[0]
            add(f"top_reason_{key}_pct", 100 * top["share"], f"Meest genoemde reden {who} (%): {top['label']}", int(top["k"]))
        else:
            add(f"top_reason_{key}_pct", np.nan, f"Meest genoemde reden {who} (%): geen (niemand gaf een reden)")
    w = would[(would["site"] == ALL) & (would["level"] == "ja")]
    has_w = bool(len(w)) and bool(w["share"].notna().any())  # an empty table may lack the columns
    add("would_like_yes_pct_all", 100 * w["share"].iloc[0] if has_w else np.nan,
        "Percentage meldingen waarin de persoon volgens de bezoeker graag zou willen komen",
        int(w["k"].iloc[0]) if has_w else None)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# suppression and writing
# ----------------------------------------------------------------------------------------------
_SHARE = ["share", "ci_low", "ci_high"]
#: Per results table: the count columns and the columns derived from each (fmt.suppress_small_cells).
SUPPRESSION: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "reach_counts": (["n", "k", "n_missing"], {"n": _SHARE, "k": _SHARE}),
    "reach_model": (["n_used", "n_dropped", "n_events"], {}),
    "reach_representation": (["n", "k", "n_excluded", "n_missing"],
                             {"n": _SHARE + ["ratio"], "k": _SHARE + ["ratio"]}),
    "reach_r_indicator": (["n", "n_dropped"], {}),
    "reach_reasons": (["n", "k", "n_missing"], {"n": _SHARE, "k": _SHARE}),
    "reach_would_like": (["n", "k", "n_missing"], {"n": _SHARE, "k": _SHARE}),
    "reach_heard": (["n", "k", "n_missing"], {"n": _SHARE, "k": _SHARE}),
    # formatted or count-free tables: suppression happens while formatting, or is not needed
    "reach_table1_display": ([], {}),
    "reach_model_display": ([], {}),
    "reach_cbs_not_compared": ([], {}),
    "reach_not_estimable": ([], {}),
}


def suppress(frame: pd.DataFrame, name: str, s: dict | None = None) -> pd.DataFrame:
    """The publishable version of results table ``name``: counts 1-4 and what derives from them "<5".

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"site": ["DH", "LH"], "n": [20, 20], "k": [3, 12], "share": [0.15, 0.6],
    ...                   "ci_low": [0.05, 0.39], "ci_high": [0.36, 0.78], "n_missing": [0, 0]})
    >>> suppress(t, "reach_heard")[["k", "share"]]
        k share
    0  <5    <5
    1  12   0.6
    """
    s = spec() if s is None else s
    m = s["min_cell"]
    if name == "reach_table1":
        cat = frame["type"] == "categorical"
        a = fmt.suppress_small_cells(frame[cat], ["n"], m, derived={"n": ["pct"]})
        b = fmt.suppress_small_cells(frame[~cat], ["n", "n_missing"], m,
                                     derived={"n": ["mean", "sd", "median", "q1", "q3"]})
        return pd.concat([a, b]).loc[frame.index]
    if name == "reach_summary":
        out = frame.copy()
        out["value"] = out["value"].astype(object)
        small = out["count"].notna() & (pd.to_numeric(out["count"]) >= 1) & (pd.to_numeric(out["count"]) < m)
        out.loc[small, "value"] = f"<{m}"
        return out.drop(columns="count")
    if name not in SUPPRESSION:
        raise ValueError(f"suppress: no suppression rule for {name!r}; add it to reach.SUPPRESSION.")
    counts, derived = SUPPRESSION[name]
    if not counts:
        return frame.copy()
    out = fmt.suppress_small_cells(frame, counts, m, derived=derived)
    if name == "reach_model" and "events_per_parameter" in frame:
        # EPV = min(events, non-events) / parameters: it gives the rarer count away when that is 1-4
        used, events = pd.to_numeric(frame["n_used"], errors="coerce"), pd.to_numeric(frame["n_events"], errors="coerce")
        rarer = np.minimum(events, used - events)
        small = (rarer >= 1) & (rarer < m)
        out["events_per_parameter"] = out["events_per_parameter"].astype(object)
        out.loc[small, "events_per_parameter"] = f"<{m}"
    return out


def publish(frame: pd.DataFrame, name: str, out: str | os.PathLike | None = None, s: dict | None = None) -> Path:
    """Write ``name`` unsuppressed to ``internal/`` and primary-suppressed to ``results/``; return the latter.

    One table alone and primary suppression only (:func:`suppress`): no protection against
    recovery from totals or other tables. Notebook 02 uses :func:`publish_all`.
    """
    if not name.startswith("reach_"):
        raise ValueError(f"publish: notebook 02 writes reach_* tables only (pipeline.yaml), not {name!r}.")
    s = spec() if s is None else s
    internal = frame.drop(columns="count") if name == "reach_summary" else frame
    results.write_result(internal, name, out, internal=True)
    return results.write_result(suppress(frame, name, s), name, out)


def save_figure(fig, name: str, out: str | os.PathLike | None = None) -> Path:
    """Save a reach figure (``reach_*``) with the synthetic-data note when applicable, and close it."""
    import matplotlib.pyplot as plt

    if not name.startswith("reach_"):
        raise ValueError(f"save_figure: notebook 02 writes reach_* figures only, not {name!r}.")
    path = results.save_figure(fig, name, out)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# disclosure control: every published count in one ledger, secondary suppression (issue 17)
# ----------------------------------------------------------------------------------------------
#: ``site`` of the shared keys (``("reached", site)``...) for all sites pooled: the key
#: convention shared with the other stages (analysis/stats/disclosure.py).
KEY_ALL = "alle"
#: ``group`` of Table 1 (as read back from CSV) -> the name used in keys.
_GROUP_KEY = {"True": "reached", "False": "not_reached", "overall": "total"}
#: Derived values hidden when any of their counts is hidden ("any", shares, CIs, ratios) or only
#: when one is under min_cell ("small": means, SDs and quartiles of a group of 1-4 people).
_STATS = ["mean", "sd", "median", "q1", "q3"]
_CONTINUOUS_NL = ("gemiddelde (SD)", "mediaan [IQR]")


def _sk(site) -> str:
    """Site of a shared key: the site code, or :data:`KEY_ALL` for the pooled rows."""
    return KEY_ALL if site == ALL else str(site)


def _published_count(value, k: int):
    """A published count of a tidy table as a whole number, a mark ("<5"/"x"), or None (none shown).

    Reads the tables as built (numbers) and as written to CSV and read back (numbers, "440.0",
    or marks); the formatted cells of the display tables go through :func:`_display_count`.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        t = value.strip()
        if disclosure.is_mark(t, k):
            return t
        try:
            value = float(t)
        except ValueError:
            return None
    f = float(value)
    return int(round(f)) if np.isfinite(f) and f == round(f) and f >= 0 else None


def _display_count(text, k: int):
    """The count of a formatted cell: "1.234 (34,5%)", "440 (11)" (the part before the bracket), "<5"."""
    if not isinstance(text, str):
        return _published_count(text, k)
    t = text.strip()
    if disclosure.is_mark(t, k):
        return t
    head = t.split(" (")[0].replace(".", "")
    return int(head) if head.isdigit() else None


class _Cells:
    """Collects the published counts of the reach tables, where each is shown, and the relations.

    Relations are kept until :meth:`ledger`, which adds those whose cells are all known: a
    relation with an unpublished cell (a table not given) tells the attacker little beyond
    the marks' bounds and is left out.
    """

    def __init__(self, k: int):
        self.k = k
        self.led = disclosure.Ledger(min_cell=k)
        self.pos: dict = {}        # (table, row, column, part) -> key; part None = the whole cell
        self.derived: list = []    # (table, row, column, keys, rule)
        self.shares: list = []     # (share value, k key, n key, scale) for the attacker's implied counts
        self.rels: list = []
        self.t1: dict = {}         # (site, variable_label, continuous) -> {level_label: set of groups}
        self.fixed: set = set()    # cells published by notebook 01 (never chosen here)
        self.withheld: set = set()  # cells not published at all (see protect_tables)
        self.withheld_pos: dict = {}

    def add(self, key, value, kind, table=None, row=None, col=None, label="", part=None):
        if key in self.withheld:
            if table is not None:
                self.withheld_pos[(table, row, col, part)] = key
            return None
        v = _published_count(value, self.k)
        if v is None:
            return None
        self.led.add(key, v, kind, f"{table}: {label}, {col}" if table else "afgeleid (niet gepubliceerd)")
        if table is not None:
            self.pos[(table, row, col, part)] = key
        return key

    def value(self, key):
        return self.led.values.get(key)

    def number(self, key):
        v = self.value(key)
        return None if v is None or isinstance(v, str) else v

    def total(self, total, parts):
        terms = {total: 1.0}
        for p in parts:
            terms[p] = terms.get(p, 0.0) - 1.0
        self.rels.append(terms)

    def derive(self, table, row, col, keys, rule="any"):
        self.derived.append((table, row, col, list(keys), rule))

    def ledger(self):
        """The ledger: published cells, relations (unpublished cells eliminated), implied counts."""
        for terms in _eliminate(self.rels, set(self.led.values)):
            self.led.relation(terms)
        for share, k_key, n_key, scale in self.shares:  # the attacker's counts implied by a share
            kv, nv = self.value(k_key), self.value(n_key)
            if isinstance(share, str) or pd.isna(share) or kv is None or nv is None:
                continue
            if isinstance(kv, str) and not isinstance(nv, str):
                target, implied = k_key, float(share) * nv / scale
            elif isinstance(nv, str) and not isinstance(kv, str) and float(share) > 0:
                target, implied = n_key, kv * scale / float(share)
            else:
                continue
            if abs(implied - round(implied)) < 1e-6:  # unrounded shares of the tidy tables only
                key = ("implied", target)
                self.led.add(key, int(round(implied)), "cell", "uit een aandeel naast een bekend aantal")
                self.led.relation({key: 1.0, target: -1.0})
        return self.led


def _eliminate(relations: list, known: set) -> list:
    """The relations with every unpublished cell eliminated (substituted out), not dropped.

    A count that no table given shows (the not-reached count when only reach_counts is given, a
    model's non-events, a withheld pooled cell) is an unknown to the attacker, but the relations
    through it still bind the published cells: ``a = u + b`` and ``u = c + d`` give ``a = b +
    c + d``. Each unknown is solved from one relation and substituted into the others (its
    bound u >= 0 is the only thing lost).

    >>> [sorted(r.items()) for r in _eliminate([{"a": 1.0, "u": -1.0, "b": -1.0}, {"u": 1.0, "c": -1.0, "d": -1.0}],
    ...                                        {"a", "b", "c", "d"})]
    [[('a', 1.0), ('b', -1.0), ('c', -1.0), ('d', -1.0)]]
    """
    rels = [dict(r) for r in relations]
    free = sorted({k for r in rels for k in r if k not in known}, key=repr)
    for f in free:
        with_f = [i for i, r in enumerate(rels) if f in r]
        if not with_f:
            continue
        pivot = rels[min(with_f, key=lambda i: len(rels[i]))]
        cp = pivot[f]
        rest = []
        for r in rels:
            if r is pivot:
                continue
            if f in r:
                c = r.pop(f) / cp
                for k, v in pivot.items():
                    if k != f:
                        r[k] = r.get(k, 0.0) - c * v
                        if abs(r[k]) < 1e-9:
                            del r[k]
            rest.append(r)
        rels = rest
    return [r for r in rels if len(r) >= 2]


def _sites_sum(cells: _Cells, sites: list, key_of) -> None:
    """The pooled cell is the sum of the site cells (``key_of(site)`` -> key)."""
    parts = [s for s in sites if s != ALL]
    if ALL in sites and parts:
        cells.total(key_of(ALL), [key_of(s) for s in parts])


def _group_n(site, g):
    return {"reached": ("reached", _sk(site)), "not_reached": ("not_reached", _sk(site)),
            "total": ("reach_counts", site, "n")}[g]


def _t1_key(site, var_label, level_label, g):
    return ("reach_table1", site, var_label, level_label, g)


def _ledger_counts(cells: _Cells, t: pd.DataFrame, name: str) -> None:
    sites = list(t["site"])
    for i, r in t.iterrows():
        site, lab = r["site"], f"{r['site']}"
        n = cells.add(("reach_counts", site, "n"), r["n"], "headline", name, i, "n", lab)
        cells.add(("reached", _sk(site)), r["k"], "headline", name, i, "k", lab)
        nm = cells.add(("reach_counts", site, "n_missing"), r["n_missing"], "unknown", name, i, "n_missing", lab)
        nv, mv = cells.number(n), cells.number(nm)
        if nv is not None and mv is not None:
            cells.add(("respondents", _sk(site)), nv + mv, "headline")
        cells.fixed.add(("respondents", _sk(site)))  # cleaning_flow.csv (notebook 01) shows it
        cells.total(("reach_counts", site, "n"), [("reached", _sk(site)), ("not_reached", _sk(site))])
        cells.total(("respondents", _sk(site)), [("reach_counts", site, "n"), ("reach_counts", site, "n_missing")])
        for c in _SHARE:
            cells.derive(name, i, c, [("reached", _sk(site)), ("reach_counts", site, "n")])
        cells.shares.append((r["share"], ("reached", _sk(site)), ("reach_counts", site, "n"), 1.0))
    for key_of in (lambda x: ("reach_counts", x, "n"), lambda x: ("reached", _sk(x)),
                   lambda x: ("not_reached", _sk(x)), lambda x: ("reach_counts", x, "n_missing"),
                   lambda x: ("respondents", _sk(x))):
        _sites_sum(cells, sites, key_of)


def _t1_register(cells: _Cells, site, var_label, level_label, g, continuous: bool) -> None:
    cells.t1.setdefault((site, var_label, continuous), {}).setdefault(level_label, set()).add(g)


def _ledger_table1(cells: _Cells, t: pd.DataFrame, name: str, s: dict) -> None:
    miss = s["missing_label"]
    for i, r in t.iterrows():
        site, g = r["site"], _GROUP_KEY[str(r["group"])]
        vl = r["variable_label"]
        if r["type"] == "categorical":
            ll = r["level_label"]
            kind = "unknown" if r["level"] == MISSING else "total" if g == "total" else "cell"
            key = cells.add(_t1_key(site, vl, ll, g), r["n"], kind, name, i, "n", f"{site} {vl} {ll} {g}")
            _t1_register(cells, site, vl, ll, g, False)
            cells.derive(name, i, "pct", [key or _t1_key(site, vl, ll, g), _group_n(site, g)])
            cells.shares.append((r["pct"], _t1_key(site, vl, ll, g), _group_n(site, g), 100.0))
        else:
            key = _t1_key(site, vl, "waarde", g)
            cells.add(key, r["n"], "total" if g == "total" else "cell", name, i, "n", f"{site} {vl} {g}")
            cells.add(_t1_key(site, vl, miss, g), r["n_missing"], "unknown", name, i, "n_missing", f"{site} {vl} {g}")
            _t1_register(cells, site, vl, "waarde", g, True)
            _t1_register(cells, site, vl, miss, g, True)
            for c in _STATS:
                cells.derive(name, i, c, _stat_deps(t["site"].unique(), site, vl, g), "small")


def _stat_deps(sites, site, var_label, g) -> list:
    """Counts whose being 1-4 hides the mean, SD and quartiles of one Table 1 cell.

    The group's own count first; the Totaal column also the reached and not-reached counts, and
    the pooled block the sites' counts: the total's mean and a site's mean beside the other
    groups' means and counts would otherwise give the small group's mean back.
    """
    deps = [_t1_key(site, var_label, "waarde", g)]
    if g == "total":
        deps += [_t1_key(site, var_label, "waarde", x) for x in ("reached", "not_reached")]
    if site == ALL:
        for x in sites:
            if x != ALL:
                deps += [_t1_key(x, var_label, "waarde", y) for y in (["reached", "not_reached", "total"]
                                                                        if g == "total" else [g])]
    return deps


def _ledger_table1_display(cells: _Cells, t: pd.DataFrame, name: str) -> None:
    cols = {"Bereikt": "reached", "Niet bereikt": "not_reached", "Totaal": "total"}
    sites = list(dict.fromkeys(t["site"]))
    for i, r in t.iterrows():
        site = r["site"]
        if r["Kenmerk"] == "Aantal respondenten":
            for col, g in cols.items():
                cells.add(_group_n(site, g), _display_count(r[col], cells.k), "headline", name, i, col,
                          f"{site} Aantal respondenten")
            continue
        vl, ll = r["Kenmerk"], r["Categorie"]
        for col, g in cols.items():
            if ll in _CONTINUOUS_NL:
                cells.derive(name, i, col, _stat_deps(sites, site, vl, g), "small")
                continue
            kind = "unknown" if ll == cells.miss else "total" if g == "total" else "cell"
            cells.add(_t1_key(site, vl, ll, g), _display_count(r[col], cells.k), kind, name, i, col, f"{site} {vl} {ll}")
            _t1_register(cells, site, vl, ll, g, False)
            cells.derive(name, i, col, [_group_n(site, g)], "drop_pct")


def _ledger_t1_relations(cells: _Cells) -> None:
    """Table 1: levels + onbekend = N per group; bereikt + niet bereikt = totaal; sites add up."""
    blocks = cells.t1
    sites = list(dict.fromkeys(site for site, _, _ in blocks))
    for (site, vl, cont), levels in blocks.items():
        for g in ("reached", "not_reached", "total"):  # levels (or value) + onbekend = the group's N
            cells.total(_group_n(site, g), [_t1_key(site, vl, ll, g) for ll in levels])
        for ll in levels:
            cells.total(_t1_key(site, vl, ll, "total"), [_t1_key(site, vl, ll, "reached"), _t1_key(site, vl, ll, "not_reached")])
    if ALL in sites and len(sites) > 1:
        for (site, vl, cont), levels in blocks.items():
            if site != ALL:
                continue
            for ll in levels:
                for g in ("reached", "not_reached", "total"):
                    cells.total(_t1_key(ALL, vl, ll, g), [_t1_key(x, vl, ll, g) for x in sites if x != ALL])


def _ledger_representation(cells: _Cells, t: pd.DataFrame, name: str, s: dict) -> None:
    miss = s["missing_label"]
    for (site, vl), blk in t.groupby(["site", "variable_label"], sort=False):
        n_key = ("reach_representation", site, vl, "n")
        x_key = ("reach_representation", site, vl, "n_excluded")
        m_key = _t1_key(site, vl, miss, "reached")  # the visitors without an answer: Table 1's onbekend
        ks = []
        for i, r in blk.iterrows():
            lab = f"{site} {vl} {r['level_label']}"
            cells.add(n_key, r["n"], "cell", name, i, "n", lab)
            k_key = _t1_key(site, vl, r["level_label"], "reached")
            cells.add(k_key, r["k"], "cell", name, i, "k", lab)
            if "n_excluded" in r.index:
                cells.add(x_key, r["n_excluded"], "cell", name, i, "n_excluded", lab)
            cells.add(m_key, r["n_missing"], "unknown", name, i, "n_missing", lab)
            ks.append(k_key)
            for c in _SHARE + ["ratio"]:
                cells.derive(name, i, c, [k_key, n_key])
            cells.shares.append((r["share"], k_key, n_key, 1.0))
        cells.total(n_key, ks)
        cells.total(("reached", _sk(site)), [n_key, x_key, m_key])
        levels = cells.t1.get((site, vl, False), {})
        compared = set(blk["level_label"])
        if levels:
            cells.total(x_key, [_t1_key(site, vl, ll, "reached") for ll in levels if ll not in compared and ll != miss])


def _ledger_r_indicator(cells: _Cells, t: pd.DataFrame, name: str) -> None:
    for i, r in t.iterrows():
        site = r["site"]
        n_key, d_key = ("reach_r_indicator", site, "n"), ("reach_r_indicator", site, "n_dropped")
        cells.add(n_key, r["n"], "cell", name, i, "n", site)
        if "N" in t.columns:
            cells.add(n_key, r["N"], "cell", name, i, "N", site)  # the sum of weights is n
        cells.add(d_key, r["n_dropped"], "unknown", name, i, "n_dropped", site)
        cells.total(("reach_counts", site, "n"), [n_key, d_key])
    sites = list(t["site"])
    for field in ("n", "n_dropped"):
        _sites_sum(cells, sites, lambda x, f=field: ("reach_r_indicator", x, f))


def _ledger_model(cells: _Cells, t: pd.DataFrame, name: str) -> None:
    for i, r in t.iterrows():
        model, left = r["model"], "" if pd.isna(r["site_left_out"]) else str(r["site_left_out"])
        base = ("reach_model", model, left)
        lab = f"{model} {left}".strip()
        u = cells.add(base + ("n_used",), r["n_used"], "cell", name, i, "n_used", lab)
        cells.add(base + ("n_dropped",), r["n_dropped"], "unknown", name, i, "n_dropped", lab)
        e = cells.add(base + ("n_events",), r["n_events"], "cell", name, i, "n_events", lab)
        _model_relations(cells, base, left, u is not None and e is not None)
        if "events_per_parameter" in t.columns:
            cells.derive(name, i, "events_per_parameter", [base + ("n_events",), base + ("n_nonevents",), base + ("n_used",)])


def _model_relations(cells: _Cells, base, left: str, both: bool) -> None:
    """n_used + n_dropped = the respondents of the fit; n_used = events + non-events."""
    cells.total(base + ("n_used",), [base + ("n_events",), base + ("n_nonevents",)])
    if left:
        cells.rels.append({base + ("n_used",): 1.0, base + ("n_dropped",): 1.0,
                           ("respondents", KEY_ALL): -1.0, ("respondents", left): 1.0})
    else:
        cells.total(("respondents", KEY_ALL), [base + ("n_used",), base + ("n_dropped",)])


def _ledger_model_display(cells: _Cells, t: pd.DataFrame, name: str, site_codes_by_label: dict) -> None:
    def base_of(col):
        if col == "OR (95%-BI)":
            return ("reach_model", MODEL_MAIN, "")
        if col == "OR (95%-BI), cluster-robuust":
            return ("reach_model", MODEL_CLUSTER, "")
        if col.startswith("OR zonder ") and col[len("OR zonder "):] in site_codes_by_label:
            return ("reach_model", MODEL_LOSO, site_codes_by_label[col[len("OR zonder "):]])
        return None

    for i, r in t.iterrows():
        if r["Kenmerk"] == "Aantal in de analyse (weggelaten)":
            for col in t.columns:
                base = base_of(col)
                text = r[col]
                if base is None or not isinstance(text, str) or " (" not in text:
                    continue
                used, dropped = text.split(" (", 1)
                dropped = dropped.rstrip(")")
                cells.add(base + ("n_used",), _display_count(used, cells.k), "cell", name, i, col, "n in de analyse", part=0)
                cells.add(base + ("n_dropped",), _display_count(dropped, cells.k), "unknown", name, i, col, "n weggelaten",
                          part=1)
                _model_relations(cells, base, base[2], False)
        elif r["Kenmerk"] == "Gebeurtenissen per parameter (EPV)":
            for col in t.columns:
                base = base_of(col)
                if base is not None and not disclosure.is_mark(r[col], cells.k):
                    cells.derive(name, i, col, [base + ("n_events",), base + ("n_nonevents",), base + ("n_used",)])


def _ledger_multi(cells: _Cells, t: pd.DataFrame, name: str, prefix: tuple, total_of, option: str, exhaustive: bool) -> None:
    """Reasons, channels and would-like: per site n (answered), k per option, n_missing."""
    sites = list(dict.fromkeys(t["site"]))
    opts = list(dict.fromkeys(t[option]))
    for i, r in t.iterrows():
        site = r["site"]
        n_key, m_key = prefix + (site, "n"), prefix + (site, "n_missing")
        k_key = prefix + (site, r[option], "k")
        lab = f"{site} {r[option]}"
        cells.add(n_key, r["n"], "cell", name, i, "n", lab)
        cells.add(k_key, r["k"], "cell", name, i, "k", lab)
        cells.add(m_key, r["n_missing"], "unknown", name, i, "n_missing", lab)
        for c in _SHARE:
            cells.derive(name, i, c, [k_key, n_key])
        cells.shares.append((r["share"], k_key, n_key, 1.0))
    for site in sites:
        n_key, m_key = prefix + (site, "n"), prefix + (site, "n_missing")
        target = total_of(site)
        nv, mv = cells.number(n_key), cells.number(m_key)
        if target == ("proxy_reports", KEY_ALL) and nv is not None and mv is not None:
            cells.add(target, nv + mv, "headline")
            cells.fixed.add(target)  # the proxy file's count is in cleaning_flow.csv
        cells.total(target, [n_key, m_key])
        if exhaustive:  # one answer each: the answers add up to n
            cells.total(n_key, [prefix + (site, o, "k") for o in opts])
    for f in ("n", "n_missing"):
        _sites_sum(cells, sites, lambda x, f=f: prefix + (x, f))
    for o in opts:
        _sites_sum(cells, sites, lambda x, o=o: prefix + (x, o, "k"))


def _summary_keys(key: str, tables: Mapping) -> tuple[list, str]:
    """The ledger cells a ``reach_summary`` row shows (``"count"``) or is derived from (``"any"``)."""
    sites = {}
    for t in tables.values():
        if "site" in t.columns:
            sites.update({str(x): x for x in t["site"]})
    for prefix, which in (("n_respondents_", "n"), ("n_reached_", "k"), ("pct_reached_", "pct")):
        if key.startswith(prefix):
            site = key[len(prefix):].removesuffix("_ci_low").removesuffix("_ci_high")
            site = ALL if site == ALL else sites.get(site, site)
            n, k = ("reach_counts", site, "n"), ("reached", _sk(site))
            return ([n] if which == "n" else [k] if which == "k" else [k, n]), ("count" if which != "pct" else "any")
    fixed = {"model_n_used": ("reach_model", MODEL_MAIN, "", "n_used"),
             "model_n_dropped": ("reach_model", MODEL_MAIN, "", "n_dropped"),
             "n_non_visitors_all": ("reach_reasons", "non_visitors", ALL, "n"),
             "n_proxy_all": ("reach_reasons", "proxy", ALL, "n")}
    if key in fixed:
        return [fixed[key]], "count"
    if key.startswith("top_reason_") and key.endswith("_pct"):
        source = key[len("top_reason_"):-len("_pct")]
        n = ("reach_reasons", source, ALL, "n")
        rs = tables.get("reach_reasons")
        if rs is not None and "share" in rs.columns:
            part = rs[(rs["source"] == source) & (rs["site"] == ALL)]
            share = pd.to_numeric(part["share"], errors="coerce")
            if share.notna().any():
                top = part.loc[share.sort_values(ascending=False, kind="stable").index[0]]
                return [("reach_reasons", source, ALL, top["option"], "k"), n], "any"
        return [n], "any"
    if key == "would_like_yes_pct_all":
        return [("reach_would_like", ALL, "ja", "k"), ("reach_would_like", ALL, "n")], "any"
    return [], ""


def _build(tables: Mapping[str, pd.DataFrame], min_cell: int, s: dict | None = None,
           withheld: set = frozenset()) -> _Cells:
    s = spec() if s is None else s
    cells = _Cells(int(min_cell))
    cells.withheld = set(withheld)
    cells.miss = s["missing_label"]
    order = ["reach_counts", "reach_table1", "reach_table1_display", "reach_representation", "reach_r_indicator",
             "reach_model", "reach_model_display", "reach_reasons", "reach_would_like", "reach_heard", "reach_summary"]
    names = [n for n in order if n in tables]
    labels = {}
    if "reach_counts" in tables:
        labels = dict(zip(tables["reach_counts"]["site_label"], tables["reach_counts"]["site"]))
    labels = {**{_site_label(x, None): x for x in _cb(None).codes("site")}, **labels}
    for name in names:
        t = tables[name]
        if t.empty:
            continue
        if name == "reach_counts":
            _ledger_counts(cells, t, name)
        elif name == "reach_table1":
            _ledger_table1(cells, t, name, s)
        elif name == "reach_table1_display":
            _ledger_table1_display(cells, t, name)
        elif name == "reach_representation":
            _ledger_representation(cells, t, name, s)
        elif name == "reach_r_indicator":
            _ledger_r_indicator(cells, t, name)
        elif name == "reach_model":
            _ledger_model(cells, t, name)
        elif name == "reach_model_display":
            _ledger_model_display(cells, t, name, labels)
        elif name == "reach_reasons":
            for source, part in t.groupby("source", sort=False):
                total_of = ((lambda x: ("not_reached", _sk(x))) if source == "non_visitors"
                            else (lambda x: ("proxy_reports", _sk(x))))
                _ledger_multi(cells, part, name, ("reach_reasons", source), total_of, "option", False)
        elif name == "reach_would_like":
            _ledger_multi(cells, t, name, ("reach_would_like",), lambda x: ("proxy_reports", _sk(x)), "level", True)
        elif name == "reach_heard":
            _ledger_multi(cells, t, name, ("reach_heard",), lambda x: ("reached", _sk(x)), "option", False)
        elif name == "reach_summary":
            for i, r in t.iterrows():
                keys, rule = _summary_keys(str(r["key"]), tables)
                if rule == "count":
                    cells.add(keys[0], r["value"], "headline", name, i, "value", str(r["key"]))
                elif rule == "any":
                    cells.derive(name, i, "value", keys)
    _ledger_t1_relations(cells)
    return cells


def ledger(tables: Mapping[str, pd.DataFrame], min_cell: int = 5) -> disclosure.Ledger:
    """Every count the published ``reach_*`` tables show, and the arithmetic that ties them.

    ``tables`` maps table names (``reach_counts``, ``reach_table1``, ``reach_table1_display``,
    ``reach_representation``, ``reach_r_indicator``, ``reach_model``, ``reach_model_display``,
    ``reach_reasons``, ``reach_would_like``, ``reach_heard``, ``reach_summary``; others are
    ignored) to frames, unsuppressed (numbers: :func:`protect_tables` protects them) or as
    published (numbers or "<5"/"x": :mod:`analysis.attack` attacks them), so the defender and
    the attacker reason from the same relations.

    The same count has the same key in every table: ``("reached", site)``,
    ``("not_reached", site)``, ``("respondents", site)`` (forms kept, as in cleaning_flow.csv;
    site :data:`KEY_ALL` for the pooled rows); a Table 1 cell is ``("reach_table1", site,
    Kenmerk, Categorie, reached|not_reached|total)`` in the tidy and the display table and is
    also the representation table's ``k`` (a visitor level) and ``n_missing`` (onbekend).
    Relations: per site and group, levels + onbekend = N; bereikt + niet bereikt = totaal; the
    pooled block is the sum of the site blocks (also for the counts, R-indicator, reasons,
    channels and would-like); representation n = the compared levels' k, n + n_excluded +
    n_missing = reached, n_excluded = the Table 1 levels not compared; R-indicator n +
    n_dropped = N; model n_used + n_dropped = the respondents (less the site left out), n_used
    = events + non-events; reasons of non-visitors n + n_missing = not reached, of proxies and
    would-like = the proxy reports; would-like answers add up to n. In the attacker's view an
    unrounded share beside a known count gives the other count (``("implied", key)``).

    Kinds (who is hidden first): onbekend and ``n_missing``/``n_dropped`` "unknown", the
    Totaal column "total", the site N's and reached/not-reached counts "headline".
    """
    return _build(tables, min_cell).ledger()


def protect_tables(tables: Mapping[str, pd.DataFrame], s: dict | None = None,
                   published: Mapping | None = None, pooled_only: Sequence[str] | None = None) -> tuple[dict, dict]:
    """The publishable version of the reach tables, protected together: ``(frames, marks)``.

    Primary suppression hides counts 1-4 ("<5"); with ``analysis.secondary_suppression`` (study.yaml)
    a zero beside a hidden cell is "<5" too and more counts are hidden ("x") until no "<5"
    can be recovered or narrowed from all the reach tables together
    (:func:`analysis.stats.disclosure.protect`, rule in its docstring). Derived values go with
    their counts: a share, its CI and a ratio are hidden when its count or its N is; a
    percentage in Table 1 when the count or the group's N is (the display cell then shows the
    count alone when only N is hidden); means, SDs and quartiles of a group of 1-4 people, and
    of its Totaal column and pooled block (which would give them back), are hidden; EPV beside
    a hidden event count; a headline number of reach_summary wherever its count is hidden.
    ``marks`` = {ledger key: "<5"|"x"}. ``published`` = marks of tables already written
    (``None`` = shown), passed on to ``protect``.

    Publishing less: the columns of :data:`INTERNAL_COLUMNS` stay in ``internal/``; the tables
    of ``pooled_only`` (default :data:`POOLED_ONLY`, Table 1 tidy and display) are published
    with their pooled block only; pass ``()`` to publish every block.
    A pooled Table 1 row whose "<5" no mark can protect is left out (``–``, :func:`_withhold_for`).
    """
    s = spec() if s is None else s
    pooled_only = POOLED_ONLY if pooled_only is None else tuple(pooled_only)
    frames = {name: _publishable_rows(name, t, pooled_only) for name, t in tables.items()}
    withheld: set = set()
    while True:
        cells = _build(frames, s["min_cell"], s, withheld)
        led = cells.ledger()
        fixed = {key: None for key in cells.fixed if key in led.values}
        fixed.update(_zeros(led))
        fixed.update(published or {})
        try:
            marks = disclosure.protect(led, secondary=bool(s.get("secondary_suppression", True)), published=fixed)
            break
        except ValueError as err:
            more = _withhold_for(err, led, withheld)
            if not more:
                raise
            withheld |= more
    return _apply_marks(frames, cells, marks, s["min_cell"]), marks


def _zeros(led) -> dict:
    """Zeros beside a "<5" (transitively) shown as "<5"; every other zero shown as 0 and never chosen.

    The engine hides a zero beside any hidden cell, also beside an "x"; here only a zero beside
    a "<5" is hidden (issue 17: "0" beside "<5" is not shown). A zero beside a count of 5 or more
    says nothing about a small cell, and hiding it too set off a cascade: each hidden zero is a
    "<5" to protect, which hides more counts, beside more zeros (the site N's and every
    ``n_missing`` of 0 ended up hidden).
    """
    k = led.min_cell
    rel_of: dict = {}
    for terms in led.relations:
        for key in terms:
            rel_of.setdefault(key, []).append(terms)
    small = {key for key, v in led.values.items() if not isinstance(v, str) and 1 <= v < k}
    hidden, todo = set(small), list(small)
    while todo:
        key = todo.pop()
        for terms in rel_of.get(key, ()):
            for other in terms:
                if other not in hidden and led.values.get(other) == 0:
                    hidden.add(other)
                    todo.append(other)
    mark = disclosure.small_mark(k)
    return {key: (mark if key in hidden else None) for key, v in led.values.items() if v == 0}


#: Tables published with their pooled rows only (``site == "all"``); the per-site rows stay in
#: ``internal/``. The report shows the pooled Table 1 only, and the per-site blocks of rare levels
#: ("anders", "onbekend", 18-24) are where nearly all small cells are: protecting them hid most
#: of each site's block (and took minutes), for a table nobody reads outside notebook 02.
POOLED_ONLY = ("reach_table1", "reach_table1_display")


#: Columns kept in ``internal/`` only: they give counts away and nobody reads them. The
#: representation's ``n_excluded`` (visitors with an answer CBS does not compare, "anders"
#: or 18-24) is reached - n - n_missing: with it published, a small ``n_excluded`` hid the
#: compared n and so every gender ratio of a site.
INTERNAL_COLUMNS = {"reach_representation": ["n_excluded"], "reach_summary": ["count"]}


def _publishable_rows(name: str, t: pd.DataFrame, pooled_only=POOLED_ONLY) -> pd.DataFrame:
    """The rows and columns of ``name`` that are published (:data:`POOLED_ONLY`, :data:`INTERNAL_COLUMNS`)."""
    drop = [c for c in INTERNAL_COLUMNS.get(name, []) if c in t.columns]
    if drop:
        t = t.drop(columns=drop)
    if name in pooled_only and "site" in t.columns:
        return t[t["site"] == ALL]
    return t


def _withhold_for(err: Exception, led, withheld: set) -> set:
    """The pooled Table 1 row to leave out when a "<5" of its level cannot be protected otherwise.

    With three sites whose cells of a level are all "<5" (at most 4 each) and a pooled row of
    5 reached and 5 not reached (shown, or "x": at least 5 each), the pooled total is at least
    10, so each site's total is at least 10 - 4 - 4 = 2: no mark can hide that. Leaving the
    pooled row of that level out (``–``) removes the bound; the relations through it stay.
    """
    hit = getattr(err, "key", None)  # disclosure.ProtectionError names the cell
    if not (isinstance(hit, tuple) and hit[:1] == ("reach_table1",) and hit in led.values):
        return set()
    row = {_t1_key(ALL, hit[2], hit[3], g) for g in ("reached", "not_reached", "total")}
    return row - withheld


def _apply_marks(frames: Mapping, cells: _Cells, marks: Mapping, k: int) -> dict:
    small = disclosure.small_mark(k)
    out = {name: t.copy() for name, t in frames.items()}
    todo: dict = {}
    for table, row, col, keys, rule in cells.derived:
        hidden = [marks[x] for x in keys if x in marks]
        if rule == "any" and hidden:
            todo[(table, row, col)] = small if small in hidden else disclosure.SECONDARY
        elif rule == "small" and small in hidden:
            todo[(table, row, col)] = small if marks.get(keys[0]) == small else disclosure.SECONDARY
        elif rule == "drop_pct" and hidden and (table, row, col) not in todo:
            text = frames[table].at[row, col]
            if isinstance(text, str) and " (" in text:
                todo[(table, row, col)] = text.split(" (")[0]
    for (table, row, col, part), key in cells.pos.items():
        if key not in marks:
            continue
        if part is None:
            todo[(table, row, col)] = marks[key]
        else:  # "440 (11)": replace one of the two counts
            text = todo.get((table, row, col), frames[table].at[row, col])
            a, b = text.split(" (", 1)
            pieces = [a, b.rstrip(")")]
            pieces[part] = marks[key]
            todo[(table, row, col)] = f"{pieces[0]} ({pieces[1]})"
    for (table, row, col, part), key in cells.withheld_pos.items():
        todo[(table, row, col)] = fmt.NA if frames[table][col].dtype == object else np.nan
    for table, row, col, keys, rule in cells.derived:
        if rule == "any" and any(x in cells.withheld for x in keys):
            todo[(table, row, col)] = np.nan
    for (table, row, col), mark in todo.items():
        t = out[table]
        if t[col].dtype != object:
            t[col] = t[col].astype(object)
        t.at[row, col] = mark
    return out


def publish_all(tables: Mapping[str, pd.DataFrame], out: str | os.PathLike | None = None,
                s: dict | None = None) -> dict:
    """Write every reach table unsuppressed to ``internal/`` and protected together to ``results/``.

    Returns the published frames by name: the ones notebook 02 displays and draws from.
    """
    s = spec() if s is None else s
    bad = [n for n in tables if not n.startswith("reach_")]
    if bad:
        raise ValueError(f"publish_all: notebook 02 writes reach_* tables only (pipeline.yaml), not {bad}.")
    pub, _ = protect_tables(tables, s)
    for name, frame in tables.items():
        internal = frame.drop(columns="count") if name == "reach_summary" and "count" in frame.columns else frame
        results.write_result(internal, name, out, internal=True)
        results.write_result(pub[name], name, out)
    return pub


def compute_all(data: ReachData, s: dict | None = None, cb=None, sites: Sequence[str] | None = None) -> dict:
    """Every results table of notebook 02, unsuppressed, by name (``publish_all`` protects them together).

    Computed before anything is published because secondary suppression looks at all of them at
    once: a count hidden in one table must be hidden wherever it appears.
    """
    s = spec() if s is None else s
    cb = _cb(cb)
    t = {}
    t["reach_counts"] = reach_counts(data.reach, s, cb, sites=sites)
    t["reach_table1"] = table1_by_site(data.reach, s, cb, sites=sites)
    t["reach_table1_display"] = table1_display(t["reach_table1"], t["reach_counts"], s)
    t["reach_model"] = reach_model(data.reach, s, cb)
    t["reach_model_display"] = model_display(t["reach_model"], s)
    t["reach_representation"] = representation(data.reach, data.reference, s, cb, sites=sites)
    t["reach_cbs_not_compared"] = not_compared(data.reference, site_codes(data.reach["site"], cb, sites), s, cb)
    t["reach_r_indicator"] = r_indicators(data.reach, s, cb, sites=sites)
    t["reach_reasons"] = reasons(data.reach, data.proxy, s, cb, sites=sites)
    t["reach_would_like"] = would_like(data.proxy, s, cb, sites=sites)
    t["reach_heard"] = heard(data.reach, s, cb, sites=sites)
    t["reach_not_estimable"] = not_estimable_table(t["reach_table1"], t["reach_r_indicator"], t["reach_reasons"],
                                                   t["reach_would_like"], t["reach_heard"], t["reach_model"], s)
    t["reach_summary"] = summary(t["reach_counts"], t["reach_model"], t["reach_r_indicator"], t["reach_reasons"],
                                 t["reach_would_like"], s)
    return t
