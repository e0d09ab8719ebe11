"""Notebook 02 (reach): each result function on hand-made data, end to end on the seed-1 data,
and recovery of the generator's true reach model.

Expected values are worked out by hand in the comments (counts, 2x2 odds ratios, the CBS
figures of data/reference/cbs_kerncijfers.csv) or read from the generator's own record of the
truth (true_parameters.yaml); the statistics behind them are tested against R and published
examples in tests/test_stats_*.py.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis import cbs, clean, codebook, config, reach

REASONS = list(codebook.load().multi_columns("reasons"))
HEARD = list(codebook.load().multi_columns("heard"))


@pytest.fixture(scope="module")
def spec():
    return reach.spec()


def _spec_with(spec, covariates):
    s = copy.deepcopy(spec)
    s["model"]["covariates"] = {k: v for k, v in spec["model"]["covariates"].items() if k in covariates}
    return s


def _people(site="DH", n=1, **cols):
    """``n`` identical respondents; every reach column present, missing unless given."""
    base = {"respondent_id": None, "site": site, "reached": None, "age": None, "age_group": None, "gender": None,
            "household": None, "origin": None, "education": None, "activity": None, "finances": None,
            "health": None, "djg_total": None, **{c: None for c in HEARD + REASONS}}
    base.update(cols)
    return pd.DataFrame([base] * n)


def _reach(*parts) -> pd.DataFrame:
    d = pd.concat(parts, ignore_index=True)
    d["respondent_id"] = [f"R{i}" for i in range(len(d))]
    d["reached"] = d["reached"].astype("boolean")
    for c in ("age", "djg_total"):
        d[c] = pd.array(d[c], dtype="Int64")
    for c in HEARD + REASONS:
        d[c] = d[c].astype("boolean")
    return d


# --- configuration ----------------------------------------------------------------------------


def test_spec_needs_reach_section():
    study = {k: v for k, v in config.study().items() if k != "reach"}
    with pytest.raises(ValueError, match="reach"):
        reach.spec(study)


def test_spec_covariates_match_generator_names(spec):
    # the recovery test compares by name: the configured covariates are the generator's
    params = yaml.safe_load((config.PACKAGE_DIR / "synth" / "params.yaml").read_text(encoding="utf-8"))
    truth = params["reach_model"]["covariates"]
    assert set(spec["model"]["covariates"]) == set(truth)
    for name, d in spec["model"]["covariates"].items():
        assert {k: v for k, v in d.items() if k != "nl"} == {k: v for k, v in truth[name].items()
                                                             if k in ("variable", "in", "min", "max")}


def test_prepare_rejects_unknown_code(spec):
    d = _reach(_people(reached=True, gender="female"))
    with pytest.raises(ValueError, match="not codebook codes"):
        reach.prepare(d, spec)


def test_prepare_does_not_modify_input(spec):
    d = _reach(_people(reached=True, age=40, djg_total=3, gender="vrouw"), _people(reached=None, age=50))
    before = d.copy()
    reach.prepare(d, spec)
    pd.testing.assert_frame_equal(d, before)


# --- counts and Table 1 -----------------------------------------------------------------------


def test_reach_counts_by_hand(spec):
    d = _reach(_people("DH", 6, reached=True), _people("DH", 4, reached=False), _people("DH", 1, reached=None),
               _people("LH", 5, reached=False))
    c = reach.reach_counts(d, spec).set_index("site")
    assert c.loc["DH", ["n", "k", "n_missing"]].tolist() == [10, 6, 1]
    assert c.loc["DH", "share"] == pytest.approx(0.6)
    assert c.loc["all", ["n", "k"]].tolist() == [15, 6]
    # Wilson 95% for 6/10 (Newcombe 1998 formula): 0.3127 to 0.8318
    assert c.loc["DH", "ci_low"] == pytest.approx(0.3127, abs=1e-4)
    assert c.loc["DH", "ci_high"] == pytest.approx(0.8318, abs=1e-4)


def _table1_data():
    # DH: 10 reached (8 vrouw, 2 man, ages 60..69), 10 not (3 vrouw, 7 man, ages 40..49)
    return _reach(
        *[_people("DH", reached=True, gender="vrouw" if i < 8 else "man", age=60 + i, djg_total=i % 7) for i in range(10)],
        *[_people("DH", reached=False, gender="vrouw" if i < 3 else "man", age=40 + i, djg_total=i % 3) for i in range(10)],
    )


def test_table1_counts_and_suppression(spec):
    s = copy.deepcopy(spec)
    s["table1"] = {**s["table1"], "categorical": ["gender"], "continuous": ["age"], "nonnormal": []}
    t = reach.table1_by_site(_table1_data(), s)
    dh = t[(t["site"] == "DH") & (t["variable"] == "gender")].set_index(["level", "group"])
    assert dh.loc[("vrouw", True), "n"] == 8 and dh.loc[("vrouw", True), "pct"] == pytest.approx(80.0)
    assert dh.loc[("man", True), "n"] == 2
    # Fisher exact for [[8, 3], [2, 7]] (expected counts < 5): R fisher.test gives p = 0.06978
    assert dh["test"].iloc[0] == "Fisher exact"
    assert dh["p"].iloc[0] == pytest.approx(0.0698, abs=1e-4)
    assert dh.loc[("vrouw", True), "level_label"] == "vrouw"
    pub = reach.suppress(t, "reach_table1", s)
    pdh = pub[(pub["site"] == "DH") & (pub["variable"] == "gender")]
    man = pdh[(pdh["level"] == "man") & (pdh["group"].astype(str) == "True")].iloc[0]
    assert man["n"] == "<5" and man["pct"] == "<5"        # 2 people: suppressed with its percentage
    vrouw = pdh[(pdh["level"] == "vrouw") & (pdh["group"].astype(str) == "True")].iloc[0]
    assert vrouw["n"] == 8                                # 8 people: shown
    # the internal table is never suppressed
    assert (t["n"] == 2).any()


def test_table1_display_dutch_and_suppressed(spec):
    s = copy.deepcopy(spec)
    s["table1"] = {**s["table1"], "categorical": ["gender"], "continuous": ["age"], "nonnormal": []}
    d = _table1_data()
    t = reach.table1_by_site(d, s)
    disp = reach.table1_display(t, reach.reach_counts(d, s), s)
    dh = disp[disp["site"] == "DH"].set_index(["Kenmerk", "Categorie"])
    assert dh.loc[("Geslacht", "vrouw"), "Bereikt"] == "8 (80,0%)"
    assert dh.loc[("Geslacht", "man"), "Bereikt"] == "<5"
    assert dh.loc[("Geslacht", "man"), "Niet bereikt"] == "7 (70,0%)"
    assert dh.loc[("Geslacht", "man"), "Totaal"] == "9 (45,0%)"
    assert dh.loc[("Geslacht", "man"), "p"] == "0,070"           # first level in codebook order: man
    assert dh.loc[("Geslacht", "man"), "Toets"] == "Fisher exact"
    assert dh.loc[("Geslacht", "vrouw"), "p"] == ""              # p on the variable's first row only
    # ages 60..69: mean 64,5, SD 3,03; Welch t-test
    assert dh.loc[("Leeftijd (jaren)", "gemiddelde (SD)"), "Bereikt"] == "64,5 (3,0)"
    assert dh.loc[("Leeftijd (jaren)", "gemiddelde (SD)"), "Toets"] == "Welch t-toets"
    assert dh.loc[("Aantal respondenten", ""), "Totaal"] == "20"


# --- model ------------------------------------------------------------------------------------


def test_model_frame_definitions(spec):
    d = _reach(_people(reached=True, age=34, gender="anders", finances="enige_moeite", djg_total=2),
               _people(reached=False, age=35, gender="vrouw", finances="geen_moeite", djg_total=1),
               _people(reached=True, age=65, gender=None, finances=None, djg_total=None))
    mf = reach.model_frame(d, spec)
    assert mf["age_18_34"].tolist() == [1.0, 0.0, 0.0]
    assert mf["age_65_plus"].tolist() == [0.0, 0.0, 1.0]
    assert mf["woman"].tolist()[:2] == [0.0, 1.0] and math.isnan(mf["woman"].iloc[2])  # anders -> 0, missing -> NaN
    assert mf["financial_strain"].tolist()[:2] == [1.0, 0.0] and math.isnan(mf["financial_strain"].iloc[2])
    assert mf["lonely"].tolist()[:2] == [1.0, 0.0]


def test_model_frame_rejects_unknown_code(spec):
    s = copy.deepcopy(spec)
    s["model"]["covariates"] = {"woman": {"variable": "gender", "in": ["female"], "nl": "vrouw"}}
    with pytest.raises(ValueError, match="not codes"):
        reach.model_frame(_reach(_people(reached=True, gender="vrouw")), s)


def _two_by_two(site):
    # per site: lonely 10 reached / 5 not; not lonely 20 reached / 20 not
    return [_people(site, 10, reached=True, djg_total=3), _people(site, 5, reached=False, djg_total=3),
            _people(site, 20, reached=True, djg_total=0), _people(site, 20, reached=False, djg_total=0)]


def test_reach_model_reproduces_two_by_two(spec):
    # two identical sites: the site OR is 1 and the lonely OR the 2x2 one, (10 * 20) / (5 * 20) = 2,
    # SE(log OR) = sqrt(1/20 + 1/10 + 1/40 + 1/40) over both sites pooled (Woolf 1955)
    s = _spec_with(spec, ["lonely"])
    d = _reach(*_two_by_two("DH"), *_two_by_two("LH"), _people("LH", 2, reached=True, djg_total=None))
    m = reach.reach_model(d, s)
    main = m[m["model"] == "site_fixed"].set_index("term")
    assert main.loc["lonely", "odds_ratio"] == pytest.approx(2.0, rel=1e-6)
    assert main.loc["lonely", "se"] == pytest.approx(math.sqrt(1 / 20 + 1 / 10 + 1 / 40 + 1 / 40), rel=1e-5)
    assert main.loc["site[LH]", "odds_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert main.loc["lonely", "n_used"] == 110 and main.loc["lonely", "n_dropped"] == 2
    assert main.loc["lonely", "n_events"] == 60
    assert main.loc["site[LH]", "label"].endswith("(ref. Buurtsteunpunt Delfshaven)")
    assert main.loc["lonely", "method"] == "maximum likelihood" and main.loc["lonely", "not_estimable"] == ""
    # sensitivity analysis: leaving either site out leaves the same table once, OR 2 with
    # SE sqrt(1/10 + 1/5 + 1/20 + 1/20); two sites < cluster_robust_min_sites: no cluster-robust rows
    loso = m[m["model"] == "leave_one_site_out"]
    assert loso["term"].tolist() == ["lonely", "lonely"] and loso["site_left_out"].tolist() == ["DH", "LH"]
    assert loso["odds_ratio"].tolist() == pytest.approx([2.0, 2.0], rel=1e-6)
    assert loso["se"].tolist() == pytest.approx([math.sqrt(1 / 10 + 1 / 5 + 1 / 20 + 1 / 20)] * 2, rel=1e-5)
    assert loso["n_used"].tolist() == [55, 55] and loso["n_dropped"].tolist() == [2, 0]
    assert "site_fixed_cluster" not in set(m["model"])
    disp = reach.model_display(m, s)
    assert disp.iloc[-1]["OR (95%-BI)"] == "110 (<5)"                  # 2 dropped: suppressed
    disp = disp.set_index("Kenmerk")
    assert list(disp.columns) == ["OR (95%-BI)", "p", "OR zonder Buurtsteunpunt Delfshaven",
                                  "OR zonder Wijkatelier Lindenholt"]
    assert disp.loc["eenzaam (De Jong Gierveld 2 of hoger)", "OR zonder Buurtsteunpunt Delfshaven"].startswith("2,00 (")
    assert disp.loc["Aantal in de analyse (weggelaten)", "OR (95%-BI)"] == "110 (<5)"


# --- CBS comparison ---------------------------------------------------------------------------


def test_representation_ratio_by_hand(spec):
    # Delfshaven 2024: 39,060 men and 38,185 women (CBS 85984NED). 40 women and 60 men among 100
    # visitors (2 more answered "anders", 3 not reached): women 0.40 / (38185 / 77245) = 0.80917
    d = _reach(_people("DH", 40, reached=True, gender="vrouw"), _people("DH", 60, reached=True, gender="man"),
               _people("DH", 2, reached=True, gender="anders"), _people("DH", 3, reached=False, gender="vrouw"))
    r = reach.representation(d, cbs.read_reference(), spec)
    g = r[r["variable"] == "gender"].set_index("level")
    assert g.loc["vrouw", "population_share"] == pytest.approx(38185 / 77245)
    assert g.loc["vrouw", "ratio"] == pytest.approx(0.40 / (38185 / 77245))
    assert g.loc["man", "ratio"] == pytest.approx(0.60 / (39060 / 77245))
    assert g.loc["vrouw", ["n", "k", "n_excluded"]].tolist() == [100, 40, 2]
    assert g.loc["vrouw", "year"] == 2024
    # Wilson 95% for 40/100 is 0.3094 to 0.4980; divided by the population share
    assert g.loc["vrouw", "ci_low"] == pytest.approx(0.3094 / (38185 / 77245), abs=1e-3)
    assert set(r["variable"]) == {"gender"}          # no age figures for Delfshaven, djg_total unknown


def test_representation_age_from_25_for_oss(spec):
    # Oss 2019: 25-44 21,325, 45-64 27,014, 65+ 18,007 (sum 66,346); 18-24 cannot be compared
    d = _reach(_people("PS", 10, reached=True, age_group="25_44"), _people("PS", 10, reached=True, age_group="65_plus"),
               _people("PS", 7, reached=True, age_group="18_24"))
    r = reach.representation(d, cbs.read_reference(), spec)
    a = r[r["variable"] == "age_group"].set_index("level")
    assert list(a.index) == ["25_44", "45_64", "65_plus"]
    assert a.loc["65_plus", "population_share"] == pytest.approx(18007 / 66346)
    assert a.loc["65_plus", "ratio"] == pytest.approx(0.5 / (18007 / 66346))
    assert a.loc["45_64", "k"] == 0 and a.loc["25_44", "n_excluded"] == 7
    assert (a["year"] == 2019).all() and "Oss" in a["caveat"].iloc[0]


def _reference(rows):
    cols = ["region_code", "region_name", "variable", "value", "year", "table_id", "source", "note"]
    return pd.DataFrame(rows, columns=cols).astype({"value": float})


def test_not_compared_rows_when_cbs_has_no_figure(spec):
    s = copy.deepcopy(spec)
    s["cbs"] = {"gender": s["cbs"]["gender"], "reasons_nl": s["cbs"]["reasons_nl"]}
    ref = _reference([
        ["WK059903", "Delfshaven", "Mannen_6", np.nan, 2024, "85984NED", "", "not found in any source available offline (x)"],
        ["WK059903", "Delfshaven", "Vrouwen_7", np.nan, 2024, "85984NED", "", "not found in any source available offline (x)"],
        ["WK026808", "Lindenholt", "Mannen_6", 10.0, 2024, "85984NED", "src", ""],
        ["WK026808", "Lindenholt", "Vrouwen_7", 30.0, 2024, "85984NED", "src", ""],
    ])
    nc = reach.not_compared(ref, ["DH", "LH"], s)
    assert nc["site"].tolist() == ["DH"]
    assert nc["reason"].iloc[0] == "not found in any source available offline (x)"    # verbatim from the file
    assert nc["reason_nl"].iloc[0].startswith("CBS-cijfer voor dit gebied niet gevonden")
    shares, _ = reach.cbs_shares(ref, ["LH"], s)
    assert shares.set_index("level").loc["vrouw", "population_share"] == pytest.approx(0.75)


def test_cbs_shares_never_mix_years(spec):
    s = copy.deepcopy(spec)
    s["cbs"] = {"gender": s["cbs"]["gender"]}
    ref = _reference([
        ["WK059903", "D", "Mannen_6", 40.0, 2019, "T19", "s", ""],
        ["WK059903", "D", "Vrouwen_7", 60.0, 2019, "T19", "s", ""],
        ["WK059903", "D", "Mannen_6", 50.0, 2024, "T24", "s", ""],       # 2024 has men only
        ["WK059903", "D", "Vrouwen_7", np.nan, 2024, "T24", "", "secret"],
    ])
    shares, missing = reach.cbs_shares(ref, ["DH"], s)
    assert shares["year"].unique().tolist() == [2019]
    assert shares.set_index("level").loc["man", "population_share"] == pytest.approx(0.4)
    assert missing.empty


def test_not_compared_on_the_reference_file(spec):
    nc = reach.not_compared(cbs.read_reference(), ["DH", "LH", "PS"], spec)
    got = {(r.site, r.variable, r.level if isinstance(r.level, str) else "") for r in nc.itertuples()}
    assert ("DH", "age_group", "") in got and ("LH", "origin", "") in got and ("PS", "household", "") in got
    assert ("PS", "age_group", "18_24") in got              # the 15-24 band cannot be cut at 18
    assert not any(v == "gender" for _, v, _ in got)        # gender is verified for all three


# --- R-indicator, reasons, channels -----------------------------------------------------------


def test_r_indicator_by_hand(spec):
    # reach 1/4 among 18-24 and 3/4 among 65+ (gender constant): propensities 0.25 x 4 and
    # 0.75 x 4, S^2 = 8 * 0.25^2 / 7, R = 1 - 2 * sqrt(0.0714) = 0.4655 (Schouten et al. 2009)
    d = _reach(_people("DH", 1, reached=True, age_group="18_24", gender="vrouw"),
               _people("DH", 3, reached=False, age_group="18_24", gender="vrouw"),
               _people("DH", 3, reached=True, age_group="65_plus", gender="vrouw"),
               _people("DH", 1, reached=False, age_group="65_plus", gender="vrouw"),
               _people("DH", 2, reached=True, age_group="65_plus", gender="anders"))
    r = reach.r_indicators(d, spec).set_index("site")
    assert r.loc["DH", "r_indicator"] == pytest.approx(1 - 2 * math.sqrt(8 * 0.25 ** 2 / 7), abs=1e-6)
    assert r.loc["DH", "n"] == 8 and r.loc["DH", "n_dropped"] == 2     # 'anders' left out


def test_reasons_sources_and_denominators(spec):
    nv = _reach(_people("DH", 4, reached=False, **{c: c.endswith("_taal") for c in REASONS}),
                _people("DH", 6, reached=False, **{c: c.endswith("_geen_tijd") for c in REASONS}),
                _people("DH", 5, reached=True))                            # visitors: not asked
    px = pd.DataFrame({"site": ["DH"] * 5, **{c: [c.endswith("_taal")] * 5 for c in REASONS}, "would_like": ["ja"] * 5})
    r = reach.reasons(nv, px, spec)
    dh = r[r["site"] == "DH"].set_index(["source", "option"])
    assert dh.loc[("non_visitors", "taal"), ["n", "k"]].tolist() == [10, 4]
    assert dh.loc[("non_visitors", "geen_tijd"), "share"] == pytest.approx(0.6)
    assert dh.loc[("proxy", "taal"), ["n", "k"]].tolist() == [5, 5]
    assert dh.loc[("proxy", "taal"), "label"] == "taal"
    pub = reach.suppress(r, "reach_reasons", spec).set_index(["site", "source", "option"])
    assert pub.loc[("DH", "non_visitors", "taal"), "k"] == "<5"
    assert pub.loc[("DH", "non_visitors", "taal"), "ci_high"] == "<5"
    assert pub.loc[("DH", "non_visitors", "geen_tijd"), "k"] == 6
    assert pub.loc[("DH", "non_visitors", "kende_niet"), "k"] == 0    # zero is shown


def test_heard_counts_visitors_only(spec):
    d = _reach(_people("DH", 5, reached=True, **{c: c.endswith("_langsgelopen") for c in HEARD}),
               _people("DH", 7, reached=False, **{c: True for c in HEARD}))   # knows it, not a visitor
    h = reach.heard(d, spec).set_index(["site", "option"])
    assert h.loc[("DH", "langsgelopen"), ["n", "k"]].tolist() == [5, 5]
    assert h.loc[("DH", "flyer_poster_krant"), "k"] == 0


# --- writing ----------------------------------------------------------------------------------


def test_publish_suppresses_results_not_internal(spec, tmp_path):
    t = pd.DataFrame({"site": ["DH", "LH"], "site_label": ["a", "b"], "level": ["ja", "ja"], "label": ["ja", "ja"],
                      "n": [20, 3], "k": [12, 2], "share": [0.6, 2 / 3], "ci_low": [0.39, 0.2], "ci_high": [0.78, 0.94],
                      "n_missing": [1, 0]})
    path = reach.publish(t, "reach_would_like", tmp_path, spec)
    pub = pd.read_csv(path, dtype=str)
    internal = pd.read_csv(tmp_path / "internal" / "reach_would_like.csv", dtype=str)
    assert path == tmp_path / "results" / "reach_would_like.csv"
    assert pub.loc[1, ["n", "k", "share", "ci_low", "ci_high"]].tolist() == ["<5"] * 5
    assert pub.loc[0, "k"] == "12" and pub.loc[0, "n_missing"] == "<5"
    assert internal.loc[1, "k"] == "2" and internal.loc[0, "n_missing"] == "1"
    with pytest.raises(ValueError, match="reach_"):
        reach.publish(t, "paired_x", tmp_path, spec)


def test_summary_suppresses_small_counts(spec):
    counts = pd.DataFrame({"site": ["DH"], "site_label": ["Buurtsteunpunt Delfshaven"], "n": [12], "k": [3],
                           "share": [0.25], "ci_low": [0.09], "ci_high": [0.53], "n_missing": [0]})
    s = _spec_with(spec, ["lonely"])
    model = reach.reach_model(_reach(*_two_by_two("DH"), *_two_by_two("LH")), s)
    summ = reach.summary(counts, model, pd.DataFrame(columns=["site"]), pd.DataFrame(columns=["site", "source"]),
                         pd.DataFrame(columns=["site", "level"]), s)
    pub = reach.suppress(summ, "reach_summary", s).set_index("key")
    assert list(pub.columns) == ["value", "label"]
    assert pub.loc["n_reached_DH", "value"] == "<5" and pub.loc["pct_reached_DH", "value"] == "<5"
    assert pub.loc["n_respondents_DH", "value"] == 12
    assert pub.loc["or_lonely", "value"] == pytest.approx(2.0)
    assert pub.loc["strongest_1_or", "label"].endswith("eenzaam (De Jong Gierveld 2 of hoger)")


# --- end to end on the seed-1 data ------------------------------------------------------------


@pytest.fixture(scope="module")
def seed1(tmp_path_factory):
    out = tmp_path_factory.mktemp("reach_seed1")
    clean.clean_all_reach(config.RAW_DIR, out)
    return out


def test_notebook_functions_end_to_end(seed1, spec):
    s = copy.deepcopy(spec)
    s["table1"]["fisher_resamples"] = 2000     # speed; the notebook uses study.yaml's value
    cb = codebook.load(raw_dir=config.RAW_DIR)
    data = reach.load(seed1)
    counts = reach.reach_counts(data.reach, s, cb)
    assert counts["site"].tolist() == ["DH", "LH", "PS", "all"]
    assert counts.loc[counts["site"] != "all", "n"].sum() == counts.loc[counts["site"] == "all", "n"].item() == len(data.reach)
    t1 = reach.table1_by_site(data.reach, s, cb)
    cat = t1[t1["type"] == "categorical"]
    assert np.allclose(cat.groupby(["site", "variable", "group"])["pct"].sum(), 100.0)
    model = reach.reach_model(data.reach, s, cb)
    main = model[model["model"] == "site_fixed"]
    assert main["n_used"].iloc[0] + main["n_dropped"].iloc[0] == len(data.reach)
    assert list(main.loc[main["covariate"] != "site", "term"]) == list(s["model"]["covariates"])
    rep = reach.representation(data.reach, data.reference, s, cb)
    assert set(rep.loc[rep["variable"] == "gender", "site"]) == {"DH", "LH", "PS"}
    assert set(rep.loc[rep["variable"] == "age_group", "site"]) == {"PS"}
    nc = reach.not_compared(data.reference, reach.site_codes(data.reach["site"], cb), s, cb)
    ri = reach.r_indicators(data.reach, s, cb)
    assert ((ri["r_indicator"] > 0) & (ri["r_indicator"] <= 1)).all()
    rs = reach.reasons(data.reach, data.proxy, s, cb)
    wl = reach.would_like(data.proxy, s, cb)
    hd = reach.heard(data.reach, s, cb)
    assert (hd.loc[hd["site"] == "all", "n"] == counts.loc[counts["site"] == "all", "k"].item()).all()
    summ = reach.summary(counts, model, ri, rs, wl, s)
    assert summ["key"].is_unique
    tables = {"reach_counts": counts, "reach_table1": t1, "reach_table1_display": reach.table1_display(t1, counts, s),
              "reach_model": model, "reach_model_display": reach.model_display(model, s),
              "reach_representation": rep, "reach_cbs_not_compared": nc, "reach_r_indicator": ri,
              "reach_reasons": rs, "reach_would_like": wl, "reach_heard": hd, "reach_summary": summ}
    for name, frame in tables.items():
        pub = pd.read_csv(reach.publish(frame, name, seed1, s), dtype=str, keep_default_na=False)
        special = {"reach_table1": ["n", "n_missing"], "reach_summary": []}
        counts_cols = special[name] if name in special else reach.SUPPRESSION[name][0]
        for col in counts_cols:
            values = pd.to_numeric(pub[col], errors="coerce")
            assert not ((values >= 1) & (values < s["min_cell"])).any(), f"{name}.{col} shows a count under 5"
    for name, fig in [("reach_forest", reach.forest_figure(model, s)),
                      ("reach_representation", reach.representation_figure(rep, s)),
                      ("reach_reasons", reach.reasons_figure(rs, s)), ("reach_heard", reach.heard_figure(hd, s))]:
        assert reach.save_figure(fig, name, seed1).stat().st_size > 10_000


# --- recovery of the true reach model ---------------------------------------------------------


@pytest.mark.slow
def test_recovers_true_reach_odds_ratios(tmp_path, spec):
    """Generate seed 7 at scale 20 (~9,000 forms, 60 sites), clean, fit, compare with the truth.

    Each true OR (exp of the generator's coefficient) should lie in its 95% CI. The 9 intervals
    are close to independent, so even with a correct analysis all 9 cover with probability only
    0.95**9 = 0.63; we require at least 8 of 9, which a correct analysis fails with probability
    1 - 0.95**9 - 9 * 0.05 * 0.95**8 = 0.071 for a random seed (the seed is fixed, so the test
    is deterministic: this is the chance that a harmless change to generator or cleaning makes
    it fail). As a second, independent check every non-null effect must have the right sign.
    """
    raw, out = tmp_path / "raw", tmp_path / "out"
    subprocess.run([sys.executable, "-m", "analysis", "synth", "--seed", "7", "--scale", "20", "--out", str(raw)],
                   check=True, cwd=config.PROJECT_DIR, capture_output=True)
    clean.clean_all_reach(raw, out)
    truth = yaml.safe_load((raw / "true_parameters.yaml").read_text(encoding="utf-8"))["reach_model"]["covariates"]
    model = reach.reach_model(pd.read_parquet(out / "reach.parquet"), spec, codebook.load(raw_dir=raw))
    est = model[(model["model"] == "site_fixed") & (model["covariate"] != "site")].set_index("term")
    assert set(est.index) == set(truth)
    true_or = pd.Series({k: math.exp(v["coefficient"]) for k, v in truth.items()})
    covered = (est["ci_low"] <= true_or[est.index]) & (true_or[est.index] <= est["ci_high"])
    report = pd.DataFrame({"true_or": true_or[est.index], "or": est["odds_ratio"], "low": est["ci_low"],
                           "high": est["ci_high"], "covered": covered})
    assert covered.sum() >= len(truth) - 1, f"true ORs outside their 95% CI:\n{report}"
    for term, c in truth.items():
        if c["coefficient"] != 0:
            assert np.sign(est.loc[term, "log_or"]) == np.sign(c["coefficient"]), f"{term}: wrong sign\n{report}"


# --- per-site detail only up to analysis.per_site_detail_max ----------------------------------


def test_per_site_detail_max_is_checked():
    assert reach.per_site_detail_max() == config.study()["analysis"]["per_site_detail_max"]
    for bad in (0, "12", None, True):
        with pytest.raises(ValueError, match="per_site_detail_max"):
            reach.per_site_detail_max({"analysis": {"per_site_detail_max": bad}})


def test_per_site_inferential_rows_only_up_to_the_maximum(seed1, spec):
    # the seed-1 data have 3 sites: with a maximum of 3 Table 1 has a block per site and the pooled
    # one; with a maximum of 2 (as a national monitor of 300 sites against 12) only the pooled one
    import matplotlib.pyplot as plt

    data = reach.load(seed1)
    s = copy.deepcopy(spec)
    s["table1"]["fisher_resamples"] = 1000  # speed
    few, many = {**s, "per_site_detail_max": 3}, {**s, "per_site_detail_max": 2}
    assert list(reach.table1_by_site(data.reach, few)["site"].unique()) == ["DH", "LH", "PS", "all"]
    pooled = reach.table1_by_site(data.reach, many)
    assert list(pooled["site"].unique()) == ["all"]
    counts = reach.reach_counts(data.reach, many)
    assert list(reach.table1_display(pooled, counts, many)["site"].unique()) == ["all"]
    # the descriptive tables stay per site
    assert list(counts["site"]) == ["DH", "LH", "PS", "all"]
    reasons = reach.reasons(data.reach, data.proxy, many)
    assert set(reasons["site"]) == {"DH", "LH", "PS", "all"}
    # figures: 4 panels (3 sites + pooled) or only the pooled one, said in the title
    for s_, panels in ((few, 4), (many, 1)):
        fig = reach.reasons_figure(reasons, s_)
        assert sum(ax.get_visible() for ax in fig.axes) == panels
        assert ("alle 3 krachtpunten samen" in fig._suptitle.get_text()) == (panels == 1)
        plt.close(fig)
    rep = reach.representation(data.reach, data.reference, many)
    fig = reach.representation_figure(rep, many)
    top2 = rep.groupby("site")["n"].max().nlargest(2).index
    assert [ax.get_title(loc="left") for ax in fig.axes] == [reach._site_label(x, None) for x in rep["site"].unique()
                                                              if x in top2]
    assert "de 2 krachtpunten met de meeste bezoekers (van 3)" in fig._suptitle.get_text()
    plt.close(fig)
    s2 = _spec_with(many, ["age_65_plus", "woman"])
    model = reach.reach_model(data.reach, s2)
    fig = reach.forest_figure(model, s2)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert not any("(ref." in lab and "Krachtpunt" in lab for lab in labels)
    assert len([lab for lab in labels if lab]) == 2  # the two covariates, no site terms
    plt.close(fig)
    assert "meer dan 2" in reach.site_detail_note(3, many) and "niet meer dan 3" in reach.site_detail_note(3, few)


def test_vectorised_site_blocks_equal_the_library_per_site(seed1, spec):
    # consistency check of the one-groupby implementation against multiselect_shares per site
    from analysis.stats import proportions

    data = reach.load(seed1)
    cb = codebook.load()
    got = reach.heard(data.reach, spec)
    visitors = data.reach[data.reach["reached"].astype("boolean").fillna(False)]
    cols = cb.multi_columns("heard")
    for site in ("DH", "LH", "PS"):
        want = proportions.multiselect_shares(visitors[visitors["site"] == site], list(cols))
        mine = got[got["site"] == site].reset_index(drop=True)
        pd.testing.assert_series_equal(mine["option"], want["option"].map(cols), check_names=False)
        for c in ("n", "k", "share", "ci_low", "ci_high", "n_missing"):
            np.testing.assert_array_equal(mine[c].to_numpy(), want[c].to_numpy())
    want = reach.would_like(data.proxy[data.proxy["site"] == "LH"], spec)
    mine = reach.would_like(data.proxy, spec).query("site == 'LH'").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, want.query("site == 'LH'").reset_index(drop=True))


# --- issue 15: valid data of any size, and what could not be computed ----------------------------


def test_table1_site_where_everyone_is_reached(spec):
    # DH: 10 reached and 10 not (the Fisher example above); LH: 3 reached, nobody not reached
    s = copy.deepcopy(spec)
    s["table1"] = {**s["table1"], "categorical": ["gender"], "continuous": ["age"], "nonnormal": []}
    d = _reach(_table1_data(), _people("LH", 3, reached=True, gender="vrouw", age=50))
    t = reach.table1_by_site(d, s)
    lh = t[(t["site"] == "LH") & (t["variable"] == "gender")].set_index(["level", "group"])
    assert lh.loc[("vrouw", True), "n"] == 3 and lh.loc[("vrouw", False), "n"] == 0
    assert lh["not_estimable"].iloc[0] == "empty group: no one in the not-reached group at LH answered 'gender'"
    assert lh["p"].isna().all()
    dh = t[(t["site"] == "DH") & (t["variable"] == "gender")]
    assert (dh["not_estimable"] == "").all() and dh["statistic_name"].iloc[0] == "odds_ratio"
    disp = reach.table1_display(t, reach.reach_counts(d, s), s)
    row = disp[(disp["site"] == "LH") & (disp["Kenmerk"] == "Geslacht")].iloc[0]
    assert row["Toets"] == "niet getoetst: lege groep" and row["p"] == "–" and row["Toetswaarde"] == ""
    # DH: OR of the first level (man: 2 reached, 7 not) against vrouw (8, 3) = (2 * 3) / (7 * 8) = 0.107
    dhrow = disp[(disp["site"] == "DH") & (disp["Kenmerk"] == "Geslacht")].iloc[0]
    assert dhrow["Toetswaarde"] == "OR = 0,11" and dhrow["p"] == "0,070" and dhrow["Toets"] == "Fisher exact"
    ne = reach.not_estimable_table(table1=t, s=s)
    assert set(ne["site"]) == {"LH"} and set(ne["reason_nl"]) == {"lege groep"}
    text = reach.not_estimable_text(ne)
    assert text.startswith("Niet alles kon worden berekend. Tabel 1: toets voor Geslacht bij Wijkatelier Lindenholt (lege groep)")


def test_statistic_text_names_what_it_holds(spec):
    assert reach._statistic_text("chi2", 3.214, 2.0, spec) == "χ² = 3,21 (vg 2)"
    assert reach._statistic_text("t", -1.2, 17.31, spec) == "t = -1,20 (vg 17,3)"
    assert reach._statistic_text("odds_ratio", float("inf"), np.nan, spec) == "OR = ∞"
    assert reach._statistic_text("table_probability", 0.00001, np.nan, spec) == "P(tabel) < 0,0001"
    with pytest.raises(ValueError, match="not_estimable_nl"):
        reach.not_estimable_nl("crashed", spec)


def test_representation_says_who_the_population_is(spec):
    # gender: CBS counts all ages (Mannen_6, Vrouwen_7), children included; age from 25 (Oss 2019)
    d = _reach(_people("PS", 6, reached=True, gender="vrouw", age_group="25_44", djg_total=3),
               _people("PS", 4, reached=True, gender="man", age_group="65_plus", djg_total=0))
    r = reach.representation(d, cbs.read_reference(), spec)
    by = r.drop_duplicates("variable").set_index("variable")
    assert by.loc["gender", "population"].startswith("alle inwoners, ook kinderen")
    assert "ook kinderen" in by.loc["gender", "caveat"] and not by.loc["gender", "reference_is_estimate"]
    assert by.loc["age_group", "population"].startswith("inwoners van 25 jaar en ouder")
    assert by.loc["djg_band", "reference_is_estimate"]
    assert "geen betrouwbaarheidsinterval" in by.loc["djg_band", "caveat"]
    # the national 29.2% matig eenzaam (CBS 2022): 6 of 10 visitors -> 0.6 / (29.2 / 100) = 2.055
    m = r[(r["variable"] == "djg_band") & (r["level"] == "matig_eenzaam")].iloc[0]
    assert m["ratio"] == pytest.approx(0.6 / (29.2 / (60.1 + 29.2 + 10.7)))


def test_r_indicators_have_an_interval_or_a_reason(spec):
    s = copy.deepcopy(spec)
    s["r_indicator"] = {**s["r_indicator"], "bootstrap_resamples": 199}
    rng = np.random.default_rng(4)
    parts = [_people("DH", reached=bool(rng.random() < 0.5), age_group=str(rng.choice(["25_44", "65_plus"])),
                     gender=str(rng.choice(["man", "vrouw"]))) for _ in range(120)]
    d = _reach(*parts, _people("LH", 3, reached=True, age_group="25_44", gender="man"))
    r = reach.r_indicators(d, s).set_index("site")
    assert r.loc["DH", "ci_low"] <= r.loc["DH", "r_indicator"] <= r.loc["DH", "ci_high"]
    assert r.loc["LH", "not_estimable"] == "empty group: no one with reached = 0 among 3 at LH"
    assert math.isnan(r.loc["LH", "r_indicator"])
    assert "niet te schatten bij Wijkatelier Lindenholt (lege groep)" in __import__("analysis.report").report.r_indicator_sentence(r.reset_index())


def test_summary_with_a_model_that_could_not_be_estimated(spec):
    counts = pd.DataFrame({"site": ["all"], "site_label": ["Alle"], "n": [0], "k": [0], "share": [np.nan],
                           "ci_low": [np.nan], "ci_high": [np.nan], "n_missing": [0]})
    model = pd.DataFrame({"model": ["site_fixed"], "term": ["lonely"], "covariate": ["lonely"], "label": ["eenzaam"],
                          "odds_ratio": [np.nan], "ci_low": [np.nan], "ci_high": [np.nan], "p": [np.nan],
                          "log_or": [np.nan], "n_used": [0], "n_dropped": [0],
                          "not_estimable": ["too few respondents: no complete cases"]})
    summ = reach.summary(counts, model, pd.DataFrame(columns=["site"]), pd.DataFrame(columns=["site", "source"]),
                         pd.DataFrame(columns=["site", "level"]), spec).set_index("key")
    assert math.isnan(summ.loc["or_lonely", "value"]) and summ.loc["model_n_not_estimable", "value"] == 1
    assert not summ.index.str.startswith("strongest_").any()


def test_reasons_and_channels_with_nobody_to_count(spec):
    # everyone reached: no non-visitors; no proxy reports; no visitor answered the channels question
    d = _reach(_people("DH", 6, reached=True))
    px = pd.DataFrame({"site": pd.Series([], dtype=object), **{c: pd.Series([], dtype="boolean") for c in REASONS},
                       "would_like": pd.Series([], dtype=object)})
    r = reach.reasons(d, px, spec)
    assert set(r["site"]) == {"all"} and (r["n"] == 0).all() and r["share"].isna().all()
    assert r["not_estimable"].str.startswith("too few respondents (n = 0").all()
    w = reach.would_like(px, spec)
    assert (w["site"] == "all").all() and w["not_estimable"].str.startswith("too few respondents").all()
    h = reach.heard(d, spec)
    dh = h[h["site"] == "DH"]
    assert (dh["n"] == 0).all() and (dh["n_missing"] == 6).all()
    assert dh["not_estimable"].iloc[0] == "too few respondents (n = 0 visitors answered) at DH"
    ne = reach.not_estimable_table(reasons_table=r, would=w, heard_table=h, s=spec)
    assert set(ne["table"]) == {"Redenen om niet te komen", "Zou graag komen (proxy)", "Hoe bezoekers ervan hoorden"}
    summ = reach.summary(reach.reach_counts(d, spec), pd.DataFrame(columns=["model", "covariate", "log_or"]),
                         reach.r_indicators(d, spec), r, w, spec).set_index("key")
    # the keys the report reads are there, NaN, with a label that says why
    assert summ.loc["n_non_visitors_all", "value"] == 0 and math.isnan(summ.loc["top_reason_non_visitors_pct", "value"])
    assert summ.loc["top_reason_proxy_pct", "label"].endswith("geen (niemand gaf een reden)")
    assert math.isnan(summ.loc["would_like_yes_pct_all", "value"]) and math.isnan(summ.loc["model_n_used", "value"])
    import matplotlib.pyplot as plt

    fig = reach.representation_figure(reach.representation(d.iloc[:0], cbs.read_reference(), spec), spec)
    assert "Geen vergelijking mogelijk" in fig.axes[0].texts[0].get_text()
    plt.close(fig)
