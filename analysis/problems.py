"""Problems in the raw exports, collected in one pass and reported as one table.

An analyst with a messy export should see every problem at once, not one per run (as pandera's
lazy validation does for schemas). Readers and cleaning add what they find to a
:class:`Problems` collector and carry on as far as they sensibly can (a bad cell is treated as
missing for the rest of the pass, an unreadable file is skipped); the caller then stops with one
:class:`~analysis.readers.RawDataError` listing them all, and writes them as ``problems.csv``
(one row per problem) with ``problems.txt`` (a short summary grouped by file and column).

Columns of ``problems.csv``: ``file``, ``sheet``, ``row`` (as the user counts it: the
spreadsheet row with the header as row 1, or the SPSS case number; empty for the whole file),
``column``, ``value`` (shown safely: :func:`safe_value`), ``problem`` (what is wrong), ``fix``
(how to fix it), ``blocking`` (True: the analysis cannot go on until it is fixed; False: a
warning, the run goes on). Safe repairs are not problems: they go to the cleaning log.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

COLUMNS = ["file", "sheet", "row", "column", "value", "problem", "fix", "blocking"]
#: How many problems an error message lists before pointing to problems.csv.
MESSAGE_LIMIT = 15
_SHEET = re.compile(r"^(?P<file>.+?)\[(?P<sheet>[^\]]*)\]$")
_LONG_DIGITS = re.compile(r"\d{8,}")  # a BSN (9), phone (10) or account number; dates have separators


def describe(text: str, kind: str | None = None) -> str:
    """A safe description of a value that is not shown: its length and what it looks like.

    >>> describe("06-12345678", "phone"), describe("111222333", "bsn"), describe("x" * 34)
    ('[11 tekens, lijkt op telefoonnummer]', '[9 cijfers, lijkt op BSN]', '[34 tekens]')
    """
    from analysis.privacy import SCREEN_KINDS

    text = str(text).strip()
    size = f"{len(text)} cijfers" if text.isdigit() else f"{len(text)} tekens"
    return f"[{size}, lijkt op {SCREEN_KINDS[kind]}]" if kind else f"[{size}]"


def _plain_number(value) -> str:
    """A number as the export meant it: 612345678.0 → "612345678" (not "612345678.0")."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def safe_value(value, *, hidden: str | None = None, limit: int = 30, vocabulary=None, quote: bool = True) -> str:
    """A raw value as it may be shown in a message, problem report or the cleaning log.

    Shown as it is (quoted, unless ``quote`` is False) only when it is in the codebook's
    vocabulary (``vocabulary``: the variable's codes, labels and missing codes; default every
    word of the codebook, :func:`analysis.privacy.vocabulary`), or when it passes the
    identifier screen (:func:`analysis.privacy.screen`), is at most ``limit`` characters and
    has no run of eight or more digits (a BSN or phone number with a typo fails the screen but
    still identifies someone; a count that large never occurs in a form). Otherwise a safe
    description in Dutch: its length and what it looks like (:func:`describe`); the message
    gives the file, row and column to look at. ``hidden``: the reason to show nothing at all
    (a free-text or identifier column).

    >>> safe_value("vrouww"), safe_value("06-12345678"), safe_value("Ik woon hier", hidden="free text")
    ("'vrouww'", '[11 tekens, lijkt op telefoonnummer]', '(free text: not shown)')
    >>> safe_value(612345678.0), safe_value("123456789"), safe_value("NL91 ABNA 0417 1643 00")
    ('[9 cijfers, lijkt op telefoonnummer]', '[9 cijfers]', '[22 tekens, lijkt op IBAN]')
    >>> safe_value("03-03-2025"), safe_value("12-03-1958"), safe_value("weet niet", quote=False), safe_value(None)
    ("'03-03-2025'", '[10 tekens, lijkt op geboortedatum]', 'weet niet', '')
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return ""
    except ImportError:  # pragma: no cover
        pass
    text = _plain_number(value)
    if text.strip() == "":
        return "" if text == "" else (repr(text) if quote else text)
    if hidden:
        return f"({hidden}: not shown)"
    from analysis.privacy import screen
    from analysis.privacy import vocabulary as codebook_vocabulary

    words = codebook_vocabulary() if vocabulary is None else {str(v).strip().casefold() for v in vocabulary}
    shown = repr(text) if quote else text
    if text.strip().casefold() in words:
        return shown
    kind = screen(value if isinstance(value, (int, float)) and not isinstance(value, bool) else text)
    if kind is not None:
        return describe(text, kind)
    from analysis.privacy import date_years

    digits = _LONG_DIGITS.search(re.sub(r"(?<=\d)[\s.\-](?=\d)", "", text)) and not date_years(text)
    if digits or len(text) > limit:
        return describe(text)
    return shown


@dataclass(frozen=True)
class Problem:
    """One problem in a raw file: where it is, what is wrong, and how to fix it."""

    file: str
    problem: str
    fix: str = ""
    row: int | None = None
    column: str | None = None
    value: str = ""
    sheet: str = ""
    blocking: bool = True

    def where(self) -> str:
        """``file X[sheet], row 5, column 'Q3'`` as the messages say it."""
        parts = [f"file {self.file}" + (f"[{self.sheet}]" if self.sheet else "")]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        value = f" (value {self.value})" if self.value and self.value not in self.problem else ""
        fix = f"; {self.fix}" if self.fix else ""
        return f"{self.where()}: {self.problem}{value}{fix}"


def split_sheet(file: str | Path) -> tuple[str, str]:
    """``"interviews.xlsx[T0]"`` → ``("interviews.xlsx", "T0")``; a plain name has no sheet.

    >>> split_sheet("interviews.xlsx[T1]"), split_sheet("/x/DH_bereik.csv")
    (('interviews.xlsx', 'T1'), ('DH_bereik.csv', ''))
    """
    name = Path(str(file)).name if "[" not in str(file) else str(file)
    m = _SHEET.match(name)
    return (Path(m["file"]).name, m["sheet"]) if m else (Path(name).name, "")


@dataclass
class Problems:
    """Collects problems; ``progress`` (e.g. ``print``) gets a line per file read.

    >>> p = Problems()
    >>> p.add("DH_bereik.csv", "unknown value", "add it to the codebook", row=5, column="Q3", value="'vrouww'")
    >>> p.add("LH_bereik.xlsx[Formulieren]", "merged cells B4:B6", "unmerge them", blocking=True)
    >>> len(p), p.blocking_count, p.items[1].sheet
    (2, 2, 'Formulieren')
    """

    items: list[Problem] = field(default_factory=list)
    progress: object = None

    def add(self, file, problem: str, fix: str = "", *, row: int | None = None, column: str | None = None,
            value: str = "", sheet: str = "", blocking: bool = True) -> None:
        """Add one problem; ``file`` may carry its sheet as ``name[sheet]``."""
        name, in_name = split_sheet(file)
        self.items.append(Problem(name, problem, fix, None if row is None else int(row),
                                  None if column is None else str(column), value, sheet or in_name, blocking))

    def add_error(self, err) -> None:
        """Add the problems a :class:`~analysis.readers.RawDataError` carries."""
        self.items.extend(err.problems)

    def attempt(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, or None after adding its RawDataError's problems (a file that
        cannot be read is skipped so that the other files are still checked)."""
        from analysis.readers import RawDataError

        try:
            return fn(*args, **kwargs)
        except RawDataError as err:
            self.add_error(err)
            return None

    def file_read(self, file, rows: int) -> None:
        """Report one file read (the progress line of ``check-raw``)."""
        if self.progress is not None:
            name, sheet = split_sheet(file)
            found = sum(1 for p in self.items if p.file == name and p.sheet == sheet)
            shown = name + (f" [{sheet}]" if sheet else "")
            self.progress(f"  read {shown}: {rows} rows" + (f", {found} problem(s) so far" if found else ""))

    @property
    def blocking_count(self) -> int:
        return sum(p.blocking for p in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def frame(self):
        """The problems as a table (``COLUMNS``), in the order found."""
        import pandas as pd

        rows = [asdict(p) for p in self.items]
        frame = pd.DataFrame(rows, columns=COLUMNS)
        frame["row"] = frame["row"].astype("Int64")
        return frame

    def summary(self) -> str:
        """A few lines per file and column: what kind of problem, how often, in which rows."""
        if not self.items:
            return "No problems found."
        lines = [f"{len(self.items)} problem(s), {self.blocking_count} of which block the analysis:"]
        groups: dict[tuple, dict[tuple, list]] = {}
        for p in self.items:  # one line per file, column and kind of problem (the value left out)
            kind = p.problem.replace(p.value, "…") if p.value else p.problem
            groups.setdefault((p.file, p.sheet), {}).setdefault((p.column, kind, p.blocking), []).append(p)
        for (file, sheet), cols in groups.items():
            lines.append(f"  {file}" + (f" [{sheet}]" if sheet else ""))
            for (column, kind, blocking), ps in cols.items():
                rows = [p.row for p in ps if p.row is not None]
                at = ""
                if rows:
                    shown = ", ".join(map(str, rows[:8])) + (f", … ({len(rows)} rows)" if len(rows) > 8 else "")
                    at = f" — row{'s' if len(rows) > 1 else ''} {shown}"
                values = list(dict.fromkeys(p.value for p in ps if p.value))
                vals = f" (values {', '.join(values[:5])}{', …' if len(values) > 5 else ''})" if len(values) > 1 else \
                    (f" (value {values[0]})" if values and kind != ps[0].problem else "")
                col = f"column {column!r}: " if column else ""
                flag = "" if blocking else " (warning)"
                lines.append(f"    {col}{kind}{at}{vals}{flag}")
                if ps[0].fix:
                    lines.append(f"      fix: {ps[0].fix}")
        return "\n".join(lines)

    def error(self):
        """One :class:`~analysis.readers.RawDataError` listing the blocking problems."""
        from analysis.readers import RawDataError

        return RawDataError.from_problems([p for p in self.items if p.blocking])

    def raise_if_blocking(self) -> None:
        """Stop with every blocking problem at once (nothing is raised for warnings only)."""
        if self.blocking_count:
            raise self.error()

    def finish(self) -> None:
        """The end of a function that made its own collector: warnings are issued as
        :class:`~analysis.readers.RawDataWarning` (never dropped), then the blocking problems raised."""
        import warnings

        from analysis.readers import RawDataWarning

        for p in self.items:
            if not p.blocking:
                warnings.warn(str(p), RawDataWarning, stacklevel=3)
        self.raise_if_blocking()

    def write(self, folder: Path) -> tuple[Path, Path]:
        """Write ``problems.csv`` and ``problems.txt`` into ``folder`` (atomically; empty tables
        too, so an old list never outlives its fix)."""
        from analysis.results import escape_formulas, write_atomic

        folder = Path(folder)
        frame = escape_formulas(self.frame())
        csv = write_atomic(folder / "problems.csv", lambda tmp: frame.to_csv(tmp, index=False))
        text = self.summary() + "\n"
        txt = write_atomic(folder / "problems.txt", lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return csv, txt


def message(problems: list[Problem], limit: int = MESSAGE_LIMIT) -> str:
    """The error text for several problems: a count, then one line each (at most ``limit``)."""
    if len(problems) == 1:
        return str(problems[0])
    files = sorted({p.file for p in problems})
    lines = [f"{len(problems)} problems in the raw data ({len(files)} file{'s' if len(files) > 1 else ''}):"]
    lines += [f"  - {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  … and {len(problems) - limit} more: all are listed in problems.csv "
                     "(python -m analysis check-raw writes it)")
    return "\n".join(lines)
