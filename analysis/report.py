"""What ``report.qmd`` calls: read the results tables and figures the notebooks wrote.

The report does not recompute anything (STUDY.md section 7): every number in it comes from a
table in ``<out>/results/`` and every figure from ``<out>/figures/``. ``<out>`` is the processed
directory the runner passes in ``$KRACHTPUNTEN_OUT``.
"""

from __future__ import annotations

import os
import re
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


def md(text: str):
    """Text with Markdown (emphasis) for an inline `` `{python} …` ``: Quarto escapes the Markdown
    in a str's value (it shows ``*dz*`` as typed), not in a Markdown object's."""
    from IPython.display import Markdown

    return Markdown(text)


def md_table(df: pd.DataFrame, *, index: bool = False):
    """A table as Markdown (pipe table): Quarto and the offline renderer both turn it into a
    numbered table with the chunk's ``tbl-cap``, in HTML and in Typst alike. The layout (numbers
    on one line, widths from the content) is :func:`analysis.tables.to_markdown`.

    Numbers should already be formatted strings (:mod:`analysis.fmt`); columns whose cells all
    look numeric are right-aligned.
    """
    from IPython.display import Markdown

    from analysis import tables

    return Markdown(tables.to_markdown(df.reset_index() if index else df))


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

SYNTHETIC_TEXT = """Alle cijfers, tabellen en figuren in dit rapport zijn berekend uit **synthetische data**: door
de computer gemaakte gegevens die lijken op de echte vragenlijsten en interviews, maar van niemand
afkomstig zijn. Ze dienen om de analyse te bouwen en te controleren. Trek er geen conclusies uit
over de krachtpunten."""

#: A callout in HTML; in the PDF the same text in a Typst box, because Quarto's Typst callouts
#: import the Typst package @preview/fontawesome, which a machine without internet cannot fetch.
SYNTHETIC_BANNER = """::: {{.content-visible when-format="html"}}
::: {{.callout-warning title="Synthetische data"}}
{text}
:::
:::

::: {{.content-visible when-format="typst"}}
```{{=typst}}
#block(width: 100%, inset: 8pt, radius: 2pt, fill: rgb("#fcefdc"), stroke: (left: 3pt + rgb("#f0ad4e")))[
```

**Synthetische data.** {text}

```{{=typst}}
]
```
:::
"""


def synthetic_banner(synthetic: bool) -> str:
    """Markdown for the banner at the top of the report (empty for real data)."""
    return SYNTHETIC_BANNER.format(text=SYNTHETIC_TEXT) if synthetic else ""


def _site_names() -> dict:
    """``{site code: Dutch name}`` from analysis/study.yaml."""
    return {s: cfg["name"] for s, cfg in config.study()["sites"].items()}


#: ``site`` of the flow rows of files that are not one site's reach export (proxy, site questionnaire).
FLOW_ALL = "alle"


def flow_table(flow: pd.DataFrame) -> pd.DataFrame:
    """The cleaning flow (results/cleaning_flow.csv) with Dutch headers and formatted counts.

    Every row stays, also a site's file that delivered no forms (0 received, 0 analysed);
    :func:`empty_sites_sentence` says it in words under the table.
    Counts are shown as published (``results/cleaning_flow.csv``: "<5" and "x" where the flow
    writer, :func:`analysis.clean.publish_flow`, hid them).

    >>> flow = pd.DataFrame({"file": ["DH_bereik.csv"], "site": ["DH"], "received": ["x"],
    ...                      "duplicates": ["<5"], "out_of_scope": ["<5"], "kept": [159]})
    >>> flow_table(flow).iloc[0, 2:].tolist()
    ['x', '<5', '<5', '159']
    """
    names = _site_names()
    out = pd.DataFrame({
        "Bestand": flow["file"],
        "Krachtpunt": flow["site"].map(lambda s: names.get(s, "alle krachtpunten" if s == FLOW_ALL else s)),
        "Ontvangen": flow["received"].map(lambda v: num(v, 0)),
        "Dubbel": flow["duplicates"].map(lambda v: num(v, 0)),
        "Leeg": flow["out_of_scope"].map(lambda v: num(v, 0)),
        "Geanalyseerd": flow["kept"].map(lambda v: num(v, 0)),
    })
    return out


def _visible_sum(values) -> float | None:
    """The sum of published counts when every one is shown, else None (a sum over a hidden
    cell would publish what the table hides)."""
    values = list(values)
    if any(_is_suppressed(v) for v in values):
        return None
    return float(sum(float(v) for v in values))


def flow_sentence(flow: pd.DataFrame) -> str:
    """The methods' sentence on received, removed and analysed reach forms (results/cleaning_flow.csv).

    A total is given only when every file's count is shown; otherwise the sentence points to the
    table, so that no hidden count is recomputed from a total (issue 17).

    >>> flow = pd.DataFrame({"file": ["a.csv", "b.csv"], "site": ["DH", "LH"], "received": [20, 30],
    ...                      "duplicates": [0, 0], "out_of_scope": [0, 5], "kept": [20, 25]})
    >>> flow_sentence(flow)
    'Van de 50 ontvangen formulieren zijn er 5 als dubbel of leeg verwijderd; 45 zijn geanalyseerd.'
    >>> flow = flow.astype(object)
    >>> flow.loc[1, ["received", "duplicates", "out_of_scope"]] = ["x", "<5", "x"]
    >>> flow_sentence(flow)
    'Van de ontvangen formulieren is een deel als dubbel of leeg verwijderd (per bestand in de tabel hieronder, waar een klein aantal niet gepubliceerd is); 45 zijn geanalyseerd.'
    """
    files = flow[flow["site"] != FLOW_ALL]
    received = _visible_sum(files["received"])
    removed = _visible_sum([*files["duplicates"], *files["out_of_scope"]])
    kept = _visible_sum(files["kept"])
    text = f"Van de {num(received, 0)} ontvangen formulieren" if received is not None else "Van de ontvangen formulieren"
    if removed is not None:
        text += f" zijn er {num(removed, 0)} als dubbel of leeg verwijderd"
    else:
        text += (" is een deel als dubbel of leeg verwijderd (per bestand in de tabel hieronder, waar een klein "
                 "aantal niet gepubliceerd is)")
    if kept is not None:
        return text + f"; {num(kept, 0)} zijn geanalyseerd."
    return text + "; de rest is geanalyseerd."


def log_summary(log: pd.DataFrame, min_cell: int | None = None) -> pd.DataFrame:
    """Notebook 01's view of the cleaning log: log rows per file and rule, as it may be shown.

    Removed rows (duplicates, empty forms; ``column`` "*") are left out: their numbers are the
    flow table's, protected there, and a count here would give a hidden one back. The other
    counts of 1 to ``min_cell - 1`` read "<5" (issue 17). The full log stays in
    ``cleaning_log.csv``.

    >>> log = pd.DataFrame({"file": ["a.csv"] * 7, "column": ["*", "age", "age", "gender", "gender", "gender", "gender"],
    ...                     "rule": ["duplicate form: removed"] + ["out of range"] * 2 + ["spelling"] * 4})
    >>> log_summary(log, 5).values.tolist()
    [['a.csv', 'out of range', '<5'], ['a.csv', 'spelling', '<5']]
    """
    from analysis import fmt
    from analysis.cleanlog import ROW_REMOVED
    from analysis.stats import disclosure

    k = _min_cell() if min_cell is None else int(min_cell)
    kept = log[log["column"] != ROW_REMOVED]
    n = kept.groupby(["file", "rule"], sort=True).size().rename("rijen").reset_index()
    n["rijen"] = n["rijen"].map(lambda v: disclosure.small_mark(k) if 0 < v < k else fmt.number(v, 0))
    return n


def _names_text(names: list) -> str:
    """'A', 'A en B', 'A, B en C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " en " + names[-1]


def empty_sites(flow: pd.DataFrame | None = None, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The sites of which no form was analysed: ``site``, ``site_label``, ``received``, ``kept``.

    From the cleaning flow (results/cleaning_flow.csv: a site's rows summed; a site of
    analysis/study.yaml without a row counts as 0 received) or, in notebook 02 which does not
    read the flow, from results/reach_counts.csv (``n`` and ``n_missing`` both 0; ``received``
    unknown, NaN). A site whose forms were all removed in cleaning has ``received`` > 0, or its
    mark ("<5", "x") where the published flow hides it; a site whose kept forms are hidden is
    not said to be empty.

    >>> flow = pd.DataFrame({"file": ["DH_bereik.csv", "LH_bereik.xlsx", "PS_bereik.sav", "proxy_meldingen.csv"],
    ...                      "site": ["DH", "LH", "PS", "alle"], "received": [160, 0, 143, 66], "kept": [159, 0, 143, 66]})
    >>> empty_sites(flow)[["site", "received"]].values.tolist()
    [['LH', 0]]
    """
    names = _site_names()
    cols = ["site", "site_label", "received", "kept"]
    if flow is not None:
        rows = flow[flow["site"] != FLOW_ALL]
        per = {}
        for site, g in rows.groupby("site", sort=False):
            # published counts: a site is empty only where its kept forms are shown as 0; a
            # hidden received stays its mark (a sum over a hidden cell is not computed)
            kept = _visible_sum(g["kept"])
            received = _visible_sum(g["received"])
            per[site] = (int(received) if received is not None else worst_mark(*g["received"]), kept)
        for site in names:
            per.setdefault(site, (0, 0))
        empty = [s for s, (_, kept) in per.items() if kept == 0]
        return pd.DataFrame({"site": empty, "site_label": [names.get(x, x) for x in empty],
                             "received": [per[s][0] for s in empty], "kept": [0] * len(empty)}, columns=cols)
    if counts is not None:
        from analysis import reach

        def zero(v):
            return not _is_suppressed(v) and pd.notna(v) and float(v) == 0

        sub = counts[(counts["site"] != reach.ALL) & counts["n"].map(zero) & counts["n_missing"].map(zero)]
        return pd.DataFrame({"site": sub["site"].to_numpy(), "site_label": sub["site_label"].to_numpy(),
                             "received": float("nan"), "kept": 0}, columns=cols)
    raise ValueError("empty_sites: give the cleaning flow (flow=) or the reach counts (counts=).")


def empty_sites_sentence(flow: pd.DataFrame | None = None, counts: pd.DataFrame | None = None,
                         say_none: bool = False) -> str:
    """Dutch sentence(s) naming the sites of which no form was analysed.

    Shown under the flow table (notebook 01, the report) and above the per-site results
    (notebook 02, the report's reach section). Arguments as :func:`empty_sites`. When every
    site has forms: ``""``, or with ``say_none`` a sentence saying so (the notebooks).

    >>> flow = pd.DataFrame({"file": ["DH_bereik.csv", "LH_bereik.xlsx", "PS_bereik.sav"], "site": ["DH", "LH", "PS"],
    ...                      "received": [160, 0, 143], "kept": [159, 0, 143]})
    >>> print(empty_sites_sentence(flow))
    Van Wijkatelier Lindenholt kwamen geen formulieren binnen; dit krachtpunt ontbreekt in de vergelijkingen per krachtpunt en in het regressiemodel (in de tabellen per krachtpunt staat het met 0).
    """
    table = empty_sites(flow, counts)
    if table.empty:
        return "Van elk krachtpunt zijn formulieren geanalyseerd." if say_none else ""
    parts = []
    received = table["received"].map(lambda v: float("nan") if _is_suppressed(v) else v).astype(float)
    hidden = table["received"].map(_is_suppressed)
    none_in = table[received.eq(0)]
    removed = table[received.gt(0) | hidden]
    unknown = table[received.isna() & ~hidden]
    if len(none_in):
        parts.append(f"Van {_names_text(list(none_in['site_label']))} kwamen geen formulieren binnen")
    for _, r in removed.iterrows():
        if _is_suppressed(r["received"]):
            what = "een aantal formulieren" if mark(r["received"]) == SECONDARY else "minder dan vijf formulieren"
            parts.append(f"van {r['site_label']} kwam{'en' if mark(r['received']) == SUPPRESSED else ''} {what} "
                         "binnen, maar na het opschonen bleef er geen over")
            continue
        n = int(r["received"])
        parts.append(f"van {r['site_label']} kwam{'en' if n != 1 else ''} {num(n, 0)} formulier{'en' if n != 1 else ''} "
                     "binnen, maar na het opschonen bleef er geen over")
    if len(unknown):
        parts.append(f"van {_names_text(list(unknown['site_label']))} is geen enkel formulier geanalyseerd "
                     "(zie de tabel met ontvangen formulieren van notebook 01)")
    text = "; ".join(parts)
    one = len(table) == 1
    return (text[:1].upper() + text[1:] + "; " + ("dit krachtpunt ontbreekt" if one else "deze krachtpunten ontbreken")
            + " in de vergelijkingen per krachtpunt en in het regressiemodel (in de tabellen per krachtpunt staat "
            + ("het" if one else "elk") + " met 0).")


def reach_overall_sentence(rs: dict) -> str:
    """The share reached over all sites (results/reach_summary.csv as :func:`summary`), or why there is none.

    >>> reach_overall_sentence({"n_respondents_all": 302.0, "n_reached_all": 127.0, "pct_reached_all": 42.05,
    ...                         "pct_reached_all_ci_low": 36.6, "pct_reached_all_ci_high": 47.7})
    'Van de 302 bewoners die de bereiksvragenlijst invulden, bezochten 127 het krachtpunt minstens één keer in de afgelopen zes maanden (42%, 95%-betrouwbaarheidsinterval 37–48%).'
    >>> reach_overall_sentence({"n_respondents_all": 0.0, "n_reached_all": 0.0, "pct_reached_all": float("nan")})
    'Er zijn geen bereiksvragenlijsten geanalyseerd; het bereik is niet te berekenen.'
    """
    n = rs.get("n_respondents_all")
    if mark(n) == SUPPRESSED:
        return "Minder dan vijf bewoners vulden de bereiksvragenlijst in; het bereik wordt niet getoond."
    if mark(n) == SECONDARY:
        return ("Het aantal bewoners dat de bereiksvragenlijst invulde, wordt niet gepubliceerd (om een klein "
                "aantal elders te beschermen); het bereik over alle krachtpunten wordt daarom niet getoond.")
    if not is_number(n) or float(n) == 0:
        return "Er zijn geen bereiksvragenlijsten geanalyseerd; het bereik is niet te berekenen."
    text = (f"Van de {num(n, 0)} bewoners die de bereiksvragenlijst invulden, bezochten "
            f"{count(rs.get('n_reached_all'))} het krachtpunt minstens één keer in de afgelopen zes maanden")
    pct, lo, hi = (rs.get(k) for k in ("pct_reached_all", "pct_reached_all_ci_low", "pct_reached_all_ci_high"))
    if is_number(pct):
        text += f" ({num(pct, 0)}%"
        if is_number(lo) and is_number(hi):
            text += f", 95%-betrouwbaarheidsinterval {num(lo, 0)}–{num(hi, 0)}%"
        text += ")"
    elif _is_suppressed(pct):
        text += f" ({_pct_text(pct)})"
    return text + "."


def reach_by_site_sentence(counts: pd.DataFrame, max_sites: int | None = None) -> str:
    """The share reached per site, from results/reach_counts.csv, sites without forms said as such.

    With more than ``max_sites`` sites (default study.yaml ``analysis.per_site_detail_max``) the
    range, not a list.

    >>> c = pd.DataFrame({"site": ["DH", "LH", "all"], "site_label": ["Delfshaven", "Lindenholt", "Alle"],
    ...                   "n": [10, 0, 10], "n_missing": [0, 0, 0], "share": [0.4, None, 0.4],
    ...                   "not_estimable": ["", "empty group: no forms from LH", ""]})
    >>> reach_by_site_sentence(c)
    'Per krachtpunt was dat 40% bij Delfshaven; bij Lindenholt is het bereik niet te berekenen (geen formulieren).'
    """
    from analysis import reach

    limit = config.per_site_detail_max() if max_sites is None else int(max_sites)
    sub = counts[counts["site"] != reach.ALL]
    if sub.empty:
        return ""
    no_forms = set(empty_sites(counts=sub)["site"])
    shown, hidden, secret, none = [], [], [], []
    for _, r in sub.iterrows():
        if r["site"] in no_forms:
            none.append(r["site_label"])
        elif worst_mark(r["share"], r["n"]) == SUPPRESSED:
            hidden.append(r["site_label"])
        elif worst_mark(r["share"], r["n"]) == SECONDARY:
            secret.append(r["site_label"])
        elif is_number(r["share"]):
            shown.append((float(r["share"]), f"{num(100 * float(r['share']), 0)}% bij {r['site_label']}"))
        else:
            none.append(r["site_label"])
    parts = []
    if shown and len(sub) > limit:
        lo, hi = min(s for s, _ in shown), max(s for s, _ in shown)
        parts.append(f"Per krachtpunt liep dat uiteen van {num(100 * lo, 0)}% tot {num(100 * hi, 0)}% "
                     f"({len(shown)} krachtpunten; results/reach_counts.csv)")
    elif shown:
        parts.append("Per krachtpunt was dat " + _names_text([t for _, t in shown]))
    if hidden:
        parts.append(f"bij {_names_text(hidden)} rust het op minder dan vijf personen en wordt het niet getoond")
    if secret:
        parts.append(f"bij {_names_text(secret)} wordt het niet gepubliceerd (om een klein aantal elders te beschermen)")
    if none:
        why = "geen formulieren" if set(none) <= set(sub.loc[sub["site"].isin(no_forms), "site_label"]) else "te weinig gegevens"
        parts.append(f"bij {_names_text(none)} is het bereik niet te berekenen ({why})")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def model_sites_sentence(counts: pd.DataFrame) -> str:
    """Which sites are not in the reach model because none of their forms was analysed; ``""`` if none.

    >>> c = pd.DataFrame({"site": ["DH", "LH"], "site_label": ["Delfshaven", "Lindenholt"], "n": [10, 0],
    ...                   "n_missing": [0, 0]})
    >>> model_sites_sentence(c)
    'Lindenholt zit niet in het model: van dit krachtpunt zijn geen formulieren geanalyseerd.'
    """
    names = list(empty_sites(counts=counts)["site_label"])
    if not names:
        return ""
    one = len(names) == 1
    return (f"{_names_text(names)} {'zit' if one else 'zitten'} niet in het model: van "
            f"{'dit krachtpunt' if one else 'deze krachtpunten'} zijn geen formulieren geanalyseerd.")


def mde_sentences(ps: dict) -> str:
    """What the numbers of pairs can show: the minimal detectable effect over all pairs and per
    site (results/paired_summary.csv), or why it is not given (not computable, or not published).

    >>> ps = {"n_pairs": 18.0, "mde_dz_all": 0.7007, "alpha": 0.05, "mde_change_who5": 12.2,
    ...       "median_pairs_per_site": "x", "mde_dz_site": "x"}
    >>> print(mde_sentences(ps))  # doctest: +NORMALIZE_WHITESPACE
    Met 18 paren is alleen een vrij grote verandering met redelijke zekerheid aan te tonen: een verandering van
    ongeveer 0,7 keer de spreiding van de veranderingen (Cohen's *dz*, bij 80% kans en een toets op 5%). Bij
    welbevinden (WHO-5) komt dat neer op ongeveer 12 punten op de schaal van 0 tot 100. De kleinste aantoonbare
    verandering per krachtpunt wordt niet gepubliceerd (om een klein aantal elders te beschermen); de cijfers
    per krachtpunt zijn alleen beschrijvend.
    """
    n = count(ps.get("n_pairs"))
    mde = ps.get("mde_dz_all")
    if is_number(mde):
        text = (f"Met {n} paren is alleen een vrij grote verandering met redelijke zekerheid aan te tonen: een "
                f"verandering van ongeveer {num(mde, 1)} keer de spreiding van de veranderingen (Cohen's *dz*, bij "
                f"80% kans en een toets op {num(100 * float(ps['alpha']), 0)}%).")
        if is_number(ps.get("mde_change_who5")):
            text += (f" Bij welbevinden (WHO-5) komt dat neer op ongeveer {num(ps['mde_change_who5'], 0)} punten "
                     "op de schaal van 0 tot 100.")
    elif _is_suppressed(mde):
        text = f"Het kleinste aantoonbare effect over alle paren {hidden_phrase(mde)}."
    else:
        text = f"Met {n} paren is geen kleinste aantoonbare verandering te berekenen."
    site, median = ps.get("mde_dz_site"), ps.get("median_pairs_per_site")
    if is_number(site):
        text += (f" Per krachtpunt, met een mediaan van {count(median)} paren, zou een verandering van "
                 f"{num(site, 1)} keer de spreiding nodig zijn; de cijfers per krachtpunt zijn daarom alleen "
                 "beschrijvend.")
    elif _is_suppressed(site):
        text += (f" De kleinste aantoonbare verandering per krachtpunt {hidden_phrase(site)}; de cijfers per "
                 "krachtpunt zijn alleen beschrijvend.")
    else:
        text += (" Per krachtpunt zijn er te weinig paren om een kleinste aantoonbare verandering te berekenen; de "
                 "cijfers per krachtpunt zijn alleen beschrijvend.")
    return text


def limitations(synthetic: bool, ps: dict | None = None) -> str:
    """The limitations section as Markdown; the synthetic-data caveat comes first when it applies.

    ``ps`` is the paired summary (:func:`summary` of ``paired_summary``): the numbers of
    interviewees come from it, not from the design (drop-out makes them smaller than seven).
    """
    items = []
    if synthetic:
        items.append(
            "**Synthetische data.** Dit rapport is gemaakt met synthetische gegevens. De uitkomsten "
            "laten zien dat de analyse werkt, niet hoe het met de krachtpunten gaat."
        )
    small = ("**Kleine aantallen.** Met zo weinig geïnterviewden kunnen alleen grote veranderingen met enige "
             "zekerheid worden vastgesteld; kleinere veranderingen kunnen er zijn zonder dat dit onderzoek ze kan "
             "aantonen.")
    if ps is not None and is_number(ps.get("median_pairs_per_site")):
        small = (f"**Kleine aantallen.** Per krachtpunt zijn in de mediaan {num(ps['median_pairs_per_site'], 0)} "
                 f"bezoekers twee keer geïnterviewd ({count(ps.get('n_pairs'))} in totaal). Met zo weinig mensen "
                 "kunnen alleen grote veranderingen met enige zekerheid worden vastgesteld; kleinere veranderingen "
                 "kunnen er zijn zonder dat dit onderzoek ze kan aantonen.")
    items += [
        small,
        "**Geen vergelijkingsgroep.** Veranderingen bij bezoekers kunnen ook andere oorzaken hebben "
        "dan het krachtpunt; zonder vergelijkingsgroep is een effect niet vast te stellen.",
        "**Zelfselectie.** Wie de vragenlijst invulde, is niet per se representatief voor de wijk; "
        "de vergelijking met de CBS-cijfers laat zien waar dat te toetsen was en waar niet.",
        "**Kleine cellen.** Aantallen onder de vijf zijn in gepubliceerde tabellen vervangen door "
        "\"<5\" om herleidbaarheid naar personen te voorkomen, en waar een klein aantal anders uit de andere "
        "cijfers terug te rekenen zou zijn, is ook een groter aantal weggelaten (\"x\"). Zo is niet elk "
        "aantal per krachtpunt of per reden te lezen.",
    ]
    return "\n\n".join(items)


#: Dutch names of the pre-specified primary test (study.yaml paired.primary_test).
PRIMARY_TEST_NL = {"t": "gepaarde t-toets", "wilcoxon": "Wilcoxon-rangtekentoets"}


def _or_text(rs: dict, k: int) -> str | None:
    """'label' (odds ratio x; 95%-BI a–b) for the k-th strongest association, or None."""
    from analysis import fmt

    key = f"strongest_{k}_or"
    if not is_number(rs.get(key)):
        return None
    label = summary_detail("reach_summary", key)
    ci = ""
    if is_number(rs.get(f"strongest_{k}_ci_low")) and is_number(rs.get(f"strongest_{k}_ci_high")):
        ci = f"; 95%-BI {fmt.ci(float(rs[f'strongest_{k}_ci_low']), float(rs[f'strongest_{k}_ci_high']), 2)}"
    return f"'{label}' (odds ratio {num(rs[key], 2)}{ci})"


def summary_bullets(rs: dict, ps: dict, changes: pd.DataFrame) -> str:
    """The Samenvatting's bullets as Markdown, every number and claim read from the results tables.

    ``rs``/``ps``: :func:`summary` of ``reach_summary``/``paired_summary``; ``changes``:
    results/paired_changes.csv. A value that is missing or not estimable is said in words
    ("niet te schatten"), never shown as a dash in running text; the headline test and outcome
    family are the pre-specified ones (study.yaml ``paired``).
    """
    from analysis import fmt

    out = []
    # reach
    n_resp = rs.get("n_respondents_all")
    pct = rs.get("pct_reached_all")
    if is_number(n_resp) and float(n_resp) > 0 and _is_suppressed(pct):
        text = (f"**Bereik.** {num(n_resp, 0)} bewoners vulden de bereiksvragenlijst in; het aandeel dat het "
                f"krachtpunt bezocht, {hidden_phrase(pct)}.")
    elif is_number(n_resp) and float(n_resp) > 0:
        text = (f"**Bereik.** Van de {num(n_resp, 0)} bewoners die de bereiksvragenlijst invulden, bezocht "
                f"{num(pct, 0)}% het krachtpunt in het afgelopen half jaar")
        if is_number(rs.get("pct_reached_all_ci_low")) and is_number(rs.get("pct_reached_all_ci_high")):
            text += (f" (95%-BI {num(rs['pct_reached_all_ci_low'], 0)}–{num(rs['pct_reached_all_ci_high'], 0)}%)")
        text += "."
        strongest = [t for t in (_or_text(rs, 1), _or_text(rs, 2)) if t]
        if strongest:
            text += " Het sterkst hing bereikt worden samen met " + " en ".join(strongest) + "."
        else:
            text += (" Hoe bereikt worden samenhangt met de kenmerken van bewoners, was met deze gegevens niet te "
                     "schatten (zie @sec-bereik).")
    elif mark(n_resp) == SUPPRESSED:
        text = "**Bereik.** Minder dan vijf bewoners vulden de bereiksvragenlijst in; het bereik is niet beschreven."
    elif mark(n_resp) == SECONDARY:
        text = ("**Bereik.** Het aantal bewoners dat de bereiksvragenlijst invulde, wordt niet gepubliceerd (om een "
                "klein aantal elders te beschermen); het bereik is niet beschreven.")
    else:
        text = "**Bereik.** Er zijn geen bereiksvragenlijsten geanalyseerd."
    out.append(text)
    # reasons
    reasons = []
    for key, who in (("top_reason_non_visitors_pct", "Niet-bezoekers noemden het vaakst '{}'"),
                     ("top_reason_proxy_pct", "volgens bezoekers houdt vooral '{}' bekenden tegen")):
        if is_number(rs.get(key)) or _is_suppressed(rs.get(key)):
            reasons.append(who.format(summary_detail("reach_summary", key)))
    if reasons:
        joined = "; ".join(reasons)
        out.append("**Waarom niet.** " + joined[:1].upper() + joined[1:] + ".")
    else:
        out.append("**Waarom niet.** Er zijn (nog) te weinig redenen genoemd om samen te vatten.")
    # changes, headline from the pre-specified primary test and the primary family only
    test = PRIMARY_TEST_NL.get(str(ps.get("primary_test")), str(ps.get("primary_test")))
    if mark(ps.get("n_pairs")) == SECONDARY:  # hidden to protect the few drop-outs
        text = ("**Veranderingen.** Bezoekers zijn twee keer geïnterviewd (het aantal paren per uitkomst "
                "staat in de tabel; het totaal is niet gepubliceerd, om het kleine aantal uitvallers te "
                "beschermen).")
    else:
        text = f"**Veranderingen.** {str(count(ps.get('n_pairs'))).capitalize()} bezoekers zijn twee keer geïnterviewd."
    prim = changes[(changes["scope"] == "all") & (changes["holm_family"] == "primary")].sort_values("order")
    parts = []
    for _, row in prim.iterrows():
        o, label = row["outcome"], str(row["label_short"])
        dec = 1
        if is_number(ps.get(f"mean_change_{o}")):
            part = f"{label} veranderde gemiddeld met {num(ps[f'mean_change_{o}'], dec)} punten"
            lo, hi = ps.get(f"mean_change_ci_low_{o}"), ps.get(f"mean_change_ci_high_{o}")
            if is_number(lo) and is_number(hi):
                part += f" (95%-BI {fmt.ci(float(lo), float(hi), dec)})"
        elif _is_suppressed(ps.get(f"mean_change_{o}")):
            part = f"de verandering in {label} {hidden_phrase(ps.get(f'mean_change_{o}'))}"
        else:
            why = _reasons_nl(row.get("not_estimable"))
            part = f"de verandering in {label} was niet te schatten" + (f" ({why})" if why else "")
        parts.append(part)
    if parts:
        text += " " + "; ".join(parts)[:1].upper() + "; ".join(parts)[1:] + "."
    k, m = ps.get("n_holm_below_alpha_primary"), ps.get("n_outcomes_family_primary")
    if is_number(m) and float(m) > 0:
        alpha = num(ps.get("alpha"), 2) if is_number(ps.get("alpha")) else "0,05"
        k_text = num(k, 0) if is_number(k) else count(k) if _is_suppressed(k) else "geen"
        text += (f" Bij {k_text} van de {count(m)} vooraf gekozen primaire uitkomsten "
                 f"({family_outcomes(changes, 'primary')}) is de verandering met de {test} ook na Holm-correctie "
                 f"aantoonbaar (p < {alpha})")
        j = ps.get("n_not_tested_primary")
        if (is_number(j) and float(j) > 0) or _is_suppressed(j):
            text += f"; bij {count(j)} kon niet getoetst worden"
        text += "."
    out.append(text)
    # what the study cannot show
    mde = ps.get("mde_dz_all")
    if is_number(mde):
        text = (f"**Wat dit onderzoek niet kan.** Met {count(ps.get('n_pairs'))} paren is alleen een verandering van "
                f"ongeveer {num(mde, 1)} keer de spreiding van de veranderingen (Cohen's *dz*) met 80% kans aan te tonen; ")
    elif _is_suppressed(mde):
        text = (f"**Wat dit onderzoek niet kan.** Met zo weinig paren zijn alleen grote veranderingen aan te tonen (het "
                f"kleinste aantoonbare effect {hidden_phrase(mde)}); ")
    else:
        text = ("**Wat dit onderzoek niet kan.** Met zo weinig paren is zelfs het kleinste aantoonbare effect niet te "
                "berekenen; ")
    text += ("een uitkomst zonder aantoonbare verandering betekent niet dat er niets veranderd is, en zonder "
             "vergelijkingsgroep is niet vast te stellen of het krachtpunt de oorzaak is (zie Beperkingen).")
    out.append(text)
    return "\n".join(f"- {b}" for b in out)


# --- values and display tables read from the results (formatting only, no statistics) ----------

#: The two marks a published cell can carry (analysis/stats/disclosure.py): a count of 0-4, and a
#: count of 5 or more hidden to protect a small one elsewhere (secondary suppression).
SUPPRESSED = "<5"
SECONDARY = "x"

#: The one line that explains both marks, under a table that shows one and in the methods.
MARKS_NOTE = ("<5: minder dan vijf personen; x: niet gepubliceerd, om een klein aantal elders in de tabel "
              "te beschermen.")

#: How running text says a hidden value (a count, or a statistic of that group).
HIDDEN_COUNT = {SUPPRESSED: "minder dan vijf", SECONDARY: "een niet gepubliceerd aantal"}
HIDDEN_STAT = {SUPPRESSED: "niet getoond (minder dan vijf personen)", SECONDARY: "niet gepubliceerd"}


def mark(x) -> str | None:
    """The suppression mark of a results value ("<5" or "x"), or None for a number or text.

    Every value the report reads from a results table goes through here (via :func:`num`,
    :func:`count`, :func:`stat`, :func:`is_number`), so both marks are understood everywhere.

    >>> mark("<5"), mark(" x "), mark("12"), mark(3.0), mark("< 0,001")
    ('<5', 'x', None, None, None)
    """
    from analysis.stats import disclosure

    if not isinstance(x, str):
        return None
    s = x.strip()
    if s == SECONDARY:
        return SECONDARY
    return SUPPRESSED if disclosure.is_mark(s, _min_cell()) or re.fullmatch(r"<\d+", s) else None


def _min_cell() -> int:
    return int(config.study()["analysis"]["min_cell"])


def _is_suppressed(x) -> bool:
    return mark(x) is not None


def worst_mark(*values) -> str | None:
    """"<5" if any value is "<5", else "x" if any is "x", else None (a cell built from several values).

    >>> worst_mark(1.0, "x"), worst_mark("x", "<5"), worst_mark(2.0)
    ('x', '<5', None)
    """
    marks = {mark(v) for v in values} - {None}
    return SUPPRESSED if SUPPRESSED in marks else SECONDARY if marks else None


def num(x, decimals: int = 1) -> str:
    """A results value for a table cell: Dutch number, or the suppression mark as it is.

    >>> num("<5"), num("x"), num(3.14159, 2), num("7", 0)
    ('<5', 'x', '3,14', '7')
    """
    from analysis import fmt

    m = mark(x)
    if m:
        return m
    return fmt.number(float(x), decimals)


def waves_sentence(ps: dict) -> str:
    """How many took part at T0 and T1 and how many pairs, or why those counts are not given.

    Published together, the two wave counts give the drop-outs back (T0 - T1), so when one of
    them is hidden the sentence says so instead of "een niet gepubliceerd aantal" three times.

    >>> waves_sentence({"n_persons_t0": 21, "n_persons_t1": 18, "n_pairs": 18})
    'Op T0 deden 21 bezoekers mee, op T1 18; 18 bezoekers zijn dus twee keer geïnterviewd (paren).'
    >>> waves_sentence({"n_persons_t0": "x", "n_persons_t1": "x", "n_pairs": "x"})[:60]
    'Het aantal geïnterviewden op T0 en T1 en het aantal paren wo'
    """
    t0, t1, pairs = (ps.get(k) for k in ("n_persons_t0", "n_persons_t1", "n_pairs"))
    if any(mark(v) for v in (t0, t1, pairs)):
        return ("Het aantal geïnterviewden op T0 en T1 en het aantal paren worden niet gepubliceerd: samen "
                "zouden ze het kleine aantal bezoekers dat na T0 afviel terug laten rekenen. Per uitkomst "
                "staat het aantal paren in de tabellen hieronder.")
    return (f"Op T0 deden {count(t0)} bezoekers mee, op T1 {count(t1)}; {count(pairs)} bezoekers zijn dus "
            "twee keer geïnterviewd (paren).")


def count(x) -> str:
    """A count of persons for running text: "minder dan vijf" where the table shows "<5",
    "een niet gepubliceerd aantal" where it shows "x" (so "... bezoekers" still reads).

    >>> count("<5"), count("x"), count(14.0)
    ('minder dan vijf', 'een niet gepubliceerd aantal', '14')
    """
    m = mark(x)
    return HIDDEN_COUNT[m] if m else num(x, 0)


def stat(x, decimals: int = 1) -> str:
    """A statistic (mean, percentage, threshold) for running text, or why it is not shown.

    >>> stat(6.04), stat("<5"), stat("x")
    ('6,0', 'niet getoond (minder dan vijf personen)', 'niet gepubliceerd')
    """
    m = mark(x)
    return HIDDEN_STAT[m] if m else num(x, decimals)


def hidden_phrase(*values) -> str:
    """Why a sentence leaves a value out: "rust op minder dan vijf personen en wordt niet getoond"
    or "wordt niet gepubliceerd (om een klein aantal elders te beschermen)".

    >>> hidden_phrase("x", 3.0)
    'wordt niet gepubliceerd (om een klein aantal elders te beschermen)'
    """
    if worst_mark(*values) == SUPPRESSED:
        return "rust op minder dan vijf personen en wordt niet getoond"
    return "wordt niet gepubliceerd (om een klein aantal elders te beschermen)"


def has_marks(*frames: pd.DataFrame) -> set:
    """The marks that occur in the given (display) tables."""
    found = set()
    for frame in frames:
        for col in frame.columns:
            found |= {mark(v) for v in frame[col]} - {None}
    return found


def marks_note(*frames: pd.DataFrame) -> str:
    """The note under a table: :data:`MARKS_NOTE` when a table shows a mark, else ``""``.

    >>> marks_note(pd.DataFrame({"n": ["12", "x"]}))[:30]
    '*<5: minder dan vijf personen;'
    """
    return f"*{MARKS_NOTE}*" if has_marks(*frames) else ""


def interval_sentence(summary) -> str:
    """The time between the interviews, or why there is none (no pairs with both dates yet).

    >>> interval_sentence({"interval_months_mean": 6.04, "interval_months_min": 4.6, "interval_months_max": 7.9})
    'Gemiddeld lagen er 6,0 maanden tussen de interviews (van 4,6 tot 7,9 maanden).'
    >>> interval_sentence({"interval_months_mean": float("nan"), "interval_months_min": float("nan"),
    ...                    "interval_months_max": float("nan")})
    'Er is nog geen paar met twee interviewdatums, dus nog geen tijd tussen de interviews.'
    """
    mean = summary["interval_months_mean"]
    if not _is_suppressed(mean) and pd.isna(pd.to_numeric(mean, errors="coerce")):
        return "Er is nog geen paar met twee interviewdatums, dus nog geen tijd tussen de interviews."
    lo, hi = summary["interval_months_min"], summary["interval_months_max"]
    if worst_mark(mean, lo, hi):
        return f"De tijd tussen de interviews {hidden_phrase(mean, lo, hi)}."
    return (f"Gemiddeld lagen er {num(mean, 1)} maanden tussen de interviews (van "
            f"{num(lo, 1)} tot {num(hi, 1)} maanden).")


def p(x) -> str:
    """A p-value for the text ("< 0,001", "0,046"), or the suppression mark."""
    from analysis import fmt

    return mark(x) if _is_suppressed(x) else fmt.pvalue(float(x))


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
    if worst_mark(est, low, high):
        return worst_mark(est, low, high)
    from analysis import fmt

    return fmt.estimate_ci(float(est), float(low), float(high), decimals)


def _mean_sd(mean, sd, decimals: int) -> str:
    if worst_mark(mean, sd):
        return worst_mark(mean, sd)
    from analysis import fmt

    return fmt.mean_sd(float(mean), float(sd), decimals)


#: Short prefixes for outcome labels in wide tables (explained in the table caption).
INSTRUMENT_PREFIX = {"pg": "PG: ", "zrm": "ZRM: "}


def is_number(x) -> bool:
    """Whether a results value is a finite number (not missing, not "<5").

    >>> is_number(0.7), is_number("<5"), is_number(float("nan")), is_number(None)
    (True, False, False, False)
    """
    try:
        return bool(pd.notna(x)) and not _is_suppressed(x) and bool(abs(float(x)) < float("inf"))
    except (TypeError, ValueError):
        return False


def _reasons_nl(reason) -> str:
    """The Dutch key(s) of a not-estimable reason (``paired.not_estimable_nl``), "" for none.

    >>> _reasons_nl("too few pairs (n = 2; at least 2 needed)"), _reasons_nl(float("nan"))
    ('te weinig paren', '')
    """
    from analysis import changes as ch

    if not isinstance(reason, str) or not reason.strip():
        return ""
    nl = ch.paired_settings()["not_estimable_nl"]
    return "; ".join(dict.fromkeys(nl[ch.reason_key(part)] for part in ch._split_reasons(reason)))


def _column(rows: pd.DataFrame, name: str) -> pd.Series:
    """A results column, or an empty one where the published table leaves it out (a statistic
    that would give a hidden count back stays in ``internal/``)."""
    return rows[name] if name in rows else pd.Series(float("nan"), index=rows.index, dtype=object)


def binary_note(shown: pd.DataFrame) -> str:
    """The note under the yes/no table: the column explained only when it is there, then the marks."""
    notes = []
    if "Van-naar-wisselaars" in shown:
        notes.append("*Van-naar-wisselaars: bezoekers die op T1 in de andere groep zaten dan op T0.*")
    if table_note(shown):
        notes.append(table_note(shown))
    return " ".join(notes)


def _with_reasons(out: pd.DataFrame, reasons: pd.Series, label: str = "Uitkomst") -> pd.DataFrame:
    """A footnote letter on the label of each row with a statistic that could not be computed;
    the Dutch reasons under the table (:func:`table_note`), not in a column of sentences."""
    from analysis import tables

    letters = tables.Footnotes()
    marked = [str(v) + letters.mark(r) for v, r in zip(out[label], reasons.fillna(""))]
    legend = f"Niet te berekenen: {letters.legend()}" if letters.texts else ""
    return tables.with_note(out.assign(**{label: marked}), legend)


def _family_nl(changes: pd.DataFrame) -> pd.Series:
    from analysis import changes as ch

    names = ch.paired_settings()["families_nl"]
    return changes["holm_family"].map(lambda f: names.get(f, f)).fillna("")


def family_outcomes(changes: pd.DataFrame, family: str) -> str:
    """The outcomes of one pre-specified Holm family (results/paired_changes.csv), as Dutch text.

    >>> t = pd.DataFrame({"scope": "all", "holm_family": ["primary", "primary", "secondary"], "order": [0, 3, 1],
    ...                   "label_short": ["Eenzaamheid totaal", "WHO-5 welbevinden", "Sociale eenzaamheid"]})
    >>> family_outcomes(t, "primary")
    'eenzaamheid totaal en WHO-5 welbevinden'
    """
    rows = changes[(changes["scope"] == "all") & (changes["holm_family"] == family)].sort_values("order")
    labels = [v if v[:3].isupper() else v[:1].lower() + v[1:] for v in rows["label_short"].astype(str)]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " en " + labels[-1] if labels else "geen"


def paired_outcome_table(changes: pd.DataFrame, scope: str = "all") -> pd.DataFrame:
    """Table of changes per outcome (results/paired_changes.csv, one scope) for the report.

    The outcomes under a header row per pre-specified Holm family (primary first), both tests
    with their Holm-adjusted p; where a statistic could not be computed, a footnote letter on
    the outcome gives the Dutch reason under the table.
    """
    from analysis import tables

    from analysis import changes as ch

    rank = {name: i for i, name in enumerate(ch.paired_settings()["families"])}  # the primary family first
    rows = changes[changes["scope"] == scope]
    rows = rows.assign(_f=rows["holm_family"].map(rank).fillna(len(rank))).sort_values(["_f", "order"])
    dec = rows["instrument"].map({"who5": 1}).fillna(2).astype(int)
    prefix = rows["instrument"].map(INSTRUMENT_PREFIX).fillna("")
    shown = ["mean_change", "mean_change_ci_low", "dz", "dz_ci_low", "p_t_holm", "p_wilcoxon_holm"]
    missing = rows[shown].apply(lambda r: any(not (is_number(v) or _is_suppressed(v)) for v in r), axis=1)
    out = pd.DataFrame({
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
    out = _with_reasons(out, rows["not_estimable"].map(_reasons_nl).where(missing, ""))
    headers = [f[:1].upper() + f[1:] for f in _family_nl(rows)]
    return tables.with_note(tables.grouped(out, headers, "Uitkomst"), tables.note(out))


def _agree_nl(v) -> str:
    if isinstance(v, str):
        v = {"true": True, "false": False}.get(v.strip().lower(), None)
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return "–"
    return "ja" if bool(v) else "nee"


def mixed_model_table(mm: pd.DataFrame, changes: pd.DataFrame) -> pd.DataFrame:
    """Sensitivity analysis: wave effect of the mixed model next to the paired mean change,
    with the agreement flag of results/paired_mixed_model.csv (rule in its ``agreement_rule``)."""
    info = changes[changes["scope"] == "all"].set_index("outcome")
    mm = mm.assign(_o=mm["outcome"].map(info["order"])).sort_values("_o")
    short = mm["outcome"].map(info["instrument"]).map(INSTRUMENT_PREFIX).fillna("") + mm["outcome"].map(info["label_short"])
    out = pd.DataFrame({
        "Uitkomst": short,
        "Gepaarde verandering": mm["paired_mean_change"].map(lambda v: num(v, 2)),
        "Gemengd model: T1 − T0 (95%-BI)": [_ci(e, lo, hi, 2) for e, lo, hi in zip(mm["estimate"], mm["ci_low"], mm["ci_high"])],
        "Personen": mm["n_persons"].map(lambda v: num(v, 0)),
        "Komt overeen": mm["agrees_with_paired"].map(_agree_nl),
    })
    return _with_reasons(out, mm["not_estimable"].map(_reasons_nl))


def mixed_model_sentence(mm: pd.DataFrame) -> str:
    """Whether the mixed model agrees with the paired estimates, counted from the table's flag."""
    from analysis import changes as ch

    flag = mm["agrees_with_paired"].map(_agree_nl)
    judged = flag[flag != "–"]
    rule = ch.paired_settings()["agreement_rule_nl"]
    if judged.empty:
        return ("Het gemengde model en de gepaarde schatting konden voor geen enkele uitkomst worden vergeleken "
                "(zie hieronder wat niet te berekenen was).")
    n_yes, n_all = int((judged == "ja").sum()), len(mm)
    text = (f"Bij {n_yes} van de {len(judged)} uitkomsten waar beide te schatten waren, komt het model overeen met "
            f"de gepaarde schatting (regel: {rule}).")
    if n_yes < len(judged):
        text += f" Bij {len(judged) - n_yes} niet; daar hangt de uitkomst dus af van wie op T1 nog meedeed."
    if len(judged) < n_all:
        k = n_all - len(judged)
        text += f" Voor {k} {'uitkomst' if k == 1 else 'uitkomsten'} kon de vergelijking niet worden gemaakt."
    return text


def paired_binary_table(binary: pd.DataFrame, scope: str = "all") -> pd.DataFrame:
    """Shares lonely / poor wellbeing at T0 and T1 with the difference (Newcombe) and McNemar p."""
    rows = binary[binary["scope"] == scope]

    def share(n, prop):
        if worst_mark(n, prop):
            return worst_mark(n, prop)
        return f"{num(n, 0)} ({num(100 * float(prop), 0)}%)" if pd.notna(prop) and pd.notna(n) else "–"

    def diff(e, lo, hi):
        if worst_mark(e, lo, hi):
            return worst_mark(e, lo, hi)
        from analysis import fmt

        return fmt.estimate_ci(100 * float(e), 100 * float(lo), 100 * float(hi), 0)

    out = pd.DataFrame({
        "Uitkomst": rows["label"].str[:1].str.upper() + rows["label"].str[1:],
        "n": rows["n_pairs"].map(lambda v: num(v, 0)),
        "T0: aantal (%)": [share(n, q) for n, q in zip(rows["n_t0"], rows["prop_t0"])],
        "T1: aantal (%)": [share(n, q) for n, q in zip(rows["n_t1"], rows["prop_t1"])],
        "Verschil T1 − T0, procentpunten (95%-BI)": [diff(e, lo, hi) for e, lo, hi in
                                                     zip(rows["difference"], rows["ci_low"], rows["ci_high"])],
        "Van-naar-wisselaars": _column(rows, "n_discordant").map(lambda v: num(v, 0) if pd.notna(v) else ""),
        "p McNemar (exact)": rows["p_mcnemar"].map(lambda v: p(v) if pd.notna(v) else "–"),
    })
    if "n_discordant" not in rows:  # published in internal/ only (its cells would give a hidden one back)
        out = out.drop(columns="Van-naar-wisselaars")
    return _with_reasons(out, rows["not_estimable"].map(_reasons_nl))


def binary_sentence(binary: pd.DataFrame) -> str:
    """The shares at T0 and T1 of each paired yes/no outcome (all pairs), from results/paired_binary.csv."""
    parts = []
    for _, r in binary[binary["scope"] == "all"].iterrows():
        label = str(r["label"])
        hidden = [w for w, c in (("T0", "prop_t0"), ("T1", "prop_t1")) if _is_suppressed(r[c])]
        if hidden:
            values = [r[c] for c in ("prop_t0", "prop_t1") if _is_suppressed(r[c])]
            if worst_mark(*values) == SUPPRESSED:
                parts.append(f"Voor '{label}' rust het aandeel op {' en '.join(hidden)} op minder dan vijf personen "
                             "en wordt het niet getoond.")
            else:
                parts.append(f"Voor '{label}' wordt het aandeel op {' en '.join(hidden)} niet gepubliceerd (om een "
                             "klein aantal elders te beschermen).")
            continue
        if pd.isna(r["prop_t0"]) or pd.isna(r["prop_t1"]):
            parts.append(f"Voor '{label}' zijn geen paren om aandelen te berekenen ({_reasons_nl(r['not_estimable'])}).")
            continue
        text = (f"Het aandeel '{label}' was {num(100 * float(r['prop_t0']), 0)}% op T0 en "
                f"{num(100 * float(r['prop_t1']), 0)}% op T1")
        if not any(_is_suppressed(r[c]) for c in ("difference", "ci_low", "ci_high")) and pd.notna(r["ci_low"]):
            text += (f" (verschil {num(100 * float(r['difference']), 0)} procentpunten, 95%-BI "
                     f"{num(100 * float(r['ci_low']), 0)} tot {num(100 * float(r['ci_high']), 0)})")
        if mark(r["p_mcnemar"]) == SUPPRESSED:
            text += "; minder dan vijf personen wisselden van groep, te weinig voor een toets"
        elif mark(r["p_mcnemar"]) == SECONDARY:
            text += "; de McNemar-toets wordt niet gepubliceerd (om een klein aantal elders te beschermen)"
        elif pd.isna(r["p_mcnemar"]):
            text += "; niemand wisselde van groep, dus er valt niets te toetsen"
        else:
            text += f"; exacte McNemar-toets p = {p(r['p_mcnemar'])}".replace("p = <", "p < ")
        parts.append(text + ".")
    return " ".join(parts)


def not_estimable_text(out: str | os.PathLike | None = None) -> str:
    """What stage 03 could not estimate and why, in Dutch, from the published results tables
    (:func:`analysis.changes.not_estimable_text` on the CSVs the notebook wrote)."""
    from analysis import changes as ch

    tables = {}
    for name in ch.RESULT_TABLES:
        t = result(name, out)
        if "not_estimable" in t:  # read back as NaN where empty; an all-empty column is float
            t["not_estimable"] = t["not_estimable"].astype(object).where(t["not_estimable"].notna(), "").astype(str)
        tables[name] = t
    text = ch.not_estimable_text(tables, detail=False)
    return text.replace(", met de reden in de kolom `not_estimable`", " (met de reden in de resultaattabellen)")


def themes_table(themes: pd.DataFrame, group: str) -> pd.DataFrame:
    """Persons mentioning each code at T0 and T1, all sites (results/paired_themes.csv)."""
    sub = themes[(themes["site"] == "alle") & (themes["code_group"] == group)]
    if sub.empty:
        return pd.DataFrame({"Code": [], "Aantal": []})

    def cell(r):
        if worst_mark(r["n_persons"], r["pct_persons"]):
            return worst_mark(r["n_persons"], r["pct_persons"])
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
    shown = shown[shown["_n"] > 0].sort_values(["_n", "_lift"], ascending=[False, False]).head(top)
    return pd.DataFrame({
        "Mechanisme": shown["mechanism_label"],
        "Verandering": shown["change_label"],
        "Personen met beide": shown["n_both"].map(lambda v: num(v, 0)),
        "% van wie de verandering noemt": shown["pct_change_with_mechanism"].map(lambda v: num(v, 0)),
        "Lift": shown["lift"].map(lambda v: num(v, 2)),
    })


def _threshold_text(v) -> str:
    return f"{num(v, 1)} punten" if not _is_suppressed(v) else stat(v)


def rci_sentence(rci: pd.DataFrame) -> str:
    """One sentence on reliable change for the outcomes where it could be computed.

    The middle category is "geen betrouwbare verandering" (the change is within measurement
    error), not "bleef gelijk"; counts of 1-4 read "minder dan vijf".

    >>> t = pd.DataFrame({"outcome": "who5", "label": "WHO-5", "status": "computed",
    ...                   "category": ["improved", "unchanged", "worse"], "n": ["<5", "14", "0"],
    ...                   "reliable_change_threshold": 16.7, "not_estimable": ""})
    >>> rci_sentence(t)
    'Bij WHO-5 verbeterden minder dan vijf personen betrouwbaar, was er bij 14 personen geen betrouwbare verandering en gingen 0 personen betrouwbaar achteruit (drempel 16,7 punten).'
    """
    ne = rci["not_estimable"].fillna("") if "not_estimable" in rci else pd.Series("", index=rci.index)
    done = rci[(rci["status"] == "computed") & (ne == "")]
    parts = []
    for outcome, sub in done.groupby("outcome", sort=False):
        counts = dict(zip(sub["category"], sub["n"]))
        parts.append(
            f"Bij {sub['label'].iloc[0]} verbeterden {count(counts.get('improved', 0))} personen betrouwbaar, "
            f"was er bij {count(counts.get('unchanged', 0))} personen geen betrouwbare verandering en gingen "
            f"{count(counts.get('worse', 0))} personen betrouwbaar achteruit "
            f"(drempel {_threshold_text(sub['reliable_change_threshold'].iloc[0])})."
        )
    failed = rci[(rci["status"] == "computed") & (ne != "")].drop_duplicates("outcome")
    for _, r in failed.iterrows():
        parts.append(f"Bij {r['label']} kon de index niet worden berekend ({_reasons_nl(r['not_estimable'])}).")
    n_not = rci.loc[rci["status"] != "computed", "outcome"].nunique()
    if n_not:
        parts.append(
            f"Voor de overige {n_not} uitkomsten is geen betrouwbaarheid gevonden die we konden "
            "controleren; daarvoor is de index niet berekend."
        )
    return " ".join(parts)


def table1_display(display: pd.DataFrame, site: str = "all") -> pd.DataFrame:
    """Table 1 (results/reach_table1_display.csv) for one site, laid out for print.

    One header row per variable (its name, SMD, test statistic and p) with its levels indented
    under it, as gtsummary and tableone print it; the test behind each p is a footnote letter
    (listed in :func:`table_note`), not a column of names.
    """
    from analysis import tables

    sub = display[display["site"] == site].fillna("")
    letters = tables.Footnotes()
    rows = []
    for name, group in sub.groupby("Kenmerk", sort=False):
        first = group.iloc[0]
        values = {"Bereikt": "", "Niet bereikt": "", "Totaal": "", "SMD": first["SMD"],
                  "Toetswaarde": first["Toetswaarde"], "p": first["p"] + letters.mark(first["Toets"])}
        if len(group) == 1 and not first["Categorie"]:  # a count with no levels (Aantal respondenten)
            rows.append({"Kenmerk": name, **values, **{k: first[k] for k in ("Bereikt", "Niet bereikt", "Totaal")}})
            continue
        rows.append({"Kenmerk": tables.header_label(name), **values})
        rows += [{"Kenmerk": tables.level_label(r["Categorie"]), "Bereikt": r["Bereikt"],
                  "Niet bereikt": r["Niet bereikt"], "Totaal": r["Totaal"], "SMD": "", "Toetswaarde": "", "p": ""}
                 for _, r in group.iterrows()]
    out = pd.DataFrame(rows, columns=["Kenmerk", "Bereikt", "Niet bereikt", "Totaal", "SMD", "Toetswaarde", "p"])
    return tables.with_note(out, letters.legend())


def model_table(display: pd.DataFrame) -> pd.DataFrame:
    """The model table (results/reach_model_display.csv) for print: the estimation method, a
    sentence in every column, becomes the note under the table (a footnote letter per column
    when the columns differ)."""
    from analysis import tables

    display = display.fillna("")
    is_method = display["Kenmerk"] == "Methode"
    out = display[~is_method].reset_index(drop=True)
    if not is_method.any():
        return tables.with_note(out)
    methods = display[is_method].iloc[0].drop("Kenmerk")
    methods = methods[methods.astype(str).str.len() > 0]
    if methods.nunique() == 1:
        return tables.with_note(out, f"Geschat met {methods.iloc[0]}.")
    letters = tables.Footnotes()
    out = out.rename(columns={c: f"{c}{letters.mark(m)}" for c, m in methods.items()})
    return tables.with_note(out, "Geschat met: " + letters.legend())


def table_note(*frames: pd.DataFrame) -> str:
    """The note under a table: its footnote legend (:func:`analysis.tables.note`) and, when the
    table shows a mark, :data:`MARKS_NOTE`; ``""`` when there is nothing to say."""
    from analysis import tables

    parts = [tables.note(f) for f in frames] + [marks_note(*frames)]
    return " ".join(p for p in parts if p)


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


# --- reach section: sentences generated from the results tables (issue 15) ----------------------

def reach_not_estimable_text(table: pd.DataFrame) -> str:
    """What stage 02 could not compute, in Dutch (results/reach_not_estimable.csv).

    >>> reach_not_estimable_text(pd.DataFrame(columns=["table", "site", "site_label", "what", "reason", "reason_nl"]))
    'Alle statistieken van het bereik konden worden berekend.'
    """
    from analysis import reach

    return reach.not_estimable_text(table.fillna(""))


def model_method_sentence(model: pd.DataFrame) -> str:
    """How the reach model was estimated and what its sensitivity analysis is (results/reach_model.csv).

    Read from the table, not typed in the report: Firth only when a ``site_fixed`` row says so,
    leave-one-site-out or cluster-robust as the table holds.

    >>> t = pd.DataFrame({"model": ["site_fixed", "leave_one_site_out"], "site_left_out": ["", "DH"],
    ...                   "method": ["Firth penalised likelihood", "maximum likelihood"],
    ...                   "not_estimable": ["", ""]})
    >>> print(model_method_sentence(t))  # doctest: +ELLIPSIS
    Als gevoeligheidsanalyse is het model ... Firth-correctie [@firth1993; @heinze2002].
    """
    models = set(model["model"].dropna())
    parts = []
    if "leave_one_site_out" in models:
        parts.append("Als gevoeligheidsanalyse is het model telkens opnieuw geschat zonder één van de "
                     "krachtpunten (kolommen 'OR zonder …'): zo is te zien of een samenhang op één krachtpunt "
                     "rust. Cluster-robuuste standaardfouten zijn bij zo weinig krachtpunten niet zinvol en "
                     "worden niet gebruikt.")
    elif "site_fixed_cluster" in models:
        n = model.loc[model["model"] == "site_fixed_cluster", "n_clusters"].dropna()
        g = f" ({num(n.iloc[0], 0)} krachtpunten)" if len(n) else ""
        parts.append(f"Als gevoeligheidsanalyse zijn cluster-robuuste standaardfouten per krachtpunt{g} gebruikt, "
                     "met kleine-steekproefcorrectie en een t-verdeling met G − 1 vrijheidsgraden.")
    ne = model.get("not_estimable", pd.Series("", index=model.index)).fillna("").astype(str)
    if (ne[model["model"] == "site_fixed"] != "").any():
        parts.append("Odds ratio's die niet te schatten waren, staan in de tabel met de reden en ontbreken in de figuur.")
    main = model[model["model"] == "site_fixed"]
    if "method" in model and (main["method"] == "Firth penalised likelihood").any():
        parts.append("Omdat een groep volledig bereikt of volledig niet bereikt was (scheiding), is het model "
                     "geschat met de Firth-correctie [@firth1993; @heinze2002].")
    return " ".join(parts)


def r_indicator_sentence(table: pd.DataFrame) -> str:
    """The R-indicator per site with its bootstrap interval, or why not (results/reach_r_indicator.csv).

    >>> t = pd.DataFrame({"site": ["DH", "PS"], "site_label": ["Delfshaven", "De Pitstop"],
    ...                   "r_indicator": [0.81, None], "ci_low": [0.7, None], "ci_high": [0.9, None],
    ...                   "not_estimable": [None, "empty group: no one with reached = 0 among 3 at PS"]})
    >>> r_indicator_sentence(t)
    '0,81 (95%-BI 0,70–0,90) bij Delfshaven en niet te schatten bij De Pitstop (lege groep)'
    """
    from analysis import fmt, reach

    parts = []
    for _, r in table[table["site"] != reach.ALL].iterrows():
        why = r.get("not_estimable")
        why = why if isinstance(why, str) else ""
        if why.startswith(reach.NO_FORMS):
            parts.append(f"niet te schatten bij {r['site_label']} ({reach.NO_FORMS_NL})")
        elif _is_suppressed(r["r_indicator"]):
            parts.append(f"{stat(r['r_indicator'])} bij {r['site_label']}")
        elif worst_mark(r["ci_low"], r["ci_high"]):
            parts.append(f"{fmt.number(float(r['r_indicator']), 2)} bij {r['site_label']} (interval "
                         f"{stat(worst_mark(r['ci_low'], r['ci_high']))})")
        elif pd.isna(r["r_indicator"]):
            parts.append(f"niet te schatten bij {r['site_label']} ({reach.not_estimable_nl(why)})")
        elif pd.isna(r["ci_low"]):
            parts.append(f"{fmt.number(float(r['r_indicator']), 2)} bij {r['site_label']} (geen interval, "
                         f"{reach.not_estimable_nl(why) or 'niet berekend'})")
        else:
            parts.append(f"{fmt.number(float(r['r_indicator']), 2)} (95%-BI {fmt.ci(float(r['ci_low']), float(r['ci_high']))}) "
                         f"bij {r['site_label']}")
    if not parts:
        return "niet berekend (geen krachtpunten)"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " en " + parts[-1]


def representation_caveats(table: pd.DataFrame) -> str:
    """Which population each CBS comparison is with, and which reference is itself an estimate.

    From results/reach_representation.csv (``variable_label``, ``population``,
    ``reference_is_estimate``), one clause per compared variable, so the prose claims only what
    the table holds.

    >>> t = pd.DataFrame({"variable_label": ["Geslacht", "Eenzaamheid"], "population": ["alle inwoners", "landelijk"],
    ...                   "reference_is_estimate": [False, True]})
    >>> representation_caveats(t)[:60]
    'Geslacht met alle inwoners; Eenzaamheid met landelijk. Het C'
    """
    if table.empty or "population" not in table.columns:
        return "Er kon geen vergelijking met CBS-cijfers worden gemaakt."
    parts, estimates = [], []
    for (label, pop), g in table.groupby(["variable_label", "population"], sort=False):
        short = label.split(" (")[0]
        parts.append(f"{short} met {pop}")
        if str(g["reference_is_estimate"].iloc[0]).lower() == "true":
            estimates.append(short.lower())
    text = "; ".join(parts) + "."
    if estimates:
        text += (f" Het CBS-cijfer voor {' en '.join(estimates)} is zelf een schatting uit een steekproef; het "
                 "getoonde interval houdt geen rekening met die onzekerheid en is dus te smal.")
    return text


def _pct_text(v) -> str:
    """A percentage in brackets in running text: "35%", or why it is not shown.

    >>> _pct_text(35.2), _pct_text("<5"), _pct_text("x")
    ('35%', 'percentage niet getoond: minder dan vijf personen', 'percentage niet gepubliceerd')
    """
    if mark(v) == SUPPRESSED:
        return "percentage niet getoond: minder dan vijf personen"
    return "percentage niet gepubliceerd" if mark(v) else f"{num(v, 0)}%"


def reasons_sentence(table: pd.DataFrame) -> str:
    """The reasons paragraph's claims, from results/reach_summary.csv, also when nobody answered.

    >>> t = pd.DataFrame({"key": ["n_non_visitors_all", "top_reason_non_visitors_pct", "n_proxy_all",
    ...                           "top_reason_proxy_pct", "would_like_yes_pct_all"],
    ...                   "value": [40, 35.0, 0, None, None],
    ...                   "label": ["x", "Meest genoemde reden door niet-bezoekers (%): geen behoefte", "x",
    ...                             "Meest genoemde reden volgens bezoekers (proxy) (%): geen (niemand gaf een reden)", "x"]})
    >>> reasons_sentence(t)
    "De reden die niet-bezoekers het vaakst noemden, was 'geen behoefte' (35%). Er waren geen meldingen van bezoekers over bekenden die niet komen."
    """
    rows = table.set_index("key")

    def value(key):
        v = rows["value"].get(key, float("nan"))
        return v if _is_suppressed(v) else float(v) if v is not None and v == v else float("nan")

    def detail(key):
        return str(rows["label"].get(key, "")).rsplit(": ", 1)[-1]

    def known(v):
        return _is_suppressed(v) or v == v

    out = []
    top = value("top_reason_non_visitors_pct")
    if known(top):
        out.append(f"De reden die niet-bezoekers het vaakst noemden, was '{detail('top_reason_non_visitors_pct')}' ({_pct_text(top)}).")
    else:
        out.append("Geen enkele niet-bezoeker gaf een reden om niet te komen.")
    n_proxy, top_p, yes = value("n_proxy_all"), value("top_reason_proxy_pct"), value("would_like_yes_pct_all")
    if known(top_p):
        text = (f"Bezoekers die iemand kennen die niet komt ({count(n_proxy)} meldingen), noemden het vaakst "
                f"'{detail('top_reason_proxy_pct')}' ({_pct_text(top_p)})")
        if is_number(yes):
            text += f"; in {num(yes, 0)}% van de meldingen zou die persoon volgens de bezoeker wel graag willen komen"
        elif _is_suppressed(yes):
            text += (f"; het aandeel meldingen waarin die persoon wel graag zou willen komen, "
                     f"{hidden_phrase(yes)}")
        out.append(text + ".")
    else:
        out.append("Er waren geen meldingen van bezoekers over bekenden die niet komen.")
    return " ".join(out)
