"""Checks that a rendered report's tables fit on the page.

PDF (from the word boxes that ``pdftotext -bbox`` reports, poppler-utils):

    pdf_words(pdf)            every word: page, box (x0, y0, x1, y1) in points, top-left origin
    pdf_page_sizes(pdf)       each page's (width, height)
    pdf_lines(pdf)            per page, the words grouped into lines, left to right
    overlaps(pdf)             words printed into each other, and text beyond the page edge
    broken_cells(pdf, cells)  cell texts that are not whole within one line (wrapped cells)

HTML (in headless Chromium, through Playwright):

    HTML_WRAPPED_CELLS_JS     expression for ``page.evaluate``: right-aligned ``td`` that wrap
    html_wrapped_cells(path)  opens the file and evaluates it

How pdftotext writes what the report uses: a no-break space (U+00A0) or narrow no-break space
(U+202F) separates words like a space; the word joiner U+2060 is kept, invisible, inside the
word; the minus sign U+2212 stays U+2212; a superscript (``#super[2]``) comes out as the plain
digit. Text entirely outside the page is dropped by pdftotext, so :func:`overlaps` also asks
pypdf where each text run starts.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Word", "pdf_words", "pdf_page_sizes", "pdf_lines", "overlaps", "broken_cells",
           "normalise", "HTML_WRAPPED_CELLS_JS", "html_wrapped_cells"]

_XHTML = "{http://www.w3.org/1999/xhtml}"
# characters XML 1.0 does not allow (pdftotext passes control characters of odd fonts through)
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Word:
    """One word as pdftotext reports it; ``page`` counts from 1, coordinates in points with the
    origin at the top left of the page (y grows downwards)."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    page_width: float
    page_height: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def where(self) -> str:
        return f"{self.text!r} at ({self.x0:.1f}, {self.y0:.1f})–({self.x1:.1f}, {self.y1:.1f})"


def _bbox_pages(pdf) -> list[tuple[float, float, list[Word]]]:
    """Run ``pdftotext -bbox`` and parse its XHTML: [(width, height, words)] per page."""
    proc = subprocess.run(["pdftotext", "-bbox", "-enc", "UTF-8", str(pdf), "-"],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pdftotext failed on {pdf}: "
                           f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    xhtml = _BAD_XML.sub("", proc.stdout.decode("utf-8", "replace"))
    root = ET.fromstring(xhtml)
    pages = []
    for number, page in enumerate(root.iter(f"{_XHTML}page"), start=1):
        width, height = float(page.get("width")), float(page.get("height"))
        words = [Word(number, float(w.get("xMin")), float(w.get("yMin")), float(w.get("xMax")),
                      float(w.get("yMax")), w.text or "", width, height)
                 for w in page.iter(f"{_XHTML}word")]
        pages.append((width, height, words))
    return pages


def pdf_words(pdf) -> list[Word]:
    """Every word of ``pdf`` with its page number (from 1), box and text, in pdftotext's order;
    each :class:`Word` also carries its page's width and height."""
    return [w for _, _, words in _bbox_pages(pdf) for w in words]


def pdf_page_sizes(pdf) -> list[tuple[float, float]]:
    """(width, height) in points of each page, pages without text included."""
    return [(width, height) for width, height, _ in _bbox_pages(pdf)]


def _group_lines(words: list[Word]) -> list[list[Word]]:
    """Words of one page grouped into lines: a word belongs to a line when its vertical middle
    lies within the box of the line's first word or that word's middle within the word's box
    (same baseline, give or take a superscript); each line sorted left to right."""
    lines: list[list[Word]] = []
    for w in sorted(words, key=lambda w: ((w.y0 + w.y1) / 2, w.x0)):
        mid = (w.y0 + w.y1) / 2
        for line in reversed(lines[-8:]):
            ref = line[0]
            ref_mid = (ref.y0 + ref.y1) / 2
            if ref.y0 <= mid <= ref.y1 or w.y0 <= ref_mid <= w.y1:
                line.append(w)
                break
        else:
            lines.append([w])
    for line in lines:
        line.sort(key=lambda w: w.x0)
    lines.sort(key=lambda line: (min(w.y0 for w in line), line[0].x0))
    return lines


def pdf_lines(pdf) -> list[list[str]]:
    """Per page, its text lines top to bottom: words of one line joined left to right with single
    spaces (table cells side by side in one row make one line)."""
    return [[" ".join(w.text for w in line) for line in _group_lines(words)]
            for _, _, words in _bbox_pages(pdf)]


def _offpage_runs(pdf, tolerance: float) -> list[str]:
    """Text runs whose starting point lies outside the page (pdftotext drops such text)."""
    from pypdf import PdfReader

    found: list[str] = []
    for number, page in enumerate(PdfReader(str(pdf)).pages, start=1):
        box = page.cropbox
        left, bottom, right, top = (float(box.left), float(box.bottom), float(box.right),
                                    float(box.top))

        def visit(text, cm, tm, font_dict, font_size, number=number):
            if not text.strip():
                return
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            sides = [side for side, out in (("left", x < left - tolerance),
                                            ("right", x > right + tolerance),
                                            ("bottom", y < bottom - tolerance),
                                            ("top", y > top + tolerance)) if out]
            if sides:
                found.append(f"page {number}: {text.strip()!r} is drawn outside the page "
                             f"(starts at x={x - left:.1f}, y={top - y:.1f} pt from the top "
                             f"left; page {right - left:.1f} × {top - bottom:.1f}; beyond the "
                             f"{'/'.join(sides)} edge)")

        page.extract_text(visitor_text=visit)
    return found


def overlaps(pdf, tolerance: float = 0.5) -> list[str]:
    """Words of ``pdf`` printed into each other, and text beyond the page edge.

    Two words on one page are reported when their boxes intersect by more than ``tolerance``
    points both horizontally and vertically (a number running into the next column, rows
    printed on top of each other). A word is reported when its box reaches more than
    ``tolerance`` beyond an edge of the page, and a text run when it starts outside the page.
    Sweep over the words sorted by top edge: about n log n for ordinary pages.
    """
    found: list[str] = []
    for width, height, words in _bbox_pages(pdf):
        active: list[Word] = []
        for w in sorted(words, key=lambda w: w.y0):
            active = [a for a in active if a.y1 - w.y0 > tolerance]
            for a in active:
                dx = min(a.x1, w.x1) - max(a.x0, w.x0)
                if dx > tolerance:
                    dy = min(a.y1, w.y1) - max(a.y0, w.y0)
                    if dy > tolerance:
                        first, second = sorted((a, w), key=lambda v: (v.x0, v.y0))
                        found.append(f"page {w.page}: {first.text!r} runs into {second.text!r} "
                                     f"(boxes overlap {dx:.1f} × {dy:.1f} pt; "
                                     f"{first.where()} and {second.where()})")
            active.append(w)
        for w in words:
            sides = [side for side, out in (("left", w.x0 < -tolerance),
                                            ("right", w.x1 > width + tolerance),
                                            ("top", w.y0 < -tolerance),
                                            ("bottom", w.y1 > height + tolerance)) if out]
            if sides:
                found.append(f"page {w.page}: {w.text!r} lies partly beyond the "
                             f"{'/'.join(sides)} edge of the page ({w.where()}; page "
                             f"{width:.1f} × {height:.1f})")
    return found + _offpage_runs(pdf, tolerance)


_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")


def normalise(text: str) -> str:
    """Text as compared by :func:`broken_cells`: no-break spaces (U+00A0, U+202F, U+2007,
    U+2009) become a space, the word joiner U+2060 and soft hyphen vanish, the minus sign
    U+2212 becomes "-", superscript digits plain digits; runs of white space one space."""
    text = re.sub("[\u00a0\u202f\u2007\u2009\u2002\u2003]", " ", text)
    text = re.sub("[\u2060\u200b\u00ad\ufeff]", "", text)
    text = text.replace("\u2212", "-").translate(_SUPERSCRIPTS)
    return " ".join(text.split())


def _cell_pattern(cell: str) -> re.Pattern:
    """The normalised cell as a regular expression: its words in order with or without space
    between them (pdftotext may split or join at a thin space), not inside a longer word; a
    number may be followed by a footnote letter ("0,338b": the superscript joins the word)."""
    words = cell.split(" ")
    body = r"\s*".join(re.escape(w) for w in words)
    before = r"(?<!\w)" if re.match(r"\w", cell) else ""
    after = r"(?![\d,.])" if re.search(r"\d$", cell) else r"(?!\w)" if re.search(r"\w$", cell) else ""
    return re.compile(before + body + after)


def broken_cells(pdf, cells) -> list[str]:
    """Those of ``cells`` (texts as the table shows them) that do not appear whole within one
    line of :func:`pdf_lines`: a cell broken over two lines shows its first words at the end
    of one line and the rest at the start of the next. Cells of at most one character are
    skipped; a cell absent from the PDF altogether counts as broken. Returned as given, in
    the given order, each once."""
    lines = [normalise(line) for page in pdf_lines(pdf) for line in page]
    found: list[str] = []
    for cell in dict.fromkeys(cells):
        norm = normalise(cell)
        if len(norm.replace(" ", "")) <= 1:
            continue
        pattern = _cell_pattern(norm)
        if not any(pattern.search(line) for line in lines):
            found.append(cell)
    return found


HTML_WRAPPED_CELLS_JS = r"""(() => {
  const wrapped = [];
  for (const td of document.querySelectorAll('td')) {
    const style = getComputedStyle(td);
    const align = style.textAlign;
    if (!(align === 'right' || (align === 'end' && style.direction !== 'rtl'))) continue;
    const rects = [];
    const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) if (r.width > 0 && r.height > 0) rects.push(r);
    }
    rects.sort((a, b) => a.top - b.top);
    const lines = [];
    for (const r of rects) {
      const mid = (r.top + r.bottom) / 2;
      const line = lines.find(l => l.top <= mid && mid <= l.bottom);
      if (line) { line.top = Math.min(line.top, r.top); line.bottom = Math.max(line.bottom, r.bottom); }
      else lines.push({top: r.top, bottom: r.bottom});
    }
    if (lines.length > 1) wrapped.push(td.textContent.replace(/\s+/g, ' ').trim());
  }
  return wrapped;
})()"""

_CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def html_wrapped_cells(html_path, width: int = 1200, *,
                       executable_path: str = "/usr/bin/chromium") -> list[str]:
    """Texts of the right-aligned (numeric) table cells of ``html_path`` whose text takes more
    than one line when the page is shown in headless Chromium ``width`` pixels wide."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable_path, args=_CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
            return page.evaluate(HTML_WRAPPED_CELLS_JS)
        finally:
            browser.close()
