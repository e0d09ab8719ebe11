"""The parity check (analysis.render.parity): what it reads from a rendered HTML and PDF, that the
two formats of one offline render agree, and that it reports what differs.

The fixture document (tests/fixtures/render/fixture.qmd) is rendered offline once per module.
Quarto is not installed here: its side of ``quarto-check`` is stood in for by edited copies.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from analysis import config
from analysis.render import parity, render_report
from analysis.render import quarto as quarto_mod

FIXTURE = Path(__file__).parent / "fixtures" / "render" / "fixture.qmd"
PROJECT = Path(__file__).resolve().parents[1]

SECTIONS = ["Inleiding", "Resultaten", "Referenties"]
FLOATS = [("Figuur", 1, "Bezoekers per krachtpunt (synthetisch)."),
          ("Tabel", 1, "Aantal respondenten per krachtpunt."),
          ("Figuur", 2, "Welbevinden op T0 en T1.")]
CITATIONS = ["(Topp e.a. 2015)", "De Jong Gierveld en Van Tilburg (2006)"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("parity")
    files = render_report(FIXTURE, out, engine="offline", env={config.ENV_OUT: "/nonexistent/verwerkt"})
    return {"files": files, "html": parity.structure(files["html"]), "pdf": parity.structure(files["pdf"])}


@pytest.fixture(params=["html", "pdf"])
def found(request, rendered):
    """The structure of the HTML, then of the PDF: each content test runs on both."""
    return rendered[request.param]


def test_sections_from_the_body_not_the_title(found):
    assert found["sections"] == SECTIONS  # the title and the callout titles are no sections


def test_floats_with_their_numbers_and_captions(found):
    assert found["floats"] == FLOATS


def test_bibliography_entries(found):
    refs = found["references"]
    assert len(refs) == 2
    assert refs[0] == ("De Jong Gierveld, Jenny, en Theo Van Tilburg. 2006. Manual of the Loneliness Scale. "
                       "VU University Amsterdam.")
    assert refs[1].startswith("Topp, Christian Winther, Søren Dinesen Østergaard")
    # pandoc 3.6's built-in Chicago style (the fixture names no CSL file), as Quarto 1.7 gives it
    assert "Psychotherapy and Psychosomatics 84 (3): 167–76." in refs[1]


def test_citations(found):
    assert found["citations"] == CITATIONS


def test_numbers_of_the_text_but_not_of_the_bibliography(found):
    numbers = found["numbers"]
    for token, count in {"123": 1, "3.14": 1, "42": 1, "61,9": 1, "54,3": 1, "2025": 1, "2006": 1}.items():
        assert numbers[token] == count, token
    assert numbers["5"] >= 2  # "<5" in the table and "onder de 5" in the callout: counted as 5
    assert numbers["167"] == 0 and numbers["84"] == 0  # those are in the bibliography
    assert numbers["0"] == 0  # "T0" is a name, not a number


def test_html_and_pdf_of_one_render_agree(rendered):
    html, pdf = rendered["html"], rendered["pdf"]
    # everything, numbers included: the fixture's code output is the same text in both formats
    # and the PDF's page numbers are left out
    for key in ("sections", "floats", "references", "citations", "numbers"):
        assert html[key] == pdf[key], key
    assert parity.compare(html, pdf, labels=("html", "pdf")) == []


def test_pdf_page_numbers_are_not_counted(rendered):
    from pypdf import PdfReader

    pages = len(PdfReader(rendered["files"]["pdf"]).pages)
    assert pages >= 3
    assert rendered["pdf"]["numbers"]["3"] == 0  # page 3 is only a page number


def test_compare_reports_each_kind_of_difference(rendered):
    a = rendered["html"]
    b = copy.deepcopy(a)
    b["numbers"]["61,9"] -= 1
    b["numbers"]["62,0"] += 1
    b["sections"].remove("Resultaten")
    b["floats"] = [("Figuur", 2, FLOATS[0][2]), FLOATS[1], ("Figuur", 1, FLOATS[2][2])]  # swapped
    b["references"] = b["references"][1:]
    b["citations"] = b["citations"] + ["Austin (2009)"]
    differences = parity.compare(a, b)
    assert "number '61,9' appears 1x in offline, 0x in quarto" in differences
    assert "number '62,0' appears 0x in offline, 1x in quarto" in differences
    assert "section 'Resultaten' only in offline" in differences
    assert "'Bezoekers per krachtpunt (synthetisch).' is Figuur 1 in offline but Figuur 2 in quarto" in differences
    assert "'Welbevinden op T0 en T1.' is Figuur 2 in offline but Figuur 1 in quarto" in differences
    assert any(d.startswith("reference only in offline: De Jong Gierveld, Jenny") for d in differences)
    assert "citation 'Austin (2009)' only in quarto" in differences
    assert len(differences) == 7, differences
    assert parity.compare(a, copy.deepcopy(a)) == []


def test_compare_caption_order_and_long_number_lists(rendered):
    a = rendered["pdf"]
    b = copy.deepcopy(a)
    b["sections"] = ["Resultaten", "Inleiding", "Referenties"]
    b["floats"][1] = ("Tabel", 1, "Aantal bezoekers per krachtpunt.")
    b["numbers"] = a["numbers"] + Counter({str(n): 1 for n in range(1000, 1030)})
    differences = parity.compare(a, b, labels=("x", "y"))
    assert "sections in another order from 'Inleiding' (x) / 'Resultaten' (y)" in differences
    assert ("Tabel 1 caption differs: x 'Aantal respondenten per krachtpunt.'; "
            "y 'Aantal bezoekers per krachtpunt.'") in differences
    assert sum(d.startswith("number ") for d in differences) == 20  # at most 20 listed...
    assert "... and 10 more numbers whose counts differ" in differences  # ...and the rest counted


def test_compare_a_modified_html_file(rendered, tmp_path):
    html = rendered["files"]["html"].read_text(encoding="utf-8")
    edited = re.sub(r"(<caption>\s*Tabel(&nbsp;|\xa0| ))1:", r"\g<1>2:", html)  # the no-break space as written
    edited = (edited.replace('<td style="text-align: right;">61,9</td>', '<td style="text-align: right;">61,8</td>')
              .replace('<h2 id="resultaten">Resultaten</h2>', ""))
    assert edited.count("61,8") == 1 and edited.count("Resultaten") == html.count("Resultaten") - 1
    assert re.search(r"<caption>\s*Tabel(&nbsp;|\xa0| )2:", edited)
    (tmp_path / "fixture.html").write_text(edited, encoding="utf-8")
    differences = parity.compare(rendered["html"], parity.structure(tmp_path / "fixture.html"))
    assert "section 'Resultaten' only in offline" in differences
    assert "'Aantal respondenten per krachtpunt.' is Tabel 1 in offline but Tabel 2 in quarto" in differences
    assert "number '61,9' appears 1x in offline, 0x in quarto" in differences
    assert "number '61,8' appears 0x in offline, 1x in quarto" in differences
    # the number in the caption changed too: one "1" fewer, one "2" more
    assert "number '2' appears 2x in offline, 3x in quarto" in differences


def test_quarto_check_prints_the_differences_per_format(rendered, tmp_path, monkeypatch, capsys):
    """Quarto stood in for: its "render" is the offline one with a reference taken out of the HTML."""
    def fake_render(qmd, output_dir, *, engine, env, **kw):
        output_dir.mkdir(parents=True)
        files = {fmt: Path(shutil.copy(path, output_dir)) for fmt, path in rendered["files"].items()}
        if engine == "quarto":
            html = files["html"].read_text(encoding="utf-8")
            start = html.index('<div id="ref-topp2015"')
            files["html"].write_text(html[:start] + html[html.index("</div>", start) + 6:], encoding="utf-8")
        return files

    import analysis.render

    monkeypatch.setattr(quarto_mod, "quarto_path", lambda: "/opt/quarto/bin/quarto")
    monkeypatch.setattr(analysis.render, "render_report", fake_render)
    assert parity.quarto_check(FIXTURE, tmp_path, {}) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "html: 1 difference (offline vs quarto)"
    assert lines[1].startswith("  - reference only in offline: Topp, Christian Winther")
    assert lines[2] == "pdf: no differences (offline vs quarto)"
    assert lines[3] == ("quarto-check: compared fixture.qmd offline with quarto: html 3 sections, 3 floats, "
                        "2 references, 21 numbers; pdf 3 sections, 3 floats, 2 references, 21 numbers")


def test_quarto_check_without_quarto_says_so_and_passes(tmp_path):
    bin_dir = Path(sys.executable).parent  # the venv's bin: python, no quarto
    assert not (bin_dir / "quarto").exists()
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": str(bin_dir)}
    result = subprocess.run([sys.executable, "-m", "analysis", "quarto-check", "--out", str(tmp_path)],
                            cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "quarto-check: 'quarto' is not on the PATH, nothing compared; install Quarto "
        "(https://quarto.org/docs/get-started/) to compare its render with the offline one"]


def test_structure_refuses_other_files(tmp_path):
    with pytest.raises(ValueError, match="html or .pdf"):
        parity.structure(tmp_path / "report.docx")


def test_consecutive_references_and_one_over_a_page_break(tmp_path):
    """Multi-line APA entries ending in a DOI (no full stop), on short pages: two break over a
    page, one page starts with a new entry. Each must stay one reference, as in the HTML."""
    import pypandoc
    import typst

    (tmp_path / "refs.bib").write_text("\n".join(
        f"@article{{a{i}, author = {{Auteur{i}, Anna and Tweede, Bram and Derde, Cees}}, year = {{20{i:02d}}},"
        f" title = {{{'Een lange titel over welbevinden in de wijk ' * (1 + 3 * (i % 3))}}},"
        f" journal = {{Tijdschrift}}, volume = {{{i}}}, pages = {{1--9}}, doi = {{10.1000/test.{i}}}}}"
        for i in range(8)))
    (tmp_path / "doc.md").write_text("---\ntitle: t\nbibliography: refs.bib\nnocite: '@*'\n---\n\n"
                                     "# Referenties\n\n::: {#refs}\n:::\n")
    args = ["--citeproc", "--csl", str(PROJECT / "apa.csl"), "--resource-path", str(tmp_path)]
    pypandoc.convert_file(str(tmp_path / "doc.md"), "html5", outputfile=str(tmp_path / "doc.html"),
                          extra_args=args + ["--standalone"])
    body = pypandoc.convert_file(str(tmp_path / "doc.md"), "typst-citations", extra_args=args)
    (tmp_path / "doc.typ").write_text("#set page(height: 7cm)\n" + body)
    typst.compile(str(tmp_path / "doc.typ"), output=str(tmp_path / "doc.pdf"))
    blocks, continued = parity._pdf_blocks(tmp_path / "doc.pdf")
    assert len(blocks) > 1 + 8 and continued  # the fixture does break entries over pages
    html, pdf = parity.structure(tmp_path / "doc.html"), parity.structure(tmp_path / "doc.pdf")
    assert len(pdf["references"]) == len(html["references"]) == 8
    assert parity.compare(html, pdf) == []
