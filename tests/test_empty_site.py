"""A site that delivered no forms, or a header only (issue 16): its row stays, with 0, and everything runs.

Stage 02 gets the sites that should have delivered forms (:func:`analysis.reach.expected_sites`,
the codebook's reach exports) and keeps a row for each: n = 0 and ``not_estimable`` =
``empty group: no forms from <site>`` (README "Small numbers"). The other sites' numbers are
exactly those computed on the data without that site, checked here against values computed
another way (counts by hand, Wilson intervals from statsmodels, the reach model refitted with
statsmodels' Logit, the R-indicator worked out by hand). The report and notebooks 01 and 02 say
in a sentence generated from the data which site is missing (analysis/report.py).

The end-to-end test runs the pipeline and the report on a copy of data/raw whose Lindenholt
export is a header row only, written with openpyxl as Excel keeps it.
"""

from __future__ import annotations

import copy
import html
import json
import math
import re
import shutil
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import cbs, codebook, config, reach  # noqa: E402
from analysis import report as r  # noqa: E402

CB = codebook.load()
SITES = ["DH", "LH", "PS"]
EMPTY = "LH"
NAMES = {s: cfg["name"] for s, cfg in config.study()["sites"].items()}
REASONS = list(CB.multi_columns("reasons"))
HEARD = list(CB.multi_columns("heard"))
NO_FORMS = "empty group: no forms from LH"


@pytest.fixture(scope="module")
def s():
    out = copy.deepcopy(reach.spec())
    out["table1"]["fisher_resamples"] = 200                 # speed: the Monte Carlo p is not checked here
    out["r_indicator"] = {**out["r_indicator"], "bootstrap_resamples": 19}
    return out


def _site_rows(rng, site, n):
    """``n`` respondents of one site as notebook 01 writes them: every code drawn from the codebook."""
    rows = {"respondent_id": [f"{site}{i}" for i in range(n)], "site": [site] * n,
            "reached": pd.array(rng.random(n) < 0.45, dtype="boolean")}
    for var in ("age_group", "gender", "household", "origin", "education", "activity", "finances", "health"):
        codes = CB.codes(var)
        rows[var] = list(rng.choice(codes, n))
    rows["age"] = pd.array(rng.integers(18, 90, n), dtype="Int64")
    rows["djg_total"] = pd.array(rng.integers(0, 7, n), dtype="Int64")
    for c in HEARD + REASONS:
        rows[c] = pd.array(rng.random(n) < 0.3, dtype="boolean")
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data():
    """Forms from DH and PS only; LH, a site of the codebook, delivered none."""
    rng = np.random.default_rng(16)
    d = pd.concat([_site_rows(rng, "DH", 110), _site_rows(rng, "PS", 100)], ignore_index=True)
    d["age_group"] = pd.cut(d["age"].astype(float), [17, 24, 44, 64, 200],
                            labels=["18_24", "25_44", "45_64", "65_plus"]).astype(str)
    return d


@pytest.fixture(scope="module")
def proxy():
    rng = np.random.default_rng(5)
    n = 30  # proxy reports are a file of their own: LH has some although its reach export is empty
    p = pd.DataFrame({"site": rng.choice(SITES, n), "would_like": rng.choice(CB.codes("would_like"), n)})
    for c in REASONS:
        p[c] = pd.array(rng.random(n) < 0.4, dtype="boolean")
    return p


def test_expected_sites_are_the_codebooks_reach_exports():
    assert reach.expected_sites(CB) == [x for x in CB.codes("site") if x in CB.site_sources("reach")] == SITES


# --- stage 02 tables ------------------------------------------------------------------------------


def test_reach_counts_keep_the_empty_site_with_zero(data, s):
    from statsmodels.stats.proportion import proportion_confint

    before = data.copy()
    counts = reach.reach_counts(data, s, CB, sites=SITES).set_index("site")
    pd.testing.assert_frame_equal(data, before)  # input untouched
    assert list(counts.index) == ["DH", "LH", "PS", "all"]
    lh = counts.loc[EMPTY]
    assert (lh["n"], lh["k"], lh["n_missing"]) == (0, 0, 0)
    assert lh[["share", "ci_low", "ci_high"]].isna().all() and lh["not_estimable"] == NO_FORMS
    assert lh["site_label"] == NAMES[EMPTY]
    # the other sites and the pool: counted by hand, Wilson interval from statsmodels
    for site, sub in (("DH", data[data.site == "DH"]), ("PS", data[data.site == "PS"]), ("all", data)):
        n, k = len(sub), int(sum(bool(v) for v in sub["reached"]))
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        row = counts.loc[site]
        assert (row["n"], row["k"]) == (n, k) and row["not_estimable"] == ""
        assert row["share"] == pytest.approx(k / n) and (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi))
    # without `sites` (the default) the table has only the sites in the data, as before
    assert list(reach.reach_counts(data, s, CB)["site"]) == ["DH", "PS", "all"]


def test_a_site_with_forms_but_no_known_reach_status_is_not_called_empty(data, s):
    d = data.copy()
    extra = d[d.site == "DH"].head(3).assign(site=EMPTY, reached=pd.array([None] * 3, dtype="boolean"))
    counts = reach.reach_counts(pd.concat([d, extra], ignore_index=True), s, CB, sites=SITES).set_index("site")
    assert counts.loc[EMPTY, "n_missing"] == 3
    assert counts.loc[EMPTY, "not_estimable"].startswith("too few respondents")


def test_table1_block_of_the_empty_site(data, s):
    t1 = reach.table1_by_site(data, s, CB, sites=SITES)
    lh = t1[t1.site == EMPTY]
    assert len(lh) and (lh["n"] == 0).all() and (lh["not_estimable"] == NO_FORMS).all()
    assert lh["p"].isna().all() and lh["smd"].isna().all()
    # DH: counts of gender by reach group, counted with a crosstab
    dh = t1[(t1.site == "DH") & (t1.variable == "gender") & (t1.group != "overall")]
    tab = pd.crosstab(data.loc[data.site == "DH", "gender"], data.loc[data.site == "DH", "reached"].astype(bool))
    for _, row in dh.iterrows():
        expect = tab.loc[row["level"], bool(row["group"])] if row["level"] in tab.index else 0
        assert row["n"] == expect
    # the other blocks are exactly those of the run without the empty site
    plain = reach.table1_by_site(data, s, CB)
    pd.testing.assert_frame_equal(t1[t1.site != EMPTY].reset_index(drop=True), plain.reset_index(drop=True))
    disp = reach.table1_display(t1, reach.reach_counts(data, s, CB, sites=SITES), s)
    first = disp[disp.site == EMPTY].iloc[0]
    assert first["Kenmerk"] == "Aantal respondenten" and first["Totaal"] == "0"
    assert disp.loc[disp.site == EMPTY, "Toets"].str.startswith("niet getoetst: lege groep").any()


def test_representation_rows_of_the_empty_site(data, s):
    ref = cbs.read_reference()
    rep = reach.representation(data, ref, s, CB, sites=SITES)
    lh = rep[rep.site == EMPTY]
    assert len(lh) and (lh["n"] == 0).all() and (lh["k"] == 0).all()
    assert lh[["share", "ratio", "ci_low", "ci_high"]].isna().all().all() and (lh["not_estimable"] == NO_FORMS).all()
    rest = rep[rep.site != EMPTY].reset_index(drop=True)
    assert (rest["not_estimable"] == "").all()
    plain = reach.representation(data, ref, s, CB)
    pd.testing.assert_frame_equal(rest.drop(columns="not_estimable"), plain.drop(columns="not_estimable"))
    # DH women among visitors over men and women, divided by the population share: by hand
    vis = data[(data.site == "DH") & data.reached.astype(bool) & data.gender.isin(["man", "vrouw"])]
    row = rest[(rest.site == "DH") & (rest.variable == "gender") & (rest.level == "vrouw")].iloc[0]
    share = (vis.gender == "vrouw").mean()
    assert row["n"] == len(vis) and row["ratio"] == pytest.approx(share / row["population_share"])


def test_r_indicator_row_of_the_empty_site_and_a_hand_value(s):
    # PS: reach 1/4 among 18-24 and 3/4 among 65+ (gender constant): propensities 0.25 x 4 and 0.75 x 4,
    # S^2 = 8 * 0.25^2 / 7, R = 1 - 2 * sqrt(0.0714) = 0.4655 (Schouten et al. 2009); DH and LH absent
    rows = ([("18_24", True)] * 1 + [("18_24", False)] * 3 + [("65_plus", True)] * 3 + [("65_plus", False)] * 1)
    d = pd.DataFrame({"site": "PS", "reached": pd.array([x[1] for x in rows], dtype="boolean"),
                      "age_group": [x[0] for x in rows], "gender": "vrouw"})
    ri = reach.r_indicators(d, s, CB, sites=SITES).set_index("site")
    assert list(ri.index) == ["DH", "LH", "PS", "all"]
    assert ri.loc["PS", "r_indicator"] == pytest.approx(1 - 2 * math.sqrt(8 * 0.25 ** 2 / 7), abs=1e-6)
    for site in ("DH", "LH"):
        assert ri.loc[site, "n"] == 0 and math.isnan(ri.loc[site, "r_indicator"])
        assert ri.loc[site, "not_estimable"] == f"empty group: no forms from {site}"
    assert "geen formulieren ontvangen" in r.r_indicator_sentence(ri.reset_index())


def test_reasons_heard_would_like_keep_the_empty_site(data, proxy, s):
    rs = reach.reasons(data, proxy, s, CB, sites=SITES)
    lh_non = rs[(rs.site == EMPTY) & (rs.source == "non_visitors")]
    assert len(lh_non) == len(REASONS) and (lh_non["n"] == 0).all() and (lh_non["not_estimable"] == NO_FORMS).all()
    # LH's proxy reports are counted as usual (their own file): n = LH reports with every option answered
    lh_px = rs[(rs.site == EMPTY) & (rs.source == "proxy")]
    assert (lh_px["n"] == int((proxy.site == EMPTY).sum())).all() and (lh_px["not_estimable"] == "").all()
    # DH non-visitors: ticks of the first reason counted by hand
    non = data[(data.site == "DH") & ~data.reached.astype(bool)]
    row = rs[(rs.site == "DH") & (rs.source == "non_visitors")].iloc[0]
    assert (row["n"], row["k"]) == (len(non), int(non[REASONS[0]].astype(bool).sum()))
    hd = reach.heard(data, s, CB, sites=SITES)
    assert (hd.loc[hd.site == EMPTY, "n"] == 0).all() and (hd.loc[hd.site == EMPTY, "not_estimable"] == NO_FORMS).all()
    pd.testing.assert_frame_equal(hd[hd.site != EMPTY].reset_index(drop=True),
                                  reach.heard(data, s, CB).reset_index(drop=True))
    # a site without proxy reports: rows with 0 and the usual reason
    wl = reach.would_like(proxy[proxy.site != "PS"], s, CB, sites=SITES)
    ps = wl[wl.site == "PS"]
    assert len(ps) == len(CB.codes("would_like")) and (ps["n"] == 0).all()
    assert ps["not_estimable"].str.startswith("too few respondents").all()


def test_reach_model_without_the_empty_site_matches_statsmodels(data, s):
    import statsmodels.api as sm

    model = reach.reach_model(data, s, CB)
    main = model[model.model == reach.MODEL_MAIN].set_index("term")
    assert "site[LH]" not in main.index and "site[PS]" in main.index
    assert set(model.loc[model.model == "leave_one_site_out", "site_left_out"]) == {"DH", "PS"}
    if (main["method"] != "maximum likelihood").any():
        pytest.skip("separation in the drawn data: the Firth fit has its own oracle tests")
    # oracle: statsmodels' Logit on the complete cases with a PS dummy (DH the reference)
    mf = reach.model_frame(data, s, CB)
    names = list(s["model"]["covariates"])
    mf = mf.dropna(subset=["reached", *names])
    X = sm.add_constant(pd.concat([mf[names], (mf["site"] == "PS").astype(float).rename("PS")], axis=1))
    fit = sm.Logit(mf["reached"], X).fit(disp=0)
    assert main.loc["lonely", "odds_ratio"] == pytest.approx(math.exp(fit.params["lonely"]), rel=1e-5)
    assert main.loc["site[PS]", "odds_ratio"] == pytest.approx(math.exp(fit.params["PS"]), rel=1e-5)
    assert main["n_used"].iloc[0] == len(mf)
    counts = reach.reach_counts(data, s, CB, sites=SITES)
    assert r.model_sites_sentence(counts) == (f"{NAMES[EMPTY]} zit niet in het model: van dit krachtpunt zijn geen "
                                              "formulieren geanalyseerd.")


def test_not_estimable_table_names_the_empty_site_once_per_table(data, proxy, s):
    t1 = reach.table1_by_site(data, s, CB, sites=SITES)
    ri = reach.r_indicators(data, s, CB, sites=SITES)
    rs = reach.reasons(data, proxy, s, CB, sites=SITES)
    wl = reach.would_like(proxy, s, CB, sites=SITES)
    hd = reach.heard(data, s, CB, sites=SITES)
    ne = reach.not_estimable_table(t1, ri, rs, wl, hd, None, s)
    lh = ne[ne.site == EMPTY]
    assert list(lh["table"]) == ["Tabel 1", "R-indicator", "Redenen om niet te komen", "Hoe bezoekers ervan hoorden"]
    assert (lh["reason_nl"] == "lege groep: geen formulieren ontvangen").all()
    text = reach.not_estimable_text(ne)
    assert (f"Van {NAMES[EMPTY]} zijn geen formulieren (lege groep), dus geen cijfers in: Tabel 1, R-indicator, Redenen om niet "
            "te komen (van niet-bezoekers) en Hoe bezoekers ervan hoorden.") in text


def test_summary_publish_and_figures_with_the_empty_site(data, proxy, s, tmp_path):
    ref = cbs.read_reference()
    counts = reach.reach_counts(data, s, CB, sites=SITES)
    model = reach.reach_model(data, s, CB)
    ri = reach.r_indicators(data, s, CB, sites=SITES)
    rs = reach.reasons(data, proxy, s, CB, sites=SITES)
    wl = reach.would_like(proxy, s, CB, sites=SITES)
    summ = reach.summary(counts, model, ri, rs, wl, s).set_index("key")
    assert summ.loc["n_respondents_LH", "value"] == 0 and math.isnan(summ.loc["pct_reached_LH", "value"])
    published = pd.read_csv(reach.publish(counts, "reach_counts", tmp_path, s), keep_default_na=False)
    assert published.loc[published.site == EMPTY, ["n", "k"]].values.tolist() == [["0", "0"]] or \
        published.loc[published.site == EMPTY, ["n", "k"]].values.tolist() == [[0, 0]]  # 0 is not suppressed
    rep = reach.representation(data, ref, s, CB, sites=SITES)
    fig = reach.representation_figure(rep, s)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert f"{NAMES[EMPTY]}: geen formulieren ontvangen, geen vergelijking" in texts
    plt.close(fig)
    for fig in (reach.reasons_figure(rs, s), reach.heard_figure(reach.heard(data, s, CB, sites=SITES), s)):
        titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        assert f"{NAMES[EMPTY]}\n(geen formulieren ontvangen)" in titles
        plt.close(fig)


def test_no_site_delivered_forms(data, proxy, s):
    """Every export a header only: each table has a row per site with 0, the figures and sentences say so."""
    none = data.iloc[:0]
    counts = reach.reach_counts(none, s, CB, sites=SITES)
    assert list(counts["n"]) == [0, 0, 0, 0] and list(counts["not_estimable"][:3]) == [
        f"empty group: no forms from {x}" for x in SITES]
    rep = reach.representation(none, cbs.read_reference(), s, CB, sites=SITES)
    assert set(rep["site"]) == set(SITES) and (rep["n"] == 0).all()
    fig = reach.representation_figure(rep, s)  # every panel without forms: no NaN axis limits
    assert sum("geen formulieren ontvangen" in t.get_text() for ax in fig.axes for t in ax.texts) == 3
    plt.close(fig)
    ri = reach.r_indicators(none, s, CB, sites=SITES)
    rs = reach.reasons(none, proxy, s, CB, sites=SITES)
    hd = reach.heard(none, s, CB, sites=SITES)
    for fig in (reach.reasons_figure(rs, s), reach.heard_figure(hd, s)):
        plt.close(fig)
    model = reach.reach_model(none, s, CB)
    summ = reach.summary(counts, model, ri, rs, reach.would_like(proxy, s, CB, sites=SITES), s)
    rsd = dict(zip(summ["key"], summ["value"]))
    assert r.reach_overall_sentence(rsd) == "Er zijn geen bereiksvragenlijsten geanalyseerd; het bereik is niet te berekenen."
    assert r.reach_by_site_sentence(counts) == (
        f"Bij {NAMES['DH']}, {NAMES['LH']} en {NAMES['PS']} is het bereik niet te berekenen (geen formulieren).")
    assert r.model_sites_sentence(counts).endswith("zitten niet in het model: van deze krachtpunten zijn geen "
                                                   "formulieren geanalyseerd.")


# --- the sentences (analysis/report.py) -------------------------------------------------------------


def _flow(**received_kept):
    rows = [{"file": CB.file_name(CB.site_sources("reach")[x], x), "site": x, "received": rk[0], "duplicates": 0,
             "out_of_scope": rk[0] - rk[1], "kept": rk[1]} for x, rk in received_kept.items()]
    rows.append({"file": "proxy_meldingen.csv", "site": "alle", "received": 66, "duplicates": 0, "out_of_scope": 0,
                 "kept": 66})
    return pd.DataFrame(rows)


def test_empty_sites_sentence_from_the_flow():
    flow = _flow(DH=(160, 159), LH=(0, 0), PS=(143, 143))  # as cleaning should write it: the site, 0 and 0
    assert r.empty_sites_sentence(flow) == (
        f"Van {NAMES['LH']} kwamen geen formulieren binnen; dit krachtpunt ontbreekt in de vergelijkingen per "
        "krachtpunt en in het regressiemodel (in de tabellen per krachtpunt staat het met 0).")
    two = r.empty_sites_sentence(_flow(DH=(160, 159), LH=(0, 0), PS=(0, 0)))
    assert two.startswith(f"Van {NAMES['LH']} en {NAMES['PS']} kwamen geen formulieren binnen; deze krachtpunten "
                          "ontbreken")
    removed = r.empty_sites_sentence(_flow(DH=(160, 159), LH=(5, 0), PS=(143, 143)))
    assert removed.startswith(f"Van {NAMES['LH']} kwamen 5 formulieren binnen, maar na het opschonen bleef er geen over")
    full = _flow(DH=(160, 159), LH=(40, 40), PS=(143, 143))
    assert r.empty_sites_sentence(full) == ""
    assert r.empty_sites_sentence(full, say_none=True) == "Van elk krachtpunt zijn formulieren geanalyseerd."
    # a site of study.yaml without any flow row delivered nothing either
    assert r.empty_sites_sentence(_flow(DH=(160, 159), PS=(143, 143))).startswith(f"Van {NAMES['LH']} kwamen geen")
    with pytest.raises(ValueError, match="give the cleaning flow"):
        r.empty_sites(None, None)


def test_empty_sites_sentence_from_the_counts_and_the_flow_table(data, s):
    counts = reach.reach_counts(data, s, CB, sites=SITES)
    text = r.empty_sites_sentence(counts=counts)
    assert text.startswith(f"Van {NAMES['LH']} is geen enkel formulier geanalyseerd")
    published = reach.suppress(counts, "reach_counts", s)  # what the report reads
    assert r.empty_sites_sentence(counts=published) == text
    assert r.reach_by_site_sentence(published).endswith(
        f"bij {NAMES['LH']} is het bereik niet te berekenen (geen formulieren).")
    dh = counts.set_index("site").loc["DH", "share"]
    assert f"{r.num(100 * dh, 0)}% bij {NAMES['DH']}" in r.reach_by_site_sentence(published)
    table = r.flow_table(_flow(DH=(160, 159), LH=(0, 0), PS=(143, 143)))
    row = table[table["Krachtpunt"] == NAMES["LH"]].iloc[0]
    assert (row["Bestand"], row["Ontvangen"], row["Geanalyseerd"]) == ("LH_bereik.xlsx", "0", "0")


# --- end to end: stages 01, 02, 03 and the report on a copy with a header-only site -------------------


def _header_only_xlsx(path):
    """Delete every form row of the workbook's sheet with openpyxl, as Excel keeps a header-only sheet."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    ws.delete_rows(2, ws.max_row)
    wb.save(path)


@pytest.mark.slow
@pytest.mark.xdist_group("empty-site")
def test_pipeline_and_report_with_a_header_only_site(tmp_path):
    raw, out, output = tmp_path / "raw", tmp_path / "out", tmp_path / "_output"
    shutil.copytree(config.RAW_DIR, raw)
    _header_only_xlsx(raw / "LH_bereik.xlsx")
    env = {**__import__("os").environ, "KRACHTPUNTEN_PSEUDONYM_KEY": "test-key"}  # a damaged copy is not synthetic
    proc = subprocess.run([sys.executable, "-m", "analysis", "run", "--raw", str(raw), "--out", str(out),
                           "--output", str(output), "--force"], capture_output=True, text=True,
                          cwd=config.PROJECT_DIR, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    flow = pd.read_csv(out / "results" / "cleaning_flow.csv")
    lh = flow[flow.file == "LH_bereik.xlsx"].iloc[0]
    assert (str(lh["received"]), str(lh["kept"])) == ("0", "0")  # a column may hold marks: text
    counts = pd.read_csv(out / "results" / "reach_counts.csv", keep_default_na=False).set_index("site")
    assert counts.loc["LH", "n"] == 0 and counts.loc["LH", "not_estimable"] == NO_FORMS
    sentence = (f"Van {NAMES['LH']} kwamen geen formulieren binnen; dit krachtpunt ontbreekt in de vergelijkingen "
                "per krachtpunt")
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (output / "report.html").read_text("utf-8"))))
    assert sentence in text
    # the flow table's row: file, site name, 0 received, 0 duplicates, 0 empty, 0 analysed
    assert re.search(rf"LH_bereik\.xlsx {re.escape(NAMES['LH'])} 0 0 0 0 ", text)
    assert f"bij {NAMES['LH']} is het bereik niet te berekenen (geen formulieren)" in text
    assert f"{NAMES['LH']} zit niet in het model" in text
    assert "lege groep" in text  # the Dutch reading of the reason in results/reach_counts.csv
    nb = json.loads((output / "notebooks" / "02_reach_demographics.ipynb").read_text("utf-8"))
    shown = " ".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert f"Van {NAMES['LH']} is geen enkel formulier geanalyseerd" in shown
    nb1 = json.loads((output / "notebooks" / "01_clean_reach.ipynb").read_text("utf-8"))
    shown1 = " ".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb1["cells"] for o in c.get("outputs", []))
    assert sentence in shown1
