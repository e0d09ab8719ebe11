"""Tests for ``python -m analysis check-privacy`` (analysis/privacy.py).

Each test builds a clean project in tmp_path (processed data, outputs, a git repository with
synthetic raw files and their manifest), checks that it gives no findings, then plants one leak
and checks that exactly that leak is found, with the right kind and place, and that the message
does not print the planted value. The planted names, numbers and addresses are made up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typst

from analysis import config, privacy
from analysis.privacy import Finding, find_identifiers, scan

# Dutch report prose as the report writes it: site names, category labels, formatted numbers,
# suppressed cells, dates of visits, the loneliness scale named after its author, and sentences
# that start with words that are also given names (Wil, Ben, Mark, Roos).
PROSE = [
    "Samenvatting. De krachtpunten Buurtsteunpunt Delfshaven (Rotterdam), Wijkatelier Lindenholt "
    "(Nijmegen) en De Pitstop in Oss bereikten 12 (34,5%) van de vrouwen en <5 mannen.",
    "Eenzaamheid is gemeten met de De Jong Gierveld-schaal (De Jong Gierveld en Van Tilburg 2006); "
    "daarnaast Positieve Gezondheid (Huber et al. 2016) en de Zelfredzaamheid-Matrix.",
    "Het eerste bezoek was op 12-03-2024 om 10:00 uur, het interview op 06-05-2024 10:30 en de "
    "export op 2024-06-12 12:34:56.",
    "Wil je weten hoe het gaat? Ben je eenzaam? Mark de datum in je agenda. Roos en Tim zijn "
    "geen respondenten. Jan en alleman is welkom. Oss ligt aan de Maas.",
    "Herkomst: Nederland, Europa (excl. Nederland), Buiten Europa; geslacht: man, vrouw, anders.",
    "Bron: CBS 85984NED (2024), regio WK059903 en GM0828; p < 0,001; OR 1,23 (0,98–1,54); "
    "1.234,6 inwoners; mediaan 12,0 [8,0–15,0].",
    "Bestand DH_bereik.csv, sha256 cf69887ec82340673a84d41cc177ad85e51890494ad3244bcbdc41508896807e, "
    "commit 0412345678abcdef; n = 21.",
]

# The reference list as pandoc's default style prints the authors of references.bib.
BIB = """@article{huber2016,
  author  = {Huber, Machteld and Van Vliet, Marja and Giezenberg, Marijke},
  title   = {Towards a 'patient-centred' operationalisation of the new dynamic concept of health},
  year    = {2016}
}
@article{fassaert2014,
  author  = {Fassaert, Thijs and Dekker, Jack and De Wit, Matty},
  title   = {Zelfredzaamheid-Matrix},
  year    = {2014}
}
"""
REFERENCE_LIST = (
    "Huber, Machteld, Marja Van Vliet, en Marijke Giezenberg. 2016. Towards a patient-centred "
    "operationalisation. Fassaert, Thijs, Jack Dekker, en Matty De Wit. 2014. Zelfredzaamheid-Matrix."
)

LABELS = [  # Veranderingen and Mechanismen of the codebook: long, distinct, with spaces
    "zich vrij voelen en zichzelf zijn", "weer meetellen", "iets leren en maken",
    "zelfvertrouwen en eigenwaarde", "positief toekomstperspectief",
    "hulp bij vragen en de juiste hulp gevonden", "de deur uit en dagritme",
    "sociale contacten en vriendschappen", "lief en leed delen", "iets betekenen voor anderen",
    "meedoen aan activiteiten", "geen verandering of achteruitgang",
    "steun van medebezoekers", "steun van medewerkers en vrijwilligers",
    "laagdrempelige toegang", "doorverwijzing naar hulp", "vroeg gesignaleerd probleem",
]

SENTENCES = [  # typed answers for the planted free-text column (made up)
    "ik kom hier elke week voor de koffie en de gezelligheid",
    "sinds mijn man overleden is voel ik me vaak alleen thuis",
    "de buurvrouw nam me mee naar de naaiclub op dinsdag",
    "geen tijd want ik werk in ploegendienst bij de haven",
    "mijn dochter vindt dat ik vaker de deur uit moet gaan",
    "ik wist niet dat je hier zomaar binnen kon lopen zonder afspraak",
    "het is te ver lopen met mijn slechte knie en de bus rijdt niet",
    "de mensen van het wijkteam hielpen met mijn schulden en brieven",
    "ik spreek nog niet goed genoeg Nederlands om mee te praten",
    "toen ik mijn baan kwijtraakte had ik niets meer te doen overdag",
    "ze hebben me geholpen met een aanvraag voor de toeslagen",
    "de activiteiten zijn vooral voor ouderen en ik ben pas dertig",
]


# ---------------------------------------------------------------------------------------------
# a clean project


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _write_manifest(raw: Path, names: list[str]) -> None:
    lines = [f"{hashlib.sha256((raw / n).read_bytes()).hexdigest()}  {n}" for n in names]
    (raw / "MANIFEST.sha256").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _pdf(paragraphs: list[str]) -> bytes:
    def esc(t: str) -> str:  # Typst markup: escape the characters that start markup
        for ch in "\\#<>@*_`$[]":
            t = t.replace(ch, "\\" + ch)
        return t

    source = '#set text(lang: "nl")\n= Rapport\n\n' + "\n\n".join(esc(p) for p in paragraphs)
    return typst.compile(source.encode("utf-8"))


def _notebook(outputs: list[list[dict]]) -> dict:
    cells = [{"cell_type": "code", "execution_count": i, "metadata": {}, "source": "x",
              "outputs": outs} for i, outs in enumerate(outputs, 1)]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _html_table(df: pd.DataFrame) -> str:
    return df.to_html(index=False)


def _reach(n: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "respondent_id": [f"R{i:05d}" for i in range(n)],
        "site": rng.choice(["DH", "LH", "PS"], n),
        "date": pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D"),
        "pc4": rng.choice(["3024", "3026", "6663", "5341"], n),
        "age": rng.integers(18, 90, n),
        "gender": rng.choice(["man", "vrouw", "anders"], n),
        "origin": rng.choice(["nederland", "europa", "buiten_europa"], n),
        "djg_total": rng.integers(0, 7, n).astype(float),
        "reached": rng.random(n) < 0.5,
    })


@pytest.fixture
def project(tmp_path):
    """(out, output, repo): a clean processed-data dir, output dir and git repository."""
    out, output, repo = tmp_path / "processed", tmp_path / "_output", tmp_path / "repo"
    (out / "results").mkdir(parents=True)
    (out / "internal").mkdir()
    _reach().to_parquet(out / "reach.parquet")
    _reach().to_csv(out / "reach.csv", index=False)
    pd.DataFrame({  # the cleaning log: repeated rules, short old values
        "file": ["LH_bereik.xlsx"] * 6, "row": [2, 3, 4, 5, 6, 7],
        "column": ["Leeftijd", "Geslacht", "Geslacht", "Leeftijd", "Datum", "Geslacht"],
        "old": ["45 jaar", "v", "Vrouw ", "1958", "31-02-2024", "M"],
        "new": ["45", "vrouw", "vrouw", "66", "", "man"],
        "rule": ["age_text", "value_map", "value_map", "birth_year", "invalid_date", "value_map"],
    }).to_parquet(out / "cleaning_log.parquet")
    pd.DataFrame({  # Table 1 as published: suppressed cells, zeros, formatted numbers
        "variable": ["origin"] * 3 + ["gender"] * 3,
        "label": ["Nederland", "Europa (excl. Nederland)", "Buiten Europa", "man", "vrouw", "anders"],
        "n": ["12", "0", "<5", "27", "33", "<5"],
        "n_pct": ["12 (34,5%)", "0 (0,0%)", "<5", "27 (45,0%)", "33 (55,0%)", "<5"],
        "mean_sd": ["45,2 (12,1)"] * 6,
        "n_resamples": [2] * 6,  # not a count of people
        "n_sites": [3] * 6,
    }).to_csv(out / "results" / "table1.csv", index=False)
    pd.DataFrame({"code": [f"c{i}" for i in range(len(LABELS))], "label": LABELS,
                  "omschrijving_nl": LABELS, "n": [5 + i for i in range(len(LABELS))]}
                 ).to_csv(out / "results" / "themes.csv", index=False)
    pd.DataFrame({  # model descriptions, one per outcome: long, distinct, but not typed text
        "outcome": [f"outcome_{i}" for i in range(12)],
        "model_description": [f"outcome_{i} ~ wave + site + (1 | person); MixedLM REML, Wald z" for i in range(12)],
        "n_persons": [21] * 12,
    }).to_csv(out / "results" / "mixed_model.csv", index=False)
    pd.DataFrame({"site": ["DH", "LH", "PS"],
                  "naam": ["Buurtsteunpunt Delfshaven", "Wijkatelier Lindenholt", "De Pitstop"],
                  "plaats": ["Rotterdam", "Nijmegen", "Oss"], "n": [160, 150, 143]}
                 ).to_csv(out / "results" / "sites.csv", index=False)
    # unsuppressed internal table: counts under 5 are allowed here (not published)
    pd.DataFrame({"label": ["anders", "man"], "n": [3, 27]}).to_csv(out / "internal" / "table1.csv", index=False)

    (output / "notebooks").mkdir(parents=True)
    table = pd.read_csv(out / "results" / "table1.csv", dtype=str)
    nb = _notebook([
        [_stream(PROSE[0] + "\n" + PROSE[2] + "\n")],
        [{"output_type": "display_data", "metadata": {},
          "data": {"text/plain": table.to_string(), "text/html": _html_table(table)}}],
        [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
          "data": {"text/plain": _reach().head(10).to_string()}}],
    ])
    (output / "notebooks" / "01_clean_reach.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    body = "\n".join(f"<p>{p.replace('<5', '&lt;5')}</p>" for p in PROSE)
    (output / "report.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"nl\"><head><title>Krachtpunten</title>\n"
        "<style>.banner { color: #1234AB; } /* 06-12345678 */</style></head>\n<body>\n"
        f"{body}\n{_html_table(table)}\n<div class=\"references\"><p>{REFERENCE_LIST}</p></div>\n"
        "<script>var x = 'data:image/png;base64,AAAA';</script>\n</body></html>\n",
        encoding="utf-8")
    (output / "report.pdf").write_bytes(_pdf(PROSE + [REFERENCE_LIST]))

    # the repository: synthetic raw files (with planted free-text identifiers, deliberately)
    raw = repo / "data" / "raw"
    raw.mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.name", "Test")
    _git(repo, "config", "user.email", "test@example.org")
    (raw / "DH_bereik.csv").write_text(
        "RESPONSE_ID;Q15_OTHER\nDH0001;bel Henk op 06-12345678\nDH0002;\n", encoding="utf-8-sig")
    (raw / "interviews.xlsx").write_bytes(b"PK\x03\x04 synthetic workbook")
    (raw / "README.md").write_text("# Raw data: SYNTHETIC\n", encoding="utf-8")
    _write_manifest(raw, ["DH_bereik.csv", "README.md", "interviews.xlsx"])
    (repo / "data" / "reference").mkdir()
    (repo / "data" / "reference" / "cbs_kerncijfers.csv").write_text(
        "region_code,region_name,variable,value,source\n"
        "WK059903,Delfshaven (Rotterdam),AantalInwoners_5,77250,\"CBS 85984NED Kerncijfers wijken "
        "en buurten 2024 (peildatum 1 januari 2024)\"\n", encoding="utf-8")
    (repo / "data" / "processed").mkdir()
    (repo / "data" / "processed" / "README.md").write_text(
        "# Processed data\n\nRebuilt from data/raw by `make report`; small cells suppressed.\n", encoding="utf-8")
    (repo / "tests" / "fixtures").mkdir(parents=True)
    (repo / "tests" / "fixtures" / "tiny.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (repo / "references.bib").write_text(BIB, encoding="utf-8")
    (repo / "README.md").write_text("# Krachtpunten\n", encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "clean")
    return out, output, repo


def _only(findings: list[Finding], kind: str) -> Finding:
    """The one finding, checked to be of ``kind``."""
    assert [f.kind for f in findings] == [kind], findings
    return findings[0]


def _no_value(findings: list[Finding], value: str) -> None:
    for f in findings:
        assert value not in str(f), f"the finding prints the planted value: {f}"


# ---------------------------------------------------------------------------------------------
# clean


def test_clean_project_has_no_findings(project):
    out, output, repo = project
    assert scan(out, output, repo) == []


@pytest.mark.parametrize("text", PROSE + LABELS)
def test_clean_text_gives_no_identifier(text):
    assert find_identifiers(text) == []


def test_bibliography_authors_allowed_only_through_the_bib(project):
    out, output, repo = project
    # the reference list names Marja Van Vliet and Matty De Wit: a name by the prose rules
    assert [k for k, _ in find_identifiers(REFERENCE_LIST)] == ["name"]
    (repo / "references.bib").unlink()  # without the .bib, the report's reference list is a finding
    findings = scan(out, output, repo)
    assert {(f.kind, Path(f.path).name) for f in findings} == {("name", "report.html"), ("name", "report.pdf")}
    _no_value(findings, "Van Vliet")


@pytest.mark.parametrize("cell", ["Nederland", "vrouw", "man", "Buiten Europa", "12 (34,5%)", "<5",
                                  "Delfshaven", "Lindenholt", "Oss", "De Pitstop", "12-03-2024",
                                  "Roos", "Mark", "Tim", "Ben", "Wil", "3024", "45 jaar"])
def test_clean_cells_give_no_identifier(cell):
    assert find_identifiers(cell, cell=True) == []


@pytest.mark.parametrize("text, kind", [
    ("Jan Bakker", "name"), ("gesprek met mevrouw Visser", "name"), ("J.P. de Vries", "name"),
    ("Fatima El Idrissi", "name"), ("ik sprak met van den Berg", "name"), ("buurman Ahmed", "name"),
    ("06-12345678", "phone"), ("06 1234 5678", "phone"), ("+31 6 12345678", "phone"),
    ("0031 6 12345678", "phone"), ("010-1234567", "phone"), ("(0412) 12 34 56", "phone"),
    ("jan.jansen@gmail.com", "email"), ("1234 AB", "postcode"), ("1234AB", "postcode"),
    ("geboren op 12-03-1958", "birth_date"),
])
def test_identifiers_in_text(text, kind):
    found = find_identifiers(f"Notitie: {text}, graag terugbellen.")
    assert [k for k, _ in found] == [kind]
    assert text not in found[0][1]


def test_bad_argument_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        scan(tmp_path / "missing", None, None)
    with pytest.raises(ValueError, match="git"):
        scan(None, None, tmp_path)  # not a git repository
    with pytest.raises(ValueError, match="str"):
        find_identifiers(None)


# ---------------------------------------------------------------------------------------------
# planted leaks, one at a time


def test_name_in_parquet_column(project):
    out, output, repo = project
    df = _reach()
    df["contact"] = None
    df.loc[7, "contact"] = "Henk"
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "name")
    assert f.path == str(out / "reach.parquet")
    assert f.location == "column 'contact', row 7"
    assert "He…" in f.detail
    _no_value([f], "Henk")


def test_phone_in_csv(project):
    out, output, repo = project
    log = pd.read_parquet(out / "cleaning_log.parquet")
    log.loc[4, "old"] = "bel mijn buurvrouw op 06-12345678"
    log.to_csv(out / "cleaning_log.csv", index=False)
    f = _only(scan(out, output, repo), "phone")
    assert (f.path, f.location) == (str(out / "cleaning_log.csv"), "column 'old', row 4")
    _no_value([f], "12345678")


def test_email_in_notebook_output(project):
    out, output, repo = project
    path = output / "notebooks" / "01_clean_reach.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"][1]["outputs"].append(_stream("gelezen: 160 formulieren\ncontact: jan.jansen@gmail.com\n"))
    path.write_text(json.dumps(nb), encoding="utf-8")
    f = _only(scan(out, output, repo), "email")
    assert (f.path, f.location) == (str(path), "cell 2, output 2, line 2")
    _no_value([f], "jan.jansen@gmail.com")


def test_name_in_a_table_shown_by_a_notebook(project):
    out, output, repo = project
    path = output / "notebooks" / "01_clean_reach.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    shown = pd.DataFrame({"site": ["DH", "PS"], "contact": ["Ingrid", ""]})
    nb["cells"][2]["outputs"] = [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                                  "data": {"text/plain": shown.to_string(), "text/html": _html_table(shown)}}]
    path.write_text(json.dumps(nb), encoding="utf-8")
    # a given name alone is a name in a table cell (HTML), not in prose; reported once per output
    f = _only(scan(out, output, repo), "name")
    assert f.location.startswith("cell 3, output 1, line ")
    _no_value([f], "Ingrid")


def test_full_postcode(project):
    out, output, repo = project
    df = _reach()
    df["postcode"] = df["pc4"]
    df.loc[0, "postcode"] = "3024 AB"
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "postcode")
    assert f.location == "column 'postcode', row 0"
    _no_value([f], "3024 AB")


def test_birth_date_column(project):
    out, output, repo = project
    df = _reach()
    df["geboortedatum"] = pd.Timestamp("1958-03-12")
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "birth_date")
    assert (f.path, f.location) == (str(out / "reach.parquet"), "column 'geboortedatum'")


def test_free_text_column_by_content(project):
    out, output, repo = project
    df = _reach(len(SENTENCES) * 2)
    df["opmerking"] = SENTENCES * 2
    df.loc[len(SENTENCES):, "opmerking"] = [s + " en verder niets" for s in SENTENCES]
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "free_text")
    assert f.location == "column 'opmerking'"
    assert not any(s in str(f) for s in SENTENCES)


def test_free_text_column_named_in_codebook(project):
    out, output, repo = project
    df = _reach()
    df["other_text"] = "zie boven"  # short and repeated: only its name gives it away
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "free_text")
    assert f.location == "column 'other_text'"


def test_small_cell_in_results_table(project):
    out, output, repo = project
    path = out / "results" / "table1.csv"
    t = pd.read_csv(path, dtype=str)
    t.loc[2, "n"] = "3"
    t.to_csv(path, index=False)
    f = _only(scan(out, output, repo), "small_cell")
    assert (f.path, f.location) == (str(path), "column 'n', row 2")


def test_small_cell_in_formatted_count(project):
    out, output, repo = project
    path = out / "results" / "table1.csv"
    t = pd.read_csv(path, dtype=str)
    t.loc[5, "n_pct"] = "2 (3,3%)"
    t.to_csv(path, index=False)
    f = _only(scan(out, output, repo), "small_cell")
    assert f.location == "column 'n_pct', row 5"


def test_real_data_file_tracked_in_raw(project):
    out, output, repo = project
    (repo / "data" / "raw" / "PS_echte_export.sav").write_bytes(b"$FL2 real export")
    _git(repo, "add", "-f", "data/raw/PS_echte_export.sav")
    f = _only(scan(out, output, repo), "raw_not_in_manifest")
    assert f.path == str(repo / "data" / "raw" / "PS_echte_export.sav")
    assert f.location == "git index"


def test_tracked_raw_file_with_wrong_hash(project):
    out, output, repo = project
    path = repo / "data" / "raw" / "DH_bereik.csv"
    path.write_text("RESPONSE_ID;Q15_OTHER\nDH0001;echte antwoorden\n", encoding="utf-8-sig")
    _git(repo, "add", "data/raw/DH_bereik.csv")
    f = _only(scan(out, output, repo), "raw_hash_mismatch")
    assert f.path == str(path)


def test_tracked_raw_files_without_manifest(project):
    out, output, repo = project
    _git(repo, "rm", "-q", "data/raw/MANIFEST.sha256")
    findings = scan(out, output, repo)
    assert {f.kind for f in findings} == {"raw_not_in_manifest"}
    assert sorted(Path(f.path).name for f in findings) == ["DH_bereik.csv", "interviews.xlsx"]


def test_untracked_manifest_in_the_working_tree_is_used(project):
    out, output, repo = project
    _git(repo, "rm", "-q", "--cached", "data/raw/MANIFEST.sha256")  # being generated, not yet added
    assert scan(out, output, repo) == []


def test_data_file_tracked_outside_the_synthetic_set(project):
    out, output, repo = project
    (repo / "notebooks").mkdir()
    (repo / "notebooks" / "export.xlsx").write_bytes(b"PK\x03\x04 a real export")
    _git(repo, "add", "notebooks/export.xlsx")
    f = _only(scan(out, output, repo), "data_file_tracked")
    assert f.path == str(repo / "notebooks" / "export.xlsx")
    assert "data file tracked outside the synthetic set" in f.detail


def test_identifiers_in_tracked_text_under_data(project):
    out, output, repo = project
    (repo / "data" / "reference" / "notities.md").write_text(
        "# Notities\nGesproken met mevrouw Visser, 06-12345678.\n", encoding="utf-8")
    _git(repo, "add", "data/reference/notities.md")
    findings = scan(out, output, repo)
    assert sorted((f.kind, f.location) for f in findings) == [("name", "line 2"), ("phone", "line 2")]
    _no_value(findings, "Visser")


def test_name_in_report_html(project):
    out, output, repo = project
    path = output / "report.html"
    html = path.read_text(encoding="utf-8").replace(
        "<body>\n", "<body>\n<p>Wij spraken met <strong>Ingrid</strong> Jansen over haar buurt.</p>\n")
    path.write_text(html, encoding="utf-8")
    f = _only(scan(out, output, repo), "name")
    assert (f.path, f.location) == (str(path), "line 5")
    _no_value([f], "Ingrid Jansen")


def test_name_in_report_pdf(project):
    out, output, repo = project
    (output / "report.pdf").write_bytes(_pdf(PROSE + ["Wij spraken met Ingrid Jansen over haar buurt."]))
    f = _only(scan(out, output, repo), "name")
    assert f.path == str(output / "report.pdf")
    assert f.location.startswith("page 1, line ")
    _no_value([f], "Ingrid Jansen")


# ---------------------------------------------------------------------------------------------
# the command


def test_cli_exit_codes_and_output(project, monkeypatch, capsys):
    out, output, repo = project
    monkeypatch.setattr(config, "PROJECT_DIR", repo)
    args = argparse.Namespace(out=str(out), output=str(output))
    assert privacy.cli(args) == 0
    printed = capsys.readouterr().out
    assert "no findings" in printed and len(printed.strip().splitlines()) == 1

    df = _reach()
    df["contact"] = None
    df.loc[3, "contact"] = "bel Henk op 06-12345678"
    df.to_parquet(out / "reach.parquet")
    assert privacy.cli(args) == 1
    printed = capsys.readouterr().out
    assert "[phone]" in printed and "[name]" in printed and "column 'contact', row 3" in printed
    assert "12345678" not in printed and "Henk" not in printed


def test_cli_via_main(project, monkeypatch, capsys):
    from analysis.__main__ import main

    out, output, repo = project
    monkeypatch.setattr(config, "PROJECT_DIR", repo)
    assert main(["check-privacy", "--out", str(out), "--output", str(output)]) == 0
    assert main(["check-privacy", "--out", str(out / "nope")]) == 2


def test_large_table_is_fast(tmp_path):
    # STUDY.md section 10: tens of thousands of forms; 45,000 rows must stay quick
    out = tmp_path / "processed"
    out.mkdir()
    df = _reach(45_000)
    df["label"] = np.random.default_rng(2).choice(LABELS, len(df))
    df.to_parquet(out / "reach.parquet")
    start = time.perf_counter()
    assert scan(out, None, None) == []
    assert time.perf_counter() - start < 15


def test_scale_name_broken_over_lines_is_not_a_name():
    """PDF text extraction breaks "De Jong Gierveld" over lines inside narrow table cells."""
    from analysis.privacy import find_identifiers

    assert list(find_identifiers("Eenzaamheid (De \nJong Gierveld) 74 (38,9%)")) == []
    assert list(find_identifiers("Ingrid de Jong belde")) != []


# ---------------------------------------------------------------------------------------------
# issue 17: BSN, IBAN, numbers that lost their 0, birth dates in date and age columns, tracked
# notebooks with outputs, small cells shown by notebooks, the disclosure attack


@pytest.mark.parametrize("text, kind", [
    ("BSN 111222333", "bsn"),            # 11-test: 9+8+7+12+10+8+9+6−3 = 66 = 6·11
    ("bsn: 1112.22.333", "bsn"),
    ("rekening NL91 ABNA 0417 1643 00", "iban"),   # the standard example; mod 97 = 1
])
def test_new_identifiers_in_text(text, kind):
    found = find_identifiers(f"Notitie: {text}, graag terugbellen.")
    assert [k for k, _ in found] == [kind]


@pytest.mark.parametrize("text", [
    "BSN 111222334",                      # fails the 11-test (65)
    "rekening NL92 ABNA 0417 1643 00",    # wrong check digits
    "sha256 1112223334445556667",         # a longer digit run is no BSN
    "n = 123456789 (telling)",            # fails the 11-test: a count
])
def test_new_identifier_near_misses_in_text(text):
    assert find_identifiers(text) == []


def test_phone_that_lost_its_zero_in_a_numeric_column(project):
    out, output, repo = project
    df = _reach()
    df["telefoon_of_aantal"] = np.arange(len(df), dtype="float64")
    df.loc[11, "telefoon_of_aantal"] = 612345678.0  # 06-12345678 read as a number
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "phone")
    assert f.location == "column 'telefoon_of_aantal', row 11"
    _no_value([f], "612345678")


def test_bsn_with_lost_zero_in_a_csv(project):
    out, output, repo = project
    df = _reach()
    df["nummer"] = 100 + np.arange(len(df))
    df.loc[3, "nummer"] = 12345672  # BSN 012345672 (0+8+14+18+20+20+18+14−2 = 110 = 10·11)
    df.to_csv(out / "reach.csv", index=False)
    f = _only(scan(out, output, repo), "bsn")
    assert (f.path, f.location) == (str(out / "reach.csv"), "column 'nummer', row 3")


def test_birth_date_in_a_date_column_and_in_an_age_column(project):
    out, output, repo = project
    df = _reach()
    df.loc[5, "date"] = pd.Timestamp("1958-03-12")  # the visit dates are all 2024
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "birth_date")
    assert f.location == "column 'date', row 5"
    df = _reach().astype({"age": object})
    df.loc[9, "age"] = "12-03-1958"
    df.to_csv(out / "reach.csv", index=False)
    df.drop(columns="age").to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "birth_date")
    assert (f.path, f.location) == (str(out / "reach.csv"), "column 'age', row 9")


def test_visit_dates_and_age_groups_are_not_birth_dates(project):
    out, output, repo = project
    df = _reach()
    df["age_group"] = np.where(df["age"] < 45, "25-44", "45-64")
    df["interviewdatum"] = "2025-03-10"
    df["pg_dagelijks_functioneren"] = 3  # "dag" inside a word: not a date column
    df.to_csv(out / "reach.csv", index=False)
    assert scan(out, output, repo) == []


def test_email_in_a_code_column(project):
    out, output, repo = project
    df = _reach()
    df.loc[2, "gender"] = "jan.jansen@gmail.com"
    df.to_parquet(out / "reach.parquet")
    f = _only(scan(out, output, repo), "email")
    assert f.location == "column 'gender', row 2"


def _track_notebook(repo: Path, nb: dict, name: str = "01_clean_reach.ipynb") -> Path:
    path = repo / "notebooks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    _git(repo, "add", str(path.relative_to(repo)))
    return path


def test_notebook_tracked_with_outputs(project):
    out, output, repo = project
    stripped = _notebook([[], []])
    _track_notebook(repo, stripped, "02_stripped.ipynb")
    assert scan(out, output, repo) == []  # committed without outputs: fine
    path = _track_notebook(repo, _notebook([[], [_stream("160 formulieren\n")]]))
    f = _only(scan(out, output, repo), "notebook_outputs")
    assert (f.path, f.location) == (str(path), "git index")
    assert "cell 2" in f.detail


def test_small_cell_in_a_table_a_notebook_shows(project):
    out, output, repo = project
    path = output / "notebooks" / "01_clean_reach.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    internal = pd.DataFrame({"label": ["man", "vrouw", "anders"], "n": [27, 33, 3], "n_resamples": [2, 2, 2]})
    nb["cells"][2]["outputs"] = [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                                  "data": {"text/plain": internal.to_string(), "text/html": internal.to_html()}}]
    path.write_text(json.dumps(nb), encoding="utf-8")
    f = _only(scan(out, output, repo), "small_cell")
    assert f.location == "cell 3, output 1, table column 'n', table row 3"
    # the same table printed as text only (print(df))
    nb["cells"][2]["outputs"] = [_stream(internal.to_string() + "\n")]
    path.write_text(json.dumps(nb), encoding="utf-8")
    f = _only(scan(out, output, repo), "small_cell")
    assert f.location == "cell 3, output 1, table column 'n', table row 3"


def test_suppressed_tables_in_notebooks_are_fine(project):
    out, output, repo = project
    path = output / "notebooks" / "01_clean_reach.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    shown = pd.DataFrame({"label": ["man", "vrouw", "anders"], "n": ["27", "0", "<5"], "k": ["x", "12", "5"]})
    nb["cells"][2]["outputs"] = [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                                  "data": {"text/plain": shown.to_string(), "text/html": shown.to_html()}}]
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert scan(out, output, repo) == []


def test_disclosure_attack_findings(project, monkeypatch):
    from analysis import attack

    out, output, repo = project
    seen = []

    def fake(out_dir):
        seen.append(Path(out_dir))
        return pd.DataFrame({
            "file": ["reach_table1", "reach_table1, reach_counts", "reach_table1"],
            "key": [("reach_table1", "DH", "anders", "reached"), ("reached", "DH"), ("x", 1)],
            "mark": ["<5", "<5", "x"], "low": [2.0, 0.0, 5.0], "high": [2.0, 9.0, 40.0],
            "protected": [False, True, None],
            "where": ["reach_table1 row 3, column 'n'", "reach_counts row 1, column 'n'", "reach_table1 row 4"],
        })

    monkeypatch.setattr(attack, "attack_outputs", fake)
    f = _only(scan(out, output, repo), "recoverable_cell")
    assert seen == [out]
    assert f.path == str(out / "results" / "reach_table1.csv")
    assert f.location == "reach_table1 row 3, column 'n'"
    assert "as 2 " in f.detail

    def broken(out_dir):
        raise ValueError("the published numbers contradict each other")

    monkeypatch.setattr(attack, "attack_outputs", broken)
    f = _only(scan(out, output, repo), "unreadable")
    assert f.location == "disclosure attack" and "contradict" in f.detail


def test_disclosure_attack_module_missing(project, monkeypatch):
    import sys

    import analysis

    out, output, repo = project
    monkeypatch.delattr(analysis, "attack", raising=False)
    monkeypatch.setitem(sys.modules, "analysis.attack", None)
    findings, scanned = privacy._scan(out, None, None)
    assert findings == [] and any("attack" in s and "missing" in s for s in scanned)
