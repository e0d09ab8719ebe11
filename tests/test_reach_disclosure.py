"""Secondary suppression of the reach tables (issue 17): the attack recovers each planted small
cell from primary suppression alone, and protect_tables hides enough that it no longer can.

Each hand-made case says the arithmetic an attacker would do; the attacker itself is
analysis.stats.disclosure.attack (integer programmes, tested against brute force in
tests/test_disclosure.py) on reach.ledger of the tables *as published*, read back from CSV.
"""

from __future__ import annotations

import copy
import io

import pandas as pd
import pytest

from analysis import attack as attack_mod
from analysis import clean, codebook, config, reach
from analysis.stats import disclosure


@pytest.fixture(scope="module")
def spec():
    return reach.spec()


def as_published(frames: dict) -> dict:
    """Every frame written to CSV and read back as analysis/attack.py reads results/."""
    out = {}
    for name, t in frames.items():
        buf = io.StringIO()
        t.to_csv(buf, index=False)
        buf.seek(0)
        out[name] = pd.read_csv(buf, keep_default_na=False, na_values=[""])
    return out


def attacked(frames: dict, k: int = 5) -> pd.DataFrame:
    return disclosure.attack(reach.ledger(as_published(frames), k)).set_index("key")


def protect(frames: dict, spec, **kw):
    """reach.protect_tables with every Table 1 block published (the hand-made tables have sites)."""
    return reach.protect_tables(frames, spec, pooled_only=(), **kw)


def primary_only(frames: dict, spec) -> dict:
    return protect(frames, dict(spec, secondary_suppression=False))[0]


def counts_frame(rows):
    """reach_counts rows (site, n, k, n_missing) with the share and Wilson CI columns."""
    t = pd.DataFrame(rows, columns=["site", "n", "k", "n_missing"])
    t.insert(1, "site_label", t["site"])
    t["share"] = t["k"] / t["n"]
    t["ci_low"], t["ci_high"] = t["share"] - 0.1, t["share"] + 0.1
    t["not_estimable"] = ""
    return t


def table1_frame(blocks, var_label="Dagbesteding"):
    """Tidy Table 1 of one categorical variable: {site: {level_label: (reached, not reached)}}.

    A level labelled "onbekend" is the missing level. pct = n / group N * 100, as in compare.table1.
    """
    rows = []
    for site, levels in blocks.items():
        n_r = sum(r for r, _ in levels.values())
        n_nr = sum(nr for _, nr in levels.values())
        for label, (r, nr) in levels.items():
            code = "missing" if label == "onbekend" else label
            for group, n, big in ((True, r, n_r), (False, nr, n_nr), ("overall", r + nr, n_r + n_nr)):
                rows.append({"site": site, "site_label": site, "variable": "activity", "variable_label": var_label,
                             "type": "categorical", "level": code, "level_label": label, "group": group,
                             "n": n, "pct": 100.0 * n / big, "mean": float("nan"), "sd": float("nan"),
                             "median": float("nan"), "q1": float("nan"), "q3": float("nan"),
                             "n_missing": float("nan"), "not_estimable": ""})
    return pd.DataFrame(rows)


def counts_for(blocks):
    rows = []
    for site, levels in blocks.items():
        k = sum(r for r, _ in levels.values())
        rows.append((site, k + sum(nr for _, nr in levels.values()), k, 0))
    return counts_frame(rows)


def interval(result, key):
    return result.loc[[key], ["low", "high"]].iloc[0].tolist()


def all_protected(result) -> bool:
    small = result[result["mark"] == "<5"]
    return len(small) > 0 and bool(small["protected"].all())


# --- hand-made tables, one route each -----------------------------------------------------------


def test_one_subtraction_would_like(spec):
    # would-like at DH: ja 12, nee 3, weet niet 5, n = 20 answered: nee = 20 - 12 - 5 = 3.
    t = pd.DataFrame({"site": ["DH"] * 3, "site_label": ["DH"] * 3, "level": ["ja", "nee", "weet_niet"],
                      "label": ["ja", "nee", "weet niet"], "n": [20] * 3, "k": [12, 3, 5],
                      "share": [0.6, 0.15, 0.25], "ci_low": [0.4] * 3, "ci_high": [0.8] * 3, "n_missing": [0] * 3,
                      "not_estimable": [""] * 3})
    key = ("reach_would_like", "DH", "nee", "k")
    frames = {"reach_would_like": t}
    assert interval(attacked(primary_only(frames, spec)), key) == [3, 3]
    pub, marks = protect(frames, spec)
    assert marks[key] == "<5"
    assert all_protected(attacked(pub))
    # its share and CI go with it; a zero beside it would be "<5" too (here none)
    row = pub["reach_would_like"].set_index("level").loc["nee"]
    assert row["share"] == row["ci_low"] == row["ci_high"] == "<5"


def test_totaal_column_issue_example(spec):
    # The issue's "dagbesteding - anders": bereikt <5, niet bereikt 8, totaal 10 -> 10 - 8 = 2.
    blocks = {"all": {"werk": (30, 40), "anders": (2, 8), "onbekend": (6, 7)}}
    frames = {"reach_counts": counts_for(blocks), "reach_table1": table1_frame(blocks)}
    key = ("reach_table1", "all", "Dagbesteding", "anders", "reached")
    assert interval(attacked(primary_only(frames, spec)), key) == [2, 2]
    pub, marks = protect(frames, spec)
    res = attacked(pub)
    assert all_protected(res)
    assert marks[key] == "<5" and set(marks.values()) == {"<5", "x"}
    # the percentage of every hidden count is hidden with it
    tidy = pub["reach_table1"]
    assert (tidy.loc[tidy["n"].isin(["<5", "x"]), "pct"].isin(["<5", "x"])).all()


def test_chaining_site_blocks_into_all_block(spec):
    # DH alone: anders_r + onb_r = 3, anders_r + anders_nr = 5, anders_nr + onb_nr = 4 and
    # onb_t <= 4 leave anders_r in 1..3 (narrowed); with the pooled block, anders_r = 7 - 5 = 2.
    blocks = {"DH": {"werk": (30, 40), "anders": (2, 3), "onbekend": (1, 1)},
              "LH": {"werk": (20, 30), "anders": (5, 6), "onbekend": (6, 5)}}
    blocks["all"] = {lv: tuple(a + b for a, b in zip(blocks["DH"][lv], blocks["LH"][lv])) for lv in blocks["DH"]}
    key = ("reach_table1", "DH", "Dagbesteding", "anders", "reached")
    dh_only = {"reach_counts": counts_for({"DH": blocks["DH"]}), "reach_table1": table1_frame({"DH": blocks["DH"]})}
    assert interval(attacked(primary_only(dh_only, spec)), key) == [1, 3]
    frames = {"reach_counts": counts_for(blocks), "reach_table1": table1_frame(blocks)}
    assert interval(attacked(primary_only(frames, spec)), key) == [2, 2]
    pub, _ = protect(frames, spec)
    assert all_protected(attacked(pub))


def test_share_beside_a_known_n(spec):
    # reach_counts at PS: k hidden, but a share of 3/40 = 0.075 beside n = 40 gives k = 3.
    frames = {"reach_counts": counts_frame([("DH", 50, 20, 0), ("PS", 40, 3, 0), ("all", 90, 23, 0)])}
    leaky = as_published(primary_only(frames, spec))
    leaky["reach_counts"]["share"] = frames["reach_counts"]["share"]  # a share left beside its count
    res = disclosure.attack(reach.ledger(leaky, 5)).set_index("key")
    assert interval(res, ("reached", "PS")) == [3, 3]
    pub, _ = protect(frames, spec)
    ps = pub["reach_counts"].set_index("site").loc["PS"]
    assert ps["share"] in ("<5", "x") and ps["ci_low"] in ("<5", "x")
    assert all_protected(attacked(pub))


def test_representation_against_table1(spec):
    # Table 1 protected on its own hides "zeg ik liever niet" (2 reached, 3 not reached at DH)
    # and some cells around them. The representation table shows
    # man 30 and vrouw 25 again as k (the same keys), n = 55 compared, n_excluded = 8 (anders 6 +
    # zeg ik liever niet 2) and n_missing = 0: reached = 55 + 8 + 0 = 63, so in Table 1's
    # reached column zeg ik liever niet = 63 - 30 - 25 - 6 - 0 = 2, and 5 - 2 = 3 not reached.
    blocks = {"DH": {"man": (30, 40), "vrouw": (25, 35), "anders": (6, 6), "zeg ik liever niet": (2, 3),
                     "onbekend": (0, 0)}}
    t1 = table1_frame(blocks, "Geslacht")
    counts = counts_for(blocks)
    rep = pd.DataFrame({"site": ["DH", "DH"], "site_label": ["DH", "DH"], "variable": ["gender", "gender"],
                        "variable_label": ["Geslacht"] * 2, "level": ["man", "vrouw"], "level_label": ["man", "vrouw"],
                        "n": [55, 55], "k": [30, 25], "share": [30 / 55, 25 / 55], "population_share": [0.5, 0.5],
                        "ratio": [60 / 55, 50 / 55], "ci_low": [0.8, 0.6], "ci_high": [1.4, 1.2],
                        "n_excluded": [8, 8], "n_missing": [0, 0], "not_estimable": ["", ""]})
    key = ("reach_table1", "DH", "Geslacht", "zeg ik liever niet", "reached")
    # as published before issue 17: primary suppression only, n_excluded published
    before = primary_only({"reach_counts": counts, "reach_table1": t1, "reach_representation": rep}, spec)
    res = attacked(before)
    assert interval(res, key) == [2, 2]
    assert interval(res, ("reach_table1", "DH", "Geslacht", "zeg ik liever niet", "not_reached")) == [3, 3]
    pub, _ = protect({"reach_counts": counts, "reach_table1": t1, "reach_representation": rep}, spec)
    assert all_protected(attacked(pub))
    assert "n_excluded" not in pub["reach_representation"]  # publishing less: it stays in internal/


def test_ledger_relations_hold_on_the_numbers():
    # levels + onbekend = N, bereikt + niet bereikt = totaal, pooled = sum of sites: every relation
    # reach.ledger declares holds on the unsuppressed numbers (Ledger.check raises otherwise)
    blocks = {"DH": {"werk": (3, 4), "onbekend": (1, 0)}, "LH": {"werk": (5, 6), "onbekend": (0, 2)}}
    blocks["all"] = {"werk": (8, 10), "onbekend": (1, 2)}
    led = reach.ledger({"reach_counts": counts_for(blocks), "reach_table1": table1_frame(blocks)})
    led.check()
    pooled = {("reach_table1", "all", "Dagbesteding", "werk", "reached"): 1.0,
              ("reach_table1", "DH", "Dagbesteding", "werk", "reached"): -1.0,
              ("reach_table1", "LH", "Dagbesteding", "werk", "reached"): -1.0}
    assert pooled in led.relations


def test_eliminated_unpublished_cell_still_binds():
    # reach_counts alone never shows the not-reached count, yet n = reached + not reached and the
    # pooled not-reached = sum of sites still tie the published cells (eliminated, not dropped)
    rels = reach._eliminate([{"n": 1.0, "k": -1.0, "u": -1.0}, {"u": 1.0, "v": -1.0}], {"n", "k", "v"})
    assert [sorted(r.items()) for r in rels] == [[("k", -1.0), ("n", 1.0), ("v", -1.0)]]


def test_display_consistent_with_tidy(spec):
    blocks = {"all": {"werk": (30, 40), "anders": (2, 8), "onbekend": (6, 7)}}
    t1 = table1_frame(blocks)
    counts = counts_for(blocks)
    disp = reach.table1_display(t1.assign(smd=0.1, test="", statistic_name="", statistic=float("nan"),
                                          dof=float("nan"), p=float("nan")), counts, spec)
    pub, marks = protect({"reach_counts": counts, "reach_table1": t1, "reach_table1_display": disp}, spec)
    tidy = pub["reach_table1"].set_index(["level_label", "group"])["n"]
    shown = pub["reach_table1_display"].set_index("Categorie")
    for label in ("werk", "anders", "onbekend"):
        for group, col in ((True, "Bereikt"), (False, "Niet bereikt"), ("overall", "Totaal")):
            t, d = tidy.loc[(label, group)], shown.loc[label, col]
            if t in ("<5", "x"):
                assert d == t, (label, col)
            else:
                assert str(d).startswith(str(int(t))), (label, col)


# --- the stage-02 tables of the synthetic data ---------------------------------------------------


@pytest.fixture(scope="module")
def stage02(tmp_path_factory, spec):
    out = tmp_path_factory.mktemp("reach_disclosure")
    clean.clean_all_reach(config.RAW_DIR, out)
    s = copy.deepcopy(spec)
    s["table1"]["fisher_resamples"] = 2000          # speed; counts do not depend on it
    s["r_indicator"]["bootstrap_resamples"] = 50
    cb = codebook.load(raw_dir=config.RAW_DIR)
    tables = reach.compute_all(reach.load(out), s, cb, sites=reach.expected_sites(cb))
    return out, s, tables


def reach_published(out) -> dict:
    tables = attack_mod.read_published(config.results_dir(out))
    return {n: t for n, t in tables.items() if n.startswith("reach_")}


def test_stage02_every_small_cell_protected(stage02):
    out, s, tables = stage02
    reach.publish_all(tables, out, s)
    res = disclosure.attack(reach.ledger(reach_published(out), s["min_cell"]))
    small = res[res["mark"] == "<5"]
    assert len(small) > 20                           # the synthetic data have small cells to protect
    exposed = small[~small["protected"].astype(bool)]
    assert exposed.empty, exposed[["key", "low", "high"]].to_string()
    # no count 1-4 is printed anywhere in the published reach tables
    for name, t in reach_published(out).items():
        for col in ("n", "k", "n_missing", "n_used", "n_dropped", "n_events", "n_excluded"):
            if col in t.columns:
                v = pd.to_numeric(t[col], errors="coerce")
                assert not v.between(1, s["min_cell"] - 1).any(), f"{name}.{col}"


def test_stage02_without_secondary_the_attack_finds_cells(stage02, tmp_path):
    _, s, tables = stage02
    off = dict(s, secondary_suppression=False)
    reach.publish_all(tables, tmp_path, off)
    res = disclosure.attack(reach.ledger(reach_published(tmp_path), s["min_cell"]))
    small = res[res["mark"] == "<5"]
    assert (~small["protected"].astype(bool)).sum() > 10
