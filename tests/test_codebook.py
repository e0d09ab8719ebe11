"""The codebook validates, its accessors give what cleaning and generator need, and mistakes
in the YAML stop with a ValueError that says where and what to fix."""

from __future__ import annotations

import copy

import pytest
import yaml

from analysis import codebook, config


@pytest.fixture(scope="module")
def cb():
    return codebook.load()


def rebuilt(cb, edit):
    """A Codebook from an edited deep copy of the YAML (the cached one stays untouched)."""
    data = copy.deepcopy(cb.data)
    edit(data)
    return codebook.Codebook(data, cb.sites, cb.study)


def test_codebook_validates_and_has_every_section(cb):
    assert set(cb.data) == codebook.TOP_KEYS
    assert set(cb.data["tables"]) == {"reach", "proxy", "sites", "interviews", "interview_pairs", "segments", "cleaning_log"}
    assert set(cb.sources) == {"DH", "LH", "PS", "proxy", "sites", "interviews", "segments"}


def test_every_variable_has_labels_and_every_code_is_labelled(cb):
    for name, var in cb.variables.items():
        assert var["nl"] and var["en"], name
        if var["type"] in codebook.CODED:
            labels = cb.code_labels(name)
            assert labels and all(lab["nl"] and lab["en"] for lab in labels.values()), name


def test_every_mapped_code_is_allowed(cb):
    # the loader checks this; restated here on the parsed file as the acceptance criterion
    for sname, src in cb.sources.items():
        for var, m in src["columns"].items():
            if cb.variable(var)["type"] in codebook.CODED and "codes_from" not in cb.variable(var):
                allowed = set(cb.codes(var))
                mapped = set(m.get("values", {}).values()) | set((m.get("columns") or {}).values())
                assert mapped <= allowed, (sname, var, mapped - allowed)


def test_each_study_site_has_exactly_one_reach_source(cb):
    owner = cb.site_sources("reach")
    assert owner == {"DH": "DH", "LH": "LH", "PS": "PS"}
    assert set(owner) == set(config.study()["sites"])


def test_reach_sources_map_every_questionnaire_variable(cb):
    needed = {v for v in cb.table("reach")["columns"] if not cb.variable(v).get("derived") and v != "site"}
    for s in cb.sources_for("reach"):
        assert needed <= set(cb.source(s)["columns"]), (s, needed - set(cb.source(s)["columns"]))


def test_known_variants_and_missing_codes(cb):
    lh = cb.value_map("LH", "gender")
    assert lh["vrouw"] == lh["v"] == "vrouw" and lh["m"] == "man"
    assert cb.normalise("LH", " Vrouw ") == "vrouw"
    assert cb.raw_value("DH", "household", "alleenstaand") == "Alleenwonend"  # DH's own label
    assert cb.missing_values("PS") == {98: "weet_niet", 99: "wil_niet_zeggen"}
    assert cb.raw_values("LH", "household")["alleenstaand"][0] == "alleenstaand"


def test_table_columns_expand_multi_and_pairs(cb):
    reach = cb.table_columns("reach")
    assert "heard_langsgelopen" in reach and "reasons_kende_niet" in reach and "heard" not in reach
    assert "other_text" not in reach  # free text never in a processed table
    proxy = cb.table_columns("proxy")
    assert "age_group" in proxy and "reasons_taal" in proxy
    pairs = cb.table_columns("interview_pairs")
    assert {"who5_t0", "who5_t1", "who5_diff"} <= set(pairs)
    assert cb.table_columns("cleaning_log") == ["file", "row", "column", "old", "new", "rule"]


def test_age_range_comes_from_study_yaml(cb):
    a = config.study()["analysis"]
    assert cb.value_range("age") == (a["age_min"], a["age_max"])
    assert [lo for lo, _ in cb.band_edges()] == [18, 25, 45, 65]


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["sources"]["LH"]["columns"]["gender"]["values"].update({"x": "female"}),
     r"sources.LH.columns.gender: codes \['female'\] are not allowed codes"),
    (lambda d: d["sources"]["LH"]["columns"]["gender"]["values"].update({"Vrouw": "vrouw"}),
     r"raw value 'Vrouw' must be written as 'vrouw'"),
    (lambda d: d["variables"]["age"].update(type="numeric"), r"variables.age: type 'numeric' is not one of"),
    (lambda d: d["code_sets"]["age_group"].update({1824: {"nl": "x", "en": "x"}}), r"quote it"),
    (lambda d: d["sources"]["PS"]["missing_values"].update({97: "vergeten"}), r"reason 'vergeten'"),
    (lambda d: d["sources"]["DH"]["columns"].update(nonsense={"column": "X"}), r"nonsense: is not a variable"),
    (lambda d: d["sources"]["DH"].update(sites=["XX"]), r"site 'XX' is not in analysis/study.yaml"),
    (lambda d: d["sources"]["LH"].update(sites=["DH"]), r"site 'DH' is also mapped by source 'DH'"),
    (lambda d: d["tables"]["reach"]["columns"].append("other_text"), r"free text, which never enters"),
    (lambda d: d["sources"]["DH"]["columns"]["gender"].update(column="Q2_AGE"), r"raw column 'Q2_AGE' is also mapped"),
    (lambda d: d.update(extra=1), r"unknown keys \['extra'\]"),
    (lambda d: d["sources"]["DH"]["columns"]["respondent_id"].update(identifies="person"),
     r"sources.DH.columns.respondent_id: identifies is for identifier columns and is one of \['form', 'submission'\]"),
    (lambda d: d["sources"]["DH"]["columns"]["gender"].update(identifies="form"), r"identifies is for identifier columns"),
])
def test_validation_errors_say_where_and_what(cb, edit, message):
    with pytest.raises(ValueError, match=message):
        rebuilt(cb, edit)


def test_unknown_names_raise_helpful_errors(cb):
    with pytest.raises(ValueError, match="not a variable in analysis/codebook.yaml"):
        cb.variable("nope")
    with pytest.raises(ValueError, match="not a source"):
        cb.source("XX")
    with pytest.raises(ValueError, match="one file per site"):
        cb.file_name("DH")
    assert cb.file_name("DH", "DH") == "DH_bereik.csv"


def test_extra_sites_from_raw_dir(tmp_path):
    (tmp_path / codebook.EXTRA_SITES_FILE).write_text(yaml.safe_dump(
        {"sites": {"S004": {"name": "x", "source": "LH", "cbs_region": "WK026808"}}}), encoding="utf-8")
    cb2 = codebook.load(raw_dir=tmp_path)
    assert cb2.site_sources()["S004"] == "LH"
    assert "S004" in cb2.codes("site")
    (tmp_path / codebook.EXTRA_SITES_FILE).write_text(yaml.safe_dump(
        {"sites": {"S004": {"name": "x", "source": "proxy"}}}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a reach source"):
        codebook.load(raw_dir=tmp_path)


def test_loaded_codebook_is_not_modified_by_accessors(cb):
    before = copy.deepcopy(cb.data)
    cb.value_map("LH", "gender")["zz"] = "man"
    cb.missing_values("PS")[1] = "x"
    assert cb.data == before


def test_identifier_kinds(cb):
    """DH's response ID is new at every submission; the others are form numbers."""
    assert {s: cb.identifies(s) for s in ("DH", "LH", "PS", "proxy", "sites")} == {
        "DH": "submission", "LH": "form", "PS": "form", "proxy": "form", "sites": None}


@pytest.mark.parametrize("window, message", [
    (["2025-09-30", "2025-02-01"], r"fieldwork.reach: the first day 2025-09-30 is after the last day 2025-02-01"),
    (["2025-02-01"], r"fieldwork.reach: give \[first day, last day\] as YYYY-MM-DD"),
    (["begin", "2025-02-01"], r"fieldwork.reach: \['begin', '2025-02-01'\] are not dates"),
])
def test_fieldwork_window_is_checked(cb, window, message):
    study = copy.deepcopy(cb.study)
    study["fieldwork"]["reach"] = window
    with pytest.raises(ValueError, match=message):
        codebook.Codebook(copy.deepcopy(cb.data), cb.sites, study)


def test_fieldwork_of_an_unknown_table_and_missing_settings(cb):
    study = copy.deepcopy(cb.study)
    study["fieldwork"]["bereik"] = ["2025-02-01", "2025-09-30"]
    with pytest.raises(ValueError, match=r"fieldwork: 'bereik' is not a table"):
        codebook.Codebook(copy.deepcopy(cb.data), cb.sites, study)
    study = {k: v for k, v in cb.study.items() if k not in ("fieldwork", "cleaning")}
    bare = codebook.Codebook(copy.deepcopy(cb.data), cb.sites, study)
    assert bare.fieldwork("reach") is None  # no window: no check
    with pytest.raises(ValueError, match=r"study.yaml cleaning: needs resubmission_minutes"):
        bare.cleaning("resubmission_minutes")
