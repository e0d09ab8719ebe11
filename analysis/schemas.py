"""Schemas of the processed tables (STUDY.md section 5), generated from the codebook.

Every processed table is validated before it is written (``lazy=True``, so one run reports every
failure). Column types, allowed codes (``isin``) and ranges come from ``analysis/codebook.yaml``
(:mod:`analysis.codebook`), so a code added there is allowed here without touching code.
Relationships between columns and rows are named checks ("one row per person per wave"), as in
pandera pipelines such as PUDL, so a failure says which rule broke.

Types in the processed tables: identifiers and codes are text (pandas ``str``), integers are
nullable ``Int64``, numbers ``float64``, booleans and multi-select options nullable ``boolean``
(missing = question did not apply), dates ``datetime64`` without a time of day. Tables are
``strict``: a column that is not in the codebook's table definition (free text, say) fails.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"file": ["DH_bereik.csv"], "row": [7], "column": ["Q2_AGE"],
...                       "old": ["130"], "new": [""], "rule": ["age out of range 18-105"]})
>>> validate("cleaning_log", frame).shape
(1, 6)
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from analysis import codebook as codebook_mod

TABLES = ("reach", "proxy", "sites", "interviews", "interview_pairs", "segments", "cleaning_log")


def _is_date(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_dtype(s) and bool((s.dropna() == s.dropna().dt.normalize()).all())


def column(cb, var: str, *, sites: list[str] | None = None, key: bool = False) -> pa.Column:
    """A pandera column for one tidy variable, from its codebook entry."""
    v = cb.variable(var)
    t = v["type"]
    nullable = not key
    checks = []
    if t in ("category", "ordinal"):
        codes = sites if (v.get("codes_from") == "study.sites" and sites is not None) else cb.codes(var)
        checks.append(pa.Check.isin(codes))
        return pa.Column(str, checks, nullable=nullable)
    if t == "string":
        if "pattern" in v:
            checks.append(pa.Check.str_matches(v["pattern"]))
        return pa.Column(str, checks, nullable=nullable)
    if t in ("integer", "number"):
        lo, hi = cb.value_range(var)
        if lo is not None:
            checks.append(pa.Check.ge(lo))
        if hi is not None:
            checks.append(pa.Check.le(hi))
        return pa.Column("Int64" if t == "integer" else "float64", checks, nullable=nullable)
    if t == "boolean":
        return pa.Column("boolean", nullable=nullable)
    if t == "date":
        return pa.Column(None, pa.Check(_is_date, element_wise=False, name="date without time of day"), nullable=nullable)
    raise ValueError(f"variable {var!r} of type {t!r} cannot be a column of a processed table")


def _unique(cols: list[str], name: str) -> pa.Check:
    return pa.Check(lambda df: ~df.duplicated(cols, keep=False), name=name)


def _eq_where_known(a: pd.Series, b: pd.Series) -> pd.Series:
    known = a.notna() & b.notna()
    return ~known | (a.astype("float64") == b.astype("float64"))


def _reach_checks(cb) -> list[pa.Check]:
    edges = cb.band_edges("age_group")

    def age_group_ok(df):
        expected = pd.Series(pd.NA, index=df.index, dtype="object")
        for lo, code in edges:
            expected = expected.mask(df["age"].astype("Float64") >= lo, code)
        known = df["age"].notna() & df["age_group"].notna()
        return ~known | (df["age_group"] == expected)

    def reached_ok(df):
        known = df["visits"].notna() & df["reached"].notna()
        return ~known | (df["reached"].fillna(False).astype(bool) == (df["visits"] != "nooit"))

    def djg_ok(df):
        return _eq_where_known(df["djg_total"], df["djg_emotional"].astype("Float64") + df["djg_social"].astype("Float64"))

    def lonely_ok(df):
        known = df["djg_total"].notna() & df["lonely"].notna()
        # fillna only to allow the comparison; rows with a missing value are accepted by ~known
        return ~known | (df["lonely"].fillna(False).astype(bool) == (df["djg_total"].astype("Float64") >= 2).fillna(False))

    def heard_applies(df):
        heard = [c for c in cb.multi_columns("heard")]
        not_asked = df["knows"] == "nee"
        return ~not_asked | df[heard].isna().all(axis=1)

    return [
        _unique(["respondent_id"], "one row per respondent"),
        pa.Check(age_group_ok, name="age_group agrees with age"),
        pa.Check(reached_ok, name="reached means at least one visit"),
        pa.Check(djg_ok, name="djg_total is emotional plus social"),
        pa.Check(lonely_ok, name="lonely means djg_total of 2 or more"),
        pa.Check(heard_applies, name="heard only asked of those who know the site"),
    ]


def _interview_checks(cb) -> list[pa.Check]:
    items = [f"who5_{i}" for i in range(1, 6)]

    def who5_ok(df):
        return _eq_where_known(df["who5"], df[items].astype("Float64").sum(axis=1, min_count=5) * 4)

    def one_site(df):
        n = df.groupby("person_id")["site"].transform("nunique")
        return n <= 1

    return [
        _unique(["person_id", "wave"], "one row per person per wave"),
        pa.Check(one_site, name="a person is interviewed at one site"),
        pa.Check(who5_ok, name="who5 is 4 times the sum of its items"),
    ]


def _pairs_checks(cb, study: dict) -> list[pa.Check]:
    lo, hi = study["analysis"]["interval_months"]
    checks = [_unique(["person_id"], "one row per person")]
    for o in cb.table("interview_pairs")["outcomes"]:
        checks.append(pa.Check(
            lambda df, o=o: _eq_where_known(df[f"{o}_diff"], df[f"{o}_t1"].astype("Float64") - df[f"{o}_t0"].astype("Float64")),
            name=f"{o}_diff is t1 minus t0"))

    def interval_ok(df):
        known = df["interval_months"].notna() & df["interval_ok"].notna()
        inside = (df["interval_months"] >= lo) & (df["interval_months"] <= hi)
        return ~known | (df["interval_ok"].astype(bool) == inside)

    checks.append(pa.Check(interval_ok, name=f"interval_ok means {lo}-{hi} months"))
    return checks


def _segment_checks(cb) -> list[pa.Check]:
    groups = {c: lab["group"] for c, lab in cb.code_labels("code").items()}

    def group_ok(df):
        return df["code"].map(groups) == df["code_group"]

    return [_unique(["segment_id"], "one row per segment"),
            pa.Check(group_ok, name="code belongs to its code group")]


def schema(table: str, *, sites: list[str] | None = None, raw_dir=None) -> pa.DataFrameSchema:
    """The schema of one processed table.

    Parameters
    ----------
    table : str
        One of :data:`TABLES`.
    sites : list of str, optional
        Allowed site codes (default: the sites of analysis/study.yaml, plus the generated
        sites listed in ``raw_dir``'s ``synthetic_sites.yaml`` for scaled synthetic data).
    """
    if table not in TABLES:
        raise ValueError(f"no schema for {table!r}; tables are {TABLES}")
    cb = codebook_mod.load(raw_dir=raw_dir)
    sites = list(sites) if sites is not None else list(cb.sites)
    tab = cb.table(table)
    keys = set(tab.get("key", []))
    cols = {}
    for name, var in cb.table_variables(table).items():
        if cb.variable(var)["type"] == "multi":
            for col in cb.multi_columns(var, prefix=name):
                cols[col] = pa.Column("boolean", nullable=True)
        else:
            cols[name] = column(cb, var, sites=sites, key=name in keys)
    for o in tab.get("outcomes", []):
        base = column(cb, o, sites=sites)
        for suffix in ("t0", "t1"):
            cols[f"{o}_{suffix}"] = base
        dtype = "Int64" if cb.variable(o)["type"] == "integer" else "float64"
        cols[f"{o}_diff"] = pa.Column(dtype, nullable=True)
    checks = {
        "reach": lambda: _reach_checks(cb),
        "proxy": lambda: [_unique(["proxy_id"], "one row per proxy report")],
        "sites": lambda: [_unique(["site"], "one row per site")],
        "interviews": lambda: _interview_checks(cb),
        "interview_pairs": lambda: _pairs_checks(cb, cb.study),
        "segments": lambda: _segment_checks(cb),
        "cleaning_log": lambda: [pa.Check(lambda df: df["rule"].str.strip() != "", name="every change names its rule")],
    }[table]()
    if table == "cleaning_log":
        cols["file"] = pa.Column(str, pa.Check.str_length(min_value=1))
        cols["row"] = pa.Column("int64", pa.Check.ge(1))
        cols["column"] = pa.Column(str, pa.Check.str_length(min_value=1))
        cols["old"] = pa.Column(str)
        cols["new"] = pa.Column(str)
        cols["rule"] = pa.Column(str)
    return pa.DataFrameSchema(cols, checks=checks, strict=True, name=table,
                              description=tab.get("nl", table))


def validate(table: str, frame: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Validate ``frame`` against its table's schema, reporting every failure at once.

    Raises ``pandera.errors.SchemaErrors`` whose ``failure_cases`` lists each
    failing column or named check. The input is not modified.
    """
    return schema(table, **kwargs).validate(frame.copy(), lazy=True)


__all__ = ["TABLES", "column", "schema", "validate"]
