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
appears in the results only. Holm's correction runs over these 17 outcomes, separately for
each analysis set (all pairs; each site; pairs within the interval window).

Direction: lower loneliness (De Jong Gierveld) is better; for every other outcome higher is
better (``analysis/reliability.yaml`` ``higher_is_better``; the Positieve Gezondheid dimensions
are not listed there and are scored 0 = worst to 10 = best, Huber et al. 2016). Changes are
always T1 minus T0 in the scale's own direction; ``dz_improvement`` and its interval turn the
sign so that positive means "better" for every outcome (used in the change summary figure).

Publication rules (STUDY.md section 9; ``analysis.min_cell`` = 5 in study.yaml)
------------------------------------------------------------------------------
* Counts of persons from 1 to 4 are published as "<5" (:func:`analysis.fmt.suppress_small_cells`),
  together with the figures computed from them (their percentage; a mean over them).
* **Per site** (about 7 interviewees, 5-7 pairs): a site's row is published when it rests on
  at least 5 pairs for that outcome; otherwise every statistic in the row is "<5". The per-site
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
Numbers are unrounded; "<5" marks a suppressed cell. ``outcome`` is the tidy variable name,
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
    p_t_holm               Holm-adjusted p_t within the scope (and site) over the family
    wilcoxon_test          test name, incl. exact/approximate and zero handling
    wilcoxon_method, zero_method ("wilcox": zero changes dropped before ranking), n_zero,
    ties, r_plus, r_minus, p_wilcoxon
    p_wilcoxon_holm        Holm-adjusted p_wilcoxon within the scope (and site)
    holm_m                 number of outcomes in the Holm family of that row
    dz, dz_ci_low, dz_ci_high          Cohen's dz, 95% noncentral-t CI
    dz_boot_ci_low, dz_boot_ci_high    95% BCa bootstrap CI of dz
    rank_biserial, rank_biserial_ci_low, rank_biserial_ci_high   matched-pairs r (BCa CI)
    dz_improvement, dz_improvement_ci_low, dz_improvement_ci_high   dz with the sign turned
                           so that positive = better (equal to dz when higher_is_better)
    confidence_level, ci_method (of the other bootstrap CIs: "BCa bootstrap"), n_resamples, seed
    notes                  warnings raised while computing the row (e.g. a degenerate
                           bootstrap distribution, which gives an empty CI), else ""

``paired_mixed_model.csv`` -- one row per outcome (sensitivity analysis, all persons incl.
drop-outs): outcome, label, model (formula and method), term, estimate (T1 - T0), se, z, p,
ci_low, ci_high (95% Wald), n_obs, n_persons, n_complete_pairs, n_sites, person_variance,
residual_variance, converged, fit_warnings, paired_mean_change (the paired estimate of
paired_changes, scope "all", for comparison).

``paired_rci.csv`` -- reliable change (Jacobson & Truax 1991), one row per outcome x category:
    outcome, label, status ("computed" or "not computed: no verified reliability"),
    status_nl (the same in Dutch), category ("improved", "unchanged", "worse"; empty when not
    computed), n, proportion (of n_classified), n_classified, n_missing, reliability,
    reliability_kind, reliability_source, higher_is_better, sd_t0 (SD of all T0 scores,
    drop-outs included), s_diff, criterion (1.96), reliable_change_threshold (smallest change
    in scale units that counts as reliable: criterion x s_diff)

``paired_mde.csv`` -- minimum detectable effect (80% power, two-sided alpha of study.yaml,
paired t-test), one row per scope x site x outcome:
    scope, site, outcome, label, n_pairs, alpha, power,
    mde_dz (smallest dz detectable), mde_dz_holm_strictest (the same at alpha / holm_m, the
    threshold Holm applies to the smallest p-value), holm_m, sd_change (observed),
    mde_change (mde_dz x sd_change, in scale units), observed_dz, observed_mean_change

``paired_attrition.csv`` -- completers (T0 and T1) against drop-outs (T0 only), at T0, one row
per site ("alle" = all sites) x outcome: site, outcome, label, n_persons_completers,
n_persons_dropouts, n_completers, mean_completers, sd_completers, n_dropouts, mean_dropouts,
sd_dropouts (n, mean, SD over the non-missing T0 values), difference (drop-outs minus
completers).

``paired_themes.csv`` -- how many persons mention each code, one row per wave x site ("alle"
= all sites) x code: wave, site, code_group, code, label, n_persons (persons with at least one
segment with that code in that wave's interview), n_interviewed (persons interviewed in that
wave at that site), pct_persons (100 x n_persons / n_interviewed). Internal version adds
n_segments.

``paired_cooccurrence.csv`` -- mechanisms x changes within persons at T1 (all sites), one row
per mechanism x change: mechanism, mechanism_label, change, change_label, n_both (persons whose
T1 interview has both codes), n_mechanism, n_change, n_interviewed (persons interviewed at T1),
pct_change_with_mechanism (100 x n_both / n_change), lift (n_both x n_interviewed /
(n_mechanism x n_change); 1 = as often as by chance).

``paired_summary.csv`` -- headline numbers quoted in the report text: key, value (unrounded;
"<5" when suppressed), label (Dutch). Keys: n_persons_t0, n_persons_t1, n_pairs, n_dropouts,
n_sites, interval_months_mean/_min/_max, n_interval_outside, interval_window_low/_high,
mde_dz_all, mde_dz_all_holm, median_pairs_per_site, mde_dz_site, per outcome
mean_change_<o>, mean_change_ci_low_<o>, mean_change_ci_high_<o>, dz_<o>, p_t_holm_<o>,
p_wilcoxon_holm_<o>, mde_change_<o>; n_outcomes_holm_t, n_outcomes_holm_wilcoxon (outcomes
with a Holm-adjusted p below alpha), rci_who5_improved/_unchanged/_worse,
rci_who5_threshold, n_rci_not_computed, n_segments, n_codes_used.

(``results/interview_flow.csv`` is written by :func:`analysis.interviews.clean_all_interviews`:
file, wave, received, kept.)

Figures (``<out>/figures/``)
----------------------------
``paired_slopes_djg.png``, ``paired_slopes_who5.png``, ``paired_slopes_pg.png``,
``paired_slopes_zrm.png``: one panel per outcome (rows) and site (columns); one line per
person from T0 to T1 (no labels), coloured by better / same / worse, thicker where several
persons have the same two scores; the black line is the mean; a panel with fewer than 5
pairs shows no lines (each line is a person). ``paired_change_summary.png``:
dz with its 95% CI per outcome, sign turned so that right = better, grouped by instrument and
sorted within it, with the minimum detectable effect marked.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
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

__all__ = [
    "outcome_info", "with_pg_mean", "change_table", "mixed_models", "rci_tables", "mde_table",
    "attrition_table", "theme_counts", "cooccurrence", "summary_table", "mde_text",
    "publishable", "headline_table", "per_site_detail_max", "analysis_scopes", "site_detail_note", "themes_overview", "cooccurrence_matrix", "plot_slopes", "plot_change_summary", "load_tables", "analyse", "run",
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
    wide = iv.pivot(index="person_id", columns="wave", values=PG_MEAN)
    pr = pairs.copy()
    pr[f"{PG_MEAN}_t0"] = pr["person_id"].map(wide["T0"]).astype("float64")
    pr[f"{PG_MEAN}_t1"] = pr["person_id"].map(wide["T1"] if "T1" in wide else pd.Series(dtype=float)).astype("float64")
    pr[f"{PG_MEAN}_diff"] = pr[f"{PG_MEAN}_t1"] - pr[f"{PG_MEAN}_t0"]
    return iv, pr


def _xy(frame: pd.DataFrame, outcome: str) -> tuple[pd.Series, pd.Series]:
    return (frame[f"{outcome}_t0"].astype("Float64").astype(float),
            frame[f"{outcome}_t1"].astype("Float64").astype(float))


def _settings(n_resamples, seed, alpha=None):
    cfg = config.study()["analysis"]
    return (int(cfg["bootstrap_resamples"] if n_resamples is None else n_resamples),
            int(cfg["seed"] if seed is None else seed),
            float(cfg["alpha"] if alpha is None else alpha))


# --- paired change per outcome ----------------------------------------------------------------


def _groups(pairs: pd.DataFrame, scopes) -> list[tuple[str, str, pd.DataFrame]]:
    out = []
    for scope in scopes:
        if scope == "all":
            out.append(("all", "alle", pairs))
        elif scope == "site":
            out.extend(("site", s, g) for s, g in pairs.groupby("site", sort=True))
        elif scope == "interval_ok":
            out.append(("interval_ok", "alle", pairs[pairs["interval_ok"].fillna(False).astype(bool)]))
        else:
            raise ValueError(f"scope {scope!r} unknown; use 'all', 'site' or 'interval_ok'")
    return out


_BOOT_CIS = {"mean change": "mean_change_ci_low", "median change (percentile)": "median_change_ci_low",
             "dz (bootstrap; use the noncentral-t interval)": "dz_boot_ci_low",
             "rank-biserial": "rank_biserial_ci_low"}


def _one_change(x: pd.Series, y: pd.Series, n_resamples: int, seed: int, caught: list) -> dict:
    """One outcome in one analysis set; ``caught`` holds the warnings raised meanwhile."""
    keep = x.notna() & y.notna()
    xs, ys = x[keep], y[keep]
    row = {"n_pairs": int(keep.sum()), "n_excluded_missing": int((~keep).sum()),
           "mean_t0": xs.mean(), "sd_t0": xs.std(ddof=1), "median_t0": xs.median(),
           "mean_t1": ys.mean(), "sd_t1": ys.std(ddof=1), "median_t1": ys.median(), "notes": ""}
    if keep.sum() < 2:
        row["notes"] = "fewer than 2 pairs: no change statistics"
        return row
    # The median's CI is a percentile bootstrap for every row (a choice, not a fallback):
    # for integer scores most leave-one-out medians are equal, so BCa's jackknife
    # acceleration is 0/0 and scipy returns no interval (Efron & Tibshirani 1993, ch. 14).
    res = ps.paired_change(xs.to_numpy(), ys.to_numpy(), median_ci_method="percentile",
                           n_resamples=n_resamples, seed=seed).iloc[0]
    row.update(res.drop(["n_pairs", "n_excluded_missing", "mean_t0", "mean_t1"]).to_dict())
    # scipy warns once per degenerate bootstrap; say which interval it left empty (paired.py,
    # bootstrap_ci: e.g. the median of integer changes, or dz when a resample has no spread)
    empty = [name for name, col in _BOOT_CIS.items() if pd.isna(row.get(col))]
    other = sorted({str(w).split(".")[0] for w in caught if "BCa" not in str(w) and "invalid value" not in str(w)})
    row["notes"] = "; ".join(([f"BCa interval not computable (degenerate bootstrap distribution): {', '.join(empty)}"]
                              if empty else []) + other)
    return row


def _workers() -> int:
    """Threads for :func:`change_table`: the CPUs this process may use (``KRACHTPUNTEN_THREADS`` overrides)."""
    if os.environ.get("KRACHTPUNTEN_THREADS"):
        return max(1, int(os.environ["KRACHTPUNTEN_THREADS"]))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def _warnings_per_thread():
    """Record warnings per worker thread (``local.caught``); other threads' warnings show as usual.

    ``warnings.catch_warnings(record=True)`` swaps process-wide state and is not thread-safe
    (before Python 3.14), so the workers share one hook that files each warning under the
    thread that raised it.
    """
    local = threading.local()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        shown = warnings.showwarning

        def record(message, category, filename, lineno, file=None, line=None):
            if hasattr(local, "caught"):
                local.caught.append(message)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = record
        yield local


def change_table(pairs: pd.DataFrame, info: pd.DataFrame, *, scopes=("all", "site", "interval_ok"),
                 n_resamples: int | None = None, seed: int | None = None, alpha: float | None = None) -> pd.DataFrame:
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
        Default from ``analysis/study.yaml``.

    Returns
    -------
    pandas.DataFrame
        ``paired_changes`` (columns in the module docstring). Holm's adjustment is applied to
        ``p_t`` and ``p_wilcoxon`` separately, over the outcomes of one scope and site.

    Notes
    -----
    Statistics from :func:`analysis.stats.paired.paired_change` (zeros dropped in the
    Wilcoxon test and the rank-biserial correlation; exact p up to 200 non-zero changes; BCa
    bootstrap resampling persons). A set with fewer than two complete pairs gets descriptives
    only.
    """
    n_resamples, seed, alpha = _settings(n_resamples, seed, alpha)
    tasks = [(scope, site, g, meta) for scope, site, g in _groups(pairs, scopes) for _, meta in info.iterrows()]

    def one(task) -> dict:
        scope, site, g, meta = task
        local.caught = []
        row = {"scope": scope, "site": site, **meta[["outcome", "label", "label_short", "instrument", "order",
                                                     "higher_is_better", "scale_low", "scale_high"]].to_dict()}
        row.update(_one_change(*_xy(g, meta["outcome"]), n_resamples, seed, local.caught))
        return row

    # Outcomes are independent and numpy releases the GIL in the bootstrap's array work, so
    # threads use both cores (1.7 times faster at 1,800 pairs); every bootstrap has its own
    # generator from the seed, so the results do not depend on the order (tested).
    with _warnings_per_thread() as local, ThreadPoolExecutor(max(1, min(_workers(), len(tasks)))) as pool:
        rows = list(pool.map(one, tasks))
    out = pd.DataFrame(rows)
    for col in ("p_t", "p_wilcoxon", "dz", "dz_ci_low", "dz_ci_high"):
        if col not in out:
            out[col] = np.nan
    out["p_t_holm"] = np.nan
    out["p_wilcoxon_holm"] = np.nan
    out["holm_m"] = 0
    for _, idx in out.groupby(["scope", "site"], sort=False).groups.items():
        for p, adj in (("p_t", "p_t_holm"), ("p_wilcoxon", "p_wilcoxon_holm")):
            h = ps.holm(out.loc[idx, p].astype(float), alpha=alpha)
            out.loc[idx, adj] = h["p_holm"].to_numpy()
            out.loc[idx, "holm_m"] = int(h["m"].iloc[0])
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
             "p_wilcoxon", "p_wilcoxon_holm", "holm_m", "dz", "dz_ci_low", "dz_ci_high", "dz_boot_ci_low",
             "dz_boot_ci_high", "rank_biserial", "rank_biserial_ci_low", "rank_biserial_ci_high",
             "dz_improvement", "dz_improvement_ci_low", "dz_improvement_ci_high", "confidence_level",
             "ci_method", "n_resamples", "seed", "notes"]
    for col in first:
        if col not in out:
            out[col] = np.nan
    out["n_zero"] = out["n_zero"].fillna(0).astype(int)
    return out[first]


# --- mixed model, reliable change, power ------------------------------------------------------


def mixed_models(interviews: pd.DataFrame, info: pd.DataFrame, changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sensitivity analysis: score ~ wave + site + (1 | person) per outcome, all interviews.

    Uses :func:`analysis.stats.paired.mixed_model_wave` on the long table, so persons seen only
    at T0 contribute (under missing at random). With one site only, site is left out.
    """
    multi_site = interviews["site"].nunique() > 1
    rows = []
    for o, meta in info.iterrows():
        r = ps.mixed_model_wave(interviews, o, person="person_id", site="site" if multi_site else None).iloc[0]
        rows.append({"outcome": o, "label": meta["label"], **r.to_dict()})
    out = pd.DataFrame(rows)
    if changes is not None:
        ref = changes[changes["scope"] == "all"].set_index("outcome")["mean_change"]
        out["paired_mean_change"] = out["outcome"].map(ref)
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
            counts.append({**base, "status": NOT_COMPUTED, "status_nl": NOT_COMPUTED_NL, "category": None})
            continue
        sd_t0 = float(t0[o].astype("Float64").astype(float).std(ddof=1))
        x, y = _xy(pairs, o)
        r = ps.reliable_change(x, y, scale=o, sd_t0=sd_t0, criterion=RCI_CRITERION)
        c = ps.reliable_change_counts(r)
        for _, row in c.iterrows():
            counts.append({**base, "status": "computed", "status_nl": "berekend", **row.to_dict(),
                           "reliability": float(entry["reliability"]), "reliability_kind": entry["kind"],
                           "reliability_source": entry["source"], "higher_is_better": bool(entry["higher_is_better"]),
                           "sd_t0": sd_t0, "s_diff": float(r["s_diff"].iloc[0]), "criterion": RCI_CRITERION,
                           "reliable_change_threshold": RCI_CRITERION * float(r["s_diff"].iloc[0])})
        persons.append(pd.DataFrame({"person_id": pairs["person_id"].to_numpy(), "site": pairs["site"].to_numpy(),
                                     "outcome": o, "t0": r["t0"].to_numpy(), "t1": r["t1"].to_numpy(),
                                     "change": r["change"].to_numpy(), "rci": r["rci"].to_numpy(),
                                     "category": r["category"].astype(object).to_numpy()}))
    cols = ["outcome", "label", "status", "status_nl", "category", "n", "proportion", "n_classified", "n_missing",
            "reliability", "reliability_kind", "reliability_source", "higher_is_better", "sd_t0", "s_diff",
            "criterion", "reliable_change_threshold"]
    counts = pd.DataFrame(counts).reindex(columns=cols)
    counts[["n", "n_classified", "n_missing"]] = counts[["n", "n_classified", "n_missing"]].astype("Int64")
    persons = pd.concat(persons, ignore_index=True) if persons else pd.DataFrame(
        columns=["person_id", "site", "outcome", "t0", "t1", "change", "rci", "category"])
    return counts, persons


def mde_table(changes: pd.DataFrame, *, alpha: float | None = None, power: float = POWER) -> pd.DataFrame:
    """Minimum detectable effect per scope, site and outcome for the achieved number of pairs.

    :func:`analysis.stats.paired.minimum_detectable_effect` (paired t-test, two-sided); in scale
    units with the observed SD of the changes. Also at ``alpha / holm_m``: the threshold that
    Holm's procedure applies to the smallest p-value of the family.
    """
    _, _, alpha = _settings(None, None, alpha)
    rows = []
    cache: dict = {}
    for _, r in changes.iterrows():
        n, m = int(r["n_pairs"]), int(r["holm_m"]) or 1
        row = {"scope": r["scope"], "site": r["site"], "outcome": r["outcome"], "label": r["label"],
               "n_pairs": n, "alpha": alpha, "power": power, "mde_dz": np.nan, "mde_dz_holm_strictest": np.nan,
               "holm_m": m, "sd_change": r["sd_change"], "mde_change": np.nan,
               "observed_dz": r["dz"], "observed_mean_change": r["mean_change"]}
        if n >= 2:
            for a, col in ((alpha, "mde_dz"), (alpha / m, "mde_dz_holm_strictest")):
                if (n, a) not in cache:
                    cache[(n, a)] = float(ps.minimum_detectable_effect(n, alpha=a, power=power)["dz"].iloc[0])
                row[col] = cache[(n, a)]
            sd = float(r["sd_change"])
            row["mde_change"] = row["mde_dz"] * sd if np.isfinite(sd) and sd > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def attrition_table(interviews: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    """:func:`analysis.interviews.attrition` for the outcome family, with labels."""
    out = ivmod.attrition(interviews, list(info.index))
    out.insert(2, "label", out["outcome"].map(info["label"]))
    return out


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
            rows.append({"mechanism": m, "mechanism_label": labels[m]["nl"], "change": c,
                         "change_label": labels[c]["nl"], "n_both": both, "n_mechanism": nm, "n_change": nc,
                         "n_interviewed": n_iv, "pct_change_with_mechanism": 100 * both / nc if nc else np.nan,
                         "lift": both * n_iv / (nm * nc) if nm and nc else np.nan})
    return pd.DataFrame(rows)


# --- summary and text -------------------------------------------------------------------------


def summary_table(res: dict, *, alpha: float | None = None, window: tuple[float, float] | None = None) -> pd.DataFrame:
    """Headline numbers for the report text: ``key``, ``value`` (unrounded), ``label`` (Dutch)."""
    _, _, alpha = _settings(None, None, alpha)
    lo, hi = window or ivmod.interval_window()
    iv, pr, ch, mde, rci, seg = (res[k] for k in ("interviews", "pairs", "changes", "mde", "rci", "segments"))
    items = []

    def add(key, value, label):
        items.append({"key": key, "value": value, "label": label})

    add("n_persons_t0", int((iv["wave"] == "T0").sum()), "Geïnterviewden op T0")
    add("n_persons_t1", int((iv["wave"] == "T1").sum()), "Geïnterviewden op T1")
    add("n_pairs", len(pr), "Personen met beide interviews (paren)")
    add("n_dropouts", int((iv["wave"] == "T0").sum()) - len(pr), "Uitvallers (alleen T0)")
    add("n_sites", int(iv["site"].nunique()), "Krachtpunten")
    months = pr["interval_months"].astype(float)
    add("interval_months_mean", months.mean(), "Gemiddelde tijd tussen T0 en T1 (maanden)")
    add("interval_months_min", months.min(), "Kortste tijd tussen T0 en T1 (maanden)")
    add("interval_months_max", months.max(), "Langste tijd tussen T0 en T1 (maanden)")
    add("n_interval_outside", int((~pr["interval_ok"].fillna(True).astype(bool)).sum()),
        f"Paren buiten het venster van {lo:g}-{hi:g} maanden")
    add("interval_window_low", lo, "Venster T0-T1: ondergrens (maanden)")
    add("interval_window_high", hi, "Venster T0-T1: bovengrens (maanden)")
    all_m = mde[mde["scope"] == "all"]
    add("mde_dz_all", float(all_m["mde_dz"].min()),
        "Kleinste aantoonbare effect (dz, 80% power) bij alle paren (uitkomst met de meeste paren)")
    add("mde_dz_all_holm", float(all_m["mde_dz_holm_strictest"].min()),
        "Idem, bij de strengste Holm-drempel (alpha gedeeld door het aantal uitkomsten)")
    site_n = pr.groupby("site").size()
    add("median_pairs_per_site", float(site_n.median()), "Mediaan aantal paren per krachtpunt")
    if len(site_n) and site_n.median() >= 2:
        add("mde_dz_site", float(ps.minimum_detectable_effect(int(site_n.median()), alpha=alpha, power=POWER)["dz"].iloc[0]),
            "Kleinste aantoonbare effect (dz, 80% power) per krachtpunt (mediaan aantal paren)")
    allc = ch[ch["scope"] == "all"].set_index("outcome")
    for o, r in allc.iterrows():
        add(f"mean_change_{o}", r["mean_change"], f"Gemiddelde verandering T1-T0: {r['label']}")
        add(f"mean_change_ci_low_{o}", r["mean_change_ci_low"], f"95%-BI ondergrens: {r['label']}")
        add(f"mean_change_ci_high_{o}", r["mean_change_ci_high"], f"95%-BI bovengrens: {r['label']}")
        add(f"dz_{o}", r["dz"], f"Cohen's dz: {r['label']}")
        add(f"p_t_holm_{o}", r["p_t_holm"], f"p (gepaarde t-toets, Holm-gecorrigeerd): {r['label']}")
        add(f"p_wilcoxon_holm_{o}", r["p_wilcoxon_holm"], f"p (Wilcoxon, Holm-gecorrigeerd): {r['label']}")
        m = all_m.set_index("outcome").loc[o]
        add(f"mde_change_{o}", m["mde_change"], f"Kleinste aantoonbare verandering in schaalpunten: {r['label']}")
    add("n_outcomes_holm_t", int((allc["p_t_holm"] < alpha).sum()),
        f"Uitkomsten met Holm-gecorrigeerde p < {_num(alpha)} (t-toets)")
    add("n_outcomes_holm_wilcoxon", int((allc["p_wilcoxon_holm"] < alpha).sum()),
        f"Uitkomsten met Holm-gecorrigeerde p < {_num(alpha)} (Wilcoxon)")
    who = rci[(rci["outcome"] == "who5") & (rci["status"] == "computed")]
    cat_nl = {"improved": "betrouwbaar verbeterd", "unchanged": "geen betrouwbare verandering",
              "worse": "betrouwbaar verslechterd"}
    for _, r in who.iterrows():
        add(f"rci_who5_{r['category']}", int(r["n"]), f"WHO-5: {cat_nl[r['category']]} (personen, RCI)")
    if len(who):
        add("rci_who5_threshold", float(who["reliable_change_threshold"].iloc[0]),
            "WHO-5: kleinste betrouwbare verandering (punten, RCI)")
    add("n_rci_not_computed", int((rci["status"] == NOT_COMPUTED).sum()),
        "Uitkomsten zonder RCI (geen geverifieerde betrouwbaarheid)")
    add("n_segments", len(seg), "Gecodeerde fragmenten")
    add("n_codes_used", int(seg["code"].nunique()), "Gebruikte codes")
    out = pd.DataFrame(items)
    # counts stay whole numbers in the CSV ("21", not "21.0")
    out["value"] = pd.Series([v if isinstance(v, int) else float(v) for v in (i["value"] for i in items)], dtype=object)
    return out


def _summary_value(summary: pd.DataFrame, key: str):
    s = summary.set_index("key")["value"]
    if key not in s.index:
        raise ValueError(f"paired_summary has no key {key!r}")
    return s[key]


def mde_text(summary: pd.DataFrame, changes: pd.DataFrame | None = None) -> str:
    """What n pairs can and cannot show, in plain Dutch (Markdown), from the computed numbers.

    Every number in the text comes from ``summary`` (``paired_summary``), so the text follows
    the data. ``changes`` (optional) adds the WHO-5 example in scale points.
    """
    n = int(_summary_value(summary, "n_pairs"))
    n0 = int(_summary_value(summary, "n_persons_t0"))
    dz = float(_summary_value(summary, "mde_dz_all"))
    dz_h = float(_summary_value(summary, "mde_dz_all_holm"))
    keys = set(summary["key"])
    site = ("mde_dz_site" in keys, )
    text = [
        f"**Wat {n} paren wel en niet kunnen laten zien.** Van de {n0} mensen die aan het begin "
        f"zijn geïnterviewd, zijn er {n} ook na ongeveer een half jaar opnieuw gesproken. Met zo'n "
        f"kleine groep kan het onderzoek alleen **grote** veranderingen met enige zekerheid vaststellen. "
        f"Een verandering moet gemiddeld minstens {fmt.number(dz, 2)} keer zo groot zijn als de "
        f"spreiding van de veranderingen tussen personen (Cohen's dz) om in 8 van de 10 vergelijkbare "
        f"onderzoeken op te vallen (80% kans, p < 0,05). Omdat we {int(changes['holm_m'].max()) if changes is not None else 17} "
        f"uitkomsten tegelijk bekijken en daarvoor corrigeren (Holm), moet de duidelijkste verandering "
        f"zelfs {fmt.number(dz_h, 2)} keer die spreiding zijn."
    ]
    if "mde_change_who5" in keys and np.isfinite(float(_summary_value(summary, "mde_change_who5"))):
        pts = float(_summary_value(summary, "mde_change_who5"))
        text.append(
            f"Voor welbevinden (WHO-5, 0-100) betekent dat: een gemiddelde vooruitgang van minder dan "
            f"ongeveer {fmt.number(pts, 0)} punten valt in deze groep meestal niet op, ook als die er wel is "
            f"(10 punten geldt als een betekenisvolle verandering voor één persoon).")
    if site[0]:
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
                 "ties", "r_plus", "r_minus", "p_wilcoxon", "p_wilcoxon_holm", "dz", "dz_ci_low",
                 "dz_ci_high", "dz_boot_ci_low", "dz_boot_ci_high", "rank_biserial", "rank_biserial_ci_low",
                 "rank_biserial_ci_high", "dz_improvement", "dz_improvement_ci_low", "dz_improvement_ci_high"]


def publishable(res: dict, *, min_cell: int | None = None) -> dict[str, pd.DataFrame]:
    """The publishable versions of the results tables (counts 1 to min_cell - 1 as "<5").

    See the module docstring for the rules. Inputs are not modified.
    """
    k = int(config.study()["analysis"]["min_cell"] if min_cell is None else min_cell)
    sup = fmt.suppress_small_cells
    out = {}
    ch = res["changes"]
    out["paired_changes"] = sup(sup(ch, ["n_pairs", "n_zero"], k, derived={"n_pairs": _CHANGE_STATS}),
                                ["n_excluded_missing"], k)
    out["paired_mixed_model"] = sup(res["mixed_model"], ["n_persons", "n_complete_pairs"], k,
                                    derived={"n_persons": ["estimate", "se", "z", "p", "ci_low", "ci_high"]})
    rci = res["rci"].copy()
    comp = rci["status"] == "computed"
    out["paired_rci"] = pd.concat([sup(rci[comp], ["n", "n_missing", "n_classified"], k,
                                       derived={"n": ["proportion"], "n_classified": ["proportion"]}), rci[~comp]])
    # the MDE follows from n alone, and the observed figures rest on those n persons
    out["paired_mde"] = sup(res["mde"], ["n_pairs"], k, derived={"n_pairs": [
        "mde_dz", "mde_dz_holm_strictest", "sd_change", "mde_change", "observed_dz", "observed_mean_change"]})
    att = res["attrition"]
    out["paired_attrition"] = sup(att, ["n_persons_completers", "n_persons_dropouts", "n_completers", "n_dropouts"], k,
                                  derived={"n_completers": ["mean_completers", "sd_completers", "difference"],
                                           "n_dropouts": ["mean_dropouts", "sd_dropouts", "difference"],
                                           "n_persons_completers": ["mean_completers", "sd_completers", "difference"],
                                           "n_persons_dropouts": ["mean_dropouts", "sd_dropouts", "difference"]})
    out["paired_themes"] = sup(res["themes"].drop(columns="n_segments"), ["n_persons", "n_interviewed"], k,
                               derived={"n_persons": ["pct_persons"], "n_interviewed": ["pct_persons"]})
    out["paired_cooccurrence"] = sup(res["cooccurrence"], ["n_both", "n_mechanism", "n_change"], k,
                                     derived={"n_both": ["pct_change_with_mechanism", "lift"],
                                              "n_mechanism": ["lift"], "n_change": ["pct_change_with_mechanism", "lift"]})
    summ = res["summary"].copy()
    counts = summ["key"].isin(["n_dropouts", "n_interval_outside"]) | summ["key"].str.startswith("rci_who5_") & (
        summ["key"] != "rci_who5_threshold")
    small = counts & summ["value"].map(lambda v: 1 <= float(v) < k)
    summ["value"] = summ["value"].astype(object)
    summ.loc[small, "value"] = f"<{k}"
    out["paired_summary"] = summ
    return out


# --- display helpers (notebook 03) -------------------------------------------------------------


def headline_table(changes: pd.DataFrame, scope: str = "all") -> pd.DataFrame:
    """The main columns of ``paired_changes`` for one scope, for display (values unchanged).

    Empty (with the columns) for a scope that was not computed, e.g. ``"site"`` with more than
    ``analysis.per_site_detail_max`` sites.
    """
    if scope not in ("all", "site", "interval_ok"):
        raise ValueError(f"scope {scope!r} unknown; use 'all', 'site' or 'interval_ok'")
    cols = ["site", "label", "n_pairs", "mean_t0", "mean_t1", "mean_change", "mean_change_ci_low",
            "mean_change_ci_high", "median_change", "p_t", "p_t_holm", "p_wilcoxon", "p_wilcoxon_holm", "dz",
            "dz_ci_low", "dz_ci_high", "rank_biserial"]
    return changes.loc[changes["scope"] == scope, cols].reset_index(drop=True)


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
                min_cell: int | None = None):
    """Paired slope plots: rows = the instrument's outcomes, columns = sites; no person labels.

    A panel with 1 to ``min_cell - 1`` pairs (default ``analysis.min_cell``) shows no lines,
    only a note: the same rule as the tables, since each line is one person.

    One line per person from T0 to T1, coloured by better / same / worse in the outcome's own
    direction; persons with the same two scores share one line, drawn thicker. The black line
    joins the means. With more than ``analysis.per_site_detail_max`` sites, one column shows
    all sites pooled.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    min_cell = int(config.study()["analysis"]["min_cell"] if min_cell is None else min_cell)
    rows = info[info["instrument"] == instrument]
    if rows.empty:
        raise ValueError(f"no outcomes for instrument {instrument!r}; use one of {list(INSTRUMENTS)}")
    sites = sorted(pairs["site"].unique())
    pooled = len(sites) > per_site_detail_max()
    cols = [("alle", pairs)] if pooled else [(s, g) for s, g in pairs.groupby("site", sort=True)]
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
            hidden = 0 < len(pts) < min_cell
            if hidden:  # individual lines of fewer than min_cell persons are not published
                ax.text(0.5, 0.5, f"minder dan {min_cell} paren:\nniet getoond", transform=ax.transAxes,
                        ha="center", va="center", fontsize=8, color="0.35")
                pts = pts.iloc[:0]
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
            ax.set_xlabel(f"n < {min_cell}" if hidden else f"n = {len(pts)}", fontsize=8, color="0.3", labelpad=1)
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


def plot_change_summary(changes: pd.DataFrame, mde: pd.DataFrame):
    """Mean change per outcome as dz with 95% CI (all pairs), right = better, MDE marked."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    t = changes[(changes["scope"] == "all") & changes["dz_improvement"].notna()].copy()
    if t.empty:
        raise ValueError("no outcome with a dz to plot")
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
    mde_dz = mde[mde["scope"] == "all"]["mde_dz"].min()
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
            scopes=("all", "site", "interval_ok")) -> dict[str, pd.DataFrame]:
    """Every unsuppressed results table of notebook 03 from the cleaned tables (nothing written).

    Scope ``"site"`` is left out with more than ``analysis.per_site_detail_max`` sites
    (:func:`analysis_scopes`; module docstring).
    """
    cb = cb or cbmod.load()
    info = outcome_info(cb)
    iv, pr = with_pg_mean(interviews, pairs)
    res = {"info": info, "interviews": iv, "pairs": pr, "segments": segments}
    res["changes"] = change_table(pr, info, scopes=analysis_scopes(pr, scopes), n_resamples=n_resamples, seed=seed)
    res["mixed_model"] = mixed_models(iv, info, res["changes"])
    res["rci"], res["rci_persons"] = rci_tables(iv, pr, info)
    res["mde"] = mde_table(res["changes"])
    res["attrition"] = attrition_table(iv, info)
    res["themes"] = theme_counts(segments, iv, cb)
    res["cooccurrence"] = cooccurrence(segments, iv, cb)
    res["summary"] = summary_table(res)
    return res


RESULT_TABLES = {"paired_changes": "changes", "paired_mixed_model": "mixed_model", "paired_rci": "rci",
                 "paired_mde": "mde", "paired_attrition": "attrition", "paired_themes": "themes",
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
    pub = publishable(res)
    written = []
    for name, key in RESULT_TABLES.items():
        written.append((results.write_result(pub[name], name, out), "publishable"))
        written.append((results.write_result(res[key], name, out, internal=True), "internal"))
    written.append((results.write_result(res["rci_persons"], "paired_rci_persons", out, internal=True), "internal"))
    import matplotlib.pyplot as plt

    for inst in INSTRUMENTS:
        fig = plot_slopes(res["pairs"], res["info"], inst)
        written.append((results.save_figure(fig, f"paired_slopes_{inst}", out), "figure"))
        plt.close(fig)
    fig = plot_change_summary(res["changes"], res["mde"])
    written.append((results.save_figure(fig, "paired_change_summary", out), "figure"))
    plt.close(fig)
    return {"res": res, "published": pub,
            "written": pd.DataFrame([(str(Path(p).relative_to(out)), k) for p, k in written], columns=["file", "kind"])}
