"""Disclosure control for published counts: primary and secondary suppression, and the attack.

STUDY.md section 9 says that no published count under ``min_cell`` (5) may be read directly or
recovered by arithmetic. Hiding the small cell itself (primary suppression) is not enough: a
row total minus the other cells gives it back, and so do the all-sites block minus the other
sites, a percentage beside a known total, or another table with the same margins. This module
holds the one rule for all published tables.

The model
---------
Every published count is a cell of one :class:`Ledger`, named by a key (a tuple such as
``("t1", "DH", "gender", "anders", "reached")``) that is the same in every table where the same
count appears, so a cell hidden in one table is hidden in all. The additive relations between
cells (a total is the sum of its parts; the all-sites cell the sum of the site cells; a
statistic that implies a count) are linear equations ``sum(coef * cell) == 0``. Each table's
module declares its cells and relations (``reach.ledger``, ``changes.ledger``...), from the
unsuppressed tables when it protects them and from the published tables when it attacks them.

The marks
---------
``"<5"``  a count of 0 to 4: a count of 1-4 (primary suppression), or a 0 in a relation that
          holds a hidden cell ("0" beside "<5" would give the others away).
``"x"``   a count of 5 or more, hidden so that a "<5" elsewhere cannot be recovered
          (secondary suppression; the mark Statistics Netherlands uses for "geheim").

The rule (what "protected" means)
---------------------------------
The attacker knows every published number and every relation, and that counts are
non-negative whole numbers. For each "<5" cell two attackers solve the integer programmes for
its minimum and maximum:

1. one who ignores the marks (only the published numbers, the relations and non-negativity):
   the interval must be at least ``min_cell`` wide (``high - low >= 5``): the cell cannot be
   narrowed to an interval shorter than the threshold, so the hidden cells around it hold at
   least five persons between them;
2. one who also uses the marks ("<5" is 0-4, "x" is 5 or more): the interval must still hold
   at least three values (``high - low >= 2``, :data:`MARKED_WIDTH`): whatever the attacker
   combines, it keeps three possible values, so no value of the cell is certain. (The whole
   range 0-4 cannot always be had: an "x" of 5 made of two "<5" cells tells that neither is 0;
   the pairs of a wave shared by several outcomes, each with a "<5" of missing answers, bound
   one another to a window of a few values.)

A "<5" is *protected* when both hold, or when the published numbers alone pin it to 0 (a site
without forms: every cell of it is 0, which names nobody). Cells marked "x" need no interval of
their own. This
follows the protection-interval idea of tau-ARGUS and sdcTable (the attacker's bounds must not
come closer to the true value than a protection level), with the level set by the threshold.

How cells are chosen (the heuristic)
------------------------------------
One exposed "<5" at a time, in a fixed order, as tau-ARGUS' and sdcTable's heuristic methods
do (protect, re-check with the attacker's problem, never undo). For an exposed cell a linear
programme finds the cheapest set of visible cells whose joint change lets the cell reach the
value the attacker must not rule out, while every relation still holds and every cell stays
within its mark (:func:`_cycle`; in a two-way table this is the cheapest rectangle). Those
cells are hidden. The cost of a cell is set by its kind (:data:`COST`): an "onbekend"/missing
cell is cheapest, then a total, then a substantive cell, and a headline count (the
respondents of a site, the pairs) costs so much that it is hidden only when nothing else
protects. When the programme finds nothing (whole numbers, or relations beyond its reach) the
best-ranked neighbour is hidden and the cell is checked again. Hiding a cell only widens every
attacker's interval, so cells protected earlier stay protected and the procedure ends. It is
not optimal (fewest cells hidden) like tau-ARGUS' OPT method, and each choice can be read back
in the ledger.

Why our own code: tau-ARGUS is a Java GUI with a batch mode and no PyPI package, sdcTable is R;
neither can be called from the pipeline. The attacker's problems are solved with scipy's
``milp`` (HiGHS); a ledger of a few hundred cells takes well under a second.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: The mark of a hidden count of 5 or more (secondary suppression).
SECONDARY = "x"
#: Kinds of cell, cheapest to hide first.
KINDS = ("unknown", "total", "cell", "headline")

Key = Hashable


def small_mark(min_cell: int) -> str:
    """The mark of a count under ``min_cell``: ``"<5"``."""
    return f"<{min_cell}"


def is_mark(value, min_cell: int = 5) -> bool:
    """Whether a published value is a suppression mark ("<5" or "x")."""
    return isinstance(value, str) and value.strip() in (small_mark(min_cell), SECONDARY)


@dataclass
class Ledger:
    """The published counts of one or more tables and the linear relations between them.

    A value is a whole number >= 0 (when protecting) or, for a published table, the number or
    its mark (when attacking). Adding the same key twice with different numbers is an error: the
    same count must be the same number everywhere it is published.
    """

    min_cell: int = 5
    values: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)
    relations: list = field(default_factory=list)

    def add(self, key: Key, value, kind: str = "cell", where: str | None = None) -> Key:
        """Record published count ``key`` (its value, kind and where it is shown)."""
        if kind not in KINDS:
            raise ValueError(f"Ledger.add: kind must be one of {KINDS}, not {kind!r}.")
        value = _clean_value(value, self.min_cell, key)
        if key in self.values:
            old = self.values[key]
            if old != value and not (is_mark(old, self.min_cell) or is_mark(value, self.min_cell)):
                raise ValueError(f"Ledger.add: count {key!r} is {old} in {self.where[key][0]} but "
                                 f"{value} in {where}; the same count must be the same number.")
            if is_mark(old, self.min_cell) and not is_mark(value, self.min_cell):
                self.values[key] = value
            if KINDS.index(kind) > KINDS.index(self.kinds[key]):
                self.kinds[key] = kind
            self.where[key].append(where or "")
        else:
            self.values[key] = value
            self.kinds[key] = kind
            self.where[key] = [where or ""]
        return key

    def total(self, total: Key, parts: Iterable[Key]) -> None:
        """Declare ``total == sum(parts)`` (all keys added before or after)."""
        parts = list(parts)
        if not parts:
            return
        terms: dict = {total: 1}
        for p in parts:
            terms[p] = terms.get(p, 0) - 1
        self.relation(terms)

    def relation(self, terms: Mapping[Key, float]) -> None:
        """Declare ``sum(coef * cell) == 0`` for ``terms`` = {key: coef}."""
        terms = {k: float(c) for k, c in terms.items() if c != 0}
        if len(terms) >= 2:
            self.relations.append(terms)

    def merge(self, other: Ledger) -> Ledger:
        """Add another ledger's cells and relations to this one (same key = same count)."""
        for key, value in other.values.items():
            for i, w in enumerate(other.where[key]):
                self.add(key, value, other.kinds[key] if i == 0 else "unknown", w)
        self.relations.extend(other.relations)
        return self

    def check(self) -> None:
        """Every key in a relation was added, and (with numbers) every relation holds."""
        for terms in self.relations:
            absent = [k for k in terms if k not in self.values]
            if absent:
                raise ValueError(f"Ledger: relation {terms!r} names cells never added: {absent!r}.")
            vals = [self.values[k] for k in terms]
            if all(not isinstance(v, str) for v in vals):
                s = sum(c * self.values[k] for k, c in terms.items())
                if abs(s) > 1e-6:
                    raise ValueError(f"Ledger: relation does not hold ({s:+g}): "
                                     + ", ".join(f"{c:+g}·{k!r}={self.values[k]}" for k, c in terms.items()))


def _clean_value(value, min_cell: int, key):
    if is_mark(value, min_cell):
        return value.strip()
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"Ledger: count {key!r} is {value!r}, neither a whole number nor a mark.") from None
    if not math.isfinite(f) or f < 0 or f != round(f):
        raise ValueError(f"Ledger: count {key!r} is {value!r}, not a whole number >= 0.")
    return int(round(f))


# ---------------------------------------------------------------------------------------------
# the attacker's problem
# ---------------------------------------------------------------------------------------------
class _Problem:
    """Index of a ledger's relations by cell, for the attacker's integer programmes."""

    def __init__(self, ledger: Ledger):
        ledger.check()
        self.ledger = ledger
        self.k = ledger.min_cell
        self.rel_of: dict = {}
        for i, terms in enumerate(ledger.relations):
            for key in terms:
                self.rel_of.setdefault(key, []).append(i)

    def component(self, key, hidden: Mapping) -> tuple[list, list[int]]:
        """The hidden cells linked to ``key`` through relations, and those relations."""
        seen, rels, todo = {key}, set(), [key]
        while todo:
            h = todo.pop()
            for r in self.rel_of.get(h, ()):
                if r in rels:
                    continue
                rels.add(r)
                for other in self.ledger.relations[r]:
                    if other in hidden and other not in seen:
                        seen.add(other)
                        todo.append(other)
        return sorted(seen, key=repr), sorted(rels)

    def interval(self, key, hidden: Mapping, *, marks: bool = True, integer: bool = True) -> tuple[float, float]:
        """The attacker's (min, max) of hidden cell ``key``; ``marks=False`` ignores the marks.

        ``integer=False`` solves the linear relaxation (rounded inwards), which is never narrower
        than the integer answer: :func:`protect` uses it to search and the integer one to confirm.
        """
        from scipy.optimize import Bounds, LinearConstraint, linprog, milp

        cells, rels = self.component(key, hidden)
        index = {c: i for i, c in enumerate(cells)}
        lo = np.zeros(len(cells))
        hi = np.full(len(cells), np.inf)
        if marks:
            for c, i in index.items():
                if hidden[c] == SECONDARY:
                    lo[i] = self.k
                else:
                    hi[i] = self.k - 1
        if not rels:
            return float(lo[index[key]]), float(hi[index[key]])
        a = np.zeros((len(rels), len(cells)))
        b = np.zeros(len(rels))
        for j, r in enumerate(rels):
            for c, coef in self.ledger.relations[r].items():
                if c in index:
                    a[j, index[c]] += coef
                else:
                    b[j] -= coef * self.ledger.values[c]
        out = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(cells))
            c[index[key]] = sign
            if integer:
                res = milp(c, constraints=LinearConstraint(a, b, b), bounds=Bounds(lo, hi),
                           integrality=np.ones(len(cells)))
            else:
                res = linprog(c, A_eq=a, b_eq=b, bounds=list(zip(lo, [None if not np.isfinite(h) else h for h in hi])),
                              method="highs")
            if res.status == 3 or (res.status != 0 and sign < 0 and not np.isfinite(hi[index[key]])
                                   and integer):
                out.append(np.inf)  # the maximum is unbounded (the minimum never is: cells >= 0)
                continue
            if res.status != 0:
                raise ValueError(f"disclosure: the published numbers around {key!r} contradict each "
                                 f"other ({res.message}); a relation of the ledger is wrong.")
            v = sign * res.fun
            out.append(float(math.ceil(v - 1e-7) if sign > 0 else math.floor(v + 1e-7)))
        return out[0], out[1]

    def protected(self, key, hidden: Mapping, *, integer: bool = True) -> bool:
        """Whether both attackers leave ``key`` wide enough (module docstring)."""
        if self.ledger.values[key] == 0 and self.interval(key, hidden, marks=False, integer=integer)[1] == 0:
            return True  # pinned to 0 by the numbers alone (a site without forms): names nobody
        for r in self.rel_of.get(key, ()):  # alone in a relation with visible cells: exact
            if all(c == key or c not in hidden for c in self.ledger.relations[r]):
                return False
        lo, hi = self.interval(key, hidden, integer=integer)
        if hi - lo < MARKED_WIDTH:
            return False
        lo, hi = self.interval(key, hidden, marks=False, integer=integer)
        return hi - lo >= self.k


#: How many values apart the marked attacker's minimum and maximum of a "<5" must stay.
MARKED_WIDTH = 2
#: What hiding a cell of each kind costs: the search for protecting cells minimises the sum.
COST = {"unknown": 1.0, "total": 2.0, "cell": 4.0, "headline": 100.0}
#: How many relations away from an exposed cell the search for protecting cells looks.
DEPTH = 6


def _hide_zeros(problem: _Problem, hidden: dict, fixed=frozenset()) -> None:
    """A 0 in a relation that holds a "<5" is shown as "<5" too (and is then a "<5" itself).

    Only beside a "<5": a 0 beside an "x" says nothing about a small cell, and hiding it would
    only start a cascade of new "<5" to protect.
    """
    values, mark = problem.ledger.values, small_mark(problem.k)
    todo = [h for h, m in hidden.items() if m != SECONDARY]
    while todo:
        h = todo.pop()
        for r in problem.rel_of.get(h, ()):
            for other in problem.ledger.relations[r]:
                if other not in hidden and other not in fixed and values[other] == 0:
                    hidden[other] = mark
                    todo.append(other)


def _cycle(problem: _Problem, key, hidden: Mapping, fixed, target: int, marks: bool) -> set:
    """The cheapest visible cells to hide so that a table with ``key == target`` fits everything
    published: an LP over changes ``y`` to the cells (the relations must still hold, every cell
    stays within what its mark allows, a visible cell that changes must be hidden), minimising
    the cost of the cells that change. This is the linear-programming heuristic for cell
    suppression (Kelly, Golden & Assad 1992; tau-ARGUS' hypercube and modular methods look for
    the same 'cycles' within subtables): in a two-way table it finds the cheapest rectangle."""
    from scipy.optimize import linprog

    led, k = problem.ledger, problem.k
    rels, seen, frontier = set(), {key}, {key}
    for _ in range(DEPTH):
        new = set()
        for c in frontier:
            for r in problem.rel_of.get(c, ()):
                if r not in rels:
                    rels.add(r)
                    new.update(o for o in led.relations[r] if o not in seen)
        seen |= new
        frontier = new
        if not new:
            break
    cells = sorted(seen, key=repr)
    index = {c: i for i, c in enumerate(cells)}
    n = len(cells)
    lb, ub, cost = np.zeros(n), np.zeros(n), np.zeros(n)
    for c, i in index.items():
        v = led.values[c]
        if c == key:
            lb[i] = ub[i] = target - v
        elif c in fixed or any(r not in rels for r in problem.rel_of.get(c, ())):
            continue  # published, or tied to relations outside the search: stays as it is
        elif c in hidden:
            cost[i] = 1e-3
            if not marks:
                lb[i], ub[i] = -v, np.inf
            elif hidden[c] == SECONDARY:
                lb[i], ub[i] = k - v, np.inf
            else:
                lb[i], ub[i] = -v, k - 1 - v
        else:
            cost[i] = COST[led.kinds[c]] * (1 + 1e-4 * v)
            if v == 0:
                lb[i], ub[i] = 0, (k - 1 if marks else np.inf)
            else:
                lb[i], ub[i] = (k - v if marks else -v), np.inf
    rel_list = sorted(rels)
    a = np.zeros((len(rel_list), n))
    for j, r in enumerate(rel_list):
        for c, coef in led.relations[r].items():
            a[j, index[c]] += coef
    up = [(max(lo, 0), max(hi, 0)) for lo, hi in zip(lb, ub)]
    down = [(max(-hi, 0), max(-lo, 0)) for lo, hi in zip(lb, ub)]
    bounds = [(lo, None if not np.isfinite(hi) else hi) for lo, hi in up + down]
    res = linprog(np.concatenate([cost, cost]), A_eq=np.hstack([a, -a]), b_eq=np.zeros(len(rel_list)),
                  bounds=bounds, method="highs")
    if res.status != 0:
        return set()
    y = res.x[:n] - res.x[n:]
    return {cells[i] for i in range(n) if abs(y[i]) > 1e-7 and cells[i] != key and cells[i] not in hidden}


def _targets(problem: _Problem, key, hidden, integer: bool) -> list[tuple[int, bool]]:
    """The values ``key`` must be able to take, and for which attacker, to be protected."""
    k, v = problem.k, problem.ledger.values[key]
    lo, hi = problem.interval(key, hidden, integer=integer)
    if hi - lo < MARKED_WIDTH:
        t_lo = min(max(v - 1, 0), k - 1 - MARKED_WIDTH)
        return [(t, True) for t in (t_lo, t_lo + MARKED_WIDTH) if t < lo or t > hi]
    lo, hi = problem.interval(key, hidden, marks=False, integer=integer)
    return [(int(lo) + k, False)] if hi - lo < k else []


def _candidates(problem: _Problem, key, hidden: Mapping, fixed=frozenset()) -> list:
    """Visible cells that could be hidden to protect ``key``, best first (the fallback search)."""
    led = problem.ledger
    rings = []
    first = {c for r in problem.rel_of.get(key, ()) for c in led.relations[r] if c not in hidden}
    rings.append(first)
    cells, rels = problem.component(key, hidden)
    second = {c for r in rels for c in led.relations[r] if c not in hidden} - first
    rings.append(second)
    order = []
    for ring in rings:
        ring = ring - set(fixed)
        order += sorted(ring, key=lambda c: (KINDS.index(led.kinds[c]) == KINDS.index("headline"),
                                              KINDS.index(led.kinds[c]), led.values[c], repr(c)))
    return order


class ProtectionError(ValueError):
    """A "<5" that no further hiding can protect; ``key`` names it."""

    def __init__(self, key, message: str):
        super().__init__(message)
        self.key = key


def protect(ledger: Ledger, *, secondary: bool = True, published: Mapping | None = None) -> dict:
    """The cells to hide and their marks: ``{key: "<5" | "x"}``.

    Primary suppression hides every count of 1 to ``min_cell - 1``. With ``secondary`` (the
    default; off only to show what the attack finds without it) zeros beside a "<5" are
    hidden too, and more cells are hidden until every "<5" is protected (module docstring).
    For each exposed "<5" the cheapest cells that let it move far enough are found by
    :func:`_cycle`; when that finds nothing (whole numbers, or relations beyond its reach) the
    best-ranked neighbour is hidden and the cell is checked again.

    ``published`` = {key: mark or None} names cells of tables already written (a notebook
    publishes its tables one by one): their marks are kept and the visible ones are never
    chosen, so a later table is protected by hiding its own cells only.

    Examples
    --------
    A row 2 + 8 = 10: the 2 alone would come back as 10 - 8, so the total is hidden too.

    >>> led = Ledger()
    >>> for key, v, kind in [("a", 2, "cell"), ("b", 8, "cell"), ("t", 10, "total")]:
    ...     _ = led.add(key, v, kind)
    >>> led.total("t", ["a", "b"])
    >>> protect(led)
    {'a': '<5', 't': 'x'}
    """
    k = ledger.min_cell
    for key, v in ledger.values.items():
        if isinstance(v, str):
            raise ValueError(f"protect: cell {key!r} is {v!r}; protect the unsuppressed numbers.")
    hidden = {key: small_mark(k) for key, v in ledger.values.items() if 1 <= v < k}
    fixed = set()
    for key, mark in (published or {}).items():
        if mark is None:
            fixed.add(key)
        else:
            hidden[key] = mark
    if not secondary:
        return hidden
    problem = _Problem(ledger)
    _hide_zeros(problem, hidden, fixed)
    queue = sorted((c for c, m in hidden.items() if m != SECONDARY), key=repr)
    done: set = set()

    def hide(cells) -> None:
        before = set(hidden)
        for c in cells:
            hidden[c] = SECONDARY if ledger.values[c] >= k else small_mark(k)
        _hide_zeros(problem, hidden, fixed)
        queue.extend(sorted((c for c in set(hidden) - before if hidden[c] != SECONDARY), key=repr))

    while queue:
        key = queue.pop(0)
        if key in done:
            continue
        integer = False
        while True:
            if problem.protected(key, hidden, integer=integer):
                if integer:
                    break
                integer = True  # the relaxation says protected: confirm with whole numbers
                continue
            support = set()
            for target, marks in _targets(problem, key, hidden, integer):
                support |= _cycle(problem, key, hidden, fixed, target, marks)
            if support:
                hide(support)
                continue
            options = _candidates(problem, key, hidden, fixed)
            if not options and ledger.values[key] == 0:
                break  # a 0 that everything around pins down (a site without forms) names nobody
            if not options:
                raise ProtectionError(key, f"protect: {key!r} cannot be protected: every cell around "
                                      "it is hidden and it is still exposed; check the ledger's relations.")
            hide([options[0]])
        done.add(key)
    # a hidden 0 that the published numbers alone pin to 0 is shown: the attacker knows it anyway
    for key in sorted((c for c, m in hidden.items() if m != SECONDARY and ledger.values[c] == 0), key=repr):
        if key not in fixed and problem.interval(key, hidden, marks=False)[1] == 0:
            del hidden[key]
    return hidden


def attack(ledger: Ledger) -> pd.DataFrame:
    """What an attacker learns about every hidden cell of a *published* ledger.

    Returns one row per hidden cell: ``key``, ``mark``, ``low``, ``high`` (the attacker's
    integer interval with the marks' meaning), ``low_unmarked``, ``high_unmarked`` (ignoring
    the marks: only non-negative whole numbers), ``protected`` (for a "<5": both intervals wide
    enough, module docstring, or known to be 0 from the unmarked numbers alone, which names nobody;
    empty for "x") and ``where`` (the tables that show it).
    """
    problem = _Problem(ledger)
    hidden = {key: v for key, v in ledger.values.items() if isinstance(v, str)}
    k = ledger.min_cell
    rows = []
    for key in sorted(hidden, key=repr):
        lo, hi = problem.interval(key, hidden)
        lo_u, hi_u = problem.interval(key, hidden, marks=False)
        small = hidden[key] != SECONDARY
        rows.append({"key": key, "mark": hidden[key], "low": lo, "high": hi,
                     "low_unmarked": lo_u, "high_unmarked": hi_u,
                     "protected": bool((hi - lo >= MARKED_WIDTH and hi_u - lo_u >= k) or hi_u == 0)
                     if small else None,
                     "where": "; ".join(dict.fromkeys(ledger.where[key]))})
    return pd.DataFrame(rows, columns=["key", "mark", "low", "high", "low_unmarked", "high_unmarked",
                                       "protected", "where"])
