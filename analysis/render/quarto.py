"""The Quarto path: when ``quarto`` is on the PATH it renders the report itself (STUDY.md §8).

Kept thin on purpose: we cannot run Quarto here, so the tests check the commands it is given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from analysis.render.pandoc import RenderError

#: our format names → Quarto's ``--to`` (the PDF is made by Typst, no LaTeX) and the file it writes
QUARTO_FORMATS = {"html": ("html", "html"), "pdf": ("typst", "pdf")}


def quarto_path() -> str | None:
    """The ``quarto`` executable, or None when it is not installed."""
    return shutil.which("quarto")


def quarto_commands(qmd: Path, output_dir: Path, formats, quarto: str = "quarto") -> list[list[str]]:
    """One ``quarto render`` command per format.

    >>> quarto_commands(Path("report.qmd"), Path("out"), ["pdf"])
    [['quarto', 'render', 'report.qmd', '--to', 'typst', '--output-dir', 'out']]
    """
    return [[quarto, "render", str(qmd), "--to", QUARTO_FORMATS[f][0], "--output-dir", str(output_dir)]
            for f in formats]


def render_with_quarto(qmd: Path, output_dir: Path, formats, env: dict | None = None) -> dict[str, Path]:
    """Run Quarto with this interpreter as its Python (``QUARTO_PYTHON``) and the caller's env."""
    quarto = quarto_path()
    if quarto is None:
        raise RenderError("engine 'quarto' was asked for but 'quarto' is not on the PATH; "
                          "install Quarto or use engine='offline'")
    run_env = {**os.environ, **{k: str(v) for k, v in (env or {}).items()}, "QUARTO_PYTHON": sys.executable}
    # Quarto writes into a hidden folder beside the outputs; each file is moved into place when
    # it is complete, so a killed render leaves the previous report (as the offline path does)
    staging = output_dir / f".{qmd.stem}.quarto.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    written = {}
    try:
        for fmt, cmd in zip(formats, quarto_commands(qmd, staging, formats, quarto)):
            result = subprocess.run(cmd, cwd=qmd.parent, env=run_env, capture_output=True, text=True)
            if result.returncode != 0:
                raise RenderError(f"'{' '.join(cmd)}' failed (exit {result.returncode}):\n{result.stderr.strip()}")
            name = f"{qmd.stem}.{QUARTO_FORMATS[fmt][1]}"
            if not (staging / name).is_file():
                raise RenderError(f"quarto finished but {output_dir / name} was not written")
            os.replace(staging / name, output_dir / name)
            written[fmt] = output_dir / name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
