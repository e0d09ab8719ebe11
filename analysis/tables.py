"""Tables fit to publish: the one layout every table of the report shares, in HTML and PDF alike.

A table is a pipe table (Markdown), which Quarto and the offline renderer both turn into a
numbered table in HTML and in Typst; so everything here is plain text:

* numbers never wrap: inside a cell that holds a number, spaces become no-break spaces and a
  dash is followed by a word joiner ("15 (7,9%)", "0,50 (0,30–0,83)" stay on one line);
* column widths come from the content: the dashes under the header are the relative widths
  pandoc gives both renderers, computed here so that a number's column is as wide as its widest
  number and the label columns share the rest (:func:`column_widths`);
* a variable is a header row with its levels indented under it, as gtsummary and tableone
  print Table 1 (:func:`header_label`, :func:`level_label`);
* long texts that repeat down a column (the name of a test, the reason a statistic is missing)
  are footnote letters, listed under the table (:class:`Footnotes`, :func:`note`).

The widths are computed for the page and table font of ``report.qmd`` (``format: typst:``
``margin`` and ``include-in-header``): :data:`TEXT_WIDTH_PT`, :data:`FONT_PT`, :data:`INSET_PT`
(``tests/test_tables.py`` checks that the .qmd says the same).
"""

from __future__ import annotations

import math
import re
import warnings

import pandas as pd

NBSP = "\u00a0"
WORD_JOINER = "\u2060"
#: no-break spaces indent a level under its variable: Markdown strips ordinary leading spaces,
#: and Typst em spaces (looked at: the levels were flush left in the PDF)
INDENT = NBSP * 5

#: A4 (595,28 pt) minus 2 × 2,4 cm margins, as report.qmd sets for Typst
TEXT_WIDTH_PT = 595.28 - 2 * 2.4 * 72 / 2.54
#: the table font size (report.qmd: ``#show table: set text(size: 8pt)``)
FONT_PT = 8.0
#: left + right padding of a cell (Typst: ``inset: 6pt`` on each side, Quarto's and ours)
INSET_PT = 12.0
#: room kept free in each column for rounding and the fonts' kerning
SLACK_PT = 3.0
#: bold text (table headers, variable rows) is this much wider than regular
BOLD = 1.08
#: resolution of the widths: the dashes under the header sum to this
DASHES = 200

# Widths in em of Libertinus Serif, the font of both PDF paths, measured with Typst's ``measure``
# (tabular digits; tests/test_tables.py checks the model against Typst). Others: 0.5, capitals 0.7.
_EM = {**dict(zip("abcdefghijklmnopqrstuvwxyz", (0.45, 0.48, 0.42, 0.5, 0.43, 0.3, 0.5, 0.53, 0.26, 0.26, 0.51,
                                                  0.25, 0.78, 0.53, 0.49, 0.5, 0.49, 0.37, 0.38, 0.31, 0.52, 0.5,
                                                  0.75, 0.5, 0.52, 0.41))),
       **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (0.69, 0.58, 0.64, 0.7, 0.55, 0.47, 0.68, 0.72, 0.29, 0.31, 0.63,
                                                  0.52, 0.83, 0.69, 0.7, 0.53, 0.7, 0.58, 0.47, 0.55, 0.65, 0.59,
                                                  0.89, 0.65, 0.53, 0.59))),
       **dict.fromkeys("0123456789", 0.46), ",": 0.21, ".": 0.21, " ": 0.24, NBSP: 0.24, "(": 0.29, ")": 0.29,
       "[": 0.35, "]": 0.35, "%": 0.63, "−": 0.54, "–": 0.54, "=": 0.54, "<": 0.54, ">": 0.54, "+": 0.54,
       "-": 0.33, ":": 0.23, ";": 0.23, "²": 0.3, "χ": 0.49, "/": 0.31, "&": 0.69, WORD_JOINER: 0.0}
_MARKUP = re.compile(r"\*\*|\*|`")
_FOOTNOTE = re.compile(r"\^([^^\s]+)\^")
_DIGIT = re.compile(r"\d")
#: a cell is kept on one line when it holds a number and is no longer than this
UNBREAKABLE_MAX = 30


def em_width(text: str) -> float:
    """Estimated width of ``text`` in em (footnote letters as superscripts, Markdown marks dropped).

    Digits 0.46 each, space 0.24, parentheses 0.29, comma 0.21, percent 0.63:
    2×0.46 + 0.24 + 0.29 + 0.46 + 0.21 + 0.46 + 0.63 + 0.29 = 3.50.

    >>> round(em_width("15 (7,9%)"), 2)
    3.5
    """
    text = _MARKUP.sub("", str(text))
    sup = sum(len(m.group(1)) for m in _FOOTNOTE.finditer(text)) * 0.35
    text = _FOOTNOTE.sub("", text)
    return sup + sum(_EM.get(ch, 0.7 if ch.isupper() else 0.5) for ch in text)


def unbreakable(text) -> bool:
    """Whether a cell must stay on one line: it holds a number and is short (not a sentence)."""
    text = str(text)
    return bool(_DIGIT.search(text)) and len(_FOOTNOTE.sub("", text)) <= UNBREAKABLE_MAX


def keep_together(text) -> str:
    """The cell with no-break spaces and a word joiner after each dash, so it cannot wrap.

    >>> keep_together("0,50 (0,30–0,83)") == "0,50\\u00a0(0,30–\\u20600,83)"
    True
    """
    text = str(text)
    return re.sub(r"([–-])(?=\S)", "\\1" + WORD_JOINER, text.replace(" ", NBSP))


def column_widths(frame: pd.DataFrame, first_breakable: bool = True) -> list[int]:
    """Relative widths (summing to :data:`DASHES`) that give every column its unbreakable content.

    Each column needs at least its widest unbreakable cell (numbers, :func:`unbreakable`) and its
    longest word; what is left of the text width goes to the columns whose text can wrap, in
    proportion to how much longer their text is than that minimum. A table whose minimum is wider
    than the page cannot be printed without overflow: that is a warning, with the widths of the
    minimum (the layout test then finds the overflow in the PDF).
    """
    em = FONT_PT
    minimum, natural = [], []
    for i, col in enumerate(frame.columns):
        cells = [str(v) for v in frame[col]]
        words = [w for c in cells for w in re.split(r"[\s\-–/]+", _MARKUP.sub("", c))]
        # a header breaks at spaces only (:func:`_join_hyphens`) and is bold (about 8 % wider)
        words += [w for w in str(col).split() if w]
        low = max([em_width(w) * (BOLD if w in str(col).split() else 1) for w in words if w] + [1.0])
        if not (i == 0 and first_breakable):
            low = max([low] + [em_width(c) for c in cells if unbreakable(c)])
        high = max([low] + [em_width(c) for c in cells])
        minimum.append(low * em + INSET_PT + SLACK_PT)
        natural.append(max(high * em + INSET_PT + SLACK_PT, minimum[-1]))
    total_min, total_nat = sum(minimum), sum(natural)
    if total_nat <= TEXT_WIDTH_PT:
        widths = [n * TEXT_WIDTH_PT / total_nat for n in natural]
    elif total_min <= TEXT_WIDTH_PT:
        spare = TEXT_WIDTH_PT - total_min
        excess = [n - m for n, m in zip(natural, minimum)]
        widths = [m + spare * e / sum(excess) for m, e in zip(minimum, excess)]
    else:
        warnings.warn(f"table with columns {list(frame.columns)} needs {total_min:.0f} pt, the page has "
                      f"{TEXT_WIDTH_PT:.0f} pt: its numbers will overflow", stacklevel=2)
        widths = minimum
    scale = DASHES / sum(widths)
    dashes = [max(3, math.floor(w * scale)) for w in widths]
    # the rounding remainder to the widest wrappable column, so no number's column loses width
    dashes[max(range(len(dashes)), key=lambda k: natural[k] - minimum[k])] += DASHES - sum(dashes)
    return dashes


NUMERIC = re.compile(r"^(?:x|<\s?\d[\d.]*(?:,\d+)?|[-−+]?\d[\d.\s]*(?:,\d+)?\s?%?(?:\s?[(\[].*[)\]])?|–|-|)"
                     r"(?:\^[^^\s]+\^)?$")


def numeric_column(col: pd.Series) -> bool:
    """A column of numbers (right-aligned): every cell a number, a mark, a dash or empty."""
    text = col.astype(str).str.strip()
    return bool(len(text)) and bool(text.str.fullmatch(NUMERIC).all())


def to_markdown(frame: pd.DataFrame) -> str:
    """Pipe-table text: numbers right-aligned and kept on one line, widths from the content.

    >>> text = to_markdown(pd.DataFrame({"groep": ["a", "b"], "n": ["12", "<5"]}))
    >>> print(text)  # doctest: +ELLIPSIS
    | groep | n |
    |:---...|---...:|
    | a | 12 |
    | b | <5 |
    >>> text.splitlines()[1].count("-") == DASHES
    True
    """
    numeric = [numeric_column(frame[c]) for c in frame.columns]
    widths = column_widths(frame)
    header = [_cell(_join_hyphens(c)) for c in frame.columns]
    body = [[_cell(keep_together(v) if i > 0 and unbreakable(v) else v) for i, v in enumerate(row)]
            for row in frame.astype(str).itertuples(index=False)]
    rule = "|" + "|".join("-" * d + ":" if n else ":" + "-" * d for n, d in zip(numeric, widths)) + "|"
    return "\n".join(["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(r) + " |" for r in body)])


def _cell(text) -> str:
    """A pipe-table cell: one line, a literal ``|`` escaped (written by hand rather than with
    tabulate, which strips the no-break spaces that indent a level)."""
    return str(text).replace("\n", " ").replace("|", "\\|")


def _join_hyphens(text) -> str:
    """A header wraps between words only ("(95%-" above "BI)" read badly): a word joiner after a hyphen."""
    return re.sub(r"-(?=\S)", "-" + WORD_JOINER, str(text))


def header_label(text: str) -> str:
    """A variable's row above its levels: the name in bold."""
    return f"**{text}**"


def level_label(text: str) -> str:
    """A level's label, indented under its variable."""
    return INDENT + str(text)


def grouped(frame: pd.DataFrame, groups, label: str) -> pd.DataFrame:
    """``frame`` with a header row before each run of rows of the same group (``groups``, one
    value per row; order kept) and those rows' ``label`` indented under it. An empty group name
    gets no header.

    >>> grouped(pd.DataFrame({"u": ["a", "b", "c"], "n": ["1", "2", "3"]}), ["X", "X", "Y"], "u")["u"].tolist()
    ['**X**', '\xa0\xa0\xa0\xa0\xa0a', '\xa0\xa0\xa0\xa0\xa0b', '**Y**', '\xa0\xa0\xa0\xa0\xa0c']
    """
    rows, previous = [], object()
    for group, (_, row) in zip(groups, frame.iterrows()):
        if group != previous and group:
            rows.append({c: (header_label(group) if c == label else "") for c in frame.columns})
        previous = group
        rows.append({**row.to_dict(), label: level_label(row[label]) if group else row[label]})
    return pd.DataFrame(rows, columns=frame.columns)


class Footnotes:
    """Footnote letters for long texts that repeat in a table: a, b, c … in order of first use.

    >>> f = Footnotes()
    >>> f.mark("chi-kwadraat"), f.mark("Fisher exact"), f.mark("chi-kwadraat"), f.mark("")
    ('^a^', '^b^', '^a^', '')
    >>> f.legend()
    '^a^ chi-kwadraat; ^b^ Fisher exact.'
    """

    def __init__(self):
        self.texts: dict[str, str] = {}

    def mark(self, text) -> str:
        text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text).strip()
        if not text:
            return ""
        if text not in self.texts:
            self.texts[text] = "abcdefghijklmnopqrstuvwxyz"[len(self.texts) % 26]
        return f"^{self.texts[text]}^"

    def legend(self) -> str:
        return "; ".join(f"^{letter}^ {text}" for text, letter in self.texts.items()) + ("." if self.texts else "")


def with_note(frame: pd.DataFrame, *notes: str) -> pd.DataFrame:
    """The display table with the text to print under it (``frame.attrs["note"]``, see :func:`note`)."""
    frame.attrs["note"] = " ".join(n for n in notes if n)
    return frame


def note(frame: pd.DataFrame) -> str:
    """The table's own note (footnote legend), or ``""``."""
    return frame.attrs.get("note", "")
