"""CBS reference file (sourced, no unexplained gaps) and the cbsodata fetch (hand-made fixture)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from analysis import cbs, config

FIXTURE = Path(__file__).parent / "fixtures" / "cbs" / "handmade_85984NED.json"

# Expected values typed from shared/reference/CBS.md (source S1, CBS 85984NED, 2024): the oracle.
VERIFIED = {
    ("WK059903", "AantalInwoners_5"): 77250, ("WK059903", "Mannen_6"): 39060, ("WK059903", "Vrouwen_7"): 38185,
    ("WK059903", "Woningvoorraad_35"): 36139, ("WK059903", "Bevolkingsdichtheid_34"): 14985,
    ("WK026808", "AantalInwoners_5"): 14670, ("WK026808", "Mannen_6"): 7460, ("WK026808", "Vrouwen_7"): 7215,
    ("WK026808", "Woningvoorraad_35"): 6459, ("WK026808", "Bevolkingsdichtheid_34"): 2042,
    ("GM0828", "AantalInwoners_5"): 94634, ("GM0828", "Mannen_6"): 47703, ("GM0828", "Vrouwen_7"): 46931,
    ("GM0828", "Woningvoorraad_35"): 42122,
}


@pytest.fixture(scope="module")
def ref():
    return cbs.read_reference()


def test_reference_every_figure_has_source_year_and_table(ref):
    figures = ref[ref["value"].notna()]
    assert (figures["source"].str.strip() != "").all()
    assert (figures["table_id"].str.strip() != "").all()
    assert figures["year"].between(2019, 2024).all()


def test_reference_no_unexplained_gaps(ref):
    gaps = ref[ref["value"].isna()]
    assert len(gaps) > 0  # CBS.md: age, origin, household, income of the wijken NOT FOUND
    assert (gaps["note"].str.strip() != "").all()
    assert gaps["note"].str.contains("not found|not recorded").all()


def test_reference_values_are_the_verified_ones(ref):
    y2024 = ref[ref["year"] == 2024].set_index(["region_code", "variable"])["value"]
    for key, expected in VERIFIED.items():
        assert y2024[key] == expected, key
    # nothing beyond CBS.md was filled in for the wijken: age/origin/household/income are empty there
    for region in ("WK059903", "WK026808"):
        sub = ref[(ref["region_code"] == region) & ref["variable"].str.match(r"k_|Nederland|Europa|Huish|Gemiddeld|Personen")]
        assert sub["value"].isna().all()


def test_reference_covers_every_configured_region(ref):
    assert set(cbs.configured_regions()) <= set(ref["region_code"])


def test_reference_check_rejects_gap_without_reason(ref):
    bad = ref.copy()
    bad.loc[bad["value"].isna().idxmax(), "note"] = ""
    with pytest.raises(ValueError, match="no value and no reason"):
        cbs.check_reference(bad)
    bad = ref.copy()
    bad.loc[0, "source"] = ""
    with pytest.raises(ValueError, match="have a value but no source"):
        cbs.check_reference(bad)


@pytest.fixture
def fake_cbsodata(monkeypatch):
    import cbsodata

    fx = json.loads(FIXTURE.read_text(encoding="utf-8"))
    calls = []

    def get_meta(table, name, **kw):
        calls.append(("meta", table, name))
        return fx[name]

    def get_data(table, **kw):
        calls.append(("data", table))
        return [dict(r) for r in fx["data"]]

    monkeypatch.setattr(cbsodata, "get_meta", get_meta)
    monkeypatch.setattr(cbsodata, "get_data", get_data)
    return calls


def test_fetch_filters_regions_and_records_provenance(fake_cbsodata):
    out = cbs.fetch("85984NED", ["WK059903", "WK026808", "GM0828"], today=dt.date(2026, 1, 2))
    assert set(out["region_code"]) == {"WK059903", "WK026808", "GM0828"}  # GM0268 dropped, padding stripped
    assert list(out.columns) == cbs.COLUMNS
    v = out.set_index(["region_code", "variable"])["value"]
    for key, expected in VERIFIED.items():
        assert v[key] == expected
    assert (out["table_id"] == "85984NED").all() and (out["year"] == 2024).all()
    assert out["source"].str.contains("fetched with cbsodata .* on 2026-01-02").all()
    # unverified figures are None in the fixture: kept empty, with the reason
    gaps = out[out["value"].isna()]
    assert len(gaps) and gaps["note"].str.contains("empty in the CBS table").all()
    assert out.loc[out["region_code"] == "WK059903", "region_name"].iloc[0] == "Delfshaven"
    assert ("data", "85984NED") in fake_cbsodata


def test_fetch_unknown_region_says_what_to_do(fake_cbsodata):
    with pytest.raises(ValueError, match=r"no rows for regions \['WK999999'\].*cbs_region"):
        cbs.fetch("85984NED", ["WK059903", "WK999999"])


def test_cli_writes_csv(fake_cbsodata, tmp_path, capsys):
    target = tmp_path / "fetched.csv"
    assert cbs.cli(argparse.Namespace(table="85984NED", out=str(target))) == 0
    back = pd.read_csv(target)
    assert list(back.columns) == cbs.COLUMNS
    assert set(back["region_code"]) == set(cbs.configured_regions())
    assert "wrote" in capsys.readouterr().out


def test_default_output_is_in_data_reference():
    from analysis.__main__ import build_parser

    args = build_parser().parse_args(["fetch-cbs"])
    assert args.table == "85984NED" and args.out is None
    assert config.REFERENCE_DIR.name == "reference"
