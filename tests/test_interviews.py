"""Interview cleaning, scoring, pairing and coded segments (analysis/interviews.py).

Expected values come from the generator's record of what it planted
(``data/raw/true_parameters.yaml``, key ``defects``: file, sheet, row, column of every planted
interview defect; ``interviews``: drop-outs and the intervals it set), from the scoring rules
written out in STUDY.md section 2 (hand counts in the comments), and from properties that must
hold for any input (hypothesis).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as hs

from analysis import clean, config
from analysis import interviews as iv
from analysis.readers import RawDataError

RAW = config.RAW_DIR
TRUTH = yaml.safe_load((RAW / "true_parameters.yaml").read_text(encoding="utf-8"))
KEY = clean.SYNTHETIC_KEY.encode()


@pytest.fixture(scope="module")
def cleaned():
    return iv.clean_interviews(RAW)


def _raw_sheet(sheet: str) -> pd.DataFrame:
    frame = pd.read_excel(RAW / "interviews.xlsx", sheet_name=sheet, dtype=object, engine="openpyxl")
    frame.index = frame.index + 2  # spreadsheet rows: header = row 1
    return frame


def _row(cleaned, sheet: str, row: int) -> pd.Series:
    """The tidy interview of the person on ``row`` of ``sheet`` (pseudonym recomputed here)."""
    raw = _raw_sheet(sheet).loc[row]
    pid = iv.pseudonyms(pd.Series([raw["Respondent"]]), pd.Series([raw["Locatie"]]), KEY).iloc[0]
    t = cleaned.interviews
    hit = t[(t["person_id"] == pid) & (t["wave"] == sheet)]
    assert len(hit) == 1
    return hit.iloc[0]


def _defects(kind: str | None = None):
    return [d for d in TRUTH["defects"]
            if d["file"] in ("interviews.xlsx", "gecodeerde_segmenten.csv") and (kind is None or d["defect"] == kind)]


def test_every_planted_defect_has_a_log_row(cleaned):
    log = cleaned.log.frame()
    for d in _defects():
        file = f"{d['file']}[{d['sheet']}]" if d.get("sheet") else d["file"]
        for row in d["rows"]:
            for column in d["column"].split("+"):
                hit = log[(log["file"] == file) & (log["row"] == row) & (log["column"] == column)]
                assert len(hit) >= 1, f"no log row for {d['defect']} at {file} row {row} column {column}"


def test_missing_who5_item_gives_missing_score(cleaned):
    for d in _defects("missing_scale_items"):
        if not d["column"].startswith("WHO5"):
            continue
        for row in d["rows"]:
            person = _row(cleaned, d["sheet"], row)
            # WHO-5 needs all five items (STUDY.md section 2)
            assert pd.isna(person["who5"])
            item = "who5_" + d["column"].split("_")[1]
            assert pd.isna(person[item])


def test_one_missing_djg_item_counts_over_five(cleaned):
    (d,) = [d for d in _defects("missing_scale_items") if d["column"].startswith("DJG")]
    (row,) = d["rows"]
    person = _row(cleaned, d["sheet"], row)
    raw = _raw_sheet(d["sheet"]).loc[row]
    # hand count over the five answered items: emotional items (1, 4, 6) score 1 for ja / min of
    # meer, social items (2, 3, 5) score 1 for nee / min of meer; not prorated to six
    emotional = {1, 4, 6}
    total = 0
    for i in range(1, 7):
        answer = raw[f"DJG{i}"]
        if pd.isna(answer):
            continue
        total += int(answer in (("ja", "min of meer") if i in emotional else ("nee", "min of meer")))
    assert person["djg_total"] == total
    assert pd.isna(person["djg_social"])  # item 3 is a social item: its subscale is missing
    assert not pd.isna(person["djg_emotional"])
    log = cleaned.log.frame()
    rule = log[(log["row"] == row) & (log["column"] == d["column"])]["rule"].iloc[0]
    assert "5 answered items" in rule


def test_two_missing_djg_items_give_missing_total(cleaned):
    (d,) = _defects("two_missing_djg_items")
    person = _row(cleaned, d["sheet"], d["rows"][0])
    assert pd.isna(person["djg_total"])  # more than one item missing (manual, section 8)
    assert pd.isna(person["djg_emotional"]) and pd.isna(person["djg_social"])  # DJG1 emotional, DJG2 social


def test_out_of_range_score_set_missing_and_logged(cleaned):
    (d,) = _defects("score_out_of_range")
    person = _row(cleaned, d["sheet"], d["rows"][0])
    assert pd.isna(person["pg_meedoen"])
    log = cleaned.log.frame()
    hit = log[(log["file"] == f"interviews.xlsx[{d['sheet']}]") & (log["row"] == d["rows"][0])
              & (log["column"] == d["column"])].iloc[0]
    assert hit["old"] == "12" and hit["new"] == "" and "out of range" in hit["rule"]


def test_code_path_variant_is_harmonised(cleaned):
    (d,) = _defects("code_path_variant")
    row = d["rows"][0]
    # segment_id numbers the kept segments in file order; none are removed here (row 2 = id 1)
    assert cleaned.segments.loc[cleaned.segments["segment_id"] == row - 1, "code"].iloc[0] == "steun_medebezoekers"
    log = cleaned.log.frame()
    hit = log[(log["file"] == d["file"]) & (log["row"] == row)].iloc[0]
    assert hit["new"] == "steun_medebezoekers" and "mede-bezoekers" in hit["old"]


def test_pairs_drop_outs_and_intervals(cleaned):
    facts = TRUTH["interviews"]
    assert len(cleaned.pairs) == facts["completers"]
    ids = iv.pseudonyms(pd.Series(facts["dropouts"]), pd.Series([p.split("-")[0] for p in facts["dropouts"]]), KEY)
    assert not cleaned.pairs["person_id"].isin(ids).any()
    for person, months in facts["interval_outliers_months"].items():
        pid = iv.pseudonyms(pd.Series([person]), pd.Series([person.split("-")[0]]), KEY).iloc[0]
        pr = cleaned.pairs.set_index("person_id").loc[pid]
        # the generator rounds months x 30.44 to whole days; we divide days by 365.25 / 12
        assert pr["interval_months"] == pytest.approx(months, abs=0.05)
        assert not pr["interval_ok"]
    assert cleaned.pairs["interval_ok"].sum() == facts["completers"] - len(facts["interval_outliers_months"])


# --- entry errors -----------------------------------------------------------------------------


def _copy_raw(tmp_path: Path) -> Path:
    for name in ("interviews.xlsx", "gecodeerde_segmenten.csv"):
        shutil.copy(RAW / name, tmp_path / name)
    return tmp_path


def _edit_cell(path: Path, sheet: str, row: int, column: str, value) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    col = [c.value for c in ws[1]].index(column) + 1
    ws.cell(row=row, column=col).value = value
    wb.save(path)


def test_t1_without_t0_is_an_error(tmp_path):
    raw = _copy_raw(tmp_path)
    _edit_cell(raw / "interviews.xlsx", "T1", 4, "Respondent", "DH-99")
    with pytest.raises(RawDataError) as err:
        iv.clean_interviews(raw, synthetic=True)
    msg = str(err.value)
    assert "interviews.xlsx[T1]" in msg and "row 4" in msg and "'Respondent'" in msg
    assert "no T0 interview" in msg
    assert "DH-99" not in msg  # a raw person ID is never shown: the row finds it


def test_person_twice_in_a_wave_is_an_error(tmp_path):
    raw = _copy_raw(tmp_path)
    first = _raw_sheet("T0").loc[2, "Respondent"]
    _edit_cell(raw / "interviews.xlsx", "T0", 5, "Respondent", first)
    with pytest.raises(RawDataError) as err:
        iv.clean_interviews(raw, synthetic=True)
    msg = str(err.value)
    assert "interviews.xlsx[T0]" in msg and "row 5" in msg and "'Respondent'" in msg and "more than once" in msg


def test_unknown_document_name_is_an_error(tmp_path):
    raw = _copy_raw(tmp_path)
    path = raw / "gecodeerde_segmenten.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("Documentnaam")
    rows[3][col] = "interview DH 3 eerste ronde"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(RawDataError) as err:
        iv.clean_interviews(raw, synthetic=True)
    msg = str(err.value)
    assert "gecodeerde_segmenten.csv" in msg and "row 4" in msg and "'Documentnaam'" in msg


# --- privacy and pseudonyms -------------------------------------------------------------------


def test_segment_text_never_written(tmp_path):
    out = tmp_path / "out"
    written = iv.clean_all_interviews(RAW, out)
    raw = pd.read_csv(RAW / "gecodeerde_segmenten.csv", encoding="utf-8-sig", dtype=str)
    texts = [t for t in raw["Segment"].dropna() if len(t) > 10]
    assert texts
    assert list(written["tables"]["segments"].columns) == ["segment_id", "person_id", "site", "wave", "code_group", "code"]
    for path in out.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", errors="ignore")
            assert not any(t in content for t in texts), f"segment text found in {path.name}"
    # raw person IDs do not reach the processed tables either
    ids = set(_raw_sheet("T0")["Respondent"])
    for name in ("interviews.csv", "interview_pairs.csv", "segments.csv"):
        content = (out / name).read_text(encoding="utf-8")
        assert not any(i in content for i in ids)


def test_pseudonyms_consistent_between_interviews_and_segments(cleaned):
    raw = pd.read_csv(RAW / "gecodeerde_segmenten.csv", encoding="utf-8-sig", dtype=str)
    people = raw["Documentnaam"].str.extract(r"^(?P<pid>.+)_(?P<wave>T[01])$")
    t0 = _raw_sheet("T0").set_index("Respondent")["Locatie"]
    expected = iv.pseudonyms(people["pid"], people["pid"].map(t0), KEY)
    assert (cleaned.segments["person_id"].to_numpy() == expected.to_numpy()).all()
    site_of = cleaned.interviews.drop_duplicates("person_id").set_index("person_id")["site"]
    assert cleaned.segments["person_id"].isin(site_of.index).all()
    assert (cleaned.segments["site"] == cleaned.segments["person_id"].map(site_of)).all()
    assert cleaned.interviews["person_id"].str.match(r"^I[0-9a-f]{12}$").all()


def test_inputs_not_modified(cleaned):
    before = cleaned.interviews.copy()
    iv.pair(cleaned.interviews, iv.outcomes(), (4, 8))
    iv.attrition(cleaned.interviews, ["who5"])
    pd.testing.assert_frame_equal(before, cleaned.interviews)


# --- pairing property -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    hs.lists(hs.tuples(hs.sampled_from(["DH", "LH", "PS"]), hs.integers(1, 30), hs.booleans(), hs.booleans(),
                       hs.integers(0, 6), hs.integers(0, 6), hs.integers(60, 400)),
             min_size=1, max_size=25, unique_by=lambda t: (t[0], t[1])),
    hs.randoms(use_true_random=False),
)
def test_pairing_never_pairs_two_people(persons, rnd):
    rows = []
    for site, num, at0, at1, s0, s1, days in persons:
        pid = f"{site}-{num:02d}"
        if at0:
            rows.append({"person_id": pid, "site": site, "wave": "T0", "date": pd.Timestamp("2025-01-01"), "score": s0})
        if at1:
            rows.append({"person_id": pid, "site": site, "wave": "T1",
                         "date": pd.Timestamp("2025-01-01") + pd.Timedelta(days=days), "score": s1})
    if not rows:
        return
    long = pd.DataFrame(rows)
    long = long.iloc[rnd.sample(range(len(long)), len(long))].reset_index(drop=True)  # any row order
    long["score"] = long["score"].astype("Int64")
    pairs = iv.pair(long, ["score"], (4, 8))
    truth = {f"{s}-{n:02d}": (s0, s1, d) for s, n, a0, a1, s0, s1, d in persons if a0 and a1}
    assert set(pairs["person_id"]) == set(truth)
    for _, p in pairs.iterrows():
        s0, s1, d = truth[p["person_id"]]
        assert (p["score_t0"], p["score_t1"], p["score_diff"]) == (s0, s1, s1 - s0)
        assert p["interval_months"] == pytest.approx(d / (365.25 / 12))
        assert bool(p["interval_ok"]) == (4 <= d / (365.25 / 12) <= 8)


def test_pair_rejects_duplicate_person_wave():
    long = pd.DataFrame({"person_id": ["a", "a"], "site": "DH", "wave": ["T0", "T0"],
                         "date": pd.to_datetime(["2025-01-01", "2025-01-02"]), "x": [1, 2]})
    with pytest.raises(ValueError, match="more than one row"):
        iv.pair(long, ["x"], (4, 8))


def test_attrition_counts_and_means():
    long = pd.DataFrame({"person_id": ["a", "a", "b", "c", "c"], "site": ["DH", "DH", "DH", "LH", "LH"],
                         "wave": ["T0", "T1", "T0", "T0", "T1"], "x": [10.0, 12.0, 4.0, 20.0, 25.0]})
    t = iv.attrition(long, ["x"]).set_index("site")
    # all sites: completers a, c (T0 10 and 20: mean 15), drop-out b (4): difference 4 - 15
    assert t.loc["alle", "n_completers"] == 2 and t.loc["alle", "mean_completers"] == 15
    assert t.loc["alle", "n_dropouts"] == 1 and t.loc["alle", "difference"] == -11
    assert t.loc["LH", "n_dropouts"] == 0 and np.isnan(t.loc["LH", "mean_dropouts"])


def test_attrition_per_site_equals_pandas_per_group():
    # consistency check of the numpy implementation against Series.mean / Series.std per site
    rng = np.random.default_rng(3)
    n = 40
    long = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)] * 2, "wave": ["T0"] * n + ["T1"] * n,
                         "site": [["B", "A", "C"][i % 3] for i in range(n)] * 2,
                         "x": rng.normal(50, 10, 2 * n)})
    long.loc[3, "x"] = np.nan
    long = long.drop(index=[n + 1, n + 2, n + 7])  # three drop-outs
    got = iv.attrition(long, ["x"]).set_index("site")
    assert list(got.index) == ["alle", "A", "B", "C"]
    t0 = long[long["wave"] == "T0"]
    comp = t0["person_id"].isin(long.loc[long["wave"] == "T1", "person_id"])
    for site in ("A", "B", "C"):
        a = t0.loc[comp & (t0["site"] == site), "x"].dropna()
        assert got.at[site, "n_completers"] == a.size
        assert got.at[site, "mean_completers"] == a.mean() and got.at[site, "sd_completers"] == a.std(ddof=1)
