"""analysis.render.layout: tables that fit, checked on small PDFs made with Typst (each with one
planted defect) and on small HTML pages in headless Chromium."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from analysis.render import layout

typst = pytest.importorskip("typst")
pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils")

PAGE = '#set page(width: 300pt, height: 200pt, margin: 20pt)\n#set text(lang: "nl", size: 10pt)\n'
CELLS = ["15 (7,9%)", "0,50 (0,30–0,83)", "−1,18 (−1,88 tot −0,41)", "χ² = 23,50 (vg 3)"]


def make_pdf(tmp_path, name: str, body: str):
    source = tmp_path / f"{name}.typ"
    source.write_text(PAGE + body, encoding="utf-8")
    pdf = tmp_path / f"{name}.pdf"
    typst.compile(str(source), output=str(pdf))
    return pdf


def clean_table(tmp_path):
    return make_pdf(tmp_path, "clean", """
#table(columns: (auto, auto, auto), align: (left, right, right),
  [Groep], [n (%)], [OR (95%-BI)],
  [Alle], [15~(7,9%)], [0,50~(0,30–0,83)],
  [Verschil], [−1,18~(−1,88 tot −0,41)], [χ² = 23,50~(vg~3)],
)
""")


def test_words_and_lines_of_a_clean_table(tmp_path):
    pdf = clean_table(tmp_path)
    words = layout.pdf_words(pdf)
    assert {w.page for w in words} == {1}
    assert all(0 <= w.x0 < w.x1 <= 300 and 0 <= w.y0 < w.y1 <= 200 for w in words)
    assert (words[0].page_width, words[0].page_height) == (300, 200)
    assert layout.pdf_page_sizes(pdf) == [(300.0, 200.0)]
    [lines] = layout.pdf_lines(pdf)
    # pdftotext splits at a no-break space and keeps U+2212; each table row is one line
    assert lines == ["Groep n (%) OR (95%-BI)", "Alle 15 (7,9%) 0,50 (0,30–0,83)",
                     "Verschil −1,18 (−1,88 tot −0,41) χ² = 23,50 (vg 3)"]


def test_clean_table_gives_empty_lists(tmp_path):
    pdf = clean_table(tmp_path)
    assert layout.overlaps(pdf) == []
    assert layout.broken_cells(pdf, CELLS) == []
    # the same cells as the report's Markdown may write them
    assert layout.broken_cells(pdf, ["15\u00a0(7,9%)", "0,50\u202f(0,30–0,83)",
                                     "-1,18 (-1,88\u2060 tot -0,41)", "χ2 = 23,50 (vg\u00a03)"]) == []


def test_number_running_into_the_next_column_overlaps(tmp_path):
    pdf = make_pdf(tmp_path, "narrow", """
#table(columns: (30pt, 70pt), [Waarde], [Toets],
  [0,338~(0,120)], [Fisher exact])
""")
    found = layout.overlaps(pdf)
    assert found, "the unbreakable number printed into the next column was not found"
    assert all(f.startswith("page 1: ") for f in found)
    assert any("'(0,120)' runs into 'Fisher'" in f for f in found), found
    # the same table with room: nothing
    wide = make_pdf(tmp_path, "wide", """
#table(columns: (70pt, 70pt), [Waarde], [Toets], [0,338~(0,120)], [Fisher exact])
""")
    assert layout.overlaps(wide) == []


def test_rows_printed_on_top_of_each_other_overlap(tmp_path):
    pdf = make_pdf(tmp_path, "ontop", """
#place(dx: 0pt, dy: 0pt)[Eenzaamheid 3,76 (1,92)]
#place(dx: 2pt, dy: 4pt)[Eenzaamheid 3,76 (1,92)]
""")
    found = layout.overlaps(pdf)
    assert any("'Eenzaamheid' runs into 'Eenzaamheid'" in f for f in found), found


def test_numeric_cell_wrapped_onto_two_lines_is_broken(tmp_path):
    pdf = make_pdf(tmp_path, "wrapped", """
#table(columns: (40pt, auto), align: right,
  [−1,18 (−1,88 tot −0,41)], [15~(7,9%)])
""")
    assert layout.overlaps(pdf) == []            # wrapping is not overlapping
    cells = ["−1,18 (−1,88 tot −0,41)", "15 (7,9%)", "x"]
    assert layout.broken_cells(pdf, cells) == ["−1,18 (−1,88 tot −0,41)"]
    assert layout.broken_cells(pdf, ["-1,18 (-1,88 tot -0,41)"]) == ["-1,18 (-1,88 tot -0,41)"]
    # a cell is matched whole, not as the tail of a longer number
    assert layout.broken_cells(pdf, ["5 (7,9%)"]) == ["5 (7,9%)"]


def test_text_beyond_the_page_edge(tmp_path):
    partly = make_pdf(tmp_path, "partly", "Tabel\n#place(dx: 230pt)[Buiten de rand]\n")
    found = layout.overlaps(partly)
    # (pdftotext keeps the letters that start inside the page: 'Buiten de ran')
    assert any("lies partly beyond the right edge" in f for f in found), found
    # wholly outside: pdftotext drops it, the pypdf pass finds it
    wholly = make_pdf(tmp_path, "wholly", "Tabel\n#place(dx: 300pt, dy: 20pt)[Weg]\n"
                                          "#place(dx: -80pt, dy: 40pt)[Links]\n")
    assert "Weg" not in [w.text for w in layout.pdf_words(wholly)]
    found = layout.overlaps(wholly)
    assert any("'Weg' is drawn outside the page" in f and "right" in f for f in found), found
    assert any("'Links' is drawn outside the page" in f and "left" in f for f in found), found
    assert not any("Tabel" in f for f in found)


def test_twenty_pages_of_text_and_tables_are_clean_and_quick(tmp_path):
    pdf = make_pdf(tmp_path, "long", """
#set page(paper: "a4", margin: 2cm)
#set par(justify: true)
#for i in range(20) [
  = Hoofdstuk #i
  #lorem(220)#footnote[Met $chi^2 = 23,50$ en een superscript#super[a].]
  #table(columns: (auto, 1fr, auto, auto), align: (left, left, right, right),
    [Groep], [Omschrijving], [n (%)], [OR (95%-BI)],
    ..range(8).map(j => ([G#j], [#lorem(6)], [15~(7,9%)], [0,50~(0,30–0,83)])).flatten())
  $ sum_(k=1)^n x_k^2 / (sigma + 1) $
  #pagebreak(weak: true)
]
""")
    start = time.perf_counter()
    words = layout.pdf_words(pdf)
    assert len(layout.pdf_page_sizes(pdf)) == 20 and len(words) > 5000
    assert layout.overlaps(pdf) == []
    assert layout.broken_cells(pdf, ["15 (7,9%)", "0,50 (0,30–0,83)"]) == []
    assert time.perf_counter() - start < 30


HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ font: 16px sans-serif; }} table {{ table-layout: fixed; border-collapse: collapse; }}
td {{ width: {width}; padding: 2px; }}
</style></head><body><table>
<tr><td>Eenzaamheid totaal en nog meer woorden</td>
<td style="text-align: right;">−1,18 (−1,88 tot −0,41)</td>
<td style="text-align: right;">17</td>
<td style="text-align: right;">3,76 <sup>a</sup></td></tr>
</table></body></html>"""


@pytest.mark.browser
def test_html_numeric_cell_that_wraps(tmp_path):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian chromium")
    narrow = tmp_path / "narrow.html"
    narrow.write_text(HTML.format(width="90px"), encoding="utf-8")
    wide = tmp_path / "wide.html"
    wide.write_text(HTML.format(width="260px"), encoding="utf-8")
    # the left-aligned text cell wraps in the narrow page too, but is not numeric
    assert layout.html_wrapped_cells(narrow) == ["−1,18 (−1,88 tot −0,41)"]
    assert layout.html_wrapped_cells(wide) == []
