"""Each processed-table schema accepts a small valid frame and rejects invalid ones, naming the
column or the named relationship check that failed (lazy validation reports all at once)."""

from __future__ import annotations

import pandas as pd
import pandera.errors as pe
import pytest

from analysis import codebook, schemas

CB = codebook.load()


def value_for(var: str):
    """A valid value of a tidy variable, from its codebook entry."""
    v = CB.variable(var)
    t = v["type"]
    if t in ("category", "ordinal"):
        return CB.codes(var)[0]
    if t == "string":
        return "3021" if var == "pc4" else "x"
    if t == "integer":
        lo, _ = CB.value_range(var)
        return lo if lo is not None else 1
    if t == "number":
        lo, _ = CB.value_range(var)
        return float(lo if lo is not None else 1.0)
    if t == "boolean":
        return False
    if t == "date":
        return pd.Timestamp("2025-03-03")
    raise AssertionError(t)


def valid_frame(table: str, n: int = 2) -> pd.DataFrame:
    """``n`` valid rows of a processed table, typed as the schema says."""
    cols = {}
    for name, var in CB.table_variables(table).items():
        if CB.variable(var)["type"] == "multi":
            for col in CB.multi_columns(var, prefix=name):
                cols[col] = pd.array([pd.NA] * n, dtype="boolean")
            continue
        val = value_for(var)
        cols[name] = [val] * n
    for o in CB.table(table).get("outcomes", []):
        val = value_for(o)
        cols[f"{o}_t0"] = [val] * n
        cols[f"{o}_t1"] = [val] * n
        cols[f"{o}_diff"] = [0] * n
    frame = pd.DataFrame(cols)
    for name, var in list(CB.table_variables(table).items()):
        t = CB.variable(var)["type"]
        if t == "integer":
            frame[name] = frame[name].astype("Int64")
        elif t == "boolean":
            frame[name] = frame[name].astype("boolean")
        elif t in ("category", "ordinal", "string"):
            frame[name] = frame[name].astype(str)
    for o in CB.table(table).get("outcomes", []):
        dtype = "Int64" if CB.variable(o)["type"] == "integer" else "float64"
        for s in ("t0", "t1", "diff"):
            frame[f"{o}_{s}"] = frame[f"{o}_{s}"].astype(dtype)
    key = CB.table(table).get("key", [])
    if key == ["respondent_id"] or key == ["proxy_id"]:
        frame[key[0]] = [f"id{i}" for i in range(n)]
    if table == "reach":
        frame["age"] = pd.array([40] * n, dtype="Int64")
        frame["age_group"] = "25_44"
        frame["visits"] = "nooit"
        frame["knows"] = "ja"
        for c in CB.multi_columns("heard"):
            frame[c] = pd.array([False] * n, dtype="boolean")
    if table == "sites":
        frame["site"] = ["DH", "LH", "PS"][:n]
    if table == "interviews":
        frame["person_id"] = "DH-01"
        frame["wave"] = ["T0", "T1"][:n]
    if table in ("interview_pairs",):
        frame["person_id"] = [f"DH-0{i + 1}" for i in range(n)]
        frame["interval_months"] = 6.0
        frame["interval_ok"] = pd.array([True] * n, dtype="boolean")
    if table == "segments":
        frame["segment_id"] = pd.array(range(1, n + 1), dtype="Int64")
    return frame


def failures(table, frame):
    with pytest.raises(pe.SchemaErrors) as info:
        schemas.validate(table, frame)
    fc = info.value.failure_cases
    return set(fc["check"].astype(str)) | set(fc["column"].dropna().astype(str))


@pytest.mark.parametrize("table", schemas.TABLES[:-1])
def test_schema_accepts_a_valid_frame(table):
    frame = valid_frame(table)
    before = frame.copy()
    out = schemas.validate(table, frame)
    assert len(out) == len(frame)
    pd.testing.assert_frame_equal(frame, before)  # input not modified


def test_cleaning_log_schema_accepts_the_cleanlog_frame():
    from analysis.cleanlog import CleaningLog

    log = CleaningLog()
    log.add("LH_bereik.xlsx", 42, "Leeftijd", "7 jaar", None, "age out of range 18-105")
    log.remove_rows("LH_bereik.xlsx", [91], "duplicate form")
    assert len(schemas.validate("cleaning_log", log.frame())) == 2
    bad = log.frame().assign(rule=["", "x"])
    assert "every change names its rule" in failures("cleaning_log", bad)


def test_schemas_are_generated_from_the_codebook():
    s = schemas.schema("reach")
    assert list(s.columns) == CB.table_columns("reach")
    assert s.strict is True
    assert {c.name for c in s.checks} >= {"one row per respondent", "reached means at least one visit"}
    assert {c.name for c in schemas.schema("interviews").checks} >= {"one row per person per wave"}


def test_reach_rejects_bad_codes_ranges_duplicates_and_free_text():
    frame = valid_frame("reach", 3)
    frame.loc[0, "gender"] = "female"
    frame["age"] = pd.array([40, 7, 40], dtype="Int64")
    frame.loc[2, "respondent_id"] = frame.loc[0, "respondent_id"]
    frame["other_text"] = "bel Henk"
    found = failures("reach", frame)
    assert "gender" in found and "age" in found
    assert "one row per respondent" in found
    assert "age_group agrees with age" in found
    assert "other_text" in found  # strict: free text cannot enter a processed table


def test_reach_relationship_checks():
    frame = valid_frame("reach", 2)
    frame["reached"] = pd.array([True, False], dtype="boolean")  # visits == nooit for both
    frame["djg_total"] = pd.array([3, 0], dtype="Int64")  # emotional + social = 0
    frame["knows"] = "nee"  # but heard_* filled in
    found = failures("reach", frame)
    assert {"reached means at least one visit", "djg_total is emotional plus social",
            "lonely means djg_total of 2 or more", "heard only asked of those who know the site"} <= found


def test_interviews_one_row_per_person_per_wave_and_who5():
    frame = valid_frame("interviews", 2)
    frame["wave"] = "T0"
    frame["who5"] = pd.array([0, 40], dtype="Int64")
    found = failures("interviews", frame)
    assert "one row per person per wave" in found and "who5 is 4 times the sum of its items" in found


def test_pairs_difference_and_interval_checks():
    frame = valid_frame("interview_pairs", 2)
    frame["who5_t1"] = pd.array([20, 0], dtype="Int64")  # diff stays 0
    frame["interval_months"] = [9.1, 6.0]  # interval_ok stays True
    found = failures("interview_pairs", frame)
    assert "who5_diff is t1 minus t0" in found
    assert any(f.startswith("interval_ok means") for f in found)


def test_segments_code_group_and_unknown_site():
    frame = valid_frame("segments", 2)
    frame.loc[0, "code_group"] = "mechanismen"  # first code is a change code
    frame.loc[1, "site"] = "XX"
    found = failures("segments", frame)
    assert "code belongs to its code group" in found and "site" in found
    ok = valid_frame("segments", 1).assign(site="S004")
    assert len(schemas.validate("segments", ok, sites=["DH", "S004"])) == 1


def test_proxy_and_sites_keys():
    assert "one row per proxy report" in failures("proxy", valid_frame("proxy").assign(proxy_id="same"))
    assert "one row per site" in failures("sites", valid_frame("sites").assign(site="DH"))


def test_unknown_table():
    with pytest.raises(ValueError, match="no schema for 'nope'"):
        schemas.schema("nope")
