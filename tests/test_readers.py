"""Raw readers: each kind of bad input stops with a message naming file, row and column."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.readers import RawDataError, read_delimited, read_excel_sheet, read_sav

GOOD = "id;leeftijd;geslacht\n1;45;vrouw\n2;67;man\n"


def write(tmp_path, text: str, encoding="utf-8", name="DH_bereik.csv"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_reads_utf8_with_bom_and_numbers_rows_as_in_the_file(tmp_path):
    p = write(tmp_path, GOOD, encoding="utf-8-sig")
    df = read_delimited(p, sep=";", required=["id", "leeftijd"])
    assert list(df.columns) == ["id", "leeftijd", "geslacht", "_row"]  # BOM not in the first name
    assert df["_row"].tolist() == [2, 3]
    assert df["leeftijd"].tolist() == ["45", "67"]  # text, no type guessing


def test_quoted_delimiter_and_newline_inside_a_field(tmp_path):
    p = write(tmp_path, 'id;opm\n1;"a;b"\n2;"regel 1\nregel 2"\n3;x\n')
    df = read_delimited(p, sep=";")
    assert df["opm"].tolist() == ["a;b", "regel 1\nregel 2", "x"]


def test_wrong_delimiter(tmp_path):
    p = write(tmp_path, GOOD.replace(";", ","))
    with pytest.raises(RawDataError, match=r"file DH_bereik.csv, row 1: the header has no ';' delimiter but uses ','"):
        read_delimited(p, sep=";")


def test_cp1252_from_excel(tmp_path):
    p = write(tmp_path, "id;naam\n1;José\n2;Zoë\n", encoding="cp1252")
    with pytest.raises(RawDataError, match=r"row 2: byte b'\\xe9' .* not valid utf-8-sig .*Windows-1252.*CSV UTF-8"):
        read_delimited(p, sep=";")


def test_utf16(tmp_path):
    p = write(tmp_path, GOOD, encoding="utf-16")
    with pytest.raises(RawDataError, match="UTF-16 .* save it again as UTF-8"):
        read_delimited(p, sep=";")


def test_empty_file(tmp_path):
    p = write(tmp_path, "")
    with pytest.raises(RawDataError, match="DH_bereik.csv: the file is empty"):
        read_delimited(p, sep=";")


def test_truncated_file(tmp_path):
    p = write(tmp_path, GOOD + "3;5")
    with pytest.raises(RawDataError, match=r"row 4: has 2 fields, the header has 3; the file may be truncated"):
        read_delimited(p, sep=";")


def test_missing_required_column(tmp_path):
    p = write(tmp_path, GOOD.replace("leeftijd", "age"))
    with pytest.raises(RawDataError, match=r"row 1, column 'leeftijd': required column 'leeftijd' is missing"):
        read_delimited(p, sep=";", required=["id", "leeftijd"])


def test_duplicate_column_names(tmp_path):
    p = write(tmp_path, "id;x;x\n1;2;3\n")
    with pytest.raises(RawDataError, match=r"row 1, column 'x': column 'x' occurs twice \(columns B and C\)"):
        read_delimited(p, sep=";")


def test_excel_missing_sheet_and_text_cells(tmp_path):
    p = tmp_path / "LH.xlsx"
    pd.DataFrame({"Leeftijd": ["45 jaar", 67], "Geslacht": ["Vrouw", None]}).to_excel(p, sheet_name="Formulieren", index=False)
    df = read_excel_sheet(p, sheet="Formulieren", required=["Leeftijd"])
    assert df["Leeftijd"].tolist() == ["45 jaar", "67"]
    assert df["Geslacht"].tolist() == ["Vrouw", ""]
    assert df["_row"].tolist() == [2, 3]
    with pytest.raises(RawDataError, match=r"LH.xlsx: has no sheet 'T0' \(sheets: \['Formulieren'\]\)"):
        read_excel_sheet(p, sheet="T0")


def test_not_a_workbook(tmp_path):
    p = write(tmp_path, GOOD, name="LH.xlsx")
    with pytest.raises(RawDataError, match="LH.xlsx: cannot be opened as an Excel workbook"):
        read_excel_sheet(p)


def test_sav_keeps_user_missing_codes(tmp_path):
    import pyreadstat

    p = tmp_path / "PS.sav"
    df = pd.DataFrame({"gesl": [1.0, 2.0, 99.0], "leeft": [45.0, 98.0, 30.0]})
    pyreadstat.write_sav(
        df, str(p), variable_value_labels={"gesl": {1: "man", 2: "vrouw", 99: "wil niet zeggen"}},
        missing_ranges={"gesl": [99], "leeft": [98]},
    )
    out, meta = read_sav(p, required=["gesl"])
    assert out["gesl"].tolist() == [1.0, 2.0, 99.0]  # 99 kept as a code, not NaN
    assert out["leeft"].tolist() == [45.0, 98.0, 30.0]
    assert out["_row"].tolist() == [1, 2, 3]
    assert meta.variable_value_labels["gesl"][99] == "wil niet zeggen"
    with pytest.raises(RawDataError, match=r"PS.sav, row 1, column 'opl'"):
        read_sav(p, required=["opl"])


def test_sav_unreadable(tmp_path):
    p = write(tmp_path, GOOD, name="PS.sav")
    with pytest.raises(RawDataError, match="PS.sav: cannot be read as an SPSS .sav file"):
        read_sav(p)


def test_a_row_that_repeats_the_header_is_one_problem_not_one_per_cell(tmp_path):
    """Two exports pasted into one file: the column names return as a data row (found in a
    damaged copy of DH_bereik.csv, where it gave a problem for each of its 33 cells)."""
    from analysis.problems import Problems

    p = write(tmp_path, "id;leeftijd;geslacht\n1;45;Vrouw\nid;leeftijd ;GESLACHT\n2;67;Man\n")
    found = Problems()
    df = read_delimited(p, sep=";", required=["id"], problems=found)
    assert df["id"].tolist() == ["1", "2"] and df["_row"].tolist() == [2, 4]
    assert [(q.row, q.column, q.problem) for q in found.items] == [
        (3, None, "this row repeats the column names (two exports pasted into one file?)")]
    with pytest.raises(RawDataError, match=r"row 3: this row repeats the column names"):
        read_delimited(p, sep=";", required=["id"])
    x = tmp_path / "LH.xlsx"
    pd.DataFrame({"id": ["1", "id", "2"], "leeftijd": ["45", "leeftijd", "67"]}).to_excel(x, sheet_name="F", index=False)
    with pytest.raises(RawDataError, match=r"LH.xlsx\[F\], row 3: this row repeats the column names"):
        read_excel_sheet(x, sheet="F", required=["id"])
    # a form whose answer happens to be a column name is not a repeated header
    assert len(read_delimited(write(tmp_path, "id;a;b\n1;a;2\n", name="y.csv"), sep=";")) == 1
