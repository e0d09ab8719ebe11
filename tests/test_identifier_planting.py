"""Identifiers planted in every kind of raw column never travel further (issue 17).

Each identifier kind is typed into each raw column type of a copy of ``data/raw``: a coded
answer (``Q3_GENDER``), a number (``Q2_AGE``), a date (``Q0_TIMESTAMP``), free text
(``Q15_OTHER``, the proxy ``toelichting``, the coded interview ``Segment``), the person IDs
(``RESPONSE_ID``) and the interview document names (``Documentnaam``). The problems list,
the messages, stderr, the processed data outside ``internal/``, the executed notebooks and
the report must not contain any of them; and check-privacy must find each kind when it is
planted in a processed table. All values are made up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import clean, config, privacy
from analysis.checkraw import check_raw
from analysis.readers import RawDataError

# kind -> (value as typed, the parts that must never appear anywhere they are shown)
PLANTS = {
    "phone": ("06-12345678", ["12345678"]),
    "phone_lost_0": ("612345678", ["612345678"]),        # typed without its 0
    "phone_intl": ("+31 6 23456789", ["23456789"]),
    "bsn": ("111222333", ["111222333"]),                 # passes the 11-test (66 = 6·11)
    "bsn_lost_0": ("12345672", ["12345672"]),            # 012345672: 110 = 10·11
    "iban": ("NL91ABNA0417164300", ["0417164300", "NL91ABNA"]),
    "email": ("jan.jansen@gmail.com", ["jan.jansen", "jansen@"]),
    "postcode": ("1234 AB", ["1234 AB", "1234AB"]),
    "birth_date": ("12-03-1958", ["12-03-1958"]),
    "name": ("Henk Bakker", ["Henk Bakker", "Bakker"]),
}
DH_COLUMNS = ["Q3_GENDER", "Q2_AGE", "Q0_TIMESTAMP", "Q15_OTHER", "RESPONSE_ID"]  # coded, number, date, text, ID


def _set(path: Path, sep: str, encoding: str, cells: dict[tuple[int, str], str]) -> None:
    """Set cells by (row as the user counts it: header = row 1, column), keeping the format."""
    frame = pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
    for (row, column), value in cells.items():
        frame.loc[row - 2, column] = value
    frame.to_csv(path, sep=sep, encoding=encoding, index=False)


def _blocks(column: str, value: str) -> bool:
    """Whether the cleaning must stop at this plant: not a code of a coded question, not a number
    in the age column, not a document name of the pattern. A number in the age column (out of
    range) and an unreadable date are set to missing and logged; free text and IDs are not
    answers the cleaning checks."""
    if column in ("Q3_GENDER", "Documentnaam"):
        return True
    return column == "Q2_AGE" and not value.isdigit()


def _plant(raw: Path, *, blocking: bool) -> dict[tuple[str, int, str], str]:
    """Every kind in every DH column (one row each), the proxy remark and the interview segments:
    the plants that stop the cleaning (``blocking``) or the ones it gets past (the others)."""
    planted, cells = {}, {}
    for i, (kind, (value, _)) in enumerate(PLANTS.items()):
        for j, column in enumerate(DH_COLUMNS):
            if _blocks(column, value) == blocking:
                row = 2 + i * len(DH_COLUMNS) + j
                cells[(row, column)] = value if column != "Q15_OTHER" else f"bel {value} na vijven"
                planted[("DH_bereik.csv", row, column)] = kind
    _set(raw / "DH_bereik.csv", ";", "utf-8-sig", cells)
    values = [v for v, _ in PLANTS.values()]
    if blocking:
        docs = {(2 + 10 * i, "Documentnaam"): v for i, v in enumerate(values)}
        _set(raw / "gecodeerde_segmenten.csv", ",", "utf-8-sig", docs)
        planted.update({("gecodeerde_segmenten.csv", r, c): k for (r, c), k in zip(docs, PLANTS)})
    else:
        _set(raw / "proxy_meldingen.csv", ",", "utf-8", {(2 + i, "toelichting"): v for i, v in enumerate(values)})
        _set(raw / "gecodeerde_segmenten.csv", ",", "utf-8-sig",
             {(2 + i, "Segment"): f"Mijn nummer is {v}." for i, v in enumerate(values)})
    return planted


def _leaks(text: str) -> list[str]:
    return [f"{kind}: {part}" for kind, (_, parts) in PLANTS.items() for part in parts if part in text]


def _published_files(out: Path, output: Path) -> list[Path]:
    files = [p for p in out.rglob("*") if p.is_file() and "internal" not in p.relative_to(out).parts
             and p.suffix in (".csv", ".json", ".md", ".txt")]
    files += [p for p in output.rglob("*") if p.is_file() and p.suffix in (".ipynb", ".html", ".md", ".txt")]
    return files


def test_problems_messages_and_check_raw_show_no_planted_identifier(raw, tmp_path, real_key):
    planted = _plant(raw, blocking=True)
    problems, _ = check_raw(raw, synthetic=True)
    table = problems.frame()
    assert _leaks(table.to_csv() + problems.summary() + str(problems.error())) == []
    # the plants were read: each is a problem at its own row and column, described, not shown
    # (so that the test cannot pass by missing them)
    found = table.set_index(["file", "row", "column"])["value"]
    for (file, row, column), kind in planted.items():
        value = found.loc[(file, row, column)]
        assert value.startswith("[") or value == "(document name: not shown)", (file, row, column, value)
    assert len(planted) == 10 + 7 + 10  # coded: all kinds; age: the 7 that are not plain digits; documents

    out = tmp_path / "out"
    with pytest.raises(RawDataError) as err:
        clean.clean_all_reach(raw, out)
    assert _leaks(str(err.value)) == []
    for p in out.rglob("*"):
        if p.is_file() and p.suffix in (".csv", ".txt", ".json"):
            assert _leaks(p.read_text(encoding="utf-8")) == [], p

    run = subprocess.run([sys.executable, "-m", "analysis", "check-raw", "--raw", str(raw),
                          "--problems", str(tmp_path / "lists")],
                         capture_output=True, text=True, cwd=config.PROJECT_DIR)
    assert run.returncode == 1, run.stderr
    assert _leaks(run.stdout + run.stderr) == []
    for p in (tmp_path / "lists").iterdir():
        assert _leaks(p.read_text(encoding="utf-8")) == [], p


def test_stage_01_logs_no_planted_identifier(raw, tmp_path, real_key):
    """The plants the cleaning gets past (a number out of the age range, an unreadable date, free
    text, IDs): stage 01 runs, and neither its tables nor its cleaning log hold them."""
    planted = _plant(raw, blocking=False)
    out = tmp_path / "out"
    clean.clean_all_reach(raw, out)
    for p in out.rglob("*"):
        if p.is_file() and p.suffix in (".csv", ".txt", ".json"):
            assert _leaks(p.read_text(encoding="utf-8")) == [], p
        if p.suffix == ".parquet":
            assert _leaks(pd.read_parquet(p).to_csv()) == [], p
    log = pd.read_csv(out / "cleaning_log.csv", dtype=str, keep_default_na=False)
    age = log[(log["file"] == "DH_bereik.csv") & (log["column"] == "Q2_AGE")
              & log["row"].astype(int).isin([r for (f, r, c) in planted if c == "Q2_AGE"])]
    assert len(age) == 3 and age["old"].str.startswith("[").all(), age  # logged, described (the 3 digit plants)


def test_check_privacy_finds_each_kind_planted_in_a_processed_table(tmp_path):
    out = tmp_path / "out"
    clean.clean_all_reach(config.RAW_DIR, out)
    reach = pd.read_csv(out / "reach.csv", dtype=str, keep_default_na=False)
    proc = tmp_path / "planted"
    proc.mkdir()
    base = reach.copy()
    base.to_csv(proc / "reach.csv", index=False)
    assert privacy.scan(proc, None, None) == []  # clean before planting
    cases = [  # (column (type), value, kind)
        ("gender", "06-12345678", "phone"), ("age", "612345678", "phone"), ("age", "612345678.0", "phone"),
        ("respondent_id", "+31612345678", "phone"), ("age", "111222333", "bsn"), ("pc4", "12345672", "bsn"),
        ("gender", "NL91ABNA0417164300", "iban"), ("respondent_id", "jan.jansen@gmail.com", "email"),
        ("site", "1234 AB", "postcode"), ("date", "1958-03-12", "birth_date"), ("age", "12-03-1958", "birth_date"),
        ("gender", "Henk Bakker", "name"), ("date", "12 maart 1958", "birth_date"),
    ]
    for column, value, kind in cases:
        planted = base.copy()
        planted.loc[7, column] = value
        planted.to_csv(proc / "reach.csv", index=False)
        findings = privacy.scan(proc, None, None)
        assert [(f.kind, f.location) for f in findings] == [(kind, f"column {column!r}, row 7")], (column, value, findings)
        assert all(value not in str(f) for f in findings)


@pytest.mark.slow
def test_full_pipeline_with_identifiers_in_free_text(raw, tmp_path, real_key):
    """One run with every kind in every free-text field: nothing reaches the outputs."""
    _plant(raw, blocking=False)
    out, output = tmp_path / "proc", tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "analysis", "run", "--raw", str(raw), "--out", str(out),
                          "--output", str(output), "--quiet"],
                         capture_output=True, text=True, cwd=config.PROJECT_DIR, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _leaks(run.stdout + run.stderr) == []
    for p in _published_files(out, output):
        assert _leaks(p.read_text(encoding="utf-8", errors="replace")) == [], p
    for p in out.rglob("*.parquet"):
        if "internal" not in p.relative_to(out).parts:
            assert _leaks(pd.read_parquet(p).to_csv()) == [], p
    # the repository is given so that the report's reference list may name the cited authors
    found = [f for f in privacy.scan(out, output, config.PROJECT_DIR)
             if f.kind in {"name", "phone", "email", "postcode", "birth_date", "bsn", "iban", "free_text"}]
    assert found == []
