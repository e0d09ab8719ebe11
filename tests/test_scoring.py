"""Scale scoring (analysis/scoring.py) against hand-scored forms.

Oracles: every expected score below is scored by hand from the rules in STUDY.md section 2 and
the De Jong Gierveld manual (section 8 SPSS syntax); the hand scoring is written next to each
form. The property tests compare with a deliberately naive row-by-row scorer written here from
the rule text (not from the vectorised code).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from analysis.scoring import djg_loneliness, positive_health, who5, zrm_domains

ITEMS = [f"djg{i}" for i in range(1, 7)]
J, M, N = "ja", "min of meer", "nee"
# Item kinds in questionnaire order: 1 E, 2 S, 3 S, 4 E, 5 S, 6 E.
# Emotional items score 1 for ja / min of meer; social items score 1 for nee / min of meer.


def djg(*forms, index=None):
    return djg_loneliness(pd.DataFrame(list(forms), columns=ITEMS, index=index), ITEMS)


def row(res, i=0):
    r = res.iloc[i]
    return (
        None if pd.isna(r.total) else int(r.total),
        None if pd.isna(r.emotional) else int(r.emotional),
        None if pd.isna(r.social) else int(r.social),
        None if pd.isna(r.band) else r.band,
        None if pd.isna(r.lonely) else bool(r.lonely),
    )


# --------------------------------------------------------------------------------------------
# De Jong Gierveld: complete forms
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "form, expected",
    [
        # all "ja": E items 1,4,6 -> 1+1+1 = 3; S items 2,3,5 ("ja" = enough people) -> 0; total 3
        ([J, J, J, J, J, J], (3, 3, 0, "matig eenzaam", True)),
        # all "nee": E -> 0; S -> 1+1+1 = 3; total 3
        ([N, N, N, N, N, N], (3, 0, 3, "matig eenzaam", True)),
        # all "min of meer": always 1 -> E 3, S 3, total 6
        ([M, M, M, M, M, M], (6, 3, 3, "sterk eenzaam", True)),
        # least lonely form: E items "nee" (0), S items "ja" (0) -> 0
        ([N, J, J, N, J, N], (0, 0, 0, "niet eenzaam", False)),
        # only item 1 "ja" (E, 1) -> total 1: still niet eenzaam, not lonely (boundary 1)
        ([J, J, J, N, J, N], (1, 1, 0, "niet eenzaam", False)),
        # item 1 "ja" (1) + item 2 "nee" (S, 1) -> 2: matig, lonely (boundary 2)
        ([J, N, J, N, J, N], (2, 1, 1, "matig eenzaam", True)),
        # E: 1 ja (1), 4 min of meer (1), 6 nee (0) = 2; S: 2 min of meer (1), 3 nee (1), 5 ja (0) = 2
        ([J, M, N, M, J, N], (4, 2, 2, "matig eenzaam", True)),  # boundary 4
        # E: 1 ja, 4 ja, 6 ja = 3; S: 2 nee (1), 3 ja (0), 5 min of meer (1) = 2 -> 5
        ([J, N, J, J, M, J], (5, 3, 2, "sterk eenzaam", True)),  # boundary 5
    ],
)
def test_djg_hand_scored_complete_forms(form, expected):
    assert row(djg(form)) == expected


# --------------------------------------------------------------------------------------------
# De Jong Gierveld: every missing-item case
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", range(1, 7))
def test_djg_one_missing_item_counts_over_five_without_prorating(k):
    # All "min of meer" (each answered item scores 1) with item k missing:
    # total = count over the five answered = 5 (prorating would give 6); the subscale that holds
    # item k is missing, the other one is 3 (its three items answered, each 1).
    form = [M] * 6
    form[k - 1] = None
    emotional_missing = k in (1, 4, 6)
    expected = (5, None if emotional_missing else 3, 3 if emotional_missing else None, "sterk eenzaam", True)
    assert row(djg(form)) == expected


def test_djg_one_missing_item_no_prorating_with_low_score():
    # Item 1 missing; item 2 "nee" (S, 1); items 3, 5 "ja" (S, 0); items 4, 6 "nee" (E, 0).
    # total = 1 over five items (a prorated score would be 1 * 6/5 = 1.2); emotional missing
    # (item 1 missing); social = 1 + 0 + 0 = 1.
    assert row(djg([None, N, J, N, J, N])) == (1, None, 1, "niet eenzaam", False)


def test_djg_one_missing_item_total_not_sum_of_subscales():
    # Item 5 missing (S). E: 1 ja, 4 ja, 6 min of meer = 3; S: 2 nee (1), 3 nee (1) -> social missing.
    # total over the five answered = 3 + 2 = 5 -> sterk eenzaam.
    assert row(djg([J, N, N, J, None, M])) == (5, 3, None, "sterk eenzaam", True)


@pytest.mark.parametrize(
    "missing, emotional, social",
    [
        ((1, 4), None, 3),  # two emotional items missing: E missing, S = 3, total missing
        ((2, 5), 3, None),  # two social items missing
        ((1, 2), None, None),  # one of each: both subscales missing
        ((3, 6), None, None),
    ],
)
def test_djg_two_missing_items_total_missing(missing, emotional, social):
    # All "min of meer" except the two missing items: more than one item missing -> total,
    # band and lonely missing (manual: if (mlones > 1) lones = -1).
    form = [M] * 6
    for k in missing:
        form[k - 1] = None
    assert row(djg(form)) == (None, emotional, social, None, None)


def test_djg_all_missing_and_missing_markers():
    # None, NaN and pd.NA all count as missing; a fully missing form scores nothing.
    res = djg([None] * 6, [np.nan] * 6, [pd.NA] * 6)
    for i in range(3):
        assert row(res, i) == (None, None, None, None, None)


def test_djg_dtypes_index_and_no_mutation():
    forms = pd.DataFrame([[J, N, M, N, J, None], [N, J, J, N, J, N]], columns=ITEMS, index=["p7", "p3"])
    before = forms.copy()
    res = djg_loneliness(forms, ITEMS)
    pd.testing.assert_frame_equal(forms, before)  # input not modified
    assert list(res.index) == ["p7", "p3"]
    assert list(res.columns) == ["total", "emotional", "social", "band", "lonely"]
    assert str(res.total.dtype) == "Int64" and str(res.lonely.dtype) == "boolean"
    assert list(res.band.cat.categories) == ["niet eenzaam", "matig eenzaam", "sterk eenzaam"]
    assert res.band.cat.ordered


def test_djg_items_are_positional():
    # The same answers in another column order score differently: the order of `items` is
    # the questionnaire order. Reversed: [N, J, N, M, N, J] read as items 1..6:
    # E: 1 nee 0, 4 min of meer 1, 6 ja 1 = 2; S: 2 ja 0, 3 nee 1, 5 nee 1 = 2 -> total 4.
    forms = pd.DataFrame([[J, N, M, N, J, N]], columns=ITEMS)
    assert int(djg_loneliness(forms, ITEMS[::-1]).total.iloc[0]) == 4
    # Original order: E: 1 ja 1, 4 nee 0, 6 nee 0 = 1; S: 2 nee 1, 3 min of meer 1, 5 ja 0 = 2 -> 3.
    assert int(djg_loneliness(forms, ITEMS).total.iloc[0]) == 3


@pytest.mark.parametrize("bad", ["Ja", "ja ", "min-of-meer", "misschien", 1, "weet niet"])
def test_djg_unknown_answer_raises_with_column_and_value(bad):
    form = [J, N, M, N, J, N]
    form[3] = bad
    shown = repr(bad) if isinstance(bad, str) else str(bad)
    with pytest.raises(ValueError, match=re.escape(f"column 'djg4' has answer {shown} (row 0)")):
        djg(form)


def test_djg_argument_errors():
    forms = pd.DataFrame([[J] * 6], columns=ITEMS)
    with pytest.raises(ValueError, match="expected 6 item columns"):
        djg_loneliness(forms, ITEMS[:5])
    with pytest.raises(ValueError, match=r"not in the data"):
        djg_loneliness(forms, ITEMS[:5] + ["djg7"])
    with pytest.raises(ValueError, match="DataFrame"):
        djg_loneliness(forms.to_numpy(), ITEMS)
    with pytest.raises(ValueError, match="distinct"):
        djg_loneliness(forms, ITEMS[:5] + ["djg1"])


# --------------------------------------------------------------------------------------------
# De Jong Gierveld: property test against a naive scorer written from the rule text
# --------------------------------------------------------------------------------------------
def naive_djg(answers):
    """Row-by-row scorer from STUDY.md section 2 (independent of the vectorised code)."""
    item_scores = []
    for position, a in enumerate(answers, start=1):
        if a is None:
            item_scores.append(None)
        elif position in (1, 4, 6):
            item_scores.append(1 if a in ("ja", "min of meer") else 0)
        else:
            item_scores.append(1 if a in ("nee", "min of meer") else 0)
    missing = sum(s is None for s in item_scores)
    total = None if missing > 1 else sum(s for s in item_scores if s is not None)
    emo = [item_scores[i - 1] for i in (1, 4, 6)]
    soc = [item_scores[i - 1] for i in (2, 3, 5)]
    emotional = None if None in emo else sum(emo)
    social = None if None in soc else sum(soc)
    if total is None:
        band = lonely = None
    else:
        band = "niet eenzaam" if total <= 1 else ("matig eenzaam" if total <= 4 else "sterk eenzaam")
        lonely = total >= 2
    return (total, emotional, social, band, lonely)


answer = hs.sampled_from([J, M, N, None])


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.lists(answer, min_size=6, max_size=6), min_size=1, max_size=20))
def test_djg_property_ranges_and_rules(forms):
    res = djg(*forms)
    for i, form in enumerate(forms):
        got = row(res, i)
        assert got == naive_djg(form)
        total, emotional, social, _, _ = got
        assert total is None or 0 <= total <= 6
        assert emotional is None or 0 <= emotional <= 3
        assert social is None or 0 <= social <= 3
        if None not in form:
            assert total == emotional + social


# --------------------------------------------------------------------------------------------
# WHO-5
# --------------------------------------------------------------------------------------------
W = ["w1", "w2", "w3", "w4", "w5"]


def who(*forms):
    return who5(pd.DataFrame(list(forms), columns=W), W)


@pytest.mark.parametrize(
    "items, raw, score, poor, depression",
    [
        ([5, 4, 4, 3, 4], 20, 80, False, False),  # 5+4+4+3+4 = 20; x4 = 80
        ([3, 3, 2, 2, 2], 12, 48, True, False),  # 12 x 4 = 48 < 50: poor; > 28: not depression
        ([3, 3, 3, 2, 2], 13, 52, False, False),  # 13 x 4 = 52 >= 50
        ([2, 2, 1, 1, 1], 7, 28, True, True),  # 7 x 4 = 28 <= 28: likely depression (boundary)
        ([2, 2, 2, 1, 1], 8, 32, True, False),  # 8 x 4 = 32 > 28
        ([0, 0, 0, 0, 0], 0, 0, True, True),
        ([5, 5, 5, 5, 5], 25, 100, False, False),
    ],
)
def test_who5_hand_scored(items, raw, score, poor, depression):
    r = who(items).iloc[0]
    assert (int(r.raw), int(r.score), bool(r.poor_wellbeing), bool(r.likely_depression)) == (raw, score, poor, depression)


@pytest.mark.parametrize("k", range(5))
def test_who5_any_missing_item_gives_missing_score(k):
    items = [4, 4, 4, 4, 4]
    items[k] = None
    r = who(items).iloc[0]
    assert pd.isna(r.raw) and pd.isna(r.score) and pd.isna(r.poor_wellbeing) and pd.isna(r.likely_depression)


@pytest.mark.parametrize("bad", [6, -1, 2.5, "vaak", True])
def test_who5_out_of_range_raises(bad):
    with pytest.raises(ValueError, match=r"WHO-5: column 'w3' has value"):
        who([1, 2, bad, 3, 4])


def test_who5_no_mutation_and_float_items():
    df = pd.DataFrame([[1.0, 2.0, 3.0, 4.0, 5.0]], columns=W)
    before = df.copy()
    assert int(who5(df, W).score.iloc[0]) == 60  # 15 x 4
    pd.testing.assert_frame_equal(df, before)


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.lists(hs.one_of(hs.integers(0, 5), hs.none()), min_size=5, max_size=5), min_size=1, max_size=20))
def test_who5_property_range(forms):
    res = who(*forms)
    for i, form in enumerate(forms):
        r = res.iloc[i]
        if None in form:
            assert pd.isna(r.score)
        else:
            assert 0 <= int(r.score) <= 100 and int(r.score) % 4 == 0
            assert int(r.score) == 4 * sum(form)


# --------------------------------------------------------------------------------------------
# Positieve Gezondheid and ZRM
# --------------------------------------------------------------------------------------------
PG = [f"pg{i}" for i in range(1, 7)]


def test_positive_health_hand_scored_and_missing_rule():
    df = pd.DataFrame([[6, 7, 8, 5, 6, 4], [10, 10, 10, 10, 10, 10], [0, 0, 0, 0, 0, 0], [6, 7, None, 5, 6, 4]], columns=PG)
    res = positive_health(df, PG)
    # (6+7+8+5+6+4)/6 = 36/6 = 6.0; all 10 -> 10; all 0 -> 0; one missing -> NaN (mean only
    # when all six are answered)
    assert res["mean"].iloc[:3].tolist() == [6.0, 10.0, 0.0]
    assert np.isnan(res["mean"].iloc[3])
    assert res["n_answered"].tolist() == [6, 6, 6, 5]


@pytest.mark.parametrize("bad", [11, -1, 7.5, "goed"])
def test_positive_health_out_of_range(bad):
    df = pd.DataFrame([[6, 7, 8, 5, 6, bad]], columns=PG)
    with pytest.raises(ValueError, match="column 'pg6'"):
        positive_health(df, PG)


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.lists(hs.one_of(hs.integers(0, 10), hs.none()), min_size=6, max_size=6), min_size=1, max_size=10))
def test_positive_health_property_range(forms):
    res = positive_health(pd.DataFrame(forms, columns=PG), PG)
    for i, form in enumerate(forms):
        m = res["mean"].iloc[i]
        assert (np.isnan(m) and None in form) or (0 <= m <= 10 and None not in form)


def test_zrm_valid_and_missing():
    df = pd.DataFrame({"fin": [1, 5, None, 3.0], "soc": [2, 3, 4, 5]})
    res = zrm_domains(df, ["fin", "soc"])
    assert res["fin"].tolist()[:2] == [1, 5] and pd.isna(res["fin"].iloc[2]) and res["fin"].iloc[3] == 3
    assert str(res["fin"].dtype) == "Int64"
    assert list(res.columns) == ["fin", "soc"]  # no total


@pytest.mark.parametrize("bad", [0, 6, 2.5, "hoog"])
def test_zrm_out_of_range(bad):
    with pytest.raises(ValueError, match=r"Zelfredzaamheid-Matrix: column 'soc' has value"):
        zrm_domains(pd.DataFrame({"fin": [1], "soc": [bad]}), ["fin", "soc"])
