"""Changes in visitors' lives between T0 and T1 (STUDY.md section 6, "03 paired"; aim 4).

Reads the cleaned interview tables (:mod:`analysis.interviews`), computes every number notebook
03 and the report's chapter "Veranderingen in het leven van bezoekers" show, and writes them.
The statistics themselves are :mod:`analysis.stats.paired`; this module chooses what to compute
for which outcomes and groups, applies the publication rules, and draws the figures.

Outcome family
--------------
The 16 outcomes of ``tables.interview_pairs.outcomes`` in ``analysis/codebook.yaml`` plus
**``pg_mean``**, the mean of the six Positieve Gezondheid dimensions
(:func:`analysis.scoring.positive_health`; missing unless all six are answered). ``pg_mean`` is
not a column of the processed tables (the codebook defines none); it is computed here and
appears in the results only.

Pre-specified (``paired:`` in ``analysis/study.yaml``, read by :func:`paired_settings`): the
primary test (``primary_test``: "t" or "wilcoxon"), alpha, and the **Holm families**: Holm's
correction runs within each family (``holm_family``; today "primary" = ``djg_total`` and
``who5``, "secondary" = the other 15), separately for each analysis set (all pairs; each site;
pairs within the interval window). The headline numbers of ``paired_summary``
(``n_holm_below_alpha_<family>``, ``p_primary_holm_<outcome>``) come from the primary test
only. Also there: the paired yes/no outcomes (``binary``: lonely = De Jong Gierveld total >= 2,
poor wellbeing = WHO-5 < 50) and the Dutch reading of the not-estimable reasons.

Not estimable
-------------
Valid data of any size give every table: a statistic that cannot be computed (too few pairs,
no variation, an empty group) is NaN and its row's ``not_estimable`` column gives the reason,
starting with one of :data:`REASON_KEYS` ("" when everything in the row was computed). The
other analyses go on; :func:`not_estimable_text` writes the Dutch paragraph of notebook 03
and the report. In published tables the reason is left out of a row where a count was
suppressed: "too few pairs" beside "<5" would narrow the hidden count to one or two.

Direction: lower loneliness (De Jong Gierveld) is better; for every other outcome higher is
better (``analysis/reliability.yaml`` ``higher_is_better``; the Positieve Gezondheid dimensions
are not listed there and are scored 0 = worst to 10 = best, Huber et al. 2016). Changes are
always T1 minus T0 in the scale's own direction; ``dz_improvement`` and its interval turn the
sign so that positive means "better" for every outcome (used in the change summary figure).

Publication rules (STUDY.md section 9; ``analysis.min_cell`` = 5 in study.yaml)
------------------------------------------------------------------------------
* **Disclosure control** (issue 17; :func:`publishable`, :func:`ledger`). Every count of
  persons in every paired table is a cell of one ledger (:mod:`analysis.stats.disclosure`),
  with the same key wherever the same count appears (the pairs of a site in paired_attrition,
  paired_changes, paired_mde, paired_rci and paired_mixed_model; the persons interviewed in
  paired_themes, paired_cooccurrence and paired_summary) and the relations between them:
  interviewed at T0 = pairs + drop-outs and interviewed at T1 = pairs (per site and all);
  n_pairs + n_excluded_missing = the pairs of the analysis set; all sites = the sum of the
  sites (attrition, changes, binary margins, themes); RCI categories = n_classified; pairs =
  dated + undated = within the window + outside + undated. Counts of 1-4 are "<5" (primary
  suppression); with ``analysis.secondary_suppression`` (study.yaml) more counts are hidden as
  "x" (5 or more) until no "<5" can be recovered or narrowed from all tables together; a 0 in
  a relation with a hidden cell is "<5" too. The cheapest cells are hidden first: a missing
  count, then a total (interviewed at T0, the all-sites row), and the persons an analysis rests
  on (n_pairs per outcome) only when nothing else protects. In a tiny study where the marks
  themselves would pin a "<5", the counts involved are left empty instead (not published).
* **Statistics follow their counts.** Every statistic of a group (mean, SD, median, change,
  CI, test, p, effect size, MDE, share, lift) is published only when every count it rests on
  is; otherwise it gets the count's mark ("<5" before "x"). So a small group's mean cannot
  come back as the all-sites mean times n minus the other sites': the protection of the counts
  leaves at least two hidden groups (or a hidden total) in each sum. In a row with a hidden
  count the not-estimable reason is left out ("too few pairs" beside "<5" would narrow it).
* **Published less** (kept in ``internal/`` only): the Wilcoxon rank sums ``r_plus`` and
  ``r_minus`` (r+ + r- = m(m + 1)/2 gives the number of zero changes back); the mixed model's
  ``n_obs`` (= n_persons + n_complete_pairs); its ``n_persons`` is empty where someone in the
  model has no T0 score (only then is it not the T0 count of paired_attrition); the four cells
  of the paired 2 x 2 table of ``paired_binary`` (``n_both``, ``n_t0_only``, ``n_t1_only``,
  ``n_neither``, ``n_discordant``: with all four hidden the marks can pin one), and its McNemar
  p and interval, computed from those cells, unless every cell has at least 5 persons.
  Residual risk, not covered by the linear attack: the exact Wilcoxon p and the rank-biserial
  correlation beside n_pairs allow a search over the number of non-zero changes.
* **Per site** (about 7 interviewees, 5-7 pairs): a site's row is published when it rests on
  at least 5 pairs for that outcome; otherwise every statistic in the row is hidden. The per-site
  rows are descriptive: the minimum detectable effect at 6 pairs is about dz = 1.4, and an exact
  Wilcoxon test on 5 non-zero changes cannot reach p < 0.05 at all. The report should present
  them as description, not as evidence of differences between sites.
* **Per-site detail** only for at most ``analysis.per_site_detail_max`` sites (study.yaml, 12):
  the paired analyses per site (scope ``"site"`` of ``paired_changes`` and ``paired_mde``) and
  the per-site columns of the slope plots. With more sites (a national monitor) those rows are
  not produced -- hundreds of per-site p-values would be a multiple-testing exercise nobody
  can read, and each site still has only about 7 pairs -- and the slope plots show all sites
  pooled; :func:`site_detail_note` writes the sentence notebook 03 shows. The descriptive
  per-site tables (``paired_attrition``, ``paired_themes``) stay per site.
* Reliable change (RCI) is computed only for scales with a **verified** reliability in
  ``analysis/reliability.yaml`` -- today only WHO-5 (test-retest ICC 0.81). Every other outcome
  is listed with status "not computed: no verified reliability"; no reliability is guessed.
* Publishable tables go to ``<out>/results/``; the unsuppressed versions of the same tables
  (plus the per-person RCI) go to ``<out>/internal/`` and are never published.

Results tables (``<out>/results/<name>.csv``; same columns in ``<out>/internal/``)
-------------------------------------------------------------------------------
Numbers are unrounded; "<5" marks a suppressed count of 0-4 (or a figure resting on one), "x" a
hidden count of 5 or more (secondary suppression) or a figure resting on one. ``outcome`` is the tidy variable name,
``label`` its Dutch label, ``instrument`` one of ``djg``, ``who5``, ``pg``, ``zrm``.

``paired_changes.csv`` -- one row per analysis set x outcome:
    scope                  "all" (all pairs), "site" (one site), "interval_ok" (pairs with T1
                           4-8 months after T0; sensitivity analysis)
    site                   site code, or "alle" for scopes "all" and "interval_ok"
    outcome, label, label_short, instrument, order (display order within the family)
    higher_is_better       direction of improvement on the scale
    scale_low, scale_high  possible range of the outcome
    n_pairs                persons with the outcome at both waves
    n_excluded_missing     pairs left out because the outcome is missing at a wave
    mean_t0, sd_t0, median_t0, mean_t1, sd_t1, median_t1   over the n_pairs persons
    mean_change, sd_change                                   T1 - T0
    mean_change_ci_low, mean_change_ci_high                  95% BCa bootstrap CI
    median_change, median_change_ci_low, median_change_ci_high   95% percentile bootstrap CI
                           (BCa is undefined for the median of integer scores: its jackknife
                           acceleration is 0/0)
    median_change_ci_method  "percentile bootstrap"
    t_test, t, df, p_t     paired t-test (name of the test in t_test)
    mean_change_t_ci_low, mean_change_t_ci_high              95% t-based CI
    p_t_holm               Holm-adjusted p_t within the scope (and site) and the outcome's family
    wilcoxon_test          test name, incl. exact/approximate and zero handling
    wilcoxon_method, zero_method ("wilcox": zero changes dropped before ranking), n_zero,
    ties, r_plus, r_minus (``internal/`` only), p_wilcoxon
    p_wilcoxon_holm        Holm-adjusted p_wilcoxon within the scope (and site) and family
    holm_family            pre-specified Holm family of the outcome ("primary", "secondary")
    family_size            outcomes of that family in the analysis
    holm_m_t, holm_m_wilcoxon   p-values in the row's Holm family that could be computed
                           (the m of Holm; a test that could not be computed is left out)
    primary_test           the pre-specified primary test (name)
    p_primary, p_primary_holm, holm_m_primary   p, Holm p and m of the primary test
    dz, dz_ci_low, dz_ci_high          Cohen's dz, 95% noncentral-t CI
    dz_boot_ci_low, dz_boot_ci_high    95% BCa bootstrap CI of dz
    rank_biserial, rank_biserial_ci_low, rank_biserial_ci_high   matched-pairs r (BCa CI)
    dz_improvement, dz_improvement_ci_low, dz_improvement_ci_high   dz with the sign turned
                           so that positive = better (equal to dz when higher_is_better)
    confidence_level, ci_method (of the other bootstrap CIs: "BCa bootstrap"), n_resamples, seed
    notes                  warnings raised while computing the row (e.g. a degenerate
                           bootstrap distribution, which gives an empty CI), else ""
    not_estimable          "" or why statistics of the row are NaN (module section above)

``paired_mixed_model.csv`` -- one row per outcome (sensitivity analysis, all persons incl.
drop-outs): outcome, label, model (formula and method), term, estimate (T1 - T0), se, z, p,
ci_low, ci_high (95% Wald), df_t, p_t, ci_t_low, ci_t_high (the same with a t reference on
n_complete_pairs - 1 df, for few persons), n_obs (``internal/`` only), n_persons, n_complete_pairs, n_sites, person_variance,
residual_variance, converged, fit_warnings, not_estimable, paired_mean_change (the paired
estimate of paired_changes, scope "all", for comparison), paired_n_pairs (its pairs),
agrees_with_paired (True / False by :data:`AGREEMENT_RULE`: the paired mean change lies inside
the model's 95% CI and the two have no opposite signs; empty when either is not estimable),
agreement_rule (that rule in words).

``paired_binary.csv`` -- paired yes/no outcomes (``paired.binary`` of study.yaml), one row per
analysis set (scope, site as in paired_changes) x outcome: outcome (e.g. "lonely"), label,
variable, rule (e.g. "djg_total >= 2"), n_pairs, n_excluded_missing, n_both (yes at T0 and
T1), n_t0_only, n_t1_only (the discordant pairs), n_neither (these four and n_discordant in
``internal/`` only), n_t0, n_t1 (yes at the wave),
prop_t0, prop_t1, difference (prop_t1 - prop_t0), ci_low, ci_high (95%, Newcombe 1998 method
10), ci_method, confidence_level, n_discordant, test, p_mcnemar (exact McNemar, two-sided),
not_estimable (:mod:`analysis.stats.paired_binary`).

``paired_rci.csv`` -- reliable change (Jacobson & Truax 1991), one row per outcome x category:
    outcome, label, status ("computed" or "not computed: no verified reliability"),
    status_nl (the same in Dutch), category ("improved", "unchanged", "worse"; empty when not
    computed), category_nl (Dutch: "betrouwbaar verbeterd", "geen betrouwbare verandering" --
    a change within measurement error, not "stayed the same" -- "betrouwbaar verslechterd"),
    n, proportion (of n_classified), n_classified, n_missing, reliability,
    reliability_kind, reliability_source, higher_is_better, sd_t0 (SD of all T0 scores,
    drop-outs included), s_diff, criterion (1.96), reliable_change_threshold (smallest change
    in scale units that counts as reliable: criterion x s_diff), not_estimable (no SD of T0,
    or no pairs)

``paired_mde.csv`` -- minimum detectable effect (80% power, two-sided alpha of study.yaml,
paired t-test), one row per scope x site x outcome:
    scope, site, outcome, label, n_pairs, alpha, power,
    mde_dz (smallest dz detectable), mde_dz_holm_strictest (the same at alpha / family_size,
    the threshold Holm applies to the smallest p-value of the outcome's family), holm_family,
    family_size, sd_change (observed), mde_change (mde_dz x sd_change, in scale units),
    observed_dz, observed_mean_change, not_estimable

``paired_attrition.csv`` -- completers (T0 and T1) against drop-outs (T0 only), at T0, one row
per site ("alle" = all sites) x outcome: site, outcome, label, n_persons_completers,
n_persons_dropouts, n_completers, mean_completers, sd_completers, n_dropouts, mean_dropouts,
sd_dropouts (n, mean, SD over the non-missing T0 values), difference (drop-outs minus
completers), not_estimable (an empty group, or one person for an SD).

``paired_themes.csv`` -- how many persons mention each code, one row per wave x site ("alle"
= all sites) x code: wave, site, code_group, code, label, n_persons (persons with at least one
segment with that code in that wave's interview), n_interviewed (persons interviewed in that
wave at that site), pct_persons (100 x n_persons / n_interviewed). Internal version adds
n_segments.

``paired_cooccurrence.csv`` -- mechanisms x changes within persons at T1 (all sites), one row
per mechanism x change: mechanism, mechanism_label, change, change_label, n_both (persons whose
T1 interview has both codes), n_mechanism, n_change, n_interviewed (persons interviewed at T1),
pct_change_with_mechanism (100 x n_both / n_change), lift (n_both x n_interviewed /
(n_mechanism x n_change); 1 = as often as by chance), not_estimable (nobody interviewed, or
nobody mentioned one of the codes).

``paired_summary.csv`` -- headline numbers quoted in the report text: key, value (unrounded;
"<5" or "x" when suppressed), label (Dutch), n_basis (persons the value rests on, "<5" when few; ""
when it rests on everybody). Keys: n_persons_t0, n_persons_t1, n_pairs (visitors interviewed
twice), n_dropouts, n_sites, interval_months_mean/_min/_max (over the pairs with both dates),
n_interval_outside, n_interval_unknown (pairs without an interview date at a wave: their
interval cannot be checked, and they are not in the ``interval_ok`` scope), n_pairs_interval_ok
(the pairs of the ``interval_ok`` scope),
interval_window_low/_high, mde_dz_all, mde_dz_all_holm_primary (at alpha / the size of the
primary family), median_pairs_per_site, mde_dz_site, per outcome mean_change_<o>,
mean_change_ci_low_<o>, mean_change_ci_high_<o>, dz_<o>, p_primary_holm_<o> (primary test,
Holm within the outcome's family), mde_change_<o>; primary_test ("t" or "wilcoxon"), alpha;
per family f: n_outcomes_family_<f>, n_holm_below_alpha_<f> (outcomes of f whose primary-test
Holm p is below alpha, all pairs), n_not_tested_<f>; rci_who5_improved /
_no_reliable_change / _worse, rci_who5_threshold, n_rci_not_computed;
n_outcomes_mixed_model_judged, n_outcomes_mixed_model_agrees; per binary outcome b:
prop_t0_<b>, prop_t1_<b>, difference_<b>, ci_low_<b>, ci_high_<b>, p_mcnemar_<b>;
n_segments, n_codes_used.

(``results/interview_flow.csv`` is written by :func:`analysis.interviews.clean_all_interviews`:
file, wave, received, out_of_scope (interviews without any score, segments without a code),
kept. Its kept interviews are the persons interviewed per wave, cells of the same ledger:
:func:`run` protects it with the paired tables and writes it again, marked, with the
unsuppressed version in ``internal/``.)

Figures (``<out>/figures/``)
----------------------------
``paired_slopes_djg.png``, ``paired_slopes_who5.png``, ``paired_slopes_pg.png``,
``paired_slopes_zrm.png``: one panel per outcome (rows) and site (columns); one line per
person from T0 to T1 (no labels), coloured by better / same / worse, thicker where several
persons have the same two scores; the black line is the mean; a panel with fewer than 5
pairs shows no lines (each line is a person), a panel without pairs says so (a site where
everyone dropped out keeps its column). ``paired_change_summary.png``:
dz with its 95% CI per outcome, sign turned so that right = better, grouped by instrument and
sorted within it, with the minimum detectable effect marked; without any dz (too few pairs, no
variation) the figure says so instead.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import codebook as cbmod
from analysis import config, fmt, results
from analysis.config import per_site_detail_max
from analysis import interviews as ivmod
from analysis.scoring import positive_health
from analysis.stats import paired as ps
from analysis.stats import paired_binary as pbin
from analysis.stats import disclosure, threadwarnings

__all__ = [
    "outcome_info", "with_pg_mean", "change_table", "mixed_models", "rci_tables", "mde_table",
    "attrition_table", "theme_counts", "cooccurrence", "summary_table", "mde_text",
    "publishable", "publish_tables", "published_tables", "ledger", "headline_table", "binary_overview", "binary_table", "paired_settings", "outcome_families",
    "reason_key", "not_estimable_text", "per_site_detail_max", "analysis_scopes", "site_detail_note", "themes_overview", "cooccurrence_matrix", "plot_slopes", "plot_change_summary", "load_tables", "analyse", "run",
]

PG_DIMS = ["pg_lichaamsfuncties", "pg_mentaal_welbevinden", "pg_zingeving", "pg_kwaliteit_van_leven",
           "pg_meedoen", "pg_dagelijks_functioneren"]
#: Extra outcome of this module (not in the codebook's tables): mean of the six PG dimensions.
PG_MEAN = "pg_mean"
INSTRUMENTS = {
    "djg": "Eenzaamheid (De Jong Gierveld)",
    "who5": "Welbevinden (WHO-5)",
    "pg": "Positieve Gezondheid",
    "zrm": "Zelfredzaamheid-Matrix",
}
NOT_COMPUTED = "not computed: no verified reliability"
NOT_COMPUTED_NL = "niet berekend: geen geverifieerde betrouwbaarheid"
RCI_CRITERION = 1.96
POWER = 0.8
#: Colours: better / same / worse (blue-orange, readable for red-green colour blindness).
COLOURS = {"beter": "#2166ac", "gelijk": "#9a9a9a", "slechter": "#d6604d"}
#: The project's not-estimable keys (common convention): a reason starts with one of these.
REASON_KEYS = ("too few pairs", "too few respondents", "too few sites", "no variation", "separation",
               "empty group", "not enough events")
#: RCI categories in Dutch: the middle one is "no reliable change", not "stayed the same".
RCI_CATEGORY_NL = {"improved": "betrouwbaar verbeterd", "unchanged": "geen betrouwbare verandering",
                   "worse": "betrouwbaar verslechterd"}
#: Names of the two tests in Dutch (for the primary-test sentence).
TEST_NL = {"t": "gepaarde t-toets", "wilcoxon": "Wilcoxon-rangtekentoets"}


def paired_settings(study: dict | None = None) -> dict:
    """The ``paired:`` section of ``analysis/study.yaml``, checked (pre-specified choices).

    Returns ``primary_test`` ("t" or "wilcoxon"), ``alpha``, ``families`` (name -> list of
    outcomes, the first family is the primary one), ``families_nl``, ``binary`` (name ->
    ``variable``, ``min`` or ``below``, ``nl``), ``agreement_rule_nl`` and
    ``not_estimable_nl``. A missing or malformed entry raises ``ValueError`` naming it.

    >>> s = paired_settings()
    >>> s["primary_test"], s["families"]["primary"]
    ('t', ['djg_total', 'who5'])
    """
    cfg = (config.study() if study is None else study).get("paired")
    where = "analysis/study.yaml paired:"
    if not isinstance(cfg, dict):
        raise ValueError(f"{where} section missing: it pre-specifies the primary test, the Holm families and alpha.")
    test = cfg.get("primary_test")
    if test not in TEST_NL:
        raise ValueError(f"{where} primary_test must be 't' or 'wilcoxon', not {test!r}.")
    alpha = cfg.get("alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"{where} alpha must be a number between 0 and 1, not {alpha!r}.")
    fams = cfg.get("holm_families")
    if not isinstance(fams, dict) or not fams:
        raise ValueError(f"{where} holm_families must map a family name to its outcomes (first = primary).")
    families, families_nl = {}, {}
    for name, fam in fams.items():
        outs = fam.get("outcomes") if isinstance(fam, dict) else None
        if not isinstance(outs, list) or not outs or not all(isinstance(o, str) for o in outs):
            raise ValueError(f"{where} holm_families.{name}.outcomes must be a list of outcome names.")
        families[str(name)] = list(outs)
        families_nl[str(name)] = str(fam.get("nl", name))
    binary = cfg.get("binary") or {}
    for name, b in binary.items():
        if not isinstance(b, dict) or "variable" not in b or ("min" in b) == ("below" in b):
            raise ValueError(f"{where} binary.{name} needs a variable and exactly one of min (at least) or below.")
    nl = cfg.get("not_estimable_nl") or {}
    missing = [k for k in REASON_KEYS if k not in nl]
    if missing:
        raise ValueError(f"{where} not_estimable_nl has no Dutch reading for {missing}.")
    return {"primary_test": test, "alpha": float(alpha), "families": families, "families_nl": families_nl,
            "binary": binary, "agreement_rule_nl": str(cfg.get("agreement_rule_nl", "")),
            "not_estimable_nl": dict(nl)}


def outcome_families(info: pd.DataFrame, settings: dict | None = None) -> pd.Series:
    """Holm family of each outcome of ``info`` (index: outcome); each must be in exactly one.

    >>> outcome_families(outcome_info()).value_counts().to_dict()
    {'secondary': 15, 'primary': 2}
    """
    settings = settings or paired_settings()
    family: dict = {}
    for name, outs in settings["families"].items():
        for o in outs:
            if o in family:
                raise ValueError(f"analysis/study.yaml paired.holm_families: {o!r} is in both {family[o]!r} and {name!r}.")
            family[o] = name
    absent = [o for o in info.index if o not in family]
    if absent:
        raise ValueError(f"analysis/study.yaml paired.holm_families: outcome(s) {absent} are in no family; "
                         "add each to exactly one.")
    return pd.Series({o: family[o] for o in info.index}, name="holm_family", dtype=object)


def reason_key(reason: str) -> str:
    """The not-estimable key a reason starts with ("" for no reason); unknown text is an error.

    >>> reason_key("too few pairs (n = 2; at least 3 needed)")
    'too few pairs'
    """
    reason = "" if reason is None or (isinstance(reason, float) and np.isnan(reason)) else str(reason)
    if not reason:
        return ""
    for key in REASON_KEYS:
        if reason.startswith(key):
            return key
    raise ValueError(f"not-estimable reason {reason!r} starts with none of {list(REASON_KEYS)}")


def _join_reasons(*reasons) -> str:
    """Distinct non-empty reasons, in order, joined by "; " (each starts with its key)."""
    out = []
    for r in reasons:
        text = "" if r is None or (isinstance(r, float) and np.isnan(r)) else str(r)
        if text and text not in out:
            out.append(text)
    return "; ".join(out)


def analysis_scopes(pairs: pd.DataFrame, scopes=("all", "site", "interval_ok")) -> tuple[str, ...]:
    """``scopes`` without ``"site"`` when the pairs come from more than ``per_site_detail_max`` sites.

    >>> analysis_scopes(pd.DataFrame({"site": [f"S{i}" for i in range(13)]}))
    ('all', 'interval_ok')
    """
    if pairs["site"].nunique() > per_site_detail_max():
        return tuple(sc for sc in scopes if sc != "site")
    return tuple(scopes)


def site_detail_note(n_sites: int) -> str:
    """Dutch sentence (Markdown) for notebook 03: are the paired analyses also per site?

    >>> site_detail_note(300)[:40]
    'Er zijn 300 krachtpunten, meer dan 12: d'
    """
    limit = per_site_detail_max()
    if n_sites <= limit:
        return (f"Er {'is' if n_sites == 1 else 'zijn'} {n_sites} krachtpunt{'' if n_sites == 1 else 'en'} (niet meer dan "
                f"{limit}): de gepaarde analyses en de lijnfiguren staan ook per krachtpunt.")
    return (f"Er zijn {n_sites} krachtpunten, meer dan {limit}: de gepaarde analyses staan alleen voor alle "
            f"krachtpunten samen (en als controle voor paren binnen het tijdvenster), niet per krachtpunt. Met "
            f"een handvol paren per krachtpunt zou dat honderden toetsen opleveren die niemand kan lezen en "
            f"die vooral toevalstreffers geven. De lijnfiguren tonen alle krachtpunten samen; uitval en thema's "
            f"staan wel per krachtpunt in de tabellen.")


# --- outcomes ---------------------------------------------------------------------------------


def _instrument(outcome: str) -> str:
    for key in INSTRUMENTS:
        if outcome == key or outcome.startswith(f"{key}_"):
            return key
    raise ValueError(f"outcome {outcome!r} belongs to no known instrument {list(INSTRUMENTS)}")


def outcome_info(cb: cbmod.Codebook | None = None) -> pd.DataFrame:
    """The outcome family with labels, instrument, direction and range, in display order.

    >>> info = outcome_info()
    >>> len(info), bool(info.loc["djg_total", "higher_is_better"]), info.loc["pg_mean", "label_short"]
    (17, False, 'Gemiddelde van 6 dimensies')
    """
    cb = cb or cbmod.load()
    rel = ps.load_reliability()
    names = ivmod.outcomes(cb)
    # pg_mean right after the six dimensions it summarises
    last_pg = max(i for i, o in enumerate(names) if o.startswith("pg_"))
    names = names[: last_pg + 1] + [PG_MEAN] + names[last_pg + 1:]
    rows = []
    for i, o in enumerate(names):
        inst = _instrument(o)
        if o == PG_MEAN:
            short, (lo, hi) = "Gemiddelde van 6 dimensies", (0, 10)
        else:
            short, (lo, hi) = cb.variable(o)["nl"], cb.value_range(o)
            short = short.split(" (")[0].removeprefix("ZRM ")
            short = short[:1].upper() + short[1:]
        if inst in ("djg", "who5"):
            label = f"{short} ({lo}-{hi})"
        else:
            label = f"{INSTRUMENTS[inst]}: {short[:1].lower() + short[1:]} ({lo}-{hi})"
        if o in rel.index:
            better = bool(rel.loc[o, "higher_is_better"])
        elif inst == "pg":
            better = True  # spider web: 0 = worst, 10 = best (Huber et al. 2016)
        else:
            raise ValueError(f"direction of {o!r} unknown: add it to analysis/reliability.yaml (higher_is_better)")
        rows.append({"outcome": o, "label": label, "label_short": short, "instrument": inst, "order": i,
                     "higher_is_better": better, "scale_low": lo, "scale_high": hi})
    return pd.DataFrame(rows).set_index("outcome", drop=False)


def with_pg_mean(interviews: pd.DataFrame, pairs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Copies of the long interviews and the wide pairs with ``pg_mean`` (and its _t0/_t1/_diff).

    The mean is :func:`analysis.scoring.positive_health` (missing unless all six dimensions are
    answered; an out-of-range dimension was set to missing in cleaning).
    """
    iv = interviews.copy()
    iv[PG_MEAN] = positive_health(iv, PG_DIMS)["mean"].astype("float64")
    # every wave as a column, also when a wave (or everything) is empty
    wide = iv.pivot(index="person_id", columns="wave", values=PG_MEAN).reindex(columns=list(ivmod.WAVES))
    pr = pairs.copy()
    pr[f"{PG_MEAN}_t0"] = pr["person_id"].map(wide["T0"]).astype("float64")
    pr[f"{PG_MEAN}_t1"] = pr["person_id"].map(wide["T1"]).astype("float64")
    pr[f"{PG_MEAN}_diff"] = pr[f"{PG_MEAN}_t1"] - pr[f"{PG_MEAN}_t0"]
    return iv, pr


def _xy(frame: pd.DataFrame, outcome: str) -> tuple[pd.Series, pd.Series]:
    return (frame[f"{outcome}_t0"].astype("Float64").astype(float),
            frame[f"{outcome}_t1"].astype("Float64").astype(float))


def _settings(n_resamples, seed, alpha=None):
    """Resamples and seed (``analysis``) and alpha (pre-specified in ``paired``) of study.yaml."""
    cfg = config.study()["analysis"]
    return (int(cfg["bootstrap_resamples"] if n_resamples is None else n_resamples),
            int(cfg["seed"] if seed is None else seed),
            float(paired_settings()["alpha"] if alpha is None else alpha))


# --- paired change per outcome ----------------------------------------------------------------


def _groups(pairs: pd.DataFrame, scopes, sites=None) -> list[tuple[str, str, pd.DataFrame]]:
    """Analysis sets; ``sites`` (default: those in ``pairs``) also gives a site without pairs its set."""
    out = []
    sites = sorted(set(pairs["site"]) | set(sites if sites is not None else []))
    for scope in scopes:
        if scope == "all":
            out.append(("all", "alle", pairs))
        elif scope == "site":
            out.extend(("site", s, pairs[pairs["site"] == s]) for s in sites)
        elif scope == "interval_ok":
            out.append(("interval_ok", "alle", pairs[pairs["interval_ok"].fillna(False).astype(bool)]))
        else:
            raise ValueError(f"scope {scope!r} unknown; use 'all', 'site' or 'interval_ok'")
    return out


_BOOT_CIS = {"mean change": "mean_change_ci_low", "median change (percentile)": "median_change_ci_low",
             "dz (bootstrap; use the noncentral-t interval)": "dz_boot_ci_low",
             "rank-biserial": "rank_biserial_ci_low"}


#: Statistics that need changes that vary (SD > 0): the t-test and everything standardised by the SD.
_T_STATS = ["t", "df", "p_t", "mean_change_t_ci_low", "mean_change_t_ci_high", "dz", "dz_ci_low", "dz_ci_high",
            "dz_boot_ci_low", "dz_boot_ci_high"]
#: Statistics that need at least one non-zero change: the Wilcoxon test and the rank correlation.
_RANK_STATS = ["r_plus", "r_minus", "p_wilcoxon", "rank_biserial", "rank_biserial_ci_low", "rank_biserial_ci_high"]


def _variation_reason(d: np.ndarray) -> tuple[str, list[str]]:
    """The known degenerate cases of a set of changes ``d`` (n >= 2): the reason and what it voids.

    All changes 0: nothing to test or standardise ("no variation: no one changed"). All
    changes equal but not 0: the SD is 0, so t and d_z are undefined (a zero SD is no
    evidence of an infinite effect), while the signed-rank test and r_rb still are.

    >>> _variation_reason(np.array([0.0, 0.0]))[0]
    'no variation: no one changed (2 changes of 0)'
    >>> _variation_reason(np.array([4.0, 4.0, 4.0]))[0]
    'no variation: every pair changed by the same amount (4), so the t-test and dz are undefined'
    """
    if (d == 0).all():
        return f"no variation: no one changed ({d.size} changes of 0)", _T_STATS + _RANK_STATS + ["median_change_ci_low", "median_change_ci_high", "mean_change_ci_low", "mean_change_ci_high"]
    if np.ptp(d) == 0:
        return (f"no variation: every pair changed by the same amount ({d[0]:g}), so the t-test and dz are "
                "undefined", _T_STATS)
    return "", []


def _one_change(x: pd.Series, y: pd.Series, n_resamples: int, seed: int, caught: list) -> dict:
    """One outcome in one analysis set; ``caught`` holds the warnings raised meanwhile.

    Known conditions become a reason in ``not_estimable`` with the statistics they void as NaN:
    fewer than 2 pairs (descriptives only), and :func:`_variation_reason`. A reason that
    :func:`analysis.stats.paired.paired_change` itself reports (its ``not_estimable``) is kept.
    """
    keep = x.notna() & y.notna()
    xs, ys = x[keep], y[keep]
    row = {"n_pairs": int(keep.sum()), "n_excluded_missing": int((~keep).sum()),
           "mean_t0": xs.mean(), "sd_t0": xs.std(ddof=1), "median_t0": xs.median(),
           "mean_t1": ys.mean(), "sd_t1": ys.std(ddof=1), "median_t1": ys.median(), "notes": "",
           "not_estimable": ""}
    if keep.sum() < 2:
        row["not_estimable"] = f"too few pairs (n = {int(keep.sum())}; at least 2 needed)"
        if keep.sum() == 1:  # one change is a number, not a statistic of change
            row["mean_change"] = row["median_change"] = float(ys.iloc[0] - xs.iloc[0])
        return row
    # The median's CI is a percentile bootstrap for every row (a choice, not a fallback):
    # for integer scores most leave-one-out medians are equal, so BCa's jackknife
    # acceleration is 0/0 and scipy returns no interval (Efron & Tibshirani 1993, ch. 14).
    res = ps.paired_change(xs.to_numpy(), ys.to_numpy(), median_ci_method="percentile",
                           n_resamples=n_resamples, seed=seed).iloc[0]
    row.update(res.drop(["n_pairs", "n_excluded_missing", "mean_t0", "mean_t1", "not_estimable"],
                        errors="ignore").to_dict())
    reason, void = _variation_reason((ys - xs).to_numpy(dtype=float))
    # scipy warns once per degenerate bootstrap; say which interval it left empty (paired.py,
    # bootstrap_ci: e.g. the median of integer changes, or dz when a resample has no spread)
    empty = [name for name, col in _BOOT_CIS.items() if pd.isna(row.get(col)) and col not in void]
    other = sorted({str(w).split(".")[0] for w in caught if "BCa" not in str(w) and "invalid value" not in str(w)
                    and not reason})
    row["notes"] = "; ".join(([f"BCa interval not computable (degenerate bootstrap distribution): {', '.join(empty)}"]
                              if empty else []) + other)
    for col in void:
        row[col] = np.nan
    given = str(res.get("not_estimable", "") or "")
    if reason and reason_key(reason) in {reason_key(p) for p in _split_reasons(given)}:
        reason = ""  # paired_change already says it (its wording)
    row["not_estimable"] = _join_reasons(given, reason)
    return row


def _workers() -> int:
    """Threads for :func:`change_table`: the CPUs this process may use (``KRACHTPUNTEN_THREADS`` overrides)."""
    if os.environ.get("KRACHTPUNTEN_THREADS"):
        return max(1, int(os.environ["KRACHTPUNTEN_THREADS"]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def change_table(pairs: pd.DataFrame, info: pd.DataFrame, *, scopes=("all", "site", "interval_ok"),
                 n_resamples: int | None = None, seed: int | None = None, alpha: float | None = None,
                 sites=None, settings: dict | None = None) -> pd.DataFrame:
    """Per analysis set and outcome: descriptives, change with CIs, tests, effect sizes, Holm.

    Parameters
    ----------
    pairs : pandas.DataFrame
        The wide pairs (``<outcome>_t0``/``_t1`` for every outcome of ``info``). Not modified.
    info : pandas.DataFrame
        :func:`outcome_info`.
    scopes : sequence of {"all", "site", "interval_ok"}
        Analysis sets (see the module docstring).
    n_resamples, seed, alpha : optional
        Default from ``analysis/study.yaml`` (alpha: ``paired.alpha``).
    sites : sequence, optional
        Sites that get a ``"site"`` set even without pairs (e.g. every interviewee dropped
        out): their rows say "too few pairs (n = 0 ...)". Default: the sites in ``pairs``.
    settings : dict, optional
        :func:`paired_settings` (the pre-specified primary test and Holm families).

    Returns
    -------
    pandas.DataFrame
        ``paired_changes`` (columns in the module docstring). Holm's adjustment is applied to
        ``p_t`` and ``p_wilcoxon`` separately, within each pre-specified family
        (``holm_family``) of one scope and site; ``p_primary`` / ``p_primary_holm`` are those
        of the pre-specified primary test.

    Notes
    -----
    Statistics from :func:`analysis.stats.paired.paired_change` (zeros dropped in the
    Wilcoxon test and the rank-biserial correlation; exact p up to 200 non-zero changes; BCa
    bootstrap resampling persons). A set with fewer than two complete pairs gets descriptives
    only; changes without variation void the statistics they make undefined
    (:func:`_variation_reason`); the reason is in ``not_estimable``. A p-value that could not
    be computed is left out of Holm's family (``holm_m_t``, ``holm_m_wilcoxon`` count those
    that were), as R's ``p.adjust`` does.
    """
    n_resamples, seed, alpha = _settings(n_resamples, seed, alpha)
    settings = settings or paired_settings()
    family = outcome_families(info, settings)
    tasks = [(scope, site, g, meta) for scope, site, g in _groups(pairs, scopes, sites) for _, meta in info.iterrows()]

    def one(task) -> dict:
        scope, site, g, meta = task
        row = {"scope": scope, "site": site, **meta[["outcome", "label", "label_short", "instrument", "order",
                                                     "higher_is_better", "scale_low", "scale_high"]].to_dict()}
        with threadwarnings.recorded() as caught:  # this thread's warnings, filed under this row
            row.update(_one_change(*_xy(g, meta["outcome"]), n_resamples, seed, caught))
        return row

    # Outcomes are independent and numpy releases the GIL in the bootstrap's array work, so
    # threads use both cores (1.7 times faster at 1,800 pairs); every bootstrap has its own
    # generator from the seed, so the results do not depend on the order (tested).
    with threadwarnings.per_thread(), ThreadPoolExecutor(max(1, min(_workers(), len(tasks)))) as pool:
        rows = list(pool.map(one, tasks))
    out = pd.DataFrame(rows, columns=None if rows else ["scope", "site", "outcome", "higher_is_better"])
    for col in ("p_t", "p_wilcoxon", "dz", "dz_ci_low", "dz_ci_high"):
        if col not in out:
            out[col] = np.nan
    out["holm_family"] = out["outcome"].map(family).astype(object)
    out["family_size"] = out["holm_family"].map(family.value_counts()).fillna(0).astype(int)
    out["p_t_holm"] = np.nan
    out["p_wilcoxon_holm"] = np.nan
    out["holm_m_t"] = 0
    out["holm_m_wilcoxon"] = 0
    for _, idx in out.groupby(["scope", "site", "holm_family"], sort=False).groups.items():
        for p, adj, m in (("p_t", "p_t_holm", "holm_m_t"), ("p_wilcoxon", "p_wilcoxon_holm", "holm_m_wilcoxon")):
            h = ps.holm(out.loc[idx, p].astype(float), alpha=alpha)
            out.loc[idx, adj] = h["p_holm"].to_numpy()
            out.loc[idx, m] = int(h["m"].iloc[0])
    test = settings["primary_test"]
    out["primary_test"] = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"}[test]
    out["p_primary"] = out["p_t" if test == "t" else "p_wilcoxon"].astype(float)
    out["p_primary_holm"] = out["p_t_holm" if test == "t" else "p_wilcoxon_holm"].astype(float)
    out["holm_m_primary"] = out["holm_m_t" if test == "t" else "holm_m_wilcoxon"].astype(int)
    sign = np.where(out["higher_is_better"].astype(bool), 1.0, -1.0)
    out["dz_improvement"] = sign * out["dz"].astype(float)
    lo, hi = sign * out["dz_ci_low"].astype(float), sign * out["dz_ci_high"].astype(float)
    out["dz_improvement_ci_low"] = np.minimum(lo, hi)
    out["dz_improvement_ci_high"] = np.maximum(lo, hi)
    first = ["scope", "site", "outcome", "label", "label_short", "instrument", "order", "higher_is_better",
             "scale_low", "scale_high", "n_pairs", "n_excluded_missing", "mean_t0", "sd_t0", "median_t0",
             "mean_t1", "sd_t1", "median_t1", "mean_change", "sd_change", "mean_change_ci_low",
             "mean_change_ci_high", "median_change", "median_change_ci_low", "median_change_ci_high",
             "median_change_ci_method", "t_test", "t", "df", "p_t", "mean_change_t_ci_low", "mean_change_t_ci_high", "p_t_holm",
             "wilcoxon_test", "wilcoxon_method", "zero_method", "n_zero", "ties", "r_plus", "r_minus",
             "p_wilcoxon", "p_wilcoxon_holm", "holm_family", "family_size", "holm_m_t", "holm_m_wilcoxon",
             "primary_test", "p_primary", "p_primary_holm", "holm_m_primary", "dz", "dz_ci_low", "dz_ci_high",
             "dz_boot_ci_low", "dz_boot_ci_high", "rank_biserial", "rank_biserial_ci_low", "rank_biserial_ci_high",
             "dz_improvement", "dz_improvement_ci_low", "dz_improvement_ci_high", "confidence_level",
             "ci_method", "n_resamples", "seed", "notes", "not_estimable"]
    for col in first:
        if col not in out:
            out[col] = np.nan
    out["n_zero"] = out["n_zero"].fillna(0).astype(int)
    out["notes"] = out["notes"].fillna("").astype(str)
    out["not_estimable"] = out["not_estimable"].fillna("").astype(str)
    return out[first]


# --- mixed model, reliable change, power ------------------------------------------------------


#: The rule of ``agrees_with_paired`` in ``paired_mixed_model`` (its ``agreement_rule`` column).
AGREEMENT_RULE = ("agrees when the paired mean change (all pairs) lies inside the mixed model's 95% CI of the "
                  "wave effect and the two estimates do not have opposite signs")

_MM_STATS = ["estimate", "se", "z", "p", "ci_low", "ci_high", "person_variance", "residual_variance"]
#: The mixed model's t reference (df = complete pairs - 1, paired.mixed_model_wave): with a few
#: persons the Wald z is anti-conservative, so the small-sample p and interval stand beside it.
_MM_T = ["df_t", "p_t", "ci_t_low", "ci_t_high"]


def _agreement(paired: float, est: float, lo: float, hi: float) -> object:
    """:data:`AGREEMENT_RULE` (pd.NA when either estimate is missing).

    >>> _agreement(1.0, 1.2, 0.1, 2.3), _agreement(-0.1, 0.5, -1.0, 2.0), _agreement(np.nan, 1.0, 0.0, 2.0)
    (True, False, <NA>)
    """
    if not all(np.isfinite(v) for v in (paired, est, lo, hi)):
        return pd.NA
    return bool(lo <= paired <= hi and np.sign(paired) * np.sign(est) >= 0)


def mixed_models(interviews: pd.DataFrame, info: pd.DataFrame, changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sensitivity analysis: score ~ wave + site + (1 | person) per outcome, all interviews.

    Uses :func:`analysis.stats.paired.mixed_model_wave` on the long table, so persons seen only
    at T0 contribute (under missing at random). Site is left out when the outcome was observed
    at one site only (``model`` says so). No observation of the outcome at one of the waves:
    a row with the reason ("too few pairs"), nothing fitted. Statistical conditions the model
    function reports (its ``not_estimable``) are kept.

    With ``changes``, each row gets ``paired_mean_change`` and ``paired_n_pairs`` (scope
    "all") and the agreement flag ``agrees_with_paired`` by :data:`AGREEMENT_RULE` (written in
    ``agreement_rule``); NA when either side could not be estimated.
    """
    rows = []
    for o, meta in info.iterrows():
        y = pd.to_numeric(interviews[o], errors="coerce") if o in interviews else pd.Series(dtype=float)
        seen = interviews.loc[y.notna().to_numpy()] if len(interviews) else interviews
        base = {"outcome": o, "label": meta["label"]}
        waves = set(seen["wave"]) if len(seen) else set()
        if not {"T0", "T1"} <= waves:
            absent = [w for w in ("T0", "T1") if w not in waves]
            rows.append({**base, "model": f"{o} ~ wave + (1 | person); REML, Wald z", "term": "wave (T1 vs T0)",
                         "n_obs": int(len(seen)), "n_persons": int(seen["person_id"].nunique()) if len(seen) else 0,
                         "n_complete_pairs": 0, "n_sites": int(seen["site"].nunique()) if len(seen) else 0,
                         "converged": pd.NA, "fit_warnings": "",
                         "not_estimable": f"too few pairs (no {' or '.join(absent)} score of this outcome)"})
            continue
        site = "site" if seen["site"].nunique() > 1 else None
        r = ps.mixed_model_wave(interviews, o, person="person_id", site=site).iloc[0]
        rows.append({**base, **r.to_dict(), "not_estimable": str(r.get("not_estimable", "") or "")})
    cols = ["outcome", "label", "model", "term", *_MM_STATS[:6], *_MM_T, "n_obs", "n_persons", "n_complete_pairs", "n_sites",
            "person_variance", "residual_variance", "converged", "fit_warnings", "not_estimable"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    out["not_estimable"] = out["not_estimable"].fillna("").astype(str)
    out["fit_warnings"] = out["fit_warnings"].fillna("").astype(str)
    for c in ("n_obs", "n_persons", "n_complete_pairs"):
        out[c] = out[c].fillna(0).astype(int)
    if changes is not None:
        ref = changes[changes["scope"] == "all"].set_index("outcome")
        out["paired_mean_change"] = out["outcome"].map(ref["mean_change"]).astype(float)
        out["paired_n_pairs"] = out["outcome"].map(ref["n_pairs"]).fillna(0).astype(int)
        out["agrees_with_paired"] = pd.array(
            [_agreement(a, e, lo, hi) for a, e, lo, hi in zip(out["paired_mean_change"], out["estimate"].astype(float),
                                                              out["ci_low"].astype(float), out["ci_high"].astype(float))],
            dtype="boolean")
        out["agreement_rule"] = AGREEMENT_RULE
    return out


def _verified_reliability(outcome: str) -> pd.Series | None:
    rel = ps.load_reliability()
    if outcome not in rel.index:
        return None
    entry = rel.loc[outcome]
    if not bool(entry["verified"]) or np.isnan(entry["reliability"]):
        return None
    return entry


def rci_tables(interviews: pd.DataFrame, pairs: pd.DataFrame, info: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliable change per person and the counts per outcome; only for verified reliabilities.

    SD_T0 is the SD of all T0 scores of the outcome (drop-outs included: the baseline sample,
    as Jacobson & Truax take it from a pre-treatment sample). For an outcome without a verified
    reliability in ``analysis/reliability.yaml`` nothing is computed; its row says so.

    Returns
    -------
    (counts, persons)
        ``paired_rci`` (module docstring) and the per-person table (internal only):
        ``person_id``, ``site``, ``outcome``, ``t0``, ``t1``, ``change``, ``rci``, ``category``.
    """
    counts, persons = [], []
    t0 = interviews[interviews["wave"] == "T0"]
    for o, meta in info.iterrows():
        entry = _verified_reliability(o)
        base = {"outcome": o, "label": meta["label"]}
        if entry is None:
            counts.append({**base, "status": NOT_COMPUTED, "status_nl": NOT_COMPUTED_NL, "category": None,
                           "not_estimable": ""})
            continue
        base_t0 = t0[o].astype("Float64").astype(float).dropna()
        sd_t0 = float(base_t0.std(ddof=1)) if len(base_t0) >= 2 else np.nan
        x, y = _xy(pairs, o)
        n_pairs = int((x.notna() & y.notna()).sum())
        # the known conditions: no SD of T0 (fewer than 2 scores, or all equal), no pairs
        reason = (f"too few respondents (n = {len(base_t0)} T0 scores; at least 2 needed for the SD)"
                  if len(base_t0) < 2 else
                  f"no variation: all {len(base_t0)} T0 scores are equal (SD 0), so no reliable-change threshold"
                  if sd_t0 == 0 else f"too few pairs (n = {n_pairs}; at least 1 needed)" if n_pairs == 0 else "")
        if reason:
            for cat in RCI_CATEGORY_NL:
                counts.append({**base, "status": "computed", "status_nl": "berekend", "category": cat,
                               "category_nl": RCI_CATEGORY_NL[cat], "n_classified": n_pairs,
                               "n_missing": int(len(x) - n_pairs), "reliability": float(entry["reliability"]),
                               "reliability_kind": entry["kind"], "reliability_source": entry["source"],
                               "higher_is_better": bool(entry["higher_is_better"]), "sd_t0": sd_t0,
                               "criterion": RCI_CRITERION, "not_estimable": reason})
            continue
        r = ps.reliable_change(x, y, scale=o, sd_t0=sd_t0, criterion=RCI_CRITERION)
        c = ps.reliable_change_counts(r)
        for _, row in c.iterrows():
            counts.append({**base, "status": "computed", "status_nl": "berekend", **row.to_dict(),
                           "category_nl": RCI_CATEGORY_NL[row["category"]],
                           "not_estimable": str(row.get("not_estimable", "") or ""),
                           "reliability": float(entry["reliability"]), "reliability_kind": entry["kind"],
                           "reliability_source": entry["source"], "higher_is_better": bool(entry["higher_is_better"]),
                           "sd_t0": sd_t0, "s_diff": float(r["s_diff"].iloc[0]), "criterion": RCI_CRITERION,
                           "reliable_change_threshold": RCI_CRITERION * float(r["s_diff"].iloc[0])})
        persons.append(pd.DataFrame({"person_id": pairs["person_id"].to_numpy(), "site": pairs["site"].to_numpy(),
                                     "outcome": o, "t0": r["t0"].to_numpy(), "t1": r["t1"].to_numpy(),
                                     "change": r["change"].to_numpy(), "rci": r["rci"].to_numpy(),
                                     "category": r["category"].astype(object).to_numpy()}))
    cols = ["outcome", "label", "status", "status_nl", "category", "category_nl", "n", "proportion", "n_classified",
            "n_missing", "reliability", "reliability_kind", "reliability_source", "higher_is_better", "sd_t0", "s_diff",
            "criterion", "reliable_change_threshold", "not_estimable"]
    counts = pd.DataFrame(counts).reindex(columns=cols)
    counts["not_estimable"] = counts["not_estimable"].fillna("").astype(str)
    counts[["n", "n_classified", "n_missing"]] = counts[["n", "n_classified", "n_missing"]].astype("Int64")
    persons = pd.concat(persons, ignore_index=True) if persons else pd.DataFrame(
        columns=["person_id", "site", "outcome", "t0", "t1", "change", "rci", "category"])
    return counts, persons


def mde_table(changes: pd.DataFrame, *, alpha: float | None = None, power: float = POWER) -> pd.DataFrame:
    """Minimum detectable effect per scope, site and outcome for the achieved number of pairs.

    :func:`analysis.stats.paired.minimum_detectable_effect` (paired t-test, two-sided); in scale
    units with the observed SD of the changes. Also at ``alpha / family_size``: the threshold
    that Holm's procedure applies to the smallest p-value of the outcome's pre-specified family
    (``holm_family``; ``family_size`` outcomes). Not estimable (fewer than 2 pairs; no SD of
    the changes for the value in scale units): NaN with the reason in ``not_estimable``.
    """
    _, _, alpha = _settings(None, None, alpha)
    rows = []
    cache: dict = {}

    def mde(n, a):
        if (n, a) not in cache:
            r = ps.minimum_detectable_effect(n, alpha=a, power=power).iloc[0]
            cache[(n, a)] = (float(r["dz"]), str(r.get("not_estimable", "") or ""))
        return cache[(n, a)]

    for _, r in changes.iterrows():
        n, m = int(r["n_pairs"]), max(int(r["family_size"]), 1)
        (dz, why), (dz_h, why_h) = mde(n, alpha), mde(n, alpha / m)
        sd = float(r["sd_change"])
        sd_ok = np.isfinite(sd) and sd > 0
        sd_reason = "" if sd_ok or n < 2 else "no variation: the changes have SD 0, so no MDE in scale points"
        rows.append({"scope": r["scope"], "site": r["site"], "outcome": r["outcome"], "label": r["label"],
                     "n_pairs": n, "alpha": alpha, "power": power, "mde_dz": dz, "mde_dz_holm_strictest": dz_h,
                     "holm_family": r["holm_family"], "family_size": int(r["family_size"]), "sd_change": sd,
                     "mde_change": dz * sd if sd_ok else np.nan, "observed_dz": r["dz"],
                     "observed_mean_change": r["mean_change"], "not_estimable": _join_reasons(why, why_h, sd_reason)})
    cols = ["scope", "site", "outcome", "label", "n_pairs", "alpha", "power", "mde_dz", "mde_dz_holm_strictest",
            "holm_family", "family_size", "sd_change", "mde_change", "observed_dz", "observed_mean_change",
            "not_estimable"]
    return pd.DataFrame(rows, columns=cols)


def attrition_table(interviews: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    """:func:`analysis.interviews.attrition` for the outcome family, with labels and reasons.

    ``not_estimable`` says why a mean or SD is missing: no completers or no drop-outs at that
    site ("empty group"), or one person only for the SD ("too few respondents").
    """
    out = ivmod.attrition(interviews, list(info.index))
    out.insert(2, "label", out["outcome"].map(info["label"]))

    def why(r) -> str:
        parts = []
        for grp, nl in (("completers", "completers"), ("dropouts", "drop-outs")):
            n = int(r[f"n_{grp}"])
            where = "all sites" if r["site"] == "alle" else r["site"]
            if n == 0:
                parts.append(f"empty group: no {nl} with a T0 score at {where}")
            elif n == 1:
                parts.append(f"too few respondents (n = 1 {nl[:-1]} at {where}; an SD needs 2)")
        return _join_reasons(*parts)

    out["not_estimable"] = out.apply(why, axis=1).astype(str) if len(out) else pd.Series(dtype=str)
    return out


def binary_table(pairs: pd.DataFrame, *, scopes=("all", "site", "interval_ok"), sites=None,
                 settings: dict | None = None) -> pd.DataFrame:
    """Paired yes/no outcomes (``paired.binary`` of study.yaml): share at T0 and T1, McNemar.

    Per analysis set (as :func:`change_table`) and binary outcome: the paired 2 x 2 counts,
    the shares, their difference (T1 - T0) with Newcombe's (1998) method-10 interval, and the
    exact McNemar test (:func:`analysis.stats.paired_binary.paired_proportions`). The
    thresholds come from the configuration: ``min`` = at least (lonely: De Jong Gierveld
    total >= 2, the CBS measure), ``below`` = strictly less than (poor wellbeing: WHO-5 < 50).
    Returns ``paired_binary`` (columns in the module docstring).
    """
    settings = settings or paired_settings()
    rows = []
    for scope, site, g in _groups(pairs, scopes, sites):
        for name, spec in settings["binary"].items():
            var = spec["variable"]
            x, y = _xy(g, var)
            if "min" in spec:
                rule, cut = f">= {spec['min']:g}", float(spec["min"])
                yes = lambda v: (v >= cut).where(v.notna())  # noqa: E731
            else:
                rule, cut = f"< {spec['below']:g}", float(spec["below"])
                yes = lambda v: (v < cut).where(v.notna())  # noqa: E731
            r = pbin.paired_proportions(yes(x).astype(object), yes(y).astype(object)).iloc[0]
            rows.append({"scope": scope, "site": site, "outcome": name, "label": spec["nl"], "variable": var,
                         "rule": f"{var} {rule}", **r.to_dict()})
    cols = ["scope", "site", "outcome", "label", "variable", "rule", "n_pairs", "n_excluded_missing", "n_both",
            "n_t0_only", "n_t1_only", "n_neither", "n_t0", "n_t1", "prop_t0", "prop_t1", "difference", "ci_low",
            "ci_high", "ci_method", "confidence_level", "n_discordant", "test", "p_mcnemar", "not_estimable"]
    return pd.DataFrame(rows, columns=cols)


# --- themes -----------------------------------------------------------------------------------


def theme_counts(segments: pd.DataFrame, interviews: pd.DataFrame, cb: cbmod.Codebook | None = None) -> pd.DataFrame:
    """Persons (not segments) mentioning each code, by wave and site ("alle" = all sites).

    Every code of the codebook gets a row, also when nobody mentions it (0). The denominator
    is the persons interviewed in that wave at that site.
    """
    cb = cb or cbmod.load()
    labels = cb.code_labels("code")
    seg2 = pd.concat([segments.assign(site="alle"), segments], ignore_index=True)
    iv2 = pd.concat([interviews.assign(site="alle"), interviews], ignore_index=True)
    denom = iv2.groupby(["wave", "site"])["person_id"].nunique()
    by = seg2.groupby(["wave", "site", "code"])["person_id"]
    sites = ["alle"] + sorted(interviews["site"].unique())
    waves_sites = [(w, s) for w in ivmod.WAVES for s in sites if (w, s) in denom.index]
    grid = pd.MultiIndex.from_tuples([(w, s, c) for w, s in waves_sites for c in labels], names=["wave", "site", "code"])
    out = grid.to_frame(index=False)
    out.insert(2, "code_group", out["code"].map(lambda c: labels[c]["group"]))
    out["label"] = out["code"].map(lambda c: labels[c]["nl"])
    out["n_persons"] = by.nunique().reindex(grid, fill_value=0).to_numpy().astype(int)
    out["n_interviewed"] = denom.reindex(pd.MultiIndex.from_arrays([out["wave"], out["site"]])).to_numpy().astype(int)
    out["pct_persons"] = 100 * out["n_persons"] / out["n_interviewed"].where(out["n_interviewed"] > 0)
    out["n_segments"] = by.size().reindex(grid, fill_value=0).to_numpy().astype(int)
    return out


def cooccurrence(segments: pd.DataFrame, interviews: pd.DataFrame, cb: cbmod.Codebook | None = None,
                 *, wave: str = "T1") -> pd.DataFrame:
    """Mechanisms x changes mentioned by the same person in one wave (default T1), all sites.

    Counts persons, not segments: a person counts once for a pair of codes however often
    either was coded. ``lift`` compares with what independence would give.
    """
    cb = cb or cbmod.load()
    labels = cb.code_labels("code")
    mech = [c for c, v in labels.items() if v["group"] == "mechanismen"]
    chg = [c for c, v in labels.items() if v["group"] == "veranderingen"]
    seg = segments[segments["wave"] == wave]
    n_iv = int(interviews.loc[interviews["wave"] == wave, "person_id"].nunique())
    has = pd.crosstab(seg["person_id"], seg["code"]).gt(0).reindex(columns=mech + chg, fill_value=False)
    rows = []
    for m in mech:
        for c in chg:
            both = int((has[m] & has[c]).sum())
            nm, nc = int(has[m].sum()), int(has[c].sum())
            why = (f"too few respondents (nobody interviewed at {wave})" if not n_iv else
                   _join_reasons(f"empty group: nobody mentioned this change at {wave}" if not nc else "",
                                 f"empty group: nobody mentioned this mechanism at {wave}" if not nm else ""))
            rows.append({"mechanism": m, "mechanism_label": labels[m]["nl"], "change": c,
                         "change_label": labels[c]["nl"], "n_both": both, "n_mechanism": nm, "n_change": nc,
                         "n_interviewed": n_iv, "pct_change_with_mechanism": 100 * both / nc if nc else np.nan,
                         "lift": both * n_iv / (nm * nc) if nm and nc else np.nan, "not_estimable": why})
    return pd.DataFrame(rows)


# --- summary and text -------------------------------------------------------------------------


def summary_table(res: dict, *, alpha: float | None = None, window: tuple[float, float] | None = None,
                  settings: dict | None = None) -> pd.DataFrame:
    """Headline numbers for the report text: ``key``, ``value`` (unrounded), ``label`` (Dutch),
    ``n_basis`` (the persons the value rests on when that can be fewer than all, else "").

    The headline counts of significant changes come from the pre-specified primary test and
    family only (``paired`` in study.yaml): ``n_holm_below_alpha_<family>`` per family (Holm
    within the family, primary test), ``primary_test``. Values that could not be computed
    are NaN; :func:`not_estimable_text` says why.
    """
    settings = settings or paired_settings()
    _, _, alpha = _settings(None, None, alpha)
    lo, hi = window or ivmod.interval_window()
    iv, pr, ch, mde, rci, seg = (res[k] for k in ("interviews", "pairs", "changes", "mde", "rci", "segments"))
    items = []

    def add(key, value, label, n_basis=""):
        items.append({"key": key, "value": value, "label": label, "n_basis": n_basis})

    n_t0, n_pairs = int((iv["wave"] == "T0").sum()), len(pr)
    add("n_persons_t0", n_t0, "Geïnterviewden op T0")
    add("n_persons_t1", int((iv["wave"] == "T1").sum()), "Geïnterviewden op T1")
    add("n_pairs", n_pairs, "Bezoekers die twee keer zijn geïnterviewd (T0 en T1: paren)")
    add("n_dropouts", n_t0 - n_pairs, "Uitvallers (alleen T0)")
    add("n_sites", int(iv["site"].nunique()), "Krachtpunten")
    months = pr["interval_months"].astype(float)
    n_dated = int(months.notna().sum())  # a pair without an interview date has no interval
    add("interval_months_mean", months.mean(), "Gemiddelde tijd tussen T0 en T1 (maanden)", n_dated)
    add("interval_months_min", months.min(), "Kortste tijd tussen T0 en T1 (maanden)", n_dated)
    add("interval_months_max", months.max(), "Langste tijd tussen T0 en T1 (maanden)", n_dated)
    add("n_interval_outside", int((~pr["interval_ok"].fillna(True).astype(bool)).sum()),
        f"Paren buiten het venster van {lo:g}-{hi:g} maanden")
    add("n_interval_unknown", int(pr["interval_ok"].isna().sum()),
        "Paren zonder interviewdatum op T0 of T1 (tijd tussen de interviews niet na te gaan)")
    add("n_pairs_interval_ok", int(pr["interval_ok"].fillna(False).astype(bool).sum()),
        f"Paren binnen het venster van {lo:g}-{hi:g} maanden")
    add("interval_window_low", lo, "Venster T0-T1: ondergrens (maanden)")
    add("interval_window_high", hi, "Venster T0-T1: bovengrens (maanden)")
    all_m = mde[mde["scope"] == "all"]
    fams = list(settings["families"])
    primary = fams[0]
    add("mde_dz_all", float(all_m["mde_dz"].min()),
        "Kleinste aantoonbare effect (dz, 80% power) bij alle paren (uitkomst met de meeste paren)")
    prim_m = all_m[all_m["holm_family"] == primary]
    add("mde_dz_all_holm_primary", float(prim_m["mde_dz_holm_strictest"].min()),
        f"Idem, bij de strengste Holm-drempel van de {settings['families_nl'][primary]} "
        "(alpha gedeeld door hun aantal)")
    site_n = pr.groupby("site").size()
    add("median_pairs_per_site", float(site_n.median()) if len(site_n) else np.nan,
        "Mediaan aantal paren per krachtpunt")
    mde_site = ps.minimum_detectable_effect(int(site_n.median()), alpha=alpha, power=POWER).iloc[0] \
        if len(site_n) else None
    add("mde_dz_site", float(mde_site["dz"]) if mde_site is not None else np.nan,
        "Kleinste aantoonbare effect (dz, 80% power) per krachtpunt (mediaan aantal paren)")
    allc = ch[ch["scope"] == "all"].set_index("outcome")
    all_m_o = all_m.set_index("outcome")
    for o, r in allc.iterrows():
        n = int(r["n_pairs"])
        add(f"mean_change_{o}", r["mean_change"], f"Gemiddelde verandering T1-T0: {r['label']}", n)
        add(f"mean_change_ci_low_{o}", r["mean_change_ci_low"], f"95%-BI ondergrens: {r['label']}", n)
        add(f"mean_change_ci_high_{o}", r["mean_change_ci_high"], f"95%-BI bovengrens: {r['label']}", n)
        add(f"dz_{o}", r["dz"], f"Cohen's dz: {r['label']}", n)
        add(f"p_primary_holm_{o}", r["p_primary_holm"],
            f"p ({TEST_NL[settings['primary_test']]}, Holm binnen de "
            f"{settings['families_nl'][r['holm_family']]}): {r['label']}", n)
        add(f"mde_change_{o}", all_m_o.loc[o, "mde_change"] if o in all_m_o.index else np.nan,
            f"Kleinste aantoonbare verandering in schaalpunten: {r['label']}", n)
    add("primary_test", settings["primary_test"],
        f"Vooraf gekozen primaire toets: {TEST_NL[settings['primary_test']]}")
    add("alpha", alpha, "Significantieniveau (tweezijdig; Holm binnen elke familie)")
    for f in fams:
        sub = allc[allc["holm_family"] == f]
        add(f"n_outcomes_family_{f}", len(sub), f"Aantal {settings['families_nl'][f]} (Holm-familie)")
        add(f"n_holm_below_alpha_{f}", int((sub["p_primary_holm"] < alpha).sum()),
            f"{settings['families_nl'][f].capitalize()} met Holm-gecorrigeerde p < {_num(alpha)} "
            f"({TEST_NL[settings['primary_test']]}, alle paren)")
        add(f"n_not_tested_{f}", int(sub["p_primary"].isna().sum()),
            f"{settings['families_nl'][f].capitalize()} waarvoor de primaire toets niet te berekenen was")
    who = rci[(rci["outcome"] == "who5") & (rci["status"] == "computed") & (rci["not_estimable"] == "")]
    for _, r in who.iterrows():
        key = {"unchanged": "no_reliable_change"}.get(r["category"], r["category"])
        add(f"rci_who5_{key}", int(r["n"]), f"WHO-5: {RCI_CATEGORY_NL[r['category']]} (personen, RCI)")
    add("rci_who5_threshold", float(who["reliable_change_threshold"].iloc[0]) if len(who) else np.nan,
        "WHO-5: kleinste betrouwbare verandering (punten, RCI)")
    add("n_rci_not_computed", int(rci.loc[rci["status"] == NOT_COMPUTED, "outcome"].nunique()),
        "Uitkomsten zonder RCI (geen geverifieerde betrouwbaarheid)")
    mm = res.get("mixed_model")
    if mm is not None and "agrees_with_paired" in mm:
        judged = mm["agrees_with_paired"].notna()
        add("n_outcomes_mixed_model_judged", int(judged.sum()),
            "Uitkomsten waarbij gemengd model en gepaarde schatting vergeleken konden worden")
        add("n_outcomes_mixed_model_agrees", int(mm["agrees_with_paired"].fillna(False).sum()),
            f"Uitkomsten waarbij het gemengde model overeenkomt met de gepaarde schatting "
            f"({settings['agreement_rule_nl']})")
    b = res.get("binary")
    if b is not None:
        for _, r in b[b["scope"] == "all"].iterrows():
            n = int(r["n_pairs"])
            for col, what in (("prop_t0", "aandeel op T0"), ("prop_t1", "aandeel op T1"),
                              ("difference", "verschil T1 - T0"), ("ci_low", "95%-BI ondergrens van het verschil"),
                              ("ci_high", "95%-BI bovengrens van het verschil"), ("p_mcnemar", "p (exacte McNemar-toets)")):
                add(f"{col}_{r['outcome']}", r[col], f"{r['label']}: {what}", n)
    add("n_segments", len(seg), "Gecodeerde fragmenten")
    add("n_codes_used", int(seg["code"].nunique()), "Gebruikte codes")
    out = pd.DataFrame(items)
    # counts stay whole numbers in the CSV ("21", not "21.0"); a text value (primary_test) stays text
    out["value"] = pd.Series([v if isinstance(v, (int, str)) else float(v) for v in (i["value"] for i in items)],
                             dtype=object)
    out["n_basis"] = pd.Series([i["n_basis"] for i in items], dtype=object)
    return out


def _summary_value(summary: pd.DataFrame, key: str):
    s = summary.set_index("key")["value"]
    if key not in s.index:
        raise ValueError(f"paired_summary has no key {key!r}")
    return s[key]


def _finite(v) -> bool:
    try:
        return bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def mde_text(summary: pd.DataFrame, changes: pd.DataFrame | None = None, settings: dict | None = None) -> str:
    """What n pairs can and cannot show, in plain Dutch (Markdown), from the computed numbers.

    Every number in the text comes from ``summary`` (``paired_summary``), so the text follows
    the data; a number that could not be computed (too few pairs) is not written, the text
    says that instead. ``changes`` is accepted for compatibility and not needed.
    """
    settings = settings or paired_settings()
    n = _summary_value(summary, "n_pairs")
    n0 = _summary_value(summary, "n_persons_t0")
    dz = _summary_value(summary, "mde_dz_all")
    dz_h = _summary_value(summary, "mde_dz_all_holm_primary")
    primary = next(iter(settings["families"]))
    m = _summary_value(summary, f"n_outcomes_family_{primary}")
    keys = set(summary["key"])
    def count(v) -> str:  # a published count may be "<5" or "x" (hidden to protect a small one)
        if isinstance(v, str) and v.strip() == disclosure.SECONDARY:
            return "een niet getoond aantal"
        return "minder dan vijf" if isinstance(v, str) and v.startswith("<") else fmt.number(float(v), 0)

    if disclosure.is_mark(n) or disclosure.is_mark(n0):
        head = ("**Wat de paren wel en niet kunnen laten zien.** Van de mensen die aan het begin zijn "
                "geïnterviewd, is een deel ook na ongeveer een half jaar opnieuw gesproken (de aantallen staan "
                "hier niet, omdat ze samen met de andere tabellen een groep van minder dan vijf personen zouden "
                "verraden).")
    else:
        head = (f"**Wat {count(n)} paren wel en niet kunnen laten zien.** Van de {count(n0)} mensen die aan het "
                f"begin zijn geïnterviewd, zijn er {count(n)} ook na ongeveer een half jaar opnieuw gesproken.")
    if disclosure.is_mark(dz):
        text = [head + " Het kleinste aantoonbare effect staat hier niet: het zou het verborgen aantal paren "
                "verraden."]
    elif not _finite(dz):
        text = [head + " Dat zijn te weinig paren om een kleinste aantoonbare verandering te berekenen "
                "(daarvoor zijn er minstens twee nodig); er valt met deze aantallen niets te toetsen."]
    else:
        text = [head + f" Met zo'n kleine groep kan het onderzoek alleen **grote** veranderingen met enige "
                f"zekerheid vaststellen. Een verandering moet gemiddeld minstens {fmt.number(float(dz), 2)} keer zo "
                f"groot zijn als de spreiding van de veranderingen tussen personen (Cohen's dz) om in 8 van de 10 "
                f"vergelijkbare onderzoeken op te vallen (80% kans, p < {_num(settings['alpha'])})."]
        if _finite(dz_h):
            text[0] += (f" De {count(m)} {settings['families_nl'][primary]} zijn vooraf gekozen en "
                        f"samen gecorrigeerd voor meervoudig toetsen (Holm); daar moet de duidelijkste verandering "
                        f"zelfs {fmt.number(float(dz_h), 2)} keer die spreiding zijn.")
    if "mde_change_who5" in keys and _finite(_summary_value(summary, "mde_change_who5")):
        pts = float(_summary_value(summary, "mde_change_who5"))
        text.append(
            f"Voor welbevinden (WHO-5, 0-100) betekent dat: een gemiddelde vooruitgang van minder dan "
            f"ongeveer {fmt.number(pts, 0)} punten valt in deze groep meestal niet op, ook als die er wel is "
            f"(10 punten geldt als een betekenisvolle verandering voor één persoon).")
    if _finite(_summary_value(summary, "mde_dz_site")):
        text.append(
            f"Per krachtpunt zijn er maar zo'n {fmt.number(float(_summary_value(summary, 'median_pairs_per_site')), 0)} "
            f"paren; daar zou een verandering van {fmt.number(float(_summary_value(summary, 'mde_dz_site')), 1)} keer de "
            f"spreiding nodig zijn. De cijfers per krachtpunt zijn daarom alleen een beschrijving; verschillen "
            f"tussen krachtpunten kunnen we niet aantonen.")
    text.append(
        "**Wat dit onderzoek niet kan:** kleine of middelgrote veranderingen aantonen; uit een uitkomst "
        "\"geen significante verandering\" afleiden dat er niets veranderd is; zeggen dat het krachtpunt de "
        "oorzaak is van een verandering (er is geen vergelijkingsgroep die niet naar een krachtpunt ging, en "
        "mensen die uitvielen kunnen anders zijn dan wie bleef). **Wat het wel kan:** beschrijven hoe het deze "
        "bezoekers verging, laten zien welke kant de veranderingen op gaan en hoe groot ze ongeveer zijn "
        "(met de onzekerheidsmarges), en samen met de interviews laten zien welke veranderingen bezoekers "
        "zelf noemen en waaraan ze die toeschrijven.")
    return "\n\n".join(text)


# --- publication ------------------------------------------------------------------------------


_CHANGE_STATS = ["mean_t0", "sd_t0", "median_t0", "mean_t1", "sd_t1", "median_t1", "mean_change", "sd_change",
                 "mean_change_ci_low", "mean_change_ci_high", "median_change", "median_change_ci_low",
                 "median_change_ci_high", "t", "df", "p_t", "mean_change_t_ci_low", "mean_change_t_ci_high", "p_t_holm",
                 "ties", "r_plus", "r_minus", "p_wilcoxon", "p_wilcoxon_holm", "p_primary", "p_primary_holm", "dz",
                 "dz_ci_low", "dz_ci_high", "dz_boot_ci_low", "dz_boot_ci_high", "rank_biserial", "rank_biserial_ci_low",
                 "rank_biserial_ci_high", "dz_improvement", "dz_improvement_ci_low", "dz_improvement_ci_high"]

#: Summary keys that count persons (suppressed from 1 to min_cell - 1).
_SUMMARY_PERSON_COUNTS = ("n_persons_t0", "n_persons_t1", "n_pairs", "n_dropouts", "n_interval_outside",
                          "n_interval_unknown", "n_pairs_interval_ok")


def _hide_reasons(suppressed: pd.DataFrame, k: int) -> pd.DataFrame:
    """Blank the not-estimable reason in rows where a count was suppressed.

    A reason says something about the hidden count: "too few pairs" beside "<5" means one or
    two, "no variation" that every change is 0. The suppression mark is the row's whole story.
    """
    if "not_estimable" not in suppressed or suppressed.empty:
        return suppressed
    hit = suppressed.astype(object).map(lambda v: disclosure.is_mark(v, k)).any(axis=1)
    out = suppressed.copy()
    out["not_estimable"] = out["not_estimable"].astype(object)
    out.loc[hit, "not_estimable"] = ""
    return out


def _split_reasons(reason: str) -> list[str]:
    """Reasons joined by "; " split again at each known key (a key never follows '(').

    >>> _split_reasons("too few pairs (n = 2; at least 3 needed); no variation: none")
    ['too few pairs (n = 2; at least 3 needed)', 'no variation: none']
    """
    import re

    reason = str(reason or "")
    if not reason:
        return []
    keys = "|".join(re.escape(k) for k in REASON_KEYS)
    return [p.strip("; ").strip() for p in re.split(rf"; (?=(?:{keys}))", reason) if p.strip()]


# --- disclosure control (issue 17) -------------------------------------------------------------
#
# Every count a paired_* table publishes is a cell of one disclosure ledger
# (:mod:`analysis.stats.disclosure`), keyed so that the same count has the same key in every
# table; the additive relations between the counts are declared beside them. The same function
# reads the unsuppressed tables (to choose what to hide) and the published ones (the attacker's
# view: numbers and marks), so the attack test checks exactly what was published.

ALL_SITES = "alle"
#: Columns of paired_changes kept in internal/ only: the Wilcoxon rank sums give the number of
#: non-zero changes m back (r+ + r- = m(m + 1)/2), and with it the number of zero changes.
#: paired_binary publishes the margins (yes at T0, yes at T1) and not the four cells of the
#: paired 2 x 2 table: with all four hidden, the marks themselves ("x" = 5 or more) can pin a
#: cell (n_t0 >= 5 with both parts under 5 leaves room for at most one in a third cell).
#: The mixed model's n_obs is n_persons + n_complete_pairs: it adds nothing and is left out.
INTERNAL_ONLY = {"paired_changes": ["r_plus", "r_minus"], "paired_mixed_model": ["n_obs"],
                 "paired_binary": ["n_both", "n_t0_only", "n_t1_only", "n_neither", "n_discordant"]}
#: Statistics of paired_binary computed from the four cells (McNemar on the discordant pairs,
#: Newcombe's interval with its phi correction): published only when every cell is at least
#: min_cell, since each would otherwise give a hidden cell back.
_BIN_CELL_STATS = ["ci_low", "ci_high", "p_mcnemar"]


def _present(v) -> bool:
    """A published cell that holds something (a number or a mark), not an empty one."""
    if v is None or v is pd.NA:
        return False
    if isinstance(v, str):
        return v.strip() != "" and v.strip().lower() != "nan"
    try:
        return bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def _paired_cells(tables) -> tuple[list, list]:
    """The count cells of the paired tables and their relations.

    Returns ``cells`` = [(table, row index, column, key, kind)] and ``relations`` =
    [(total key, [part keys])] or [{key: coef}]. Shared keys (common17 convention):
    ("interviewed", wave, site), ("pairs", site), ("dropouts", site); ("n_pairs", scope, site,
    outcome) and ("n_excluded", ...) for the persons with an outcome at both waves (paired_changes,
    paired_mde, paired_binary, paired_rci, paired_mixed_model); ("themes", wave, site, code).
    """
    cells: list = []
    rels: list = []

    def cell(table, idx, col, key, kind="cell"):
        cells.append((table, idx, col, key, kind))
        return key

    def site_sum(key_of, sites):
        """The all-sites cell is the sum of the site cells (``key_of(site)``)."""
        rels.append((key_of(ALL_SITES), [key_of(s) for s in sites]))

    sites: set = set()
    # persons: interviewed at T0 = pairs + drop-outs; a T1 interview without T0 stops the
    # cleaning, so interviewed at T1 = pairs
    att = tables.get("paired_attrition")
    if att is not None and len(att):
        sites |= set(att["site"]) - {ALL_SITES}
        for i, r in att.iterrows():
            s, o = r["site"], r["outcome"]
            tot = "total" if s == ALL_SITES else "cell"
            cell("paired_attrition", i, "n_persons_completers", ("pairs", s), "total")
            cell("paired_attrition", i, "n_persons_dropouts", ("dropouts", s), tot)
            cell("paired_attrition", i, "n_completers", ("paired_attrition", "n_completers", s, o), "headline")
            cell("paired_attrition", i, "n_dropouts", ("paired_attrition", "n_dropouts", s, o), tot)
        for o in att["outcome"].unique():
            for col in ("n_completers", "n_dropouts"):
                site_sum(lambda s, col=col, o=o: ("paired_attrition", col, s, o), sorted(sites))
    th = tables.get("paired_themes")
    if th is not None and len(th):
        sites |= set(th["site"]) - {ALL_SITES}
        for i, r in th.iterrows():
            w, s = r["wave"], r["site"]
            cell("paired_themes", i, "n_persons", ("themes", w, s, r["code"]), "total" if s == ALL_SITES else "cell")
            cell("paired_themes", i, "n_interviewed", ("interviewed", w, s), "total")
        th_sites = sorted(set(th["site"]) - {ALL_SITES})
        for (w, code), _ in th.groupby(["wave", "code"], sort=False):
            site_sum(lambda s, w=w, code=code: ("themes", w, s, code), th_sites)
    for s in sorted(sites) + [ALL_SITES]:
        rels.append((("interviewed", "T0", s), [("pairs", s), ("dropouts", s)]))
        rels.append({("interviewed", "T1", s): 1, ("pairs", s): -1})
    for fam in (lambda s: ("interviewed", "T0", s), lambda s: ("interviewed", "T1", s),
                lambda s: ("pairs", s), lambda s: ("dropouts", s)):
        site_sum(fam, sorted(sites))
    # the interview flow (results/interview_flow.csv, written by the cleaning): the kept rows of
    # a wave's sheet are the persons interviewed in that wave; received = kept + out of scope
    fl = tables.get("interview_flow")
    if fl is not None:
        for i, r in fl.iterrows():
            w = r["wave"]
            if w not in ("T0", "T1"):
                continue  # the segments row counts text fragments, not persons
            cell("interview_flow", i, "kept", ("interviewed", w, ALL_SITES), "total")
            cell("interview_flow", i, "received", ("interview_flow", "received", w), "total")
            cell("interview_flow", i, "out_of_scope", ("interview_flow", "out_of_scope", w), "unknown")
            rels.append((("interview_flow", "received", w), [("interview_flow", "out_of_scope", w),
                                                             ("interviewed", w, ALL_SITES)]))
    # persons with the outcome at both waves: n_pairs + n_excluded_missing = the set's pairs
    def set_total(scope, site):
        return ("pairs", site) if scope in ("all", "site") else ("pairs_interval_ok", ALL_SITES)

    seen_sets: set = set()
    for name in ("paired_changes", "paired_binary"):
        t = tables.get(name)
        if t is None or not len(t):
            continue
        var = "outcome" if name == "paired_changes" else "variable"
        for i, r in t.iterrows():
            sc, s, o = r["scope"], r["site"], r[var]
            kp, ke = ("n_pairs", sc, s, o), ("n_excluded", sc, s, o)
            cell(name, i, "n_pairs", kp, "headline")
            cell(name, i, "n_excluded_missing", ke, "unknown")
            rels.append((set_total(sc, s), [kp, ke]))
            seen_sets.add((sc, s, o))
            if name == "paired_changes":
                cell(name, i, "n_zero", ("paired_changes", "n_zero", sc, s, o), "cell")
            else:
                for col in ("n_t0", "n_t1"):
                    cell(name, i, col, ("paired_binary", col, sc, s, r["outcome"]), "cell")
        site_rows = t[t["scope"] == "site"]
        if len(site_rows):
            ss = sorted(site_rows["site"].unique())
            for o in site_rows[var].unique():
                for head in ("n_pairs", "n_excluded"):
                    rels.append(((head, "all", ALL_SITES, o), [(head, "site", s, o) for s in ss]))
            if name == "paired_binary":
                for o in site_rows["outcome"].unique():
                    for col in ("n_t0", "n_t1"):
                        rels.append((("paired_binary", col, "all", ALL_SITES, o),
                                     [("paired_binary", col, "site", s, o) for s in ss]))
    mde = tables.get("paired_mde")
    if mde is not None:
        for i, r in mde.iterrows():
            cell("paired_mde", i, "n_pairs", ("n_pairs", r["scope"], r["site"], r["outcome"]), "headline")
    rci = tables.get("paired_rci")
    if rci is not None and len(rci):
        comp = rci[rci["status"] == "computed"]
        for i, r in comp.iterrows():
            o = r["outcome"]
            cell("paired_rci", i, "n", ("paired_rci", o, r["category"]), "cell")
            cell("paired_rci", i, "n_classified", ("n_pairs", "all", ALL_SITES, o), "headline")
            cell("paired_rci", i, "n_missing", ("n_excluded", "all", ALL_SITES, o), "unknown")
        for o, g in comp.groupby("outcome", sort=False):
            rels.append((("n_pairs", "all", ALL_SITES, o), [("paired_rci", o, c) for c in g["category"]]))
    co = tables.get("paired_cooccurrence")
    if co is not None:
        for i, r in co.iterrows():
            cell("paired_cooccurrence", i, "n_both", ("paired_cooccurrence", r["mechanism"], r["change"]), "cell")
            cell("paired_cooccurrence", i, "n_mechanism", ("themes", "T1", ALL_SITES, r["mechanism"]), "total")
            cell("paired_cooccurrence", i, "n_change", ("themes", "T1", ALL_SITES, r["change"]), "total")
            cell("paired_cooccurrence", i, "n_interviewed", ("interviewed", "T1", ALL_SITES), "total")
    mm = tables.get("paired_mixed_model")
    if mm is not None:
        for i, r in mm.iterrows():
            o = r["outcome"]
            cell("paired_mixed_model", i, "n_complete_pairs", ("n_pairs", "all", ALL_SITES, o), "headline")
            if "paired_n_pairs" in mm:
                cell("paired_mixed_model", i, "paired_n_pairs", ("n_pairs", "all", ALL_SITES, o), "headline")
            # n_persons is published only when everyone in the model has a T0 score (publishable):
            # then it is the T0 count of paired_attrition (completers + drop-outs, all sites)
            cell("paired_mixed_model", i, "n_persons", ("paired_mixed_model", "n_persons", o), "total")
            rels.append((("paired_mixed_model", "n_persons", o), [("paired_attrition", "n_completers", ALL_SITES, o),
                                                                   ("paired_attrition", "n_dropouts", ALL_SITES, o)]))
    su = tables.get("paired_summary")
    if su is not None:
        for i, r in su.iterrows():
            key = _SUMMARY_KEYS.get(r["key"])
            if key is None and str(r["key"]).startswith("rci_who5_") and r["key"] != "rci_who5_threshold":
                cat = {"no_reliable_change": "unchanged"}.get(r["key"][9:], r["key"][9:])
                key = ("paired_rci", "who5", cat)
            if key is not None:
                cell("paired_summary", i, "value", key, _SUMMARY_KINDS.get(r["key"], "cell"))
            basis = _summary_basis(r["key"])
            if basis is not None:
                cell("paired_summary", i, "n_basis", basis, "headline")
    # pairs by interval: dated = within the window + outside it; all = dated + no date
    rels.append((("pairs", ALL_SITES), [("pairs_dated", ALL_SITES), ("pairs_interval_unknown", ALL_SITES)]))
    rels.append((("pairs_dated", ALL_SITES), [("pairs_interval_ok", ALL_SITES), ("pairs_interval_outside", ALL_SITES)]))
    return cells, rels


#: paired_summary keys that are counts of persons, and their ledger keys.
_SUMMARY_KEYS = {"n_persons_t0": ("interviewed", "T0", ALL_SITES), "n_persons_t1": ("interviewed", "T1", ALL_SITES),
                 "n_pairs": ("pairs", ALL_SITES), "n_dropouts": ("dropouts", ALL_SITES),
                 "n_interval_outside": ("pairs_interval_outside", ALL_SITES),
                 "n_interval_unknown": ("pairs_interval_unknown", ALL_SITES),
                 "n_pairs_interval_ok": ("pairs_interval_ok", ALL_SITES)}
_SUMMARY_KINDS = {"n_persons_t0": "total", "n_persons_t1": "total", "n_pairs": "total", "n_dropouts": "total",
                  "n_interval_outside": "cell", "n_interval_unknown": "unknown", "n_pairs_interval_ok": "total"}
#: paired_summary keys whose ``n_basis`` is the pairs of an outcome (prefix -> scope "all").
_SUMMARY_OUTCOME_PREFIXES = ("mean_change_ci_low_", "mean_change_ci_high_", "mean_change_", "p_primary_holm_",
                             "mde_change_", "dz_")
_SUMMARY_BINARY_PREFIXES = ("prop_t0_", "prop_t1_", "difference_", "ci_low_", "ci_high_", "p_mcnemar_")


def _summary_basis(key: str):
    """The ledger key of a paired_summary row's ``n_basis`` (None when it rests on everybody)."""
    key = str(key)
    if key.startswith("interval_months_"):
        return ("pairs_dated", ALL_SITES)
    if key.startswith("mde_dz_"):
        return None
    for p in _SUMMARY_OUTCOME_PREFIXES:
        if key.startswith(p):
            return ("n_pairs", "all", ALL_SITES, key[len(p):])
    binary = paired_settings()["binary"]
    for p in _SUMMARY_BINARY_PREFIXES:
        if key.startswith(p) and key[len(p):] in binary:
            return ("n_pairs", "all", ALL_SITES, binary[key[len(p):]]["variable"])
    return None


def ledger(tables, min_cell: int | None = None) -> disclosure.Ledger:
    """Every count the paired_* tables publish, with the relations between them.

    ``tables`` = {result name: DataFrame} (``paired_changes``...; missing tables are left
    out), unsuppressed (numbers: to choose what to hide) or published (numbers and marks: the
    attacker's view). Cells shown empty (not computed) are not published and left out, and so
    is every relation naming one of them.
    """
    k = int(config.study()["analysis"]["min_cell"] if min_cell is None else min_cell)
    led = disclosure.Ledger(k)
    cells, rels = _paired_cells(tables)
    for table, idx, col, key, kind in cells:
        t = tables[table]
        if col not in t:
            continue
        v = t.at[idx, col]
        if _present(v):
            led.add(key, v, kind, f"{table}.csv")
    for rel in rels:
        terms = {}
        if isinstance(rel, tuple):
            total, parts = rel
            if not parts:
                continue
            terms[total] = 1
            for p in parts:
                terms[p] = terms.get(p, 0) - 1
        else:
            terms = dict(rel)
        if all(key in led.values for key in terms):
            led.relation(terms)
    return led


#: Per table: count column -> the columns computed from it in the same row. A statistic is
#: published only when every count it rests on is: a mean of a hidden group could otherwise
#: come back as the all-sites mean times n minus the other sites' (issue 17).
_BIN_STATS = ["prop_t0", "prop_t1", "difference", "ci_low", "ci_high", "p_mcnemar"]
_MM_ALL = ["estimate", "se", "z", "p", "ci_low", "ci_high", "df_t", "p_t", "ci_t_low", "ci_t_high",
           "person_variance", "residual_variance", "agrees_with_paired"]
_DERIVED = {
    "paired_changes": {"n_pairs": _CHANGE_STATS},
    "paired_binary": {"n_pairs": _BIN_STATS, "n_t0": ["prop_t0", "difference", "ci_low", "ci_high"],
                      "n_t1": ["prop_t1", "difference", "ci_low", "ci_high"]},
    # the model pools every person (no small group): its estimates follow the complete pairs,
    # not n_persons, which is the T0 count hidden to protect the drop-outs
    "paired_mixed_model": {"n_complete_pairs": _MM_ALL, "n_persons": [],
                           "paired_n_pairs": ["paired_mean_change", "agrees_with_paired"]},
    "paired_rci": {"n": ["proportion"], "n_classified": ["proportion"]},
    "paired_mde": {"n_pairs": ["mde_dz", "mde_dz_holm_strictest", "sd_change", "mde_change", "observed_dz",
                               "observed_mean_change"]},
    "paired_attrition": {"n_completers": ["mean_completers", "sd_completers", "difference"],
                         "n_dropouts": ["mean_dropouts", "sd_dropouts", "difference"],
                         "n_persons_completers": ["mean_completers", "sd_completers", "difference"],
                         "n_persons_dropouts": ["mean_dropouts", "sd_dropouts", "difference"]},
    "paired_themes": {"n_persons": ["pct_persons"], "n_interviewed": ["pct_persons"]},
    "paired_cooccurrence": {"n_both": ["pct_change_with_mechanism", "lift"], "n_mechanism": ["lift"],
                            "n_change": ["pct_change_with_mechanism", "lift"], "n_interviewed": ["lift"]},
    "paired_summary": {"n_basis": ["value"]},
}


def _worst(marks, k: int):
    """The mark of a statistic resting on several hidden counts: "<5" before "x"."""
    marks = [disclosure.SECONDARY if m == "" else m for m in marks if m is not None]  # "" = left out
    if not marks:
        return None
    return disclosure.small_mark(k) if disclosure.small_mark(k) in marks else disclosure.SECONDARY


def _to_publish(res: dict, min_cell: int | None = None) -> dict[str, pd.DataFrame]:
    """The unsuppressed tables as they would be published: result names, internal-only columns out.

    ``n_persons`` of the mixed model is left empty where someone in the model has no T0 score:
    only when it equals paired_attrition's T0 count (completers + drop-outs) is it a count the
    ledger can relate to the others.
    """
    t = {name: res[key].copy() for name, key in RESULT_TABLES.items() if key in res}
    b = t.get("paired_binary")
    if b is not None and len(b):
        k = int(config.study()["analysis"]["min_cell"])
        inner = b[["n_both", "n_t0_only", "n_t1_only", "n_neither"]].astype(float)
        small = (inner.gt(0) & inner.lt(k)).any(axis=1)
        hide = small | inner.lt(k).any(axis=1)
        for col in _BIN_CELL_STATS:
            b[col] = b[col].astype(object)
            b.loc[hide & b[col].notna(), col] = disclosure.SECONDARY
            b.loc[small & b[col].notna(), col] = disclosure.small_mark(k)
    for name, cols in INTERNAL_ONLY.items():
        if name in t:
            t[name] = t[name].drop(columns=[c for c in cols if c in t[name]])
    if "paired_themes" in t:
        t["paired_themes"] = t["paired_themes"].drop(columns="n_segments", errors="ignore")
    mm, att = t.get("paired_mixed_model"), t.get("paired_attrition")
    if mm is not None and att is not None and len(mm):
        a = att[att["site"] == ALL_SITES].set_index("outcome")
        t0 = mm["outcome"].map(a["n_completers"] + a["n_dropouts"])
        mm["n_persons"] = mm["n_persons"].astype(object).where(mm["n_persons"].to_numpy() == t0.to_numpy(), None)
    for name, frame in t.items():
        if name != "paired_summary":
            t[name] = frame.reset_index(drop=True)
    return t


def _apply_marks(tables: dict, marks: dict, k: int) -> dict[str, pd.DataFrame]:
    """Write the marks into the tables and hide the statistics resting on a hidden count.

    Counts get their own mark only (the ledger protects each); a statistic gets "<5" when one
    of its counts is "<5", else "x".
    """
    cells, _ = _paired_cells(tables)
    out = {name: t.copy() for name, t in tables.items()}
    hidden: dict = {}  # (table, idx, col) -> mark
    for table, idx, col, key, _kind in cells:
        if key in marks and col in out[table] and _present(tables[table].at[idx, col]):
            hidden[(table, idx, col)] = marks[key]
    counts = {(table, idx, col) for table, idx, col, _key, _kind in cells}
    derived: dict = {}
    for (table, idx, col), mark in hidden.items():
        for d in _DERIVED.get(table, {}).get(col, []):
            if d in out[table] and (table, idx, d) not in counts:
                derived.setdefault((table, idx, d), []).append(mark)
    for (table, idx, col), mark in list(hidden.items()) + [(c, _worst(m, k)) for c, m in derived.items()]:
        frame = out[table]
        if frame[col].dtype != object:
            frame[col] = frame[col].astype(object)
        frame.at[idx, col] = mark
    if "paired_summary" in out:
        out["paired_summary"] = _summary_marks(out["paired_summary"], tables, marks, k)
    for name in out:
        out[name] = _hide_reasons(out[name], k)
    return out


def _summary_marks(summ: pd.DataFrame, tables: dict, marks: dict, k: int) -> pd.DataFrame:
    """Headline statistics of paired_summary that rest on a hidden count are hidden too.

    The median pairs per site (and its MDE) is one site's count: hidden when a site's pairs
    are. The MDE of all pairs follows from the largest n_pairs: hidden when no published
    n_pairs attains it.
    """
    summ = summ.copy()
    summ["value"] = summ["value"].astype(object)
    sites = sorted({key[1] for key in marks if key[0] == "pairs" and key[1] != ALL_SITES})
    site_marks = [marks[("pairs", s)] for s in sites]
    ch = tables.get("paired_changes")

    def hide(key, mark):
        summ.loc[summ["key"] == key, "value"] = mark

    if site_marks:
        for key in ("median_pairs_per_site", "mde_dz_site"):
            hide(key, _worst(site_marks, k))
    if ch is not None and len(ch):
        allc = ch[ch["scope"] == "all"]
        fam = paired_settings()["families"]
        primary = next(iter(fam))
        for key, rows in (("mde_dz_all", allc), ("mde_dz_all_holm_primary", allc[allc["outcome"].isin(fam[primary])])):
            n = pd.to_numeric(rows["n_pairs"], errors="coerce")
            if not len(n) or n.isna().all():
                continue
            top = rows[n == n.max()]
            shown = [o for o in top["outcome"] if ("n_pairs", "all", ALL_SITES, o) not in marks]
            if not shown:
                hide(key, _worst([marks[("n_pairs", "all", ALL_SITES, o)] for o in top["outcome"]], k))
    return summ


def publishable(res: dict, *, min_cell: int | None = None, secondary: bool | None = None,
                flow: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The publishable versions of the results tables, protected together (issue 17).

    Every count of the paired tables is a cell of :func:`ledger`; counts of 1 to min_cell - 1
    are "<5" (primary suppression), and with ``secondary`` (default:
    ``analysis.secondary_suppression`` of study.yaml) more counts are hidden as "x" until no
    "<5" can be recovered or narrowed from everything published
    (:func:`analysis.stats.disclosure.protect`); a 0 in a relation with a hidden cell is "<5".
    Every statistic resting on a hidden count is hidden with it (:data:`_DERIVED`), the rank
    sums are left out (:data:`INTERNAL_ONLY`), and in a row with a hidden count the
    not-estimable reason is left out (it would narrow the count). Inputs are not modified.
    """
    tables = _to_publish(res, min_cell)
    if flow is not None:  # the cleaning's interview flow shows the persons interviewed per wave
        tables[FLOW_TABLE] = flow.copy()
    return publish_tables(tables, min_cell=min_cell, secondary=secondary)


def publish_tables(tables, *, min_cell: int | None = None, secondary: bool | None = None) -> dict[str, pd.DataFrame]:
    """Protect unsuppressed tables (result names, published columns) together and mark them.

    The core of :func:`publishable`, also for hand-made tables (tests): the ledger of all
    tables, :func:`analysis.stats.disclosure.protect`, then the marks and the statistics
    resting on a hidden count (:data:`_DERIVED`).
    """
    k = int(config.study()["analysis"]["min_cell"] if min_cell is None else min_cell)
    if secondary is None:
        secondary = bool(config.study()["analysis"].get("secondary_suppression", True))
    tables = {name: t.reset_index(drop=True) for name, t in tables.items()}
    blank: set = set()
    for _ in range(50):
        try:
            marks = disclosure.protect(ledger(_blanked(tables, blank), k), secondary=secondary)
            break
        except ValueError as err:
            stuck = _stuck_cells(err, tables, blank, k)
            if not stuck:
                raise
            blank |= stuck
    else:
        raise ValueError("publish_tables: secondary suppression did not converge")
    marks.update({key: "" for key in blank})
    return _apply_marks(tables, marks, k)


def _blanked(tables: dict, blank: set) -> dict:
    """Copies of ``tables`` with the cells of the ``blank`` keys left empty (not published)."""
    if not blank:
        return tables
    out = {name: t.copy() for name, t in tables.items()}
    cells, _ = _paired_cells(tables)
    for table, idx, col, key, _kind in cells:
        if key in blank and col in out[table]:
            out[table][col] = out[table][col].astype(object)
            out[table].at[idx, col] = None
    return out


def _stuck_cells(err: ValueError, tables: dict, blank: set, k: int) -> set:
    """The counts to leave out when a "<5" cannot be protected by hiding more.

    That happens when every cell around a small count is hidden and the marks themselves pin
    it (e.g. a site's 4 interviewees = 2 pairs + 2 drop-outs, where the all-sites pairs and
    drop-outs are "x", 5 or more, and every site is under 5: the sums leave the site at least
    2). Then the small count and the small counts linked to it through the relations are not
    published at all (empty, and every statistic on them "x"), which tells the attacker
    nothing, and protection is run again. Only tiny studies get here (tests: 10 persons).
    """
    key = getattr(err, "key", None)  # disclosure.ProtectionError names the cell
    if key is None:
        return set()
    led = ledger(_blanked(tables, blank), k)
    small = {c for c, v in led.values.items() if isinstance(v, (int, float)) and v < k}
    stuck, todo = {key}, [key]
    while todo:
        h = todo.pop()
        for terms in led.relations:
            if h in terms:
                for other in terms:
                    if other in small and other not in stuck:
                        stuck.add(other)
                        todo.append(other)
    return stuck - blank


def published_tables(out: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The published paired_* tables of an output directory, read back as written (attack view).

    ``ledger(published_tables(out))`` is what an attacker can build from ``<out>/results/``.
    """
    d = config.results_dir(out)
    return {name: pd.read_csv(d / f"{name}.csv", dtype=object, keep_default_na=False)
            for name in [*RESULT_TABLES, FLOW_TABLE] if (d / f"{name}.csv").is_file()}


# --- what could not be estimated, in words -----------------------------------------------------


def _dutch_list(items: list[str]) -> str:
    """'a', 'a en b', 'a, b en c'.

    >>> _dutch_list(["x", "y", "z"])
    'x, y en z'
    """
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " en " + items[-1] if items else ""


def _by_reason(rows: pd.DataFrame, what: str) -> dict[str, list[str]]:
    """Reason key -> the ``what`` values of the rows that have it (in row order)."""
    out: dict[str, list[str]] = {}
    for reason, label in zip(rows["not_estimable"], rows[what]):
        for part in _split_reasons(reason):
            out.setdefault(reason_key(part), []).append(str(label))
    return out


def _tables(tables: dict) -> dict[str, pd.DataFrame]:
    """Accept :func:`analyse`'s ``res`` or :func:`publishable`'s tables (result names)."""
    if "paired_changes" in tables:
        return dict(tables)
    return {name: tables[key] for name, key in RESULT_TABLES.items() if key in tables}


#: Groups of paired_changes statistics named in :func:`not_estimable_text`: Dutch name, columns,
#: and whether the report (``detail=False``) names the group too.
_CHANGE_GROUPS = [
    ("de toetsen (t-toets, Wilcoxon)", ["p_t", "p_wilcoxon"], True),
    ("de effectgrootte dz en het interval van de verandering", ["dz", "dz_ci_low", "dz_ci_high",
                                                                 "mean_change_ci_low", "mean_change_ci_high"], True),
    ("de rangcorrelatie", ["rank_biserial"], False),
    ("bootstrap-intervallen van mediaan, dz of rangcorrelatie", ["median_change_ci_low", "dz_boot_ci_low",
                                                                 "rank_biserial_ci_low"], False),
]


def _missing(row, cols) -> bool:
    return any(not _finite(row[c]) and not disclosure.is_mark(row[c]) and
               not (isinstance(row[c], str) and row[c].startswith("<")) for c in cols)


def _undated_pairs(summary: pd.DataFrame | None) -> str:
    """The published count of pairs without an interval ("" when none, or not in the table).

    >>> s = pd.DataFrame({"key": ["n_interval_unknown"], "value": ["<5"]})
    >>> _undated_pairs(s), _undated_pairs(s.assign(value=0)), _undated_pairs(s.assign(value="7"))
    ('minder dan 5', '', '7')
    """
    if summary is None or "key" not in summary:
        return ""
    v = summary.loc[summary["key"] == "n_interval_unknown", "value"]
    if v.empty or pd.isna(v.iloc[0]):
        return ""
    text = str(v.iloc[0])
    if text.startswith("<"):
        return f"minder dan {text[1:]}"
    n = pd.to_numeric(text, errors="coerce")
    return "" if pd.isna(n) or n == 0 else str(int(n))


def not_estimable_text(tables: dict, *, settings: dict | None = None, site_names: dict | None = None,
                       detail: bool = True) -> str:
    """Dutch Markdown: which statistics of notebook 03 could not be computed, and why.

    Reads the ``not_estimable`` columns of the results tables (``res`` of :func:`analyse`, or
    the published tables of :func:`publishable`, or the CSVs read back by the report) and
    the Dutch reading of each reason's key (``paired.not_estimable_nl`` in study.yaml). For
    paired_changes it names which statistics are missing (the columns that are empty in a row
    with a reason: tests, dz and the intervals, and with ``detail`` also the rank correlation
    and the secondary bootstrap intervals); ``detail=False`` (the report) leaves out the
    tables the report does not show (attrition, co-occurrence). Names outcomes and sites,
    never persons, and of counts only the published number of pairs without an interview date
    (their interval could not be checked; ``n_interval_unknown`` of paired_summary). Returns one sentence when everything could be computed.
    """
    settings = settings or paired_settings()
    nl = settings["not_estimable_nl"]
    names = site_names or {s: v.get("name", s) for s, v in config.study()["sites"].items()}
    t = _tables(tables)
    lines = []

    def reasons(rows, what, total=None, prefix=""):
        out = []
        for key, labels in _by_reason(rows, what).items():
            labels = list(dict.fromkeys(labels))
            listed = (f"alle {total} uitkomsten" if total and len(labels) == total and total > 1
                      else _dutch_list(labels))
            out.append(f"{prefix}{nl[key]} bij {listed}")
        return out

    ch = t.get("paired_changes")
    if ch is not None and len(ch):
        ne = ch[ch["not_estimable"].astype(object).fillna("") != ""]
        total = ch.loc[ch["scope"] == "all", "outcome"].nunique()
        groups = [(name, cols) for name, cols, in_report in _CHANGE_GROUPS if detail or in_report]

        def changes_part(rows) -> list[str]:
            """One clause per (missing statistics, reason key): '<what>: <reason> bij <outcomes>'."""
            found: dict = {}
            for _, r in rows.iterrows():
                what = tuple(name for name, cols in groups if _missing(r, cols))
                if not what:
                    continue
                for part in _split_reasons(r["not_estimable"]):
                    found.setdefault((what, reason_key(part)), []).append(str(r["label"]))
            out = []
            for (what, key), labels in found.items():
                labels = list(dict.fromkeys(labels))
                listed = f"alle {total} uitkomsten" if len(labels) == total and total > 1 else _dutch_list(labels)
                out.append(f"{_dutch_list(list(what))}: {nl[key]} bij {listed}")
            return out

        for scope, title in (("all", "alle paren"), ("interval_ok", "paren binnen het tijdvenster")):
            part = changes_part(ne[ne["scope"] == scope])
            if part:
                lines.append(f"Verandering per uitkomst ({title}), niet te berekenen: {'; '.join(part)}.")
        per_site = [f"{names.get(site, site)} — " + "; ".join(changes_part(g))
                    for site, g in ne[ne["scope"] == "site"].groupby("site", sort=True) if changes_part(g)]
        if per_site:
            lines.append("Verandering per uitkomst per krachtpunt, niet te berekenen: " + " · ".join(per_site) + ".")
    mm = t.get("paired_mixed_model")
    if mm is not None and len(mm):
        part = reasons(mm[mm["not_estimable"].fillna("") != ""], "label", len(mm))
        if part:
            lines.append(f"Gemengd model (gevoeligheidsanalyse): {'; '.join(part)}.")
        if "agrees_with_paired" in mm:
            unjudged = mm[mm["agrees_with_paired"].isna() & (mm["not_estimable"].fillna("") == "")]
            if len(unjudged):
                lines.append("Vergelijking van gemengd model en gepaarde schatting niet te maken (de gepaarde "
                             f"schatting ontbreekt) bij {_dutch_list(list(unjudged['label']))}.")
    rci = t.get("paired_rci")
    if rci is not None and len(rci):
        ne = rci[rci["not_estimable"].fillna("") != ""].drop_duplicates("outcome")
        part = reasons(ne, "label")
        if part:
            lines.append(f"Betrouwbare verandering (RCI): {'; '.join(part)}.")
    b = t.get("paired_binary")
    if b is not None and len(b):
        ne = b[b["not_estimable"].fillna("") != ""]
        where = {"all": "alle paren", "interval_ok": "paren binnen het tijdvenster", "site": "per krachtpunt"}
        for scope, g in ne.groupby("scope", sort=False):
            if scope == "site":
                part = ["; ".join(reasons(gg, "label", prefix=f"{names.get(site, site)}: "))
                        for site, gg in g.groupby("site", sort=True)]
            else:
                part = reasons(g, "label")
            lines.append(f"Aandelen en McNemar-toets ({where.get(scope, scope)}): {'; '.join(part)}.")
    mde = t.get("paired_mde")
    if mde is not None and len(mde):
        part = reasons(mde[(mde["scope"] == "all") & (mde["not_estimable"].fillna("") != "")], "label",
                       mde.loc[mde["scope"] == "all", "outcome"].nunique())
        if part:
            lines.append(f"Kleinste aantoonbare effect (alle paren): {'; '.join(part)}.")
    att = t.get("paired_attrition") if detail else None
    if att is not None and len(att):
        ne = att[att["not_estimable"].fillna("") != ""]
        sites = []
        for s, g in ne.groupby("site", sort=False):
            keys = _by_reason(g, "outcome")
            words = [("geen uitvallers of geen blijvers om mee te vergelijken" if k == "empty group"
                      else "te weinig personen voor een spreiding" if k == "too few respondents" else nl[k])
                     for k in keys]
            sites.append(("alle krachtpunten samen" if s == "alle" else names.get(s, s)) + ": " + _dutch_list(words))
        if sites:
            lines.append("Uitval (T0-scores van wie bleef en wie uitviel): " + "; ".join(sites) + ".")
    undated = _undated_pairs(t.get("paired_summary"))
    if undated:
        lines.append(f"Tijd tussen T0 en T1: niet na te gaan bij {undated} paren, omdat een interviewdatum "
                     "ontbreekt; deze paren tellen mee in alle analyses, behalve in de controle met alleen paren "
                     "binnen het tijdvenster.")
    co = t.get("paired_cooccurrence") if detail else None
    if co is not None and len(co):
        ne = co[co["not_estimable"].fillna("") != ""]
        if len(ne):
            keys = _dutch_list([nl[k] for k in _by_reason(ne, "change")])
            lines.append(f"Samen genoemde codes: bij {len(ne)} van de {len(co)} combinaties van mechanisme en "
                         f"verandering is het percentage of de lift niet te berekenen ({keys}: iemand noemde "
                         "een van de twee codes niet).")
    if not lines:
        return "**Wat niet te berekenen was.** Alle statistieken van dit hoofdstuk konden worden berekend."
    return ("**Wat niet te berekenen was.** Met zo weinig paren zijn sommige statistieken niet te berekenen; "
            "ze staan in de tabellen als leeg, met de reden in de kolom `not_estimable`. De rest van de analyse "
            "gaat gewoon door.\n\n" + "\n".join(f"- {line}" for line in lines))


# --- display helpers (notebook 03) -------------------------------------------------------------


def headline_table(changes: pd.DataFrame, scope: str = "all") -> pd.DataFrame:
    """The main columns of ``paired_changes`` for one scope, for display (values unchanged).

    Empty (with the columns) for a scope that was not computed, e.g. ``"site"`` with more than
    ``analysis.per_site_detail_max`` sites.
    """
    if scope not in ("all", "site", "interval_ok"):
        raise ValueError(f"scope {scope!r} unknown; use 'all', 'site' or 'interval_ok'")
    cols = ["site", "label", "holm_family", "n_pairs", "mean_t0", "mean_t1", "mean_change", "mean_change_ci_low",
            "mean_change_ci_high", "median_change", "p_t", "p_t_holm", "p_wilcoxon", "p_wilcoxon_holm", "dz",
            "dz_ci_low", "dz_ci_high", "rank_biserial", "not_estimable"]
    return changes.loc[changes["scope"] == scope, cols].reset_index(drop=True)


def binary_overview(binary: pd.DataFrame, scope: str = "all") -> pd.DataFrame:
    """The main columns of ``paired_binary`` for one scope, for display (values unchanged)."""
    if scope not in ("all", "site", "interval_ok"):
        raise ValueError(f"scope {scope!r} unknown; use 'all', 'site' or 'interval_ok'")
    cols = ["site", "label", "n_pairs", "n_t0", "prop_t0", "n_t1", "prop_t1", "difference", "ci_low", "ci_high",
            "n_discordant", "p_mcnemar", "not_estimable"]
    cols = [c for c in cols if c in binary]  # the published table has no n_discordant (INTERNAL_ONLY)
    return binary.loc[binary["scope"] == scope, cols].reset_index(drop=True)


def themes_overview(themes: pd.DataFrame, site: str = "alle") -> pd.DataFrame:
    """Persons per code (rows) and wave (columns) for one site, for display."""
    t = themes[themes["site"] == site]
    return t.pivot_table(index=["code_group", "label"], columns="wave", values="n_persons", aggfunc="first",
                         sort=False)


def cooccurrence_matrix(cooc: pd.DataFrame) -> pd.DataFrame:
    """Persons with both codes at T1: mechanisms (rows) x changes (columns), for display."""
    return cooc.pivot_table(index="mechanism_label", columns="change_label", values="n_both", aggfunc="first",
                            sort=False)


# --- figures ----------------------------------------------------------------------------------


def _num(v, _=None) -> str:
    return f"{v:g}".replace(".", ",")


def _person_lines(pts: pd.DataFrame, higher_is_better: bool):
    """One segment T0 -> T1 per distinct pair of scores, coloured better / same / worse.

    The width grows with the persons sharing the pair: 1.2 pt per extra person, at most 6 pt
    (when all sites are pooled, 50 persons can share a pair; uncapped, those lines covered the
    panel). One collection, not a line per pair: 2,000 pooled persons made a thousand artists
    and seconds of drawing per figure.
    """
    from matplotlib.collections import LineCollection

    counts = pts.value_counts()
    step = min(1.2, 5.0 / max(int(counts.max()) - 1, 1)) if len(counts) else 1.2
    a = counts.index.get_level_values("t0").to_numpy(dtype=float)
    b = counts.index.get_level_values("t1").to_numpy(dtype=float)
    d = (b - a) * (1 if higher_is_better else -1)
    colours = [COLOURS["beter" if v > 0 else "slechter" if v < 0 else "gelijk"] for v in d]
    segments = np.stack([np.column_stack([np.zeros_like(a), a]), np.column_stack([np.ones_like(b), b])], axis=1)
    return LineCollection(segments, colors=colours, linewidths=1.0 + step * (counts.to_numpy() - 1), alpha=0.75,
                          capstyle="round")


def plot_slopes(pairs: pd.DataFrame, info: pd.DataFrame, instrument: str, *, site_names: dict | None = None,
                min_cell: int | None = None, sites=None, published: pd.DataFrame | None = None):
    """Paired slope plots: rows = the instrument's outcomes, columns = sites; no person labels.

    A panel with 1 to ``min_cell - 1`` pairs (default ``analysis.min_cell``) shows no lines,
    only a note: the same rule as the tables, since each line is one person.

    One line per person from T0 to T1, coloured by better / same / worse in the outcome's own
    direction; persons with the same two scores share one line, drawn thicker. The black line
    joins the means. With more than ``analysis.per_site_detail_max`` sites, one column shows
    all sites pooled. ``sites`` (e.g. every site interviewed) also gives a site without pairs
    its column; a panel without pairs says so ("geen paren"). Without any site, one column
    "Alle krachtpunten" says that there are no pairs. ``published`` (the published
    paired_changes) hides a panel whose number of pairs is hidden there ("<5" or "x"): its
    lines would show the count the tables protect.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    min_cell = int(config.study()["analysis"]["min_cell"] if min_cell is None else min_cell)
    rows = info[info["instrument"] == instrument]
    if rows.empty:
        raise ValueError(f"no outcomes for instrument {instrument!r}; use one of {list(INSTRUMENTS)}")
    sites = sorted(set(pairs["site"]) | set(sites if sites is not None else []))
    pooled = len(sites) > per_site_detail_max()
    cols = [("alle", pairs)] if pooled or not sites else [(s, pairs[pairs["site"] == s]) for s in sites]
    names = site_names or {s: v.get("name", s) for s, v in config.study()["sites"].items()}
    nr, nc = len(rows), len(cols)
    fig, axes = plt.subplots(nr, nc, figsize=(2.5 * nc + 1.8, 2.1 * nr + 1.0), squeeze=False, sharey="row",
                             layout="constrained")
    for i, (o, meta) in enumerate(rows.iterrows()):
        lo, hi = meta["scale_low"], meta["scale_high"]
        for j, (site, g) in enumerate(cols):
            ax = axes[i, j]
            x, y = _xy(g, o)
            keep = x.notna() & y.notna()
            pts = pd.DataFrame({"t0": x[keep], "t1": y[keep]})
            hidden = 0 < len(pts) < min_cell or _count_hidden(published, site, o, pooled or not sites)
            if hidden:  # individual lines of fewer than min_cell persons are not published
                ax.text(0.5, 0.5, f"minder dan {min_cell} paren of\naantal verborgen: niet getoond", transform=ax.transAxes,
                        ha="center", va="center", fontsize=8, color="0.35")
                pts = pts.iloc[:0]
            elif not len(pts):  # say why the panel is empty
                ax.text(0.5, 0.5, "geen paren:\nniemand met deze score\nop T0 en T1", transform=ax.transAxes,
                        ha="center", va="center", fontsize=8, color="0.35")
            ax.add_collection(_person_lines(pts, meta["higher_is_better"]))
            if len(pts):
                ax.plot([0, 1], [pts["t0"].mean(), pts["t1"].mean()], color="black", linewidth=2.4, marker="o",
                        markersize=4, zorder=5)
            pad = (hi - lo) * 0.06
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_xlim(-0.15, 1.15)
            ax.set_xticks([0, 1], ["T0", "T1"])
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, steps=[1, 2, 5, 10]))
            ax.yaxis.set_major_formatter(FuncFormatter(_num))
            ax.set_xlabel(("n verborgen" if len(pts) >= min_cell else f"n < {min_cell}") if hidden else f"n = {len(pts)}",
                          fontsize=8, color="0.3", labelpad=1)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            if i == 0:
                ax.set_title(names.get(site, site) if site != "alle" else
                             f"Alle {len(sites)} krachtpunten samen" if pooled else "Alle krachtpunten", fontsize=10)
            if j == 0:
                ax.set_ylabel(meta["label_short"] + f"\n({meta['scale_low']:g}-{meta['scale_high']:g})", fontsize=9)
    handles = [Line2D([], [], color=COLOURS[k], linewidth=2) for k in ("beter", "gelijk", "slechter")]
    handles.append(Line2D([], [], color="black", linewidth=2.4, marker="o", markersize=4))
    fig.legend(handles, ["beter", "gelijk", "slechter", "gemiddelde"], loc="outside lower center", ncol=4,
               frameon=False, fontsize=9)
    direction = "lager = minder eenzaam" if instrument == "djg" else "hoger = beter"
    fig.suptitle(f"{INSTRUMENTS[instrument]}: T0 en T1 per persoon ({direction})\n"
                 "dikkere lijn = meer personen met dezelfde scores", fontsize=10)
    return fig


def _count_hidden(published: pd.DataFrame | None, site: str, outcome: str, pooled: bool) -> bool:
    """Whether the published paired_changes hides the number of pairs of this panel."""
    if published is None or not len(published):
        return False
    scope = "all" if pooled or site == ALL_SITES else "site"
    row = published[(published["scope"] == scope) & (published["site"] == site) & (published["outcome"] == outcome)]
    return bool(len(row)) and disclosure.is_mark(row["n_pairs"].iloc[0])


def _numeric(s: pd.Series) -> pd.Series:
    """A published column as numbers: a mark ("<5", "x") becomes NaN."""
    return pd.to_numeric(s.map(lambda v: np.nan if disclosure.is_mark(v) else v), errors="coerce")


def plot_change_summary(changes: pd.DataFrame, mde: pd.DataFrame):
    """Mean change per outcome as dz with 95% CI (all pairs), right = better, MDE marked.

    Draw it from the published tables: an outcome whose dz is hidden ("<5", "x") is left out.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    t = changes[changes["scope"] == "all"].copy()
    for col in ("dz_improvement", "dz_improvement_ci_low", "dz_improvement_ci_high"):
        t[col] = _numeric(t[col])
    t = t[t["dz_improvement"].notna()]
    if t.empty:  # valid data without any dz (too few pairs, no variation): an empty figure that says so
        fig, ax = plt.subplots(figsize=(8.2, 2.0), layout="constrained")
        ax.axis("off")
        ax.text(0.5, 0.5, "Geen uitkomst met een effectgrootte (dz): te weinig paren of geen variatie in de "
                "veranderingen.\nDe redenen staan per uitkomst in de tabel paired_changes (kolom not_estimable).",
                ha="center", va="center", fontsize=9, color="0.3", transform=ax.transAxes, wrap=True)
        ax.set_title("Verandering per uitkomst", fontsize=10)
        return fig
    inst_order = list(INSTRUMENTS)
    t["inst_rank"] = t["instrument"].map(inst_order.index)
    t = t.sort_values(["inst_rank", "dz_improvement"], ascending=[True, False])
    n = len(t)
    # one empty row between instruments
    ypos, y, prev = [], 0.0, None
    for inst in t["instrument"]:
        if prev is not None and inst != prev:
            y += 0.7
        ypos.append(y)
        y += 1
        prev = inst
    ypos = -np.array(ypos)
    fig, ax = plt.subplots(figsize=(8.2, 1.2 + 0.36 * n), layout="constrained")
    mde_dz = _numeric(mde[mde["scope"] == "all"]["mde_dz"]).min()
    if np.isfinite(mde_dz):
        ax.axvspan(-mde_dz, mde_dz, color="0.93", zorder=0)
        ax.axvline(mde_dz, color="0.55", linestyle=":", linewidth=1)
        ax.axvline(-mde_dz, color="0.55", linestyle=":", linewidth=1)
    ax.axvline(0, color="0.35", linestyle="--", linewidth=1)
    colours = dict(zip(inst_order, ["#762a83", "#1b7837", "#2166ac", "#b35806"]))
    for (_, r), yy in zip(t.iterrows(), ypos):
        c = colours[r["instrument"]]
        ax.hlines(yy, r["dz_improvement_ci_low"], r["dz_improvement_ci_high"], color=c, linewidth=1.8)
        ax.plot(r["dz_improvement"], yy, "o", color=c, markersize=6)
    labels = [f"{r['label_short']}{' (omgedraaid)' if not r['higher_is_better'] else ''}" for _, r in t.iterrows()]
    ax.set_yticks(ypos, labels)
    ax.tick_params(axis="y", length=0)
    for tick, inst in zip(ax.get_yticklabels(), t["instrument"]):
        tick.set_color(colours[inst])
    ax2 = ax.twinx()
    ax2.set_ylim(ax.get_ylim())
    ax2.set_yticks(ypos, [f"n = {int(v)}" for v in t["n_pairs"]])
    ax2.tick_params(axis="y", length=0, labelsize=8, labelcolor="0.35")
    for a in (ax, ax2):
        for side in ("top", "right", "left"):
            a.spines[side].set_visible(False)
    ax.xaxis.set_major_formatter(FuncFormatter(_num))
    ax.set_xlabel("Verandering T0 → T1 in gestandaardiseerde eenheden (Cohen's dz, 95%-BI); rechts = verbetering")
    from matplotlib.patches import Patch
    handles = [Patch(color=colours[k], label=INSTRUMENTS[k]) for k in inst_order if k in set(t["instrument"])]
    if np.isfinite(mde_dz):
        handles.append(Patch(facecolor="0.93", edgecolor="0.55", linestyle=":",
                             label=f"kleiner dan het kleinste aantoonbare effect (|dz| < {_num(round(mde_dz, 2))}; 80% power)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False, fontsize=8)
    ax.set_title("Verandering per uitkomst (eenzaamheid omgedraaid: rechts = minder eenzaam)", fontsize=10)
    return fig


# --- everything -------------------------------------------------------------------------------


def load_tables(out: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The cleaned interview tables written by :func:`analysis.interviews.clean_all_interviews`."""
    out = config.processed_dir(out)
    tables = {}
    for name, key in (("interviews", "interviews"), ("interview_pairs", "pairs"), ("segments", "segments")):
        path = out / f"{name}.parquet"
        if not path.is_file():
            raise ValueError(f"{path} not found: run the interview cleaning first (analysis.interviews.clean_all_interviews)")
        tables[key] = pd.read_parquet(path)
    return tables


def analyse(interviews: pd.DataFrame, pairs: pd.DataFrame, segments: pd.DataFrame, *,
            cb: cbmod.Codebook | None = None, n_resamples: int | None = None, seed: int | None = None,
            scopes=("all", "site", "interval_ok"), outcomes=None) -> dict[str, pd.DataFrame]:
    """Every unsuppressed results table of notebook 03 from the cleaned tables (nothing written).

    Scope ``"site"`` is left out with more than ``analysis.per_site_detail_max`` sites
    (:func:`analysis_scopes`; module docstring). ``outcomes`` (optional) restricts the analysis
    to some outcomes of :func:`outcome_info` (each keeps its pre-specified Holm family; the
    families' m then counts only those analysed) -- for quick checks; the notebook analyses all.
    """
    cb = cb or cbmod.load()
    info = outcome_info(cb)
    if outcomes is not None:
        unknown = [o for o in outcomes if o not in info.index]
        if unknown:
            raise ValueError(f"outcomes {unknown} unknown; choose from {list(info.index)}")
        info = info.loc[list(outcomes)]
    settings = paired_settings()
    iv, pr = with_pg_mean(interviews, pairs)
    # every site interviewed gets its per-site rows, also one where everyone dropped out
    sites = sorted(iv["site"].dropna().unique())
    scopes = analysis_scopes(iv.drop_duplicates("person_id"), scopes)
    res = {"info": info, "interviews": iv, "pairs": pr, "segments": segments}
    res["changes"] = change_table(pr, info, scopes=scopes, n_resamples=n_resamples, seed=seed, sites=sites,
                                  settings=settings)
    res["binary"] = binary_table(pr, scopes=scopes, sites=sites, settings=settings)
    res["mixed_model"] = mixed_models(iv, info, res["changes"])
    res["rci"], res["rci_persons"] = rci_tables(iv, pr, info)
    res["mde"] = mde_table(res["changes"])
    res["attrition"] = attrition_table(iv, info)
    res["themes"] = theme_counts(segments, iv, cb)
    res["cooccurrence"] = cooccurrence(segments, iv, cb)
    res["summary"] = summary_table(res, settings=settings)
    return res


#: The interview flow: written by the cleaning, protected again with the paired tables by :func:`run`.
FLOW_TABLE = "interview_flow"
RESULT_TABLES = {"paired_changes": "changes", "paired_binary": "binary", "paired_mixed_model": "mixed_model",
                 "paired_rci": "rci", "paired_mde": "mde", "paired_attrition": "attrition", "paired_themes": "themes",
                 "paired_cooccurrence": "cooccurrence", "paired_summary": "summary"}


def run(raw_dir: str | Path | None = None, out: str | Path | None = None, *, n_resamples: int | None = None,
        seed: int | None = None) -> dict:
    """Notebook 03 after cleaning: analyse, write publishable + internal tables and the figures.

    Reads ``<out>/interviews``, ``interview_pairs`` and ``segments`` (Parquet). Returns the
    unsuppressed results (``res``), the publishable tables (``published``), and the written
    files (``written``: path, kind).
    """
    out = config.processed_dir(out)
    cb = cbmod.load(raw_dir=config.raw_dir(raw_dir))
    t = load_tables(out)
    res = analyse(t["interviews"], t["pairs"], t["segments"], cb=cb, n_resamples=n_resamples, seed=seed)
    flow_path = config.results_dir(out) / f"{FLOW_TABLE}.csv"
    flow = pd.read_csv(flow_path, dtype={"file": str, "wave": str}) if flow_path.is_file() else None
    if flow is not None and flow.map(disclosure.is_mark).any().any():  # already protected by a run before
        inner = results.internal_dir(out) / f"{FLOW_TABLE}.csv"
        flow = pd.read_csv(inner, dtype={"file": str, "wave": str}) if inner.is_file() else None
    pub = publishable(res, flow=flow)
    written = []
    if flow is not None:  # its kept rows are the persons interviewed per wave: the same cells
        written.append((results.write_result(pub[FLOW_TABLE], FLOW_TABLE, out), "publishable"))
        written.append((results.write_result(flow, FLOW_TABLE, out, internal=True), "internal"))
    for name, key in RESULT_TABLES.items():
        written.append((results.write_result(pub[name], name, out), "publishable"))
        written.append((results.write_result(res[key], name, out, internal=True), "internal"))
    written.append((results.write_result(res["rci_persons"], "paired_rci_persons", out, internal=True), "internal"))
    import matplotlib.pyplot as plt

    for inst in INSTRUMENTS:
        fig = plot_slopes(res["pairs"], res["info"], inst, sites=sorted(res["interviews"]["site"].dropna().unique()),
                          published=pub["paired_changes"])
        written.append((results.save_figure(fig, f"paired_slopes_{inst}", out), "figure"))
        plt.close(fig)
    fig = plot_change_summary(pub["paired_changes"], pub["paired_mde"])
    written.append((results.save_figure(fig, "paired_change_summary", out), "figure"))
    plt.close(fig)
    return {"res": res, "published": pub,
            "written": pd.DataFrame([(str(Path(p).relative_to(out)), k) for p, k in written], columns=["file", "kind"])}
