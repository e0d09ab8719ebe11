"""The reach model of notebook 02 at the real study's size (issue 15): reach_model, model_display
and forest_figure on small and degenerate data.

Expected values are worked out by hand in the comments (2x2 odds ratios, Woolf 1955) or come
from the same statistic called directly on the subset (a consistency check; the statistic is
tested against closed forms and hand computations in tests/test_stats_models.py).
"""

from __future__ import annotations

import copy

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis import reach  # noqa: E402
from analysis.stats.models import logistic_or  # noqa: E402

KEYS = ("too few respondents", "no variation", "separation", "empty group", "too few sites", "not enough events")


@pytest.fixture(scope="module")
def spec():
    return reach.spec()


def _spec_with(spec, covariates, **model):
    s = copy.deepcopy(spec)
    s["model"]["covariates"] = {k: v for k, v in spec["model"]["covariates"].items() if k in covariates}
    s["model"].update(model)
    return s


def _people(site="DH", n=1, **cols):
    base = {"site": site, "reached": None, "age": None, "gender": None, "household": None, "origin": None,
            "education": None, "activity": None, "finances": None, "djg_total": None}
    base.update(cols)
    return pd.DataFrame([base] * n)


def _reach(*parts) -> pd.DataFrame:
    d = pd.concat(parts, ignore_index=True)
    d.insert(0, "respondent_id", [f"R{i}" for i in range(len(d))])
    d["reached"] = d["reached"].astype("boolean")
    for c in ("age", "djg_total"):
        d[c] = pd.array(d[c], dtype="Int64")
    return d


def _two_by_two(site, a=10, b=5, c=20, d=20, **extra):
    # lonely (djg_total 3): a reached, b not; not lonely (djg_total 0): c reached, d not
    return [_people(site, a, reached=True, djg_total=3, **extra), _people(site, b, reached=False, djg_total=3, **extra),
            _people(site, c, reached=True, djg_total=0, **extra), _people(site, d, reached=False, djg_total=0, **extra)]


def _number_or_reason(m):
    for _, r in m.iterrows():
        vals = r[["odds_ratio", "ci_low", "ci_high", "p", "log_or", "se"]].to_numpy(dtype=float)
        if r["not_estimable"]:
            assert r["not_estimable"].startswith(KEYS), r["not_estimable"]
            assert np.isnan(vals).all()
        else:
            assert np.isfinite(vals).all(), r.to_dict()


def test_cluster_robust_only_from_the_configured_number_of_sites(spec):
    # With cluster_robust_min_sites = 2 the two sites give the CR1 / t(1 df) sensitivity rows instead.
    s = _spec_with(spec, ["lonely"], cluster_robust_min_sites=2)
    d = _reach(*_two_by_two("DH"), *_two_by_two("LH", 12, 4, 18, 21))
    m = reach.reach_model(d, s)
    rob = m[m["model"] == "site_fixed_cluster"]
    assert rob["term"].tolist() == ["lonely"] and rob["test"].tolist() == ["Wald t (1 df = clusters - 1)"]
    direct = logistic_or(reach.model_frame(d, s), "reached", continuous=["lonely"], site="site", cluster="site",
                         reference={"site": "DH"})
    assert rob["se"].iloc[0] == pytest.approx(direct.loc[direct["term"] == "lonely", "se"].item(), rel=1e-10)
    disp = reach.model_display(m, s)
    assert "OR (95%-BI), cluster-robuust" in disp.columns and "p, cluster-robuust" in disp.columns


def test_a_site_where_everyone_was_reached_gives_firth_not_a_crash(spec):
    # PS: all 8 reached -> quasi-complete separation on site[PS]: Firth for the whole model; leaving
    # PS out removes the separation, so that refit is maximum likelihood.
    s = _spec_with(spec, ["lonely", "woman"])
    d = _reach(*_two_by_two("DH", gender="vrouw"), *_two_by_two("LH", 8, 6, 15, 20, gender="man"),
               _people("PS", 4, reached=True, djg_total=3, gender="vrouw"),
               _people("PS", 4, reached=True, djg_total=0, gender="man"))
    m = reach.reach_model(d, s)
    _number_or_reason(m)
    main = m[m["model"] == "site_fixed"]
    assert (main["method"] == "Firth penalised likelihood").all()
    assert main["separation"].iloc[0] == "separation on site[PS]: all 8 with site[PS] = 1 have reached = 1"
    assert (main["not_estimable"] == "").all()
    loso = m[m["model"] == "leave_one_site_out"].set_index("site_left_out")
    assert (loso.loc["PS", "method"] == "maximum likelihood").all()
    fig = reach.forest_figure(m, s)
    assert "Firth-correctie" in fig._supxlabel.get_text()
    plt.close(fig)
    disp = reach.model_display(m, s).set_index("Kenmerk")
    assert disp.loc["Methode", "OR (95%-BI)"] == "Firth-correctie wegens scheiding (profielinterval)"


def test_one_respondent_site_five_forms_and_constant_covariate(spec):
    s = _spec_with(spec, ["lonely", "woman"])
    # everyone a woman: woman has no variation and is dropped with its reason, lonely is estimated
    d = _reach(*_two_by_two("DH", gender="vrouw"), *_two_by_two("LH", gender="vrouw"),
               _people("PS", 1, reached=False, djg_total=0, gender="vrouw"))
    m = reach.reach_model(d, s)
    _number_or_reason(m)
    main = m[m["model"] == "site_fixed"].set_index("term")
    assert main.loc["woman", "not_estimable"] == "no variation: woman = 1 for all 111 complete cases"
    assert main.loc["lonely", "not_estimable"] == ""
    disp = reach.model_display(m, s).set_index("Kenmerk")
    assert disp.loc[s["model"]["covariates"]["woman"]["nl"], "OR (95%-BI)"] == "niet te schatten: geen variatie"
    fig = reach.forest_figure(m, s)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert s["model"]["covariates"]["woman"]["nl"] not in labels
    assert "Niet getoond: vrouw" in fig._supxlabel.get_text()
    plt.close(fig)
    # five forms at one site: fewer than 2 events per parameter -> not estimable, said in words
    five = _reach(_people("DH", 1, reached=True, djg_total=3, gender="man"),
                  _people("DH", 1, reached=True, djg_total=0, gender="vrouw"),
                  _people("DH", 1, reached=True, djg_total=3, gender="vrouw"),
                  _people("DH", 1, reached=False, djg_total=0, gender="man"),
                  _people("DH", 1, reached=False, djg_total=3, gender="man"))
    m5 = reach.reach_model(five, s)
    _number_or_reason(m5)
    assert (m5["not_estimable"] != "").all()
    main5 = m5[m5["model"] == "site_fixed"]
    assert main5["not_estimable"].iloc[0].startswith("not enough events: 2 of the rarer outcome for 2 parameters")
    loso5 = m5[m5["model"] == "leave_one_site_out"]
    assert loso5["not_estimable"].iloc[0].startswith("too few sites: 1 site(s)")
    disp5 = reach.model_display(m5, s)
    assert disp5["OR (95%-BI)"].iloc[0] == "niet te schatten: te weinig bereikten of niet-bereikten per modelterm"
    assert disp5["OR zonder één krachtpunt"].iloc[0] == "niet te schatten: te weinig krachtpunten"
    # 2 not reached of 5: EPV x 2 parameters would show the count 2, so it is hidden like any count 1-4
    assert disp5.set_index("Kenmerk").loc["Gebeurtenissen per parameter (EPV)", "OR (95%-BI)"] == (
        "<5 bereikt of niet bereikt")
    assert disp5.set_index("Kenmerk").loc["Aantal in de analyse (weggelaten)", "OR (95%-BI)"] == "5 (0)"
    fig = reach.forest_figure(m5, s)
    assert any("Geen odds ratio te schatten" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_everyone_reached_and_no_data(spec):
    s = _spec_with(spec, ["lonely"])
    six = _reach(_people("DH", 3, reached=True, djg_total=3), _people("DH", 3, reached=True, djg_total=0))
    for d, reason in ((six, "no variation: reached = 1 for all 6"),
                      (_reach(_people("DH", 3, reached=None, djg_total=3)), "too few respondents: no complete cases")):
        m = reach.reach_model(d, s)
        _number_or_reason(m)
        assert m.loc[m["model"] == "site_fixed", "not_estimable"].iloc[0].startswith(reason)
        reach.model_display(m, s)
        plt.close(reach.forest_figure(m, s))


def test_every_reason_key_has_a_dutch_reading(spec):
    for key in KEYS:
        assert reach._not_estimable_nl(f"{key}: details", spec).startswith("niet te schatten: ")
    with pytest.raises(ValueError, match="not_estimable_nl"):
        reach._not_estimable_nl("something new", spec)
