"""Writing results tables and figures: one place for where they go and how.

* ``<out>/results/<name>.csv`` — publishable tables (small cells already suppressed); every
  number the report shows comes from one of these. Unrounded numbers; formatting happens in
  the report through :mod:`analysis.fmt`.
* ``<out>/internal/<name>.csv`` — unsuppressed tables for the analysts; never published.
* ``<out>/figures/<name>.png`` — figures; when the data are synthetic each carries a visible
  "synthetische data" note (STUDY.md section 3: labelled everywhere it is shown).

Writes are atomic (temporary file, then rename), so a failed run never leaves half a table.
CSV cells that a spreadsheet would run as a formula are escaped (:func:`escape_formulas`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from analysis import config

#: Text stamped on every figure made from synthetic data.
SYNTHETIC_NOTE = "synthetische data"
#: Figure resolution: sharp in the PDF, small enough for a self-contained HTML.
DPI = 150


def internal_dir(out: str | os.PathLike | None = None) -> Path:
    """Unsuppressed tables for analysts (not publishable)."""
    return config.processed_dir(out) / "internal"


def read_provenance(out: str | os.PathLike | None = None) -> dict | None:
    """The provenance record notebook 01 writes (synthetic or real, input hashes); None if absent."""
    path = config.processed_dir(out) / "provenance.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def is_synthetic(out: str | os.PathLike | None = None) -> bool:
    """Whether the processed data were made from synthetic raw data (provenance of notebook 01).

    Without a provenance record we cannot tell, and the safe label for a figure is "synthetic".
    """
    record = read_provenance(out)
    return True if record is None else bool(record.get("synthetic", True))


def write_atomic(path: Path, write) -> Path:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it into place, so a
    crash never leaves a half-written output (the one place every output goes through).

    The temporary file is hidden (``.name.tmp.ext``: the runner never takes it for a stage's input
    or output) and keeps the extension, for writers that choose the format by it. When ``write``
    raises, the temporary file is removed and ``path`` keeps its old content; one left by a killed
    process is simply overwritten by the next write. ``os.replace`` is atomic for other processes;
    there is no fsync, so this guards against a killed run, not against a power cut.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_atomic(folder / "a.txt", lambda tmp: tmp.write_text("new"))
    >>> def fail(tmp):
    ...     tmp.write_text("half")
    ...     raise OSError("disk full")
    >>> write_atomic(folder / "a.txt", fail)
    Traceback (most recent call last):
    OSError: disk full
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('new', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def temporary_path(path: Path) -> Path:
    """Where :func:`write_atomic` writes ``path`` before moving it into place.

    >>> temporary_path(Path("out/report.pdf")).as_posix()
    'out/.report.pdf.tmp.pdf'
    """
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{path.suffix}")


#: Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?%?")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which every text cell that starts with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return gets a leading ``'``, so that Excel or LibreOffice shows it as
    text instead of running it as a formula (OWASP, CSV Injection).

    Numbers are left alone, negative ones included: a number-typed cell is written as a
    number, and a text cell that is just a number ("-0.5", "+3", "-12,5%") is no formula
    either, so readers of the CSV still get the number. Column names are escaped the same way.

    >>> df = pd.DataFrame({"label": ["=HYPERLINK(1)", "@SUM(A1)", "-x", "gewoon"], "v": [-1.5, 2, 3, -4]})
    >>> escape_formulas(df)["label"].tolist(), escape_formulas(df)["v"].tolist()
    (["'=HYPERLINK(1)", "'@SUM(A1)", "'-x", 'gewoon'], [-1.5, 2.0, 3.0, -4.0])
    >>> escape_formulas(pd.DataFrame({"d": ["-0.5", "+3", "-1+2"]}))["d"].tolist()
    ['-0.5', '+3', "'-1+2"]
    """
    def esc(v):
        if isinstance(v, str) and v.startswith(FORMULA_START) and not _NUMBER_TEXT.fullmatch(v):
            return "'" + v
        return v

    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            values = s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s
            if values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START)).any():
                out[col] = values.map(esc)
    out.columns = [esc(c) if isinstance(c, str) else c for c in out.columns]
    return out


def _atomic_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame = escape_formulas(frame)
    return write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))


def write_result(frame: pd.DataFrame, name: str, out: str | os.PathLike | None = None, *, internal: bool = False) -> Path:
    """Write a results table as CSV (UTF-8) under ``results/`` (or ``internal/``)."""
    if not name or "/" in name or name.endswith(".csv"):
        raise ValueError(f"name {name!r} must be a bare table name such as 'reach_table1'")
    folder = internal_dir(out) if internal else config.results_dir(out)
    return _atomic_csv(frame, folder / f"{name}.csv")


def save_figure(fig, name: str, out: str | os.PathLike | None = None, *, synthetic: bool | None = None) -> Path:
    """Save a matplotlib figure as PNG under ``figures/``, with the synthetic-data note if needed."""
    if not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"name {name!r} must be a bare figure name such as 'reach_forest'")
    synthetic = is_synthetic(out) if synthetic is None else synthetic
    if synthetic:
        # below the figure's own area: bbox_inches="tight" grows the image to include it, so the
        # note can never overlap an axis label or legend
        fig.text(0.995, -0.01, SYNTHETIC_NOTE, ha="right", va="top", fontsize=8, color="#555555", style="italic")
    # fixed metadata so that the same figure gives the same bytes (determinism check, issue 8)
    return write_atomic(config.figures_dir(out) / f"{name}.png",
                        lambda tmp: fig.savefig(tmp, dpi=DPI, bbox_inches="tight", metadata={"Software": None}))
