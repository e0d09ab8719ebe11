"""What real exports look like, at the reading level: each file is made the way the real tool
makes it (Excel's "CSV UTF-8" and "Unicode text" bytes, openpyxl for date cells, formulas and
merged cells, pyreadstat with its own value labels and missing ranges), and each test asserts the
exact problem: file, row, column and the key words of the message.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import warnings

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from analysis import clean, config
from analysis import codebook as cbmod
from analysis.problems import Problems
from analysis.readers import (RawDataError, RawDataWarning, check_value_labels, codebook_value_labels,
                              read_delimited, read_excel_sheet, read_sav, sav_missing)

RAW = config.RAW_DIR
CB = cbmod.load()
DH_REQUIRED = clean._required_columns(CB, "DH")


def one(problems) -> object:
    """The single problem collected (fails when there are more or none)."""
    items = problems.items if isinstance(problems, Problems) else problems
    assert len(items) == 1, [str(p) for p in items]
    return items[0]


def csv_sources():
    for source, src in CB.sources.items():
        if src["format"] == "csv":
            yield source, CB.file_name(source, src.get("sites", [None])[0])


# --- CSV ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source,name", list(csv_sources()))
def test_utf8_bom_on_every_csv_source(tmp_path, source, name):
    """Excel's "CSV UTF-8" starts every file with EF BB BF, also where the codebook says utf-8."""
    read = CB.source(source)["read"]
    data = (RAW / name).read_bytes()
    data = data if data.startswith(b"\xef\xbb\xbf") else b"\xef\xbb\xbf" + data
    (tmp_path / name).write_bytes(data)
    required = clean._required_columns(CB, source)
    frame = read_delimited(tmp_path / name, sep=read["sep"], encoding=read["encoding"], required=required)
    plain = read_delimited(RAW / name, sep=read["sep"], encoding="utf-8-sig")
    assert list(frame.columns) == list(plain.columns)  # no "\ufeff" in the first column's name
    assert not frame.columns[0].startswith("\ufeff")


@pytest.mark.parametrize("codec,named", [("utf-16", "UTF-16 (little-endian)"),
                                         ("utf-16-le", "UTF-16 (little-endian, without byte-order mark)"),
                                         ("utf-16-be", "UTF-16 (big-endian, without byte-order mark)")])
def test_utf16_with_or_without_bom_is_named(tmp_path, codec, named):
    """Excel's "Unicode text" is UTF-16 LE with a BOM; other tools write it without one."""
    p = tmp_path / "proxy_meldingen.csv"
    p.write_bytes((RAW / "proxy_meldingen.csv").read_text(encoding="utf-8").encode(codec))
    with pytest.raises(RawDataError) as err:
        read_delimited(p, sep=",", encoding="utf-8")
    (prob,) = err.value.problems
    assert prob.file == "proxy_meldingen.csv" and prob.row is None
    assert prob.problem == f"the file is {named}, expected utf-8"  # as the codebook says
    assert "CSV UTF-8" in prob.fix


def test_header_row_missing_is_said_once(tmp_path):
    p = tmp_path / "DH_bereik.csv"
    lines = (RAW / "DH_bereik.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    p.write_text("".join(lines[1:]), encoding="utf-8-sig")  # the header row deleted
    with pytest.raises(RawDataError) as err:
        read_delimited(p, sep=";", required=DH_REQUIRED)
    prob = one(err.value.problems)  # not one problem per required column
    assert (prob.file, prob.row, prob.column) == ("DH_bereik.csv", 1, None)
    assert prob.problem.startswith("the header row seems to be missing: row 1 looks like data (values such as ")
    assert f"of the {len(DH_REQUIRED)} required columns are not there" in prob.problem
    assert "'Q3_GENDER'" not in prob.problem and "'RESPONSE_ID'" in prob.fix


def test_renamed_header_is_not_taken_for_data(tmp_path):
    """A new export version with other column names: every missing column, not 'no header'."""
    p = tmp_path / "DH_bereik.csv"
    text = (RAW / "DH_bereik.csv").read_text(encoding="utf-8-sig")
    header, rest = text.split("\n", 1)
    p.write_text(header.lower() + "\n" + rest, encoding="utf-8-sig")
    with pytest.raises(RawDataError) as err:
        read_delimited(p, sep=";", required=DH_REQUIRED)
    assert len(err.value.problems) == len(DH_REQUIRED)
    first = err.value.problems[0]
    assert (first.row, first.column) == (1, "RESPONSE_ID")
    assert first.problem == "required column 'RESPONSE_ID' is missing"
    assert "a column 'response_id' is present: rename it to 'RESPONSE_ID'" in first.fix


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_duplicate_column_names_name_their_positions(tmp_path, kind):
    header = ["RESPONSE_ID", "Q2_AGE", "Q3_GENDER", "Q4", "Q5", "Q6", "Q7", "Q3_GENDER"]
    rows = [["R1", "45", "Man", "a", "b", "c", "d", "Vrouw"]]
    if kind == "csv":
        p = tmp_path / "DH_bereik.csv"
        p.write_text("\n".join(";".join(r) for r in [header] + rows) + "\n", encoding="utf-8-sig")
        call = lambda: read_delimited(p, sep=";", required=["Q3_GENDER"])  # noqa: E731
    else:
        p = tmp_path / "LH_bereik.xlsx"
        wb = openpyxl.Workbook()
        wb.active.title = "Formulieren"
        for r in [header] + rows:
            wb.active.append(r)
        wb.save(p)
        call = lambda: read_excel_sheet(p, sheet="Formulieren", required=["Q3_GENDER"])  # noqa: E731
    with pytest.raises(RawDataError) as err:
        call()
    prob = one(err.value.problems)
    assert (prob.file, prob.row, prob.column) == (p.name, 1, "Q3_GENDER")
    assert prob.problem == "column 'Q3_GENDER' occurs twice (columns C and H)"


def test_header_only_file_is_a_site_without_forms(tmp_path):
    p = tmp_path / "DH_bereik.csv"
    header = (RAW / "DH_bereik.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    p.write_text(header + "\r\n", encoding="utf-8-sig")  # as Excel writes it: BOM, CRLF
    problems = Problems()
    frame = read_delimited(p, sep=";", required=DH_REQUIRED, problems=problems)
    assert len(frame) == 0 and len(problems) == 0
    assert list(frame.columns) == header.split(";") + ["_row"]


def test_missing_required_columns_one_problem_each_with_near_match(tmp_path):
    p = tmp_path / "DH_bereik.csv"
    frame = pd.read_csv(RAW / "DH_bereik.csv", sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame = frame.rename(columns={"Q2_AGE": "Q2_AEG"}).drop(columns=["Q9_HEALTH"])
    frame.to_csv(p, sep=";", index=False, encoding="utf-8-sig")
    with pytest.raises(RawDataError) as err:
        read_delimited(p, sep=";", required=DH_REQUIRED)
    probs = {p.column: p for p in err.value.problems}
    assert set(probs) == {"Q2_AGE", "Q9_HEALTH"}
    assert all(p.row == 1 and p.file == "DH_bereik.csv" for p in probs.values())
    assert probs["Q2_AGE"].problem == "required column 'Q2_AGE' is missing"
    assert "a column 'Q2_AEG' is present: rename it to 'Q2_AGE'" in probs["Q2_AGE"].fix
    assert "add the column to the export" in probs["Q9_HEALTH"].fix
    assert "2 problems in the raw data" in str(err.value)


def test_every_row_with_a_wrong_field_count_at_once(tmp_path):
    p = tmp_path / "proxy_meldingen.csv"
    lines = (RAW / "proxy_meldingen.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2] + ",extra"  # row 3: an unquoted comma in a value
    lines[-1] = lines[-1].rsplit(",", 2)[0]  # the last row cut off
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = Problems()
    frame = read_delimited(p, sep=",", encoding="utf-8", problems=problems)
    assert [(q.row, q.blocking) for q in problems.items] == [(3, True), (len(lines), True)]
    assert "fields, the header has" in problems.items[0].problem
    assert 3 not in frame["_row"].tolist() and len(frame) == len(lines) - 3


# --- Excel -------------------------------------------------------------------------------------

HEADER = ["Formulier nr", "Datum", "Leeftijd", "Geslacht"]


def workbook(path, rows, *, extra=None, edit=None):
    """An LH-style workbook written by openpyxl (as Excel stores typed cells)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Formulieren"
    for r in [HEADER] + rows:
        ws.append(r)
    if edit:
        edit(ws)
    for name, sheet_rows in (extra or {}).items():
        other = wb.create_sheet(name)
        for r in sheet_rows:
            other.append(r)
    wb.save(path)
    return path


def test_real_date_cells_and_typed_text(tmp_path):
    """Excel turns a typed 03-03-2025 into a date cell (format d-m-yyyy); text stays text."""
    def fmt(ws):
        ws["B2"].number_format = "DD-MM-YYYY"
        ws["B4"].number_format = "DD-MM-YYYY HH:MM"
        ws["B5"].number_format = "DD-MM-YYYY HH:MM"  # a date-time cell at midnight: the date

    p = workbook(tmp_path / "LH_bereik.xlsx", [["1", dt.datetime(2025, 3, 3), 45, "vrouw"],
                                               ["2", "03-03-2025", 50, "man"],
                                               ["3", dt.datetime(2025, 3, 4, 10, 5), 51, "man"],
                                               ["4", dt.datetime(2025, 3, 5), 52, "man"]], edit=fmt)
    frame = read_excel_sheet(p, sheet="Formulieren", required=HEADER)
    assert frame["Datum"].tolist() == ["2025-03-03", "03-03-2025", "2025-03-04 10:05:00", "2025-03-05"]
    assert frame["Leeftijd"].tolist() == ["45", "50", "51", "52"]


def test_workbook_header_only_and_header_missing(tmp_path):
    p = workbook(tmp_path / "LH_bereik.xlsx", [])
    assert len(read_excel_sheet(p, sheet="Formulieren", required=HEADER, expected_sheets=["Formulieren"])) == 0
    wb = openpyxl.Workbook()
    wb.active.title = "Formulieren"
    for r in [["1", dt.datetime(2025, 3, 3), 45, "vrouw"], ["2", "03-03-2025", 50, "man"]]:
        wb.active.append(r)  # the header row deleted
    wb.save(p)
    with pytest.raises(RawDataError) as err:
        read_excel_sheet(p, sheet="Formulieren", required=HEADER)
    prob = one(err.value.problems)
    assert (prob.file, prob.sheet, prob.row) == ("LH_bereik.xlsx", "Formulieren", 1)
    assert prob.problem.startswith("the header row seems to be missing: row 1 looks like data "
                                   "(values such as '1', '2025-03-03', '45')")


def test_title_rows_above_the_header(tmp_path):
    def title(ws):
        ws.insert_rows(1, amount=2)
        ws["A1"] = "Bereiksformulieren Wijkatelier 2025"

    p = workbook(tmp_path / "LH_bereik.xlsx", [["1", "03-03-2025", 45, "vrouw"]], edit=title)
    with pytest.raises(RawDataError) as err:
        read_excel_sheet(p, sheet="Formulieren", required=HEADER)
    prob = one(err.value.problems)
    assert (prob.sheet, prob.row, prob.problem) == ("Formulieren", 3, "the header is in row 3, not in row 1")
    assert "delete the rows above row 3" in prob.fix


def test_formula_without_cached_value(tmp_path):
    """openpyxl writes formulas without calculating them: calamine sees an empty cell."""
    p = workbook(tmp_path / "LH_bereik.xlsx", [["1", "03-03-2025", 45, "vrouw"],
                                               ["2", "03-03-2025", "=2025-1980", "man"]])
    problems = Problems()
    read_excel_sheet(p, sheet="Formulieren", required=HEADER, problems=problems)
    prob = one(problems)
    assert (prob.file, prob.sheet, prob.row, prob.column, prob.blocking) == \
        ("LH_bereik.xlsx", "Formulieren", 3, "Leeftijd", True)
    assert prob.problem.startswith("formula without a calculated value")
    assert prob.value == "[10 tekens]"  # 2025-1980 reads as eight digits in a row: not echoed
    assert "open the file in Excel and save it again" in prob.fix and "Paste Special > Values" in prob.fix


def test_error_cells_are_not_read_as_empty(tmp_path):
    """A stored #N/A or #DIV/0! (openpyxl writes them as error cells, t="e"): calamine returns ''."""
    p = workbook(tmp_path / "LH_bereik.xlsx", [["1", "03-03-2025", "#DIV/0!", "vrouw"],
                                               ["2", "03-03-2025", 50, "#N/A"]])
    problems = Problems()
    read_excel_sheet(p, sheet="Formulieren", required=HEADER, problems=problems)
    got = [(q.row, q.column, q.value, q.blocking) for q in problems.items]
    assert got == [(2, "Leeftijd", "'#DIV/0!'", True), (3, "Geslacht", "'#N/A'", True)]
    assert problems.items[0].problem == "the cell holds an Excel error instead of a value"


def test_merged_cells(tmp_path):
    p = workbook(tmp_path / "LH_bereik.xlsx", [["1", "03-03-2025", 45, "vrouw"], ["2", "03-03-2025", 50, None],
                                               ["3", "04-03-2025", 51, "man"]],
                 edit=lambda ws: ws.merge_cells("D2:D3"))
    problems = Problems()
    read_excel_sheet(p, sheet="Formulieren", required=HEADER, problems=problems)
    prob = one(problems)
    assert (prob.file, prob.row, prob.column, prob.blocking) == ("LH_bereik.xlsx", 2, "Geslacht", True)
    assert prob.problem == "merged cells D2:D3: only the first cell holds the value"
    assert prob.fix == "unmerge the cells and fill in the value in each row"


def test_values_in_columns_without_a_header(tmp_path):
    def edit(ws):
        ws["F3"] = "belt terug"  # beyond the header (E is empty everywhere)
        ws["F4"] = 12

    p = workbook(tmp_path / "LH_bereik.xlsx", [["1", "03-03-2025", 45, "vrouw"], ["2", "03-03-2025", 50, "man"],
                                               ["3", "04-03-2025", 51, "man"]], edit=edit)
    problems = Problems()
    frame = read_excel_sheet(p, sheet="Formulieren", required=HEADER, problems=problems)
    assert [(q.row, q.column, q.blocking) for q in problems.items] == [(3, "F", True), (4, "F", True)]
    assert problems.items[0].problem == "column F has a value but no header"
    assert problems.items[0].value == ""  # may be free text: never shown
    assert list(frame.columns) == HEADER + ["_row"] and len(frame) == 3
    with pytest.raises(RawDataError, match=r"row 3, column 'F': column F has a value but no header"):
        read_excel_sheet(p, sheet="Formulieren", required=HEADER)  # without a collector: still raised


def test_extra_sheet_with_forms_is_never_ignored(tmp_path):
    p = workbook(tmp_path / "LH_bereik.xlsx", [["1", "03-03-2025", 45, "vrouw"]],
                 extra={"Blad2": [HEADER, ["2", "04-03-2025", 50, "man"], ["3", "04-03-2025", 61, "man"]],
                        "Leeg": [], "Toelichting": [["Ingevoerd door de balie"], ["versie 2"]]})
    problems = Problems()
    frame = read_excel_sheet(p, sheet="Formulieren", required=HEADER, problems=problems,
                             expected_sheets=["Formulieren"])
    assert len(frame) == 1
    forms, notes = problems.items  # nothing for the empty sheet
    assert (forms.file, forms.sheet, forms.row, forms.blocking) == ("LH_bereik.xlsx", "Blad2", 2, True)
    assert forms.problem == ("sheet 'Blad2' holds 2 row(s) that look like forms, but the codebook reads only "
                             "sheet 'Formulieren'")
    assert (notes.sheet, notes.blocking) == ("Toelichting", False)
    assert "not read" in notes.problem


def test_committed_workbooks_read_without_problems():
    for name, sheets in [("LH_bereik.xlsx", ["Formulieren"]), ("interviews.xlsx", ["T0", "T1"])]:
        problems = Problems()
        for sheet in sheets:
            read_excel_sheet(RAW / name, sheet=sheet, problems=problems, expected_sheets=sheets)
        assert len(problems) == 0, problems.summary()


def test_corrupt_workbook_is_named_damaged(tmp_path):
    p = tmp_path / "LH_bereik.xlsx"
    p.write_bytes((RAW / "LH_bereik.xlsx").read_bytes()[:6000])  # a download cut off
    with pytest.raises(RawDataError) as err:
        read_excel_sheet(p, sheet="Formulieren")
    prob = one(err.value.problems)
    assert prob.file == "LH_bereik.xlsx" and prob.row is None
    assert prob.problem.startswith("cannot be opened as an Excel workbook: the workbook is damaged")
    assert "repair" in prob.fix


def test_csv_saved_as_xlsx_is_named(tmp_path):
    p = tmp_path / "LH_bereik.xlsx"
    shutil.copy(RAW / "DH_bereik.csv", p)
    with pytest.raises(RawDataError, match=r"LH_bereik.xlsx: cannot be opened as an Excel workbook: it is not an "
                                           r"Excel workbook \(it looks like a text or CSV file\)"):
        read_excel_sheet(p)


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE2/CFB container (version 3, 512-byte sectors), the format Excel uses for a
    password-protected .xlsx (streams EncryptionInfo and EncryptedPackage). Built by hand because
    msoffcrypto-tool is not installed; every stream is padded to 4096 bytes so that it lives in
    regular sectors (no mini stream), which a real file does not do for the small EncryptionInfo.
    """
    end, free, fat_sect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    data = [s.ljust(4096, b"\0") for s in streams.values()]
    fat = [fat_sect, end]  # sector 0: the FAT, sector 1: the directory
    starts = []
    for d in data:
        n = len(d) // 512
        starts.append(len(fat))
        fat += [len(fat) + k + 1 for k in range(n - 1)] + [end]
    fat += [free] * (128 - len(fat))

    def entry(name, kind, start, size, left=nostream, right=nostream, child=nostream):
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBB3I", len(raw), kind, 1, left, right, child)
                + b"\0" * 16 + struct.pack("<I", 0) + b"\0" * 16 + struct.pack("<IQ", start, size))

    names = list(streams)
    dirs = entry("Root Entry", 5, end, 0, child=1)
    for i, (name, start) in enumerate(zip(names, starts), start=1):
        dirs += entry(name, 2, start, len(streams[name]), right=i + 1 if i < len(names) else nostream)
    dirs = dirs.ljust(512, b"\0")
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<I", 0) + struct.pack("<I", free) * 108)
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + dirs + b"".join(data)


def test_password_protected_workbook_is_named(tmp_path):
    p = tmp_path / "LH_bereik.xlsx"
    p.write_bytes(compound_file({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00",
                                 "EncryptedPackage": struct.pack("<Q", 20609) + bytes(range(256)) * 8}))
    with pytest.raises(RawDataError) as err:
        read_excel_sheet(p, sheet="Formulieren")
    prob = one(err.value.problems)
    assert prob.problem == "cannot be opened as an Excel workbook: it is password-protected (encrypted)"
    assert "remove the password" in prob.fix
    # an old .xls (also a compound file, but not encrypted) is not called password-protected
    p.write_bytes(compound_file({"Workbook": b"\x09\x08" + b"\0" * 100}))
    with pytest.raises(RawDataError, match="old-format"):
        read_excel_sheet(p)


# --- SPSS --------------------------------------------------------------------------------------


def write_ps(path, frame, **kwargs):
    pyreadstat.write_sav(frame, str(path), **kwargs)
    return path


def test_value_labels_contradicting_the_codebook_block(tmp_path):
    expected = codebook_value_labels(CB, "PS")
    frame = pd.DataFrame({"respnr": [1.0, 2.0], "geslacht": [1.0, 2.0], "opl": [1.0, 3.0]})
    p = write_ps(tmp_path / "PS_bereik.sav", frame, variable_value_labels={
        "geslacht": {1: "vrouw", 2: "man", 3: "anders", 99: "Wil niet zeggen"},  # 1 and 2 swapped
        "opl": {1: " Laag ", 2: "Midden (mbo)", 3: "HBO/WO"}})  # case, an explanation, other wording
    problems = Problems()
    read_sav(p, problems=problems, value_labels=expected)
    got = [(q.file, q.row, q.column, q.blocking, q.problem) for q in problems.items]
    assert got == [
        ("PS_bereik.sav", None, "geslacht", True, "the file labels 1 as 'vrouw', the codebook maps 1 to 'man' "
                                                  "(and 2 to 'vrouw'): the codes may have been swapped"),
        ("PS_bereik.sav", None, "geslacht", True, "the file labels 2 as 'man', the codebook maps 2 to 'vrouw' "
                                                  "(and 1 to 'man'): the codes may have been swapped"),
        ("PS_bereik.sav", None, "opl", False, "the file labels 3 as 'HBO/WO', the codebook maps 3 to 'hoog'"),
    ]
    with pytest.raises(RawDataError, match="the file labels 1 as 'vrouw', the codebook maps 1 to 'man'"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RawDataWarning)
        read_sav(p, value_labels=expected)


def test_committed_sav_labels_fit_the_codebook():
    _, meta = read_sav(RAW / "PS_bereik.sav")
    assert check_value_labels(meta, codebook_value_labels(CB, "PS"), "PS_bereik.sav", Problems()) == []


def test_user_missing_on_a_string_variable(tmp_path):
    """SPSS can declare text codes missing on a string variable; pyreadstat keeps them (with
    user_missing=True) and declares them in missing_ranges as lo == hi text."""
    frame = pd.DataFrame({"respnr": [1.0, 2.0, 3.0], "anders_tekst": ["", "NVT", "buurman"]})
    p = write_ps(tmp_path / "PS_bereik.sav", frame, missing_ranges={"anders_tekst": ["NVT"]})
    out, meta = read_sav(p, required=["respnr"])
    assert out["anders_tekst"].tolist() == ["", "NVT", "buurman"]
    assert sav_missing(meta, out) == {"anders_tekst": {"NVT"}}


def test_ranges_of_missing_values(tmp_path):
    """97 THRU 99, LO THRU -1 and a range of decimals, as SPSS declares them."""
    frame = pd.DataFrame({"leeftijd": [45.0, 98.0, 997.0], "pc4": [-7.0, 3021.0, -1.0],
                          "score": [2.5, 97.5, 99.25]})
    p = write_ps(tmp_path / "PS_bereik.sav", frame, missing_ranges={
        "leeftijd": [{"lo": 997.0, "hi": 999.0}, 98.0], "pc4": [{"lo": float("-inf"), "hi": -1.0}],
        "score": [{"lo": 97.5, "hi": 99.5}]})
    out, meta = read_sav(p)
    assert out["pc4"].tolist() == [-7.0, 3021.0, -1.0]  # kept as codes, not NaN
    missing = sav_missing(meta, out)
    assert missing["leeftijd"] == {98.0, 997.0, 998.0, 999.0}
    assert missing["pc4"] == {-7.0, -1.0}  # LO THRU -1: every value of the data in the range
    assert missing["score"] == {97.5, 98.0, 99.0, 99.25, 99.5}


def test_zsav_compressed_spss(tmp_path):
    frame = pd.DataFrame({"respnr": [1.0, 2.0], "geslacht": [1.0, 99.0]})
    kwargs = dict(variable_value_labels={"geslacht": {1: "man", 99: "wil niet zeggen"}},
                  missing_ranges={"geslacht": [99.0]})
    z = write_ps(tmp_path / "PS_bereik.zsav", frame, compress=True, **kwargs)
    assert z.read_bytes()[:4] == b"$FL3"
    plain = write_ps(tmp_path / "PS_plain.sav", frame, **kwargs)
    assert z.read_bytes() != plain.read_bytes()
    out, meta = read_sav(z, required=["geslacht"])
    ref, _ = read_sav(plain)
    pd.testing.assert_frame_equal(out, ref)
    assert sav_missing(meta) == {"geslacht": {99.0}}
    assert meta.variable_value_labels["geslacht"][99.0] == "wil niet zeggen"
    renamed = tmp_path / "PS_bereik.sav"  # a .zsav saved under the name the codebook expects
    shutil.copy(z, renamed)
    pd.testing.assert_frame_equal(read_sav(renamed)[0], ref)
