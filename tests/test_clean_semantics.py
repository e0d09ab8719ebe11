"""Cleaning keeps the meaning of the raw exports (issue 16): dates, duplicate forms, missing answers.

Each damaged file is built the way the real tool writes it: the DH survey tool's ``;``-separated
UTF-8 CSV with a byte-order mark and ``YYYY-MM-DD HH:MM:SS`` timestamps (Python's csv module,
as the generator writes it); the LH workbook through openpyxl, with real Excel date cells (what
Excel makes of a typed ``03-03-2025``) beside typed text; the proxy CSV as the generator writes
it. The expected log rows and problems are written out in full: file, row (header = row 1),
column, old and new value, rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil

import openpyxl
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import clean, codebook, config
from analysis.cleanlog import CleaningLog
from analysis.problems import Problems
from analysis.readers import read_excel_sheet

RAW = config.RAW_DIR
CB = codebook.load()
TRUTH = yaml.safe_load((RAW / "true_parameters.yaml").read_text(encoding="utf-8"))
LO, HI = (d.date() for d in CB.fieldwork("reach"))
OUTSIDE = f"date outside the fieldwork window [{LO}, {HI}]: set to missing"
MINUTES = CB.cleaning("resubmission_minutes")
UNREADABLE = "impossible or unreadable date set to missing"


def planted(kind: str, file: str) -> dict:
    (d,) = [d for d in TRUTH["defects"] if d["defect"] == kind and d["file"] == file]
    return d


@pytest.fixture
def raw(tmp_path):
    dest = tmp_path / "raw"
    dest.mkdir()
    for name in ("DH_bereik.csv", "LH_bereik.xlsx", "PS_bereik.sav", "proxy_meldingen.csv", "locatievragenlijst.csv"):
        shutil.copy(RAW / name, dest / name)
    return dest


# --- building files the way the tools write them --------------------------------------------------


def read_csv_rows(path, sep: str, encoding: str) -> list[list[str]]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.reader(fh, delimiter=sep))


def write_csv_rows(path, rows, sep: str, encoding: str) -> None:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh, delimiter=sep, lineterminator="\n").writerows(rows)


def edit_dh(raw, fn) -> None:
    """The DH survey-tool export: ``;``, UTF-8 with BOM; ``fn`` edits the rows (header first)."""
    path = raw / "DH_bereik.csv"
    rows = read_csv_rows(path, ";", "utf-8-sig")
    fn(rows)
    write_csv_rows(path, rows, ";", "utf-8-sig")


def edit_proxy(raw, fn) -> None:
    path = raw / "proxy_meldingen.csv"
    rows = read_csv_rows(path, ",", "utf-8")
    fn(rows)
    write_csv_rows(path, rows, ",", "utf-8")


def edit_lh(raw, fn) -> None:
    """The LH workbook, edited in openpyxl (as Excel would save it); ``fn(ws, col)`` with
    ``col[name]`` the 1-based column of a header."""
    path = raw / "LH_bereik.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["Formulieren"]
    col = {c.value: c.column for c in ws[1]}
    fn(ws, col)
    wb.save(path)


def as_date_cell(cell, value: dt.datetime, fmt: str = "dd-mm-yyyy") -> None:
    """What Excel stores when a user types 03-03-2025 in a Dutch locale: a date serial, formatted."""
    cell.value = value
    cell.number_format = fmt


def log_frame(result) -> pd.DataFrame:
    return result.log.frame()


def entries(log: pd.DataFrame, file: str, rule: str) -> list[tuple]:
    """The log rows of one file whose rule starts with ``rule``: (row, column, old, new, rule)."""
    sel = log[(log["file"] == file) & log["rule"].str.startswith(rule)]
    return sorted(map(tuple, sel[["row", "column", "old", "new", "rule"]].to_numpy().tolist()))


def record(result, file: str, row: int) -> pd.Series | None:
    hit = result.origin[(result.origin["file"] == file) & (result.origin["row"] == row)]
    return None if hit.empty else result.table.loc[hit.index[0]]


# --- 1. dates ---------------------------------------------------------------------------------------


def test_dates_outside_the_fieldwork_window_are_missing_and_logged(raw):
    def lh(ws, col):
        ws.cell(row=3, column=col["Datum"], value="03-03-2024")  # typed, a year too early
        as_date_cell(ws.cell(row=4, column=col["Datum"]), dt.datetime(2052, 3, 3))  # a real date cell

    def dh(rows):
        rows[4][rows[0].index("Q0_TIMESTAMP")] = "2025-12-01 10:00:00"

    edit_lh(raw, lh)
    edit_dh(raw, dh)
    result = clean.clean_reach(raw, synthetic=True)
    log = log_frame(result)
    assert entries(log, "LH_bereik.xlsx", "date outside") == [
        (3, "Datum", "03-03-2024", "", OUTSIDE), (4, "Datum", "2052-03-03", "", OUTSIDE)]
    assert entries(log, "DH_bereik.csv", "date outside") == [(5, "Q0_TIMESTAMP", "2025-12-01 10:00:00", "", OUTSIDE)]
    for file, row in (("LH_bereik.xlsx", 3), ("LH_bereik.xlsx", 4), ("DH_bereik.csv", 5)):
        assert pd.isna(record(result, file, row)["date"])
    # the planted impossible dates are still repairs of their own kind
    impossible = [d["rows"][0] for d in TRUTH["defects"] if d["defect"] == "impossible_date"]
    assert [e[0] for e in entries(log, "LH_bereik.xlsx", "impossible")] == sorted(impossible)


def test_proxy_and_interview_dates_have_their_own_window(raw):
    edit_proxy(raw, lambda rows: rows[2].__setitem__(2, "2024-06-08"))
    result = clean.clean_proxy(raw, synthetic=True)
    plo, phi = (d.date() for d in CB.fieldwork("proxy"))
    assert entries(log_frame(result), "proxy_meldingen.csv", "date outside") == [
        (3, "datum", "2024-06-08", "", f"date outside the fieldwork window [{plo}, {phi}]: set to missing")]

    ilo, ihi = (d.date() for d in CB.fieldwork("interviews"))
    frame = read_excel_sheet(RAW / "interviews.xlsx", sheet="T1")
    frame.loc[0, "Datum interview"] = "2026-08-01"  # T1 after the window
    log = CleaningLog()
    tidy = clean.map_source(frame, "interviews", CB, log, "interviews.xlsx[T1]")
    assert entries(log.frame(), "interviews.xlsx[T1]", "date outside") == [
        (int(frame.loc[0, "_row"]), "Datum interview", "2026-08-01", "",
         f"date outside the fieldwork window [{ilo}, {ihi}]: set to missing")]
    assert pd.isna(tidy.loc[0, "date"]) and tidy["date"].iloc[1:].notna().all()


def test_the_synthetic_data_lie_inside_the_fieldwork_windows():
    """The windows of study.yaml contain every date the generator writes (no false repairs)."""
    for result in (clean.clean_reach(RAW), clean.clean_proxy(RAW)):
        assert not log_frame(result)["rule"].str.startswith("date outside").any()
    ilo, ihi = CB.fieldwork("interviews")
    for sheet in ("T0", "T1"):
        dates = pd.to_datetime(read_excel_sheet(RAW / "interviews.xlsx", sheet=sheet)["Datum interview"])
        assert dates.between(ilo, ihi).all(), sheet
    # and the generator's own settings leave the margin the comment in study.yaml promises
    from analysis import synth

    fw = synth.load_params()["fieldwork"]
    lo, hi = CB.fieldwork("reach")
    assert lo + pd.Timedelta(days=28) <= pd.Timestamp(fw["start"]) and pd.Timestamp(fw["end"]) + pd.Timedelta(days=28) <= hi


def test_real_date_cells_and_typed_text_in_one_column_parse_completely(raw):
    """Excel turns some typed 03-03-2025 into date cells: a mixed column reads like the typed one."""
    before = clean.clean_reach(raw, synthetic=True)

    def mix(ws, col):
        c = col["Datum"]
        for r in range(2, ws.max_row + 1, 2):
            text = ws.cell(row=r, column=c).value
            try:
                day = dt.datetime.strptime(text, "%d-%m-%Y")
            except ValueError:
                continue  # the planted impossible dates stay typed text
            as_date_cell(ws.cell(row=r, column=c), day, "dd-mm-yyyy hh:mm" if r % 4 == 0 else "dd-mm-yyyy")

    edit_lh(raw, mix)
    wb = openpyxl.load_workbook(raw / "LH_bereik.xlsx")
    kinds = {type(c.value) for c in wb["Formulieren"]["B"][1:]}
    assert kinds == {str, dt.datetime}  # the file really mixes both
    after = clean.clean_reach(raw, synthetic=True)
    lh = lambda r: r.table[r.origin["file"] == "LH_bereik.xlsx"]["date"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_series_equal(lh(before), lh(after))
    assert entries(log_frame(after), "LH_bereik.xlsx", "impossible") == entries(log_frame(before), "LH_bereik.xlsx", "impossible")


def test_date_values_in_a_text_column_are_read_too():
    """A reader that hands over Excel's date cells as datetime objects (not ISO text) beside
    typed text: every cell is read, none logged as unreadable."""
    frame = read_excel_sheet(RAW / "LH_bereik.xlsx", sheet="Formulieren").iloc[:4].copy()
    frame["Datum"] = pd.Series([dt.datetime(2025, 3, 3), "04-03-2025", dt.date(2025, 3, 5), pd.Timestamp("2025-03-06")],
                               index=frame.index, dtype=object)
    log = CleaningLog()
    tidy = clean.map_source(frame, "LH", CB, log, "LH_bereik.xlsx")
    assert tidy["date"].tolist() == list(pd.to_datetime(["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06"]))
    assert entries(log.frame(), "LH_bereik.xlsx", "impossible") == []


def test_a_changed_export_locale_stops_with_one_problem_per_column(raw):
    """US order (3/14/2025) at LH and Dutch order at DH: one blocking problem per file, in one pass."""
    def us(ws, col):
        c = col["Datum"]
        for r in range(2, ws.max_row + 1):
            text = ws.cell(row=r, column=c).value
            try:
                day = dt.datetime.strptime(text, "%d-%m-%Y")
            except ValueError:
                continue
            ws.cell(row=r, column=c, value=f"{day.month}/{day.day}/{day.year}")

    def nl(rows):
        c = rows[0].index("Q0_TIMESTAMP")
        for row in rows[1:]:
            t = dt.datetime.strptime(row[c], "%Y-%m-%d %H:%M:%S")
            row[c] = f"{t.day}-{t.month}-{t.year} {t:%H:%M}"

    edit_lh(raw, us)
    edit_dh(raw, nl)
    n_lh = len(read_excel_sheet(raw / "LH_bereik.xlsx", sheet="Formulieren"))
    n_dh = len(read_csv_rows(raw / "DH_bereik.csv", ";", "utf-8-sig")) - 1
    dh_examples = ", ".join(repr(r[1]) for r in read_csv_rows(raw / "DH_bereik.csv", ";", "utf-8-sig")[1:4])
    assert dh_examples == "'3-3-2025 10:53', '3-3-2025 15:30', '3-3-2025 16:44'"
    problems = Problems()
    assert clean.clean_reach(raw, synthetic=True, problems=problems) is None
    got = [(p.file, p.row, p.column, p.blocking, p.problem, p.fix, p.value) for p in problems.items]
    assert got == [
        ("DH_bereik.csv", None, "Q0_TIMESTAMP", True,
         f"{n_dh} of {n_dh} dates cannot be read as YYYY-MM-DD HH:MM:SS (more than 50% of the column)",
         "the export's date format changed; export again as YYYY-MM-DD HH:MM:SS or set "
         "sources.DH.columns.date.format in analysis/codebook.yaml",
         dh_examples),
        ("LH_bereik.xlsx", None, "Datum", True,
         f"{n_lh} of {n_lh} dates cannot be read as DD-MM-YYYY (more than 50% of the column)",
         "the export's date format changed; export again as DD-MM-YYYY or set sources.LH.columns.date.format "
         "in analysis/codebook.yaml",
         "'3/3/2025', '3/4/2025', '3/5/2025'"),
    ]


def test_few_unreadable_dates_are_repairs_and_the_threshold_is_more_than_half():
    """3 of 6 unreadable: logged repairs; 4 of 6: one blocking problem and no log rows."""
    assert CB.cleaning("unreadable_dates") == {"share": 0.5, "min_cells": 3}
    frame = read_excel_sheet(RAW / "LH_bereik.xlsx", sheet="Formulieren").iloc[:6].copy()
    for k, n_bad in ((3, 3), (4, 4)):
        part = frame.copy()
        part.loc[part.index[:n_bad], "Datum"] = "14 mrt. 2025"
        log, problems = CleaningLog(), Problems()
        clean.map_source(part, "LH", CB, log, "LH_bereik.xlsx", problems=problems)
        rows = entries(log.frame(), "LH_bereik.xlsx", "impossible")
        if n_bad == 3:
            assert rows == [(r, "Datum", "14 mrt. 2025", "", UNREADABLE) for r in (2, 3, 4)]
            assert len(problems) == 0
        else:
            assert rows == []
            assert [(p.file, p.row, p.column, p.problem.split(" (")[0], p.value) for p in problems.items] == [
                ("LH_bereik.xlsx", None, "Datum", "4 of 6 dates cannot be read as DD-MM-YYYY", "'14 mrt. 2025'")]


# --- 2. duplicates ----------------------------------------------------------------------------------


def by_answers_rule(first: int, why: str, what: str) -> str:
    return (f"duplicate form: same answers as row {first} ({why}; compared on all answers and the {what} "
            f"within ±{MINUTES:g} minutes): removed")


def test_dh_resubmission_across_midnight_is_one_form(raw):
    """Sent at 23:59:10 and again at 00:01:10 with a new response ID: one form. A copy sent 11
    minutes later is another submission (kept: the survey tool's ID is new each time)."""
    def resubmit(rows):
        c_id, c_ts = rows[0].index("RESPONSE_ID"), rows[0].index("Q0_TIMESTAMP")
        rows[11][c_ts] = "2025-04-10 23:59:10"  # raw row 12
        again = list(rows[11])
        again[c_id], again[c_ts] = "R90001", "2025-04-11 00:01:10"
        rows.insert(12, again)  # raw row 13
        late = list(rows[21])  # raw row 22
        t = dt.datetime.strptime(late[c_ts], "%Y-%m-%d %H:%M:%S") + dt.timedelta(minutes=MINUTES + 1)
        late[c_id], late[c_ts] = "R90002", f"{t:%Y-%m-%d %H:%M:%S}"
        rows.append(late)

    edit_dh(raw, resubmit)
    n = len(read_csv_rows(raw / "DH_bereik.csv", ";", "utf-8-sig"))  # the late copy is the last row
    result = clean.clean_reach(raw, synthetic=True)
    first, second = (r + 1 for r in planted("duplicate_submission", "DH_bereik.csv")["rows"])  # shifted by the insert
    why = "the response ID is new for each submission"
    assert entries(log_frame(result), "DH_bereik.csv", "duplicate form") == [
        (13, "*", "", "", by_answers_rule(12, why, "timestamp")),
        (second, "*", "", "", by_answers_rule(first, why, "timestamp"))]
    assert record(result, "DH_bereik.csv", 12) is not None and record(result, "DH_bereik.csv", 13) is None
    assert record(result, "DH_bereik.csv", 22) is not None and record(result, "DH_bereik.csv", n) is not None
    flow = result.flow.set_index("file").loc["DH_bereik.csv"]
    assert (flow["received"], flow["duplicates"]) == (n - 1, 2)


def test_lh_form_numbers_decide_and_a_form_without_one_is_compared_on_its_answers(raw):
    """Row 5 copied with another form number: two people. Copied without a number: the copy."""
    def copies(ws, col):
        values = [c.value for c in ws[5]]
        other = list(values)
        other[col["Formulier nr"] - 1] = "900"
        ws.append(other)  # row 152: another form with the same answers
        none = list(values)
        none[col["Formulier nr"] - 1] = None
        ws.append(none)  # row 153: the same form typed again without its number

    edit_lh(raw, copies)
    result = clean.clean_reach(raw, synthetic=True)
    first, second = planted("duplicated_form", "LH_bereik.xlsx")["rows"]
    assert entries(log_frame(result), "LH_bereik.xlsx", "duplicate form") == [
        (second, "*", "", "", f"duplicate form: same answers as row {first} (same form number): removed"),
        (153, "*", "", "", by_answers_rule(5, "no form number", "date"))]
    assert record(result, "LH_bereik.xlsx", 5) is not None and record(result, "LH_bereik.xlsx", 152) is not None
    assert record(result, "LH_bereik.xlsx", 153) is None


def test_a_missing_form_number_never_takes_another_forms_number(raw):
    """Row 8 (form 7) loses its number; form 8 is in row 9. The old fallback (the row number,
    "8") gave both the same pseudonym; now each has its own, and the gap is logged."""
    def blank(ws, col):
        ws.cell(row=8, column=col["Formulier nr"]).value = None  # (cell(..., value=None) sets nothing)

    edit_lh(raw, blank)
    assert read_excel_sheet(raw / "LH_bereik.xlsx", sheet="Formulieren").loc[6, "Formulier nr"] == ""
    result = clean.clean_reach(raw, synthetic=True)
    ids = result.table["respondent_id"]
    assert ids.is_unique
    key = clean.pseudonym_key(True)
    form8 = clean.pseudonymise(pd.Series(["8"]), pd.Series(["LH"]), key).iloc[0]
    assert record(result, "LH_bereik.xlsx", 9)["respondent_id"] == form8
    assert record(result, "LH_bereik.xlsx", 8)["respondent_id"] != form8
    assert entries(log_frame(result), "LH_bereik.xlsx", "no form number") == [
        (8, "Formulier nr", "", "(pseudonym from file and row)",
         "no form number: pseudonym made from the file and row, which no form number can equal")]
    # the stand-in cannot be typed: even a form "numbered" with the old fallback's text differs
    tidy = pd.DataFrame({"respondent_id": [None, "8", "LH_bereik.xlsx:8"], clean.ROW: [8, 9, 10],
                         clean.FILE: ["LH_bereik.xlsx"] * 3})
    filled = clean._without_gaps(tidy, "respondent_id", CleaningLog())
    assert filled.is_unique and filled.iloc[1:].tolist() == ["8", "LH_bereik.xlsx:8"]


def test_same_form_number_with_different_answers_names_both_rows(raw):
    edit_lh(raw, lambda ws, col: ws.cell(row=20, column=col["Formulier nr"], value="3"))  # form 3 is in row 4
    problems = Problems()
    assert clean.clean_reach(raw, synthetic=True, problems=problems) is None
    assert [(p.file, p.row, p.column, p.problem, p.blocking) for p in problems.items] == [
        ("LH_bereik.xlsx", 20, "Formulier nr", "the same form number occurs in rows [4, 20] with different answers", True)]


def test_proxy_reports_follow_the_same_rules(raw):
    def edit(rows):
        rows.append(["M0901"] + rows[4][1:])  # report of row 5 with another number: another report
        rows.append([""] + rows[5][1:])  # report of row 6 without a number: the same report again

    edit_proxy(raw, edit)
    n = len(read_csv_rows(raw / "proxy_meldingen.csv", ",", "utf-8"))
    result = clean.clean_proxy(raw, synthetic=True)
    assert entries(log_frame(result), "proxy_meldingen.csv", "duplicate form") == [
        (n, "*", "", "", by_answers_rule(6, "no form number", "date"))]
    assert len(result.table) == n - 2  # header and the copy


@pytest.mark.parametrize("gap,removed", [(MINUTES, True), (MINUTES + 1 / 60, False)])
def test_resubmission_tolerance_is_inclusive(gap, removed):
    """Unit rule of remove_duplicates: timestamps at most ``resubmission_minutes`` apart."""
    t0 = pd.Timestamp("2025-04-10 23:55:00")
    tidy = pd.DataFrame({"respondent_id": ["R1", "R2"], "site": ["DH", "DH"], "gender": ["man", "man"],
                         clean.STAMP: [t0, t0 + pd.Timedelta(minutes=gap)], clean.ROW: [2, 3],
                         clean.FILE: ["DH_bereik.csv"] * 2})
    tidy["date"] = tidy[clean.STAMP].dt.normalize()
    log = CleaningLog()
    kept, counts = clean.remove_duplicates(tidy, "respondent_id", log, minutes=MINUTES,
                                           by_answers=pd.Series([True, True]))
    assert len(kept) == (1 if removed else 2) and len(log.frame()) == int(removed)
    # with form numbers instead, the same two rows are always two people
    kept, _ = clean.remove_duplicates(tidy, "respondent_id", CleaningLog(), minutes=MINUTES)
    assert len(kept) == 2


# --- 3. meaning kept --------------------------------------------------------------------------------


def test_proxy_onbekend_is_missing_not_a_refusal(raw):
    def edit(rows):
        c = rows[0].index("geslacht")
        rows[1][c], rows[2][c] = "onbekend", "Onbekend "

    edit_proxy(raw, edit)
    result = clean.clean_proxy(raw, synthetic=True)
    rule = "missing: onbekend (melder weet het niet)"
    assert entries(log_frame(result), "proxy_meldingen.csv", "missing") == [
        (2, "geslacht", "onbekend", "", rule), (3, "geslacht", "Onbekend ", "", rule)]
    assert result.table["gender"].iloc[:2].isna().all()
    assert "zeg_ik_liever_niet" not in CB.codes("proxy_gender")


def test_a_question_mark_on_a_paper_form_is_the_typists_doubt(raw):
    edit_lh(raw, lambda ws, col: ws.cell(row=6, column=col["Rondkomen"], value="?"))
    result = clean.clean_reach(raw, synthetic=True)
    log = log_frame(result)
    sel = log[(log["file"] == "LH_bereik.xlsx") & (log["row"] == 6) & (log["column"] == "Rondkomen")]
    assert sel[["old", "new", "rule"]].values.tolist() == [["?", "", "missing: onduidelijk op het papieren formulier (?)"]]
    assert pd.isna(record(result, "LH_bereik.xlsx", 6)["finances"])


DONT_KNOW = {"weet niet", "weet ik niet", "onbekend", "?", "nvt", "n.v.t.", "niet van toepassing",
             "wil niet zeggen", "wil ik niet zeggen", "zeg ik liever niet", "geen antwoord", "geen mening"}


def test_no_mapping_turns_a_non_answer_into_a_substantive_code():
    """A "weet niet", "onbekend", "nvt" or refusal maps only to a code that says the same (e.g.
    would_like's own "weet niet"), or is a missing value; an "anders" variant maps to anders."""
    checked = 0
    for source, src in CB.sources.items():
        for var, m in src["columns"].items():
            labels = CB.labels(var) if "values" in m and "codes_from" not in CB.variable(var) else {}
            for raw_value, code in (m.get("values") or {}).items():
                text = str(raw_value).strip().casefold()
                if text in DONT_KNOW:
                    assert labels[code].casefold() == text or labels[code].casefold() in DONT_KNOW, (source, var, raw_value)
                    checked += 1
                if text.startswith("anders"):
                    assert code == "anders", (source, var, raw_value)
    assert checked >= 3  # DH and LH gender's refusal, would_like's "weet niet"
    assert CB.missing_values("proxy")["onbekend"] == "onbekend"
    assert CB.missing_values("LH")["?"] == "onduidelijk"


def test_generator_writes_onbekend_and_the_cleaning_reads_it_as_missing():
    """The generator's truth holds the reason's key ("onbekend"); its export writes the raw
    value and the cleaning turns it back into missing with that reason."""
    from analysis.synth import export

    tidy = pd.DataFrame({"proxy_id": ["M0001", "M0002"], "site": ["DH", "LH"],
                         "date": pd.to_datetime(["2025-03-08", "2025-04-01"]), "relation": ["buur", "kennis"],
                         "proxy_age_group": ["45_64", "65_plus"], "proxy_gender": ["onbekend", "vrouw"],
                         "would_like": ["weet_niet", "ja"], "proxy_text": ["", ""]})
    for code in CB.codes("proxy_reasons"):
        tidy[f"reasons_{code}"] = [code == "taal", code == "anders"]
    raw = export.unmap(CB, "proxy", tidy)
    assert raw["geslacht"].tolist() == ["onbekend", "vrouw"] and raw["zou_willen_komen"].tolist() == ["weet niet", "ja"]
    raw["_row"] = [2, 3]
    log = CleaningLog()
    out = clean.map_source(raw, "proxy", CB, log, "proxy_meldingen.csv")
    assert out["proxy_gender"].isna().tolist() == [True, False] and out["would_like"].tolist() == ["weet_niet", "ja"]
    assert entries(log.frame(), "proxy_meldingen.csv", "missing") == [
        (2, "geslacht", "onbekend", "", "missing: onbekend (melder weet het niet)")]


# --- property: the duplicate rules, on random small exports ----------------------------------------


@st.composite
def forms(draw):
    """Forms of one file: a form number or none, answers from a tiny alphabet (so that identical
    answers are common), timestamps a few minutes apart."""
    n = draw(st.integers(min_value=1, max_value=12))
    t0 = pd.Timestamp("2025-04-10 23:50:00")
    rows = []
    for i in range(n):
        rows.append({"respondent_id": draw(st.sampled_from([None, "1", "2", "3", str(100 + i)])),
                     "gender": draw(st.sampled_from(["man", "vrouw"])),
                     clean.STAMP: t0 + pd.Timedelta(minutes=draw(st.integers(min_value=0, max_value=25))),
                     clean.ROW: i + 2, clean.FILE: "LH_bereik.xlsx"})
    tidy = pd.DataFrame(rows)
    tidy["date"] = tidy[clean.STAMP].dt.normalize()
    return tidy


@settings(max_examples=60, deadline=None)
@given(tidy=forms(), submission=st.booleans())
def test_property_duplicate_rules(tidy, submission):
    log, problems = CleaningLog(), Problems()
    before = tidy.copy()
    kept, counts = clean.remove_duplicates(tidy, "respondent_id", log, problems, minutes=MINUTES,
                                           by_answers=pd.Series(submission, index=tidy.index))
    pd.testing.assert_frame_equal(tidy, before)  # the input is not modified
    removed = tidy.index.difference(kept.index)
    assert len(kept) + len(removed) == len(tidy) and int(counts.sum()) == len(removed)
    assert sorted(log.frame()["row"].astype(int)) == sorted(tidy.loc[removed, clean.ROW])  # one log row each
    numbers = tidy["respondent_id"]
    named = log.frame().set_index("row")["rule"].str.extract(r"same answers as row (\d+)")[0].astype(int)
    for i in removed:
        # the log names a kept form with the same answers ...
        twin = kept[kept[clean.ROW] == named[tidy.at[i, clean.ROW]]]
        assert len(twin) == 1 and twin["gender"].iloc[0] == tidy.at[i, "gender"], i
        # ... reached through forms whose timestamps are at most the tolerance apart ...
        same = tidy[tidy["gender"] == tidy.at[i, "gender"]][clean.STAMP].sort_values()
        gaps = same[(same >= min(same[i], twin[clean.STAMP].iloc[0])) & (same <= max(same[i], twin[clean.STAMP].iloc[0]))].diff()
        assert (gaps.dropna() <= pd.Timedelta(minutes=MINUTES)).all(), i
        # ... and, where form numbers count, it had none or the twin's number
        if not submission and pd.notna(numbers[i]):
            assert twin["respondent_id"].iloc[0] == numbers[i]
    if not submission:
        # a form number that occurs once is never removed: two numbers are two people
        once = numbers.notna() & ~numbers.duplicated(keep=False)
        assert not set(tidy.index[once]) & set(removed)
        # the same number left twice is a blocking problem naming the rows
        left = kept[kept["respondent_id"].notna()]
        assert len(problems) == left.loc[left["respondent_id"].duplicated(keep=False), "respondent_id"].nunique()
        assert all(p.blocking and p.column == "respondent_id" for p in problems.items)
