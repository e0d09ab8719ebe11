"""Cleaning: raw exports → tidy, typed, pseudonymised tables, every change logged.

Everything source-specific comes from ``analysis/codebook.yaml``; this module only knows the
*kinds* of mapping (coded value, multi-select as columns or as a separated list, number, date,
age text, free text). Rules, each logged in the cleaning log with the rule's name:

* a known spelling or label variant becomes its code (logged when the raw text differs from the
  export's usual label for that code: case, spaces, typos, other labels);
* a "missing" answer (weet niet, wil niet zeggen, SPSS user-missing 98/99) becomes missing
  (logged with the reason); an empty cell is simply missing (not logged);
* an unknown code, an unreadable number or a missing column is a problem (never turned into
  missing silently): every problem of every source is collected in one pass
  (:class:`analysis.problems.Problems`) and the run stops with one :class:`RawDataError` that
  lists them all, naming file, row and column (``problems.csv`` holds the full list);
* out-of-range numbers and impossible dates become missing (logged); so do dates outside the
  table's fieldwork window (study.yaml ``fieldwork``). Dates are read in the codebook's format
  or as ISO text (Excel's real date cells); a file whose date column is mostly unreadable (a
  changed export locale; study.yaml ``cleaning.unreadable_dates``) is one blocking problem;
* a birth year typed as age becomes the age in the survey year (logged);
* a postcode written in full becomes its PC4 (logged with the letters masked);
* multi-select answers of a question that did not apply become missing (logged when ticked);
* free-text and direct-identifier columns are never read into the tidy tables;
* duplicate forms and empty forms are removed (one log row per removed row, with the rule that
  matched), and rows in = rows kept + rows removed is checked. Form numbers decide where they
  exist (two numbers are two people); answers and timestamps (within study.yaml
  ``cleaning.resubmission_minutes``) only where they do not: a missing number, or a survey
  tool's response ID, new for every submission (:func:`remove_duplicates`);
* a missing form number gets a stand-in that no form number can equal before pseudonymising
  (logged).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import codebook as cbmod
from analysis.cleanlog import CleaningLog
from analysis.problems import Problems, safe_value
from analysis.readers import (ROW, RawDataError, codebook_value_labels, read_delimited, read_excel_sheet, read_sav,
                              sav_missing)
from analysis.config import sha256

FILE = "_file"
#: The full date and time of a form (the ``date`` column keeps only the day): duplicate forms
#: compare it (:func:`remove_duplicates`); never written to a processed table.
STAMP = "_stamp"
#: Environment variable holding the secret key for pseudonymised IDs.
KEY_ENV = "KRACHTPUNTEN_PSEUDONYM_KEY"
#: Documented default key, for the synthetic data only (README, "Real data").
SYNTHETIC_KEY = "krachtpunten-synthetic-data"


# --- reading ----------------------------------------------------------------------------------


def _required_columns(cb: cbmod.Codebook, source: str) -> list[str]:
    cols: list[str] = []
    for var, spec in cb.source(source)["columns"].items():
        if cb.variable(var)["type"] == "text":
            continue  # free text is optional: never read
        if "columns" in spec:
            cols.extend(spec["columns"])
        else:
            cols.append(spec["column"])
    doc = cb.source(source).get("document")
    if doc:
        cols.append(doc["column"])
    return cols


def read_source(raw_dir: Path, source: str, cb: cbmod.Codebook, site: str | None = None,
                problems: Problems | None = None) -> list[tuple[pd.DataFrame, str, dict]]:
    """Read one source's raw file(s): ``[(raw frame, file name, context)]``.

    ``context`` carries what the file itself says, e.g. the wave of an interview sheet or SPSS
    user-missing declarations. Workbooks with a sheet per wave give one item per sheet. With a
    ``problems`` collector a file that cannot be read adds its problems and is left out (so the
    other files are still checked); without one it raises :class:`RawDataError`.
    """
    if problems is None:
        return _read_source(raw_dir, source, cb, site, None)
    items = problems.attempt(_read_source, raw_dir, source, cb, site, problems) or []
    for frame, file, _ in items:
        problems.file_read(file, len(frame))
    return items


def expected_files(cb: cbmod.Codebook) -> set[str]:
    """The raw file names the codebook reads (every source, every site)."""
    names = {cb.file_name(source, site) for site, source in cb.site_sources().items()}
    return names | {cb.file_name(s) for s in cb.data["sources"] if "{site}" not in cb.source(s)["file"]}


def _read_source(raw_dir, source, cb, site, problems):
    src = cb.source(source)
    name = cb.file_name(source, site)
    path = Path(raw_dir) / name
    if path.is_symlink() and not path.exists():
        raise RawDataError(path, f"is a link to {os.readlink(path)}, which does not exist",
                           fix="copy the file itself into the raw-data folder, or repair the link")
    if not path.is_file():
        import difflib

        others = expected_files(cb)  # another source's file is never offered as this one
        present = sorted(p.name for p in Path(raw_dir).iterdir() if p.is_file() and p.name not in others) \
            if Path(raw_dir).is_dir() else []
        near = difflib.get_close_matches(name, present, n=1, cutoff=0.6) or \
            [p for p in present if p.casefold().split(".")[0] == name.casefold().split(".")[0]][:1]
        hint = f"is {near[0]!r} this file? Rename it (a different format must be exported again as the codebook says); " if near else ""
        raise RawDataError(path, f"not found in {raw_dir}",
                           fix=f"{hint}the codebook (sources.{source}.file) expects it there; for a site that "
                               "delivered no forms, put a file with only the header row there")
    required = _required_columns(cb, source)
    fmt, read = src["format"], src.get("read", {})
    if fmt == "csv":
        frame = read_delimited(path, sep=read["sep"], encoding=read.get("encoding", "utf-8-sig"), required=required,
                               problems=problems)
        return [(frame, name, {"absent": frame.attrs.get("absent", [])})]
    if fmt == "xlsx":
        if "sheets" in read:
            items = []
            for k, (sheet, wave) in enumerate(read["sheets"].items()):
                # the other sheets are looked at once: one holding forms (a third wave, say) is
                # never silently left out, an empty one is fine
                kwargs = {"sheet": sheet, "required": required, "expected_sheets": list(read["sheets"]) if k == 0 else None}
                if problems is None:
                    frame = read_excel_sheet(path, **kwargs)
                else:  # a broken sheet is reported and the other sheets are still read
                    frame = problems.attempt(read_excel_sheet, path, problems=problems, **kwargs)
                if frame is not None:
                    items.append((frame, f"{name}[{sheet}]", {"wave": wave, "absent": frame.attrs.get("absent", [])}))
            return items
        sheet = read.get("sheet", 0)  # a single-sheet source: forms on any other sheet are reported
        frame = read_excel_sheet(path, sheet=sheet, required=required, problems=problems, expected_sheets=[sheet])
        return [(frame, name, {"absent": frame.attrs.get("absent", [])})]
    if fmt == "sav":
        frame, meta = read_sav(path, required=required, problems=problems, value_labels=codebook_value_labels(cb, source))
        return [(frame, name, {"sav_missing": sav_missing(meta, frame), "sav_meta": meta})]
    raise ValueError(f"unknown format {fmt!r} for source {source!r}")


# --- mapping one source -----------------------------------------------------------------------


@dataclass
class _Ctx:
    cb: cbmod.Codebook
    source: str
    files: pd.Series  # the raw file of each row (several files of one source are mapped at once)
    log: CleaningLog
    raw: pd.DataFrame
    extra: dict = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)

    @property
    def rows(self) -> pd.Series:
        return self.raw[ROW]

    def norm(self, text: pd.Series) -> pd.Series:
        """Raw text as the source's mapping compares it (vectorised ``normalise`` steps)."""
        for step in self.cb.source(self.source).get("normalise", []):
            text = text.str.strip() if step == "strip" else text.str.casefold()
        return text

    def log_many(self, mask: pd.Series, column: str, old, new, rule: str) -> None:
        """Log the rows selected by ``mask`` (old/new: scalars or Series on the same index)."""
        pick = (lambda v: v[mask]) if isinstance(mask, pd.Series) else (lambda v: v)
        self.log.add_many(pick(self.files), pick(self.rows), column,
                          old[mask] if isinstance(old, pd.Series) else old,
                          new[mask] if isinstance(new, pd.Series) else new, rule)


def _as_text(series: pd.Series) -> pd.Series:
    """Raw cells as text: numbers written without a trailing .0; missing as ''."""
    if pd.api.types.is_numeric_dtype(series):
        values = series.astype("Float64")
        whole = values.notna() & (values % 1 == 0)
        text = values.astype(str).where(~whole, values.round().astype("Int64").astype(str))
        return text.where(values.notna(), "").astype(object)
    return series.fillna("").astype(str).astype(object)


def _missing_reason(ctx: _Ctx, column: str, text: pd.Series, norm: pd.Series) -> pd.Series:
    """Reason a raw cell means 'missing' (``""`` when it does not)."""
    miss = {str(k): v for k, v in ctx.cb.missing_values(ctx.source).items()}
    steps = ctx.cb.source(ctx.source).get("normalise", [])
    miss = {cbmod.normalise_text(k, steps): v for k, v in miss.items()}
    declared = ctx.extra.get("sav_missing", {}).get(column)
    reason = norm.map(miss).astype(object)
    reason = reason.where(reason.notna(), "")
    if declared is not None:
        # SPSS: only codes the file declares user-missing for this column mean missing
        codes = {c if isinstance(c, str) else str(int(c)) if float(c).is_integer() else str(c) for c in declared}
        reason = reason.where(norm.isin(codes) | (norm == ""), "")
    return reason


def _log_missing(ctx: _Ctx, column: str, text: pd.Series, reason: pd.Series) -> None:
    coded = (reason != "") & (text.str.strip() != "")
    if coded.any():
        labels = {k: v["nl"] for k, v in ctx.cb.data.get("missing_reasons", {}).items()}
        for why, idx in text[coded].groupby(reason[coded]).groups.items():
            sel = pd.Series(False, index=text.index)
            sel[idx] = True
            ctx.log_many(sel, column, text, "", f"missing: {labels.get(why, why)}")


def _unknown(ctx: _Ctx, column: str, text: pd.Series, bad: pd.Series, allowed, what: str = "unknown value") -> None:
    """One problem per cell that the mapping cannot read (the cells are then treated as missing
    for the rest of the pass, so that the other problems are found in the same run)."""
    allowed = list(allowed)
    shown = ", ".join(map(str, allowed[:12])) + (", …" if len(allowed) > 12 else "")
    fix = (f"correct the export, or add the value as a variant under sources.{ctx.source}.columns in "
           "analysis/codebook.yaml") if what == "unknown value" else "correct the value in the export"
    for i in bad[bad].index:
        value = safe_value(text[i])  # coded and numeric columns only: free text is never mapped
        ctx.problems.add(ctx.files[i], f"{what} {value}; allowed: {shown}", fix, row=int(ctx.rows[i]),
                         column=column, value=value)


def _answers(ctx: _Ctx, column: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """A column's raw text, its normalised form, and which cells hold an answer.

    A "missing" code (weet niet, 98, ...) becomes missing and is logged with its reason; an empty
    cell is simply missing. Every parser starts here, so the rule lives in one place.
    """
    text = _as_text(ctx.raw[column])
    norm = ctx.norm(text)
    reason = _missing_reason(ctx, column, text, norm)
    _log_missing(ctx, column, text, reason)
    return text, norm, (reason == "") & (norm != "")


def _map_coded(ctx: _Ctx, var: str, spec: dict) -> pd.Series:
    """A single-choice question: raw label → code, variants logged, unknown values an error."""
    column = spec["column"]
    text, norm, answered = _answers(ctx, column)
    vmap = {ctx.cb.normalise(ctx.source, str(k)): c for k, c in spec["values"].items()}
    usual = {c: str(raws[0]) for c, raws in ctx.cb.raw_values(ctx.source, var).items()}
    codes = norm.map(vmap)
    bad = answered & codes.isna()
    if bad.any():
        _unknown(ctx, column, text, bad, spec["values"])
    codes = codes.where(answered & ~bad)
    variant = answered & (text != codes.map(usual))
    if variant.any():
        ctx.log_many(variant, column, text, codes, "harmonised spelling or label variant")
    return codes.astype(object)


def _map_multi(ctx: _Ctx, var: str, spec: dict) -> pd.DataFrame:
    """A multi-select question → one nullable boolean column per code."""
    codes = ctx.cb.codes(var)
    out = pd.DataFrame(False, index=ctx.raw.index, columns=[f"{var}_{c}" for c in codes], dtype="boolean")
    if "columns" in spec:
        selected = ctx.cb.normalise(ctx.source, str(spec["selected"]))
        # not ticked: an empty cell; in numeric exports (SPSS 0/1 variables) also 0
        unselected = {"", "0"} if isinstance(spec["selected"], int) else {""}
        for raw_col, code in spec["columns"].items():
            text = _as_text(ctx.raw[raw_col])
            norm = ctx.norm(text)
            bad = ~norm.isin(unselected) & (norm != selected)
            if bad.any():
                _unknown(ctx, raw_col, text, bad, [spec["selected"], "(empty)"])
            out[f"{var}_{code}"] = norm == selected
        return out
    column, sep = spec["column"], spec["sep"]
    text = _as_text(ctx.raw[column])
    vmap = {ctx.cb.normalise(ctx.source, str(k)): c for k, c in spec["values"].items()}
    tokens = text.str.split(re.escape(sep), regex=True).explode()
    tokens = ctx.norm(tokens.fillna("").astype(str))
    tokens = tokens[tokens != ""]
    mapped = tokens.map(vmap)
    if mapped.isna().any():
        unknown = tokens[mapped.isna()]
        for idx, token in unknown.groupby(level=0).first().items():
            value = safe_value(token)
            ctx.problems.add(ctx.files[idx], f"unknown option {value} in a multi-select answer; allowed: "
                             f"{', '.join(map(str, list(spec['values'])[:12]))}",
                             f"correct the export, or add it as a variant under sources.{ctx.source}.columns.{var} "
                             "in analysis/codebook.yaml", row=int(ctx.rows[idx]), column=column, value=value)
        mapped = mapped.dropna()
    for code, idx in mapped.groupby(mapped).groups.items():
        out.loc[np.unique(idx), f"{var}_{code}"] = True
    return out


def _parse_number(ctx: _Ctx, column: str, integer: bool) -> pd.Series:
    text, norm, use = _answers(ctx, column)
    values = pd.to_numeric(norm.where(use).str.replace(",", ".", regex=False), errors="coerce")
    bad = use & values.isna()
    if bad.any():
        _unknown(ctx, column, text, bad, ["a number"], what="not a number:")
    if integer:
        frac = values.notna() & (values % 1 != 0)
        if frac.any():
            _unknown(ctx, column, text, frac, ["a whole number"], what="not a whole number:")
            values = values.mask(frac)
        return values.astype("Int64")
    return values.astype("Float64")


def _parse_age_text(ctx: _Ctx, column: str, spec: dict, dates: pd.Series) -> pd.Series:
    """"45", "45 jaar" or a birth year → age in years; a birth year becomes age in the survey year.

    The birth date is not asked, so the age from a birth year is the difference of calendar
    years (at most one year too high before the birthday); logged as such.
    """
    text, norm, answered = _answers(ctx, column)
    suffix = ctx.cb.normalise(ctx.source, spec.get("suffix", ""))
    stripped = norm.str.removesuffix(suffix).str.strip() if suffix else norm
    use = answered & (stripped != "")
    values = pd.to_numeric(stripped.where(use), errors="coerce")
    bad = use & (values.isna() | (values % 1 != 0))
    if bad.any():
        _unknown(ctx, column, text, bad, ["an age in years (e.g. 45 or '45 jaar') or a birth year"],
                 what="not an age:")
        values = values.mask(bad)
    by = values >= spec.get("birth_year_from", 1900)
    if by.any():
        years = pd.to_datetime(dates).dt.year
        no_date = by & years.isna()
        if no_date.any():
            # without a survey date the file's most common year is used (logged in the rule)
            years = years.fillna(years.mode().iloc[0] if years.notna().any() else np.nan)
        ages = years - values
        values = values.where(~by, ages)
        ctx.log_many(by, column, text, values.astype("Int64"), "birth year converted to age in the survey year")
    return values.astype("Int64")


#: ISO 8601 text (year first: never ambiguous), as Excel's real date cells reach the cleaning
#: ("2025-03-03", "2025-03-03 00:00:00"). Checked by pattern because pandas' ISO parser also
#: takes "2025" or "2025-03" as a day.
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def _shown_format(fmt: str | None) -> str:
    """``%d-%m-%Y`` as a user reads it: ``DD-MM-YYYY``.

    >>> _shown_format("%d-%m-%Y"), _shown_format("%Y-%m-%d %H:%M:%S"), _shown_format(None)
    ('DD-MM-YYYY', 'YYYY-MM-DD HH:MM:SS', 'a date (YYYY-MM-DD)')
    """
    if not fmt:
        return "a date (YYYY-MM-DD)"
    for code, shown in (("%d", "DD"), ("%m", "MM"), ("%Y", "YYYY"), ("%y", "YY"), ("%H", "HH"), ("%M", "MM"),
                        ("%S", "SS"), ("%b", "MMM")):
        fmt = fmt.replace(code, shown)
    return fmt


def _parse_date(ctx: _Ctx, var: str, column: str, spec: dict) -> pd.Series:
    """A date column → timestamps (the time of day kept: duplicate forms compare it).

    Text in the codebook's ``format``, or ISO text (what Excel's real date cells become, so a
    column mixing typed text and date cells parses completely), or real date values. An
    unreadable cell becomes missing (logged) -- unless most of a file's column is unreadable
    (study.yaml ``cleaning.unreadable_dates``: a changed export locale), which is one blocking
    problem for the column. Dates outside the table's fieldwork window (study.yaml
    ``fieldwork``) are out of range: set to missing, logged.
    """
    raw = ctx.raw[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        return _in_fieldwork(ctx, column, pd.to_datetime(raw).astype("datetime64[ns]"))
    text, _, answered = _answers(ctx, column)
    norm = text.str.strip()  # dates are compared as written, without case folding
    use = answered & (norm != "")
    kind, fmt = spec.get("parse"), spec.get("format")
    if kind in ("datetime", "date") and fmt:
        parsed = pd.to_datetime(norm.where(use), format=fmt, errors="coerce")
    elif kind == "spss_date":
        # pyreadstat returns dates already for date-formatted variables; numbers are SPSS seconds
        nums = pd.to_numeric(norm.where(use), errors="coerce")
        parsed = pd.to_datetime("1582-10-14") + pd.to_timedelta(nums, unit="s")
    else:  # excel_date: ISO text below
        parsed = pd.Series(pd.NaT, index=norm.index, dtype="datetime64[ns]")
    iso = use & parsed.isna() & norm.str.fullmatch(_ISO.pattern)
    if iso.any():
        parsed = parsed.fillna(pd.to_datetime(norm.where(iso), errors="coerce", format="ISO8601"))
    parsed = parsed.astype("datetime64[ns]")
    if iso.any():
        _swapped_day_month(ctx, column, parsed, iso, use & ~iso & parsed.notna(), fmt)
    bad = use & parsed.isna()
    if bad.any():
        blocked = _unreadable_column(ctx, var, column, text, use, bad, fmt)
        repair = bad & ~ctx.files.isin(blocked)
        if repair.any():
            ctx.log_many(repair, column, text, "", "impossible or unreadable date set to missing")
    return _in_fieldwork(ctx, column, parsed, text)


def _swapped_day_month(ctx: _Ctx, column: str, parsed: pd.Series, cells: pd.Series, typed: pd.Series,
                       fmt: str | None) -> None:
    """Excel set to a US locale turns a typed ``03-05-2025`` (3 May) into a date cell for 5 March
    and leaves ``14-05-2025`` as text: a file whose date cells all have a day of 12 or
    less while its typed dates all have a day above 12 has day and month swapped in its date
    cells, without a word. One blocking problem per such file (at least 3 cells of each kind)."""
    if not fmt or "%d" not in fmt or "%m" not in fmt or fmt.index("%d") > fmt.index("%m"):
        return
    for file in pd.unique(ctx.files[cells]):
        here = ctx.files == file
        dated, written = parsed[cells & here], parsed[typed & here]
        if len(dated) >= 3 and len(written) >= 3 and (dated.dt.day <= 12).all() and (written.dt.day > 12).all():
            ctx.problems.add(
                file, f"the {len(dated)} date cells all have a day of 12 or less and the {len(written)} dates typed "
                      "as text all a day above 12: Excel probably read the typed dates month first, so day and "
                      "month are swapped in the date cells",
                f"format the column as Text and type the dates again as {_shown_format(fmt)}, or enter them "
                "with Excel set to Dutch (Netherlands)", column=column)


def _unreadable_column(ctx: _Ctx, var: str, column: str, text: pd.Series, use: pd.Series, bad: pd.Series,
                       fmt: str | None) -> set:
    """Files in which most of the date column is unreadable: one blocking problem each (with
    examples) instead of a log row per cell. Returns those files."""
    rule = ctx.cb.cleaning("unreadable_dates")
    share, least = float(rule["share"]), int(rule["min_cells"])
    blocked = set()
    for file, idx in bad[bad].groupby(ctx.files[bad]).groups.items():
        n_bad, n_used = len(idx), int(use[ctx.files == file].sum())
        if n_bad < least or n_bad <= share * n_used:
            continue
        blocked.add(file)
        examples = ", ".join(list(dict.fromkeys(safe_value(text[i]) for i in idx))[:3])
        shown = _shown_format(fmt)
        ctx.problems.add(
            file, f"{n_bad} of {n_used} dates cannot be read as {shown} (more than {share:.0%} of the column)",
            f"the export's date format changed; export again as {shown} or set "
            f"sources.{ctx.source}.columns.{var}.format in analysis/codebook.yaml",
            column=column, value=examples)
    return blocked


def _in_fieldwork(ctx: _Ctx, column: str, stamps: pd.Series, text: pd.Series | None = None) -> pd.Series:
    """Dates outside the table's fieldwork window (study.yaml ``fieldwork``) → missing, logged."""
    window = ctx.cb.fieldwork(ctx.cb.source(ctx.source)["table"])
    if window is None:
        return stamps
    lo, hi = window
    days = stamps.dt.normalize()
    out = stamps.notna() & ((days < lo) | (days > hi))
    if out.any():
        old = stamps.dt.strftime("%Y-%m-%d") if text is None else text
        ctx.log_many(out, column, old, "", f"date outside the fieldwork window [{lo.date()}, {hi.date()}]: "
                                           "set to missing")
        stamps = stamps.mask(out)
    return stamps


def _check_range(ctx: _Ctx, var: str, column: str, values: pd.Series) -> pd.Series:
    lo, hi = ctx.cb.value_range(var)
    if lo is None and hi is None:
        return values
    out = pd.Series(False, index=values.index)
    if lo is not None:
        out |= values < lo
    if hi is not None:
        out |= values > hi
    out = out.fillna(False).astype(bool)
    if out.any():
        ctx.log_many(out, column, values, "", f"out of range [{lo}, {hi}]: set to missing")
        values = values.mask(out)
    return values


def _pc4(ctx: _Ctx, var: str, column: str) -> pd.Series:
    """Four-digit postcode; a full postcode (1234 AB) is shortened, its letters never logged."""
    text = _as_text(ctx.raw[column]).str.strip()
    full = text.str.fullmatch(r"[1-9][0-9]{3}\s?[A-Za-z]{2}")
    if full.any():
        ctx.log_many(full, column, text.str[:4] + " **", text.str[:4], "full postcode shortened to PC4 (letters not kept)")
    text = text.where(~full, text.str[:4])
    dotted = text.str.fullmatch(r"[1-9]\.[0-9]{3}")  # Excel's number format with a thousands separator
    if dotted.any():
        ctx.log_many(dotted, column, text, text.str.replace(".", "", regex=False),
                     "postcode written with a thousands separator: separator removed")
        text = text.where(~dotted, text.str.replace(".", "", regex=False))
    pattern = ctx.cb.variable(var).get("pattern")
    bad = (text != "") & ~text.str.fullmatch(pattern or r".*")
    if bad.any():
        ctx.log_many(bad, column, "(invalid postcode)", "", "invalid postcode set to missing")
    return text.where((text != "") & ~bad).astype(object)


def _site(ctx: _Ctx, column: str) -> pd.Series:
    text = _as_text(ctx.raw[column]).str.strip()
    known = {s.upper(): s for s in ctx.cb.sites}
    codes = text.str.upper().map(known)
    bad = codes.isna()
    if bad.any():
        _unknown(ctx, column, text, bad, list(ctx.cb.sites), what="unknown site")
    return codes.astype(object)


def _log_unmapped_columns(ctx: _Ctx, source: str) -> None:
    """Columns the codebook does not map are not read: one log row per file and column (row 1,
    the header), so an export with extra columns is accepted and the reader can see what was left."""
    used = set(_required_columns(ctx.cb, source)) | {ROW, "_site", "_fname"}
    for var, spec in ctx.cb.source(source)["columns"].items():
        if "column" in spec:
            used.add(spec["column"])  # free-text columns are known: not read by design
    extra = [c for c in ctx.raw.columns if c not in used]
    if not extra:
        return
    for file in pd.unique(ctx.files):
        for col in extra:
            ctx.log.add(file, 1, col, "", "", "column not in the codebook: not read")


def map_source(raw: pd.DataFrame, source: str, cb: cbmod.Codebook, log: CleaningLog, file, extra: dict | None = None,
               problems: Problems | None = None, *, keep_stamp: bool = False) -> pd.DataFrame:
    """Map one raw table through its codebook source into tidy columns (plus ``_row``/``_file``).

    ``file`` is the raw file's name, or a Series giving it per row when several files of the
    same source are mapped in one pass (faster than one pass per file). Free-text variables are
    not read; identifiers are kept raw here and pseudonymised later. Cells that cannot be read
    are added to ``problems`` (and are missing in the result); without a collector the problems
    are raised together at the end. ``keep_stamp``: add the full date and time of the (first)
    date variable as ``_stamp`` (the ``date`` column holds the day).
    """
    files = file if isinstance(file, pd.Series) else pd.Series(file, index=raw.index, dtype=object)
    own = problems is None
    problems = Problems() if own else problems
    ctx = _Ctx(cb, source, files, log, raw, extra or {}, problems)
    cols = cb.source(source)["columns"]
    _log_unmapped_columns(ctx, source)
    out: dict[str, pd.Series | pd.DataFrame] = {}
    stamps = {}
    # a required column the file lacks is already a problem: its variables are missing here and
    # the other columns are still checked
    absent = set(ctx.extra.get("absent", ()))
    for var, spec in cols.items():
        if absent & (set(spec["columns"]) if "columns" in spec else {spec.get("column")}):
            vtype = cb.variable(var)["type"]
            if vtype == "multi":
                out[var] = pd.DataFrame(pd.NA, index=raw.index, columns=list(cb.multi_columns(var)), dtype="boolean")
            elif vtype == "date":
                out[var] = stamps[var] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
            elif vtype != "text":
                out[var] = pd.Series(pd.NA, index=raw.index, dtype=object)
    cols = {var: spec for var, spec in cols.items() if var not in out}
    # dates first: age from a birth year needs the survey date
    for var, spec in cols.items():
        if cb.variable(var)["type"] == "date":
            stamps[var] = _parse_date(ctx, var, spec["column"], spec)
            out[var] = stamps[var].dt.normalize()
    for var, spec in cols.items():
        vdef = cb.variable(var)
        vtype = vdef["type"]
        if vtype in ("text", "date"):
            continue
        if vtype == "multi":
            out[var] = _map_multi(ctx, var, spec)
        elif "values" in spec:
            out[var] = _map_coded(ctx, var, spec)
        elif vdef.get("codes_from") == "study.sites":
            out[var] = _site(ctx, spec["column"])
        elif var == "pc4" or vdef.get("pattern"):
            out[var] = _pc4(ctx, var, spec["column"])
        elif spec.get("parse") == "age_text":
            date_var = next((v for v in cols if cb.variable(v)["type"] == "date"), None)
            dates = out[date_var] if date_var else pd.Series(pd.NaT, index=raw.index)
            out[var] = _check_range(ctx, var, spec["column"], _parse_age_text(ctx, spec["column"], spec, dates))
        elif spec.get("parse") in ("integer", "number") or vtype in ("integer", "number"):
            values = _parse_number(ctx, spec["column"], integer=vtype == "integer")
            out[var] = _check_range(ctx, var, spec["column"], values)
        else:  # identifiers and plain strings
            out[var] = _as_text(raw[spec["column"]]).str.strip().replace("", pd.NA).astype(object)
    parts = [v.to_frame(k) if isinstance(v, pd.Series) else v for k, v in out.items()]
    tidy = pd.concat(parts, axis=1)
    if keep_stamp:
        tidy[STAMP] = next(iter(stamps.values())) if stamps else pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    tidy[ROW] = raw[ROW].to_numpy()
    tidy[FILE] = files.to_numpy()
    if own:
        problems.finish()
    return tidy


def apply_applies_if(tidy: pd.DataFrame, cb: cbmod.Codebook, log: CleaningLog) -> pd.DataFrame:
    """Multi-select questions asked only of some respondents become missing for the others.

    Ticks on a question that did not apply are removed and logged (e.g. reasons for not coming
    ticked by a visitor).
    """
    tidy = tidy.copy()
    for var, vdef in cb.variables.items():
        cond = vdef.get("applies_if")
        cols = [c for c in cb.multi_columns(var)] if vdef["type"] == "multi" else []
        if not cond or not cols or cols[0] not in tidy:
            continue
        applies = pd.Series(True, index=tidy.index)
        for other, allowed in cond.items():
            applies &= tidy[other].isin(allowed).fillna(False).astype(bool)
        unknown = pd.concat([tidy[o].isna() for o in cond], axis=1).any(axis=1)
        ticked = tidy[cols].fillna(False).any(axis=1) & ~applies & ~unknown
        for col in cols:
            sel = ticked & tidy[col].fillna(False).astype(bool)
            if sel.any():
                log.add_many(tidy.loc[sel, FILE], tidy.loc[sel, ROW], col, "True", "",
                             f"question did not apply ({var} asked only if {cond}): set to missing")
        tidy.loc[~applies | unknown, cols] = pd.NA
    return tidy


# --- rows: duplicates, empty forms ------------------------------------------------------------


def remove_duplicates(tidy: pd.DataFrame, id_col: str, log: CleaningLog, problems: Problems | None = None, *,
                      minutes: float = 0, by_answers: pd.Series | None = None,
                      id_columns: dict | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """Remove forms entered twice; returns the kept rows and, per file, the number removed.

    The rules, each logged with the one that matched (one log row per removed row, naming the
    row it duplicates; the first is kept):

    * **Form numbers** identify forms: two forms with different numbers are two people, even
      with identical answers. The same number twice with the same answers is one form typed
      twice (removed); with different answers it is an entry error, a blocking problem naming
      both rows.
    * **Answers** identify forms only where there is no form number (a missing number, or a
      survey tool's response ID, new for every submission: ``by_answers`` marks those rows):
      every answer the same and the timestamps at most ``minutes`` apart (a form resubmitted
      two minutes later, across midnight too). A form without a number that repeats a numbered
      form is the copy (removed).

    "Answers" are every column except the ID, the row and the date; the date is compared as
    the timestamp ``_stamp`` when present (else ``date``), within ``minutes``. ``id_columns``:
    the raw ID column per file, for the problem's column (default ``id_col``). ``by_answers``
    is positional (one flag per row of ``tidy``).
    """
    problems, own = _collector(problems)
    when_col = STAMP if STAMP in tidy else ("date" if "date" in tidy else None)
    content = [c for c in tidy.columns if c not in (id_col, ROW, STAMP, "date")]
    when = tidy[when_col] if when_col else pd.Series(pd.NaT, index=tidy.index, dtype="datetime64[ns]")
    tol = pd.Timedelta(minutes=minutes)
    free = tidy[id_col].isna()
    if by_answers is not None:  # positional: one flag per row of tidy
        free |= pd.Series(np.asarray(by_answers, dtype=bool), index=tidy.index)

    def same_time(i, j) -> bool:
        a, b = when[i], when[j]
        return (pd.isna(a) and pd.isna(b)) or (pd.notna(a) and pd.notna(b) and abs(a - b) <= tol)

    group = tidy.groupby(content, dropna=False, sort=False).ngroup()
    removed: dict = {}
    # 1. the same ID twice (form number, or a response ID listed twice)
    with_id = tidy[tidy[id_col].notna()]
    twice = with_id[with_id.duplicated([FILE, id_col], keep=False)]  # only these need a look
    for (file, ident), idx in twice.groupby([FILE, id_col], sort=False).groups.items():
        kept_rows: list = []
        for i in idx:
            match = next((k for k in kept_rows if group[k] == group[i] and same_time(k, i)), None)
            if match is None:
                kept_rows.append(i)
            else:
                removed[i] = (match, "(same form number)")
        if len(kept_rows) > 1:
            rows = [int(tidy.at[k, ROW]) for k in kept_rows]
            column = (id_columns or {}).get(file, id_col)
            differ = "different answers" if len({group[k] for k in kept_rows}) > 1 else \
                f"the same answers but dates more than {minutes:g} minutes apart"
            # the form number is a respondent's key (pseudonymised in the outputs): the rows locate it
            problems.add(file, f"the same form number occurs in rows {rows} with {differ}",
                         "correct the form number or the answers in the export", row=rows[1], column=column,
                         value=safe_value(ident, hidden="form number"))
    # 2. forms without a form number: compared on their answers and timestamps
    left = tidy.index.difference(list(removed))
    candidates = group[left][group[left].duplicated(keep=False)]
    for _, idx in candidates.groupby(candidates).groups.items():
        if not free[idx].any():
            continue
        order = sorted(idx, key=lambda i: (bool(free[i]), i))  # numbered forms first: the copy is the one without
        kept_rows = []
        for i in order:
            match = next((k for k in kept_rows if same_time(k, i)), None) if free[i] else None
            if match is None:
                kept_rows.append(i)
                continue
            numbered = not pd.isna(tidy.at[i, id_col])  # a survey tool's response ID (by_answers)
            why = "the response ID is new for each submission" if numbered else "no form number"
            what = "timestamp" if numbered else "date"
            removed[i] = (match, f"({why}; compared on all answers and the {what} within ±{minutes:g} minutes)")
    dup = pd.Series(tidy.index.isin(list(removed)), index=tidy.index)
    for i in sorted(removed, key=lambda i: (tidy.at[i, FILE], tidy.at[i, ROW])):
        match, why = removed[i]
        while match in removed:  # a copy of a copy: name the form that is kept
            match = removed[match][0]
        log.add(tidy.at[i, FILE], tidy.at[i, ROW], "*", "", "",
                f"duplicate form: same answers as row {tidy.at[match, ROW]} {why}: removed")
    if own:
        problems.finish()
    return tidy[~dup], tidy.loc[dup, FILE].value_counts()


def remove_empty(tidy: pd.DataFrame, substantive: list[str], log: CleaningLog) -> tuple[pd.DataFrame, pd.Series]:
    """Remove forms without a single substantive answer (out of scope: nothing to analyse)."""
    cols = [c for c in substantive if c in tidy]
    empty = tidy[cols].isna().all(axis=1) | (tidy[cols].astype(object).isin([False]) | tidy[cols].isna()).all(axis=1)
    log.remove_rows(tidy.loc[empty, FILE], tidy.loc[empty, ROW], "empty form (no answers): removed as out of scope")
    return tidy[~empty], tidy.loc[empty, FILE].value_counts()


# --- pseudonymisation -------------------------------------------------------------------------


#: Stands in for a missing form number before hashing. A form number is text from one cell,
#: which never holds a NUL character (Excel cannot store one), so no form's number can equal it.
_NO_ID = "\x00no form number\x00{file}\x00{row}"


def _without_gaps(tidy: pd.DataFrame, id_col: str, log: CleaningLog, id_columns: dict | None = None) -> pd.Series:
    """The raw IDs with each missing one replaced by a stand-in from its file and row, which no
    other form's number can equal (the row number alone could: form 7 and the form in row 7).
    Each replaced ID is logged."""
    ids = tidy[id_col].astype(object)
    gap = ids.isna()
    if gap.any():
        fill = [_NO_ID.format(file=f, row=r) for f, r in zip(tidy.loc[gap, FILE], tidy.loc[gap, ROW])]
        ids = ids.copy()
        ids[gap] = fill
        for i in tidy.index[gap]:
            file = tidy.at[i, FILE]
            log.add(file, tidy.at[i, ROW], (id_columns or {}).get(file, id_col), "", "(pseudonym from file and row)",
                    "no form number: pseudonym made from the file and row, which no form number can equal")
    return ids


def pseudonym_key(synthetic: bool) -> bytes:
    """The secret for pseudonymised IDs: ``$KRACHTPUNTEN_PSEUDONYM_KEY``, else (synthetic data only)
    the documented default. Real data without a key stops: a public key would make IDs reversible
    by anyone holding the raw data and this code."""
    key = os.environ.get(KEY_ENV)
    if key:
        return key.encode()
    if synthetic:
        return SYNTHETIC_KEY.encode()
    raise ValueError(
        f"set the environment variable {KEY_ENV} to a secret of your own before cleaning real data "
        "(the default key is public and only for the synthetic data)"
    )


def pseudonymise(ids: pd.Series, sites: pd.Series, key: bytes, prefix: str = "R") -> pd.Series:
    """Keyed hash (HMAC-SHA256) of site and raw ID: stable across runs, not reversible without the key.

    The same (site, ID) always gets the same pseudonym (a person's two waves and segments), and
    each distinct pair is hashed once.

    >>> p = pseudonymise(pd.Series(["17", "17", "18"]), pd.Series(["DH"] * 3), b"k")
    >>> p.str.len().tolist(), p.iloc[0] == p.iloc[1] != p.iloc[2]
    ([13, 13, 13], True)
    """
    pairs = pd.DataFrame({"site": np.asarray(sites, dtype=object), "id": np.asarray(ids, dtype=object)})
    codes, uniq = pd.factorize(pd.MultiIndex.from_frame(pairs))
    hashed = np.array([f"{prefix}{hmac.new(key, f'{s}:{i}'.encode(), hashlib.sha256).hexdigest()[:12]}"
                       for s, i in uniq], dtype=object)
    if len(set(hashed)) < len(hashed):  # 48 bits: a collision is astronomically unlikely, but say so if it happens
        raise ValueError("two different IDs got the same pseudonym; use a longer pseudonym")
    return pd.Series(hashed[codes], index=ids.index, dtype=object)


# --- writing ----------------------------------------------------------------------------------


def write_table(frame: pd.DataFrame, path: Path, *, csv: bool = True) -> list[Path]:
    """Write Parquet (and CSV) atomically: a crash never leaves a half-written table."""
    from analysis.results import escape_formulas, write_atomic

    written = [write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))]
    if csv:  # the CSV is for spreadsheets: text cells that start like a formula are escaped
        written.append(write_atomic(path.with_suffix(".csv"), lambda tmp: escape_formulas(frame).to_csv(
            tmp, index=False, date_format="%Y-%m-%d")))
    return written


def is_synthetic(raw_dir: Path) -> bool:
    """Synthetic data carry the generator's manifest, and every file listed matches it."""
    manifest = Path(raw_dir) / "MANIFEST.sha256"
    if not manifest.is_file():
        return False
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        p = Path(raw_dir) / name.strip().lstrip("*")
        if not p.is_file() or sha256(p) != digest:
            return False
    return True


# --- the reach questionnaires, proxy reports and site questionnaire ---------------------------


@dataclass
class Cleaned:
    """A cleaned table with its log entries and flow counts (per file: in, removed, kept)."""

    table: pd.DataFrame
    log: CleaningLog
    flow: pd.DataFrame
    #: For each row of ``table``: the raw file and row it came from (for tests and audits;
    #: never written to data/processed, where the pseudonymised ID is the only key).
    origin: pd.DataFrame | None = None


def age_groups(age: pd.Series, cb: cbmod.Codebook, var: str = "age_group") -> pd.Series:
    """Age in years → the codebook's age-group code (each code's ``min`` is its lowest age).

    >>> age_groups(pd.Series([18, 44, 45, 90, None], dtype="Int64"), cbmod.load()).tolist()
    ['18_24', '25_44', '45_64', '65_plus', nan]
    """
    bands = cb.code_labels(var)
    if any("min" not in lab for lab in bands.values()):
        raise ValueError(f"analysis/codebook.yaml: every {var} code needs a min (lowest age of the band)")
    codes = sorted(bands, key=lambda c: bands[c]["min"])
    edges = [bands[c]["min"] for c in codes] + [np.inf]
    out = pd.cut(age.astype("Float64").to_numpy(dtype=float, na_value=np.nan), edges, right=False, labels=codes)
    out = pd.Series(out, index=age.index).astype(object)
    return out.where(out.notna(), np.nan)


def _djg(tidy: pd.DataFrame) -> pd.DataFrame:
    from analysis.scoring import djg_loneliness

    items = [f"djg_{i}" for i in range(1, 7)]
    answers = tidy[items].replace({"min_of_meer": "min of meer"})
    scores = djg_loneliness(answers, items)
    return pd.DataFrame(
        {
            "djg_emotional": scores["emotional"].astype("Int64"),
            "djg_social": scores["social"].astype("Int64"),
            "djg_total": scores["total"].astype("Int64"),
            "lonely": scores["lonely"].astype("boolean"),
        },
        index=tidy.index,
    )


def _flow(received: pd.Series, removed: dict[str, pd.Series], kept: pd.Series) -> pd.DataFrame:
    """Per file: received, removed by reason, kept; rows in = kept + removed is checked."""
    flow = pd.DataFrame({"received": received})
    for reason, counts in removed.items():
        flow[reason] = counts.reindex(flow.index).fillna(0).astype(int)
    flow["kept"] = kept.reindex(flow.index).fillna(0).astype(int)
    balance = flow["received"] - flow[list(removed)].sum(axis=1) - flow["kept"]
    if (balance != 0).any():
        raise RuntimeError(f"rows in != rows kept + rows removed for {list(flow.index[balance != 0])}: a cleaning bug")
    return flow.rename_axis("file").reset_index()


def _finish(tidy: pd.DataFrame, cb: cbmod.Codebook, table: str) -> pd.DataFrame:
    """Columns in the codebook's order with the codebook's types."""
    cols = cb.table_columns(table)
    renames = {}
    for col, var in cb.table_variables(table).items():
        if var == col:
            continue
        if cb.variable(var)["type"] == "multi":
            renames.update(zip(cb.multi_columns(var), cb.multi_columns(var, prefix=col)))
        else:
            renames[var] = col
    tidy = tidy.rename(columns=renames)
    missing = [c for c in cols if c not in tidy]
    if missing:
        raise RuntimeError(f"table {table}: columns {missing} were not produced (codebook/cleaning mismatch)")
    out = tidy[cols].reset_index(drop=True)
    if out.empty:  # no forms at all: text columns get the text type that values would have given them
        out = out.astype({c: str for c in out.columns if out[c].dtype == object})
    return out


def _collector(problems: Problems | None) -> tuple[Problems, bool]:
    """The caller's collector, or a new one that the function raises from itself at the end."""
    return (Problems(), True) if problems is None else (problems, False)


def clean_reach(raw_dir: Path, cb: cbmod.Codebook | None = None, *, synthetic: bool | None = None,
                problems: Problems | None = None) -> Cleaned | None:
    """All sites' reach questionnaires → one tidy table (one row per respondent).

    With a ``problems`` collector every problem is added there and the cleaning goes on as far
    as it can (None when no file could be read); without one, all problems are raised at once.
    """
    raw_dir = Path(raw_dir)
    cb = cb or cbmod.load(raw_dir=raw_dir)
    synthetic = is_synthetic(raw_dir) if synthetic is None else synthetic
    problems, own = _collector(problems)
    log = CleaningLog()
    groups: dict[tuple, list] = {}
    received, site_of = {}, {}
    for site, source in cb.site_sources("reach").items():
        for raw, file, extra in read_source(raw_dir, source, cb, site, problems):
            received[file], site_of[file] = len(raw), site
            raw = raw.assign(_site=site, _fname=file)
            # files of one source (and the same SPSS missing-value declarations) are mapped together
            key = (source, repr(sorted((k, sorted(v)) for k, v in extra.get("sav_missing", {}).items())),
                   tuple(extra.get("absent", ())))
            groups.setdefault(key, []).append((raw, extra))
    if not groups:
        problems.finish() if own else None
        return None
    parts, by_answers, id_columns = [], [], {}
    for (source, *_), items in groups.items():
        raw = pd.concat([r for r, _ in items], ignore_index=True)
        tidy = map_source(raw, source, cb, log, raw["_fname"], items[0][1], problems, keep_stamp=True)
        tidy.insert(0, "site", raw["_site"].to_numpy())
        parts.append(tidy)
        by_answers.append(np.full(len(tidy), cb.identifies(source) == "submission"))
        id_columns.update(dict.fromkeys(raw["_fname"].unique(), cb.mapping(source, "respondent_id")["column"]))
    tidy = pd.concat(parts, ignore_index=True)
    tidy["_by_answers"] = np.concatenate(by_answers)
    order = {f: i for i, f in enumerate(received)}
    tidy = tidy.sort_values([FILE, ROW], key=lambda c: c.map(order) if c.name == FILE else c, kind="stable").reset_index(drop=True)
    tidy, n_dup = remove_duplicates(tidy.drop(columns="_by_answers"), "respondent_id", log, problems,
                                    minutes=cb.cleaning("resubmission_minutes"), by_answers=tidy["_by_answers"],
                                    id_columns=id_columns)
    if own:
        problems.finish()  # warnings issued, blocking problems raised
    elif problems.blocking_count:  # every problem is found by now; what follows only shapes the output
        return None
    substantive = [c for c in tidy.columns if c not in ("site", "respondent_id", "date", STAMP, ROW, FILE)]
    tidy, n_empty = remove_empty(tidy, substantive, log)
    tidy = apply_applies_if(tidy, cb, log)
    tidy["age_group"] = age_groups(tidy["age"], cb)
    tidy = tidy.join(_djg(tidy))
    tidy["reached"] = tidy["visits"].ne("nooit").astype("boolean").mask(tidy["visits"].isna())
    ids = _without_gaps(tidy, "respondent_id", log, id_columns)
    tidy["respondent_id"] = pseudonymise(ids, tidy["site"], pseudonym_key(synthetic))
    flow = _flow(pd.Series(received), {"duplicates": n_dup, "out_of_scope": n_empty}, tidy[FILE].value_counts())
    flow.insert(1, "site", flow["file"].map(site_of))  # from the read, so a file without forms keeps its site
    origin = tidy[[FILE, ROW]].rename(columns={FILE: "file", ROW: "row"}).reset_index(drop=True)
    return Cleaned(_finish(tidy, cb, "reach"), log, flow, origin)


def clean_proxy(raw_dir: Path, cb: cbmod.Codebook | None = None, *, synthetic: bool | None = None,
                problems: Problems | None = None) -> Cleaned | None:
    """Proxy reports (visitors about residents who do not come) → one row per report.

    ``problems``: as in :func:`clean_reach` (None when the file could not be read)."""
    raw_dir = Path(raw_dir)
    cb = cb or cbmod.load(raw_dir=raw_dir)
    synthetic = is_synthetic(raw_dir) if synthetic is None else synthetic
    problems, own = _collector(problems)
    log = CleaningLog()
    items = read_source(raw_dir, "proxy", cb, problems=problems)
    if not items:
        return None
    (raw, file, extra), = items
    tidy = map_source(raw, "proxy", cb, log, file, extra, problems, keep_stamp=True)
    id_columns = {file: cb.mapping("proxy", "proxy_id")["column"]}
    tidy, n_dup = remove_duplicates(tidy, "proxy_id", log, problems, minutes=cb.cleaning("resubmission_minutes"),
                                    by_answers=pd.Series(cb.identifies("proxy") == "submission", index=tidy.index),
                                    id_columns=id_columns)
    if own:
        problems.finish()  # warnings issued, blocking problems raised
    elif problems.blocking_count:
        return None
    substantive = [c for c in tidy.columns if c not in ("site", "proxy_id", "date", STAMP, ROW, FILE)]
    tidy, n_empty = remove_empty(tidy, substantive, log)
    ids = _without_gaps(tidy, "proxy_id", log, id_columns)
    tidy["proxy_id"] = pseudonymise(ids, tidy["site"], pseudonym_key(synthetic), prefix="P")
    flow = _flow(pd.Series({file: len(raw)}), {"duplicates": n_dup, "out_of_scope": n_empty}, tidy[FILE].value_counts())
    return Cleaned(_finish(tidy, cb, "proxy"), log, flow)


def clean_sites(raw_dir: Path, cb: cbmod.Codebook | None = None, *, problems: Problems | None = None) -> Cleaned | None:
    """The site questionnaire → one row per krachtpunt (``problems``: as in :func:`clean_reach`)."""
    raw_dir = Path(raw_dir)
    cb = cb or cbmod.load(raw_dir=raw_dir)
    problems, own = _collector(problems)
    log = CleaningLog()
    items = read_source(raw_dir, "sites", cb, problems=problems)
    if not items:
        return None
    (raw, file, extra), = items
    tidy = map_source(raw, "sites", cb, log, file, extra, problems)
    column = cb.mapping("sites", "site")["column"]
    for i in tidy.index[tidy["site"].notna() & tidy["site"].duplicated()]:
        problems.add(file, f"site {tidy.at[i, 'site']!r} appears twice", "keep one row per site",
                     row=int(tidy.at[i, ROW]), column=column)
    if own:
        problems.finish()  # warnings issued, blocking problems raised
    elif problems.blocking_count:
        return None
    flow = _flow(pd.Series({file: len(raw)}), {}, tidy[FILE].value_counts())
    return Cleaned(_finish(tidy, cb, "sites"), log, flow)


# --- flows: what is published (disclosure control, issue 17) -----------------------------------

#: The columns of a flow that count rows removed; received = these + kept (checked in :func:`_flow`).
FLOW_REMOVED = ("duplicates", "out_of_scope")
#: ``site`` of a flow row that is no single site's file (the proxy reports, the site questionnaire).
FLOW_ALL_SITES = "alle"
#: The interview waves whose kept rows are the interviewed persons of that wave.
FLOW_WAVES = ("T0", "T1")


def _flow_keys(flow: pd.DataFrame, name: str) -> dict:
    """``{(row label, column): ledger key}`` of a flow's counts.

    The kept forms of a site's only reach file are that site's respondents (the reach N,
    ``("respondents", site)``), the kept rows of a wave's only interview sheet the persons
    interviewed then (``("interviewed", wave, "alle")``), so that a count hidden in one table is
    hidden wherever it appears (the shared keys of :mod:`analysis.stats.disclosure`); every
    other count is this table's own (``(name, file, column)``).
    """
    cols = ["received", *[c for c in FLOW_REMOVED if c in flow.columns], "kept"]
    missing = [c for c in ("file", "received", "kept") if c not in flow.columns]
    if missing:
        raise ValueError(f"{name}: a flow needs the columns file, received and kept; {missing} missing.")
    site = flow["site"] if "site" in flow.columns else pd.Series(FLOW_ALL_SITES, index=flow.index)
    wave = flow["wave"] if "wave" in flow.columns else pd.Series("", index=flow.index)
    keys = {}
    for i in flow.index:
        file = str(flow.at[i, "file"])
        for col in cols:
            keys[(i, col)] = (name, file, col)
        s, w = str(site[i]), str(wave[i])
        if s != FLOW_ALL_SITES and (site == s).sum() == 1:
            keys[(i, "kept")] = ("respondents", s)
        elif w in FLOW_WAVES and (wave == w).sum() == 1:
            keys[(i, "kept")] = ("interviewed", w, FLOW_ALL_SITES)
    return keys


def _one_flow_ledger(flow: pd.DataFrame, name: str, min_cell: int):
    from analysis.stats import disclosure

    led = disclosure.Ledger(min_cell=min_cell)
    keys = _flow_keys(flow, name)
    kinds = {"received": "total", "kept": "cell"}
    for (i, col), key in keys.items():
        kind = "headline" if key[0] in ("respondents", "interviewed") else kinds.get(col, "cell")
        led.add(key, flow.at[i, col], kind, f"{name}: {flow.at[i, 'file']}, {col}")
    for i in flow.index:
        parts = [keys[(i, c)] for c in (*FLOW_REMOVED, "kept") if (i, c) in keys]
        led.total(keys[(i, "received")], parts)
    return led, keys


def flow_ledger(tables: dict, min_cell: int = 5):
    """The counts of the flow tables and their relations (:class:`disclosure.Ledger`).

    ``tables`` = {"cleaning_flow": frame, "interview_flow": frame} (either or both), unsuppressed
    (numbers) to protect them or as published (numbers and marks) for the attacker's view
    (:mod:`analysis.attack`). Per row: received = duplicates + out_of_scope + kept (the columns
    the flow has). Neither flow nor the report shows a total over files (the report sums the
    files only when every one is shown), so there is no total row to declare.

    >>> flow = pd.DataFrame({"file": ["DH_bereik.csv"], "site": ["DH"], "received": [160],
    ...                      "duplicates": [1], "out_of_scope": [0], "kept": [159]})
    >>> led = flow_ledger({"cleaning_flow": flow})
    >>> led.values[("respondents", "DH")], led.relations[0][("cleaning_flow", "DH_bereik.csv", "received")]
    (159, 1.0)
    """
    from analysis.stats import disclosure

    led = disclosure.Ledger(min_cell=int(min_cell))
    for name, flow in tables.items():
        led.merge(_one_flow_ledger(flow, name, int(min_cell))[0])
    return led


def _feasible(led):
    """A copy of a published ledger with each mark replaced by a count that fits every relation.

    A flow that arrives with marks (its writer suppressed small cells itself) can still be
    protected: the marked cells stay hidden (``protect(published=...)``), and only the visible
    numbers decide what else is hidden, so any counts consistent with the marks will do.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    from analysis.stats import disclosure

    hidden = [k for k, v in led.values.items() if isinstance(v, str)]
    index = {k: j for j, k in enumerate(hidden)}
    lo = np.array([led.min_cell if led.values[k] == disclosure.SECONDARY else 0 for k in hidden], float)
    hi = np.array([np.inf if led.values[k] == disclosure.SECONDARY else led.min_cell - 1 for k in hidden], float)
    a = np.zeros((len(led.relations), len(hidden)))
    b = np.zeros(len(led.relations))
    for r, terms in enumerate(led.relations):
        for k, c in terms.items():
            if k in index:
                a[r, index[k]] += c
            else:
                b[r] -= c * led.values[k]
    cons = [LinearConstraint(a, b, b)] if len(led.relations) else []
    res = milp(np.zeros(len(hidden)), constraints=cons, bounds=Bounds(lo, hi), integrality=np.ones(len(hidden)))
    if res.status != 0:
        raise ValueError("publish_flow: the flow's numbers and marks contradict each other "
                         "(received is not duplicates + out_of_scope + kept); a cleaning bug.")
    out = disclosure.Ledger(min_cell=led.min_cell)
    for k, v in led.values.items():
        out.add(k, int(round(res.x[index[k]])) if k in index else v, led.kinds[k], led.where[k][0])
    out.relations = list(led.relations)
    return out


def publish_flow(flow: pd.DataFrame, name: str = "cleaning_flow", *, min_cell: int | None = None,
                 secondary: bool | None = None, published: dict | None = None, context=None) -> pd.DataFrame:
    """The flow as published: counts of 1-4 shown as "<5", and (secondary suppression) more cells
    hidden as "x", or a 0 as "<5", until no "<5" can be recovered from the row's other cells.

    Why: a row received 160, duplicates "<5", empty 0, kept 159 gives the hidden 1 back as
    160 - 159 (the report's flow table showed "Dubbel 1"). The rule is the one of
    :func:`analysis.stats.disclosure.protect`; ``min_cell`` and ``secondary`` default to study.yaml
    ``analysis.min_cell`` and ``analysis.secondary_suppression``. The flow may be unsuppressed or
    already carry marks (kept; only more cells are hidden). Not modified.

    ``published`` = {key: mark} of counts that other tables already hide (the same key is the
    same count, e.g. ``("interviewed", "T0", "alle")`` hidden by notebook 03's summary): they are
    hidden here too, and the row is protected around them (a hidden kept with a shown received
    and a 0 removed would give it back). Keys the flow does not have are ignored. That keeps
    the flow's own "<5" safe, but an imposed "x" may be narrowed by the row; to protect both
    tables as one, give ``context``: the other tables' unsuppressed ledger (e.g. notebook 03's
    ``changes.ledger``), protected together with the flow; the marks of the flow's cells are
    applied (the same call on the merged ledger gives the other tables theirs:
    :func:`apply_flow_marks`).

    >>> flow = pd.DataFrame({"file": ["DH_bereik.csv"], "site": ["DH"], "received": [160],
    ...                      "duplicates": [1], "out_of_scope": [0], "kept": [159]})
    >>> publish_flow(flow, min_cell=5, secondary=True).iloc[0].tolist()
    ['DH_bereik.csv', 'DH', 'x', '<5', '<5', 159]
    """
    from analysis import config
    from analysis.stats import disclosure

    settings = config.study()["analysis"]
    k = int(settings["min_cell"]) if min_cell is None else int(min_cell)
    sec = bool(settings.get("secondary_suppression", True)) if secondary is None else bool(secondary)
    led, keys = _one_flow_ledger(flow, name, k)
    already = {key: v for key, v in led.values.items() if isinstance(v, str)}
    if already:
        led = _feasible(led)
    for key, m in (published or {}).items():
        if key in led.values and m is not None and key not in already:
            already[key] = m
    if context is not None:
        if any(isinstance(v, str) for v in flow_ledger({name: flow}, k).values.values()):
            raise ValueError("publish_flow: with context, give the unsuppressed flow (numbers only).")
        led = disclosure.Ledger(min_cell=k).merge(context).merge(led)
    marks = disclosure.protect(led, secondary=sec, published=already or None)
    return apply_flow_marks(flow, name, marks, min_cell=k)


def apply_flow_marks(flow: pd.DataFrame, name: str, marks: dict, *, min_cell: int = 5) -> pd.DataFrame:
    """The flow with ``marks`` ({ledger key: "<5" | "x"}, from :func:`disclosure.protect`) in its
    cells; the other counts as whole numbers. For a flow protected together with other tables."""
    from analysis.stats import disclosure

    k = int(min_cell)
    keys = _flow_keys(flow, name)
    out = flow.copy()
    cols = list(dict.fromkeys(col for _, col in keys))
    out[cols] = out[cols].astype(object)
    for (i, col), key in keys.items():
        if key in marks:
            out.at[i, col] = marks[key]
        elif not disclosure.is_mark(out.at[i, col], k):
            out.at[i, col] = int(float(out.at[i, col]))
    return out


def protect_with_flow(led, out: Path, name: str = "interview_flow", *, secondary: bool | None = None) -> dict:
    """Protect another stage's ledger together with a flow already written, and rewrite the flow.

    Why: notebook 03 writes ``interview_flow.csv`` (21 interviewed at T0, 18 at T1) before it
    protects its own tables; protected apart, the drop-outs come back as 21 - 18. Called with
    the paired tables' unsuppressed ledger, this reads the flow's numbers from ``internal/``,
    protects both as one ledger, writes the published flow again and returns the marks
    ({key: "<5" | "x"}) for the caller's tables.
    """
    from analysis import config, results
    from analysis.stats import disclosure

    flow = pd.read_csv(results.internal_dir(out) / f"{name}.csv")
    settings = config.study()["analysis"]
    sec = bool(settings.get("secondary_suppression", True)) if secondary is None else bool(secondary)
    merged = disclosure.Ledger(min_cell=led.min_cell).merge(led).merge(flow_ledger({name: flow}, led.min_cell))
    marks = disclosure.protect(merged, secondary=sec)
    results.write_result(apply_flow_marks(flow, name, marks, min_cell=led.min_cell), name, out)
    return marks


# --- stage outputs ----------------------------------------------------------------------------


def provenance(raw_dir: Path) -> dict:
    """What the outputs were made from: synthetic or not, and a hash of every raw file.

    The report prints these hashes (reproducibility appendix) and shows the synthetic banner.
    """
    raw_dir = Path(raw_dir)
    files = sorted(p for p in raw_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    return {
        "synthetic": is_synthetic(raw_dir),
        "files": {p.name: sha256(p) for p in files},
    }


def write_outputs(out: Path, tables: dict[str, pd.DataFrame], *, log: pd.DataFrame, log_name: str = "cleaning_log",
                  flow: pd.DataFrame | None = None, flow_name: str = "cleaning_flow", raw_dir: Path | None = None,
                  extra: dict | None = None, record_provenance: bool = True) -> pd.DataFrame:
    """Validate every table against its schema, then write Parquet + CSV atomically.

    ``record_provenance``: write ``provenance.json`` (stage 01 does; a later stage reading the
    same raw directory leaves it to stage 01, so one stage owns each output file).

    All tables are validated before any is written, so a schema failure leaves the previous
    outputs untouched. Returns a small table of what was written (table, rows, file).
    """
    import json

    from analysis import results, schemas

    out = Path(out)
    checked = {name: schemas.validate(name, frame, raw_dir=raw_dir) for name, frame in tables.items()}
    checked[log_name] = schemas.validate("cleaning_log", log)
    written = []
    for name, frame in checked.items():
        for path in write_table(frame, out / f"{name}.parquet"):
            written.append({"table": name, "rows": len(frame), "file": path.name})
    if flow is not None:  # the published flow (secondary suppression); the numbers stay internal
        results.write_result(publish_flow(flow, flow_name), flow_name, out)
        results.write_result(flow, flow_name, out, internal=True)
        written.append({"table": flow_name, "rows": len(flow), "file": f"results/{flow_name}.csv"})
    if raw_dir is not None and record_provenance:
        record = provenance(raw_dir) | (extra or {})
        text = json.dumps(record, indent=1, sort_keys=True)
        results.write_atomic(out / "provenance.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
        written.append({"table": "provenance", "rows": len(record["files"]), "file": "provenance.json"})
    return pd.DataFrame(written)


def clean_all_reach(raw_dir: Path, out: Path) -> dict:
    """Notebook 01 in one call: every raw source checked, then reach, proxy and sites cleaned,
    validated and written.

    Every source (the interviews too) is checked first, in one pass
    (:func:`analysis.checkraw.check_raw`); the problems go to ``<out>/internal/problems.csv`` and
    a problem that blocks the analysis stops here, before anything is written, with one error
    listing them all. Returns the cleaned tables, the combined log, the flow table (``flow``:
    unsuppressed, also in ``internal/``; ``flow_published``: as in ``results/``, what a notebook
    shows), the list of written files and the problems.
    """
    from analysis import results
    from analysis.checkraw import check_raw

    raw_dir, out = Path(raw_dir), Path(out)
    cb = cbmod.load(raw_dir=raw_dir)
    synthetic = is_synthetic(raw_dir)
    pseudonym_key(synthetic)  # no key for real data: say so before reading anything
    problems, cleaned = check_raw(raw_dir, cb, synthetic=synthetic)
    problems.write(results.internal_dir(out))
    problems.raise_if_blocking()
    reach, proxy, sites = cleaned["reach"], cleaned["proxy"], cleaned["sites"]
    log = pd.concat([c.log.frame() for c in (reach, proxy, sites)], ignore_index=True)
    flow = pd.concat([reach.flow, proxy.flow, sites.flow], ignore_index=True)
    for col in ("duplicates", "out_of_scope"):
        flow[col] = flow[col].fillna(0).astype(int)
    flow["site"] = flow["site"].fillna("alle")
    flow = flow[["file", "site", "received", "duplicates", "out_of_scope", "kept"]]
    tables = {"reach": reach.table, "proxy": proxy.table, "sites": sites.table}
    written = write_outputs(out, tables, log=log, flow=flow, raw_dir=raw_dir)
    return {"tables": tables, "log": log, "flow": flow, "flow_published": publish_flow(flow),
            "written": written, "problems": problems.frame()}
