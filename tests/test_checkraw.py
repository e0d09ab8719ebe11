"""``python -m analysis check-raw`` and stage 01 report every raw-data problem in one pass."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from analysis import clean, config
from analysis.checkraw import check_raw
from analysis.problems import COLUMNS, MESSAGE_LIMIT, Problems
from analysis.readers import RawDataError


pytestmark = pytest.mark.usefixtures("real_key")  # the fixtures raw and real_key are in conftest.py


def set_cells(path, sep, encoding, cells: dict[tuple[int, str], str]) -> None:
    """Set cells by (row as the user counts it, column) in a delimited export, keeping its format."""
    frame = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
    for (row, column), value in cells.items():
        frame.loc[row - 2, column] = value
    frame.to_csv(path, sep=sep, encoding=encoding, index=False)


def damage(raw) -> list[tuple]:
    """Problems in three files (two in one column, one elsewhere, one in another source)."""
    set_cells(raw / "DH_bereik.csv", ";", "utf-8-sig",
              {(4, "Q3_GENDER"): "vrouww", (9, "Q3_GENDER"): "06-12345678", (12, "Q9_HEALTH"): "super"})
    set_cells(raw / "proxy_meldingen.csv", ",", "utf-8", {(3, "relatie"): "collega"})
    set_cells(raw / "locatievragenlijst.csv", ",", "utf-8", {(2, "vrijwilligers"): "veel"})
    return [("DH_bereik.csv", 4, "Q3_GENDER"), ("DH_bereik.csv", 9, "Q3_GENDER"), ("DH_bereik.csv", 12, "Q9_HEALTH"),
            ("proxy_meldingen.csv", 3, "relatie"), ("locatievragenlijst.csv", 2, "vrijwilligers")]


def test_committed_data_have_no_problems():
    problems, results = check_raw(config.RAW_DIR, synthetic=True)
    assert len(problems) == 0, problems.summary()
    assert all(results[k] is not None for k in ("reach", "proxy", "sites", "interviews"))


def test_all_problems_in_one_pass(raw):
    expected = damage(raw)
    problems, _ = check_raw(raw, synthetic=True)
    table = problems.frame()
    assert list(table.columns) == COLUMNS
    assert sorted(map(tuple, table[["file", "row", "column"]].values.tolist())) == sorted(expected)
    assert table["blocking"].all() and (table["fix"] != "").all()
    phone = table.loc[table["row"] == 9, "value"].item()
    assert "12345678" not in phone and "lijkt op telefoonnummer" in phone  # shown safely
    assert table.loc[table["row"] == 4, "value"].item() == "'vrouww'"


def test_stage_01_stops_with_the_same_problems_and_writes_them(raw, tmp_path):
    expected = damage(raw)
    out = tmp_path / "out"
    with pytest.raises(RawDataError) as err:
        clean.clean_all_reach(raw, out)
    assert [(p.file, p.row, p.column) for p in err.value.problems] == \
        [tuple(r) for r in check_raw(raw, synthetic=True)[0].frame()[["file", "row", "column"]].values.tolist()]
    message = str(err.value)
    assert message.startswith(f"{len(expected)} problems in the raw data (3 files):")
    assert "file DH_bereik.csv, row 4, column 'Q3_GENDER': unknown value 'vrouww'" in message
    assert "12345678" not in message
    written = pd.read_csv(out / "internal" / "problems.csv")
    assert len(written) == len(expected)
    assert not (out / "reach.parquet").exists()  # nothing written when a problem blocks
    summary = (out / "internal" / "problems.txt").read_text(encoding="utf-8")
    assert "column 'Q3_GENDER': unknown value …; allowed: Man, Vrouw, Anders, Zeg ik liever niet — rows 4, 9 (values 'vrouww', [11 tekens, lijkt op telefoonnummer])" in summary


def test_cli_exit_status_progress_and_summary(raw, tmp_path):
    damage(raw)
    folder = tmp_path / "lists"
    run = subprocess.run([sys.executable, "-m", "analysis", "check-raw", "--raw", str(raw), "--problems", str(folder)],
                         capture_output=True, text=True, cwd=config.PROJECT_DIR)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    for name in ("DH_bereik.csv", "LH_bereik.xlsx", "PS_bereik.sav", "proxy_meldingen.csv", "locatievragenlijst.csv"):
        assert f"read {name}:" in run.stdout
    assert "5 problem(s), 5 of which block the analysis" in run.stdout
    assert (folder / "problems.csv").is_file()
    clean_run = subprocess.run([sys.executable, "-m", "analysis", "check-raw", "--problems", str(tmp_path / "ok")],
                               capture_output=True, text=True, cwd=config.PROJECT_DIR)
    assert clean_run.returncode == 0, clean_run.stdout + clean_run.stderr
    assert "No problems found." in clean_run.stdout
    assert pd.read_csv(tmp_path / "ok" / "problems.csv").empty


def test_message_lists_at_most_the_limit_then_points_to_the_table():
    p = Problems()
    for i in range(MESSAGE_LIMIT + 4):
        p.add("DH_bereik.csv", "unknown value 'x'", "fix it", row=i + 2, column="Q3_GENDER")
    text = str(p.error())
    assert text.count("\n  - ") == MESSAGE_LIMIT
    assert "… and 4 more: all are listed in problems.csv" in text


def test_warnings_do_not_block():
    p = Problems()
    p.add("LH_bereik.xlsx[Formulieren]", "an empty extra sheet", "", blocking=False)
    p.raise_if_blocking()  # nothing raised
    assert p.frame()["sheet"].tolist() == ["Formulieren"] and "(warning)" in p.summary()


# --- found by trying damaged exports as a new user would ------------------------------------------


def _dh_rows(raw):
    import csv
    import io

    text = (raw / "DH_bereik.csv").read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def _write_dh(raw, rows):
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="\n").writerows(rows)
    (raw / "DH_bereik.csv").write_text(buf.getvalue(), encoding="utf-8-sig")  # with a BOM, as the tool writes it


def test_a_missing_column_does_not_hide_the_other_problems_of_its_file(raw):
    rows = _dh_rows(raw)
    head = rows[0]
    rows[8][head.index("Q3_GENDER")], rows[11][head.index("Q2_AGE")] = "vrouww", "ca. 50"
    head[head.index("Q7_ACTIVITY")] = "Q7_ACTIVITEIT"
    _write_dh(raw, rows)
    table = check_raw(raw, synthetic=True)[0].frame()
    assert sorted(map(tuple, table[["row", "column"]].values.tolist())) == \
        [(1, "Q7_ACTIVITY"), (9, "Q3_GENDER"), (12, "Q2_AGE")]
    assert "a column 'Q7_ACTIVITEIT' is present" in table.loc[table["row"] == 1, "fix"].item()


def test_rows_of_only_delimiters_are_not_forms(raw):
    rows = _dh_rows(raw)
    n = len(rows) - 1
    _write_dh(raw, rows + [[""] * len(rows[0])] * 4)  # Excel writes ';;;;' for formatted empty rows
    flow = check_raw(raw, synthetic=True)[1]["reach"].flow.set_index("file")
    assert flow.at["DH_bereik.csv", "received"] == n
    assert flow.at["DH_bereik.csv", "out_of_scope"] == 0


def test_a_windows_1252_byte_after_the_bom_is_named_where_it_is(raw):
    data = (raw / "DH_bereik.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    lines[7] += "é".encode("cp1252")
    (raw / "DH_bereik.csv").write_bytes(b"\n".join(lines))
    at = len(b"\n".join(lines[:7])) + 1 + len(lines[7]) - 1  # the position of that byte in the file
    (p,) = check_raw(raw, synthetic=True)[0].items
    assert (p.file, p.row) == ("DH_bereik.csv", 8)
    assert p.problem == f"byte b'\\xe9' at position {at} is not valid utf-8-sig (this looks like Windows-1252 from Excel)"


def test_a_missing_or_dangling_file_is_never_matched_to_another_sources_file(raw):
    (raw / "DH_bereik.csv").unlink()
    (p,) = [p for p in check_raw(raw, synthetic=True)[0].items if p.file == "DH_bereik.csv"]
    assert p.problem.startswith("not found in") and "PS_bereik.sav" not in p.fix
    (raw / "DH_bereik.csv").symlink_to(raw / "elders" / "DH_bereik.csv")
    (p,) = [p for p in check_raw(raw, synthetic=True)[0].items if p.file == "DH_bereik.csv"]
    assert p.problem == f"is a link to {raw / 'elders' / 'DH_bereik.csv'}, which does not exist"


def test_an_spss_label_set_that_no_longer_fits_blocks(raw):
    import pyreadstat

    path = raw / "PS_bereik.sav"
    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    labels = dict(meta.variable_value_labels)
    labels["opl"] = {1: "basisonderwijs", 2: "vmbo/mbo1", 3: "havo/vwo/mbo", 4: "hbo/wo"}
    pyreadstat.write_sav(frame, str(path), column_labels=meta.column_names_to_labels,
                         variable_value_labels=labels, missing_ranges=meta.missing_ranges)
    problems = check_raw(raw, synthetic=True)[0]
    (block,) = [p for p in problems.items if p.blocking]
    assert (block.file, block.column) == ("PS_bereik.sav", "opl")
    assert block.problem.startswith("none of the file's 3 labels for this column match")
    assert sum(not p.blocking for p in problems.items) == 3  # each label named as a warning too


def test_a_postcode_with_a_thousands_separator_is_repaired_and_logged(raw):
    rows = _dh_rows(raw)
    col = rows[0].index("Q1_PC4")
    pc = rows[1][col]
    rows[1][col] = pc[0] + "." + pc[1:]
    _write_dh(raw, rows)
    problems, results = check_raw(raw, synthetic=True)
    assert len(problems) == 0
    log = results["reach"].log.frame()
    hit = log[(log["row"] == 2) & (log["column"] == "Q1_PC4")]
    assert hit[["old", "new", "rule"]].values.tolist() == \
        [[rows[1][col], pc, "postcode written with a thousands separator: separator removed"]]


def test_day_and_month_swapped_by_a_us_excel_stop(raw):
    """What a US-locale Excel makes of typed DD-MM-YYYY dates: a date cell, month first, where
    the day is 12 or less; text where it is not (built with openpyxl as Excel stores them)."""
    import datetime as dt

    import openpyxl

    path = raw / "LH_bereik.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["Formulieren"]
    col = [c.value for c in ws[1]].index("Datum") + 1
    swapped = 0
    for row in range(2, ws.max_row + 1):
        cell = ws.cell(row, col)
        try:  # the export holds planted impossible dates ("31-02-2025"): left as typed
            t = dt.datetime.strptime(str(cell.value).strip(), "%d-%m-%Y")
        except ValueError:
            continue
        if t.day <= 12:
            cell.value, cell.number_format = dt.datetime(t.year, t.day, t.month), "m/d/yyyy"
            swapped += 1
    wb.save(path)
    assert swapped >= 3
    (p,) = check_raw(raw, synthetic=True)[0].items
    assert (p.file, p.column, p.blocking) == ("LH_bereik.xlsx", "Datum", True)
    assert p.problem.startswith(f"the {swapped} date cells all have a day of 12 or less")


def test_a_column_of_date_cells_and_typed_text_is_not_taken_for_a_swap(raw):
    """The same workbook with every other date typed in as a real date cell (correctly)."""
    import datetime as dt

    import openpyxl

    path = raw / "LH_bereik.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["Formulieren"]
    col = [c.value for c in ws[1]].index("Datum") + 1
    for row in range(2, ws.max_row + 1, 2):
        cell = ws.cell(row, col)
        try:
            cell.value, cell.number_format = dt.datetime.strptime(str(cell.value).strip(), "%d-%m-%Y"), "dd-mm-yyyy"
        except ValueError:  # a planted impossible date stays text
            continue
    wb.save(path)
    assert len(check_raw(raw, synthetic=True)[0]) == 0


def test_warnings_are_issued_when_no_collector_is_given(raw):
    """Stage 03 cleans the interviews without a collector: a warning must not vanish there."""
    import openpyxl

    from analysis import interviews
    from analysis.readers import RawDataWarning

    wb = openpyxl.load_workbook(raw / "interviews.xlsx")
    notes = wb.create_sheet("Notities")
    notes.append(["Opmerking"])
    notes.append(["interviewer ziek, T1 later"])
    notes.append(["zie map"])
    wb.save(raw / "interviews.xlsx")
    with pytest.warns(RawDataWarning, match="sheet 'Notities' has 2 filled row"):
        interviews.clean_interviews(raw)


def test_header_cells_in_messages_are_shown_safely(raw):
    rows = _dh_rows(raw)
    rows[0][rows[0].index("Q9_HEALTH")] = "Jan Jansen 0612345678"
    _write_dh(raw, rows)
    (p,) = check_raw(raw, synthetic=True)[0].items
    assert p.column == "Q9_HEALTH" and "0612345678" not in p.fix and "Jansen" not in p.fix
