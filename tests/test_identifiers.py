"""The identifier screen (analysis.privacy.screen) and the safe display of raw values
(analysis.problems.safe_value, the cleaning log, CSV formula escaping).

Every identifier below is made up. Expected answers are worked out by hand in the comments:
the 11-test of a BSN is 9·d1 + 8·d2 + ... + 2·d8 − 1·d9 ≡ 0 (mod 11); the IBAN check is ISO
13616 mod-97 (NL91ABNA0417164300 is the standard example, its check digits 91 are right).
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import privacy
from analysis.cleanlog import CleaningLog
from analysis.privacy import elfproef, iban_valid, number_kind, screen
from analysis.problems import Problems, safe_value
from analysis.results import write_result

# ---------------------------------------------------------------------------------------------
# the 11-test and the mod-97 check, by hand


@pytest.mark.parametrize("digits, ok", [
    ("111222333", True),   # 9+8+7 + 12+10+8 + 9+6 − 3 = 66 = 6·11
    ("123456782", True),   # 9+16+21+24+25+24+21+16 − 2 = 154 = 14·11
    ("012345672", True),   # 0+8+14+18+20+20+18+14 − 2 = 110 = 10·11
    ("111222334", False),  # 69 − 4 + 3 ... = 66 − 1 = 65: not a multiple of 11
    ("123456789", False),  # 156 − 9 = 147 = 13·11 + 4
    ("000000000", False),  # the sum is 0, but it is no number
    ("12345678", False),   # eight digits: not a BSN as written
])
def test_elfproef(digits, ok):
    assert elfproef(digits) is ok


@pytest.mark.parametrize("text, ok", [
    ("NL91ABNA0417164300", True), ("NL91 ABNA 0417 1643 00", True),
    ("GB82WEST12345698765432", True),     # the UK example of the IBAN registry
    ("NL92ABNA0417164300", False),        # check digits off by one
    ("NL91ABNA041716430", False),         # a Dutch IBAN has 18 characters
])
def test_iban_valid(text, ok):
    assert iban_valid(text) is ok


# ---------------------------------------------------------------------------------------------
# the screen: valid examples and near misses


@pytest.mark.parametrize("value, kind", [
    ("jan.jansen@gmail.com", "email"), ("bel me: jan.jansen@gmail.com", "email"),
    ("NL91ABNA0417164300", "iban"), ("rekening NL91 ABNA 0417 1643 00", "iban"),
    ("06-12345678", "phone"), ("0612345678", "phone"), ("+31 6 12345678", "phone"),
    ("0031612345678", "phone"), ("010-1234567", "phone"),
    (612345678, "phone"),          # 0612345678 read as a number: the 0 is lost
    (612345678.0, "phone"),        # ... and as a float by pandas or SPSS
    ("612345678.0", "phone"), ("6.12345678E8", "phone"), (31612345678, "phone"),  # +31 lost its +
    ("111222333", "bsn"), (111222333, "bsn"), ("1112.22.333", "bsn"),
    (12345672, "bsn"),             # BSN 012345672 read as a number
    ("1234 AB", "postcode"), ("1234AB", "postcode"),
    ("12-03-1958", "birth_date"), ("1958-03-12", "birth_date"), ("12 maart 1958", "birth_date"),
    (pd.Timestamp("1958-03-12"), "birth_date"), ("geboren op 12-03-1958", "birth_date"),
    ("Henk", "name"), ("Jan Bakker", "name"),
])
def test_screen_finds(value, kind):
    assert screen(value) == kind


@pytest.mark.parametrize("value", [
    "06-1234567",        # nine digits: too short for a Dutch phone number
    61234567,            # eight digits starting 6: not a mobile number without its 0
    6123456789,          # ten digits starting 6: no 0 lost
    "111222334",         # fails the 11-test
    "123456789",         # a count? fails the 11-test: not a BSN (safe_value still hides it)
    "NL92ABNA0417164300",  # wrong check digits
    "1234 SA",           # PostNL never issues SA
    "03-03-2025",        # a visit date of the study, not a birth date
    "1958",              # a bare year: the cleaning reads birth years typed as an age
    "18-24", "10:30", "0.0612345678", 12.5, 45, "vrouww", "weet niet", "Roos", None, float("nan"), True,
])
def test_screen_near_misses(value):
    assert screen(value) is None


def test_a_date_is_not_a_number():
    # 2024-03-18 without its dashes is 20240318, and 020240318 passes the 11-test
    # (0+16+0+14+24+0+9+2 − 8 = 57? no: 0·9+2·8+0·7+2·6+4·5+0·4+3·3+1·2 − 8 = 16+12+20+9+2−8 = 51;
    # the check here is only that a written date is never read as a number at all)
    assert number_kind("2024-03-18") is None and number_kind("18-03-2024") is None
    assert number_kind("20240318") is None  # 51 is not a multiple of 11: not a BSN either


# ---------------------------------------------------------------------------------------------
# safe_value: vocabulary and short safe values shown, the rest described


@pytest.mark.parametrize("value, shown", [
    ("vrouww", "'vrouww'"),                     # short, no identifier: the typo is shown
    ("Zeg ik liever niet", "'Zeg ik liever niet'"),  # in the codebook
    ("weet niet", "'weet niet'"), (98, "'98'"),  # missing codes
    ("03-03-2025", "'03-03-2025'"),
    ("06-12345678", "[11 tekens, lijkt op telefoonnummer]"),
    (612345678.0, "[9 cijfers, lijkt op telefoonnummer]"),
    ("111222333", "[9 cijfers, lijkt op BSN]"),
    ("123456789", "[9 cijfers]"),               # fails the screen, but nine digits are never shown
    ("12-03-1958", "[10 tekens, lijkt op geboortedatum]"),
    ("NL91ABNA0417164300", "[18 tekens, lijkt op IBAN]"),
    ("jan@voorbeeld.nl", "[16 tekens, lijkt op e-mailadres]"),
    ("1234 AB", "[7 tekens, lijkt op postcode]"),
    ("Henk", "[4 tekens, lijkt op naam]"),
    ("ik woon al dertig jaar in deze wijk", "[35 tekens]"),  # longer than 30: free text
])
def test_safe_value(value, shown):
    assert safe_value(value) == shown


def test_safe_value_vocabulary_of_the_variable():
    # a value outside the variable's own words is screened; inside, it is shown even if long
    long = "een label van precies meer dan dertig tekens"
    assert safe_value(long, vocabulary=[long]) == repr(long)
    assert safe_value(long, vocabulary=["man", "vrouw"]) == "[44 tekens]"


def test_problem_message_never_shows_the_identifier():
    p = Problems()
    value = safe_value("0612345678")
    p.add("DH_bereik.csv", f"unknown value {value}; allowed: Man, Vrouw", "correct it", row=9, column="Q3_GENDER",
          value=value)
    text = str(p.error()) + p.summary() + p.frame().to_csv()
    assert "12345678" not in text
    assert "row 9" in str(p.error()) and "lijkt op telefoonnummer" in text


def test_cleaning_log_old_and_new_are_safe():
    log = CleaningLog()
    log.add_many("DH.csv", [2, 3, 4, 5], "Q2_AGE", ["130", "0612345678", "12-03-1958", "weet niet"],
                 ["", "", "", ""], "age")
    log.add("DH.csv", 6, "Q3_GENDER", "VROUW", "vrouw", "harmonised")
    frame = log.frame()
    assert frame["old"].tolist() == ["130", "[10 cijfers, lijkt op telefoonnummer]",
                                     "[10 tekens, lijkt op geboortedatum]", "weet niet", "VROUW"]
    assert frame["new"].tolist() == ["", "", "", "", "vrouw"]


# ---------------------------------------------------------------------------------------------
# CSV formula injection


def test_write_result_escapes_formulas_but_not_numbers(tmp_path):
    frame = pd.DataFrame({"label": ["=1+1", "+SUM(A1)", "-cmd", "@x", "\tz", "gewoon", "<5"],
                          "value": [-1.5, -2, 0, 3, 4, 5, 6],
                          "text_number": ["-0,5", "+3", "-12", "12", "-1e3", "-1+2", "x"]})
    path = write_result(frame, "t", tmp_path)
    back = pd.read_csv(path, keep_default_na=False)
    assert back["label"].tolist() == ["'=1+1", "'+SUM(A1)", "'-cmd", "'@x", "'\tz", "gewoon", "<5"]
    assert back["value"].tolist() == [-1.5, -2, 0, 3, 4, 5, 6]   # numbers stay numbers
    assert back["text_number"].astype(str).tolist() == ["-0,5", "+3", "-12", "12", "-1e3", "'-1+2", "x"]
    assert frame["label"][0] == "=1+1"  # the caller's frame is not changed


def test_problems_csv_is_escaped(tmp_path):
    p = Problems()
    p.add("DH_bereik.csv", "formula", "", row=2, column="=HYPERLINK(\"x\")", value="")
    csv, _ = p.write(tmp_path)
    assert "'=HYPERLINK" in csv.read_text(encoding="utf-8")


def test_vocabulary_is_the_codebook():
    v = privacy.vocabulary()
    assert {"vrouw", "zeg ik liever niet", "weet niet", "98"} <= v
    assert "henk" not in v
