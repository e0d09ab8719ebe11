"""Cleaning of the reach questionnaires: every planted defect, every kind of bad input, invariants.

The planted defects are read from the generator's own record (data/raw/true_parameters.yaml,
key ``defects``), so these tests check the cleaning against the generator, not against itself.
"""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import clean, codebook, config
from analysis.readers import RawDataError

RAW = config.RAW_DIR
TRUTH = yaml.safe_load((RAW / "true_parameters.yaml").read_text(encoding="utf-8"))
REACH_FILES = {"DH_bereik.csv", "LH_bereik.xlsx", "PS_bereik.sav"}


def defects(kind: str, files=REACH_FILES) -> list[dict]:
    found = [d for d in TRUTH["defects"] if d["defect"] == kind and d["file"] in files]
    assert found, f"the generator planted no {kind}"  # guards against a vacuous test
    return found


@pytest.fixture(scope="module")
def reach():
    return clean.clean_reach(RAW)


@pytest.fixture(scope="module")
def log(reach):
    return reach.log.frame()


def kept(reach, file: str, row: int) -> pd.Series:
    """The cleaned record of raw ``file`` row ``row``."""
    hit = reach.origin[(reach.origin["file"] == file) & (reach.origin["row"] == row)]
    assert len(hit) == 1, f"{file} row {row} is not in the cleaned table"
    return reach.table.loc[hit.index[0]]


def log_rows(log, file, row, column=None, rule=None) -> pd.DataFrame:
    sel = (log["file"] == file) & (log["row"] == row)
    if column is not None:
        sel &= log["column"] == column
    if rule is not None:
        sel &= log["rule"].str.contains(rule, regex=False)
    return log[sel]


# --- each planted defect: outcome and log row -------------------------------------------------


@pytest.mark.parametrize("kind", ["duplicate_submission", "duplicated_form"])
def test_duplicates_removed_and_logged(reach, log, kind):
    for d in defects(kind):
        first, second = d["rows"]
        assert len(log_rows(log, d["file"], second, "*", f"same answers as row {first}")) == 1
        assert not ((reach.origin["file"] == d["file"]) & (reach.origin["row"] == second)).any()
        kept(reach, d["file"], first)  # the first one is kept


def test_age_out_of_range_set_missing_and_logged(reach, log):
    for d in defects("age_out_of_range"):
        (row,) = d["rows"]
        entry = log_rows(log, d["file"], row, d["column"], "out of range")
        assert len(entry) == 1 and entry["new"].iloc[0] == ""
        assert entry["old"].iloc[0] in {"7", "130"}
        rec = kept(reach, d["file"], row)
        assert pd.isna(rec["age"]) and pd.isna(rec["age_group"])


def test_birth_year_becomes_age_in_survey_year(reach, log):
    (d,) = defects("birth_year_instead_of_age")
    for row in d["rows"]:
        entry = log_rows(log, d["file"], row, d["column"], "birth year")
        assert len(entry) == 1
        rec = kept(reach, d["file"], row)
        if pd.notna(rec["date"]):
            assert rec["age"] == rec["date"].year - int(entry["old"].iloc[0])


def test_age_with_suffix_parsed(reach):
    (d,) = defects("age_with_suffix")
    raw = pd.read_excel(RAW / d["file"], sheet_name="Formulieren", dtype=str, engine="calamine")
    for row in d["rows"][:10]:
        text = raw.iloc[row - 2][d["column"]]
        assert text.endswith("jaar")
        assert kept(reach, d["file"], row)["age"] == int(text.split()[0])


def test_impossible_dates_set_missing_and_logged(reach, log):
    for d in defects("impossible_date"):
        (row,) = d["rows"]
        assert len(log_rows(log, d["file"], row, d["column"], "impossible")) == 1
        assert pd.isna(kept(reach, d["file"], row)["date"])


@pytest.mark.parametrize("kind,reason", [("weet_niet", "weet niet"), ("user_missing_98", "weet niet"), ("user_missing_99", "wil niet zeggen")])
def test_missing_codes_set_missing_and_logged(reach, log, kind, reason):
    cb = codebook.load()
    for d in defects(kind):
        source = {"LH_bereik.xlsx": "LH", "PS_bereik.sav": "PS"}[d["file"]]
        var = next(v for v, m in cb.source(source)["columns"].items() if m.get("column") == d["column"])
        for row in d["rows"]:
            assert len(log_rows(log, d["file"], row, d["column"], f"missing: {reason}")) == 1
            assert pd.isna(kept(reach, d["file"], row)[var])


def test_missing_scale_item_follows_the_manual(reach):
    for d in defects("missing_scale_items"):
        for row in d["rows"]:
            rec = kept(reach, d["file"], row)
            items = rec[[f"djg_{i}" for i in range(1, 7)]]
            assert items.isna().sum() == 1
            # one item missing: total counted over the five answered (no prorating) ...
            assert pd.notna(rec["djg_total"])
            # ... and the subscale that contains it is missing
            missing_item = int(items[items.isna()].index[0].split("_")[1])
            sub = "djg_emotional" if missing_item in (1, 4, 6) else "djg_social"
            assert pd.isna(rec[sub])


@pytest.mark.parametrize("kind", ["spelling_variant", "case_or_space_variant"])
def test_variants_harmonised_and_logged(reach, log, kind):
    for d in defects(kind):
        for row in d["rows"]:
            entry = log_rows(log, d["file"], row, d["column"], "harmonised")
            assert len(entry) == 1, (d["column"], row)
    total = sum(len(d["rows"]) for d in defects("spelling_variant") + defects("case_or_space_variant"))
    assert (log["rule"].str.startswith("harmonised") & (log["file"] == "LH_bereik.xlsx")).sum() == total


def test_site_specific_label_mapped(reach, log):
    (d,) = defects("site_specific_label")
    for row in d["rows"][:10]:
        assert kept(reach, d["file"], row)["household"] == "alleenstaand"
    # the site's usual label is a mapping, not a correction: not logged
    assert log_rows(log, d["file"], d["rows"][0], d["column"]).empty


def test_free_text_and_identifiers_never_reach_processed(tmp_path):
    result = clean.clean_all_reach(RAW, tmp_path)
    names = yaml.safe_load((config.PACKAGE_DIR / "synth" / "params.yaml").read_text(encoding="utf-8"))["defects"]["names"]
    phone = re.compile(r"(?:\+31|0)[\s-]?6[\s-]?\d{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?\d{2}")
    for path in tmp_path.rglob("*"):
        if path.suffix not in (".csv", ".json"):
            continue
        text = path.read_text(encoding="utf-8")
        assert not phone.search(text), path
        for name in names:
            assert not re.search(rf"\b{name}\b", text), (name, path)
    cb = codebook.load()
    for name, table in result["tables"].items():
        assert not set(cb.free_text()) & set(table.columns)
        assert not any("text" in c or "namelijk" in c for c in table.columns)


def test_planted_identifiers_exist_in_raw():
    """The check above is only meaningful if the raw files really hold the planted identifiers."""
    (d,) = [x for x in defects("identifiers_in_free_text") if x["file"] == "DH_bereik.csv"]
    text = (RAW / "DH_bereik.csv").read_text(encoding="utf-8-sig")
    assert re.search(r"06[\s-]?\d", text)


def test_rows_in_equals_kept_plus_removed(reach):
    flow = reach.flow
    assert (flow["received"] == flow["duplicates"] + flow["out_of_scope"] + flow["kept"]).all()
    assert flow["kept"].sum() == len(reach.table)
    assert flow.set_index("file").loc["DH_bereik.csv", "received"] == TRUTH["files"][0]["rows"]


def test_published_flow_hides_small_counts_and_what_gives_them_back(tmp_path):
    """results/cleaning_flow.csv is the protected flow (issue 17), internal/ keeps the numbers:
    a duplicate count of 1-4 is "<5", and with received and kept both shown it would come back as
    received - out_of_scope - kept, so the attack must find every "<5" fully protected (0 to 4)."""
    from analysis.stats import disclosure

    result = clean.clean_all_reach(RAW, tmp_path)
    internal = pd.read_csv(tmp_path / "internal" / "cleaning_flow.csv").set_index("file")
    published = pd.read_csv(tmp_path / "results" / "cleaning_flow.csv", dtype=str).set_index("file")
    assert internal.loc["DH_bereik.csv", "received"] == TRUTH["files"][0]["rows"]
    small = internal[internal["duplicates"].between(1, 4)].index
    assert len(small) and (published.loc[small, "duplicates"] == "<5").all()
    pd.testing.assert_frame_equal(result["flow_published"].set_index("file").astype(str), published,
                                  check_dtype=False)
    found = disclosure.attack(clean.flow_ledger({"cleaning_flow": published.reset_index()}))
    assert found.loc[found["mark"] == "<5", "protected"].all()


def test_ids_are_pseudonymised_and_unique(reach):
    ids = reach.table["respondent_id"]
    assert ids.is_unique and ids.str.fullmatch(r"R[0-9a-f]{12}").all()
    raw_ids = pd.read_csv(RAW / "DH_bereik.csv", sep=";", encoding="utf-8-sig", dtype=str)["RESPONSE_ID"]
    assert not set(raw_ids) & set(ids)


def test_real_data_need_a_key(monkeypatch):
    monkeypatch.delenv(clean.KEY_ENV, raising=False)
    with pytest.raises(ValueError, match=clean.KEY_ENV):
        clean.pseudonym_key(synthetic=False)
    monkeypatch.setenv(clean.KEY_ENV, "s3cret")
    assert clean.pseudonym_key(synthetic=False) == b"s3cret"


def test_composition_recovered_within_sampling_error(reach):
    """Shares per site in the cleaned data vs the generator's population composition.

    The sample is drawn from the population shares, so each cleaned share should lie within
    about 3.3 binomial standard errors (two-sided 0.1 % per comparison) of the true share.
    """
    import numpy as np

    from analysis import synth

    cb = codebook.load()
    params = synth.load_params()
    sites = synth.site_table(np.random.default_rng(0), 1, params, cb)
    ref = synth.read_reference(config.PROJECT_DIR / params["reference_file"])
    probs, _ = synth.composition(sites, params, cb, ref)
    truth = {s: {v: dict(zip(cb.codes(v), p)) for v, p in dims.items()} for s, dims in probs.items()}
    table = reach.table
    checked = 0
    for site, variables in truth.items():
        sub = table[table["site"] == site]
        for var, shares in variables.items():
            x = sub[var].dropna()
            for code, p in shares.items():
                se = (p * (1 - p) / len(x)) ** 0.5
                share = (x == code).mean()
                assert abs(share - p) <= 3.3 * se + 1e-9, (site, var, code, share, p)
                checked += 1
    assert checked > 20


# --- bad input: clear errors naming file, row and column ---------------------------------------


@pytest.fixture
def raw_copy(tmp_path):
    dest = tmp_path / "raw"
    shutil.copytree(RAW, dest)
    return dest


def rewrite_dh(raw_copy, fn, encoding="utf-8-sig"):
    p = raw_copy / "DH_bereik.csv"
    p.write_bytes(fn(p.read_text(encoding="utf-8-sig")).encode(encoding) if encoding else fn(p.read_text(encoding="utf-8-sig")))


def test_missing_required_column(raw_copy):
    rewrite_dh(raw_copy, lambda t: t.replace("Q3_GENDER", "GESLACHT", 1))
    with pytest.raises(RawDataError, match=r"DH_bereik.csv, row 1, column 'Q3_GENDER': required column"):
        clean.clean_reach(raw_copy, synthetic=True)


def test_unknown_code_is_an_error_not_missing(raw_copy):
    lines = (raw_copy / "DH_bereik.csv").read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(";")
    col = header.index("Q9_HEALTH")
    cells = lines[4].split(";")
    cells[col] = "Uitstekend"
    lines[4] = ";".join(cells)
    (raw_copy / "DH_bereik.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    with pytest.raises(RawDataError, match=r"DH_bereik.csv, row 5, column 'Q9_HEALTH': unknown value 'Uitstekend'.*codebook"):
        clean.clean_reach(raw_copy, synthetic=True)


def test_unknown_option_in_multiselect_cell(raw_copy):
    import openpyxl

    p = raw_copy / "LH_bereik.xlsx"
    wb = openpyxl.load_workbook(p)
    ws = wb["Formulieren"]
    col = [c.value for c in ws[1]].index("Hoe gehoord") + 1
    ws.cell(row=3, column=col, value="flyer, via de krant")
    wb.save(p)
    with pytest.raises(RawDataError, match=r"LH_bereik.xlsx, row 3, column 'Hoe gehoord': unknown option 'via de krant'"):
        clean.clean_reach(raw_copy, synthetic=True)


def test_wrong_delimiter(raw_copy):
    rewrite_dh(raw_copy, lambda t: t.replace(";", ","))
    with pytest.raises(RawDataError, match=r"DH_bereik.csv, row 1: the header has no ';' delimiter but uses ','"):
        clean.clean_reach(raw_copy, synthetic=True)


def test_wrong_encoding(raw_copy):
    rewrite_dh(raw_copy, lambda t: t.replace("Zeer goed", "Zéér goed"), encoding="cp1252")
    with pytest.raises(RawDataError, match=r"DH_bereik.csv, row \d+: byte .* not valid utf-8-sig"):
        clean.clean_reach(raw_copy, synthetic=True)


def test_unreadable_file(raw_copy):
    (raw_copy / "PS_bereik.sav").write_bytes(b"not an spss file")
    with pytest.raises(RawDataError, match="PS_bereik.sav: cannot be read as an SPSS .sav file"):
        clean.clean_reach(raw_copy, synthetic=True)


def test_missing_file(raw_copy):
    (raw_copy / "LH_bereik.xlsx").unlink()
    with pytest.raises(RawDataError, match="LH_bereik.xlsx: not found"):
        clean.clean_reach(raw_copy, synthetic=True)


def test_same_id_different_answers_is_an_error(raw_copy):
    lines = (raw_copy / "DH_bereik.csv").read_text(encoding="utf-8-sig").splitlines()
    first_id = lines[1].split(";")[0]
    cells = lines[5].split(";")
    cells[0] = first_id
    lines[5] = ";".join(cells)
    (raw_copy / "DH_bereik.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    with pytest.raises(RawDataError, match=r"the same form number occurs in rows \[2, 6\] with different answers"):
        clean.clean_reach(raw_copy, synthetic=True)


# --- property: rows in = kept + excluded; kept values within the allowed codes ------------------

CB = codebook.load()


@st.composite
def dh_forms(draw):
    """DH export rows built from the codebook's raw labels (any valid answer, or empty)."""
    src = CB.source("DH")["columns"]
    n = draw(st.integers(min_value=1, max_value=25))
    rows = []
    for i in range(n):
        row = {"RESPONSE_ID": f"R{i:05d}", "Q0_TIMESTAMP": "2025-03-03 10:00:00", "Q1_PC4": "3021",
               "Q2_AGE": str(draw(st.integers(min_value=0, max_value=140))), "Q15_OTHER": ""}
        for var, m in src.items():
            if "values" in m:
                row[m["column"]] = draw(st.sampled_from(list(m["values"]) + [""]))
            elif "columns" in m:
                for c in m["columns"]:
                    row[c] = draw(st.sampled_from(["Y", ""]))
        if draw(st.booleans()) and rows:  # a resubmitted form
            dup = dict(draw(st.sampled_from(rows)))
            dup["RESPONSE_ID"] = row["RESPONSE_ID"]
            row = dup
        rows.append(row)
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(forms=dh_forms())
def test_property_rows_balance_and_codes_allowed(tmp_path_factory, forms):
    raw = tmp_path_factory.mktemp("raw")
    for name in ("LH_bereik.xlsx", "PS_bereik.sav"):
        shutil.copy(RAW / name, raw / name)
    header = list(pd.read_csv(RAW / "DH_bereik.csv", sep=";", encoding="utf-8-sig", nrows=0).columns)
    pd.DataFrame(forms)[header].to_csv(raw / "DH_bereik.csv", sep=";", index=False, encoding="utf-8-sig")
    result = clean.clean_reach(raw, synthetic=True)
    flow = result.flow.set_index("file").loc["DH_bereik.csv"]
    assert flow["received"] == len(forms)
    assert flow["received"] == flow["duplicates"] + flow["out_of_scope"] + flow["kept"]
    dh = result.table[result.table["site"] == "DH"]
    assert len(dh) == flow["kept"]
    for var in ("gender", "household", "origin", "education", "activity", "finances", "health", "visits", "age_group"):
        assert dh[var].dropna().isin(CB.codes(var)).all(), var
    lo, hi = CB.value_range("age")
    assert dh["age"].dropna().between(lo, hi).all()
