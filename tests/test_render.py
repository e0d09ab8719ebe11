"""The offline renderer (analysis.render): Quarto's chunk options, inline code, numbered
cross-references, callouts, bibliography and title block, in the HTML and in the PDF alike.

One fixture document (tests/fixtures/render/fixture.qmd) is rendered once per module; the
expected text is what Quarto 1.7 would show for it (its docs on execution options,
cross-references, callouts and inline code), written out by hand below.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest

from analysis import config
from analysis.render import ChunkError, RenderError, RenderWarning, render_report
from analysis.render import quarto as quarto_mod
from analysis.render.qmd import split_options

FIXTURE = Path(__file__).parent / "fixtures" / "render" / "fixture.qmd"
OUT_DIR_SEEN_BY_KERNEL = "/nonexistent/verwerkt-voor-test"


class _Text(HTMLParser):
    """Visible text of an HTML page (scripts and styles skipped)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def squash(text: str) -> str:
    """Whitespace (including no-break spaces and PDF line breaks) folded to single spaces."""
    return " ".join(text.replace("\xa0", " ").split())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        files = render_report(FIXTURE, out, engine="offline",
                              env={config.ENV_OUT: OUT_DIR_SEEN_BY_KERNEL})
    from pypdf import PdfReader

    html = files["html"].read_text(encoding="utf-8")
    parser = _Text()
    parser.feed(html)
    pdf_pages = [p.extract_text() for p in PdfReader(files["pdf"]).pages]
    return {
        "files": files, "out": out, "html": html, "html_text": squash("".join(parser.parts)),
        "pdf_text": squash(" ".join(pdf_pages)), "pdf_pages": len(pdf_pages),
        "warnings": [str(w.message) for w in caught if issubclass(w.category, RenderWarning)],
    }


@pytest.fixture(params=["html_text", "pdf_text"])
def text(request, rendered):
    """The visible text of the HTML, then of the PDF: every content test runs on both."""
    return rendered[request.param]


def test_both_files_are_written_and_named_after_the_qmd(rendered):
    files = rendered["files"]
    assert set(files) == {"html", "pdf"}
    assert files["html"] == rendered["out"] / "fixture.html" and files["html"].stat().st_size > 10_000
    assert files["pdf"] == rendered["out"] / "fixture.pdf"
    assert files["pdf"].read_bytes()[:5] == b"%PDF-"
    assert rendered["warnings"] == []  # the fixture is clean: nothing unresolved


def test_title_block(text):
    for piece in ("Testrapport Krachtpunten", "Een klein document voor de renderer",
                  "Anna Jansen", "Bram de Vries", "1 mei 2025"):  # date-format long, lang nl
        assert piece in text
    assert "AUTEURS" in text.upper() and "PUBLICATIEDATUM" in text.upper()


def test_echo_shows_code_unless_false(text):
    assert "# ECHO_SHOWN_CODE" in text and "ECHO_SHOWN_OUTPUT" in text
    assert "ECHO_HIDDEN_CODE" not in text and "ECHO_HIDDEN_OUTPUT" in text


def test_output_false_hides_outputs_but_not_code(text):
    assert "# OUTPUT_FALSE_CODE" in text
    assert "OUTPUT_FALSE_RESULT" not in text


def test_include_false_runs_but_shows_nothing(text):
    assert "INCLUDE_HIDDEN_OUTPUT" not in text and "n_total = 123" not in text
    assert "Er deden 123 bewoners" in text  # ...yet its variables exist


def test_output_asis_is_markdown(rendered):
    assert "<strong>ASIS_BOLD</strong> tekst" in rendered["html"]
    assert "**ASIS_BOLD**" not in rendered["pdf_text"]


def test_warning_false_hides_stderr(text):
    assert "STDERR_HIDDEN" not in text and "STDOUT_AFTER_STDERR" in text


def test_inline_expressions_are_evaluated_in_place(text):
    # a str appears without quotes, a number by its repr; cwd is the .qmd's folder; env reaches the kernel
    assert "Er deden 123 bewoners mee in Delfshaven; pi is ongeveer 3.14." in text
    assert "'Delfshaven'" not in text and "{python}" not in text
    assert "De werkmap is render (" in text
    assert f"({FIXTURE.parent.resolve()})" in text.replace(" ", "")  # an existing path stays a string
    assert f"de uitvoermap is {OUT_DIR_SEEN_BY_KERNEL}" in text


def test_cross_references_are_numbered_in_document_order(text):
    # floats in order: fig-bars, tbl-sites, fig-trend; @fig-trend is mentioned first
    assert "Zie Figuur 2 en Figuur 1, en Tabel 1 voor de aantallen (ook 1 los)." in text
    assert "Figuur 1: Bezoekers per krachtpunt (synthetisch)." in text
    assert "Tabel 1: Aantal respondenten per krachtpunt." in text
    assert "Figuur 2: Welbevinden op T0 en T1." in text
    assert "Figure" not in text and "?@" not in text
    assert not re.search(r"(Figuur|Tabel) \d+: (Figuur|Tabel)", text)  # no double numbering


def test_html_floats_have_ids_links_alt_text_and_aligned_tables(rendered):
    html = rendered["html"]
    assert re.search(r'<a href="#fig-trend"[^>]*>Figuur(&nbsp;|\xa0| )2</a>', html)
    fig = re.search(r'<figure[^>]*id="fig-bars".*?</figure>', html, re.S).group(0)
    assert 'alt="Staafdiagram met het aantal bezoekers per krachtpunt."' in fig
    assert re.search(r"<figcaption>\s*Figuur(&nbsp;|\xa0| )1: Bezoekers", fig)
    table = re.search(r'<table[^>]*id="tbl-sites".*?</table>', html, re.S).group(0)
    assert re.search(r"<caption>\s*Tabel(&nbsp;|\xa0| )1: Aantal", table)
    assert '<td style="text-align: right;">&lt;5</td>' in table  # numeric column right-aligned


def test_bibliography_and_citations(text):
    assert "De Jong Gierveld en Van Tilburg (2006)" in text and "(Topp e.a. 2015)" in text
    refs = text[text.rindex("Referenties"):]
    assert "Manual of the Loneliness Scale" in refs and "Psychotherapy and Psychosomatics" in refs


def test_callouts(rendered, text):
    assert "Synthetische data" in text and "CALLOUT_MARKER" in text
    assert "Over de cijfers" in text and "## Over de cijfers" not in text  # heading became the title
    assert re.search(r'<div class="callout callout-warning"[^>]*>\s*<div class="callout-title">\s*Synthetische data',
                     rendered["html"])
    assert 'class="callout callout-note"' in rendered["html"]


def test_html_is_self_contained(rendered):
    html = rendered["html"]
    sources = re.findall(r'\bsrc="([^"]*)"', html)
    assert sources and all(s.startswith("data:") for s in sources)
    assert not re.search(r'<link[^>]+href="(?!data:)', html)
    assert "<style>" in html and "--accent" in html  # our CSS is inside


def test_unresolved_reference_warns_and_shows_like_quarto(tmp_path):
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\ntitle: T\nlang: nl\n---\n\nZie @fig-bestaat-niet.\n", encoding="utf-8")
    with pytest.warns(RenderWarning, match="fig-bestaat-niet"):
        files = render_report(qmd, tmp_path / "out", formats=("html",), engine="offline")
    assert "<strong>?@fig-bestaat-niet</strong>" in files["html"].read_text(encoding="utf-8")


def test_failing_chunk_names_the_chunk_the_line_and_the_error(tmp_path):
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\ntitle: T\n---\n\n```{python}\nx = 1\n```\n\nTekst.\n\n"
                   "```{python}\n#| label: tbl-kapot\ndef lees():\n    raise ValueError('kapotte invoer')\n\n"
                   "lees()\n```\n", encoding="utf-8")
    with pytest.raises(ChunkError) as err:
        render_report(qmd, tmp_path / "out", formats=("html",), engine="offline")
    copy = tmp_path / "out" / "notebooks" / "doc.ipynb"
    # the deepest line of the chunk in the traceback: the raise (14) inside the function called at 16
    assert str(err.value).split("\n") == [
        "'tbl-kapot' (chunk 2, line 11 of doc.qmd) failed at line 14 of doc.qmd: ValueError: kapotte invoer",
        f"  full traceback in the executed copy: {copy}"]
    assert "\x1b[" not in err.value.traceback and "kapotte invoer" in err.value.traceback
    assert not (tmp_path / "out" / "doc.html").exists()
    import nbformat

    cells = nbformat.read(copy, as_version=4).cells
    assert cells[-1].metadata["qmd"]["label"] == "tbl-kapot"
    assert [o.ename for o in cells[-1].outputs if o.output_type == "error"] == ["ValueError"]


def test_failing_inline_expression_is_named_with_its_line(tmp_path):
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\ntitle: T\n---\n\n```{python}\nn = 1\n```\n\nGoed: `{python} n`.\n\n"
                   "Waarde: `{python} n`, `{python} onbekend + 1`.\n", encoding="utf-8")
    with pytest.raises(ChunkError) as err:
        render_report(qmd, tmp_path / "out", formats=("html",), engine="offline")
    assert str(err.value).split("\n")[0] == ("inline expression `{python} onbekend + 1` (line 11 of doc.qmd) "
                                             "failed: NameError: name 'onbekend' is not defined")


def test_chunk_that_takes_too_long_is_one_message(tmp_path):
    from analysis.render import execute, qmd as qmd_mod

    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\ntitle: T\n---\n\n```{python}\n#| label: fig-traag\nimport time\ntime.sleep(30)\n```\n",
                   encoding="utf-8")
    with pytest.raises(ChunkError) as err:
        execute.execute(qmd_mod.read_qmd(qmd), timeout=2, executed_copy=tmp_path / "doc.ipynb")
    first, second = str(err.value).split("\n")
    assert first.startswith("'fig-traag' (chunk 1, line 5 of doc.qmd) failed: CellTimeoutError: ")
    assert second == f"  full traceback in the executed copy: {tmp_path / 'doc.ipynb'}"


def test_executed_copy_is_the_same_for_the_same_document(tmp_path):
    # cell ids by position and no timing metadata: rendering twice gives the same notebook
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\ntitle: T\n---\n\n```{python}\nprint(6 * 7)\n```\n\nDat is `{python} 6 * 7`.\n",
                   encoding="utf-8")
    copies = []
    for out in ("a", "b"):
        render_report(qmd, tmp_path / out, formats=("html",), engine="offline")
        copies.append((tmp_path / out / "notebooks" / "doc.ipynb").read_bytes())
    assert copies[0] == copies[1] and b"42" in copies[0]


def test_pdf_is_byte_identical_across_renders_with_its_date_from_source_date_epoch(tmp_path, monkeypatch):
    """Typst writes the clock's time into the PDF (document information, XMP, /ID) unless given
    a creation timestamp; the renderer gives it SOURCE_DATE_EPOCH (else the commit's time), and
    ``date: today`` becomes that day too."""
    from pypdf import PdfReader

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1746057600")  # 2025-05-01 00:00 UTC
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\ntitle: T\nlang: nl\ndate: today\n---\n\nTekst.\n", encoding="utf-8")
    pdfs = [render_report(qmd, tmp_path / out, formats=("pdf",), engine="offline")["pdf"] for out in ("a", "b")]
    assert pdfs[0].read_bytes() == pdfs[1].read_bytes()
    info = PdfReader(pdfs[0]).metadata
    assert info["/CreationDate"] == "D:20250501000000Z"
    assert "1 mei 2025" in squash(PdfReader(pdfs[0]).pages[0].extract_text())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1746144000")  # a day later: another date, other bytes
    later = render_report(qmd, tmp_path / "c", formats=("pdf",), engine="offline")["pdf"]
    assert PdfReader(later).metadata["/CreationDate"] == "D:20250502000000Z"


def test_fixture_pdf_renders_to_the_same_bytes_again(rendered, tmp_path):
    # without SOURCE_DATE_EPOCH: the commit's time, so again the same bytes (HTML too)
    files = render_report(FIXTURE, tmp_path, engine="offline", env={config.ENV_OUT: OUT_DIR_SEEN_BY_KERNEL})
    for fmt in ("html", "pdf"):
        assert files[fmt].read_bytes() == rendered["files"][fmt].read_bytes(), fmt


def test_build_timestamp_source_date_epoch_then_commit_then_file_time(tmp_path):
    from analysis.render import meta

    qmd = tmp_path / "doc.qmd"
    qmd.write_text("x", encoding="utf-8")
    os.utime(qmd, (1_700_000_000, 1_700_000_000))
    assert meta.build_timestamp(qmd, {"SOURCE_DATE_EPOCH": "1746057600"}) == 1746057600
    assert meta.build_timestamp(qmd, {}) == 1_700_000_000  # not in a git checkout
    commit = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=FIXTURE.parent, capture_output=True, text=True)
    if commit.returncode == 0:  # the repository's own checkout
        assert meta.build_timestamp(FIXTURE, {}) == int(commit.stdout)
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH must be a whole number"):
        meta.build_timestamp(qmd, {"SOURCE_DATE_EPOCH": "gisteren"})


def test_failed_render_keeps_the_previous_outputs_and_no_temporary_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "doc.html").write_text("<html>oud</html>", encoding="utf-8")
    (out / "doc.pdf").write_bytes(b"%PDF oud %%EOF")
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("---\ntitle: T\n---\n\nNieuw.\n\n```{=typst}\n#kapot(\n```\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"typst could not compile doc\.typ") as err:
        render_report(qmd, out, engine="offline")
    assert str(err.value).endswith(f"its input is kept at {out / 'doc.typ'}")
    assert "Nieuw" in (out / "doc.html").read_text(encoding="utf-8")  # HTML done before typst failed
    assert (out / "doc.pdf").read_bytes() == b"%PDF oud %%EOF"
    assert sorted(p.name for p in out.iterdir()) == ["doc.html", "doc.pdf", "doc.typ", "notebooks"]


@pytest.mark.parametrize("source, message", [
    ("#| echo: soms\nx = 1", "echo: soms"),
    ("#| output: [1]\nx = 1", "output"),
    ("#| label: met spatie\nx = 1", "label"),
    ("#| - a\nx = 1", "key: value"),
])
def test_bad_chunk_options_are_clear_errors(source, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        split_options(source, "doc.qmd, chunk 1")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="formats"):
        render_report(FIXTURE, tmp_path, formats=("docx",))
    with pytest.raises(ValueError, match="engine"):
        render_report(FIXTURE, tmp_path, engine="latex")
    with pytest.raises(FileNotFoundError):
        render_report(tmp_path / "missing.qmd", tmp_path)


def test_quarto_engine_runs_quarto_render_per_format(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, cwd, env, capture_output, text):
        calls.append((cmd, cwd, env))
        ext = {"html": "html", "typst": "pdf"}[cmd[cmd.index("--to") + 1]]
        (Path(cmd[cmd.index("--output-dir") + 1]) / f"fixture.{ext}").write_text("x")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(quarto_mod, "quarto_path", lambda: "/opt/quarto/bin/quarto")
    monkeypatch.setattr(quarto_mod.subprocess, "run", fake_run)
    files = render_report(FIXTURE, tmp_path, engine="auto", env={config.ENV_OUT: "/data/out"})
    assert files == {"html": tmp_path / "fixture.html", "pdf": tmp_path / "fixture.pdf"}
    # Quarto writes into a hidden folder beside the outputs; each file is moved into place whole
    assert all(c[0][-2:] == ["--output-dir", str(tmp_path / ".fixture.quarto.tmp")] for c in calls)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixture.html", "fixture.pdf"]
    assert [c[0][3:5] for c in calls] == [["--to", "html"], ["--to", "typst"]]
    assert all(c[0][:3] == ["/opt/quarto/bin/quarto", "render", str(FIXTURE)] for c in calls)
    assert all(c[1] == FIXTURE.parent and c[2]["QUARTO_PYTHON"] == sys.executable
               and c[2][config.ENV_OUT] == "/data/out" for c in calls)


def test_quarto_engine_without_quarto_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(quarto_mod, "quarto_path", lambda: None)
    with pytest.raises(RenderError, match="not on the PATH"):
        render_report(FIXTURE, tmp_path, engine="quarto")


def test_quarto_failure_reports_its_stderr(tmp_path, monkeypatch):
    monkeypatch.setattr(quarto_mod, "quarto_path", lambda: "quarto")
    monkeypatch.setattr(quarto_mod.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: bad yaml"))
    with pytest.raises(RenderError, match="bad yaml"):
        render_report(FIXTURE, tmp_path, engine="quarto", formats=("html",))


@pytest.mark.browser
def test_html_in_headless_chromium(rendered):
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(rendered["files"]["html"].as_uri())
            widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            page.screenshot(path=str(rendered["out"] / "fixture-screenshot.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert len(widths) == 2 and all(w > 0 for w in widths)
    assert (rendered["out"] / "fixture-screenshot.png").stat().st_size > 10_000


def test_pdf_pages_rasterise(rendered, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm (poppler-utils) is needed for this test")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(rendered["files"]["pdf"]), str(tmp_path / "page")],
                   check=True, capture_output=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == rendered["pdf_pages"] >= 2
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pages)
