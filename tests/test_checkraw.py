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
    assert "12345678" not in phone and "masked" in phone  # shown safely
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
    assert "column 'Q3_GENDER': unknown value …; allowed: Man, Vrouw, Anders, Zeg ik liever niet — rows 4, 9 (values 'vrouww', '06…' (looks like a phone; masked))" in summary


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
