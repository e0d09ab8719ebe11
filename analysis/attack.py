"""The disclosure attack on a folder of published tables (``check-privacy`` and the attack test).

Reads every ``<out>/results/*.csv`` as published, lets each module that publishes tables declare
their counts and relations (:func:`analysis.clean.flow_ledger` for the cleaning and interview
flows, :func:`analysis.reach.ledger` for notebook 02, :func:`analysis.changes.ledger` for
notebook 03), merges them into one ledger (the same count has the same key in every table, so
cross-table arithmetic is part of the attack) and solves, for every "<5", the attacker's minimum
and maximum (:func:`analysis.stats.disclosure.attack`), with and without the marks' meaning. A
"<5" is protected when neither attacker narrows it (the rule is in that module's docstring).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from analysis import config
from analysis.stats import disclosure

#: Which module declares the ledger of which published tables (by file-name prefix).
LEDGERS = (
    (("cleaning_flow", "interview_flow"), "analysis.clean", "flow_ledger"),
    (("reach_",), "analysis.reach", "ledger"),
    (("paired_",), "analysis.changes", "ledger"),
)


def read_published(results_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Every results table of a folder as published: numbers, marks and text as written."""
    folder = Path(results_dir)
    return {p.stem: pd.read_csv(p, keep_default_na=False, na_values=[""])
            for p in sorted(folder.glob("*.csv"))}


def published_ledger(tables: dict[str, pd.DataFrame], min_cell: int | None = None) -> disclosure.Ledger:
    """One ledger of all the published tables given (the attacker's view)."""
    import importlib

    k = int(config.study()["analysis"]["min_cell"]) if min_cell is None else int(min_cell)
    led = disclosure.Ledger(min_cell=k)
    for prefixes, module, func in LEDGERS:
        part = {name: t for name, t in tables.items() if name.startswith(prefixes)}
        if part:
            led.merge(getattr(importlib.import_module(module), func)(part, k))
    return led


def attack_outputs(out_dir: str | os.PathLike | None = None, *, min_cell: int | None = None) -> pd.DataFrame:
    """The attacker's interval for every hidden cell of ``<out>/results/`` (one row each).

    Columns: ``file`` (the tables showing the cell), ``key``, ``mark``, ``low``, ``high``,
    ``low_unmarked``, ``high_unmarked``, ``protected`` (True/False for a "<5", empty for "x"),
    ``where`` (table, row and column of each place it is shown).
    """
    results = config.results_dir(out_dir)
    if not results.is_dir():
        raise FileNotFoundError(f"{results} does not exist: run the pipeline first, or give --out.")
    tables = read_published(results)
    led = published_ledger(tables, min_cell)
    out = disclosure.attack(led)
    out.insert(0, "file", out["where"].map(_files))
    return out


def _files(where: str) -> str:
    names = [w.split(":")[0].split(" ")[0] for w in str(where).split("; ") if w]
    return ", ".join(dict.fromkeys(n for n in names if n))
