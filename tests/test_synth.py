"""The synthetic-data generator: deterministic, every file opens, defects are where the list says,
the population follows CBS where CBS gives it, the true reach model is recoverable, and git keeps
real data out of data/raw while tracking the synthetic files. Profiles: the default (`study`)
writes the committed files; `small` has the real study's shape (issue 15), counted by the
project's cleaning rather than by the generator's own bookkeeping."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import uuid
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
import yaml

from analysis import codebook, config, synth
from analysis.readers import read_delimited, read_excel_sheet, read_sav
from analysis.synth import truth

CB = codebook.load()


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    doc = synth.generate(seed=1, scale=1, out=out)
    return out, doc


def digests(path: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


def test_same_seed_gives_byte_identical_files(raw, tmp_path):
    out, _ = raw
    synth.generate(seed=1, scale=1, out=tmp_path / "again")
    assert digests(out) == digests(tmp_path / "again")
    synth.generate(seed=2, scale=1, out=tmp_path / "other")
    other = digests(tmp_path / "other")
    assert other["DH_bereik.csv"] != digests(out)["DH_bereik.csv"]


def test_committed_raw_data_are_the_seed_1_output(raw):
    out, _ = raw
    committed = config.RAW_DIR
    assert digests(committed) == digests(out), "data/raw differs: run python -m analysis synth --seed 1 --out data/raw"


def test_manifest_lists_every_file(raw):
    out, _ = raw
    lines = (out / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in lines)
    files = {p.name for p in out.iterdir()} - {"MANIFEST.sha256"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def mapped_columns(source: str) -> list[str]:
    cols = []
    for m in CB.source(source)["columns"].values():
        cols += [m["column"]] if "column" in m else list(m["columns"])
    return cols


def test_every_file_opens_with_the_project_readers_and_pandas(raw):
    out, doc = raw
    dh = read_delimited(out / "DH_bereik.csv", sep=";", required=mapped_columns("DH"))
    assert (out / "DH_bereik.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    assert len(pd.read_csv(out / "DH_bereik.csv", sep=";", encoding="utf-8-sig", dtype=str)) == len(dh)
    lh = read_excel_sheet(out / "LH_bereik.xlsx", sheet="Formulieren", required=mapped_columns("LH"))
    ps, meta = read_sav(out / "PS_bereik.sav", required=mapped_columns("PS"))
    assert meta.variable_value_labels["geslacht"][2] == "vrouw"
    assert {"lo": 98.0, "hi": 98.0} in meta.missing_ranges["rondk"]
    pyreadstat.read_sav(str(out / "PS_bereik.sav"))
    proxy = read_delimited(out / "proxy_meldingen.csv", sep=",", required=mapped_columns("proxy"))
    sites = read_delimited(out / "locatievragenlijst.csv", sep=",", required=mapped_columns("sites"))
    assert sorted(sites["locatie"]) == ["DH", "LH", "PS"]
    for sheet in ("T0", "T1"):
        iv = read_excel_sheet(out / "interviews.xlsx", sheet=sheet, required=mapped_columns("interviews"))
        assert iv["Respondent"].str.match(r"^(DH|LH|PS)-0[1-7]$").all()
    seg = read_delimited(out / "gecodeerde_segmenten.csv", sep=",", required=["Documentnaam", "Code", "Segment"])
    assert seg["Documentnaam"].str.match(CB.source("segments")["document"]["pattern"]).all()
    assert seg["Code"].str.contains("\\\\").all()
    wb = openpyxl.load_workbook(out / "interviews.xlsx")
    assert wb.sheetnames == ["T0", "T1"]
    rows = {f["file"]: f["rows"] for f in doc["files"]}
    assert rows["DH_bereik.csv"] == len(dh) and rows["LH_bereik.xlsx"] == len(lh) and rows["PS_bereik.sav"] == len(ps)
    assert len(proxy) == rows["proxy_meldingen.csv"]


def test_sizes_and_interview_design(raw):
    _, doc = raw
    forms = {f["site"]: f["rows"] for f in doc["files"] if "site" in f}
    assert set(forms) == {"DH", "LH", "PS"} and all(140 <= n <= 165 for n in forms.values())
    iv = doc["interviews"]
    rows = next(f["rows"] for f in doc["files"] if f["file"] == "interviews.xlsx")
    assert rows["T0"] == 21 and rows["T1"] == 21 - len(iv["dropouts"]) and iv["dropouts"]
    lo, hi = config.study()["analysis"]["interval_months"]
    assert any(not lo <= m <= hi for m in iv["interval_outliers_months"].values())


def test_xlsx_and_sav_metadata_are_fixed(raw):
    out, _ = raw
    stamp = synth.load_params()["file_timestamp"]
    wb = openpyxl.load_workbook(out / "LH_bereik.xlsx")
    assert wb.properties.created.isoformat() == stamp and wb.properties.modified.isoformat() == stamp
    _, meta = pyreadstat.read_sav(str(out / "PS_bereik.sav"), metadataonly=True)
    assert meta.creation_time.strftime("%Y-%m-%dT%H:%M:%S") == stamp


def test_true_parameters_file(raw):
    out, doc = raw
    on_disk = yaml.safe_load((out / "true_parameters.yaml").read_text(encoding="utf-8"))
    assert on_disk == doc and on_disk["synthetic"] is True
    params = synth.load_params()
    for name, c in params["reach_model"]["covariates"].items():
        assert on_disk["reach_model"]["covariates"][name]["coefficient"] == c["coefficient"]
    assert on_disk["interviews"]["true_change"]["who5"] == 10.0
    assert on_disk["interviews"]["true_change"]["pg_lichaamsfuncties"] == 0.0
    assert on_disk["interviews"]["realised_mean_change"]["djg_total"] < 0  # loneliness down
    assert on_disk["interviews"]["realised_mean_change"]["who5"] > 0


_READ: dict = {}


def cell(out: Path, rec: dict, row: int, column: str):
    """The raw value at a defect's row, read as the cleaning will read it (each file read once)."""
    f = out / rec["file"]
    key = (str(f), rec.get("sheet"))
    if key not in _READ:
        if f.suffix == ".csv":
            _READ[key] = read_delimited(f, sep=";" if rec["file"].startswith("DH") else ",")
        elif f.suffix == ".xlsx":
            _READ[key] = read_excel_sheet(f, sheet=rec.get("sheet") or 0)
        else:
            _READ[key] = read_sav(f)[0]
    frame = _READ[key]
    return frame.loc[frame["_row"] == row, column].iloc[0], frame


def test_every_defect_is_where_the_list_says(raw):
    _check_defects(*raw)


def _check_defects(out: Path, doc: dict) -> None:
    """Every kind of defect is planted, and each at the rows the list names."""
    kinds = {d["defect"] for d in doc["defects"]}
    assert {"duplicate_submission", "duplicated_form", "age_out_of_range", "impossible_date", "weet_niet",
            "missing_scale_items", "identifiers_in_free_text", "site_specific_label", "spelling_variant",
            "case_or_space_variant", "age_with_suffix", "birth_year_instead_of_age", "user_missing_98",
            "user_missing_99", "two_missing_djg_items", "score_out_of_range", "code_path_variant"} <= kinds
    for d in doc["defects"]:
        assert d["count"] == len(d["rows"]) > 0
        col = d["column"]
        for row in d["rows"]:
            if d["defect"] in ("duplicate_submission", "duplicated_form", "two_missing_djg_items"):
                continue
            value, frame = cell(out, d, row, col)
            text = str(value)
            if d["defect"] == "age_out_of_range":
                assert text.split()[0] in ("130", "7")
            elif d["defect"] == "impossible_date":
                assert text in ("31-02-2025", "31-04-2025")
            elif d["defect"] == "identifiers_in_free_text":
                assert "06-" in text
            elif d["defect"] in ("missing_scale_items",):
                assert text in ("", "nan")
            elif d["defect"] == "weet_niet":
                assert text == "weet niet"
            elif d["defect"].startswith("user_missing_"):
                assert float(value) == float(d["defect"][-2:])
            elif d["defect"] == "age_with_suffix":
                assert text.endswith(" jaar")
            elif d["defect"] == "birth_year_instead_of_age":
                assert 1900 < int(text) < 2010
            elif d["defect"] == "site_specific_label":
                assert text == "Alleenwonend"
            elif d["defect"] == "case_or_space_variant":
                assert text != CB.normalise("LH", text) and CB.normalise("LH", text) in CB.value_map("LH", _var("LH", col))
            elif d["defect"] == "spelling_variant":
                var = _var("LH", col)
                assert CB.normalise("LH", text) in CB.value_map("LH", var)
                code = CB.value_map("LH", var)[CB.normalise("LH", text)]
                assert CB.normalise("LH", text) != CB.raw_value("LH", var, code)
            elif d["defect"] == "score_out_of_range":
                assert int(value) == 12
            elif d["defect"] == "code_path_variant":
                assert text == "Mechanismen\\steun van mede-bezoekers"
    dup = next(d for d in doc["defects"] if d["defect"] == "duplicated_form")
    _, lh = cell(out, dup, dup["rows"][0], "Formulier nr")
    a, b = (lh.loc[lh["_row"] == r].drop(columns="_row").iloc[0].tolist() for r in dup["rows"])
    assert a == b
    sub = next(d for d in doc["defects"] if d["defect"] == "duplicate_submission")
    _, dh = cell(out, sub, sub["rows"][0], "RESPONSE_ID")
    a, b = (dh.loc[dh["_row"] == r].iloc[0] for r in sub["rows"])
    assert a["RESPONSE_ID"] != b["RESPONSE_ID"] and a["Q3_GENDER"] == b["Q3_GENDER"] and a["Q2_AGE"] == b["Q2_AGE"]


def _var(source, column):
    return next(v for v, m in CB.source(source)["columns"].items() if m.get("column") == column)


def test_readme_lists_every_file_and_defect_and_says_synthetic(raw):
    out, doc = raw
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text and "ASSUMPTION" in text and "not CBS figures" in text
    for f in doc["files"]:
        assert f"`{f['file']}`" in text
    for d in doc["defects"]:
        assert f"| {d['defect']} | `{d['file']}` |" in text


def test_population_follows_cbs_gender_and_labels_assumptions():
    params = synth.load_params()
    rng = np.random.default_rng(5)
    sites = synth.site_table(rng, 20, params, CB)
    ref = synth.read_reference(config.PROJECT_DIR / params["reference_file"])
    comp, sources = synth.composition(sites, params, CB, ref)
    assert sources["DH"]["gender"].startswith("CBS 85984NED (2024), region WK059903")
    assert sources["DH"]["age_group"].startswith("ASSUMPTION")
    assert sources["PS"]["age_group"].startswith("CBS 84583NED (2019)")
    assert all(sources[s]["household"].startswith("ASSUMPTION") for s in sources)
    men, women = 39060, 38185  # CBS.md, Delfshaven 2024
    share_man = 0.98 * men / (men + women)
    assert comp["DH"]["gender"][0] == pytest.approx(share_man)
    reach = truth.reach(np.random.default_rng(6), sites, comp, params, CB)
    dh_like = reach[reach["site"].map(sites.set_index("site")["base"]) == "DH"]
    assert (dh_like["gender"] == "man").mean() == pytest.approx(share_man, abs=0.03)


def test_true_reach_model_is_recoverable():
    """A logistic regression on the synthetic truth recovers the documented log-odds."""
    import statsmodels.api as sm

    params = synth.load_params()
    sites = synth.site_table(np.random.default_rng(7), 40, params, CB)
    ref = synth.read_reference(config.PROJECT_DIR / params["reference_file"])
    comp, _ = synth.composition(sites, params, CB, ref)
    reach = truth.reach(np.random.default_rng(8), sites, comp, params, CB)
    X = truth.covariates(reach, params["reach_model"]["covariates"])
    X = pd.concat([X, pd.get_dummies(reach["site"], dtype=float)], axis=1)
    fit = sm.Logit(reach["reached"].astype(float), X.astype(float)).fit(disp=0)
    for name, c in params["reach_model"]["covariates"].items():
        assert fit.params[name] == pytest.approx(c["coefficient"], abs=4 * fit.bse[name] + 0.02), name


def test_scale_2_adds_generated_sites(tmp_path):
    doc = synth.generate(seed=4, scale=2, out=tmp_path)
    assert len(doc["sites"]) == 6
    extra = codebook.extra_sites(tmp_path)
    assert set(extra) == {"S004", "S005", "S006"}
    cb2 = codebook.load(raw_dir=tmp_path)
    for site, cfg in extra.items():
        assert (tmp_path / cb2.file_name(cfg["source"], site)).exists()
    listed = [line.split("  ", 1)[1] for line in (tmp_path / "MANIFEST.sha256").read_text().splitlines()]
    assert "S004" in " ".join(listed) and codebook.EXTRA_SITES_FILE in listed


def test_refuses_to_write_over_foreign_files(tmp_path):
    (tmp_path / "echte_data.csv").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="files the generator did not write"):
        synth.generate(seed=1, out=tmp_path)
    with pytest.raises(ValueError, match="--scale must be"):
        synth.generate(seed=1, scale=0, out=tmp_path / "new")


def test_cli(tmp_path, capsys):
    assert synth.cli(argparse.Namespace(seed=1, scale=1, out=str(tmp_path))) == 0
    assert "reach forms" in capsys.readouterr().out
    assert synth.cli(argparse.Namespace(seed=1, scale=1, out=str(tmp_path / "x"), profile="tiny")) == 2
    assert "synth: error: --profile 'tiny' is not defined" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_gitignore_keeps_real_data_out_and_tracks_synthetic_files():
    root = config.PROJECT_DIR
    if subprocess.run(["git", "rev-parse"], cwd=root, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")

    def ignored(rel: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", rel], cwd=root).returncode == 0

    synthetic = [p.name for p in config.RAW_DIR.iterdir() if p.is_file()]
    assert "DH_bereik.csv" in synthetic and "MANIFEST.sha256" in synthetic
    for name in synthetic:
        assert not ignored(f"data/raw/{name}"), name
    assert ignored(f"data/raw/echte_export_{uuid.uuid4().hex}.csv")
    assert ignored("data/raw/DH_bereik_echt.sav")
    assert ignored("data/raw/sub/DH_bereik.csv")


# --- profiles: the default is today's data; `small` is the real study's size (issue 15) ------

SMALL_SEEDS = (2, 14, 24)  # the seeds of tests/test_small_study_e2e.py (smallest sites: 2, 3 and 2 pairs)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small profile for every seed in SMALL_SEEDS: {seed: (dir, true_parameters)}."""
    runs = {}
    for seed in SMALL_SEEDS:
        out = tmp_path_factory.mktemp(f"small{seed}")
        runs[seed] = (out, synth.generate(seed=seed, out=out, profile="small"))
    return runs


@pytest.fixture(scope="module")
def small_clean(small):
    """The small files as the project's cleaning reads them (not the generator's bookkeeping):
    {seed: (reach table, interview pairs)}."""
    from analysis import clean, interviews

    return {seed: (clean.clean_reach(out, synthetic=True).table, interviews.clean_interviews(out, synthetic=True).pairs)
            for seed, (out, _) in small.items()}


def test_default_profile_is_the_committed_data(tmp_path):
    """`--profile study` (the default) writes today's files, byte for byte, and merges nothing."""
    synth.generate(seed=1, out=tmp_path, profile="study")
    assert digests(tmp_path) == digests(config.RAW_DIR)
    plain = synth.load_params()
    study = synth.load_params(profile="study")
    assert study == {**{k: v for k, v in plain.items() if k != "profiles"}, "profile": "study"}
    assert "profile" not in yaml.safe_load((tmp_path / "true_parameters.yaml").read_text(encoding="utf-8"))


def test_small_profile_is_deterministic(small, tmp_path):
    out, _ = small[2]
    synth.generate(seed=2, out=tmp_path / "again", profile="small")
    assert digests(tmp_path / "again") == digests(out)
    assert digests(small[14][0])["DH_bereik.csv"] != digests(out)["DH_bereik.csv"]
    assert digests(small[24][0])["interviews.xlsx"] != digests(out)["interviews.xlsx"]


def test_small_profile_forms_per_site(small, small_clean):
    """30-60 forms per site after cleaning (the project's cleaning, not the generator, counts
    them: planted duplicate forms removed), 3 sites, and fewer proxy reports."""
    bounds = synth.load_params(profile="small")["forms_per_site"]
    assert (bounds["min"], bounds["max"]) == (30, 60)
    for seed, (out, doc) in small.items():
        reach = small_clean[seed][0]
        counts = reach["site"].value_counts().to_dict()
        assert set(counts) == {"DH", "LH", "PS"}, seed
        assert all(30 <= n <= 60 for n in counts.values()), (seed, counts)
        assert counts == {s: v["forms"] for s, v in doc["realised_reach"].items()}, seed
        proxy = next(f["rows"] for f in doc["files"] if f["source"] == "proxy")
        assert 3 * 6 <= proxy <= 3 * 12, seed


def test_small_profile_interviews_and_pairs(small, small_clean):
    """7 interviewees per site at T0 (read from the workbook), 2-6 pairs per site (paired by the
    project's cleaning), a site with 2 or 3 pairs in every seed, and the documented numbers agree."""
    person = CB.mapping("interviews", "person_id")["column"]
    seen_two = False
    for seed, (out, doc) in small.items():
        t0 = read_excel_sheet(out / "interviews.xlsx", sheet="T0")
        assert t0[person].str[:2].value_counts().to_dict() == {"DH": 7, "LH": 7, "PS": 7}, seed
        pairs = small_clean[seed][1]
        per_site = pairs["site"].value_counts().reindex(["DH", "LH", "PS"], fill_value=0).to_dict()
        assert all(2 <= n <= 6 for n in per_site.values()), (seed, per_site)
        assert min(per_site.values()) <= 3, (seed, per_site)
        assert per_site == doc["interviews"]["pairs_per_site"], seed
        assert doc["interviews"]["completers"] == sum(per_site.values())
        seen_two |= 2 in per_site.values()
    assert seen_two, "some shipped seed should have a site with only 2 pairs"


def test_small_profile_has_outcomes_without_any_change(small, small_clean):
    """zrm_financien: every pair's T1 equals T0 (all sites); zrm_lichamelijke_gezondheid at one
    site; both have true change 0, as true_parameters.yaml says. Checked on the cleaned pairs."""
    params = synth.load_params(profile="small")
    assert params["interviews"]["zrm"]["change"]["financien"] == 0.0
    for seed, (out, doc) in small.items():
        pairs = small_clean[seed][1]
        fin = pairs["zrm_financien_diff"]
        assert fin.notna().all() and (fin == 0).all(), seed
        assert pairs["zrm_financien_t0"].nunique() > 1, seed  # unchanged, not constant
        lg = pairs.groupby("site")["zrm_lichamelijke_gezondheid_diff"].apply(lambda d: bool((d == 0).all()))
        unchanged = sorted(lg[lg].index)
        assert doc["interviews"]["no_change"]["zrm_lichamelijke_gezondheid"][0] in unchanged, seed
        assert doc["interviews"]["no_change"]["zrm_financien"] == ["DH", "LH", "PS"]
        assert doc["interviews"]["true_change"]["zrm_financien"] == 0.0
        assert doc["interviews"]["realised_mean_change"]["zrm_financien"] == 0.0
        # the other outcomes still change: who5 by +10 points (true), so not every diff is 0
        assert (pairs["who5_diff"].dropna() != 0).any(), seed


def test_small_profile_plants_every_defect_in_a_valid_file(small):
    """Every kind of defect of the default profile appears in the small files too, where the
    list says, and the files are documented as the small profile."""
    for seed, (out, doc) in small.items():
        assert doc["profile"]["name"] == "small" and "30-60" in doc["profile"]["description"]
        assert "--profile small" in (out / "README.md").read_text(encoding="utf-8")
        _check_defects(out, doc)


def test_profile_errors_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match=r"--profile 'tiny' is not defined; choose one of \['small', 'study'\]"):
        synth.generate(seed=1, out=tmp_path, profile="tiny")
    ip = synth.load_params(profile="small")["interviews"]
    with pytest.raises(ValueError, match="true change 0.5"):
        truth.no_change(np.random.default_rng(0), pd.DataFrame({"site": ["DH"], "zrm_dagbesteding": [3]}),
                        pd.DataFrame({"site": ["DH"], "zrm_dagbesteding": [4]}), ["DH"],
                        {**ip, "no_change": [{"outcome": "zrm_dagbesteding", "sites": "all"}]})
    with pytest.raises(ValueError, match="Positieve Gezondheid or ZRM domain"):
        truth.no_change(np.random.default_rng(0), pd.DataFrame(), pd.DataFrame(), ["DH"],
                        {**ip, "no_change": [{"outcome": "who5", "sites": "all"}]})
    with pytest.raises(ValueError, match="must lie within 0-7"):
        truth.pairs_per_site(np.random.default_rng(0), 3, 7, {"pairs_per_site": {"min": 2, "max": 8}})


def test_no_change_returns_a_new_frame():
    t0 = pd.DataFrame({"site": ["DH", "LH"], "zrm_financien": [2, 4]})
    t1 = pd.DataFrame({"site": ["DH", "LH"], "zrm_financien": [3, 5]})
    new, which = truth.no_change(np.random.default_rng(0), t0, t1, ["DH", "LH"],
                                 {"zrm": {"change": {"financien": 0.0}},
                                  "no_change": [{"outcome": "zrm_financien", "sites": 1}]})
    assert t1["zrm_financien"].tolist() == [3, 5]  # input unchanged
    site = which["zrm_financien"][0]
    expected = {"DH": [2, 5], "LH": [3, 4]}[site]  # by hand: only the chosen site copies T0
    assert new["zrm_financien"].tolist() == expected


def test_cli_help_documents_profile_seed_and_scale(capsys):
    from analysis.__main__ import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["synth", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--profile" in text and "'small'" in text and "default 1" in text and "--scale" in text
    args = build_parser().parse_args(["synth"])
    assert (args.seed, args.scale, args.profile) == (1, 1, "study")
