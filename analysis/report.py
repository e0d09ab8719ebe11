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


# --- reproducibility appendix -----------------------------------------------------------------

#: Packages whose versions the appendix lists (the rest are in requirements.lock).
KEY_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "pingouin", "seaborn", "matplotlib",
                "pandera", "pyreadstat", "openpyxl", "papermill", "nbclient", "jupytext",
                "pypandoc-binary", "typst")


def commit() -> str:
    """The git commit of the code (with "+ wijzigingen" when the work tree differs), or "onbekend"."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(config.PROJECT_DIR), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(config.PROJECT_DIR), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "onbekend (geen git)"
    return head + (" + lokale wijzigingen" if dirty else "")


def package_versions() -> pd.DataFrame:
    """Python and the key packages, with the installed version."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    rows = [{"pakket": "Python", "versie": platform.python_version()}]
    for name in KEY_PACKAGES:
        try:
            rows.append({"pakket": name, "versie": version(name)})
        except PackageNotFoundError:
            rows.append({"pakket": name, "versie": "niet geïnstalleerd"})
    return pd.DataFrame(rows)


def input_hashes(out: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every raw input file with its SHA-256 (as recorded by notebook 01), shortened for print."""
    files = provenance(out)["files"]
    return pd.DataFrame({"bestand": list(files), "sha256": [h[:16] + "…" for h in files.values()]})


# --- text blocks and display tables -----------------------------------------------------------

SYNTHETIC_BANNER = """::: {{.callout-warning title="Synthetische data"}}
Alle cijfers, tabellen en figuren in dit rapport zijn berekend uit **synthetische data**: door
de computer gemaakte gegevens die lijken op de echte vragenlijsten en interviews, maar van niemand
afkomstig zijn. Ze dienen om de analyse te bouwen en te controleren. {extra}
:::
"""


def synthetic_banner(synthetic: bool) -> str:
    """Markdown for the banner at the top of the report (empty for real data)."""
    if not synthetic:
        return ""
    return SYNTHETIC_BANNER.format(extra="Trek er geen conclusies uit over de krachtpunten.")


def flow_table(flow: pd.DataFrame) -> pd.DataFrame:
    """The cleaning flow (results/cleaning_flow.csv) with Dutch headers and formatted counts."""
    from analysis import fmt

    names = {s: cfg["name"] for s, cfg in config.study()["sites"].items()}
    out = pd.DataFrame({
        "Bestand": flow["file"],
        "Krachtpunt": flow["site"].map(lambda s: names.get(s, "alle krachtpunten" if s == "alle" else s)),
        "Ontvangen": flow["received"].map(lambda v: fmt.number(v, 0)),
        "Dubbel": flow["duplicates"].map(lambda v: fmt.number(v, 0)),
        "Leeg": flow["out_of_scope"].map(lambda v: fmt.number(v, 0)),
        "Geanalyseerd": flow["kept"].map(lambda v: fmt.number(v, 0)),
    })
    return out


def limitations(synthetic: bool) -> str:
    """The limitations section as Markdown; the synthetic-data caveat comes first when it applies."""
    items = []
    if synthetic:
        items.append(
            "**Synthetische data.** Dit rapport is gemaakt met synthetische gegevens. De uitkomsten "
            "laten zien dat de analyse werkt, niet hoe het met de krachtpunten gaat."
        )
    items += [
        "**Kleine aantallen.** Per krachtpunt zijn zeven bezoekers twee keer geïnterviewd. Met zo "
        "weinig mensen kunnen alleen grote veranderingen met enige zekerheid worden vastgesteld; "
        "kleinere veranderingen kunnen er zijn zonder dat dit onderzoek ze kan aantonen.",
        "**Geen vergelijkingsgroep.** Veranderingen bij bezoekers kunnen ook andere oorzaken hebben "
        "dan het krachtpunt; zonder vergelijkingsgroep is een effect niet vast te stellen.",
        "**Zelfselectie.** Wie de vragenlijst invulde, is niet per se representatief voor de wijk; "
        "de vergelijking met de CBS-cijfers laat zien waar dat te toetsen was en waar niet.",
        "**Kleine cellen.** Aantallen onder de vijf zijn in gepubliceerde tabellen vervangen door "
        "\"<5\" om herleidbaarheid naar personen te voorkomen.",
    ]
    return "\n\n".join(items)
