"""Bad input for every raw source: a clear error naming file (row, column), or a logged repair.

Each case copies the committed synthetic raw data, damages one file the way real exports go
wrong, runs the cleaning stage that reads it, and checks the outcome. ``OUTCOMES`` at the bottom
counts them (for the issue's closing note). A failed run must leave earlier outputs intact.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from analysis import clean, config, interviews
from analysis.readers import RawDataError

RAW = config.RAW_DIR

CSV = {  # source: (file, delimiter, encoding, a required column, a coded column)
    "DH": ("DH_bereik.csv", ";", "utf-8-sig", "Q3_GENDER", "Q9_HEALTH"),
    "proxy": ("proxy_meldingen.csv", ",", "utf-8", "relatie", "relatie"),
    "sites": ("locatievragenlijst.csv", ",", "utf-8", "vrijwilligers", "outreach"),
    "segments": ("gecodeerde_segmenten.csv", ",", "utf-8-sig", "Code", "Code"),
}
XLSX = {  # source: (file, sheet, a required column, a coded column)
    "LH": ("LH_bereik.xlsx", "Formulieren", "Geslacht", "Gezondheid"),
    "interviews": ("interviews.xlsx", "T0", "WHO5_1", "DJG1"),
}
STAGE = {"DH": "reach", "proxy": "reach", "sites": "reach", "LH": "reach", "PS": "reach",
         "segments": "interviews", "interviews": "interviews"}


def run_stage(raw: Path, out: Path, stage: str) -> dict:
    if stage == "reach":
        return clean.clean_all_reach(raw, out)
    return interviews.clean_all_interviews(raw, out)


pytestmark = pytest.mark.usefixtures("real_key")  # the fixtures raw and real_key are in conftest.py


# --- damage -----------------------------------------------------------------------------------


def csv_text(raw, source) -> str:
    file, _, enc, *_ = CSV[source]
    return (raw / file).read_text(encoding=enc)


def write_csv(raw, source, text, encoding=None):
    file, _, enc, *_ = CSV[source]
    (raw / file).write_bytes(text.encode(encoding or enc))


def set_csv_cell(raw, source, column, value, row_index=2):
    file, sep, enc, *_ = CSV[source]
    frame = pd.read_csv(raw / file, sep=sep, encoding=enc, dtype=str, keep_default_na=False)
    frame.loc[row_index, column] = value
    frame.to_csv(raw / file, sep=sep, encoding=enc, index=False)
    return row_index + 2  # the row a person sees (header is row 1)


def edit_sheet(raw, source, fn):
    file, sheet, *_ = XLSX[source]
    wb = openpyxl.load_workbook(raw / file)
    fn(wb, wb[sheet])
    wb.save(raw / file)


def header_index(ws, name) -> int:
    return [c.value for c in ws[1]].index(name) + 1


# --- cases: (source, damage, expected) ----------------------------------------------------------
# expected: a regex the RawDataError message must match, or "repair: <rule>" for a logged repair.


def csv_cases():
    for source, (file, sep, enc, required, coded) in CSV.items():
        other = "," if sep == ";" else ";"
        yield source, "empty file", lambda raw, s=source: write_csv(raw, s, ""), rf"{file}: the file is empty"
        yield source, "truncated in the middle of a row", (
            lambda raw, s=source: write_csv(raw, s, csv_text(raw, s).rstrip("\n").rsplit(CSV[s][1], 2)[0])
        ), rf"{file}, row \d+: has \d+ fields, the header has \d+; the file may be truncated"
        yield source, "Windows-1252 from Excel", (
            lambda raw, s=source: write_csv(raw, s, csv_text(raw, s).replace("\n", "é\n", 1), encoding="cp1252")
        ), rf"{file}, row 1: byte b'\\xe9' .*Windows-1252"
        yield source, "UTF-16", (
            lambda raw, s=source: write_csv(raw, s, csv_text(raw, s), encoding="utf-16")
        ), rf"{file}: the file is UTF-16"
        yield source, "wrong delimiter", (
            lambda raw, s=source, o=other: write_csv(raw, s, csv_text(raw, s).replace(CSV[s][1], o))
        ), rf"{file}, row 1: the header has no '{sep}' delimiter"
        yield source, "missing column", (
            lambda raw, s=source: _drop_csv_column(raw, s, CSV[s][3])
        ), rf"{file}, row 1, column '{required}': required column"
        yield source, "renamed column", (
            lambda raw, s=source: write_csv(raw, s, csv_text(raw, s).replace(CSV[s][3], CSV[s][3] + "_nieuw", 1))
        ), rf"{file}, row 1, column '{required}': required column"
        yield source, "extra column", (
            lambda raw, s=source: _add_csv_column(raw, s, "opmerking_intern")
        ), "repair: column not in the codebook: not read"
        yield source, "unknown code", (
            lambda raw, s=source: set_csv_cell(raw, s, CSV[s][4], "Onbekende waarde")
        ), rf"{file}, row 4, column '{coded}': unknown (value|option)"


def _drop_csv_column(raw, source, column):
    file, sep, enc, *_ = CSV[source]
    frame = pd.read_csv(raw / file, sep=sep, encoding=enc, dtype=str, keep_default_na=False)
    frame.drop(columns=[column]).to_csv(raw / file, sep=sep, encoding=enc, index=False)


def _add_csv_column(raw, source, column):
    file, sep, enc, *_ = CSV[source]
    frame = pd.read_csv(raw / file, sep=sep, encoding=enc, dtype=str, keep_default_na=False)
    frame[column] = "x"
    frame.to_csv(raw / file, sep=sep, encoding=enc, index=False)


def xlsx_cases():
    for source, (file, sheet, required, coded) in XLSX.items():
        yield source, "empty file", lambda raw, f=file: (raw / f).write_bytes(b""), rf"{file}: cannot be opened as an Excel workbook"
        yield source, "truncated file", (
            lambda raw, f=file: (raw / f).write_bytes((raw / f).read_bytes()[:2000])
        ), rf"{file}: cannot be opened as an Excel workbook"
        yield source, "CSV saved as .xlsx", (
            lambda raw, f=file: (raw / f).write_text("a;b\n1;2\n")
        ), rf"{file}: cannot be opened as an Excel workbook"
        yield source, "sheet missing", (
            lambda raw, s=source, sh=sheet: edit_sheet(raw, s, lambda wb, ws: setattr(ws, "title", sh + " (oud)"))
        ), rf"{file}(\[{sheet}\])?: has no sheet '{sheet}'"
        yield source, "missing column", (
            lambda raw, s=source, c=required: edit_sheet(raw, s, lambda wb, ws: ws.delete_cols(header_index(ws, c)))
        ), rf"{file}(\[{sheet}\])?, row 1, column '{required}': required column"
        yield source, "extra column", (
            lambda raw, s=source: edit_sheet(raw, s, lambda wb, ws: ws.cell(row=1, column=ws.max_column + 1, value="Notitie"))
        ), "repair: column not in the codebook: not read"
        yield source, "unknown code", (
            lambda raw, s=source, c=coded: edit_sheet(raw, s, lambda wb, ws: ws.cell(row=3, column=header_index(ws, c), value="zo-zo"))
        ), rf"{file}(\[{sheet}\])?, row 3, column '{coded}': unknown value 'zo-zo'"
    yield "interviews", "a third wave (person at three waves)", (
        lambda raw: edit_sheet(raw, "interviews", lambda wb, ws: wb.copy_worksheet(wb["T1"]).__setattr__("title", "T2"))
    ), r"interviews.xlsx\[T2\], row 2: sheet 'T2' holds 18 row\(s\) that look like forms, but the codebook reads only sheets 'T0', 'T1'"


def sav_cases():
    def rewrite(raw, fn, **kw):
        frame, meta = pyreadstat.read_sav(str(raw / "PS_bereik.sav"), user_missing=True)
        frame = fn(frame)
        args = dict(column_labels=meta.column_names_to_labels, variable_value_labels=meta.variable_value_labels,
                    missing_ranges=meta.missing_ranges)
        args.update(kw)
        pyreadstat.write_sav(frame, str(raw / "PS_bereik.sav"), **{k: v for k, v in args.items() if v is not None})

    def unknown(frame):
        frame.loc[2, "geslacht"] = 7
        return frame

    yield "PS", "empty file", lambda raw: (raw / "PS_bereik.sav").write_bytes(b""), r"PS_bereik.sav: cannot be read as an SPSS .sav file"
    yield "PS", "truncated file", (
        lambda raw: (raw / "PS_bereik.sav").write_bytes((raw / "PS_bereik.sav").read_bytes()[:3000])
    ), r"PS_bereik.sav: cannot be read as an SPSS .sav file"
    yield "PS", "missing column", lambda raw: rewrite(raw, lambda f: f.drop(columns=["opl"]), column_labels=None,
                                                      variable_value_labels=None, missing_ranges={"geslacht": [98, 99]}), \
        r"PS_bereik.sav, row 1, column 'opl': required column"
    yield "PS", "unknown code", lambda raw: rewrite(raw, unknown), r"PS_bereik.sav, row 3, column 'geslacht': unknown value '7'"
    yield "PS", "extra column", lambda raw: rewrite(raw, lambda f: f.assign(filter_=1.0)), "repair: column not in the codebook: not read"
    yield "PS", "without value labels", lambda raw: rewrite(raw, lambda f: f, variable_value_labels=None), "same: the codebook maps the numeric codes"


CASES = list(csv_cases()) + list(xlsx_cases()) + list(sav_cases())
OUTCOMES = {"error": sum(not e.startswith(("repair", "same")) for *_, e in CASES),
            "repair": sum(e.startswith(("repair", "same")) for *_, e in CASES)}


@pytest.mark.parametrize("source,damage,expected", [(s, d, e) for s, d, _, e in CASES],
                         ids=[f"{s}-{d}" for s, d, _, _ in CASES])
def test_bad_input(raw, tmp_path, source, damage, expected):
    fn = next(f for s, d, f, _ in CASES if s == source and d == damage)
    fn(raw)
    out = tmp_path / "out"
    if expected.startswith("repair: "):
        result = run_stage(raw, out, STAGE[source])
        log = result["log"]
        assert (log["rule"] == expected.removeprefix("repair: ")).any()
        assert (log["row"] == 1).all() or (log.loc[log["rule"] == expected.removeprefix("repair: "), "row"] == 1).all()
    elif expected.startswith("same: "):
        damaged = run_stage(raw, out, STAGE[source])["tables"]["reach"]
        original = run_stage(RAW, tmp_path / "orig", STAGE[source])["tables"]["reach"]
        pd.testing.assert_frame_equal(damaged, original)
    else:
        with pytest.raises(RawDataError, match=expected) as exc:
            run_stage(raw, out, STAGE[source])
        assert "Traceback" not in str(exc.value)
        assert not out.exists() or not any(out.glob("*.parquet")), "a failed run wrote outputs"


def test_same_raw_id_at_two_sites_gives_two_pseudonyms():
    lh = pd.read_excel(RAW / "LH_bereik.xlsx", sheet_name="Formulieren", dtype=str, engine="calamine")["Formulier nr"]
    ps, _ = pyreadstat.read_sav(str(RAW / "PS_bereik.sav"))
    shared = set(lh) & {str(int(v)) for v in ps["respnr"]}
    assert shared, "the synthetic data should have form numbers used at two sites"
    reach = clean.clean_reach(RAW).table
    assert reach["respondent_id"].is_unique


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_failed_run_leaves_previous_outputs_intact(raw, tmp_path):
    out = tmp_path / "out"
    clean.clean_all_reach(raw, out)
    before = digests(out)
    row = set_csv_cell(raw, "DH", "Q9_HEALTH", "Uitstekend")
    with pytest.raises(RawDataError):
        clean.clean_all_reach(raw, out)
    lists = {"problems.csv", "problems.txt"}  # the list of problems is the one thing rewritten
    assert {k: v for k, v in digests(out).items() if k not in lists} == {k: v for k, v in before.items() if k not in lists}
    problems = pd.read_csv(out / "internal" / "problems.csv")
    assert problems[["file", "row", "column", "value"]].values.tolist() == [["DH_bereik.csv", row, "Q9_HEALTH", "'Uitstekend'"]]


def test_schema_failure_writes_nothing(raw, tmp_path, monkeypatch):
    """All tables are validated before the first is written."""
    from analysis import schemas

    out = tmp_path / "out"
    real = schemas.validate

    def fail_on_sites(name, frame, **kw):
        if name == "sites":
            raise ValueError("schema failed (planted)")
        return real(name, frame, **kw)

    monkeypatch.setattr(schemas, "validate", fail_on_sites)
    with pytest.raises(ValueError, match="planted"):
        clean.clean_all_reach(raw, out)
    assert not any(out.glob("*.parquet"))


def test_case_counts_for_the_record():
    """How many bad inputs the suite tries (reported in the issue's closing note)."""
    assert OUTCOMES["error"] >= 40 and OUTCOMES["repair"] >= 6
