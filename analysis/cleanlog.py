"""The cleaning log: one row per value or row that cleaning changed or removed.

Columns (STUDY.md section 5): ``file``, ``row`` (as a person sees it in the raw file),
``column``, ``old``, ``new``, ``rule``. Values are stored as text so that one table holds every
kind of change. A row removal has ``column`` = ``"*"`` and ``new`` = ``""``.

``old`` and ``new`` go through :func:`analysis.problems.safe_value` (unquoted), as messages do:
a value of the codebook's vocabulary, or a short one that passes the identifier screen, is kept
as it is; anything else (a phone number typed into the age column, a birth date in the date
column, a long unparseable cell) is logged as a description such as ``[9 cijfers, lijkt op
BSN]``, and the file, row and column say where to look.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COLUMNS = ["file", "row", "column", "old", "new", "rule"]
ROW_REMOVED = "*"


def _text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    return str(value)


def _safe(values: np.ndarray) -> np.ndarray:
    """``safe_value`` of each logged text, computed once per distinct value."""
    from analysis.problems import safe_value

    cache: dict[str, str] = {}
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v not in cache:
            cache[v] = safe_value(v, quote=False) if v != "" else ""
        out[i] = cache[v]
    return out


@dataclass
class CleaningLog:
    """Collects log entries in memory; :meth:`frame` gives the table.

    Entries are kept as column arrays and assembled once, so logging thousands of changes
    costs no more than building one table.

    Examples
    --------
    >>> log = CleaningLog()
    >>> log.add("DH.csv", 7, "age", "130", None, "age out of range 18-105")
    >>> log.add("DH.csv", 8, "age", "0612345678", None, "not a number")
    >>> log.frame()[["row", "old", "new"]].to_dict("records")
    [{'row': 7, 'old': '130', 'new': ''}, {'row': 8, 'old': '[10 cijfers, lijkt op telefoonnummer]', 'new': ''}]
    """

    parts: list[dict] = field(default_factory=list)

    def add(self, file: str, row: int, column: str, old, new, rule: str) -> None:
        """Log one change."""
        self.add_many(file, [row], column, [old], [new], rule)

    def add_many(self, file, rows, column: str, old, new, rule: str) -> None:
        """Log one change per element. ``file``, ``old`` and ``new`` may be scalars or sequences
        aligned with ``rows`` (a sequence of files when several files are cleaned together)."""
        rows = np.asarray(pd.Series(rows, dtype="int64"))
        n = len(rows)
        if n == 0:
            return

        def col(v):
            if pd.api.types.is_scalar(v) or v is None:
                return np.full(n, _text(v), dtype=object)
            values = np.asarray(pd.Series(v).reset_index(drop=True).map(_text), dtype=object)
            if len(values) != n:
                raise ValueError(f"log entry: {len(values)} values for {n} rows")
            return values

        self.parts.append({"file": col(file), "row": rows, "column": np.full(n, column, dtype=object),
                           "old": _safe(col(old)), "new": _safe(col(new)), "rule": np.full(n, rule, dtype=object)})

    def remove_rows(self, file, rows, rule: str) -> None:
        """Log the removal of whole rows (duplicates, out of scope)."""
        self.add_many(file, rows, ROW_REMOVED, "", "", rule)

    def frame(self) -> pd.DataFrame:
        """The log as a table, in the order entries were made."""
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "str") for c in COLUMNS})
        data = {c: np.concatenate([p[c] for p in self.parts]) for c in COLUMNS}
        out = pd.DataFrame(data)
        return out.astype({"row": "int64", **{c: object for c in COLUMNS if c != "row"}})

    def __len__(self) -> int:
        return sum(len(p["row"]) for p in self.parts)
