"""Plant the documented defects in raw exports, deterministically, and record where they are.

Every function takes a raw frame (as :func:`analysis.synth.export.unmap` makes it) and returns
a new frame plus a list of records ``{defect, file, sheet, column, rows, count, description}``;
``rows`` are row numbers as a person sees them when opening the file (and as
:mod:`analysis.readers` numbers them: spreadsheet/CSV row with the header as row 1; SPSS case
number). The records go to ``true_parameters.yaml`` and ``README.md`` so cleaning tests can
check that each defect is found. Counts come from ``analysis/synth/params.yaml`` (``defects``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.codebook import Codebook

FIRST_ROW = {"csv": 2, "xlsx": 2, "sav": 1}


class Planter:
    """Collects defect records for one file and keeps planted cells apart."""

    def __init__(self, file: str, fmt: str, rng: np.random.Generator, sheet: str | None = None):
        self.file, self.fmt, self.rng, self.sheet = file, fmt, rng, sheet
        self.records: list[dict] = []
        self.touched: set = set()
        self.protected_rows: set = set()

    def row_numbers(self, positions) -> list[int]:
        return [int(p) + FIRST_ROW[self.fmt] for p in positions]

    def record(self, defect: str, column: str, positions, description: str) -> None:
        positions = sorted(int(p) for p in positions)
        if not positions:
            return
        rec = {"defect": defect, "file": self.file, "column": column, "rows": self.row_numbers(positions),
               "count": len(positions), "description": description}
        if self.sheet:
            rec["sheet"] = self.sheet
        self.records.append(rec)

    def pick(self, frame: pd.DataFrame, k: int, columns: list[str], candidates=None) -> list[tuple[int, str]]:
        """``k`` distinct untouched (row position, column) cells, rows outside protected ones."""
        rows = np.arange(len(frame)) if candidates is None else np.asarray(sorted(candidates), dtype=int)
        rows = np.array([r for r in rows if r not in self.protected_rows], dtype=int)
        cells = [(int(r), c) for r in rows for c in columns if (int(r), c) not in self.touched]
        if len(cells) < k:
            raise ValueError(f"{self.file}: cannot plant {k} defects in {columns}; too few rows (scale or params.yaml)")
        chosen = self.rng.choice(len(cells), k, replace=False)
        out = sorted(cells[i] for i in chosen)
        self.touched.update(out)
        return out


def phone_and_name(rng: np.random.Generator, params: dict) -> str:
    """A synthetic name and Dutch mobile number in a typical phrase (never a real person)."""
    d = params["defects"]
    name = str(rng.choice(d["names"]))
    phone = "06-" + "".join(str(x) for x in rng.integers(0, 10, 8))
    return str(rng.choice(d["phrases"])).format(name=name, phone=phone)


def _identifiers(p: Planter, frame: pd.DataFrame, column: str, k: int, params: dict) -> pd.DataFrame:
    if k <= 0:
        return frame
    filled = [i for i, v in enumerate(frame[column]) if isinstance(v, str) and v.strip()
              and i not in p.protected_rows and (i, column) not in p.touched]
    pool = filled if len(filled) >= k else None  # too few texts: any row gets one
    cells = p.pick(frame, k, [column], candidates=pool)
    for r, c in cells:
        old = frame.iat[r, frame.columns.get_loc(c)]
        text = phone_and_name(p.rng, params)
        frame.iat[r, frame.columns.get_loc(c)] = f"{old}, {text}" if isinstance(old, str) and old else text
    p.record("identifiers_in_free_text", column, [r for r, _ in cells],
             "a name and a mobile phone number typed into the free-text field (synthetic); must never reach data/processed")
    return frame


def _missing_items(p: Planter, frame, columns, k, empty, defect="missing_scale_items", what="DJG") -> pd.DataFrame:
    if k <= 0:
        return frame
    cells = p.pick(frame, k, columns)
    for r, c in cells:
        frame.iat[r, frame.columns.get_loc(c)] = empty
    for c in sorted({c for _, c in cells}):
        p.record(defect, c, [r for r, cc in cells if cc == c], f"{what} item left unanswered")
    return frame


def _insert_row(frame: pd.DataFrame, row: pd.Series, at: int) -> pd.DataFrame:
    top, bottom = frame.iloc[:at], frame.iloc[at:]
    return pd.concat([top, row.to_frame().T, bottom], ignore_index=True).astype(object)


# ----------------------------------------------------------------------------------------
def plant_dh(cb: Codebook, frame: pd.DataFrame, file: str, rng, params: dict) -> tuple[pd.DataFrame, list]:
    """DH (survey-tool CSV): a double submission, an impossible age, blank DJG items, identifiers."""
    d = params["defects"]["DH"]
    p = Planter(file, "csv", rng)
    frame = frame.copy()
    m = {v: cb.mapping("DH", v).get("column") for v in ("respondent_id", "date", "age", "household", "other_text")}
    for _ in range(d.get("duplicate_submission", 0)):
        i = int(rng.integers(0, len(frame) - 1))
        dup = frame.iloc[i].copy()
        n_next = len(frame) + 1
        dup[m["respondent_id"]] = params["raw_ids"]["DH"].format(n=n_next)
        t = pd.Timestamp(dup[m["date"]]) + pd.Timedelta(minutes=2)
        dup[m["date"]] = t.strftime(cb.mapping("DH", "date")["format"])
        frame = _insert_row(frame, dup, i + 1)
        p.protected_rows.update({i, i + 1})
        p.record("duplicate_submission", "*", [i, i + 1],
                 "the same form submitted twice (identical answers, new response ID, timestamp 2 minutes later)")
    for value in d.get("age_out_of_range", []):
        (r, c), = p.pick(frame, 1, [m["age"]])
        frame.iat[r, frame.columns.get_loc(c)] = str(value)
        p.record("age_out_of_range", c, [r], f"age {value}: outside the study's adult age range")
    djg_cols = [cb.mapping("DH", f"djg_{i}")["column"] for i in range(1, 7)]
    frame = _missing_items(p, frame, djg_cols, d.get("missing_djg_items", 0), "")
    frame = _identifiers(p, frame, m["other_text"], d.get("identifiers_in_free_text", 0), params)
    label = cb.raw_value("DH", "household", "alleenstaand")
    rows = [i for i, v in enumerate(frame[m["household"]]) if v == label]
    p.record("site_specific_label", m["household"], rows,
             f"DH writes {label!r} for the option the questionnaire calls 'alleenstaand' (mapped in the codebook)")
    return frame, p.records


def plant_lh(cb: Codebook, frame: pd.DataFrame, file: str, rng, params: dict) -> tuple[pd.DataFrame, list]:
    """LH (typed paper forms): ages as text and birth years, impossible dates and ages,
    "weet niet", blank items, a form typed twice, identifiers, and spelling and case variants."""
    d = params["defects"]["LH"]
    p = Planter(file, "xlsx", rng)
    frame = frame.copy()
    col = {v: m.get("column") for v, m in cb.source("LH")["columns"].items()}
    n = len(frame)
    # ages: "45 jaar" and birth years, as volunteers typed them
    age_col, date_col = col["age"], col["date"]
    ages = frame[age_col].to_numpy()
    u = rng.random(n)
    suffix = cb.mapping("LH", "age")["suffix"]
    suffix_rows = np.flatnonzero(u < d.get("age_with_suffix", 0))
    birth_rows = np.flatnonzero((u >= d.get("age_with_suffix", 0)) & (u < d.get("age_with_suffix", 0) + d.get("birth_year", 0)))
    for r in suffix_rows:
        frame.iat[r, frame.columns.get_loc(age_col)] = f"{ages[r]}{suffix}"
    for r in birth_rows:
        year = int(str(frame.iat[r, frame.columns.get_loc(date_col)])[-4:])
        frame.iat[r, frame.columns.get_loc(age_col)] = year - int(ages[r])
    p.touched.update((int(r), age_col) for r in birth_rows)
    # the same paper form typed in twice (exact copy, later in the sheet)
    for _ in range(d.get("duplicated_form", 0)):
        i = int(rng.integers(0, len(frame) // 2))
        at = int(rng.integers(i + 2, len(frame)))
        frame = _insert_row(frame, frame.iloc[i].copy(), at)
        p.touched = {(r + (r >= at), c) for r, c in p.touched}
        suffix_rows = [r + (r >= at) for r in suffix_rows] + ([at] if i in suffix_rows else [])
        birth_rows = [r + (r >= at) for r in birth_rows] + ([at] if i in birth_rows else [])
        p.protected_rows = {r + (r >= at) for r in p.protected_rows} | {i, at}
        p.record("duplicated_form", "*", [i, at], "the same paper form typed in twice (identical row, same form number)")
    p.record("age_with_suffix", age_col, suffix_rows, f'age typed with a unit, e.g. "45{suffix}"')
    p.record("birth_year_instead_of_age", age_col, birth_rows,
             "birth year typed instead of the age (year of the form's date minus the age)")
    for value in d.get("age_out_of_range", []):
        (r, c), = p.pick(frame, 1, [age_col])
        frame.iat[r, frame.columns.get_loc(c)] = f"{value}{suffix}"
        p.record("age_out_of_range", c, [r], f"age {value}: outside the study's adult age range")
    for value in d.get("impossible_dates", []):
        (r, c), = p.pick(frame, 1, [date_col])
        frame.iat[r, frame.columns.get_loc(c)] = value
        p.record("impossible_date", c, [r], f"date {value} does not exist")
    wn = next(k for k, v in cb.missing_values("LH").items() if v == "weet_niet")
    cells = p.pick(frame, d.get("weet_niet", 0), [col["finances"], col["health"], col["education"]])
    for r, c in cells:
        frame.iat[r, frame.columns.get_loc(c)] = wn
    for c in sorted({c for _, c in cells}):
        p.record("weet_niet", c, [r for r, cc in cells if cc == c], f'"{wn}" written in a coded question')
    djg_cols = [col[f"djg_{i}"] for i in range(1, 7)]
    frame = _missing_items(p, frame, djg_cols, d.get("missing_djg_items", 0), None)
    frame = _identifiers(p, frame, col["other_text"], d.get("identifiers_in_free_text", 0), params)
    # spelling variants listed in the codebook, then case and space variants
    coded = [v for v, m in cb.source("LH")["columns"].items() if "values" in m and "sep" not in m]
    for var in coded:
        c = col[var]
        variants = {code: raws[1:] for code, raws in cb.raw_values("LH", var).items() if len(raws) > 1}
        canon = {cb.raw_value("LH", var, code): code for code in cb.codes(var)}
        if not variants:
            continue
        cand = [r for r, v in enumerate(frame[c]) if v in canon and canon[v] in variants and (r, c) not in p.touched
                and r not in p.protected_rows]
        chosen = [r for r in cand if rng.random() < d.get("spelling_variants", 0)]
        for r in chosen:
            options = variants[canon[frame.iat[r, frame.columns.get_loc(c)]]]
            frame.iat[r, frame.columns.get_loc(c)] = str(options[int(rng.integers(0, len(options)))])
            p.touched.add((r, c))
        p.record("spelling_variant", c, chosen, "a spelling variant listed in the codebook (e.g. 'v' for vrouw)")
    styles = [str.capitalize, lambda s: s + " ", str.upper, lambda s: " " + s.capitalize()]
    for var in coded:
        c = col[var]
        cand = [r for r, v in enumerate(frame[c]) if isinstance(v, str) and v and (r, c) not in p.touched
                and r not in p.protected_rows]
        chosen = [r for r in cand if rng.random() < d.get("case_and_space_variants", 0)]
        changed = []
        for r in chosen:
            old = frame.iat[r, frame.columns.get_loc(c)]
            new = styles[int(rng.integers(0, len(styles)))](old)
            if new != old:
                frame.iat[r, frame.columns.get_loc(c)] = new
                changed.append(r)
        p.record("case_or_space_variant", c, changed, 'capitals or stray spaces, e.g. "Vrouw", "vrouw ", "VROUW"')
    return frame, p.records


def plant_ps(cb: Codebook, frame: pd.DataFrame, file: str, rng, params: dict) -> tuple[pd.DataFrame, list]:
    """PS (SPSS): user-missing 98/99 codes, system-missing DJG items, identifiers in text."""
    d = params["defects"]["PS"]
    p = Planter(file, "sav", rng)
    frame = frame.copy()
    col = {v: m.get("column") for v, m in cb.source("PS")["columns"].items()}
    targets = [col[v] for v in ("education", "finances", "health", "origin", "household")]
    for code, key in ((98, "user_missing_98"), (99, "user_missing_99")):
        cells = p.pick(frame, d.get(key, 0), targets)
        for r, c in cells:
            frame.iat[r, frame.columns.get_loc(c)] = float(code)
        reason = cb.missing_values("PS")[code]
        for c in sorted({c for _, c in cells}):
            p.record(f"user_missing_{code}", c, [r for r, cc in cells if cc == c],
                     f"SPSS user-missing code {code} ({cb.data['missing_reasons'][reason]['nl']})")
    djg_cols = [col[f"djg_{i}"] for i in range(1, 7)]
    frame = _missing_items(p, frame, djg_cols, d.get("missing_djg_items", 0), np.nan)
    frame = _identifiers(p, frame, col["other_text"], d.get("identifiers_in_free_text", 0), params)
    return frame, p.records


PLANTERS = {"DH": plant_dh, "LH": plant_lh, "PS": plant_ps}


def plant_proxy(cb, frame, file, rng, params):
    """Proxy reports: a name and phone number in the remarks."""
    p = Planter(file, "csv", rng)
    frame = _identifiers(p, frame.copy(), cb.mapping("proxy", "proxy_text")["column"],
                         params["defects"]["proxy"].get("identifiers_in_free_text", 0), params)
    return frame, p.records


def plant_interviews(cb, sheets: dict, file, rng, params):
    """Interviews: blank WHO-5 and DJG items, one interview with two DJG items blank, an
    out-of-range score. Sheets are chosen at random; rows are per sheet."""
    d = params["defects"]["interviews"]
    col = {v: m.get("column") for v, m in cb.source("interviews")["columns"].items()}
    who = [col[f"who5_{i}"] for i in range(1, 6)]
    djg = [col[f"djg_{i}"] for i in range(1, 7)]
    sheets = {k: v.copy() for k, v in sheets.items()}
    planters = {k: Planter(file, "xlsx", rng, sheet=k) for k in sheets}
    names = list(sheets)

    def one(kind, columns, k, what):
        for _ in range(k):
            s = names[int(rng.integers(0, len(names)))]
            sheets[s] = _missing_items(planters[s], sheets[s], columns, 1, None, what=what)

    one("who5", who, d.get("missing_who5_items", 0), "WHO-5")
    one("djg", djg, d.get("missing_djg_items", 0), "DJG")
    for _ in range(d.get("missing_djg_two_items", 0)):
        s = names[int(rng.integers(0, len(names)))]
        p = planters[s]
        r = int(rng.choice([i for i in range(len(sheets[s])) if not any((i, c) in p.touched for c in djg)]))
        cs = sorted(rng.choice(djg, 2, replace=False).tolist())
        for c in cs:
            sheets[s].iat[r, sheets[s].columns.get_loc(c)] = None
            p.touched.add((r, c))
        p.record("two_missing_djg_items", "+".join(cs), [r],
                 "two DJG items unanswered in one interview: the total is then missing (manual's rule)")
    for spec in d.get("out_of_range", []):
        s = names[-1]
        (r, c), = planters[s].pick(sheets[s], 1, [spec["column"]])
        sheets[s].iat[r, sheets[s].columns.get_loc(c)] = spec["value"]
        planters[s].record("score_out_of_range", c, [r], f"score {spec['value']} outside the instrument's range")
    return sheets, [rec for p in planters.values() for rec in p.records]


def plant_segments(cb, frame, file, rng, params):
    """Coded segments: a coder's variant spelling of one code path (listed in the codebook)."""
    p = Planter(file, "csv", rng)
    frame = frame.copy()
    c = cb.mapping("segments", "code")["column"]
    raws = cb.raw_values("segments", "code")
    variants = {code: r[1:] for code, r in raws.items() if len(r) > 1}
    for _ in range(params["defects"]["segments"].get("code_path_variant", 0)):
        for code, alts in variants.items():
            canon = raws[code][0]
            cand = [i for i, v in enumerate(frame[c]) if v == canon and (i, c) not in p.touched]
            if not cand:
                continue
            (r, _), = p.pick(frame, 1, [c], candidates=cand)
            frame.iat[r, frame.columns.get_loc(c)] = alts[0]
            p.record("code_path_variant", c, [r], f"code path spelled {alts[0]!r} (same code as {canon!r})")
            break
    return frame, p.records
