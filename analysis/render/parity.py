"""Parity check: does the offline render show the same report as Quarto's?

Both renders of ``report.qmd`` are reduced to what a reader checks (section headings, numbered
figure and table captions, bibliography entries, in-text citations and every number in the text)
and compared, HTML with HTML and PDF with PDF. Layout, fonts and styling are left out on purpose:
they differ by design, the content must not.

Public API: :func:`structure`, :func:`compare`, :func:`quarto_check`, :func:`cli`
(``python -m analysis quarto-check``, ``make quarto-check``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["structure", "compare", "quarto_check", "cli"]

#: a caption as both renderers write it: "Tabel 3: ...", "Figuur 1: ..." (English if lang is lost)
CAPTION = re.compile(r"(Tabel|Figuur|Table|Figure) (\d+)[:.] ?(.*)", re.S)
#: the heading of the bibliography (citeproc's title for lang nl, or what Typst/English would write)
REFERENCE_HEADINGS = ("Referenties", "References", "Bibliografie", "Bibliography")
#: a number: optional minus, digits, decimal/thousand groups, optional percent sign;
#: not glued to a word on the left ("T0", "x2"), so "WHO-5" gives 5 and "167-76" gives 167 and 76
NUMBER = re.compile(r"(?<![\w.,])(?:(?<![\d-])-)?\d+(?:[.,]\d+)*%?")
#: the dots between a title and its page number in a table of contents
LEADERS = re.compile(r"(?:\. ){3,}")
_NAME = r"(?:[A-Z][\w'’-]+)(?: [A-Z][\w'’-]+)*"
#: "Austin (2009)", "De Jong Gierveld en Van Tilburg (2006)", "Topp e.a. (2015)"
NARRATIVE = re.compile(rf"{_NAME}(?:(?:,| en| and| &) {_NAME})*(?: e\.a\.| et al\.)? \(\d{{4}}[a-z]?\)")
#: "(Austin 2009)", "(Holm 1979; Newcombe 1998)", "(zie Topp e.a. 2015, 170)"
PARENTHETICAL = re.compile(r"\([^()]*?[A-Z][^()]*? \d{4}[a-z]?(?:[,;] [^()]*)?\)")

# characters that look like spaces or minus signs but are not
_SPACES = {0x00A0: " ", 0x202F: " ", 0x2009: " ", 0x2007: " ", 0x2060: "", 0x200B: "", 0xFEFF: "",
           0x00AD: "", 0x2212: "-", 0x2011: "-"}


def norm(text: str) -> str:
    """One space between words, ASCII minus: the two renderers differ in exactly these.

    >>> norm("Figuur\\u00a01:  \\u22121,18\\n(p\\u2060<\\u20600,001)")
    'Figuur 1: -1,18 (p<0,001)'
    """
    return " ".join(text.translate(_SPACES).split())


def numbers(text: str) -> Counter:
    """Every numeric token, counted: a number shown twice must be shown twice in the other render.

    >>> sorted(numbers("r = 0,338 bij 15 mensen (7,9%), d = −1,18, p < 0,001; WHO-5 op T0").items())
    [('-1,18', 1), ('0,001', 1), ('0,338', 1), ('15', 1), ('5', 1), ('7,9%', 1)]
    """
    return Counter(NUMBER.findall(norm(text)))


def citations(text: str) -> list[str]:
    """In-text author-date citations, sorted (a multiset: the same citation twice counts twice).
    A capitalised word just before a narrative citation ("Volgens Austin (2009)") is taken along:
    both renders take it alike, and that is all a comparison needs.

    >>> citations("zie Austin (2009) en De Jong Gierveld en Van Tilburg (2006) (Holm 1979; Newcombe 1998).")
    ['(Holm 1979; Newcombe 1998)', 'Austin (2009)', 'De Jong Gierveld en Van Tilburg (2006)']
    """
    text = norm(text)
    found = NARRATIVE.findall(text) + PARENTHETICAL.findall(text)
    return sorted(found)


def _float(caption: str):
    match = CAPTION.fullmatch(norm(caption))
    return (match[1], int(match[2]), match[3]) if match else None


# --------------------------------------------------------------------------------------- HTML

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
#: tags whose boundaries separate words (adjacent table cells must not glue "42" and "61,9")
_BLOCK = {"p", "div", "td", "th", "tr", "li", "ul", "ol", "dd", "dt", "table", "thead", "tbody", "section",
          "figure", "figcaption", "caption", "header", "footer", "main", "pre", "blockquote", "body",
          "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr"}


class _Html(HTMLParser):
    """One pass over the page: body text, headings, captions and the children of #refs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None, list[str]]] = []  # (tag, role, text collected)
        self.body, self.sections, self.captions, self.references = [], [], [], []
        self.in_body = False
        self.lists: list[int] = []  # the last item number of each open <ol>, -1 for a <ul>

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if tag in _BLOCK:
            self.body.append(" ")
        if tag in _VOID:
            return
        attrs = dict(attrs)
        if tag in ("ol", "ul"):
            self.lists.append(int(attrs.get("start") or 1) - 1 if tag == "ol" else -1)
        elif tag == "li" and self.lists and self.lists[-1] >= 0:  # the PDF shows "1." as text
            self.lists[-1] += 1
            self.handle_data(f"{self.lists[-1]}. ")
        classes = (attrs.get("class") or "").split()
        parent = self.stack[-1][1] if self.stack else None
        if tag in ("style", "script", "nav", "template") or attrs.get("id") == "TOC":
            role = "skip"  # the table of contents repeats the headings; scripts are not text
        elif attrs.get("id") == "refs":
            role = "refs"
        elif parent == "refs":
            role = "entry"
        elif re.fullmatch(r"h[1-6]", tag) and "title" not in classes and attrs.get("id") != "toc-title":
            role = "heading"
        elif tag in ("figcaption", "caption"):
            role = "caption"
        else:
            role = None
        self.stack.append((tag, role, []))

    def handle_endtag(self, tag):
        if tag in _BLOCK:
            self.body.append(" ")
        if tag in _VOID or all(t != tag for t, _, _ in self.stack):
            return
        if tag in ("ol", "ul") and self.lists:
            self.lists.pop()
        while self.stack:
            name, role, parts = self.stack.pop()
            text = norm("".join(parts))
            if role == "heading" and text:
                self.sections.append(text)
            elif role == "caption":
                self.captions.append(text)
            elif role == "entry" and text:
                self.references.append(text)
            if name == tag:
                break

    def handle_data(self, data):
        roles = [role for _, role, _ in self.stack]
        if not self.in_body or "skip" in roles:
            return
        for _, role, parts in self.stack:
            if role in ("heading", "caption", "entry"):
                parts.append(data)
        if "refs" not in roles:
            self.body.append(data)


#: Markdown that was printed instead of read: *x*, **x**, `x` or a backslash before punctuation
_MARKUP = re.compile(r"\*\*?[^\s*][^*]{0,60}\*|`[^`\s][^`]{0,60}`|\\[!-/:-@\[-`{-~]")


def markup(text: str) -> list[str]:
    r"""Markdown marks that show as typed (Quarto escapes the Markdown in a str's inline value).

    >>> print(markup(r"Cohen's *dz* and \(zie\) but 2 * 3 = 6"))
    ['*dz*', '\\(', '\\)']
    """
    return _MARKUP.findall(text)


def _html_structure(path: Path) -> dict:
    page = _Html()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    body = "".join(page.body)
    return {"sections": page.sections,
            "floats": [f for f in map(_float, page.captions) if f],
            "references": page.references,
            "citations": citations(body),
            "numbers": numbers(body),
            "markup": markup(body)}


# ---------------------------------------------------------------------------------------- PDF

def _pdf_outline(path: Path) -> list[str]:
    """Section titles from the PDF's bookmarks (both Typst paths write them from the headings)."""
    try:
        from pypdf import PdfReader

        def walk(items):
            for item in items:
                yield from walk(item) if isinstance(item, list) else [norm(item.title)]

        return list(walk(PdfReader(path).outline))
    except Exception:  # no outline, or a PDF pypdf cannot read: fall back to no sections
        return []


def _join_lines(lines: list[str]) -> str:
    """A paragraph's lines as one string; a line ending in a hyphen or en dash (a line broken
    at "167–" / "76") continues without a space."""
    text = ""
    for line in lines:
        text += line if not text or text.endswith(("-", "–")) else " " + line
    return text


def _pdf_blocks(path: Path) -> tuple[list[str], set[int]]:
    """The PDF's paragraphs in reading order, as poppler groups them (``pdftotext -bbox-layout``),
    without page numbers: a lone number that is a page's first or last line, in its margin, or
    that stands beside a line of leader dots (the table of contents, dropped too). A table's
    header row repeated at the top of the next page is dropped too: where the pages break
    differs between the two renders. Also returns the indices of the blocks that go on with the
    paragraph the previous page ended with."""
    xhtml = subprocess.run(["pdftotext", "-bbox-layout", str(path), "-"], capture_output=True,
                           text=True, check=True).stdout
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    blocks, header, breaks = [], [], []  # breaks: (block index, last page's last line, this page's first)
    end = None  # the last page's last line: (xMax, gap between its words, the page's right edge)
    for page in ET.fromstring(xhtml).iterfind(".//x:page", ns):
        height = float(page.get("height"))
        lines = []  # (block index, yMin, yMax, text, xMax, first word's width, gap between words)
        for b, block in enumerate(page.iterfind(".//x:block", ns)):
            for line in block.iterfind("x:line", ns):
                words = list(line.iterfind("x:word", ns))
                if not words:
                    continue
                x = [(float(w.get("xMin")), float(w.get("xMax"))) for w in words]
                gap = min((b0 - a1 for (_, a1), (b0, _) in zip(x, x[1:])), default=0.0)
                lines.append((b, float(line.get("yMin")), float(line.get("yMax")),
                              norm(" ".join(w.text or "" for w in words)), x[-1][1], x[0][1] - x[0][0], gap))
        if not lines:
            continue
        toc = [l for l in lines if LEADERS.search(l[3])]
        top, bottom = min(lines, key=lambda l: l[1]), max(lines, key=lambda l: l[2])
        drop = set(toc) | {l for l in (top, bottom) if l[3].isdigit()
                           and (l[2] < 0.1 * height or l[1] > 0.85 * height)}
        drop |= {l for l in lines if l[3].isdigit() and any(abs(l[2] - t[2]) < 2 for t in toc)}
        kept = [line for line in lines if line not in drop and line[3]]
        if not kept:
            continue
        page_blocks: dict[int, list[str]] = {}
        for line in kept:
            page_blocks.setdefault(line[0], []).append(line[3])
        texts = [_join_lines(v) for _, v in sorted(page_blocks.items())]
        repeated = next((k for k, (t, h) in enumerate(zip(texts, header)) if t != h), min(len(texts), len(header)))
        texts = texts[repeated:]
        if end and not repeated and blocks:
            breaks.append((len(blocks), end, min(kept, key=lambda l: l[0])))
        last = max(kept, key=lambda l: (l[0], l[1]))
        end = (last[4], last[6], max(l[4] for l in kept))
        for i, text in enumerate(texts):
            if re.match(r"(Tabel|Table) \d+[:.]", text):
                header = texts[i + 1:i + 13]  # the cells after a table's caption, its header first
        blocks += texts
    # a paragraph goes on over a page break if the last page's last line broke there because
    # the next page's first word did not fit on it (or at a hyphen)
    continued = {i for i, (x, gap, right), first in breaks
                 if blocks[i - 1].endswith("-") or x + gap + first[5] > right}
    return blocks, continued


def _pdf_structure(path: Path) -> dict:
    sections = _pdf_outline(path)
    blocks, continued = _pdf_blocks(path)
    starts = [i for i, b in enumerate(blocks) if b in REFERENCE_HEADINGS]
    references, body = [], blocks
    if starts:
        end = next((j for j in range(starts[-1] + 1, len(blocks)) if blocks[j] in sections), len(blocks))
        for i in range(starts[-1] + 1, end):
            # one entry is one paragraph (a block), unless it goes on over a page break
            if references and i in continued:
                references[-1] = _join_lines([references[-1], blocks[i]])
            else:
                references.append(blocks[i])
        body = blocks[:starts[-1] + 1] + blocks[end:]
    text = " ".join(body)
    return {"sections": sections,
            "floats": [f for f in map(_float, body) if f],
            "references": references,
            "citations": citations(text),
            "numbers": numbers(text),
            "markup": markup(text)}


def structure(path) -> dict:
    """What a reader checks in a rendered ``.html`` or ``.pdf``: ``sections`` (headings in
    order), ``floats`` ((kind, number, caption) per numbered caption), ``references`` (the
    bibliography's entries), ``citations`` (sorted) and ``numbers`` (a Counter of numeric tokens
    outside the bibliography)."""
    path = Path(path)
    if path.suffix.lower() == ".html":
        return _html_structure(path)
    if path.suffix.lower() == ".pdf":
        return _pdf_structure(path)
    raise ValueError(f"{path.name}: structure() reads .html or .pdf files")


# ------------------------------------------------------------------------------------ compare

def _loose(text: str) -> str:
    """Text without spaces and hyphens: a PDF line may break inside a URL or a word, and poppler
    drops the hyphen Typst added there ("betrouw baarheidsinterval")."""
    return re.sub(r"[\s\-‐–]", "", norm(text)).casefold()


def compare(a: dict, b: dict, labels=("offline", "quarto"), max_numbers: int = 20) -> list[str]:
    """The differences between two :func:`structure` results, one readable line each; [] if none."""
    la, lb = labels
    out = []
    # sections: missing ones, then the order of those both have
    sa, sb = Counter(a["sections"]), Counter(b["sections"])
    out += [f"section {s!r} only in {la}" for s in a["sections"] if s in sa - sb]
    out += [f"section {s!r} only in {lb}" for s in b["sections"] if s in sb - sa]
    common_a = [s for s in a["sections"] if s in sb]
    common_b = [s for s in b["sections"] if s in sa]
    if common_a != common_b:
        first = next(i for i, (x, y) in enumerate(zip(common_a, common_b)) if x != y)
        out.append(f"sections in another order from {common_a[first]!r} ({la}) / {common_b[first]!r} ({lb})")
    # floats: the same caption under another number, then other captions by number
    fa = {(k, n): c for k, n, c in a["floats"]}
    fb = {(k, n): c for k, n, c in b["floats"]}
    key_a = {_loose(c): key for key, c in fa.items()}
    key_b = {_loose(c): key for key, c in fb.items()}
    for key, caption in fa.items():
        other = key_b.get(_loose(caption))
        if other and other != key:
            out.append(f"{caption!r} is {key[0]} {key[1]} in {la} but {other[0]} {other[1]} in {lb}")
    rest_a = {key: c for key, c in fa.items() if _loose(c) not in key_b}
    rest_b = {key: c for key, c in fb.items() if _loose(c) not in key_a}
    for key in sorted(rest_a.keys() | rest_b.keys()):
        name = f"{key[0]} {key[1]}"
        if key in rest_a and key in rest_b:
            out.append(f"{name} caption differs: {la} {rest_a[key]!r}; {lb} {rest_b[key]!r}")
        elif key in rest_a:
            out.append(f"{name} only in {la}: {rest_a[key]!r}")
        else:
            out.append(f"{name} only in {lb}: {rest_b[key]!r}")
    # references as sets, citations as multisets
    ra = {_loose(r): r for r in a["references"]}
    rb = {_loose(r): r for r in b["references"]}
    out += [f"reference only in {la}: {ra[k]}" for k in ra if k not in rb]
    out += [f"reference only in {lb}: {rb[k]}" for k in rb if k not in ra]
    ca, cb = Counter(a["citations"]), Counter(b["citations"])
    out += [f"citation {c!r} only in {la}" + (f" ({n}x)" if n > 1 else "") for c, n in sorted((ca - cb).items())]
    out += [f"citation {c!r} only in {lb}" + (f" ({n}x)" if n > 1 else "") for c, n in sorted((cb - ca).items())]
    # Markdown shown as typed in either
    out += [f"Markdown shown as typed in {label}: {m!r}" for s_, label in ((a, la), (b, lb))
            for m in s_.get("markup", [])]
    # numbers: the largest differences in count first
    na, nb = a["numbers"], b["numbers"]
    differ = sorted((n for n in na.keys() | nb.keys() if na[n] != nb[n]),
                    key=lambda n: (-abs(na[n] - nb[n]), n))
    out += [f"number {n!r} appears {na[n]}x in {la}, {nb[n]}x in {lb}" for n in differ[:max_numbers]]
    if len(differ) > max_numbers:
        out.append(f"... and {len(differ) - max_numbers} more numbers whose counts differ")
    return out


# -------------------------------------------------------------------------------------- check

def _summary(s: dict) -> str:
    return (f"{len(s['sections'])} sections, {len(s['floats'])} floats, {len(s['references'])} references, "
            f"{sum(s['numbers'].values())} numbers")


def quarto_check(qmd, out_dir=None, env: dict | None = None) -> int:
    """Render ``qmd`` offline and with Quarto and print where they differ: 1 if they do, 0 if
    not (or when Quarto is not installed, so ``make quarto-check`` is harmless without it), 2
    when a render failed. The renders go to ``out_dir``/offline and /quarto (kept, to look at),
    or to temporary folders."""
    from analysis.render import ChunkError, QmdError, RenderError, render_report, quarto

    if quarto.quarto_path() is None:
        print("quarto-check: 'quarto' is not on the PATH, nothing compared; install Quarto "
              "(https://quarto.org/docs/get-started/) to compare its render with the offline one")
        return 0
    qmd = Path(qmd)
    with tempfile.TemporaryDirectory(prefix="quarto-check-") as tmp:
        root = Path(out_dir) if out_dir else Path(tmp)
        try:
            files = {engine: render_report(qmd, root / engine, engine=engine, env=env)
                     for engine in ("offline", "quarto")}
        except (ChunkError, QmdError, RenderError, FileNotFoundError) as exc:
            print(f"quarto-check: render failed: {exc}", file=sys.stderr)
            return 2
        found, compared = 0, []
        for fmt in ("html", "pdf"):
            a, b = structure(files["offline"][fmt]), structure(files["quarto"][fmt])
            differences = compare(a, b)
            found += len(differences)
            print(f"{fmt}: {len(differences) or 'no'} difference{'s' * (len(differences) != 1)} (offline vs quarto)")
            for line in differences:
                print(f"  - {line}")
            compared.append(f"{fmt} {_summary(a)}")
    print(f"quarto-check: compared {qmd.name} offline with quarto: {'; '.join(compared)}")
    return 1 if found else 0


def cli(args) -> int:
    """``python -m analysis quarto-check [--qmd FILE] [--out DIR] [--keep DIR]``."""
    from analysis import config

    qmd = Path(args.qmd) if getattr(args, "qmd", None) else config.REPORT_QMD
    env = {config.ENV_OUT: str(config.processed_dir(getattr(args, "out", None)))}
    keep = Path(args.keep) if getattr(args, "keep", None) else None
    return quarto_check(qmd, keep, env)
