"""Read raw exports in their own formats, and stop with a useful message when they are not.

Every reader returns the raw table as text (no type guessing) with a ``_row`` column: the row
number a person sees when opening the file (spreadsheet row, header = row 1; for SPSS the case
number). Cleaning logs refer to that number.

A file that cannot be read (wrong encoding, no header, a required column missing, a
password-protected workbook) raises :class:`RawDataError` listing every such problem at once; the
caller records them and skips the file. Problems inside a readable file (a value in a column
without a header, merged cells, a formula without a value, forms on a sheet the codebook does not
read) go to the ``problems`` collector when one is given; without one they are raised together
at the end of the reader, so that they never pass silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import html
import io
import math
import re
import warnings
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

ROW = "_row"


class RawDataError(ValueError):
    """Raw files cannot be read as the codebook says; the message says where and what to do.

    Carries ``problems`` (a list of :class:`analysis.problems.Problem`): one for an error raised
    at one place, all of them for :meth:`from_problems` (the one-pass check of every source).
    """

    def __init__(self, path: Path | str, message: str, *, row: int | None = None, column: str | None = None,
                 fix: str = "", value: str = "", sheet: str = ""):
        from analysis.problems import Problem, split_sheet

        name, in_name = split_sheet(path)
        problem = Problem(name, message, fix, row, column, value, sheet or in_name)
        super().__init__(str(problem))
        self.path, self.row, self.column = Path(str(path)), row, column
        self.problems = [problem]

    @classmethod
    def from_problems(cls, problems: list) -> "RawDataError":
        """One error for several problems (its message lists them; see analysis.problems.message)."""
        from analysis.problems import message

        if not problems:
            raise ValueError("RawDataError.from_problems needs at least one problem")
        first = problems[0]
        err = cls(first.file, first.problem, row=first.row, column=first.column, fix=first.fix,
                  value=first.value, sheet=first.sheet)
        err.problems = list(problems)
        err.args = (message(problems),)
        return err


class RawDataWarning(UserWarning):
    """A non-blocking problem found by a reader called without a ``problems`` collector."""


def _safe(value) -> str:
    """A raw header or cell as a message may show it (:func:`analysis.problems.safe_value`)."""
    from analysis.problems import safe_value

    return safe_value(value)


def _problem(path, problem: str, fix: str = "", *, row=None, column=None, value: str = "", sheet: str = "",
             blocking: bool = True):
    from analysis.problems import Problem

    return Problem(Path(str(path)).name, problem, fix, None if row is None else int(row),
                   None if column is None else str(column), value, sheet, blocking)


def _hand_over(found: list, problems) -> None:
    """Problems inside a readable file: to the collector, or (without one) raised together."""
    if problems is not None:
        problems.items.extend(found)
        return
    for p in found:
        if not p.blocking:
            warnings.warn(str(p), RawDataWarning, stacklevel=3)
    blocking = [p for p in found if p.blocking]
    if blocking:
        raise RawDataError.from_problems(blocking)


def column_letter(index: int) -> str:
    """The spreadsheet name of a 0-based column index (what a user sees in Excel).

    >>> column_letter(0), column_letter(7), column_letter(25), column_letter(27)
    ('A', 'H', 'Z', 'AB')
    """
    name, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- text exports -----------------------------------------------------------------------------

_BOMS = {
    b"\xff\xfe": "UTF-16 (little-endian)",
    b"\xfe\xff": "UTF-16 (big-endian)",
}
_SAVE_UTF8 = "save it again as UTF-8 (in Excel: Save As > 'CSV UTF-8')"


def _utf16_without_bom(data: bytes) -> str | None:
    """``"little-endian"``/``"big-endian"`` when NUL bytes fill every other byte (text in UTF-16
    without a byte-order mark: ASCII characters then have a NUL high byte), else None.

    >>> [_utf16_without_bom(b) for b in ("id;x".encode("utf-16-le"), b"id;x", "id".encode("utf-16-be"))]
    ['little-endian', None, 'big-endian']
    """
    sample = data[:4096]
    if len(sample) < 4:
        return None
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    half = len(sample) // 2
    if odd >= 0.3 * half and even <= 0.05 * half:
        return "little-endian"
    if even >= 0.3 * half and odd <= 0.05 * half:
        return "big-endian"
    return None


def decode_text(path: Path, encoding: str) -> str:
    """Decode a text export, naming the line of the first undecodable byte.

    ``encoding`` ``"utf-8"`` is read as ``"utf-8-sig"``: Excel's "CSV UTF-8" starts the file with
    a byte-order mark, which would otherwise end up in the first column's name. UTF-16 (what
    Excel's "Unicode text" writes), with or without a byte-order mark, is named as such.
    """
    named = encoding  # as the codebook says it, for the messages
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    data = Path(path).read_bytes()
    if not data.strip():
        raise RawDataError(path, "the file is empty", fix="export it again")
    if not encoding.lower().startswith("utf-16"):
        for bom, name in _BOMS.items():
            if data.startswith(bom):
                raise RawDataError(path, f"the file is {name}, expected {named}", fix=_SAVE_UTF8)
        order = _utf16_without_bom(data)
        if order:
            raise RawDataError(path, f"the file is UTF-16 ({order}, without byte-order mark), expected {named}",
                               fix=_SAVE_UTF8)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        # utf-8-sig decodes the bytes after the BOM: positions count in err.object, not in data
        at = len(data) - len(err.object) + err.start
        line = data[:at].count(b"\n") + 1
        bad = data[at : at + 1]
        hint = " (this looks like Windows-1252 from Excel)" if bad and 0x80 <= bad[0] <= 0xFF else ""
        raise RawDataError(path, f"byte {bad!r} at position {at} is not valid {named}{hint}",
                           row=line, fix=_SAVE_UTF8) from None
    if not text.strip("\ufeff \r\n\t"):
        raise RawDataError(path, "the file is empty (only a byte-order mark or blank lines)", fix="export it again")
    return text


def read_delimited(
    path: Path | str,
    *,
    sep: str,
    encoding: str = "utf-8-sig",
    required: list[str] | tuple[str, ...] = (),
    problems=None,
) -> pd.DataFrame:
    """Read a delimited export as text, checking encoding, header, field counts and required columns.

    A header-only file is a site that delivered no forms: 0 rows, no error.

    Examples
    --------
    >>> import tempfile, os
    >>> p = Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("id;age\\n1;45\\n2;\\n", encoding="utf-8")
    >>> read_delimited(p, sep=";", required=["id"]).to_dict("list")
    {'id': ['1', '2'], 'age': ['45', ''], '_row': [2, 3]}
    """
    path = Path(path)
    text = decode_text(path, encoding)
    header = text.splitlines()[0] if text else ""
    if sep not in header:
        found = [d for d in (",", ";", "\t", "|") if d != sep and d in header]
        raise RawDataError(
            path,
            f"the header has no {sep!r} delimiter" + (f" but uses {found[0]!r}" if found else ""),
            fix=f"export the file {sep!r}-separated, or correct the delimiter in analysis/codebook.yaml",
            row=1,
        )
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    # names stripped of spaces, as the Excel reader does ("Q2_AGE " is the column Q2_AGE)
    columns = [(c.lstrip("\ufeff") if i == 0 else c).strip() for i, c in enumerate(rows[0])]
    width = len(columns)
    found, body = [], []
    for i, fields in enumerate(rows[1:], start=2):
        if not any(f.strip() for f in fields):
            continue  # a blank line, or only delimiters (Excel writes ";;;;" for formatted empty rows)
        if len(fields) > width and not any(f.strip() for f in fields[width:]):
            fields = fields[:width]  # trailing empty fields (extra delimiters): nothing is lost
        if len(fields) != width:
            found.append(_problem(
                path, f"has {len(fields)} fields, the header has {width}",
                f"the file may be truncated, or a value contains an unquoted {sep!r}: export it again",
                row=i))
            continue  # this row cannot be read; the others are still checked
        body.append((i, fields))
    return _table(path, columns, body, required, found, problems)


def _table(path, columns: list[str], body: list[tuple[int, list[str]]], required, found: list, problems,
           sheet: str = "") -> pd.DataFrame:
    """The header checks CSV and Excel share, then the frame (or every problem raised at once).

    ``body``: (row number, cells) with as many cells as ``columns``. Unreadable (raised): a
    missing header row, duplicate column names, missing required columns. Reported and the file
    still read: values in a column without a header (that column is left out).
    """
    missing = [c for c in required if c not in columns]
    lower = next((i for i, cells in body[:10] if sum(c in cells for c in required) > len(required) / 2), None)
    if required and len(missing) > len(required) / 2 and lower is not None:
        found.insert(0, _problem(path, f"the header is in row {lower}, not in row 1",
                                 f"delete the rows above row {lower} (titles, notes or empty rows), so that the "
                                 "column names are in row 1", row=lower, sheet=sheet))
        raise RawDataError.from_problems(found)
    evidence = _data_like(columns)
    if required and len(missing) > len(required) / 2 and evidence:
        found.insert(0, _problem(
            path, f"the header row seems to be missing: row 1 looks like data ({evidence}), and "
                  f"{len(missing)} of the {len(required)} required columns are not there",
            "put the header row back as row 1 (the column names the codebook expects: "
            + ", ".join(map(repr, list(required)[:6])) + (", …" if len(required) > 6 else "") + ")",
            row=1, sheet=sheet))
        raise RawDataError.from_problems(found)
    # the column names again further down: two exports pasted into one file. One problem for the
    # row, not one per cell (a damaged copy gave 33 "unknown value 'Q3_GENDER'" lines for it)
    repeated = {i for i, cells in body if _repeats_header(cells, columns)}
    for i in sorted(repeated):
        found.append(_problem(path, "this row repeats the column names (two exports pasted into one file?)",
                              "delete the row, and check that no form is now in the file twice", row=i, sheet=sheet))
    body = [(i, cells) for i, cells in body if i not in repeated]
    fatal = []
    unnamed = [j for j, c in enumerate(columns) if c.strip() == ""]
    for j in unnamed:
        for i, cells in body:
            if cells[j].strip() != "":
                found.append(_problem(path, f"column {column_letter(j)} has a value but no header",
                                      "give the column a header in row 1 (and map it in analysis/codebook.yaml), "
                                      "or remove the value", row=i, column=column_letter(j), sheet=sheet))
    named = [c for c in columns if c.strip() != ""]
    for name in dict.fromkeys(c for c in named if named.count(c) > 1):
        where = [column_letter(j) for j, c in enumerate(columns) if c == name]
        times = "twice" if len(where) == 2 else f"{len(where)} times"
        fatal.append(_problem(path, f"column {_safe(name)} occurs {times} (columns {_and(where)})",
                              "rename or remove all but one of them: the codebook reads each column by its name",
                              row=1, column=name, sheet=sheet))
    absent = _required_problems(path, missing, named, sheet)
    if fatal:
        raise RawDataError.from_problems(fatal + absent + found)
    keep = [j for j in range(len(columns)) if j not in unnamed]
    frame = _text_frame([[cells[j] for j in keep] + [i] for i, cells in body], [columns[j] for j in keep])
    # a missing column is reported and read as empty, so the cells of the other columns are
    # still checked in the same pass (the problem blocks the analysis all the same)
    frame = frame.assign(**{c: "" for c in missing})
    frame.attrs["absent"] = list(missing)  # the cleaning maps nothing from these columns
    _hand_over(absent + found, problems)
    return frame


def _repeats_header(cells: list[str], columns: list[str]) -> bool:
    """Whether most named cells of a row hold their own column's name.

    >>> _repeats_header(["RESPONSE_ID", "Q2_AGE ", "45"], ["RESPONSE_ID", "Q2_AGE", "Q3"])
    True
    >>> _repeats_header(["R00001", "Q2_AGE", "45"], ["RESPONSE_ID", "Q2_AGE", "Q3"])
    False
    """
    named = [(c.strip().casefold(), str(v).strip().casefold()) for c, v in zip(columns, cells) if c.strip()]
    return bool(named) and sum(c == v for c, v in named) > len(named) / 2


_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?|\d{1,2}:\d{2}(?::\d{2})?")


def _data_like(cells: list[str]) -> str:
    """Why a header row looks like a data row ("" when it does not): numbers or dates in it (a
    column name never is one), or many empty cells. Only such values are shown (never text).

    >>> _data_like(["R00001", "2025-03-03 10:53:36", "3025", "Man"])
    "values such as '2025-03-03 10:53:36', '3025'"
    >>> _data_like(["RESPONSE_ID", "Q1_PC4", "Q2_AGE"])
    ''
    """
    from analysis.problems import safe_value

    like = [c.strip() for c in cells if _NUMBER.fullmatch(c.strip()) or _DATE.fullmatch(c.strip())]
    if like:
        return "values such as " + ", ".join(safe_value(c) for c in like[:3])
    empty = sum(c.strip() == "" for c in cells)
    if len(cells) >= 3 and empty >= len(cells) / 3:
        return f"{empty} of its {len(cells)} cells are empty"
    return ""


def _required_problems(path, missing: list[str], present: list[str], sheet: str = "") -> list:
    """One problem per missing required column, naming the closest present column (difflib)."""
    from analysis.problems import safe_value

    out = []
    folded = {c.strip().casefold(): c for c in present}
    for col in missing:
        match = folded.get(col.strip().casefold())
        if match is None:
            near = difflib.get_close_matches(col.casefold(), list(folded), n=1, cutoff=0.6)
            match = folded[near[0]] if near else None
        if match is not None:
            fix = (f"a column {safe_value(match)} is present: rename it to {col!r} in the export, or update the "
                   "mapping in analysis/codebook.yaml")
        else:
            # header cells may be data when the header row is missing: shown safely
            shown = ", ".join(safe_value(c) for c in present[:10]) + (", …" if len(present) > 10 else "")
            fix = (f"add the column to the export, or update the mapping in analysis/codebook.yaml "
                   f"(columns present: {shown or 'none'})")
        out.append(_problem(path, f"required column {col!r} is missing", fix, row=1, column=col, sheet=sheet))
    return out


def _text_frame(body: list[list], columns: list[str]) -> pd.DataFrame:
    """Rows of text cells plus the row number → a frame of object (text) columns."""
    frame = pd.DataFrame(body, columns=columns + [ROW], dtype=object)
    frame[ROW] = frame[ROW].astype("int64")
    return frame


# --- Excel ------------------------------------------------------------------------------------

_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file: old .xls, or an encrypted .xlsx


def _open_workbook(path: Path):
    """The calamine workbook, or a RawDataError saying whether the file is password-protected,
    damaged or not a workbook at all."""
    import python_calamine
    from python_calamine import CalamineWorkbook

    with open(path, "rb") as fh:
        start = fh.read(8)
    if start == _CFB and "EncryptedPackage".encode("utf-16-le") in Path(path).read_bytes():
        raise RawDataError(path, "cannot be opened as an Excel workbook: it is password-protected (encrypted)",
                           fix="open it in Excel with the password, remove the password (File > Info > Protect "
                               "Workbook > Encrypt with Password: leave it empty) and save it again as .xlsx")
    try:
        return CalamineWorkbook.from_path(str(path))
    except python_calamine.CalamineError as err:  # ZipError, XmlError, PasswordError, …
        if not start:
            what, fix = "the file is empty", "export it again"
        elif start.startswith(b"PK"):
            what = f"the workbook is damaged ({err})"
            fix = "open it in Excel (which offers to repair it) and save it again, or export it again"
        elif start == _CFB:
            what = f"it is an old-format (.xls) or damaged workbook ({err})"
            fix = "open it in Excel and save it as .xlsx"
        else:
            what = "it is not an Excel workbook" + (" (it looks like a text or CSV file)"
                                                     if _looks_like_text(path) else f" ({err})")
            fix = "save it from Excel as .xlsx"
        raise RawDataError(path, f"cannot be opened as an Excel workbook: {what}", fix=fix) from None


def _looks_like_text(path: Path) -> bool:
    head = Path(path).read_bytes()[:2048]
    return b"\0" not in head and all(b >= 9 for b in head)


def read_excel_sheet(path: Path | str, *, sheet: str | int = 0, required=(), problems=None,
                     expected_sheets=None) -> pd.DataFrame:
    """Read one worksheet as text cells (empty cells become ``""``), header in row 1.

    python-calamine (a Rust reader) instead of openpyxl: the same cells, about ten times faster,
    which matters for a national monitor with hundreds of workbooks. Calamine cannot see formulas,
    so the sheet's XML is searched for formulas without a stored result and for error cells
    (measured: 2 ms of a 16 ms read of LH_bereik.xlsx, 12 ms of 130 ms for a 10x bigger sheet;
    openpyxl takes 0.17 s and 1.6 s just to load them).

    Date cells become ISO text (``2025-03-03``; with a time ``2025-03-03 10:05:00``), whatever
    the cell's display format. Merged cells, formulas without a value, error cells (#N/A) and
    values in a column without a header are reported (blocking). ``expected_sheets``: the sheets this source reads
    (e.g. ``["Formulieren"]``); any other sheet that holds rows is then reported (forms on an extra
    sheet are never ignored silently). None: other sheets are not looked at.
    """
    path = Path(path)
    wb = _open_workbook(path)
    names = list(wb.sheet_names)
    if isinstance(sheet, str) and sheet not in names:
        raise RawDataError(path, f"has no sheet {sheet!r} (sheets: {names})",
                           fix="rename the sheet or fix the codebook")
    title = sheet if isinstance(sheet, str) else names[sheet]
    ws = wb.get_sheet_by_name(title)
    values = ws.to_python(skip_empty_area=False)
    if not values:
        raise RawDataError(path, f"sheet {title!r} is empty", fix="export it again", sheet=title)
    columns = [_cell_text(c).strip() for c in values[0]]
    while columns and columns[-1] == "":
        columns.pop()  # trailing empty header cells: any values under them are reported below
    width = max(len(r) for r in values)
    columns += [""] * (width - len(columns))
    found = []
    for (r0, c0), (r1, c1) in getattr(ws, "merged_cell_ranges", None) or []:
        ref = f"{column_letter(c0)}{r0 + 1}:{column_letter(c1)}{r1 + 1}"
        found.append(_problem(path, f"merged cells {ref}: only the first cell holds the value",
                              "unmerge the cells and fill in the value in each row",
                              row=r0 + 1, column=(columns + [""] * (c0 + 1))[c0] or column_letter(c0), sheet=title))
    for r, c, kind, shown in _cells_calamine_cannot_see(path, title):
        name = columns[c] if c < len(columns) and columns[c] else column_letter(c)
        if kind == "formula":
            found.append(_problem(path, "formula without a calculated value (the file was saved by a program "
                                        "that does not calculate)",
                                  "open the file in Excel and save it again, or replace the formulas by their "
                                  "values (Paste Special > Values)", row=r, column=name, value=shown, sheet=title))
        else:
            found.append(_problem(path, "the cell holds an Excel error instead of a value",
                                  "correct the formula, or type the value in the cell", row=r, column=name,
                                  value=shown, sheet=title))
    body = []
    for i, cells in enumerate(values[1:], start=2):
        texts = [_cell_text(c) for c in cells] + [""] * (width - len(cells))
        if all(t.strip() == "" for t in texts):
            continue
        body.append((i, texts))
    if expected_sheets is not None:
        expected = {names[s] if isinstance(s, int) else s for s in expected_sheets} | {title}
        for other in names:
            if other not in expected:
                read = sorted(expected, key=lambda n: names.index(n) if n in names else len(names))
                shown = f"sheet {read[0]!r}" if len(read) == 1 else "sheets " + ", ".join(map(repr, read))
                found += _extra_sheet(path, wb, other, shown, columns, required)
    return _table(path, columns, body, required, found, problems, sheet=title)


def _extra_sheet(path, wb, name: str, title: str, columns: list[str], required) -> list:
    """A sheet the codebook does not read (``title``: the sheet(s) it reads): fine when empty (or a
    header only); blocking when it looks like forms (the same columns, a required column, or a
    data row as its first row)."""
    rows = [[_cell_text(c).strip() for c in r] for r in wb.get_sheet_by_name(name).to_python(skip_empty_area=False)]
    filled = [i for i, r in enumerate(rows, start=1) if any(r)]
    if not filled or filled == [1]:
        return []
    head = [c for c in rows[0] if c] if rows else []
    named = [c for c in columns if c]
    forms = (sum(c in named for c in head) >= max(1, len(named) / 2) or any(c in head for c in required)
             or bool(_data_like(rows[0])))
    data_rows = [i for i in filled if i > 1] if head else filled
    if forms:
        return [_problem(path, f"sheet {name!r} holds {len(data_rows)} row(s) that look like forms, but the codebook "
                               f"reads only {title}",
                         f"move the forms to {title} (below its header row), delete sheet {name!r} if they are "
                         "copies, or add the sheet to the source's read options in analysis/codebook.yaml",
                         row=data_rows[0], sheet=name)]
    return [_problem(path, f"sheet {name!r} has {len(data_rows)} filled row(s) that are not read (the codebook "
                           f"reads only {title})",
                     f"check that it holds no forms; move any forms to {title}", row=data_rows[0],
                     sheet=name, blocking=False)]


_CELL_OPEN = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*>$')
_CELL_TAG = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*>')
_CELL_CLOSE = re.compile(rb"</(?:\w+:)?c>")
_CACHED = re.compile(rb"<(?:\w+:)?v>\s*[^<\s]")
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)<")
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)<)")


def _cells_calamine_cannot_see(path: Path, title: str) -> list[tuple[int, int, str, str]]:
    """(row, 0-based column, kind, shown value) of cells that calamine returns as empty although
    they are not: ``"formula"`` (a formula with no stored result: openpyxl and other libraries
    write formulas without calculating them) and ``"error"`` (a stored Excel error such as #N/A).

    The sheet's XML is searched directly: a byte search for formula tags and error cells, then
    only the cells around them (an XML parser of the whole sheet took 0.5 s on a 1500-form
    sheet). Not a zipped .xlsx (e.g. an .xls, whose formulas always hold a result): [].
    """
    try:
        with zipfile.ZipFile(path) as zf:
            part = _sheet_part(zf, title)
            data = zf.read(part) if part else b""
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        return []
    from analysis.problems import safe_value

    def where(cell) -> tuple[int, int]:
        col = 0
        for ch in cell[1].decode():
            col = col * 26 + ord(ch) - 64
        return int(cell[2]), col - 1

    out = []
    for tag in _formula_tags(data):
        cell = _CELL_OPEN.search(data, max(0, tag - 400), tag)
        close = _CELL_CLOSE.search(data, tag)
        if cell is None or close is None or _CACHED.search(data, tag, close.start()):
            continue
        text = _FORMULA_TEXT.match(data, tag)
        formula = html.unescape(text[1].decode("utf-8")) if text and text[1] else ""
        out.append((*where(cell), "formula", safe_value("=" + formula) if formula else "(shared formula)"))
    i = data.find(b' t="e"')
    while i != -1:
        cell = _CELL_TAG.match(data, data.rfind(b"<", 0, i))
        close = _CELL_CLOSE.search(data, i)
        if cell is not None and close is not None:
            value = _VALUE.search(data, cell.end(), close.start())
            shown = safe_value(html.unescape(value[1].decode("utf-8"))) if value else ""
            out.append((*where(cell), "error", shown))
        i = data.find(b' t="e"', i + 6)
    return sorted(out)


def _formula_tags(data: bytes):
    """Start offsets of ``<f>``/``<f …>`` (or ``<x:f>``) tags, found by plain byte search."""
    for marker in (b"<f", b":f"):
        i = data.find(marker)
        while i != -1:
            if data[i + 2 : i + 3] in (b">", b" ", b"/"):
                start = i if marker == b"<f" else data.rfind(b"<", 0, i)
                if marker == b"<f" or re.fullmatch(rb"<\w+", data[start:i]):
                    yield start
            i = data.find(marker, i + 2)


def _sheet_part(zf: zipfile.ZipFile, title: str) -> str | None:
    """The zip member holding sheet ``title`` (workbook.xml names it, its rels file locates it)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
    rid = next((s.get(f"{{{ns['r']}}}id") for s in book.iter(f"{{{ns['m']}}}sheet") if s.get("name") == title), None)
    rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    target = next((r.get("Target") for r in rels if r.get("Id") == rid), None)
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def sheet_names(path: Path | str) -> list[str]:
    """The worksheet names of a workbook (a clear error if it is not one)."""
    return list(_open_workbook(Path(path)).sheet_names)


def _cell_text(value) -> str:
    """An Excel cell as unambiguous text (45.0 → "45"; date cells → ISO ``2025-03-03``, with a
    time ``2025-03-03 10:05:00``), whatever the cell's display format (``03-03-2025``).

    >>> _cell_text(45.0), _cell_text(dt.datetime(2025, 3, 3)), _cell_text(dt.date(2025, 3, 3))
    ('45', '2025-03-03', '2025-03-03')
    >>> _cell_text(dt.datetime(2025, 3, 4, 10, 4, 59, 999_990)), _cell_text(dt.time(9, 30))
    ('2025-03-04 10:05:00', '09:30:00')
    """
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        value = (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)  # Excel stores days as floats
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


# --- SPSS -------------------------------------------------------------------------------------


def read_sav(path: Path | str, *, required=(), problems=None, value_labels=None) -> tuple[pd.DataFrame, object]:
    """Read an SPSS file (.sav or compressed .zsav) keeping user-missing codes as values, with its metadata.

    ``user_missing=True`` makes pyreadstat return user-defined missing values as their codes
    instead of NaN, so the codebook decides what 98 and 99 mean and the log can show them.
    ``value_labels``: per column the labels the codebook expects per code
    (:func:`codebook_value_labels`); the file's own labels are checked against them
    (:func:`check_value_labels`).
    """
    import pyreadstat

    path = Path(path)
    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as err:
        raise RawDataError(path, f"cannot be read as an SPSS .sav file ({err})",
                           fix="export it again from SPSS (File > Save As > SPSS Statistics .sav)") from None
    frame = frame.copy()
    frame[ROW] = range(1, len(frame) + 1)
    present = [c for c in frame.columns if c != ROW]
    missing = [c for c in required if c not in frame.columns]
    found = _label_problems(meta, value_labels or {}, path)
    if missing:
        raise RawDataError.from_problems(_required_problems(path, missing, present) + found)
    _hand_over(found, problems)
    return frame, meta


def sav_missing(meta, frame: pd.DataFrame | None = None) -> dict[str, set]:
    """Per column, the user-missing codes the SPSS file declares: numbers, or text for string
    variables (pyreadstat reports those in ``missing_ranges`` as ``lo == hi``; its
    ``missing_user_values`` is for SAS and Stata only).

    A range (``97 THRU 99``, ``LO THRU -1``, ``97.5 THRU 99.5``) has no list of codes: with
    ``frame`` (the data read with it), every value of the column inside the range is listed;
    and always its finite ends and (a finite range at most 1000 wide) the whole numbers in it.

    >>> from types import SimpleNamespace as NS
    >>> meta = NS(missing_ranges={"q": [{"lo": 97.0, "hi": 99.0}], "s": [{"lo": "NVT", "hi": "NVT"}],
    ...                           "n": [{"lo": float("-inf"), "hi": -1.0}, {"lo": 98.5, "hi": 98.5}]})
    >>> m = sav_missing(meta, pd.DataFrame({"q": [1.0, 98.0], "s": ["a", "NVT"], "n": [-3.0, 4.0]}))
    >>> sorted(m["q"]), m["s"], sorted(m["n"])
    ([97.0, 98.0, 99.0], {'NVT'}, [-3.0, -1.0, 98.5])
    >>> sorted(sav_missing(NS(missing_ranges={"f": [{"lo": 97.5, "hi": 99.5}]}))["f"])
    [97.5, 98.0, 99.0, 99.5]
    """
    out: dict[str, set] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        codes: set = set()
        data = frame[col] if frame is not None and col in frame.columns else None
        for r in ranges:
            lo, hi = r["lo"], r["hi"]
            if lo == hi:
                codes.add(lo)
                continue
            if data is not None:
                nums = pd.to_numeric(data, errors="coerce")
                codes.update(float(v) for v in nums[(nums >= lo) & (nums <= hi)].unique())
            codes.update(float(v) for v in (lo, hi) if abs(v) != float("inf"))
            if lo > float("-inf") and hi < float("inf") and hi - lo <= 1000:
                codes.update(float(v) for v in range(math.ceil(lo), math.floor(hi) + 1))
        out[col] = codes
    return out


def _norm_label(label) -> str:
    """A value label as compared: case, spaces and underscores do not matter.

    >>> _norm_label("  Zeg ik  liever_niet ")
    'zeg ik liever niet'
    """
    return " ".join(str(label).replace("_", " ").casefold().split())


def _code_key(code):
    """A code as pyreadstat keys its labels: numbers as float, text as text."""
    try:
        return float(code)
    except (TypeError, ValueError):
        return str(code)


def _show_code(code) -> str:
    return str(int(code)) if isinstance(code, float) and code.is_integer() else str(code)


def _label_problems(meta, expected: dict, path) -> list:
    found = []
    from analysis.problems import safe_value

    labels = getattr(meta, "variable_value_labels", None) or {}
    for col, wanted in expected.items():
        have = {_code_key(k): v for k, v in (labels.get(col) or {}).items()}
        accept = {_code_key(k): [v] if isinstance(v, str) else list(v) for k, v in wanted.items()}
        normed = {k: [_norm_label(v) for v in vs] for k, vs in accept.items()}
        compared = fitting = swapped = 0
        for code, names in normed.items():
            if code not in have:
                continue  # no label in the file for this code: nothing to compare
            got = _norm_label(have[code])
            compared += 1

            def fits(candidates, got=got):
                return any(got == c or (got.startswith(c) and not got[len(c)].isalnum()) for c in candidates)

            if fits(names):
                fitting += 1
                continue
            shown, expect = _show_code(code), accept[code][0]
            other = next((k for k, vs in normed.items() if k != code and fits(vs)), None)
            if other is not None:
                swapped += 1
                found.append(_problem(
                    path, f"the file labels {shown} as {safe_value(have[code])}, the codebook maps {shown} to "
                          f"{expect!r} (and {_show_code(other)} to {accept[other][0]!r}): the codes may have been swapped",
                    "check which coding the file uses: correct the codes or labels in SPSS, or, if the new "
                    "coding is right, correct this column's values in analysis/codebook.yaml",
                    column=col, value=safe_value(shown)))
            else:
                found.append(_problem(
                    path, f"the file labels {shown} as {safe_value(have[code])}, the codebook maps {shown} to {expect!r}",
                    "check that both mean the same (then add nothing); otherwise correct the codes in SPSS or "
                    "this column's values in analysis/codebook.yaml", column=col, value=safe_value(shown),
                    blocking=False))
        if compared >= 2 and fitting == swapped == 0:  # not one label fits: a new coding, not new wording
            found.append(_problem(
                path, f"none of the file's {compared} labels for this column match the codebook's: the answer "
                      "categories may have changed", "map this column's codes to the codebook's answers in "
                      "analysis/codebook.yaml (sources.<site>.columns), or export the study's own coding",
                column=col))
    return found


def check_value_labels(meta, expected: dict[str, dict], path, problems=None) -> list:
    """Compare the SPSS file's own value labels with the labels the codebook expects per code.

    ``expected``: ``{column: {code: label or [labels]}}`` (:func:`codebook_value_labels`). Labels
    are compared ignoring case, spaces and underscores; a label that goes on after the expected
    one ("laag (basisonderwijs)") fits. A file label that is another code's label (1 = vrouw
    where the codebook has 1 = man, 2 = vrouw) blocks; other wording is a warning. Codes the
    file does not label are not compared. Returns the problems; with ``problems`` they are
    added there, without it the blocking ones are raised together.

    >>> from types import SimpleNamespace as NS
    >>> meta = NS(variable_value_labels={"geslacht": {1.0: "Vrouw", 2.0: "Man"}})
    >>> from analysis.problems import Problems
    >>> for p in check_value_labels(meta, {"geslacht": {1: "man", 2: "vrouw"}}, "PS.sav", Problems()):
    ...     print(p.blocking, p.problem)
    True the file labels 1 as 'Vrouw', the codebook maps 1 to 'man' (and 2 to 'vrouw'): the codes may have been swapped
    True the file labels 2 as 'Man', the codebook maps 2 to 'vrouw' (and 1 to 'man'): the codes may have been swapped
    """
    found = _label_problems(meta, expected, path)
    _hand_over(found, problems)
    return found


def codebook_value_labels(cb, source: str) -> dict[str, dict]:
    """Per SPSS column of ``source``, the labels its codes should carry: the Dutch and English
    label (and the name) of the tidy code each raw code maps to, and for the source's missing
    codes the missing reason's labels (as the synthetic exports write them)."""
    reasons = cb.data.get("missing_reasons", {})
    missing = {k: [reasons.get(r, {}).get("nl", r), reasons.get(r, {}).get("en", r), r]
               for k, r in cb.missing_values(source).items()}
    out = {}
    for var, m in cb.source(source)["columns"].items():
        if "values" not in m or "column" not in m:
            continue
        nl, en = cb.labels(var), cb.labels(var, "en")
        labels = {raw: [nl[code], en[code], code] for raw, code in m["values"].items()}
        out[m["column"]] = {**missing, **labels}
    return out
