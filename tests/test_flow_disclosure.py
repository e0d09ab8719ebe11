"""The cleaning and interview flows under secondary suppression (issue 17).

A flow row is received = duplicates + out_of_scope + kept. Hiding a duplicate count of 1 as "<5"
alone gives it back as received - out_of_scope - kept (the report's flow table showed "Dubbel 1").
Each test builds a flow by hand, writes out the arithmetic an attacker would do, and checks that
:func:`analysis.stats.disclosure.attack` finds it without secondary suppression and not with it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import clean
from analysis.cleanlog import CleaningLog
from analysis.stats import disclosure

K = 5


def reach_flow(**rows) -> pd.DataFrame:
    """Cleaning flow rows as clean_all_reach makes them: (site, received, duplicates, out_of_scope, kept)."""
    base = {"DH_bereik.csv": ("DH", 160, 1, 0, 159), "LH_bereik.xlsx": ("LH", 150, 0, 0, 150),
            "PS_bereik.sav": ("PS", 143, 0, 0, 143), "proxy_meldingen.csv": ("alle", 66, 0, 0, 66)}
    base.update(rows)
    return pd.DataFrame([{"file": f, "site": s, "received": r, "duplicates": d, "out_of_scope": o, "kept": k}
                         for f, (s, r, d, o, k) in base.items()])


def interview_flow(t0=(23, 2, 21)) -> pd.DataFrame:
    rows = [("interviews.xlsx[T0]", "T0", *t0), ("interviews.xlsx[T1]", "T1", 18, 0, 18),
            ("gecodeerde_segmenten.csv", "T0+T1", 299, 0, 299)]
    return pd.DataFrame(rows, columns=["file", "wave", "received", "out_of_scope", "kept"])


def attack(tables: dict) -> pd.DataFrame:
    return disclosure.attack(clean.flow_ledger(tables, K)).set_index("key")


def row(frame: pd.DataFrame, file: str) -> list:
    return frame.set_index("file").loc[file, ["received", "duplicates", "out_of_scope", "kept"]].tolist()


def test_ledger_names_the_shared_counts_and_the_row_relation():
    led = clean.flow_ledger({"cleaning_flow": reach_flow(), "interview_flow": interview_flow()}, K)
    # kept forms of a site's only file = the site's reach N; kept T0 rows = persons interviewed at T0
    assert led.values[("respondents", "DH")] == 159
    assert led.values[("interviewed", "T0", "alle")] == 21
    assert ("respondents", "alle") not in led.values  # the proxy file is no site's reach N
    assert led.kinds[("cleaning_flow", "DH_bereik.csv", "received")] == "total"
    # DH: +1*received -1*duplicates -1*out_of_scope -1*kept = 160 - 1 - 0 - 159 = 0
    dh = next(t for t in led.relations if ("respondents", "DH") in t)
    assert dh == {("cleaning_flow", "DH_bereik.csv", "received"): 1.0,
                  ("cleaning_flow", "DH_bereik.csv", "duplicates"): -1.0,
                  ("cleaning_flow", "DH_bereik.csv", "out_of_scope"): -1.0, ("respondents", "DH"): -1.0}
    led.check()  # every relation holds with the numbers


def test_a_duplicate_comes_back_without_secondary_suppression():
    published = clean.publish_flow(reach_flow(), min_cell=K, secondary=False)
    assert row(published, "DH_bereik.csv") == [160, "<5", 0, 159]
    found = attack({"cleaning_flow": published}).loc[[("cleaning_flow", "DH_bereik.csv", "duplicates")]].iloc[0]
    # the attacker: duplicates = received - out_of_scope - kept = 160 - 0 - 159 = 1, exactly
    assert (found["low"], found["high"], found["protected"]) == (1, 1, False)


def test_secondary_suppression_protects_the_duplicate():
    published = clean.publish_flow(reach_flow(), min_cell=K, secondary=True)
    # the 0 beside "<5" is "<5" too; then 160 = a + b + 159 gives a + b = 1, so one more cell goes:
    # the row total (received) rather than the site's N (a headline count)
    assert row(published, "DH_bereik.csv") == ["x", "<5", "<5", 159]
    assert row(published, "LH_bereik.xlsx") == [150, 0, 0, 150]  # nothing small: untouched
    found = attack({"cleaning_flow": published})
    small = found[found["mark"] == "<5"]
    assert len(small) == 2 and small["protected"].all()
    assert (small["low"] == 0).all() and (small["high"] == K - 1).all()


def test_an_empty_site_keeps_its_zeros():
    """A site without forms is said in words under the table ("0 received"); no hidden cell is
    in its row, so its zeros stay visible."""
    published = clean.publish_flow(reach_flow(**{"LH_bereik.xlsx": ("LH", 0, 0, 0, 0)}), min_cell=K)
    assert row(published, "LH_bereik.xlsx") == [0, 0, 0, 0]


def test_interview_flow_out_of_scope_recovered_then_protected():
    flow = interview_flow(t0=(23, 2, 21))
    plain = clean.publish_flow(flow, "interview_flow", min_cell=K, secondary=False)
    key = ("interview_flow", "interviews.xlsx[T0]", "out_of_scope")
    found = attack({"interview_flow": plain}).loc[[key]].iloc[0]
    assert (found["low"], found["high"]) == (2, 2)  # 23 - 21 = 2
    safe = clean.publish_flow(flow, "interview_flow", min_cell=K, secondary=True)
    t0 = safe.set_index("file").loc["interviews.xlsx[T0]"]
    assert [t0["received"], t0["out_of_scope"], t0["kept"]] == ["x", "<5", 21]
    assert attack({"interview_flow": safe}).loc[[key]].iloc[0]["protected"]


def test_a_flow_that_arrives_with_marks_is_protected_too():
    """interviews.clean_all_interviews suppresses small cells itself before the shared writer
    sees the flow: the writer keeps those marks and hides what else is needed."""
    flow = interview_flow(t0=(23, 2, 21))
    primary_only = clean.publish_flow(flow, "interview_flow", min_cell=K, secondary=False)
    again = clean.publish_flow(primary_only, "interview_flow", min_cell=K, secondary=True)
    pd.testing.assert_frame_equal(again, clean.publish_flow(flow, "interview_flow", min_cell=K, secondary=True))


def test_secondary_suppression_follows_study_yaml(monkeypatch):
    from analysis import config

    settings = config.study()
    off = {**settings, "analysis": {**settings["analysis"], "secondary_suppression": False}}
    monkeypatch.setattr(config, "study", lambda *a, **k: off)
    assert row(clean.publish_flow(reach_flow()), "DH_bereik.csv") == [160, "<5", 0, 159]


def test_the_writer_publishes_the_protected_flow_and_keeps_the_numbers_internal(tmp_path):
    clean.write_outputs(tmp_path, {}, log=CleaningLog().frame(), flow=reach_flow())
    published = pd.read_csv(tmp_path / "results" / "cleaning_flow.csv", dtype=str)
    internal = pd.read_csv(tmp_path / "internal" / "cleaning_flow.csv", dtype=str)
    assert row(published, "DH_bereik.csv") == ["x", "<5", "<5", "159"]
    assert row(internal, "DH_bereik.csv") == ["160", "1", "0", "159"]


def test_a_contradictory_flow_is_a_bug():
    flow = interview_flow(t0=(23, "<5", 30)).astype(object)  # 30 kept of 23 received
    with pytest.raises(ValueError, match="contradict"):
        clean.publish_flow(flow, "interview_flow", min_cell=K)


T0, T1 = ("interviewed", "T0", "alle"), ("interviewed", "T1", "alle")


def paired_ledger() -> disclosure.Ledger:
    """Notebook 03's counts as its ledger holds them: 21 at T0 = 18 pairs + 3 drop-outs; 18 at T1."""
    led = disclosure.Ledger(min_cell=K)
    for key, v, kind in [(T0, 21, "total"), (T1, 18, "total"), (("pairs", "alle"), 18, "headline"),
                         (("dropouts", "alle"), 3, "cell")]:
        led.add(key, v, kind, "paired_summary")
    led.total(T0, [("pairs", "alle"), ("dropouts", "alle")])
    led.total(T1, [("pairs", "alle")])
    return led


def published(led: disclosure.Ledger, marks: dict) -> disclosure.Ledger:
    out = disclosure.Ledger(min_cell=led.min_cell)
    for key, v in led.values.items():
        out.add(key, marks.get(key, v), led.kinds[key], led.where[key][0])
    out.relations = list(led.relations)
    return out


def test_the_interview_flow_is_protected_together_with_notebook_03():
    """The flow shows 21 interviewed at T0 and 18 at T1; notebook 03 hides its 3 drop-outs. Each
    protected alone, the attacker subtracts across tables: drop-outs = 21 - 18 = 3."""
    flow = interview_flow(t0=(21, 0, 21))
    alone = disclosure.protect(paired_ledger())
    attacker = published(paired_ledger(), alone).merge(
        clean.flow_ledger({"interview_flow": clean.publish_flow(flow, "interview_flow", min_cell=K)}, K))
    found = disclosure.attack(attacker).set_index("key").loc[[("dropouts", "alle")]].iloc[0]
    assert (found["low"], found["high"]) == (3, 3)
    # protected as one ledger: the flow gets the marks of the shared counts and its rows are protected
    together = disclosure.protect(disclosure.Ledger(min_cell=K).merge(paired_ledger())
                                  .merge(clean.flow_ledger({"interview_flow": flow}, K)))
    flow_pub = clean.publish_flow(flow, "interview_flow", min_cell=K, context=paired_ledger())
    pd.testing.assert_frame_equal(flow_pub, clean.apply_flow_marks(flow, "interview_flow", together, min_cell=K))
    attacker = published(paired_ledger(), together).merge(clean.flow_ledger({"interview_flow": flow_pub}, K))
    small = disclosure.attack(attacker).query("mark == '<5'")
    assert len(small) and small["protected"].all()


def test_a_count_hidden_in_another_table_is_hidden_in_the_flow_too():
    """A count another table already hides as "x" (here the persons interviewed at T0) is hidden
    in the flow too. (A 0 beside an "x" is shown: only a 0 beside a "<5" is hidden. The row
    then narrows the imposed "x"; protecting both tables as one ledger, ``context=`` or
    :func:`clean.protect_with_flow`, is what keeps it hidden: tested above and below.)"""
    flow = interview_flow(t0=(21, 0, 21))
    safe = clean.publish_flow(flow, "interview_flow", min_cell=K, published={T0: "x", ("pairs", "DH"): "x"})
    t0 = safe.set_index("file").loc["interviews.xlsx[T0]"]
    assert [t0["received"], t0["out_of_scope"], t0["kept"]] == [21, 0, "x"]
    assert safe.set_index("file").loc["interviews.xlsx[T1]", "kept"] == 18  # not named: shown


def test_protect_with_flow_rewrites_the_written_flow(tmp_path):
    """The hook for notebook 03: the flow written earlier is protected again with its tables."""
    flow = interview_flow(t0=(21, 0, 21))
    clean.write_outputs(tmp_path, {}, log=CleaningLog().frame(), flow=flow, flow_name="interview_flow")
    before = pd.read_csv(tmp_path / "results" / "interview_flow.csv", dtype=str).set_index("file")
    assert before.loc["interviews.xlsx[T0]", "kept"] == "21"  # nothing small in the flow alone
    marks = clean.protect_with_flow(paired_ledger(), tmp_path, secondary=True)
    after = pd.read_csv(tmp_path / "results" / "interview_flow.csv", dtype=str)
    attacker = published(paired_ledger(), marks).merge(clean.flow_ledger({"interview_flow": after}, K))
    found = disclosure.attack(attacker).set_index("key")
    assert found.loc[[("dropouts", "alle")]].iloc[0]["protected"]  # no longer 21 - 18 = 3
