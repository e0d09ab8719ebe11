"""Interviews on real exports (issue 16): every problem in one pass, and the three interview cases
that must not stop the analysis (a missing interview date, an empty T1 sheet, an interview
without any score).

Each damaged workbook is the synthetic ``data/raw/interviews.xlsx`` copied into ``tmp_path`` and
edited with openpyxl, as Excel saves it (real date cells, typed text, appended rows, a sheet
with only its header row); the coded-segments export is rewritten as the coding software writes
it (UTF-8 with BOM, comma-separated). Expected rows are counted from the raw files here, not
taken from the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analysis import changes, clean, config
from analysis import interviews as iv
from analysis.cleanlog import ROW_REMOVED
from analysis.problems import Problems
from analysis.readers import RawDataError

RAW = config.RAW_DIR
KEY = clean.SYNTHETIC_KEY.encode()
BOOK, SEGMENTS = "interviews.xlsx", "gecodeerde_segmenten.csv"
ITEMS = ["DJG1", "DJG2", "DJG3", "DJG4", "DJG5", "DJG6", "WHO5_1", "WHO5_2", "WHO5_3", "WHO5_4", "WHO5_5",
         "PG lichaamsfuncties", "PG mentaal welbevinden", "PG zingeving", "PG kwaliteit van leven", "PG meedoen",
         "PG dagelijks functioneren", "ZRM financien", "ZRM dagbesteding", "ZRM sociaal netwerk",
         "ZRM lichamelijke gezondheid", "ZRM geestelijke gezondheid", "ZRM maatschappelijke participatie"]


# --- building damaged exports -------------------------------------------------------------------


def _copy_raw(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in (BOOK, SEGMENTS):
        shutil.copy(RAW / name, raw / name)
    return raw


def _col(ws, header: str) -> int:
    return [c.value for c in ws[1]].index(header) + 1


def _row_of(ws, person: str) -> int:
    """The spreadsheet row (header = row 1) of a person in a sheet."""
    ids = [c.value for c in ws["A"]]
    return ids.index(person) + 1


def _edit_book(raw: Path, edit) -> None:
    wb = openpyxl.load_workbook(raw / BOOK)
    edit(wb)
    wb.save(raw / BOOK)


def _segments(raw: Path) -> list[list[str]]:
    with open(raw / SEGMENTS, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _write_segments(raw: Path, rows: list[list[str]]) -> None:
    with open(raw / SEGMENTS, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _append_copy(ws, row: int, **values) -> int:
    """Append a copy of ``row`` (as a user copies a row in Excel), with some cells changed;
    returns the new row's number."""
    cells = [c.value for c in ws[row]]
    new = ws.max_row + 1
    for j, v in enumerate(cells, start=1):
        ws.cell(row=new, column=j).value = v
    for header, v in values.items():
        ws.cell(row=new, column=_col(ws, header)).value = v
    return new


def _pid(person: str) -> str:
    return iv.pseudonyms(pd.Series([person]), pd.Series([person.split("-")[0]]), KEY).iloc[0]


def _where(problems: Problems) -> list[tuple]:
    f = problems.frame()
    return [(r.file, r.sheet, None if pd.isna(r.row) else int(r.row), r.column) for r in f.itertuples()]


# --- all problems in one pass -------------------------------------------------------------------


def test_every_problem_of_both_sheets_and_the_segments_in_one_call(tmp_path):
    raw = _copy_raw(tmp_path)
    expected = []

    def damage(wb):
        t0, t1 = wb["T0"], wb["T1"]
        # T0: a typed answer the codebook does not know; an interview entered twice (copied
        # row); a row whose person ID was left empty
        t0.cell(row=4, column=_col(t0, "DJG1")).value = "misschien"
        expected.append((BOOK, "T0", 4, "DJG1"))
        expected.append((BOOK, "T0", _append_copy(t0, 2), "Respondent"))
        expected.append((BOOK, "T0", _append_copy(t0, 5, Respondent=None), "Respondent"))
        # T1: a person without T0 (ID typed wrong), a person at another site, a T1 date
        # ten days before the T0 date (a real date cell)
        expected.append((BOOK, "T1", _append_copy(t1, 2, Respondent="DH-98"), "Respondent"))
        r = _row_of(t1, "LH-04")
        t1.cell(row=r, column=_col(t1, "Locatie")).value = "PS"
        expected.append((BOOK, "T1", r, "Locatie"))
        r, r0 = _row_of(t1, "PS-03"), _row_of(t0, "PS-03")
        t0_date = t0.cell(row=r0, column=_col(t0, "Datum interview")).value
        t1.cell(row=r, column=_col(t1, "Datum interview")).value = t0_date - dt.timedelta(days=10)
        expected.append((BOOK, "T1", r, "Datum interview"))

    _edit_book(raw, damage)
    rows = _segments(raw)
    doc = rows[0].index("Documentnaam")
    code = rows[0].index("Code")
    rows[3][doc] = "interview DH 3 eerste ronde"  # does not match the pattern
    rows[5][code] = "Veranderingen\\iets onbekends"  # a code the codebook does not know
    rows[8][doc] = "DH-97_T0"  # a person in neither sheet
    _write_segments(raw, rows)
    expected += [(SEGMENTS, "", 4, "Documentnaam"), (SEGMENTS, "", 6, "Code"), (SEGMENTS, "", 9, "Documentnaam")]

    lines = []
    problems = Problems(progress=lines.append)
    assert iv.clean_interviews(raw, synthetic=True, problems=problems) is None
    assert sorted(_where(problems), key=repr) == sorted(expected, key=repr)
    assert problems.blocking_count == len(expected)
    # a progress line for each sheet and the segments file
    assert [ln.split(":")[0].strip() for ln in lines] == [f"read {BOOK} [T0]", f"read {BOOK} [T1]", f"read {SEGMENTS}"]
    # never a raw person ID or document name in what the user sees
    shown = problems.frame().astype(str).to_string() + problems.summary()
    for raw_id in ("DH-01", "DH-98", "DH-97", "PS-03", "LH-04", "eerste ronde"):
        assert raw_id not in shown
    # without a collector: the same problems, raised together
    with pytest.raises(RawDataError) as err:
        iv.clean_interviews(raw, synthetic=True)
    assert sorted(((p.file, p.sheet, p.row, p.column) for p in err.value.problems), key=repr) == sorted(expected, key=repr)
    assert f"{len(expected)} problems in the raw data (2 files)" in str(err.value)


def test_messages_say_what_is_wrong_and_how_to_fix_it(tmp_path):
    raw = _copy_raw(tmp_path)
    _edit_book(raw, lambda wb: _append_copy(wb["T0"], 2))
    problems = Problems()
    iv.clean_interviews(raw, synthetic=True, problems=problems)
    (p,) = problems.items
    assert str(p) == (f"file {BOOK}[T0], row 23, column 'Respondent': the same person ID as row 2: a person is "
                      "interviewed more than once in wave T0 (rows [2, 23]) (value (person ID: not shown)); keep "
                      "one interview per person per wave, or correct the ID")


def test_a_sheet_that_cannot_be_read_skips_the_cross_sheet_checks(tmp_path):
    raw = _copy_raw(tmp_path)

    def damage(wb):  # T0 loses its ID column: every T1 row would otherwise be "without T0"
        wb["T0"].delete_cols(_col(wb["T0"], "Respondent"))

    _edit_book(raw, damage)
    problems = Problems()
    assert iv.clean_interviews(raw, synthetic=True, problems=problems) is None
    # only the sheet's own problem(s): no T1 row is called "without T0", no T0 document is
    # called "without an interview"
    assert problems.items and all(p.sheet == "T0" and "Respondent" in str(p) for p in problems.items), \
        [str(p) for p in problems.items]


def test_a_t1_date_too_late_is_a_problem_per_row():
    # the fieldwork window of study.yaml (16 months) keeps a raw file from reaching 36 months,
    # so this check is tried on a tidy table directly
    cb = iv.cbmod.load()
    tidy = pd.DataFrame({"person_id": ["A-1", "A-1", "A-2", "A-2"], "site": "DH", "wave": ["T0", "T1", "T0", "T1"],
                         "date": pd.to_datetime(["2025-03-01", "2028-06-01", "2025-03-01", "2028-09-01"]),
                         "_row": [2, 2, 3, 3], "_file": [f"{BOOK}[T0]", f"{BOOK}[T1]"] * 2})
    problems = Problems()
    iv.check_waves(tidy, cb, problems)
    assert [(p.sheet, p.row, p.column) for p in problems.items] == [("T1", 2, "Datum interview"),
                                                                   ("T1", 3, "Datum interview")]
    assert "the T1 date is 1188 days after the T0 date (sheet T0, row 2); the interval must be 0-36 months" \
        in problems.items[0].problem
    with pytest.raises(RawDataError):
        iv.check_waves(tidy, cb)


# --- a missing interview date -------------------------------------------------------------------


def test_missing_interview_date_leaves_the_interval_missing_and_logged(tmp_path):
    raw = _copy_raw(tmp_path)
    at = {}

    def damage(wb):
        t1 = wb["T1"]
        at["row"] = _row_of(t1, "DH-02")
        t1.cell(row=at["row"], column=_col(t1, "Datum interview")).value = None

    _edit_book(raw, damage)
    problems = Problems()
    data = iv.clean_interviews(raw, synthetic=True, problems=problems)
    assert data is not None and problems.blocking_count == 0
    pr = data.pairs.set_index("person_id").loc[_pid("DH-02")]
    assert pd.isna(pr["interval_months"]) and pd.isna(pr["interval_ok"])
    assert data.pairs["interval_ok"].isna().sum() == 1  # only this pair
    log = data.log.frame()
    hit = log[(log["file"] == f"{BOOK}[T1]") & (log["row"] == at["row"]) & (log["column"] == "Datum interview")]
    assert len(hit) == 1 and hit["rule"].iloc[0].startswith("interview date missing")
    # the paired analysis goes on; the pair is in "all" and not in "interval_ok"; the tables say so
    res = changes.analyse(data.interviews, data.pairs, data.segments, n_resamples=99, seed=1, outcomes=["who5"])
    ch = res["changes"].set_index("scope")
    with_who5 = data.pairs["who5_diff"].notna()
    assert pd.notna(pr["who5_diff"])  # so that the pair counts in "all" and not in "interval_ok"
    assert ch.loc["all", "n_pairs"] == with_who5.sum()
    assert ch.loc["interval_ok", "n_pairs"] == (with_who5 & (data.pairs["interval_ok"] == True)).sum()  # noqa: E712
    s = res["summary"].set_index("key")
    assert s.loc["n_interval_unknown", "value"] == 1
    assert s.loc["interval_months_mean", "n_basis"] == len(data.pairs) - 1
    pub = changes.publishable(res)
    assert pub["paired_summary"].set_index("key").loc["n_interval_unknown", "value"] == "<5"
    text = changes.not_estimable_text(pub)
    assert "Tijd tussen T0 en T1: niet na te gaan bij minder dan 5 paren, omdat een interviewdatum ontbreekt" in text


# --- an interview without any score -------------------------------------------------------------


def test_interview_without_any_score_is_out_of_scope_and_logged(tmp_path):
    raw = _copy_raw(tmp_path)
    at = {}

    def damage(wb):
        t1 = wb["T1"]
        at["row"] = r = _row_of(t1, "DH-03")
        for header in ITEMS:
            t1.cell(row=r, column=_col(t1, header)).value = None

    _edit_book(raw, damage)
    problems = Problems()
    data = iv.clean_interviews(raw, synthetic=True, problems=problems)
    assert data is not None and problems.blocking_count == 0
    log = data.log.frame()
    removed = log[(log["column"] == ROW_REMOVED) & (log["file"] == f"{BOOK}[T1]")]
    assert removed["row"].tolist() == [at["row"]]
    assert removed["rule"].iloc[0].startswith("interview without any score")
    # rows in = kept + excluded, rows in counted from the workbook itself
    wb = openpyxl.load_workbook(raw / BOOK, read_only=True)
    n_raw = {s: sum(1 for r in wb[s].iter_rows(min_row=2, values_only=True) if any(v is not None for v in r))
             for s in ("T0", "T1")}
    flow = data.flow.set_index("file")
    t1 = flow.loc[f"{BOOK}[T1]"]
    assert (t1["received"], t1["out_of_scope"], t1["kept"]) == (n_raw["T1"], 1, n_raw["T1"] - 1)
    assert (flow["received"] == flow["out_of_scope"] + flow["kept"]).all()
    assert flow.loc[f"{BOOK}[T0]", "kept"] == n_raw["T0"]
    # the person is a drop-out now: no pair, in the attrition table as a drop-out
    assert _pid("DH-03") not in set(data.pairs["person_id"])
    assert len(data.pairs) == n_raw["T1"] - 1
    ids = {s: {r[0] for r in wb[s].iter_rows(min_row=2, values_only=True) if r[0]} for s in ("T0", "T1")}
    dh_dropouts = {p for p in ids["T0"] - ids["T1"] if p.startswith("DH-")}
    att = iv.attrition(data.interviews, ["who5"]).set_index("site")
    assert att.loc["DH", "n_persons_dropouts"] == len(dh_dropouts) + 1
    # its coded T1 segments stay (the qualitative part of the interview exists)
    assert (data.segments["person_id"] == _pid("DH-03")).any()


# --- an empty T1 sheet ------------------------------------------------------------------------


def _empty_t1(raw: Path) -> None:
    """T1 with its header row only (nobody followed up yet), and no T1 documents coded."""
    def damage(wb):
        ws = wb["T1"]
        ws.delete_rows(2, ws.max_row - 1)

    _edit_book(raw, damage)
    rows = _segments(raw)
    doc = rows[0].index("Documentnaam")
    _write_segments(raw, [rows[0]] + [r for r in rows[1:] if not r[doc].endswith("_T1")])


def test_empty_t1_sheet_gives_zero_pairs(tmp_path):
    raw = _copy_raw(tmp_path)
    _empty_t1(raw)
    wb = openpyxl.load_workbook(raw / BOOK)
    assert wb["T1"].max_row == 1 and wb["T1"].cell(row=1, column=1).value == "Respondent"
    problems = Problems()
    data = iv.clean_interviews(raw, synthetic=True, problems=problems)
    assert data is not None and len(problems) == 0
    assert len(data.pairs) == 0 and list(data.pairs.columns) == iv.cbmod.load().table_columns("interview_pairs")
    flow = data.flow.set_index("file")
    assert flow.loc[f"{BOOK}[T1]", ["received", "kept"]].tolist() == [0, 0]
    att = iv.attrition(data.interviews, ["who5"]).set_index("site")
    assert (att["n_persons_completers"] == 0).all()
    assert att.loc["alle", "n_persons_dropouts"] == (data.interviews["wave"] == "T0").sum() == 21


def test_figures_without_pairs_say_so(tmp_path):
    import matplotlib.pyplot as plt

    raw = _copy_raw(tmp_path)
    _empty_t1(raw)
    data = iv.clean_interviews(raw, synthetic=True)
    info = changes.outcome_info()
    _, pairs = changes.with_pg_mean(data.interviews, data.pairs)
    for inst in ("who5", "djg"):  # one panel row and three (the other instruments draw the same way)
        fig = changes.plot_slopes(pairs, info, inst, sites=["DH", "LH", "PS"])
        # every panel says why it is empty
        assert len(fig.axes) >= 3 and all(any("geen paren" in t.get_text() for t in ax.texts) for ax in fig.axes), inst
        plt.close(fig)


@pytest.mark.slow
@pytest.mark.xdist_group("interviews-empty-t1-e2e")
def test_empty_t1_sheet_stage_03_completes(tmp_path):
    """Stages 01 and 03 in a fresh process, as a user runs them, on a workbook whose T1 sheet
    has only its header row."""
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    _empty_t1(raw)
    out, output = tmp_path / "out", tmp_path / "_output"
    env = {**os.environ, "KRACHTPUNTEN_PSEUDONYM_KEY": "test-key"}  # a damaged copy is not synthetic
    proc = subprocess.run([sys.executable, "-m", "analysis", "run", "--raw", str(raw), "--out", str(out),
                           "--output", str(output), "--only", "01", "03", "--no-report", "--force"],
                          capture_output=True, text=True, cwd=config.PROJECT_DIR, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = config.results_dir(out)
    ch = pd.read_csv(res / "paired_changes.csv", dtype=str, keep_default_na=False)
    assert len(ch) and (ch["n_pairs"] == "0").all()
    assert ch["not_estimable"].str.startswith("too few pairs").all()
    att = pd.read_csv(res / "paired_attrition.csv", dtype=str, keep_default_na=False)
    assert (att["n_persons_completers"] == "0").all()
    assert set(att.loc[att["site"] == "alle", "n_persons_dropouts"]) == {"21"}
    summ = pd.read_csv(res / "paired_summary.csv", dtype=str, keep_default_na=False).set_index("key")["value"]
    assert summ["n_pairs"] == "0" and summ["n_dropouts"] == "21"
    flow = pd.read_csv(res / "interview_flow.csv", dtype=str, keep_default_na=False).set_index("file")
    assert flow.loc[f"{BOOK}[T1]", "received"] == "0"
    notebook = (output / "notebooks" / "03_paired_changes.ipynb").read_text(encoding="utf-8")
    assert "te weinig paren" in notebook  # the "not estimable" paragraph, in Dutch
    for name in [f"paired_slopes_{i}.png" for i in changes.INSTRUMENTS] + ["paired_change_summary.png"]:
        assert (config.figures_dir(out) / name).stat().st_size > 0
