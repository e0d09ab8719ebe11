"""Paths and study settings, derived from the package location (one place for every path).

Every path can be overridden by the caller (``--raw``/``--out`` on the command line, or the
``KRACHTPUNTEN_RAW``/``KRACHTPUNTEN_OUT`` environment variables that the runner passes to the
report), so a reviewer can point the pipeline at real data outside the repository.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
NOTEBOOK_DIR = PROJECT_DIR / "notebooks"
RAW_DIR = PROJECT_DIR / "data" / "raw"
PROCESSED_DIR = PROJECT_DIR / "data" / "processed"
REFERENCE_DIR = PROJECT_DIR / "data" / "reference"
OUTPUT_DIR = PROJECT_DIR / "_output"
REPORT_QMD = PROJECT_DIR / "report.qmd"
CODEBOOK_FILE = PACKAGE_DIR / "codebook.yaml"
STUDY_FILE = PACKAGE_DIR / "study.yaml"

ENV_RAW = "KRACHTPUNTEN_RAW"
ENV_OUT = "KRACHTPUNTEN_OUT"


def raw_dir(override: str | os.PathLike | None = None) -> Path:
    """The raw-data directory: the argument, else ``$KRACHTPUNTEN_RAW``, else ``data/raw``."""
    return Path(override or os.environ.get(ENV_RAW) or RAW_DIR).resolve()


def processed_dir(override: str | os.PathLike | None = None) -> Path:
    """The processed-data directory: the argument, else ``$KRACHTPUNTEN_OUT``, else ``data/processed``."""
    return Path(override or os.environ.get(ENV_OUT) or PROCESSED_DIR).resolve()


def results_dir(out: str | os.PathLike | None = None) -> Path:
    """Where every number the report shows is written, as tidy tables."""
    return processed_dir(out) / "results"


def figures_dir(out: str | os.PathLike | None = None) -> Path:
    """Where the notebooks write the report's figures."""
    return processed_dir(out) / "figures"


@lru_cache(maxsize=None)
def _load_study(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def study(path: str | os.PathLike | None = None) -> dict:
    """Study settings (sites, thresholds, seeds) from ``analysis/study.yaml``.

    >>> sorted(study()["sites"])[:3]
    ['DH', 'LH', 'PS']
    """
    return _load_study(str(path or STUDY_FILE))
