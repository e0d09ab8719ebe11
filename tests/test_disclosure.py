"""The disclosure engine (analysis/stats/disclosure.py) against hand computations and brute force.

The oracle for the attacker's interval is exhaustive enumeration: every assignment of whole
numbers to the hidden cells within the marks' bounds (0-4 for "<5", 5 up to the largest total
for "x") is tried, those that satisfy every relation are kept, and the minimum and maximum of
each cell over them are the interval. Independent of the integer programme the module solves.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analysis.stats import disclosure
from analysis.stats.disclosure import Ledger, attack, protect


def table2d(values, row_kind="total", col_kind="total"):
    """A two-way table with row and column totals and a grand total (all in one ledger)."""
    led = Ledger()
    values = np.asarray(values)
    r, c = values.shape
    for i in range(r):
        for j in range(c):
            led.add(("c", i, j), int(values[i, j]))
        led.add(("row", i), int(values[i].sum()), row_kind)
        led.total(("row", i), [("c", i, j) for j in range(c)])
    for j in range(c):
        led.add(("col", j), int(values[:, j].sum()), col_kind)
        led.total(("col", j), [("c", i, j) for i in range(r)])
    led.add("N", int(values.sum()), "headline")
    led.total("N", [("row", i) for i in range(r)])
    led.total("N", [("col", j) for j in range(c)])
    return led


def published(led: Ledger, hidden: dict) -> Ledger:
    """The ledger as an attacker reads it: hidden cells carry their mark instead of the number."""
    pub = Ledger(min_cell=led.min_cell)
    for key, v in led.values.items():
        pub.add(key, hidden.get(key, v), led.kinds[key], "t")
    pub.relations = list(led.relations)
    return pub


def brute_force(pub: Ledger, marks: bool = True) -> dict:
    """Min and max of every hidden cell over all assignments that satisfy the relations."""
    hidden = [k for k, v in pub.values.items() if isinstance(v, str)]
    top = max([v for v in pub.values.values() if not isinstance(v, str)] + [5])
    if marks:
        ranges = [range(0, 5) if pub.values[h] == "<5" else range(5, top + 1) for h in hidden]
    else:
        ranges = [range(0, top + 1) for h in hidden]
    if np.prod([float(len(r)) for r in ranges]) > 2e5:
        return None
    lo = {h: np.inf for h in hidden}
    hi = {h: -np.inf for h in hidden}
    for combo in itertools.product(*ranges):
        val = dict(pub.values)
        val.update(zip(hidden, combo))
        if all(abs(sum(c * val[k] for k, c in terms.items())) < 1e-9 for terms in pub.relations):
            for h, x in zip(hidden, combo):
                lo[h], hi[h] = min(lo[h], x), max(hi[h], x)
    return {h: (lo[h], hi[h]) for h in hidden}


def test_issue_example_one_subtraction():
    # Table 1, "dagbesteding - anders": bereikt <5, niet bereikt 8, totaal 10 -> 10 - 8 = 2.
    led = Ledger()
    led.add("reached", 2)
    led.add("not", 8)
    led.add("total", 10, "total")
    led.total("total", ["reached", "not"])
    exposed = attack(published(led, protect(led, secondary=False)))
    assert exposed.set_index("key").loc["reached", ["low", "high"]].tolist() == [2, 2]
    assert not exposed["protected"].iloc[0]
    hidden = protect(led)
    assert hidden == {"reached": "<5", "total": "x"}  # the total is hidden, not the substance
    result = attack(published(led, hidden)).set_index("key")
    # the attacker now knows reached + 8 = total, total >= 5: reached anywhere in 0..4
    assert result.loc["reached", ["low", "high"]].tolist() == [0, 4]
    assert result.loc["total", ["low", "high"]].tolist() == [8, 12]
    # without the marks: total = reached + 8 with nothing bounding it
    assert result.loc["reached", "low_unmarked"] == 0 and result.loc["reached", "high_unmarked"] == np.inf


def test_sum_of_two_small_cells_needs_more_than_hiding_both():
    # 1 + 2 = 3 with the total shown: both "<5" but a + b = 3 caps each at 3 (narrowed).
    led = Ledger()
    for key, v in [("a", 1), ("b", 2), ("c", 20)]:
        led.add(key, v)
    led.add("t", 23, "total")
    led.total("t", ["a", "b", "c"])
    exposed = attack(published(led, protect(led, secondary=False))).set_index("key")
    assert exposed.loc["a", ["low", "high"]].tolist() == [0, 3]  # 3 - b, b in 0..3
    hidden = protect(led)
    result = attack(published(led, hidden))
    assert result["protected"].dropna().all()
    assert hidden["t"] == "x" or hidden["c"] == "x"


def test_zero_beside_small_cell_is_hidden():
    # a 0 in the same row as a 3 would be shown "0": it is "<5" too.
    led = Ledger()
    for key, v in [("a", 3), ("z", 0), ("b", 30)]:
        led.add(key, v)
    led.add("t", 33, "total")
    led.total("t", ["a", "z", "b"])
    hidden = protect(led)
    assert hidden["z"] == "<5"
    assert attack(published(led, hidden))["protected"].dropna().all()


def test_zero_elsewhere_is_shown():
    led = Ledger()
    for key, v in [("a", 0), ("b", 9)]:
        led.add(key, v)
    led.add("t", 9, "total")
    led.total("t", ["a", "b"])
    assert protect(led) == {}


def test_chaining_site_blocks_into_all_sites_block():
    # three sites and "alle": the all-sites cell minus two sites gives the third.
    led = Ledger()
    cells = {"DH": (3, 40), "LH": (12, 30), "PS": (9, 25)}
    for s, (small, big) in cells.items():
        led.add((s, "anders"), small)
        led.add((s, "rest"), big)
        led.add((s, "N"), small + big, "headline")
        led.total((s, "N"), [(s, "anders"), (s, "rest")])
    led.add(("alle", "anders"), 24, "total")
    led.add(("alle", "rest"), 95, "total")
    led.add(("alle", "N"), 119, "headline")
    led.total(("alle", "N"), [("alle", "anders"), ("alle", "rest")])
    for lvl in ("anders", "rest", "N"):
        led.total(("alle", lvl), [(s, lvl) for s in cells])
    hidden = protect(led)
    assert not any(led.kinds[k] == "headline" for k in hidden)
    result = attack(published(led, hidden))
    assert result["protected"].dropna().all()


@pytest.mark.parametrize("seed", range(12))
def test_attack_agrees_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 9, size=(3, 3))
    led = table2d(values)
    checked = []
    for secondary in (False, True):
        hidden = protect(led, secondary=secondary)
        pub = published(led, hidden)
        got = attack(pub).set_index("key")
        for marks, low, high in ((True, "low", "high"), (False, "low_unmarked", "high_unmarked")):
            expected = brute_force(pub, marks=marks)
            if expected is None:
                continue  # too many assignments to enumerate
            checked.append(marks)
            for key, (lo, hi) in expected.items():
                assert (got.loc[[key], low].iloc[0], got.loc[[key], high].iloc[0]) == (lo, hi), (key, marks)
    assert checked  # at least one pattern of this table was enumerated


def test_x_of_five_made_of_two_small_cells():
    # [[10, 1], [2, 3]]: row 2 is 5 = 2 + 3, both "<5"; whatever is hidden, "x" >= 5 tells the
    # marked attacker that neither is 0 -- the rule asks 4 possible values (1-4), not 5.
    led = table2d([[10, 1], [2, 3]])
    hidden = protect(led)
    result = attack(published(led, hidden)).set_index("key")
    assert result["protected"].dropna().all()
    assert result.loc[[("c", 1, 0)], "low"].iloc[0] >= 0
    assert (result.loc[result["mark"] == "<5", "high_unmarked"] - result.loc[result["mark"] == "<5", "low_unmarked"] >= 5).all()


@pytest.mark.parametrize("seed", range(30))
def test_protect_always_protects(seed):
    rng = np.random.default_rng(100 + seed)
    shape = tuple(rng.integers(2, 6, size=2))
    values = rng.integers(0, 14, size=shape) * rng.integers(0, 2, size=shape) + rng.integers(0, 4, size=shape)
    led = table2d(values)
    hidden = protect(led)
    result = attack(published(led, hidden))
    small = result[result["mark"] == "<5"]
    assert small["protected"].all(), small
    # every "x" is a real count of 5 or more; every "<5" a count of 0-4
    for key, mark in hidden.items():
        assert (led.values[key] >= 5) == (mark == "x")
    # the attacker who ignores the marks never learns more than the one who uses them
    assert (result["low_unmarked"] <= result["low"]).all() and (result["high_unmarked"] >= result["high"]).all()


def test_without_secondary_suppression_the_attack_finds_cells():
    led = table2d([[2, 7, 9], [6, 1, 8], [10, 11, 3]])
    exposed = attack(published(led, protect(led, secondary=False)))
    assert (~exposed["protected"].astype(bool)).sum() == 3


def test_published_cells_are_kept():
    # a table already written: its visible cells are not chosen, its marks stay
    led = Ledger()
    for key, v in [("a", 2), ("b", 8)]:
        led.add(key, v)
    led.add("t", 10, "total")
    led.total("t", ["a", "b"])
    hidden = protect(led, published={"t": None})
    assert hidden == {"a": "<5", "b": "x"}


def test_same_count_two_values_is_an_error():
    led = Ledger()
    led.add("a", 3, where="t1")
    with pytest.raises(ValueError, match="same count"):
        led.add("a", 4, where="t2")


def test_relation_that_does_not_hold_is_an_error():
    led = Ledger()
    for key, v in [("a", 2), ("b", 8), ("t", 11)]:
        led.add(key, v)
    led.total("t", ["a", "b"])
    with pytest.raises(ValueError, match="does not hold"):
        protect(led)


def test_marks_merge_with_numbers_across_tables():
    # the attacker reads a count that one table hides from another that shows it
    led = Ledger()
    led.add("a", "<5", where="t1")
    led.add("a", 3, where="t2")
    assert led.values["a"] == 3
    assert disclosure.is_mark("<5") and disclosure.is_mark(" x ") and not disclosure.is_mark("12")
