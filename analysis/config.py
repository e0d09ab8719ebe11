"""Paths, study settings and file hashes, derived from the package location (one place for every path).

Every path can be overridden by the caller (``--raw``/``--out`` on the command line, or the
``KRACHTPUNTEN_RAW``/``KRACHTPUNTEN_OUT`` environment variables that the runner passes to the
report), so a reviewer can point the pipeline at real data outside the repository.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
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

#: The Jupyter kernel the notebooks and report.qmd name (``make env`` registers it in .venv), so
#: that JupyterLab and Quarto pick the project's interpreter, not whatever ``python3`` they find.
KERNEL_NAME = "krachtpunten"
KERNEL_DISPLAY_NAME = "Python (krachtpunten)"
#: The runner and the offline renderer run code in the interpreter that runs them: "python3" is
#: jupyter_client's native kernel, i.e. ``sys.executable`` (the same .venv when run by make).
RUN_KERNEL = "python3"
#: Kernel start arguments for a kernel we start ourselves (nbclient does the same for its own): no
#: IPython history file. Two kernels at once (parallel tests) share ~/.ipython's SQLite file, and
#: IPython then prints "ERROR! Session/line number was not unique in database" into a cell's output.
KERNEL_ARGS = ("--HistoryManager.hist_file=:memory:",)


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


def per_site_detail_max(study_settings: Mapping | None = None) -> int:
    """``analysis.per_site_detail_max`` of study.yaml (checked): most sites that get per-site
    inferential detail (tests, per-site figure panels); read by notebooks 02 and 03.

    >>> per_site_detail_max({"analysis": {"per_site_detail_max": 12}})
    12
    >>> per_site_detail_max() == study()["analysis"]["per_site_detail_max"]
    True
    """
    settings = study() if study_settings is None else study_settings
    value = settings.get("analysis", {}).get("per_site_detail_max")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("analysis/study.yaml analysis: needs per_site_detail_max, a whole number of at least 1 "
                         f"(most sites that get per-site tests and figure panels), not {value!r}.")
    return value


def sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (the one file hash of the project: the runner's fingerprints
    and the provenance record). Here, not in the runner, so that the analysis modules that
    record provenance do not import the runner (its edits would rerun every stage)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
