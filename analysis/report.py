"""What ``report.qmd`` calls: read the results tables and figures the notebooks wrote.

The report does not recompute anything (STUDY.md section 7): every number in it comes from a
table in ``<out>/results/`` and every figure from ``<out>/figures/``. ``<out>`` is the processed
directory the runner passes in ``$KRACHTPUNTEN_OUT``.
"""

from __future__ import annotations

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
    from analysis.results import read_provenance

    record = read_provenance(out)
    if record is None:
        raise FileNotFoundError(f"{config.processed_dir(out) / 'provenance.json'} is missing: run the pipeline first ('make report')")
    return record


# --- reproducibility appendix -----------------------------------------------------------------

#: Packages whose versions the appendix lists (the rest are in requirements.lock).
KEY_PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "pingouin", "seaborn", "matplotlib",
                "pandera", "pyreadstat", "openpyxl", "papermill", "nbclient", "jupytext",
                "pypandoc-binary", "typst")


def version() -> str:
    """The report's version: the analysis package's version (pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _v

    try:
        return _v("krachtpunten-analysis")
    except PackageNotFoundError:
        from analysis import __version__

        return __version__


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

    rows = [{"Pakket": "Python", "Versie": platform.python_version()}]
    for name in KEY_PACKAGES:
        try:
            rows.append({"Pakket": name, "Versie": version(name)})
        except PackageNotFoundError:
            rows.append({"Pakket": name, "Versie": "niet geïnstalleerd"})
    return pd.DataFrame(rows)


def input_hashes(out: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every raw input file with its SHA-256 (as recorded by notebook 01), shortened for print."""
    files = provenance(out)["files"]
    return pd.DataFrame({"Bestand": list(files), "SHA-256 (begin)": [h[:16] + "…" for h in files.values()]})


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


# --- values and display tables read from the results (formatting only, no statistics) ----------

SUPPRESSED = "<5"


def _is_suppressed(x) -> bool:
    return isinstance(x, str) and x.strip().startswith("<")


def num(x, decimals: int = 1) -> str:
    """A results value for the text: Dutch number, or the suppression mark as it is.

    >>> num("<5"), num(3.14159, 2), num("7", 0)
    ('<5', '3,14', '7')
    """
    from analysis import fmt

    if _is_suppressed(x):
        return str(x).strip()
    return fmt.number(float(x), decimals)


def count(x) -> str:
    """A count of persons for running text: "minder dan vijf" where the table shows "<5".

    >>> count("<5"), count(14.0)
    ('minder dan vijf', '14')
    """
    return "minder dan vijf" if _is_suppressed(x) else num(x, 0)


def p(x) -> str:
    """A p-value for the text ("< 0,001", "0,046"), or the suppression mark."""
    from analysis import fmt

    return str(x).strip() if _is_suppressed(x) else fmt.pvalue(float(x))


def summary(name: str, out: str | os.PathLike | None = None) -> dict:
    """A ``*_summary`` results table as ``{key: value}`` (numbers as float, "<5" kept as text)."""
    table = result(name, out)
    out_: dict = {}
    for key, value in zip(table["key"], table["value"]):
        try:
            out_[key] = float(value)
        except (TypeError, ValueError):
            out_[key] = value
    return out_


def summary_detail(name: str, key: str, out: str | os.PathLike | None = None) -> str:
    """The part of a summary row's label after the colon (e.g. which reason was the top one)."""
    table = result(name, out)
    label = table.loc[table["key"] == key, "label"]
    if label.empty:
        raise KeyError(f"{key!r} is not in results/{name}.csv")
    return str(label.iloc[0]).rsplit(": ", 1)[-1]


def _ci(est, low, high, decimals: int) -> str:
    if any(_is_suppressed(v) for v in (est, low, high)):
        return SUPPRESSED
    from analysis import fmt

    return fmt.estimate_ci(float(est), float(low), float(high), decimals)


def _mean_sd(mean, sd, decimals: int) -> str:
    if _is_suppressed(mean) or _is_suppressed(sd):
        return SUPPRESSED
    from analysis import fmt

    return fmt.mean_sd(float(mean), float(sd), decimals)


#: Short prefixes for outcome labels in wide tables (explained in the table caption).
INSTRUMENT_PREFIX = {"pg": "PG: ", "zrm": "ZRM: "}


def paired_outcome_table(changes: pd.DataFrame, scope: str = "all") -> pd.DataFrame:
    """Table of changes per outcome (results/paired_changes.csv, one scope) for the report."""
    rows = changes[changes["scope"] == scope].sort_values("order")
    dec = rows["instrument"].map({"who5": 1}).fillna(2).astype(int)
    prefix = rows["instrument"].map(INSTRUMENT_PREFIX).fillna("")
    return pd.DataFrame({
        "Uitkomst": prefix + rows["label_short"],
        "n": rows["n_pairs"].map(lambda v: num(v, 0)),
        "T0 gem. (SD)": [_mean_sd(m, s, d) for m, s, d in zip(rows["mean_t0"], rows["sd_t0"], dec)],
        "T1 gem. (SD)": [_mean_sd(m, s, d) for m, s, d in zip(rows["mean_t1"], rows["sd_t1"], dec)],
        "Verandering (95%-BI)": [_ci(e, lo, hi, d) for e, lo, hi, d in
                                 zip(rows["mean_change"], rows["mean_change_ci_low"], rows["mean_change_ci_high"], dec)],
        "dz (95%-BI)": [_ci(e, lo, hi, 2) for e, lo, hi in zip(rows["dz"], rows["dz_ci_low"], rows["dz_ci_high"])],
        "p t-toets (Holm)": rows["p_t_holm"].map(p),
        "p Wilcoxon (Holm)": rows["p_wilcoxon_holm"].map(p),
    })


def mixed_model_table(mm: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """Sensitivity analysis: wave effect of the mixed model next to the paired mean change."""
    info = changes[changes["scope"] == "all"].set_index("outcome")
    mm = mm.assign(_o=mm["outcome"].map(info["order"])).sort_values("_o")
    short = mm["outcome"].map(info["instrument"]).map(INSTRUMENT_PREFIX).fillna("") + mm["outcome"].map(info["label_short"])
    return pd.DataFrame({
        "Uitkomst": short,
        "Gepaarde verandering": mm["paired_mean_change"].map(lambda v: num(v, 2)),
        "Gemengd model: T1 − T0 (95%-BI)": [_ci(e, lo, hi, 2) for e, lo, hi in zip(mm["estimate"], mm["ci_low"], mm["ci_high"])],
        "Personen": mm["n_persons"].map(lambda v: num(v, 0)),
    })


def themes_table(themes: pd.DataFrame, group: str) -> pd.DataFrame:
    """Persons mentioning each code at T0 and T1, all sites (results/paired_themes.csv)."""
    sub = themes[(themes["site"] == "alle") & (themes["code_group"] == group)]

    def cell(r):
        if _is_suppressed(r["n_persons"]):
            return SUPPRESSED
        return f"{num(r['n_persons'], 0)} ({num(r['pct_persons'], 0)}%)"

    sub = sub.assign(cell=sub.apply(cell, axis=1))
    wide = sub.pivot_table(index="label", columns="wave", values="cell", aggfunc="first", sort=False)
    n = sub.groupby("wave")["n_interviewed"].first()
    wide = wide.reset_index().rename(columns={"label": "Code"})
    return wide.rename(columns={w: f"{w} (n = {num(n[w], 0)})" for w in n.index})


def cooccurrence_table(co: pd.DataFrame, top: int = 8) -> pd.DataFrame:
    """The most frequent mechanism × change combinations at T1 (suppressed ones left out)."""
    shown = co[~co["n_both"].map(_is_suppressed)].copy()
    shown["_n"] = pd.to_numeric(shown["n_both"], errors="coerce")
    shown["_lift"] = pd.to_numeric(shown["lift"], errors="coerce")
    shown = shown.sort_values(["_n", "_lift"], ascending=[False, False]).head(top)
    return pd.DataFrame({
        "Mechanisme": shown["mechanism_label"],
        "Verandering": shown["change_label"],
        "Personen met beide": shown["n_both"].map(lambda v: num(v, 0)),
        "% van wie de verandering noemt": shown["pct_change_with_mechanism"].map(lambda v: num(v, 0)),
        "Lift": shown["lift"].map(lambda v: num(v, 2)),
    })


def rci_sentence(rci: pd.DataFrame) -> str:
    """One sentence on reliable change for the outcomes where it could be computed."""
    done = rci[rci["status"] == "computed"]
    parts = []
    for outcome, sub in done.groupby("outcome", sort=False):
        counts = dict(zip(sub["category"], sub["n"]))
        parts.append(
            f"Bij {sub['label'].iloc[0]} verbeterden {count(counts.get('improved', 0))} personen betrouwbaar, "
            f"bleven {count(counts.get('unchanged', 0))} gelijk en gingen {count(counts.get('worse', 0))} "
            f"betrouwbaar achteruit (drempel {num(sub['reliable_change_threshold'].iloc[0], 1)} punten)."
        )
    n_not = rci.loc[rci["status"] != "computed", "outcome"].nunique()
    if n_not:
        parts.append(
            f"Voor de overige {n_not} uitkomsten is geen betrouwbaarheid gevonden die we konden "
            "controleren; daarvoor is de index niet berekend."
        )
    return " ".join(parts)


def table1_display(display: pd.DataFrame, site: str = "all") -> pd.DataFrame:
    """Table 1 (results/reach_table1_display.csv) for one site, without the site columns."""
    sub = display[display["site"] == site].drop(columns=["site", "Krachtpunt"])
    return sub.fillna("")


def not_compared_table(nc: pd.DataFrame) -> pd.DataFrame:
    """Which comparisons with CBS could not be made, grouped by reason (one row per reason)."""
    first = nc.drop_duplicates(["site", "variable", "level"])
    label = first["variable_label"].str.cat(first["level_label"].fillna("").map(lambda v: f" {v}" if v else ""))
    first = first.assign(_what=label)
    rows = []
    for reason, sub in first.groupby("reason_nl", sort=False):
        per_site = [f"{site}: {', '.join(dict.fromkeys(g['_what']))}" for site, g in sub.groupby("site_label", sort=False)]
        rows.append({"Niet vergeleken": "; ".join(per_site), "Waarom niet": reason})
    return pd.DataFrame(rows)
