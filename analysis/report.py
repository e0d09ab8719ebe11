"""What ``report.qmd`` calls: read the results tables and figures the notebooks wrote.

The report does not recompute anything (STUDY.md section 7): every number in it comes from a
table in ``<out>/results/`` and every figure from ``<out>/figures/``. ``<out>`` is the processed
directory the runner passes in ``$KRACHTPUNTEN_OUT``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from analysis import config


def results_path(name: str, out: str | os.PathLike | None = None) -> Path:
    """Path of results table ``name`` (without extension); a clear error if the notebooks have not made it."""
    path = config.results_dir(out) / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"results table {path} is missing: run the pipeline first ('make report' or "
            f"'python -m analysis run --out {config.processed_dir(out)}')"
        )
    return path


def result(name: str, out: str | os.PathLike | None = None) -> pd.DataFrame:
    """A results table as written by a notebook (CSV, UTF-8, unrounded numbers)."""
    return pd.read_csv(results_path(name, out), keep_default_na=False, na_values=[""])


def figure_path(name: str, out: str | os.PathLike | None = None) -> Path:
    """Path of figure ``name`` (PNG) in ``<out>/figures``."""
    path = config.figures_dir(out) / f"{name}.png"
    if not path.is_file():
        raise FileNotFoundError(f"figure {path} is missing: run the pipeline first ('make report')")
    return path


def figure(name: str, out: str | os.PathLike | None = None):
    """The figure as an IPython image, so a labelled chunk makes it a numbered figure."""
    from IPython.display import Image

    return Image(filename=str(figure_path(name, out)))


def md_table(df: pd.DataFrame, *, index: bool = False):
    """A table as Markdown (pipe table): Quarto and the offline renderer both turn it into a
    numbered table with the chunk's ``tbl-cap``, in HTML and in Typst alike.

    Numbers should already be formatted strings (:mod:`analysis.fmt`); columns whose cells all
    look numeric are right-aligned.
    """
    from IPython.display import Markdown

    return Markdown(to_markdown(df, index=index))


def to_markdown(df: pd.DataFrame, *, index: bool = False) -> str:
    """Pipe-table text of ``df`` with numeric-looking columns right-aligned.

    >>> print(to_markdown(pd.DataFrame({"groep": ["a", "b"], "n": ["12", "<5"]})))
    | groep   |   n |
    |:--------|----:|
    | a       |  12 |
    | b       |  <5 |
    """
    frame = df.reset_index() if index else df
    align = ["right" if _numeric_like(frame[c]) else "left" for c in frame.columns]
    return frame.to_markdown(index=False, colalign=align, disable_numparse=True)


def _numeric_like(col: pd.Series) -> bool:
    text = col.astype(str).str.strip()
    pattern = r"^(?:<\s?\d+|[-−+]?\d[\d.\s]*(?:,\d+)?\s?%?(?:\s?\(.*\))?|–|-|)$"
    return bool(len(text)) and bool(text.str.fullmatch(pattern).all())


def provenance(out: str | os.PathLike | None = None) -> dict:
    """The provenance record notebook 01 writes: synthetic or real, input file hashes."""
    path = config.processed_dir(out) / "provenance.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run the pipeline first ('make report')")
    return json.loads(path.read_text(encoding="utf-8"))
