"""Interviews: both waves cleaned into one long table, scored, paired, and the coded segments.

STUDY.md section 2 ("Interviews", "Scoring") and section 6 ("03 paired"). The structured part
of each interview is read from ``interviews.xlsx`` (one sheet per wave, the sheet → wave
mapping is in the codebook) through the generic cleaning engine (:mod:`analysis.clean`), so
the rules and the cleaning log are the same as for the reach questionnaires:

* a known spelling variant becomes its code (logged); "weet niet" becomes missing (logged);
  an empty cell is simply missing;
* an out-of-range score (e.g. Positieve Gezondheid "meedoen" = 12 on a 0-10 scale) becomes
  missing (logged by :func:`analysis.clean.map_source`);
* an unknown code or an unreadable number is a problem naming file[sheet], row and column;
* what a missing item does to a scale score is logged too (one row per missing item, the rule
  naming the consequence), so that every score that is missing or computed over fewer items
  can be traced to its raw cell;
* an interview without any score item (every DJG, WHO-5, PG and ZRM item empty) is removed as
  out of scope, like an empty reach form (logged; the flow counts it in ``out_of_scope``);
* a missing interview date leaves the pair's interval and ``interval_ok`` missing (logged); the
  pair stays in every analysis except the one within the interval window;
* a row without a person ID, a person interviewed twice in one wave, a person at T1 who has no
  T0 interview, a person at another site at T1 than at T0, or a T1 date before the T0 date (or
  more than 36 months after it) are entry errors, not things cleaning can guess: problems.

Every problem of both sheets and of the segments export is found in one pass, one problem per
offending row (:mod:`analysis.problems`); the run then stops with one
:class:`~analysis.readers.RawDataError` listing them all. Cross-sheet checks run only when both
sheets could be read, and the segments are checked against the sheets that were read. Problems
never show a raw person ID or document name (the value column says "not shown"): the raw ID is
the key to a named person's interview, problems.csv and error messages end up in terminals and
logs, and the row number (with the other sheet's row where one is involved) finds it just as
well.

Person IDs are pseudonymised with the keyed hash of :func:`analysis.clean.pseudonymise`
(input ``"<site>:<raw id>"``, prefix ``"I"``); the coded segments use the same key and the same
input, so a person has one pseudonym in the interviews, the pairs and the segments.

Scores (:mod:`analysis.scoring`): De Jong Gierveld total / emotional / social with the
manual's missing-item rule (total over five items when one is missing, missing when more are;
a subscale missing when any of its items is), WHO-5 0-100 (all five items needed), the six
Positieve Gezondheid dimensions and six Zelfredzaamheid-Matrix domains as rated (no totals).
The codebook's interview tables have no Positieve Gezondheid mean; :mod:`analysis.changes`
adds it to its results only.

The interval between the waves is ``days / (365.25 / 12)`` months (a mean Gregorian month);
``interval_ok`` says whether it lies within ``analysis.interval_months`` of
``analysis/study.yaml`` (bounds included). Pairs outside the window are flagged, not dropped.

The segments export (one row per coded segment) is reduced to ``segment_id``, ``person_id``,
``site``, ``wave``, ``code_group``, ``code``: the segment text is never read into the tidy table
(STUDY.md section 9). The person and wave come from the document name through the pattern in
the codebook (``sources.segments.document``); a name that does not match, or that names a person
or wave without a structured interview, is a problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import clean, config
from analysis import codebook as cbmod
from analysis.cleanlog import CleaningLog
from analysis.fmt import suppress_small_cells
from analysis.problems import safe_value
from analysis.readers import ROW
from analysis.scoring import who5 as score_who5

FILE = clean.FILE
#: Prefix of interviewee pseudonyms (reach respondents are "R", proxy reports "P").
PREFIX = "I"
#: Days per month for the T0-T1 interval: the mean Gregorian month.
DAYS_PER_MONTH = 365.25 / 12
WAVES = ("T0", "T1")
DJG_ITEMS = [f"djg_{i}" for i in range(1, 7)]
WHO5_ITEMS = [f"who5_{i}" for i in range(1, 6)]
#: Tidy columns of the score items (an interview without any of them is out of scope).
ITEM_PREFIXES = ("djg_", "who5_", "pg_", "zrm_")

__all__ = [
    "InterviewData", "pseudonyms", "read_waves", "check_waves", "score", "pair", "attrition", "clean_segments",
    "clean_interviews", "clean_all_interviews", "outcomes", "interval_window",
]


def outcomes(cb: cbmod.Codebook | None = None) -> list[str]:
    """The outcome family of the paired analysis: ``tables.interview_pairs.outcomes``.

    >>> outcomes()[:4]
    ['djg_total', 'djg_emotional', 'djg_social', 'who5']
    """
    cb = cb or cbmod.load()
    return list(cb.table("interview_pairs")["outcomes"])


def interval_window(study: dict | None = None) -> tuple[float, float]:
    """The T0-T1 window in months from ``analysis/study.yaml`` (``analysis.interval_months``).

    >>> interval_window()
    (4.0, 8.0)
    """
    lo, hi = (study or config.study())["analysis"]["interval_months"]
    if not (0 <= lo < hi):
        raise ValueError(f"analysis.interval_months in study.yaml must be [low, high] with 0 <= low < high, got {[lo, hi]}")
    return float(lo), float(hi)


def pseudonyms(ids: pd.Series, sites: pd.Series, key: bytes) -> pd.Series:
    """Interviewee pseudonyms (prefix "I"): :func:`analysis.clean.pseudonymise` with this table's prefix.

    >>> p = pseudonyms(pd.Series(["DH-01", "DH-01", "DH-02"]), pd.Series(["DH"] * 3), b"k")
    >>> p.iloc[0] == p.iloc[1] != p.iloc[2], p.iloc[0][:1]
    (True, 'I')
    """
    return clean.pseudonymise(ids, sites, key, prefix=PREFIX)


# --- reading ----------------------------------------------------------------------------------


def _raw_column(cb: cbmod.Codebook, source: str, var: str) -> str:
    return cb.mapping(source, var)["column"]


#: Raw person IDs and document names are never shown in a problem (see the module docstring).
_ID_HIDDEN = "person ID"
_DOC_HIDDEN = "document name"


def read_waves(raw_dir: Path, cb: cbmod.Codebook, log: CleaningLog, problems=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read every interview sheet and map it through the codebook: one long tidy frame.

    Returns the frame (raw person IDs, a ``wave`` column from the sheet, plus ``_row`` and
    ``_file``) and the flow (per sheet read: file, wave, received). A row without a person ID
    and every further row of a person listed twice in one sheet are problems (one per row);
    a sheet that cannot be read is left out (its problems are in ``problems``). Without a
    collector all problems are raised together at the end.
    """
    problems, own = clean._collector(problems)
    parts, flow = [], []
    id_col = _raw_column(cb, "interviews", "person_id")
    for raw, file, extra in clean.read_source(raw_dir, "interviews", cb, problems=problems):
        wave = extra.get("wave")
        if wave not in WAVES:
            raise ValueError(f"analysis/codebook.yaml: sources.interviews.read.sheets maps a sheet to {wave!r}; waves are {WAVES}")
        tidy = clean.map_source(raw, "interviews", cb, log, file, extra, problems)
        if extra.get("absent"):  # a required column is missing: its cells are checked, the sheet is not used
            continue
        found = []  # (row, problem, fix, value), added in row order
        for i in tidy.index[tidy["person_id"].isna()]:
            found.append((int(tidy.at[i, ROW]), "interview without a person ID",
                          "fill in the person ID (the same as in the other wave and in the coded segments)", ""))
        known = tidy["person_id"].notna()
        first = tidy[known].drop_duplicates("person_id").set_index("person_id")[ROW]
        for i in tidy.index[known & tidy.duplicated("person_id")]:
            rows = tidy.loc[tidy["person_id"] == tidy.at[i, "person_id"], ROW].astype(int).tolist()
            found.append((int(tidy.at[i, ROW]), f"the same person ID as row {int(first[tidy.at[i, 'person_id']])}: "
                          f"a person is interviewed more than once in wave {wave} (rows {rows})",
                          "keep one interview per person per wave, or correct the ID",
                          safe_value(tidy.at[i, "person_id"], hidden=_ID_HIDDEN)))
        for row, problem, fix, value in sorted(found, key=lambda f: f[0]):
            problems.add(file, problem, fix, row=row, column=id_col, value=value)
        tidy.insert(2, "wave", wave)
        parts.append(tidy)
        flow.append({"file": file, "wave": wave, "received": len(raw)})
    if own:
        problems.finish()
    if not parts:  # no sheet could be read: the problems say why
        return (pd.DataFrame({c: pd.Series(dtype=object) for c in ("person_id", "site", "wave", "date", ROW, FILE)}),
                pd.DataFrame(flow, columns=["file", "wave", "received"]))
    return pd.concat(parts, ignore_index=True), pd.DataFrame(flow)


def check_waves(tidy: pd.DataFrame, cb: cbmod.Codebook, problems=None) -> None:
    """Entry errors across the waves are problems, one per T1 row (never guessed away).

    * a person at T1 without a T0 interview (there is nothing to pair with; a typo in the ID is
      the likely cause);
    * a person at another site at T1 than at T0 (the pseudonym depends on the site);
    * a T1 interview dated before the T0 interview, or more than 36 months after it (the
      codebook's range of ``interval_months``; a typo in a date is the likely cause).

    Call it only when both sheets were read (otherwise every T1 row would look orphaned).
    Rows without an ID are skipped (already a problem), and a person listed twice in T0 is
    compared with the first row. Without a collector all problems are raised together.
    """
    problems, own = clean._collector(problems)
    id_col = _raw_column(cb, "interviews", "person_id")
    known = tidy[tidy["person_id"].notna()]
    t0 = known[known["wave"] == "T0"].drop_duplicates("person_id").set_index("person_id")
    t1 = known[known["wave"] == "T1"]
    orphan = ~t1["person_id"].isin(t0.index)
    for i in t1.index[orphan]:
        problems.add(t1.at[i, FILE], "this person ID has a T1 interview but no T0 interview (no row of sheet T0 has it)",
                     "correct the ID (it must match the T0 sheet) or add the T0 interview",
                     row=int(t1.at[i, ROW]), column=id_col, value=safe_value(t1.at[i, "person_id"], hidden=_ID_HIDDEN))
    t1 = t1[~orphan]
    site0, row0 = t1["person_id"].map(t0["site"]), t1["person_id"].map(t0[ROW])
    moved = t1["site"].notna() & site0.notna() & (t1["site"] != site0)
    for i in t1.index[moved]:
        problems.add(t1.at[i, FILE], f"site {t1.at[i, 'site']!r} at T1 but {site0[i]!r} at T0 (sheet T0, row "
                     f"{int(row0[i])}); one person belongs to one site",
                     "correct the site or the person ID in one of the sheets", row=int(t1.at[i, ROW]),
                     column=_raw_column(cb, "interviews", "site"), value=safe_value(t1.at[i, "site"]))
    days = (t1["date"] - t1["person_id"].map(t0["date"])).dt.days
    lo, hi = cb.value_range("interval_months")
    bad = days.notna() & ((days < (lo or 0) * DAYS_PER_MONTH) | (days > (hi or np.inf) * DAYS_PER_MONTH))
    for i in t1.index[bad]:
        gap = f"{int(days[i])} days after" if days[i] >= 0 else f"{-int(days[i])} days before"
        problems.add(t1.at[i, FILE], f"the T1 date is {gap} the T0 date (sheet T0, row {int(row0[i])}); the "
                     f"interval must be {lo}-{hi} months", "correct the date in either sheet",
                     row=int(t1.at[i, ROW]), column=_raw_column(cb, "interviews", "date"),
                     value=safe_value(pd.Timestamp(t1.at[i, "date"]).date().isoformat()))
    if own:
        problems.finish()


def remove_unscored(tidy: pd.DataFrame, log: CleaningLog) -> tuple[pd.DataFrame, pd.Series]:
    """Remove interviews without a single score item (every DJG, WHO-5, PG and ZRM item empty).

    Like an empty reach form (:func:`analysis.clean.remove_empty`) such a row is out of scope:
    nothing to score or pair. One log row per removed interview; the person then counts as not
    interviewed at that wave (a T0 interview with an empty T1 makes a drop-out). Returns the kept
    rows and, per file, the number removed; the input is not modified.
    """
    items = [c for c in tidy.columns if c.startswith(ITEM_PREFIXES)]
    empty = tidy[items].isna().all(axis=1) if items else pd.Series(False, index=tidy.index)
    log.remove_rows(tidy.loc[empty, FILE], tidy.loc[empty, ROW],
                    "interview without any score (every DJG, WHO-5, PG and ZRM item empty): removed as out of "
                    "scope (nothing to score or pair); the person counts as not interviewed at this wave")
    return tidy[~empty], tidy.loc[empty, FILE].value_counts()


def log_missing_dates(tidy: pd.DataFrame, cb: cbmod.Codebook, log: CleaningLog) -> None:
    """One log row per missing interview date of a person interviewed at both waves: the pair
    stays in every analysis, but its interval (``interval_months``, ``interval_ok``) is missing,
    so it cannot be checked against the window and is not in the ``interval_ok`` analysis."""
    both = tidy["person_id"].isin(tidy.loc[tidy["wave"] == "T0", "person_id"]) & \
        tidy["person_id"].isin(tidy.loc[tidy["wave"] == "T1", "person_id"])
    hit = both & tidy["date"].isna()
    log.add_many(tidy.loc[hit, FILE], tidy.loc[hit, ROW], _raw_column(cb, "interviews", "date"), "", "",
                 "interview date missing: the T0-T1 interval of this pair cannot be computed (interval_months "
                 "and interval_ok missing); the pair is analysed, but not in the interval_ok analysis")


# --- scoring ----------------------------------------------------------------------------------


def score(tidy: pd.DataFrame, cb: cbmod.Codebook, log: CleaningLog) -> pd.DataFrame:
    """Add ``djg_emotional``, ``djg_social``, ``djg_total`` and ``who5``; log what missing items did.

    De Jong Gierveld (De Jong Gierveld & Van Tilburg 2006, *Manual of the Loneliness Scale*,
    section 8): the total is the count over the answered items when at most one is missing
    (not prorated) and missing otherwise; a subscale is missing when any of its items is.
    WHO-5 (Topp et al. 2015) needs all five items. Scoring itself is
    :func:`analysis.clean._djg` (the tidy code ``min_of_meer`` is the answer "min of meer") and
    :func:`analysis.scoring.who5`. One log row per missing item of an interview whose score it
    changes; the input is not modified.
    """
    out = tidy.copy()
    djg = clean._djg(out)
    for col in ("djg_emotional", "djg_social", "djg_total"):
        out[col] = djg[col]
    out["who5"] = score_who5(out, WHO5_ITEMS)["score"].astype("Int64")
    subscale = {v: cb.variable(v)["subscale"] for v in DJG_ITEMS}
    miss = out[DJG_ITEMS].isna()
    n_miss = miss.sum(axis=1)
    for i in out.index[(n_miss > 0) & (n_miss < len(DJG_ITEMS))]:
        items = [v for v in DJG_ITEMS if miss.at[i, v]]
        subs = sorted({f"djg_{subscale[v]}" for v in items})
        if len(items) == 1:
            rule = (f"DJG item not answered: djg_total counted over the 5 answered items (manual, not prorated); "
                    f"{', '.join(subs)} missing")
        else:
            rule = (f"{len(items)} DJG items not answered: djg_total missing (manual: at most one missing item); "
                    f"{', '.join(subs)} missing")
        for v in items:
            log.add(out.at[i, FILE], out.at[i, ROW], _raw_column(cb, "interviews", v), "", "", rule)
    wmiss = out[WHO5_ITEMS].isna()
    wn = wmiss.sum(axis=1)
    for i in out.index[(wn > 0) & (wn < len(WHO5_ITEMS))]:
        for v in [v for v in WHO5_ITEMS if wmiss.at[i, v]]:
            log.add(out.at[i, FILE], out.at[i, ROW], _raw_column(cb, "interviews", v), "", "",
                    "WHO-5 item not answered: who5 missing (all five items needed)")
    return out


# --- pairs and attrition ----------------------------------------------------------------------


def pair(interviews: pd.DataFrame, outcome_cols: list[str], window: tuple[float, float]) -> pd.DataFrame:
    """Wide pairs: one row per person with both waves, ``<outcome>_t0/_t1/_diff`` per outcome.

    Parameters
    ----------
    interviews : pandas.DataFrame
        Long table, one row per person per wave (``person_id``, ``site``, ``wave``, ``date``
        and the outcome columns). Not modified.
    outcome_cols : list of str
        Outcomes to pair.
    window : (float, float)
        The interval window in months (bounds included).

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``site``, ``interval_months`` (``days / (365.25/12)``), ``interval_ok``
        (nullable boolean, missing when a date is), then per outcome ``_t0``, ``_t1``, ``_diff``
        (``t1 - t0``). Rows are joined on ``person_id`` only: two rows are never combined
        unless they carry the same ID, and a person with two sites or two rows in a wave
        raises ``ValueError``.

    Examples
    --------
    >>> long = pd.DataFrame({"person_id": ["a", "a", "b"], "site": "DH", "wave": ["T0", "T1", "T0"],
    ...                      "date": pd.to_datetime(["2025-01-01", "2025-07-02", "2025-01-05"]),
    ...                      "who5": pd.array([40, 52, 60], dtype="Int64")})
    >>> p = pair(long, ["who5"], (4, 8))  # 182 days / (365.25 / 12) = 5.98 months
    >>> p[["person_id", "interval_months", "who5_diff"]].round(2).to_dict("records")
    [{'person_id': 'a', 'interval_months': 5.98, 'who5_diff': 12}]
    """
    need = ["person_id", "site", "wave", "date", *outcome_cols]
    absent = [c for c in need if c not in interviews]
    if absent:
        raise ValueError(f"pair: columns {absent} missing from the interviews table")
    if interviews.duplicated(["person_id", "wave"]).any():
        raise ValueError("pair: more than one row for a person in one wave; clean the interviews first")
    if set(interviews["wave"].dropna()) - set(WAVES):
        raise ValueError(f"pair: waves must be {WAVES}")
    t0 = interviews[interviews["wave"] == "T0"].set_index("person_id")
    t1 = interviews[interviews["wave"] == "T1"].set_index("person_id")
    both = t0.index.intersection(t1.index, sort=False)
    t0, t1 = t0.loc[both], t1.loc[both]
    if (t0["site"] != t1["site"]).any():
        raise ValueError("pair: a person has a different site at T1 than at T0")
    months = (t1["date"] - t0["date"]).dt.days / DAYS_PER_MONTH
    lo, hi = window
    ok = pd.array((months >= lo) & (months <= hi), dtype="boolean")
    ok[months.isna().to_numpy()] = pd.NA
    # the ID and site keep the interviews' types, also without any pair (an empty T1 sheet)
    out = pd.DataFrame({"person_id": pd.array(both.to_numpy(dtype=object), dtype="str"),
                        "site": pd.array(t0["site"].to_numpy(dtype=object), dtype="str"),
                        "interval_months": months.astype("float64").to_numpy(), "interval_ok": ok})
    cols = {}
    for o in outcome_cols:
        a, b = t0[o].to_numpy(), t1[o].to_numpy()
        cols[f"{o}_t0"] = pd.array(a, dtype=t0[o].dtype)
        cols[f"{o}_t1"] = pd.array(b, dtype=t1[o].dtype)
        cols[f"{o}_diff"] = cols[f"{o}_t1"] - cols[f"{o}_t0"]
    out = pd.concat([out, pd.DataFrame(cols)], axis=1)
    return out.sort_values(["site", "person_id"], kind="mergesort").reset_index(drop=True)


def attrition(interviews: pd.DataFrame, outcome_cols: list[str]) -> pd.DataFrame:
    """Completers (T0 and T1) against drop-outs (T0 only), at T0: n and mean (SD) per outcome.

    Returns a long table, one row per site (``"alle"`` for all sites together) and outcome:
    ``site``, ``outcome``, ``n_persons_completers``, ``n_persons_dropouts`` (persons, whatever
    their outcome), ``n_completers``, ``mean_completers``, ``sd_completers``, ``n_dropouts``,
    ``mean_dropouts``, ``sd_dropouts`` (n, mean and SD of the T0 values that are not missing),
    ``difference`` (drop-outs minus completers). Descriptive only: with a handful of drop-outs
    a test would say nothing. Not modified: ``interviews``.
    """
    t0 = interviews[interviews["wave"] == "T0"]
    t1_ids = set(interviews.loc[interviews["wave"] == "T1", "person_id"])
    completer = t0["person_id"].isin(t1_ids).to_numpy()
    # the outcomes as one float matrix and the rows of each site found once (a pandas filter per
    # site and outcome took seconds for a national monitor); per group the same numpy reductions
    # as Series.mean / Series.std(ddof=1), so the numbers are those of a per-group pandas call
    values = np.column_stack([pd.to_numeric(t0[o], errors="coerce").astype(float).to_numpy()
                              for o in outcome_cols]) if outcome_cols else np.empty((len(t0), 0))
    site = t0["site"].to_numpy()
    groups = [("alle", np.arange(len(t0)))] + [(s, np.flatnonzero(site == s)) for s in sorted(pd.unique(site))]

    def mean_sd(a):
        a = a[~np.isnan(a)]
        return a.size, (a.mean() if a.size else np.nan), (a.std(ddof=1) if a.size > 1 else np.nan)

    rows = []
    for name, idx in groups:
        comp = completer[idx]
        sub = values[idx]
        for j, o in enumerate(outcome_cols):
            na, ma, sa = mean_sd(sub[comp, j])
            nb, mb, sb = mean_sd(sub[~comp, j])
            rows.append({
                "site": name, "outcome": o,
                "n_persons_completers": int(comp.sum()), "n_persons_dropouts": int((~comp).sum()),
                "n_completers": na, "mean_completers": ma, "sd_completers": sa,
                "n_dropouts": nb, "mean_dropouts": mb, "sd_dropouts": sb,
            })
    out = pd.DataFrame(rows)
    out["difference"] = out["mean_dropouts"] - out["mean_completers"]
    return out


# --- coded segments ---------------------------------------------------------------------------


def clean_segments(raw_dir: Path, cb: cbmod.Codebook, log: CleaningLog, persons: pd.DataFrame,
                   key: bytes, problems=None, waves=WAVES) -> tuple[pd.DataFrame, dict] | tuple[None, None]:
    """The coded-segments export → one row per segment, without text.

    Parameters
    ----------
    persons : pandas.DataFrame
        The interviews read, with *raw* person IDs (``person_id``, ``site``, ``wave``): the
        site of a segment's person comes from there, and a document naming a person or wave
        without a structured interview is a problem.
    key : bytes
        The pseudonym key (the same as for the interviews).
    problems : analysis.problems.Problems, optional
        Where the problems go (one per row: a document name that does not match the pattern, an
        unknown wave, no such interview); without one they are raised together at the end.
    waves : collection of str
        The waves whose sheet was read: documents of another wave are not checked against the
        interviews (the sheet's own problems say why it could not be read).

    Returns
    -------
    (pandas.DataFrame, dict)
        The segments table (``segment_id``, ``person_id``, ``site``, ``wave``, ``code_group``,
        ``code``; ``segment_id`` numbers the kept segments in file order) and the flow row;
        ``(None, None)`` when the file could not be read or has a blocking problem.
    """
    src = cb.source("segments")
    doc = src.get("document")
    if not doc or "pattern" not in doc:
        raise ValueError("analysis/codebook.yaml: sources.segments needs document: {column, pattern}")
    pattern = re.compile(doc["pattern"])
    if not {"person_id", "wave"} <= set(pattern.groupindex):
        raise ValueError("analysis/codebook.yaml: sources.segments.document.pattern needs groups (?P<person_id>…) and (?P<wave>…)")
    problems, own = clean._collector(problems)
    before = problems.blocking_count
    items = clean.read_source(raw_dir, "segments", cb, problems=problems)
    if not items:
        if own:
            problems.finish()
        return None, None
    (raw, file, extra), = items
    tidy = clean.map_source(raw, "segments", cb, log, file, extra, problems)  # free text is not read
    if extra.get("absent"):  # a required column is missing (a problem already): nothing to check it against
        if own:
            problems.finish()
        return None, None
    col = doc["column"]
    names = raw[col].astype("string").str.strip()
    parsed = names.str.extract(pattern)
    rows = raw[ROW].astype(int)
    matched = parsed["person_id"].notna() & names.str.fullmatch(pattern.pattern).fillna(False).astype(bool)
    for i in raw.index[~matched]:
        problems.add(file, f"document name does not match the pattern {doc['pattern']!r} (person and wave, "
                     "e.g. 'DH-03_T0')", "rename the document in the coding software, or fix "
                     "sources.segments.document in analysis/codebook.yaml", row=rows[i], column=col,
                     value=safe_value(names[i], hidden=_DOC_HIDDEN))
    bad_wave = matched & ~parsed["wave"].isin(WAVES)
    for i in raw.index[bad_wave]:
        problems.add(file, f"the wave in the document name is not one of {list(WAVES)}",
                     "rename the document (person and wave, e.g. 'DH-03_T0')", row=rows[i], column=col,
                     value=safe_value(parsed.at[i, "wave"]))
    persons = persons[persons["person_id"].notna()]
    site_of = persons.drop_duplicates("person_id").set_index("person_id")["site"]
    known = pd.MultiIndex.from_frame(persons[["person_id", "wave"]])
    checkable = matched & ~bad_wave & parsed["wave"].isin(list(waves))
    has_interview = pd.Series(pd.MultiIndex.from_frame(parsed[["person_id", "wave"]].fillna("")).isin(known),
                              index=raw.index)
    for i in raw.index[checkable & ~has_interview]:
        wave = parsed.at[i, "wave"]
        if parsed.at[i, "person_id"] in site_of.index:
            what = f"a {wave} interview, but this person has no {wave} interview (only one at the other wave)"
        else:
            what = "a person who is in neither interview sheet"
        problems.add(file, f"the document is about {what}", "correct the document name or add the interview",
                     row=rows[i], column=col, value=safe_value(names[i], hidden=_DOC_HIDDEN))
    if problems.blocking_count > before:
        if own:
            problems.finish()
        return None, None
    no_code = tidy["code"].isna()
    if no_code.any():
        log.remove_rows(file, tidy.loc[no_code, ROW], "segment without a code: removed (nothing to count)")
    keep = ~no_code
    groups = {c: lab["group"] for c, lab in cb.code_labels("code").items()}
    sites = parsed.loc[keep, "person_id"].map(site_of)
    out = pd.DataFrame({
        "segment_id": pd.array(np.arange(1, int(keep.sum()) + 1), dtype="Int64"),
        "person_id": pseudonyms(parsed.loc[keep, "person_id"], sites, key).to_numpy(),
        "site": sites.to_numpy(),
        "wave": parsed.loc[keep, "wave"].to_numpy(),
        "code_group": tidy.loc[keep, "code"].map(groups).to_numpy(),
        "code": tidy.loc[keep, "code"].to_numpy(),
    })
    flow = {"file": file, "wave": "T0+T1", "received": len(raw), "out_of_scope": int(no_code.sum()),
            "kept": int(keep.sum())}
    return out, flow


# --- everything -------------------------------------------------------------------------------


@dataclass
class InterviewData:
    """The cleaned interview tables, their cleaning log and the flow (rows in and kept per file)."""

    interviews: pd.DataFrame
    pairs: pd.DataFrame
    segments: pd.DataFrame
    log: CleaningLog
    flow: pd.DataFrame


def clean_interviews(raw_dir: Path, cb: cbmod.Codebook | None = None, *, synthetic: bool | None = None,
                     problems=None) -> InterviewData | None:
    """Interviews (both waves), their pairs and the coded segments, cleaned and pseudonymised.

    Nothing is written; :func:`clean_all_interviews` validates and writes. See the module
    docstring for the rules. Every problem of both sheets and the segments export is found in
    one pass: with a ``problems`` collector (:class:`analysis.problems.Problems`) they are added
    there and None is returned when one of them blocks; without one they are raised together
    (one :class:`~analysis.readers.RawDataError`). Cross-sheet checks run only when both sheets
    were read.
    """
    raw_dir = Path(raw_dir)
    cb = cb or cbmod.load(raw_dir=raw_dir)
    synthetic = clean.is_synthetic(raw_dir) if synthetic is None else synthetic
    key = clean.pseudonym_key(synthetic)
    problems, own = clean._collector(problems)
    log = CleaningLog()
    tidy, flow = read_waves(raw_dir, cb, log, problems)
    waves = set(flow["wave"])
    if waves == set(WAVES):
        check_waves(tidy, cb, problems)
    persons = tidy[["person_id", "site", "wave"]]
    segments, seg_flow = clean_segments(raw_dir, cb, log, persons, key, problems, waves=waves)
    if own:
        problems.finish()  # warnings issued, blocking problems raised
    elif problems.blocking_count:  # every problem is found by now; what follows only shapes the output
        return None
    tidy, n_empty = remove_unscored(tidy, log)
    log_missing_dates(tidy, cb, log)
    tidy = score(tidy, cb, log)
    tidy["person_id"] = pseudonyms(tidy["person_id"], tidy["site"], key)
    flow["out_of_scope"] = flow["file"].map(n_empty).fillna(0).astype(int)
    flow["kept"] = flow["file"].map(tidy.groupby(FILE).size()).fillna(0).astype(int)
    flow = pd.concat([flow, pd.DataFrame([seg_flow])], ignore_index=True)
    if (flow["received"] != flow["out_of_scope"] + flow["kept"]).any():
        raise RuntimeError("rows in != rows kept + rows removed: a cleaning bug")
    interviews = clean._finish(tidy, cb, "interviews")
    interviews = interviews.sort_values(["site", "person_id", "wave"], kind="mergesort").reset_index(drop=True)
    pairs = pair(interviews, outcomes(cb), interval_window(cb.study))
    pairs = pairs[cb.table_columns("interview_pairs")]
    return InterviewData(interviews, pairs, segments, log, flow)


def clean_all_interviews(raw_dir: Path, out: Path) -> dict:
    """Notebook 03, first step: clean, validate and write the interview tables.

    Writes ``<out>/interviews``, ``interview_pairs``, ``segments`` and
    ``cleaning_log_interviews`` (Parquet + CSV) and ``<out>/results/interview_flow.csv`` (file,
    wave, received, out_of_scope, kept; counts 1-4 suppressed as "<5", STUDY.md section 9). Returns the tables, the log, the flow and the
    list of written files.
    """
    raw_dir, out = Path(raw_dir), Path(out)
    cb = cbmod.load(raw_dir=raw_dir)
    data = clean_interviews(raw_dir, cb)
    tables = {"interviews": data.interviews, "interview_pairs": data.pairs, "segments": data.segments}
    min_cell = int(config.study()["analysis"]["min_cell"])
    flow = suppress_small_cells(data.flow, ["received", "out_of_scope", "kept"], min_cell)
    log = data.log.frame()
    written = clean.write_outputs(out, tables, log=log, log_name="cleaning_log_interviews",
                                  flow=flow, flow_name="interview_flow", raw_dir=raw_dir,
                                  record_provenance=False)
    return {"tables": tables, "log": log, "flow": data.flow, "written": written}
