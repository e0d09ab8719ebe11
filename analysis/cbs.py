"""CBS Kerncijfers wijken en buurten: the committed reference file and an online fetch.

The reference file ``data/reference/cbs_kerncijfers.csv`` holds, in long format, the figures
for each site's region that were verified in a named source (shared/reference/CBS.md): one row
per region and variable with ``region_code, region_name, variable, value, year, table_id,
source, note``. Figures that could not be found are rows with an empty value and the reason in
``note``: never invented (STUDY.md section 2, "Reference").

``python -m analysis fetch-cbs`` fetches the full table with ``cbsodata`` (CBS's own OData
client) for a user who is online, keeps the configured regions (``cbs_region`` of the sites in
analysis/study.yaml) and writes the same long format with its provenance (table id, title,
period, fetch date) in ``source``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from analysis import config

COLUMNS = ["region_code", "region_name", "variable", "value", "year", "table_id", "source", "note"]
REFERENCE_FILE = config.REFERENCE_DIR / "cbs_kerncijfers.csv"
REGION_KEY = "WijkenEnBuurten"
#: In 85984NED the region code is also a topic; cbsodata.get_data replaces the WijkenEnBuurten
#: key by its title, so this column is the reliable place to find the code.
CODE_TOPIC = "Codering_3"


def read_reference(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read the reference file and check that every figure has a source and every gap a reason.

    Examples
    --------
    >>> ref = read_reference()
    >>> int(ref.query("region_code == 'WK059903' and variable == 'AantalInwoners_5'")["value"].iloc[0])
    77250
    """
    path = Path(path or REFERENCE_FILE)
    frame = pd.read_csv(path, dtype={"region_code": str, "variable": str, "table_id": str, "source": str, "note": str},
                        keep_default_na=False, na_values={"value": [""]})
    missing_cols = [c for c in COLUMNS if c not in frame.columns]
    if missing_cols:
        raise ValueError(f"{path.name}: columns {missing_cols} missing; the file needs {COLUMNS}")
    frame["value"] = pd.to_numeric(frame["value"], errors="raise")
    check_reference(frame, path.name)
    return frame


def check_reference(frame: pd.DataFrame, name: str = "reference") -> None:
    """Every value has a source, year and table id; every empty value has a reason in ``note``."""
    has = frame["value"].notna()
    for col in ("source", "table_id"):
        bad = frame.index[has & (frame[col].str.strip() == "")]
        if len(bad):
            raise ValueError(f"{name}: rows {[int(i) + 2 for i in bad]} have a value but no {col}; "
                             "say where each figure comes from")
    bad = frame.index[~has & (frame["note"].str.strip() == "")]
    if len(bad):
        raise ValueError(f"{name}: rows {[int(i) + 2 for i in bad]} have no value and no reason in 'note'; "
                         "explain every gap (e.g. not found offline) rather than leave it blank")
    dup = frame.duplicated(["region_code", "variable", "year"])
    if dup.any():
        raise ValueError(f"{name}: rows {[int(i) + 2 for i in frame.index[dup]]} repeat a region, variable and year")


def configured_regions(study: dict | None = None) -> list[str]:
    """CBS region codes of the sites in analysis/study.yaml, in site order."""
    study = study or config.study()
    return [cfg["cbs_region"] for cfg in study["sites"].values()]


def fetch(table: str, regions: list[str], *, today: dt.date | None = None) -> pd.DataFrame:
    """Fetch ``table`` with cbsodata and return the configured regions in long format.

    Parameters
    ----------
    table : str
        CBS table id, e.g. ``"85984NED"`` (Kerncijfers wijken en buurten 2024).
    regions : list of str
        Region codes without padding (``"WK059903"``, ``"GM0828"``).
    today : date, optional
        The fetch date written into the provenance (default: today).

    Notes
    -----
    CBS pads region codes with spaces ("WK059903  "); they are stripped. ``cbsodata.get_data``
    replaces the region key by its title, so the code is taken from the key when it still looks
    like a code and otherwise from the ``Codering_3`` topic. CBS's empty cells (symbol ".",
    unknown or secret) arrive as ``None`` and are kept as empty values with that reason.
    """
    import cbsodata

    if not regions:
        raise ValueError("no regions to fetch: set cbs_region for the sites in analysis/study.yaml")
    today = today or dt.date.today()
    info = (cbsodata.get_meta(table, "TableInfos") or [{}])[0]
    props = cbsodata.get_meta(table, "DataProperties")
    topics = [p["Key"] for p in props if p.get("Type") == "Topic" and p.get("Key") != CODE_TOPIC]
    region_titles = {r["Key"].strip(): r.get("Title", "") for r in cbsodata.get_meta(table, REGION_KEY)}
    rows = cbsodata.get_data(table)
    wanted = set(regions)
    period = str(info.get("Period", ""))
    year = int(period) if period.isdigit() else pd.NA
    source = (f"CBS StatLine {table} '{info.get('Title', '')}' (period {period}), fetched with cbsodata "
              f"{getattr(cbsodata, '__version__', '')} on {today.isoformat()}")
    records = []
    for row in rows:
        code = str(row.get(REGION_KEY, "")).strip()
        if code not in region_titles and CODE_TOPIC in row:
            code = str(row.get(CODE_TOPIC) or "").strip()
        if code not in wanted:
            continue
        for key in topics:
            value = row.get(key)
            if isinstance(value, str):
                continue  # text topics (names, codes) are not figures
            records.append({
                "region_code": code, "region_name": region_titles.get(code, ""), "variable": key,
                "value": value, "year": year, "table_id": table, "source": source,
                "note": "" if value is not None else "empty in the CBS table (CBS symbol '.': unknown, unreliable or secret)",
            })
    missing = sorted(wanted - {r["region_code"] for r in records})
    if missing:
        raise ValueError(f"table {table} has no rows for regions {missing}; check cbs_region in analysis/study.yaml "
                         "(codes change when CBS redraws wijken: use the table's own year)")
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame["value"] = pd.to_numeric(frame["value"])
    check_reference(frame, f"fetched {table}")
    return frame


def cli(args) -> int:
    """``python -m analysis fetch-cbs [--table ID] [--out FILE]``."""
    table = args.table
    out = Path(args.out) if args.out else config.REFERENCE_DIR / f"cbs_fetched_{table}.csv"
    frame = fetch(table, configured_regions())
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, lineterminator="\n")
    print(f"wrote {len(frame)} figures for {frame['region_code'].nunique()} regions from CBS {table} to {out}")
    return 0
