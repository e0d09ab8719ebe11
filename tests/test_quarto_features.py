"""The offline renderer against Quarto 1.7's documented behaviour, one feature of the report each.

The features report.qmd uses beyond Markdown, and what Quarto documents for them:
- citations with ``csl:`` and, for Typst, ``citeproc: true`` (quarto.org/docs/authoring/citations:
  "When using format: typst, by default citation processing is handled by Typst"; with citeproc
  pandoc's CSL processing is used): author-date text in both formats, no "[1]";
- the bibliography in the ``::: {#refs}`` div, under the document's own heading, no second
  heading (Typst's own bibliography adds "Bibliografie");
- ``toc-title`` as the title of the table of contents, in HTML and Typst;
- ``format: typst: include-in-header`` (raw Typst in the header) and ``margin``;
- tables: a figure does not break across pages unless the header says so (Typst's default,
  which Quarto keeps); report.qmd makes table figures breakable in its Typst header;
- ``.content-visible when-format``: html-only and typst-only content;
- ``jupyter: <kernel>``: the executed copy names that kernel;
- an inline value that is a str shows its Markdown as typed (Quarto escapes it:
  jupyter-inline.ts), a Markdown object's is read (``report.md``).
``make quarto-check`` compares the two renderers on the report itself where Quarto is installed
(analysis/render/parity.py); ``.gitignore`` holds the line Quarto 1.7 would otherwise append.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analysis import config
from analysis.render import layout, render_report

FEATURES = Path(__file__).parent / "fixtures" / "quarto" / "features.qmd"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("features")
    files = render_report(FEATURES, out, engine="offline")
    from pypdf import PdfReader

    reader = PdfReader(files["pdf"])
    pages = [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages]
    html = files["html"].read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S))
    text = re.sub(r"\s+", " ", __import__("html").unescape(text))
    return {"files": files, "out": out, "html": html, "html_text": text, "pages": pages, "pdf_text": " ".join(pages)}


@pytest.mark.parametrize("fmt", ["html_text", "pdf_text"])
def test_citations_are_author_date_in_both_formats(rendered, fmt):
    text = rendered[fmt]
    # APA 7 (apa.csl): "&" and "et al." in every language, as Quarto 1.7 prints it too
    assert "De Jong Gierveld & Van Tilburg (2006)" in text
    assert "(Topp et al., 2015)" in text
    assert not re.search(r"\[\d+\]", text) and "@topp2015" not in text


@pytest.mark.parametrize("fmt", ["html_text", "pdf_text"])
def test_references_under_the_documents_own_heading_and_no_other(rendered, fmt):
    text = rendered[fmt]
    assert "Bibliografie" not in text and "Bibliography" not in text
    after = text.split("Referenties")[-1]
    assert "Topp, C. W." in after and "De Jong Gierveld, J." in after
    # apa.csl's page ranges (expanded, with an en dash), the same from pandoc 3.6 as in Quarto 1.7
    assert "167–176" in after


def test_references_in_the_refs_div_in_html(rendered):
    refs = re.search(r'<div id="refs".*?</div>\s*</div>', rendered["html"], re.S).group(0)
    assert "Topp" in refs and "De Jong Gierveld" in refs


def test_toc_title_in_both_formats(rendered):
    assert re.search(r'<nav id="TOC"[^>]*>\s*<h2 id="toc-title">Inhoud</h2>', rendered["html"])
    first = rendered["pages"][0]
    assert "Inhoud" in first and "Inhoudsopgave" not in first


def test_typst_include_in_header_and_margin_are_used(rendered):
    from pypdf import PdfReader

    # margin x: 3cm = 85 pt: no word starts left of it (pdftotext boxes, points)
    words = layout.pdf_words(rendered["files"]["pdf"])
    assert min(w.x0 for w in words) >= 3 / 2.54 * 72 - 1
    # the 80-row table broke across pages (breakable figures from include-in-header) without overlap
    pages_with_rows = {w.page for w in words if w.text == "rij"}
    assert len(pages_with_rows) >= 2
    assert layout.overlaps(rendered["files"]["pdf"]) == []
    assert len(PdfReader(rendered["files"]["pdf"]).pages) >= 2


def test_without_the_header_a_long_table_does_not_break(tmp_path):
    """Typst's (and so Quarto's) default: a figure is one block; the header line is what breaks it."""
    text = re.sub(r"#show figure.*breakable: true\)", "", FEATURES.read_text(encoding="utf-8"))
    qmd = tmp_path / "features.qmd"
    qmd.write_text(text.replace("../../../apa.csl", str(config.PROJECT_DIR / "apa.csl")), encoding="utf-8")
    (tmp_path / "references.bib").write_text((FEATURES.parent / "references.bib").read_text(encoding="utf-8"))
    pdf = render_report(qmd, tmp_path / "out", formats=("pdf",), engine="offline")["pdf"]
    rows = {w.page for w in layout.pdf_words(pdf) if w.text == "rij"}
    assert len(rows) == 1  # all 80 rows on one page: the rest runs off it
    assert layout.overlaps(pdf), "an unbreakable 80-row table should run off the page"


def test_content_visible_when_format(rendered):
    assert "ALLEEN_HTML" in rendered["html_text"] and "ALLEEN_PDF" not in rendered["html_text"]
    assert "ALLEEN_PDF" in rendered["pdf_text"] and "ALLEEN_HTML" not in rendered["pdf_text"]


@pytest.mark.parametrize("fmt", ["html_text", "pdf_text"])
def test_inline_str_is_escaped_and_markdown_is_read(rendered, fmt):
    assert "met *sterretjes*" in rendered[fmt]
    assert "*deze*" not in rendered[fmt] and " deze is cursief" in rendered[fmt]


def test_inline_markdown_is_emphasis_in_html(rendered):
    assert "<em>deze</em>" in rendered["html"] and "<em>sterretjes</em>" not in rendered["html"]


def test_executed_copy_names_the_documents_kernel(rendered):
    nb = json.loads((rendered["out"] / "notebooks" / "features.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == config.KERNEL_NAME
    assert nb["metadata"]["kernelspec"]["display_name"] == config.KERNEL_DISPLAY_NAME


def test_gitignore_has_the_line_quarto_appends_otherwise():
    """Quarto 1.7 appends "/.quarto/" to a .gitignore without that exact line (project-gitignore.ts)."""
    lines = [ln.strip() for ln in (config.PROJECT_DIR / ".gitignore").read_text(encoding="utf-8").splitlines()]
    assert "/.quarto/" in lines


def test_report_and_notebooks_name_the_registered_kernel():
    front = (config.REPORT_QMD).read_text(encoding="utf-8").split("---")[1]
    assert re.search(rf"^jupyter: {config.KERNEL_NAME}$", front, re.M)
    for nb in sorted(config.NOTEBOOK_DIR.glob("*.ipynb")):
        spec = json.loads(nb.read_text(encoding="utf-8"))["metadata"]["kernelspec"]
        assert (spec["name"], spec["display_name"]) == (config.KERNEL_NAME, config.KERNEL_DISPLAY_NAME), nb.name


def test_the_registered_kernel_runs_this_environment():
    """`make env` registers the kernel in .venv, where `make lab` and QUARTO_PYTHON's Jupyter look."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(config.KERNEL_NAME)
    assert spec.display_name == config.KERNEL_DISPLAY_NAME
    assert Path(spec.argv[0]).resolve().parent == Path(__import__("sys").executable).resolve().parent


def test_report_uses_no_typst_callout():
    """Quarto's Typst callouts import @preview/fontawesome (a download); the report's banner is a
    callout in HTML only, a Typst box in the PDF."""
    from analysis import report as r

    banner = r.synthetic_banner(True)
    html_part, typst_part = banner.split('::: {.content-visible when-format="typst"}')
    assert ".callout-warning" in html_part and "callout" not in typst_part
    assert ".callout" not in config.REPORT_QMD.read_text(encoding="utf-8")
