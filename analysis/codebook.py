"""Load and validate ``analysis/codebook.yaml``: tidy variables, tables and raw-source mappings.

The codebook is the one place that says what every tidy variable means and how each site's raw
export becomes it (STUDY.md section 4: "a mapping in one place ... adding a site means adding a
mapping, not code"). The cleaning reads raw files through it, the synthetic-data generator writes
raw files from it, and :mod:`analysis.schemas` builds the table schemas from it, so the three
cannot drift apart.

:func:`load` validates the whole file once (a typo, a code that is not an allowed code of its
variable, a raw variant that can never match after normalisation) and raises a ``ValueError``
that names the place in the YAML and says what to fix.

Examples
--------
>>> cb = load()
>>> cb.codes("finances")
['grote_moeite', 'enige_moeite', 'geen_moeite']
>>> cb.value_map("LH", "gender")["v"]
'vrouw'
>>> cb.raw_value("PS", "gender", "vrouw")
2
>>> cb.table_columns("proxy")[:4]
['proxy_id', 'site', 'date', 'relation']
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

from analysis import config

TYPES = {"string", "category", "ordinal", "integer", "number", "date", "boolean", "multi", "text"}
CODED = {"category", "ordinal", "multi"}
FORMATS = {"csv", "xlsx", "sav"}
NORMALISERS = {"strip", "casefold"}
TOP_KEYS = {"version", "missing_reasons", "code_sets", "variables", "tables", "sources"}
VARIABLE_KEYS = {
    "type", "nl", "en", "codes", "code_set", "codes_from", "range", "pattern", "derived",
    "free_text", "identifier", "subscale", "applies_if",
}
SOURCE_KEYS = {
    "table", "nl", "sites", "file", "format", "read", "normalise", "missing_values", "columns",
    "document",
}
MAPPING_KEYS = {
    "column", "columns", "values", "selected", "sep", "parse", "format", "suffix",
    "birth_year_from", "label", "identifies",
}
#: What an identifier column identifies: a ``form`` (a form number, the default: two numbers
#: are two forms) or a ``submission`` (a survey tool's response ID, new for every submission,
#: so a form sent twice has two IDs and duplicates are found by their answers).
IDENTIFIES = {"form", "submission"}
PARSERS = {"integer", "number", "date", "datetime", "spss_date", "excel_date", "age_text"}
#: Name of the file, in a raw directory, that lists extra (generated) sites and their export
#: style; written by the synthetic-data generator at ``--scale`` above 1 (analysis/synth/).
EXTRA_SITES_FILE = "synthetic_sites.yaml"
#: libyaml's safe loader when PyYAML has it (ten times faster for 300 generated sites), else the pure one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def normalise_text(value, steps) -> str:
    """Apply a source's ``normalise`` steps to one raw value (``strip``, ``casefold``).

    >>> normalise_text("  Vrouw ", ["strip", "casefold"])
    'vrouw'
    """
    text = "" if value is None else str(value)
    for step in steps:
        text = text.strip() if step == "strip" else text.casefold()
    return text


class Codebook:
    """A validated codebook with the accessors cleaning, generator and schemas use.

    Build it with :func:`load`. ``data`` is the parsed YAML (treat it as read-only);
    ``sites`` maps each site code to its settings (analysis/study.yaml, plus extra sites).
    """

    def __init__(self, data: dict, sites: dict, study: dict):
        self.data = data
        self.sites = sites
        self.study = study
        validate(self)

    # ----- variables -------------------------------------------------------------------
    @property
    def variables(self) -> dict:
        return self.data["variables"]

    def variable(self, name: str) -> dict:
        """The codebook entry of one tidy variable; ValueError names the known ones if absent."""
        try:
            return self.variables[name]
        except KeyError:
            raise ValueError(
                f"{name!r} is not a variable in analysis/codebook.yaml; known: {sorted(self.variables)}"
            ) from None

    def code_labels(self, name: str) -> dict:
        """``{code: {"nl": ..., "en": ...}}`` for a coded variable, in the codebook's order."""
        var = self.variable(name)
        if "codes" in var:
            return var["codes"]
        if "code_set" in var:
            return self.data["code_sets"][var["code_set"]]
        if var.get("codes_from") == "study.sites":
            return {s: {"nl": cfg.get("name", s), "en": cfg.get("name", s)} for s, cfg in self.sites.items()}
        raise ValueError(f"variable {name!r} has no codes (type {var['type']!r}); only coded variables have codes")

    def codes(self, name: str) -> list:
        """Allowed codes of a coded variable, in order (ordinal variables: low to high)."""
        return list(self.code_labels(name))

    def labels(self, name: str, lang: str = "nl") -> dict:
        """``{code: label}`` in Dutch (``"nl"``) or English (``"en"``).

        >>> load().labels("visits")["een_keer"]
        '1 keer'
        """
        if lang not in ("nl", "en"):
            raise ValueError(f"lang must be 'nl' or 'en', not {lang!r}")
        return {c: lab[lang] for c, lab in self.code_labels(name).items()}

    def value_range(self, name: str) -> tuple:
        """``(min, max)`` of a numeric variable (None = open); ``"study:x"`` reads study.yaml."""
        lo, hi = self.variable(name).get("range", [None, None])
        return self._resolve(lo), self._resolve(hi)

    def _resolve(self, bound):
        if isinstance(bound, str) and bound.startswith("study:"):
            key = bound.split(":", 1)[1]
            try:
                return self.study["analysis"][key]
            except KeyError:
                raise ValueError(f"range bound {bound!r}: analysis/study.yaml has no analysis.{key}") from None
        return bound

    def band_edges(self, name: str = "age_group") -> list[tuple[int, str]]:
        """``[(lowest value, code), ...]`` of a banded variable, ascending (codes carry ``min``).

        >>> load().band_edges()[0]
        (18, '18_24')
        """
        edges = sorted((lab["min"], code) for code, lab in self.code_labels(name).items() if "min" in lab)
        if len(edges) != len(self.codes(name)):
            raise ValueError(f"every code of {name!r} needs a min: (its lowest value) in analysis/codebook.yaml")
        return edges

    def multi_columns(self, name: str, prefix: str | None = None) -> dict:
        """Tidy boolean columns of a multi-select variable: ``{column: code}``.

        >>> list(load().multi_columns("reasons"))[:2]
        ['reasons_kende_niet', 'reasons_geen_behoefte']
        """
        if self.variable(name)["type"] != "multi":
            raise ValueError(f"variable {name!r} is not a multi-select (type multi) variable")
        prefix = prefix or name
        return {f"{prefix}_{code}": code for code in self.codes(name)}

    def free_text(self) -> list[str]:
        """Variables holding free text: read from raw files, never written to processed data."""
        return [n for n, v in self.variables.items() if v.get("free_text")]

    # ----- tables ------------------------------------------------------------------------
    def table(self, name: str) -> dict:
        try:
            return self.data["tables"][name]
        except KeyError:
            raise ValueError(f"{name!r} is not a table in analysis/codebook.yaml; known: {sorted(self.data['tables'])}") from None

    def table_variables(self, name: str) -> dict:
        """``{column name in the table: variable}`` for single-column variables of a table."""
        tab = self.table(name)
        rename = tab.get("rename", {})
        return {rename.get(v, v): v for v in tab["columns"]}

    def table_columns(self, name: str) -> list[str]:
        """The tidy columns of a processed table, in order; multi variables expanded.

        Interview pairs add ``<outcome>_t0``, ``<outcome>_t1`` and ``<outcome>_diff`` per outcome.
        """
        tab = self.table(name)
        cols = []
        for col, var in self.table_variables(name).items():
            if self.variables[var]["type"] == "multi":
                cols.extend(self.multi_columns(var, prefix=col))
            else:
                cols.append(col)
        for outcome in tab.get("outcomes", []):
            cols.extend([f"{outcome}_t0", f"{outcome}_t1", f"{outcome}_diff"])
        return cols

    # ----- sources -----------------------------------------------------------------------
    @property
    def sources(self) -> dict:
        return self.data["sources"]

    def source(self, name: str) -> dict:
        try:
            return self.sources[name]
        except KeyError:
            raise ValueError(f"{name!r} is not a source in analysis/codebook.yaml; known: {sorted(self.sources)}") from None

    def sources_for(self, table: str) -> list[str]:
        """Names of the sources that feed a table (e.g. ``reach``: DH, LH, PS)."""
        return [n for n, s in self.sources.items() if s["table"] == table]

    def site_sources(self, table: str = "reach") -> dict:
        """``{site: source}`` for per-site sources; extra sites come with their ``source``."""
        out = {}
        for name in self.sources_for(table):
            for site in self.sources[name].get("sites", []):
                out[site] = name
        for site, cfg in self.sites.items():
            if "source" in cfg and site not in out:
                out[site] = cfg["source"]
        return out

    def file_name(self, source: str, site: str | None = None) -> str:
        """The raw file name of a source (``{site}`` filled in for per-site sources)."""
        pattern = self.source(source)["file"]
        if "{site}" in pattern:
            if site is None:
                raise ValueError(f"source {source!r} has one file per site ({pattern}); pass site=")
            return pattern.format(site=site)
        return pattern

    def mapping(self, source: str, variable: str) -> dict:
        """The raw-column mapping of one tidy variable in one source."""
        cols = self.source(source)["columns"]
        if variable not in cols:
            raise ValueError(f"source {source!r} maps no column to {variable!r}; add it under sources.{source}.columns")
        return cols[variable]

    def value_map(self, source: str, variable: str) -> dict:
        """Raw value (normalised as the source says) → tidy code, variants included."""
        return dict(self.mapping(source, variable).get("values", {}))

    def raw_value(self, source: str, variable: str, code):
        """The raw value an export normally writes for a tidy code: the first one listed."""
        for raw, c in self.value_map(source, variable).items():
            if c == code:
                return raw
        raise ValueError(f"source {source!r}, variable {variable!r}: no raw value maps to code {code!r}")

    def raw_values(self, source: str, variable: str) -> dict:
        """Tidy code → every raw value that maps to it (the first is the usual one)."""
        out: dict = {}
        for raw, c in self.value_map(source, variable).items():
            out.setdefault(c, []).append(raw)
        return out

    def missing_values(self, source: str) -> dict:
        """Raw values that mean 'missing' in a source → reason (see ``missing_reasons``)."""
        return dict(self.source(source).get("missing_values") or {})

    def normalise(self, source: str, value) -> str:
        """One raw value as the source's mapping compares it."""
        return normalise_text(value, self.source(source).get("normalise", []))

    def identifies(self, source: str) -> str | None:
        """What the source's identifier column identifies (``form`` or ``submission``; None
        when the source has no identifier column).

        >>> load().identifies("DH"), load().identifies("LH"), load().identifies("sites")
        ('submission', 'form', None)
        """
        for var, m in self.source(source)["columns"].items():
            if self.variables[var].get("identifier"):
                return m.get("identifies", "form")
        return None

    # ----- study settings used by the cleaning (analysis/study.yaml) ---------------------
    def fieldwork(self, table: str):
        """``(first day, last day)`` of a table's fieldwork window as Timestamps (inclusive),
        or None when study.yaml gives none (``fieldwork.<table>``).

        >>> [str(d.date()) for d in load().fieldwork("reach")]
        ['2025-02-01', '2025-09-30']
        """
        import pandas as pd

        window = (self.study.get("fieldwork") or {}).get(table)
        if window is None:
            return None
        where = f"analysis/study.yaml fieldwork.{table}"
        if not isinstance(window, (list, tuple)) or len(window) != 2:
            raise ValueError(f"{where}: give [first day, last day] as YYYY-MM-DD, not {window!r}")
        try:
            lo, hi = (pd.Timestamp(str(d)) for d in window)
        except ValueError:
            raise ValueError(f"{where}: {window!r} are not dates; write them as YYYY-MM-DD") from None
        if lo > hi:
            raise ValueError(f"{where}: the first day {lo.date()} is after the last day {hi.date()}")
        return lo.normalize(), hi.normalize()

    def cleaning(self, key: str):
        """One setting of study.yaml ``cleaning`` (e.g. ``resubmission_minutes``).

        >>> load().cleaning("unreadable_dates")["share"]
        0.5
        """
        settings = self.study.get("cleaning") or {}
        if key not in settings:
            raise ValueError(f"analysis/study.yaml cleaning: needs {key} (see the comments there)")
        return settings[key]


def _err(where: str, what: str) -> ValueError:
    return ValueError(f"analysis/codebook.yaml, {where}: {what}")


def validate(cb: Codebook) -> None:
    """Check the codebook's internal consistency; raise ValueError naming the first problem.

    Checks: known top-level keys; every variable has a known type, Dutch and English labels and
    (when coded) codes; tables use known variables; every source maps to known variables of its
    table, every mapped code is an allowed code of its variable, every missing value has a known
    reason, a variant listed for a normalising source is written in normalised form (otherwise
    it could never match), and per-site sources name configured sites.
    """
    d = cb.data
    if not isinstance(d, dict):
        raise _err("top level", "expected a mapping with keys " + ", ".join(sorted(TOP_KEYS)))
    unknown = set(d) - TOP_KEYS
    missing = {"variables", "tables", "sources"} - set(d)
    if unknown or missing:
        raise _err("top level", f"unknown keys {sorted(unknown)} / missing keys {sorted(missing)}; allowed: {sorted(TOP_KEYS)}")
    d.setdefault("code_sets", {})
    d.setdefault("missing_reasons", {})
    for name, var in d["variables"].items():
        where = f"variables.{name}"
        if not isinstance(var, dict):
            raise _err(where, "expected a mapping (type, nl, en, ...)")
        bad = set(var) - VARIABLE_KEYS
        if bad:
            raise _err(where, f"unknown keys {sorted(bad)}; allowed: {sorted(VARIABLE_KEYS)}")
        if var.get("type") not in TYPES:
            raise _err(where, f"type {var.get('type')!r} is not one of {sorted(TYPES)}")
        for lang in ("nl", "en"):
            if not var.get(lang):
                raise _err(where, f"needs a label '{lang}'")
        n_sources = sum(k in var for k in ("codes", "code_set", "codes_from"))
        if var["type"] in CODED and n_sources != 1:
            raise _err(where, "a coded variable needs exactly one of codes, code_set, codes_from")
        if var["type"] not in CODED and n_sources:
            raise _err(where, f"type {var['type']} takes no codes; use category/ordinal/multi")
        if "code_set" in var and var["code_set"] not in d["code_sets"]:
            raise _err(where, f"code_set {var['code_set']!r} is not defined under code_sets")
        if "codes_from" in var and var["codes_from"] != "study.sites":
            raise _err(where, "codes_from supports only 'study.sites'")
        if var["type"] in CODED and "codes_from" not in var:
            for code, lab in cb.code_labels(name).items():
                if not isinstance(code, str):
                    raise _err(where, f"code {code!r} is not text; quote it in the YAML (e.g. \"18_24\")")
                if not isinstance(lab, dict) or not lab.get("nl") or not lab.get("en"):
                    raise _err(where, f"code {code!r} needs labels nl and en")
                if set(lab) - {"nl", "en", "group", "min"} or not all(
                        isinstance(v, str) for k, v in lab.items() if k != "min"):
                    raise _err(where, f"code {code!r}: labels must be text under nl, en (and group, min); "
                                      "quote a label that contains a comma or reads as yes/no")
                if "min" in lab and not isinstance(lab["min"], int):
                    raise _err(where, f"code {code!r}: min must be a whole number")
        if "range" in var:
            lo, hi = cb.value_range(name)
            if lo is not None and hi is not None and lo > hi:
                raise _err(where, f"range [{lo}, {hi}] is empty")
        for dep, allowed in (var.get("applies_if") or {}).items():
            if dep not in d["variables"]:
                raise _err(where, f"applies_if refers to unknown variable {dep!r}")
            bad_codes = [c for c in allowed if c not in cb.codes(dep)]
            if bad_codes:
                raise _err(where, f"applies_if codes {bad_codes} are not codes of {dep!r}")
    for code_set, codes in d["code_sets"].items():
        for code in codes:
            if not isinstance(code, str):
                raise _err(f"code_sets.{code_set}", f"code {code!r} is not text; quote it in the YAML")
    for tname, tab in d["tables"].items():
        where = f"tables.{tname}"
        for v in tab.get("columns", []) + tab.get("outcomes", []):
            if v not in d["variables"]:
                raise _err(where, f"column {v!r} is not a variable; add it under variables")
            if d["variables"][v]["type"] == "text":
                raise _err(where, f"{v!r} is free text, which never enters a processed table (STUDY.md sec. 9)")
        cols = cb.table_columns(tname)
        if len(set(cols)) != len(cols):
            raise _err(where, "two columns have the same name; use rename")
        for k in tab.get("key", []):
            if k not in cols:
                raise _err(where, f"key {k!r} is not one of its columns")
    reasons = set(d["missing_reasons"])
    site_owner: dict = {}
    for sname, src in d["sources"].items():
        where = f"sources.{sname}"
        bad = set(src) - SOURCE_KEYS
        if bad:
            raise _err(where, f"unknown keys {sorted(bad)}; allowed: {sorted(SOURCE_KEYS)}")
        if src.get("table") not in d["tables"]:
            raise _err(where, f"table {src.get('table')!r} is not one of {sorted(d['tables'])}")
        if src.get("format") not in FORMATS:
            raise _err(where, f"format {src.get('format')!r} is not one of {sorted(FORMATS)}")
        if not src.get("file"):
            raise _err(where, "needs a file name (use {site} for one file per site)")
        if ("{site}" in src["file"]) != bool(src.get("sites")):
            raise _err(where, "a per-site source needs both sites: [...] and {site} in its file name")
        steps = src.get("normalise") or []
        if set(steps) - NORMALISERS:
            raise _err(where, f"normalise steps {sorted(set(steps) - NORMALISERS)} unknown; use {sorted(NORMALISERS)}")
        for raw, reason in (src.get("missing_values") or {}).items():
            if reason not in reasons:
                raise _err(where, f"missing value {raw!r} has reason {reason!r}, not one of {sorted(reasons)}")
            if isinstance(raw, str) and normalise_text(raw, steps) != raw:
                raise _err(where, f"missing value {raw!r} must be written as {normalise_text(raw, steps)!r} (the source normalises)")
        for site in src.get("sites", []):
            if site not in cb.sites:
                raise _err(where, f"site {site!r} is not in analysis/study.yaml sites")
            if site in site_owner:
                raise _err(where, f"site {site!r} is also mapped by source {site_owner[site]!r}")
            site_owner[site] = sname
        table_vars = set(d["tables"][src["table"]]["columns"])
        seen_cols: dict = {}
        for var, m in src.get("columns", {}).items():
            vwhere = f"{where}.columns.{var}"
            if var not in d["variables"]:
                raise _err(vwhere, "is not a variable; add it under variables")
            vdef = d["variables"][var]
            if var not in table_vars and not vdef.get("free_text"):
                raise _err(vwhere, f"is not a column of table {src['table']!r}")
            bad = set(m) - MAPPING_KEYS
            if bad:
                raise _err(vwhere, f"unknown keys {sorted(bad)}; allowed: {sorted(MAPPING_KEYS)}")
            if ("column" in m) == ("columns" in m):
                raise _err(vwhere, "give either column (one raw column) or columns (one per option)")
            raw_cols = [m["column"]] if "column" in m else list(m["columns"])
            for c in raw_cols:
                if c in seen_cols:
                    raise _err(vwhere, f"raw column {c!r} is also mapped to {seen_cols[c]!r}")
                seen_cols[c] = var
            if "identifies" in m and (not vdef.get("identifier") or m["identifies"] not in IDENTIFIES):
                raise _err(vwhere, f"identifies is for identifier columns and is one of {sorted(IDENTIFIES)}, "
                                   f"not {m['identifies']!r}")
            if m.get("parse") is not None and m["parse"] not in PARSERS:
                raise _err(vwhere, f"parse {m['parse']!r} is not one of {sorted(PARSERS)}")
            if vdef["type"] in CODED and "codes_from" not in vdef:
                allowed = set(cb.codes(var))
                mapped = list(m.get("values", {}).values()) + list((m.get("columns") or {}).values())
                if not mapped:
                    raise _err(vwhere, "a coded variable needs values: {raw: code} or columns: {raw column: code}")
                wrong = sorted({str(c) for c in mapped if c not in allowed})
                if wrong:
                    raise _err(vwhere, f"codes {wrong} are not allowed codes of {var!r}: {sorted(allowed)}")
                if vdef["type"] == "multi" and "columns" in m and "selected" not in m:
                    raise _err(vwhere, "one column per option needs selected: (the value that means ticked)")
                if vdef["type"] == "multi" and "column" in m and "sep" not in m:
                    raise _err(vwhere, "options in one cell need sep: (the separator)")
                for raw in m.get("values", {}):
                    if isinstance(raw, str) and normalise_text(raw, steps) != raw:
                        raise _err(vwhere, f"raw value {raw!r} must be written as {normalise_text(raw, steps)!r} (the source normalises)")
                    if isinstance(raw, str) and m.get("sep") and m["sep"] in raw:
                        raise _err(vwhere, f"raw value {raw!r} contains the separator {m['sep']!r}")
                if vdef["type"] != "multi":
                    unmapped = [c for c in cb.codes(var) if c not in mapped]
                    if unmapped and var not in ("visit_frequency",):
                        raise _err(vwhere, f"codes {unmapped} have no raw value; the export cannot say them")
            elif "values" in m and vdef["type"] not in CODED:
                raise _err(vwhere, f"values given for a variable of type {vdef['type']}")
    for table in (cb.study.get("fieldwork") or {}):
        if table not in d["tables"]:
            raise ValueError(f"analysis/study.yaml fieldwork: {table!r} is not a table of analysis/codebook.yaml "
                             f"(tables: {sorted(d['tables'])})")
        cb.fieldwork(table)


def extra_sites(raw_dir: str | os.PathLike | None) -> dict:
    """Generated sites listed in a raw directory's ``synthetic_sites.yaml`` (empty if none).

    Each entry: ``{site: {name, source, cbs_region}}``; ``source`` is the codebook source whose
    export style the site's file follows. Only the generator writes this file (``--scale`` > 1).
    """
    if raw_dir is None:
        return {}
    path = Path(raw_dir) / EXTRA_SITES_FILE
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_LOADER) or {}
    sites = data.get("sites", {})
    for site, cfg in sites.items():
        if not isinstance(cfg, dict) or "source" not in cfg:
            raise ValueError(f"{path}: site {site!r} needs a 'source' (the codebook source of its export style)")
    return sites


@lru_cache(maxsize=8)
def _load(path: str, study_path: str, extra_key: tuple) -> Codebook:
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_LOADER)
    study = config.study(study_path)
    sites = {s: dict(cfg) for s, cfg in study["sites"].items()}
    for site, cfg in dict(extra_key).items():
        if site in sites:
            raise ValueError(f"extra site {site!r} is already a site in analysis/study.yaml")
        sites[site] = dict(cfg)
    cb = Codebook(data, sites, study)
    for site, cfg in dict(extra_key).items():
        if cfg["source"] not in cb.sources_for("reach"):
            raise ValueError(f"extra site {site!r}: source {cfg['source']!r} is not a reach source of the codebook")
    return cb


def load(path: str | os.PathLike | None = None, *, raw_dir: str | os.PathLike | None = None,
         study_path: str | os.PathLike | None = None) -> Codebook:
    """The validated codebook (cached; treat it as read-only).

    ``raw_dir``: also read generated sites from that directory's ``synthetic_sites.yaml``.
    """
    extra = extra_sites(raw_dir)
    key = tuple(sorted((s, _freeze(c)) for s, c in extra.items()))
    return _load(str(path or config.CODEBOOK_FILE), str(study_path or config.STUDY_FILE), key)


class _FrozenDict(dict):
    def __hash__(self):
        return hash(tuple(sorted(self.items())))


def _freeze(cfg: dict) -> _FrozenDict:
    return _FrozenDict({k: v for k, v in cfg.items() if isinstance(v, (str, int, float, bool, type(None)))})
