"""The cleaning log: one row per value or row that cleaning changed or removed.

Columns (STUDY.md section 5): ``file``, ``row`` (as a person sees it in the raw file),
``column``, ``old``, ``new``, ``rule``. Values are stored as text so that one table holds every
kind of change. A row removal has ``column`` = ``"*"`` and ``new`` = ``""``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

COLUMNS = ["file", "row", "column", "old", "new", "rule"]
ROW_REMOVED = "*"


def _text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    return str(value)


@dataclass
class CleaningLog:
    """Collects log entries in memory; :meth:`frame` gives the table.

    Examples
    --------
    >>> log = CleaningLog()
    >>> log.add("DH.csv", 7, "age", "130", None, "age out of range 18-105")
    >>> log.frame()[["row", "old", "new"]].to_dict("records")
    [{'row': 7, 'old': '130', 'new': ''}]
    """

    parts: list[pd.DataFrame] = field(default_factory=list)

    def add(self, file: str, row: int, column: str, old, new, rule: str) -> None:
        """Log one change."""
        self.parts.append(
            pd.DataFrame([[file, int(row), column, _text(old), _text(new), rule]], columns=COLUMNS)
        )

    def add_many(self, file: str, rows, column: str, old, new, rule: str) -> None:
        """Log one change per element (vectorised; ``old``/``new`` may be scalars or sequences)."""
        rows = pd.Series(rows, dtype="int64").reset_index(drop=True)
        if rows.empty:
            return
        def col(v):
            s = pd.Series(v).reset_index(drop=True) if not pd.api.types.is_scalar(v) else pd.Series([v] * len(rows))
            return s.map(_text)
        self.parts.append(
            pd.DataFrame({"file": file, "row": rows, "column": column, "old": col(old), "new": col(new), "rule": rule})[COLUMNS]
        )

    def remove_rows(self, file: str, rows, rule: str) -> None:
        """Log the removal of whole rows (duplicates, out of scope)."""
        self.add_many(file, rows, ROW_REMOVED, "", "", rule)

    def frame(self) -> pd.DataFrame:
        """The log as a table, in the order entries were made."""
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in COLUMNS})
        out = pd.concat(self.parts, ignore_index=True)
        return out.astype({"row": "int64"})

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)
