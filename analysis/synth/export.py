"""Turn tidy truth into raw exports through the codebook, and write them byte-reproducibly.

"Un-mapping" is the inverse of cleaning: for every tidy variable the codebook's source mapping
says which raw column it lives in and which raw value stands for each code (the first raw value
listed for a code is the one an export normally writes). Writers fix every timestamp that
file formats embed (xlsx core properties and zip entries, the .sav header) so that the same
seed gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.codebook import Codebook

EMPTY = {"csv": "", "xlsx": None, "sav": np.nan}


def _fmt_date(values, fmt: str) -> np.ndarray:
    s = pd.Series(pd.to_datetime(values))
    return s.dt.strftime(fmt).to_numpy(dtype=object)


def _missing_raw(cb: Codebook, source: str, reason: str):
    """The raw value a source writes for a missing reason (truth holds the reason's key, e.g.
    a proxy reporter's "onbekend"); ValueError when the source cannot say it."""
    for raw, r in cb.missing_values(source).items():
        if r == reason:
            return raw
    raise ValueError(f"source {source!r} has no raw value for the missing reason {reason!r}; add it to "
                     f"sources.{source}.missing_values in analysis/codebook.yaml")


def unmap(cb: Codebook, source: str, tidy: pd.DataFrame, raw_ids: list | None = None) -> pd.DataFrame:
    """Raw export of ``tidy`` in the format of ``source``: raw columns and raw values.

    Parameters
    ----------
    cb : Codebook
    source : str
        A codebook source (e.g. ``"DH"``); its ``columns`` mapping decides every column.
    tidy : DataFrame
        Tidy truth with the source's variables (multi-selects as ``<name>_<code>`` booleans,
        missing when the question did not apply). A coded value that is a key of the codebook's
        ``missing_reasons`` is written as the source's raw value for that reason.
    raw_ids : list, optional
        The export's own form numbers for the identifier column (default: tidy ids).

    Returns
    -------
    DataFrame with object columns, one per raw column, in the codebook's order.
    """
    src = cb.source(source)
    fmt = src["format"]
    empty = EMPTY[fmt]
    out = {}
    n = len(tidy)
    for var, m in src["columns"].items():
        vdef = cb.variable(var)
        if vdef["type"] == "multi":
            prefix = cb.table_variables(src["table"])
            prefix = next((col for col, v in prefix.items() if v == var), var)
            if "columns" in m:
                unticked = 0 if fmt == "sav" else ""
                for raw_col, code in m["columns"].items():
                    s = tidy[f"{prefix}_{code}"]
                    val = np.where(s.isna(), empty, np.where(s.fillna(False).astype(bool), m["selected"], unticked))
                    out[raw_col] = val.astype(object) if fmt != "sav" else val.astype(float)
            else:
                sep = m["sep"] + (" " if m["sep"] == "," else "")
                labels = {code: cb.raw_value(source, var, code) for code in cb.codes(var)}
                parts = []
                for code in cb.codes(var):
                    s = tidy[f"{prefix}_{code}"].fillna(False).astype(bool).to_numpy()
                    parts.append(np.where(s, labels[code], ""))
                joined = [sep.join(p for p in row if p) for row in zip(*parts)] if parts else [""] * n
                out[m["column"]] = np.asarray(joined, dtype=object)
            continue
        col = m["column"]
        values = tidy[var] if var in tidy else pd.Series([None] * n)
        if var in ("respondent_id", "proxy_id") and raw_ids is not None:
            out[col] = np.asarray(raw_ids, dtype=object)
            if fmt == "sav":
                out[col] = np.asarray(raw_ids, dtype=float)
            continue
        if "values" in m:
            codes = set(cb.codes(var))
            lookup = {c: cb.raw_value(source, var, c) if c in codes or c not in cb.data["missing_reasons"]
                      else _missing_raw(cb, source, c) for c in set(values.dropna())}
            mapped = values.map(lookup)
            mapped = mapped.where(values.notna(), empty)
            out[col] = mapped.to_numpy(dtype=float if fmt == "sav" else object)
            continue
        parse = m.get("parse")
        if parse in ("date", "datetime"):
            out[col] = _fmt_date(values, m["format"])
        elif parse in ("spss_date", "excel_date"):
            out[col] = np.asarray([d.date() for d in pd.to_datetime(values)], dtype=object)
        elif parse in ("integer", "age_text"):
            if fmt == "sav":
                out[col] = values.astype(float).to_numpy()
            elif fmt == "xlsx":
                out[col] = np.asarray([None if pd.isna(v) else int(v) for v in values], dtype=object)
            else:
                out[col] = np.asarray(["" if pd.isna(v) else str(int(v)) for v in values], dtype=object)
        elif parse == "number":
            out[col] = np.asarray([("" if fmt == "csv" else None) if pd.isna(v) else
                                   (f"{v:g}" if fmt == "csv" else float(v)) for v in values], dtype=object)
        else:
            if fmt == "sav" and var == "pc4":
                out[col] = values.astype(float).to_numpy()
            elif fmt == "xlsx" and var == "pc4":
                out[col] = np.asarray([int(v) for v in values], dtype=object)
            else:
                out[col] = values.fillna("").astype(object).to_numpy() if fmt != "sav" else values.fillna("").astype(str).to_numpy(dtype=object)
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------------------
# writers
def write_csv(frame: pd.DataFrame, path: Path, sep: str, encoding: str) -> None:
    """CSV as the source describes it (``utf-8-sig`` writes the byte-order mark)."""
    frame.to_csv(path, sep=sep, index=False, encoding=encoding, lineterminator="\n")


def _fixed_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """Rewrite an xlsx (zip) with fixed entry times and fixed core-property dates."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(r"(<dcterms:created[^>]*>)[^<]*(</dcterms:created>)", rf"\g<1>{iso}\g<2>", text)
                text = re.sub(r"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rf"\g<1>{iso}\g<2>", text)
                content = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, content)
    return buf.getvalue()


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path, stamp: dt.datetime, creator: str) -> None:
    """Workbook with one sheet per frame; fixed properties so the bytes depend only on content.

    openpyxl stamps ``modified`` with the current time on save and zip entries with the file
    time, so the saved bytes are rewritten with ``stamp`` (see :func:`_fixed_zip`).
    """
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    wb.properties.creator = creator
    wb.properties.lastModifiedBy = creator
    wb.properties.created = stamp
    wb.properties.modified = stamp
    for name, frame in sheets.items():
        ws = wb.create_sheet(title=name)
        ws.append(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            ws.append([_xl(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    Path(path).write_bytes(_fixed_zip(buf.getvalue(), stamp))


def _xl(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


#: Offset and length of the creation date ("dd mmm yy") and time ("hh:mm:ss") in a .sav header
#: (SPSS system-file format, record type 1: 4+60+5*4+8 bytes precede them).
_SAV_STAMP = slice(92, 109)


def write_sav(frame: pd.DataFrame, path: Path, stamp: dt.datetime, **kwargs) -> None:
    """SPSS file via pyreadstat, with the header's creation date and time set to ``stamp``.

    ReadStat writes the current time into the header and pyreadstat offers no option to set it,
    so the 17 bytes are overwritten after writing (same length, same format).
    """
    import pyreadstat

    pyreadstat.write_sav(frame, str(path), **kwargs)
    data = bytearray(Path(path).read_bytes())
    fixed = (stamp.strftime("%d %b %y") + stamp.strftime("%H:%M:%S")).encode("ascii")
    if data[:4] != b"$FL2" or len(fixed) != _SAV_STAMP.stop - _SAV_STAMP.start:
        raise ValueError(f"{path}: unexpected .sav header; cannot fix its timestamp (pyreadstat changed?)")
    data[_SAV_STAMP] = fixed
    Path(path).write_bytes(bytes(data))


def sav_metadata(cb: Codebook, source: str, columns: list[str]) -> dict:
    """Value labels, user-missing codes, variable labels and formats for an SPSS export.

    Value labels are the Dutch labels of the tidy codes; user-missing codes and their labels come
    from the source's ``missing_values`` and the codebook's ``missing_reasons``.
    """
    src = cb.source(source)
    missing = cb.missing_values(source)
    miss_labels = {k: cb.data["missing_reasons"][r]["nl"] for k, r in missing.items()}
    value_labels, missing_ranges, labels, formats, measure = {}, {}, {}, {}, {}
    for var, m in src["columns"].items():
        vdef = cb.variable(var)
        if "columns" in m:
            for raw_col, code in m["columns"].items():
                labels[raw_col] = f"{vdef['nl']}: {cb.labels(var)[code]}"
                value_labels[raw_col] = {1: "aangekruist", 0: "niet aangekruist"}
                formats[raw_col] = "F1.0"
                measure[raw_col] = "nominal"
            continue
        col = m["column"]
        labels[col] = m.get("label", vdef["nl"])
        if "values" in m:
            vl = {float(raw): cb.labels(var)[code] for raw, code in m["values"].items()}
            vl.update({float(k): v for k, v in miss_labels.items()})
            value_labels[col] = vl
            missing_ranges[col] = [float(k) for k in missing]
            formats[col] = "F2.0"
            measure[col] = "ordinal" if vdef["type"] == "ordinal" else "nominal"
        elif m.get("parse") == "spss_date":
            formats[col] = "EDATE10"
        elif m.get("parse") == "integer" or var == "respondent_id":
            formats[col] = "F5.0"
            measure[col] = "scale"
    keep = set(columns)
    return {
        "column_labels": {k: v for k, v in labels.items() if k in keep},
        "variable_value_labels": {k: v for k, v in value_labels.items() if k in keep},
        "missing_ranges": {k: v for k, v in missing_ranges.items() if k in keep},
        "variable_format": {k: v for k, v in formats.items() if k in keep},
        "variable_measure": {k: v for k, v in measure.items() if k in keep},
    }
