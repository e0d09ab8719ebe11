"""Read raw exports in their own formats, and stop with a useful message when they are not.

Every reader returns the raw table as text (no type guessing) with a ``_row`` column: the row
number a person sees when opening the file (spreadsheet row, header = row 1; for SPSS the case
number). Cleaning logs refer to that number. Bad input raises :class:`RawDataError`, whose
message names the file, the row and the column and says how to fix it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

ROW = "_row"


class RawDataError(ValueError):
    """A raw file cannot be read as the codebook says; the message says where and what to do."""

    def __init__(self, path: Path | str, message: str, *, row: int | None = None, column: str | None = None):
        where = [f"file {Path(path).name}"]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(", ".join(where) + ": " + message)
        self.path, self.row, self.column = Path(path), row, column


_BOMS = {
    b"\xff\xfe": "UTF-16 (little-endian)",
    b"\xfe\xff": "UTF-16 (big-endian)",
}


def decode_text(path: Path, encoding: str) -> str:
    """Decode a text export, naming the line of the first undecodable byte.

    ``encoding`` ``"utf-8-sig"`` accepts UTF-8 with or without a byte-order mark.
    """
    data = Path(path).read_bytes()
    if not data.strip():
        raise RawDataError(path, "the file is empty; export it again")
    for bom, name in _BOMS.items():
        if data.startswith(bom) and not encoding.lower().startswith("utf-16"):
            raise RawDataError(
                path, f"the file is {name}, expected {encoding}: save it again as UTF-8 (CSV UTF-8)"
            )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        bad = data[err.start : err.start + 1]
        hint = " (this looks like Windows-1252 from Excel)" if bad and 0x80 <= bad[0] <= 0xFF else ""
        raise RawDataError(
            path,
            f"byte {bad!r} at position {err.start} is not valid {encoding}{hint}; "
            "save the file again as UTF-8 (in Excel: 'CSV UTF-8')",
            row=line,
        ) from None
    if not text.strip("\ufeff \r\n\t"):
        raise RawDataError(path, "the file is empty (only a byte-order mark or blank lines); export it again")
    return text


def read_delimited(
    path: Path | str,
    *,
    sep: str,
    encoding: str = "utf-8-sig",
    required: list[str] | tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read a delimited export as text, checking delimiter, field counts and required columns.

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
            f"the header has no {sep!r} delimiter"
            + (f" but uses {found[0]!r}" if found else "")
            + f"; export the file {sep!r}-separated, or correct the delimiter in analysis/codebook.yaml",
            row=1,
        )
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    columns = rows[0]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise RawDataError(path, f"column names {dupes} occur more than once; rename them", row=1)
    body = []
    for i, fields in enumerate(rows[1:], start=2):
        if not fields or fields == [""]:
            continue  # blank line (often the last one)
        if len(fields) != len(columns):
            raise RawDataError(
                path,
                f"has {len(fields)} fields, the header has {len(columns)}; the file may be truncated, "
                f"or a value contains an unquoted {sep!r}",
                row=i,
            )
        body.append(fields + [i])
    frame = _text_frame(body, columns)
    check_required(frame, required, path)
    return frame


def _text_frame(body: list[list], columns: list[str]) -> pd.DataFrame:
    """Rows of text cells plus the row number → a frame of object (text) columns."""
    frame = pd.DataFrame(body, columns=columns + [ROW], dtype=object)
    frame[ROW] = frame[ROW].astype("int64")
    return frame


def read_excel_sheet(path: Path | str, *, sheet: str | int = 0, required=()) -> pd.DataFrame:
    """Read one worksheet as text cells (empty cells become ``""``), header in row 1.

    python-calamine (a Rust reader) instead of openpyxl: the same cells, about ten times faster,
    which matters for a national monitor with hundreds of workbooks.
    """
    from python_calamine import CalamineWorkbook

    path = Path(path)
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as err:  # calamine raises its own error types for a non-workbook
        raise RawDataError(path, f"cannot be opened as an Excel workbook ({err}); save it as .xlsx") from None
    names = wb.sheet_names
    if isinstance(sheet, str) and sheet not in names:
        raise RawDataError(path, f"has no sheet {sheet!r} (sheets: {names}); rename the sheet or fix the codebook")
    title = sheet if isinstance(sheet, str) else names[sheet]
    values = wb.get_sheet_by_name(title).to_python(skip_empty_area=False)
    if not values:
        raise RawDataError(path, f"sheet {title!r} is empty; export it again")
    columns = [_cell_text(c).strip() for c in values[0]]
    while columns and columns[-1] == "":
        columns.pop()  # trailing empty header cells (formatting beyond the table)
    width = len(columns)
    body = []
    for i, cells in enumerate(values[1:], start=2):
        cells = list(cells[:width]) + [""] * (width - len(cells))
        texts = [_cell_text(c) for c in cells]
        if all(t.strip() == "" for t in texts):
            continue
        body.append(texts + [i])
    frame = _text_frame(body, columns)
    check_required(frame, required, path)
    return frame


def sheet_names(path: Path | str) -> list[str]:
    """The worksheet names of a workbook (a clear error if it is not one)."""
    from python_calamine import CalamineWorkbook

    try:
        return list(CalamineWorkbook.from_path(str(path)).sheet_names)
    except Exception as err:  # calamine raises its own error types for a non-workbook
        raise RawDataError(path, f"cannot be opened as an Excel workbook ({err}); save it as .xlsx") from None


def _cell_text(value) -> str:
    """An Excel cell as the text a person would type (45.0 → "45", dates → ISO)."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def read_sav(path: Path | str, *, required=()) -> tuple[pd.DataFrame, object]:
    """Read an SPSS file keeping user-missing codes (e.g. 98, 99) as values, with its metadata.

    ``user_missing=True`` makes pyreadstat return user-defined missing values as their codes
    instead of NaN, so the codebook decides what 98 and 99 mean and the log can show them.
    """
    import pyreadstat

    path = Path(path)
    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    except Exception as err:  # pyreadstat raises ReadstatError and others
        raise RawDataError(path, f"cannot be read as an SPSS .sav file ({err}); export it again from SPSS") from None
    frame = frame.copy()
    frame[ROW] = range(1, len(frame) + 1)
    check_required(frame, required, path)
    return frame, meta


def check_required(frame: pd.DataFrame, required, path: Path) -> None:
    """Every required column is present; otherwise name the missing ones and near matches."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        present = [c for c in frame.columns if c != ROW]
        raise RawDataError(
            path,
            f"required column(s) {missing} missing (columns present: {present}); rename the "
            "column in the export or update the mapping in analysis/codebook.yaml",
            row=1,
            column=missing[0],
        )
