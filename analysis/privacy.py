"""``python -m analysis check-privacy``: look for personal data where it must never be.

STUDY.md section 9: direct identifiers and free text never reach ``data/processed/`` or the
report, published tables suppress cells under 5, and real data never enter git. This module is
the check that says whether that held. It scans

1. the processed-data directory (every ``.parquet`` and ``.csv``, recursively, ``results/``
   included) and the output directory (the executed notebooks ``notebooks/*.ipynb``: the text of
   every cell output; ``report.html`` without its tags, scripts and styles; ``report.pdf`` as
   text, extracted with pypdf) for direct identifiers: person names, Dutch phone numbers,
   e-mail addresses, BSNs, IBANs, full postcodes (finer than PC4), dates of birth, free-text
   columns, and (in the publishable tables ``<out>/results/**.csv`` and in the tables the
   executed notebooks show) counts of 1-4 that were not suppressed to ``"<5"``; and it runs the
   disclosure attack on ``<out>/results/`` (:mod:`analysis.attack`);
2. the git index of the repository: tracked files under ``data/raw/`` must be the synthetic
   files listed, with their sha256, in ``data/raw/MANIFEST.sha256``; data files (``.sav``,
   ``.xlsx``, ``.parquet``, ``.csv``, ...) tracked anywhere else than ``data/raw``,
   ``data/reference`` and ``tests/fixtures`` are reported; and the other tracked files under
   ``data/`` are scanned for the identifiers of point 1; notebooks must be tracked without
   outputs. The synthetic raw files are *not*
   scanned for identifiers: the generator plants names and phone numbers in their free-text
   fields on purpose, so that the cleaning can be tested.

A finding names the file and the place (table column and row, notebook cell and line, report
line or page) and describes what was found, but never prints the identifying value: it shows
the first two characters and an ellipsis (:func:`mask`). Rows are 0-based positions as in
``df.iloc[row]``; cells, outputs, lines and pages count from 1, as editors show them.

The rules, and why they are as they are
---------------------------------------
The report and the notebooks are full of Dutch prose, category labels ("vrouw", "man",
"Nederland") and formatted numbers ("12 (34,5%)", "<5"); a check that cries wolf on them is a
check nobody runs. So each rule is narrow, and each is tested on clean examples as well as on a
planted leak (``tests/test_privacy.py``).

*Names* come from ``analysis/privacy_names.txt`` (frequent Dutch given names and surnames,
and names of Moroccan, Turkish and Surinamese origin common in Dutch cities; its header says
where they come from). Names are matched case-sensitively as whole words, so the ordinary words
"bakker" or "roos" never match; a capitalised word is a name only in one of these contexts:

- a given name followed by a capitalised surname-like word, optionally after an initial and a
  tussenvoegsel ("Jan Bakker", "Fatima El Idrissi", "Sem van Beek"), unless that word is a
  capitalised word of the codebook or study settings (a place or label: "Frans Nederland");
- a listed surname with its tussenvoegsel ("van den Berg", "De Vries"); "De Jong Gierveld"
  (the loneliness scale) is allowed;
- a name after a title or relation word ("mevrouw Visser", "dhr. Kok", "buurvrouw Fatima") or
  a surname after initials ("J.P. Bakker");
- a listed surname in the middle of a sentence (after a lower-case word or a comma), where
  Dutch writes capitals only for names;
- in a cell of a data table (or an HTML table cell) that is not a code column, a listed given
  name or surname anywhere as a whole word. A code column is a coded or identifier variable
  of the codebook, or a column whose values all look like codes ("vrouw", "buiten_europa",
  "DH").

Names that are also ordinary words or place names (the ``[first-word]`` and
``[surname-word]`` sections of the names file: Roos, Mark, Ben, Wil, Frans, Maas, Post,
Bos...) are matched only in the first and third contexts. In ``report.html`` and
``report.pdf`` the authors in the repository's ``*.bib`` files are allowed in the forms a
bibliography prints them ("Marja Van Vliet", "Dekker, J.", "Huber et al."), because the
rendered reference list names them.

*Phone numbers*: Dutch numbers in the usual notations, mobile and landline: ``06-12345678``,
``06 1234 5678``, ``+31 6 12345678``, ``0031 6 ...``, ``010-1234567``, ``(0412) 12 34 56``. The
area code must be written in one piece and the rest in groups of at least two digits, and the
number must have exactly ten digits (nine after +31) and not start like a date, so that dates,
times ("06-05-2024 10:30") and rows of counts in a printed table do not match.

*BSN*: nine digits (``123456782``, ``1234.56.782``, ``123 456 782``) that pass the 11-test
(:func:`elfproef`); in a table also eight digits that pass it once the leading 0 lost to number
parsing is put back. A nine-digit count that fails the test ("123456789") is not a BSN.

*IBAN*: two letters, two check digits and 11-30 letters or digits (spaces allowed) whose ISO
13616 mod-97 check holds (:func:`iban_valid`); the digits of any IBAN-shaped string are never
also read as a phone number.

*Numbers that lost their 0* (every column of a table, numeric ones included): a whole cell
that is a phone number or a BSN once number parsing is undone: ``612345678``, ``612345678.0``,
``6.12345678E8`` (a mobile number without its 0), ``31612345678``, ``12345672``
(:func:`number_kind`).

*E-mail addresses*: ``local@domain.tld``, in any column (code columns too); addresses at the domains reserved for examples
(example.com/.org/.net, .example, .invalid, .test; RFC 2606) are allowed.

*Postcodes finer than PC4*: four digits (not starting with 0), an optional space and two capital
letters ("1234 AB", "1234AB"), not SA, SD or SS (never used by PostNL) nor KB, MB, GB or TB
("1000 MB"), not part of a longer word, number or colour code ("#1234AB"). PC4 alone is
allowed (the reach table holds it by design).

*Dates of birth*: a column whose name suggests birth (``geboortedatum``, ``geboortejaar``,
``birth_date``, ``date_of_birth``, ``dob``, ...), reported whatever its values; in text
"geboren (op) <date>", "geb. <date>", "geboortedatum: <date>", "date of birth: <date>"; in a
date column (a datetime type, or a name with the token ``date``, ``datum``, ``dag``... or ending
in ``datum``) a date from :data:`BIRTH_DATE_FROM` up to before :data:`BIRTH_DATE_BEFORE`: the
study's visits and interviews are later, so an earlier date can only be a birth date (or an
error worth a look); and in an age column (``age``, ``age_group``, ``leeftijd``...) any date.
Bare dates in prose are not reported: the report cites years and dates of publications.

*Free text*: a column named as a free-text variable of ``analysis/codebook.yaml``
(``free_text: true`` or ``type: text``: the variable name, its Dutch and English labels and
the raw columns the sources map to it); or a string column that looks like sentences people
typed: at least :data:`FREE_TEXT_MIN_DISTINCT` distinct non-empty values and at least
:data:`FREE_TEXT_MIN_DISTINCT_SHARE` of the values distinct, a median length over
:data:`FREE_TEXT_MIN_MEDIAN_LENGTH` characters and of at least
:data:`FREE_TEXT_MIN_MEDIAN_WORDS` words, at least 80% of values with a space, at least 60% of
the characters letters, at most 20% of values with characters of code or formulas
(``_ ~ | = { } [ ] \\``), and fewer than half of the distinct values a label of the codebook or
study settings (or such a label with a short prefix or suffix: the label is at least 60% of the
value). Code columns repeat a few short values, formatted numbers ("12 (34,5%)") are short and
mostly digits, a log's rule descriptions repeat, and the labels in results tables come from the
codebook, so none of them match; typed answers do, even when many people typed the same thing
(the synthetic interview segments: 95 distinct in 299). Columns that document a table
(:data:`DOCUMENTATION_COLUMNS`: ``label``, ``description``, ``source``...) are exempt from this
heuristic, not from the identifier rules.

*Small cells* (only ``<out>/results/**.csv``, the publishable tables; unsuppressed tables live in
``<out>/internal/`` and are not checked for this): a count column (named ``n``, ``k``,
``count``, or starting with ``n_`` or ending in ``_n``) holding a whole number from 1 to 4,
alone or as the count of an "n (%)" cell ("3 (12,5%)"). Counts of things that are not people
are listed in :data:`COUNT_ALLOW` (``n_resamples``, ``n_clusters``, ``n_sites``...).

*Small cells shown by notebooks*: the tables an executed notebook shows (its HTML table, or a
DataFrame printed as text when there is no HTML) follow the rule of the publishable tables:
a count column holding 1-4 is a finding. The notebooks are published beside the report, so
they show the suppressed frames; the unsuppressed ones stay in ``<out>/internal/``.

*The disclosure attack* (when ``<out>/results/`` exists): :func:`analysis.attack.attack_outputs`
solves every suppressed cell from everything published; a "<5" whose interval is too narrow
(``protected`` False) is a ``recoverable_cell`` finding. An attack that cannot run is an
``unreadable`` finding, never a silent pass.

*Git*: ``notebook_outputs`` (a notebook in the git index saved with outputs: one finding per
notebook), ``raw_not_in_manifest`` (a tracked file under ``data/raw/`` that the manifest does not
list, or any tracked raw file when there is no manifest), ``raw_hash_mismatch`` (listed, but
the content in the git index has another sha256), ``data_file_tracked`` (a data file outside
the synthetic set). The index, not the working tree, is hashed: it is what a commit contains.
The manifest is read from the index when it is tracked, else from the working tree.

Examples
--------
>>> find_identifiers("Bel mijn buurvrouw Fatima op 06-12345678 of fatima@voorbeeld.nl.")
[('name', 'Fa…'), ('phone', '06…'), ('email', 'fa…')]
>>> find_identifiers("De Jong Gierveld-schaal: 12 (34,5%) van de vrouwen in Oss, <5 mannen.")
[]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import yaml

from analysis import config

__all__ = [
    "Finding",
    "KINDS",
    "COUNT_ALLOW",
    "DOCUMENTATION_COLUMNS",
    "mask",
    "find_identifiers",
    "screen",
    "number_kind",
    "elfproef",
    "iban_valid",
    "could_be_birth_date",
    "vocabulary",
    "scan",
    "cli",
]

#: Every kind of finding, with what it means.
KINDS = {
    "name": "a person's name",
    "phone": "a Dutch phone number",
    "email": "an e-mail address",
    "postcode": "a full postcode (finer than PC4)",
    "bsn": "a BSN (nine digits that pass the 11-test)",
    "iban": "a bank account number (IBAN, mod-97 check)",
    "birth_date": "a date of birth",
    "free_text": "a free-text column",
    "small_cell": "a count of 1-4 in a publishable table, not suppressed to '<5'",
    "raw_not_in_manifest": "a file tracked under data/raw/ that MANIFEST.sha256 does not list",
    "raw_hash_mismatch": "a file tracked under data/raw/ whose content differs from MANIFEST.sha256",
    "data_file_tracked": "data file tracked outside the synthetic set",
    "notebook_outputs": "a notebook tracked in git with its outputs (they can hold data)",
    "recoverable_cell": "a '<5' cell that the published tables let an attacker recover or narrow",
    "unreadable": "a file that could not be read, so it was not checked",
}

#: Count columns that do not count people, so a value under 5 names nobody.
COUNT_ALLOW = frozenset({
    "n_resamples", "n_boot", "n_boot_failed", "n_bootstrap", "n_permutations", "n_iter", "n_iterations",
    "n_clusters", "n_sites", "n_items", "n_terms", "n_tests", "n_outcomes", "n_waves",
    "n_params", "n_codes", "n_categories", "n_levels", "n_groups",
})

#: Columns that document a table rather than hold answers; exempt from the free-text heuristic.
#: Columns of the results that carry analysis settings (the bootstrap seed 20261123 passes the
#: 11-test as a BSN whose leading 0 was lost): their numbers are not read as phone numbers or BSNs.
SETTINGS_COLUMNS = frozenset({"seed", "n_resamples", "n_boot", "bootstrap_resamples", "year"})
DOCUMENTATION_COLUMNS = frozenset({
    "label", "label_nl", "label_en", "nl", "en", "description", "beschrijving", "omschrijving",
    "caption", "source", "bron", "rule", "test", "method", "methode", "assumption", "aanname",
    "model", "formula", "formule", "term",
})

FREE_TEXT_MIN_DISTINCT = 10
FREE_TEXT_MIN_DISTINCT_SHARE = 0.25
FREE_TEXT_MIN_MEDIAN_LENGTH = 25
FREE_TEXT_MIN_MEDIAN_WORDS = 4

#: Data-file extensions that must not be tracked outside the synthetic set.
DATA_SUFFIXES = frozenset({
    ".sav", ".zsav", ".por", ".xlsx", ".xlsm", ".xls", ".ods", ".parquet", ".csv", ".tsv",
    ".dta", ".sas7bdat", ".rds", ".rdata", ".feather",
})
#: Where tracked data files may live (synthetic raw files are checked against the manifest).
DATA_ALLOWED_DIRS = ("data/raw/", "data/reference/", "tests/fixtures/")
RAW_DIR = "data/raw/"
MANIFEST = "data/raw/MANIFEST.sha256"
RAW_EXEMPT = frozenset({"data/raw/README.md", MANIFEST})

NAMES_FILE = config.PACKAGE_DIR / "privacy_names.txt"

# --------------------------------------------------------------------------------------------
# Findings


@dataclass(frozen=True)
class Finding:
    """One violation: what (``kind``, a key of :data:`KINDS`), where, and a description.

    ``detail`` never holds an identifying value in full (see :func:`mask`).
    """

    kind: str
    path: str
    location: str
    detail: str

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"[{self.kind}] {self.path}{where}: {self.detail}"


def mask(value: str) -> str:
    """The first two characters of ``value`` and an ellipsis (one for values of 3 or fewer).

    Enough to find the value in the file, too little to identify anyone from the report.

    >>> mask("06-12345678"), mask("Henk"), mask("Ali")
    ('06…', 'He…', 'A…')
    """
    value = str(value).strip()
    keep = 1 if len(value) <= 3 else 2
    return value[:keep] + "…"


# --------------------------------------------------------------------------------------------
# Patterns

_UP = "A-ZÀ-ÖØ-ÞĞİŞ"
_LOW = "a-zß-öø-ÿğış"
_CAPWORD = rf"[{_UP}][{_LOW}'’]+(?:-[{_UP}]?[{_LOW}'’]+)*"
_SEP = r"(?:[ \t\u00a0]+|[ \t\u00a0]*\n[ \t\u00a0]*)"  # spaces, or one line break (PDF wraps)
_INITIALS = rf"(?:[A-Z]\.{_SEP}?){{1,3}}"
_TUSSEN = (
    rf"(?:(?:[vV]an{_SEP}(?:de[nr]?{_SEP}|het{_SEP}|'t{_SEP})?)|(?:[dD]e[nr]?{_SEP})"
    rf"|(?:[tT]e[rn]?{_SEP})|(?:[iI]n{_SEP}(?:'t|de){_SEP})|(?:[oO]p{_SEP}den?{_SEP}))?"
)
_TITLES = (
    r"(?i:\b(?:meneer|mevrouw|mevr\.|mw\.|dhr\.|de\s+heer|familie|fam\.|juf|buurvrouw"
    r"|buurman|dokter|dr\.|mr\.|mrs\.|ms\.))"
)
_TITLE_PREFIX = re.compile(rf"^{_TITLES}{_SEP}")
_ALLOWED_PHRASES = re.compile(r"\b[Dd]e[\s\-]+Jong[\s\-]+Gierveld\b")  # also broken over lines (PDF text)

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?!\w)")
_EMAIL_EXAMPLE = re.compile(r"(?i)@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|[\w-]+\.(?:example|invalid|test))$")
# area code in one piece, then groups of >= 2 digits; digit count checked by _valid_phone
_PHONE = re.compile(
    r"(?<![\w+\-/.,])(?:(?:\+|00)31[ \-]?(?:\(0\)[ \-]?)?[1-9]\d{0,2}|\(0[1-9]\d{0,2}\)|0[1-9]\d{0,2})"
    r"(?:[ \u00a0]?-?[ \u00a0]?\d{2,})+(?!\w|[.,:]\d)"
)
_POSTCODE = re.compile(r"(?<![\w#.,/\-])[1-9]\d{3} ?(?!S[ADS]|[KMGT]B)[A-Z]{2}(?!\w)")
_DATE = r"(?:\d{1,2}[-/. ]\d{1,2}[-/. ]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2} [a-z]+ \d{4})"
_BIRTH_TEXT = re.compile(
    rf"(?i:\b(?:geboren(?:\s+op)?|geb\.|geboortedatum|date\s+of\s+birth|born(?:\s+on)?|dob))\s*:?\s*{_DATE}"
)
_BIRTH_COLUMN = re.compile(r"(?i)geboorte|geb_?dat|gebdat|birth|(?:^|_)dob(?:$|_)|(?:^|_)geb_?jaar")
_CODE_VALUE = re.compile(r"^(?:[a-z0-9_]+|[A-Z0-9_]{1,4})$")
_DATE_START = re.compile(r"\d{1,2}([-/.])\d{1,2}\1\d{2,4}")
_SMALL_COUNT = re.compile(r"^\s*[1-4](?:\.0*)?(?:\s*\(.*\))?\s*$")
_CODE_CHARS = re.compile(r"[_~|={}\[\]\\]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _trie_regex(words: Iterable[str]) -> str:
    """One regex for many literal words, as a trie; Python's ``re`` tries every branch of a
    flat alternation at every position, a trie only the branches that fit the next letter."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alts, optional = [], False
        for ch in sorted(node):
            if ch == "":
                optional = True
                continue
            alts.append((_SEP if ch == " " else re.escape(ch)) + build(node[ch]))
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if optional else body

    return build(trie)


def _read_names(path: Path) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"first": [], "first-word": [], "surname": [], "surname-word": []}
    current = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if current not in sections:
                raise ValueError(
                    f"{path}, line {number}: unknown section [{current}]; use one of "
                    + ", ".join(f"[{s}]" for s in sections)
                )
            continue
        if current is None:
            raise ValueError(f"{path}, line {number}: a name before the first [section] line.")
        sections[current].append(line)
    return sections


def _variants(name: str) -> list[str]:
    """A surname as written in running text and at the start of a sentence or list."""
    return sorted({name, name[:1].upper() + name[1:]})


@dataclass(frozen=True)
class _NamePatterns:
    text: re.Pattern  # rules that hold in prose
    cell: re.Pattern  # a listed (non-word) name alone, for data cells


@lru_cache(maxsize=4)
def _name_patterns(path: str = str(NAMES_FILE)) -> _NamePatterns:
    n = _read_names(Path(path))
    first_all = _trie_regex(n["first"] + n["first-word"])
    first_safe = _trie_regex(n["first"])
    surnames = [v for s in n["surname"] + n["surname-word"] for v in _variants(s)]
    sur_all = _trie_regex(surnames)
    compound = [v for s in n["surname"] if " " in s for v in _variants(s)]
    single_safe = _trie_regex([s for s in n["surname"] if " " not in s])
    listed = {w for section in n.values() for name in section for w in name.split()}
    not_surname = _trie_regex(_known_words() - listed)
    rules = [
        # 1. given name + surname-like word ("Jan Bakker", "Sem van Beek", "Jan P. Bakker"),
        #    where that word is not a place or label of the study ("Frans Nederland")
        rf"\b(?:{first_all}){_SEP}(?:[A-Z]\.{_SEP}?)?{_TUSSEN}(?!(?:{not_surname})\b){_CAPWORD}\b",
        # 2. a listed surname with its tussenvoegsel ("van den Berg", "De Vries")
        rf"(?<![\w-])(?:{_trie_regex(compound)})\b",
        # 3. title or relation + name; initials + surname
        rf"{_TITLES}{_SEP}(?:{_INITIALS})?{_TUSSEN}(?:{sur_all}|{first_all})\b",
        rf"(?<![\w.])(?:{_INITIALS}){_TUSSEN}(?:{sur_all})\b",
        # 4. a listed (non-word) surname mid-sentence
        rf"(?<=[{_LOW},;:] )(?:{single_safe})\b",
    ]
    cell = rf"\b(?:{first_safe}|{single_safe})\b"
    return _NamePatterns(re.compile("|".join(f"(?:{r})" for r in rules)), re.compile(cell))


@lru_cache(maxsize=1)
def _known_words() -> frozenset:
    """Capitalised words of the codebook and study settings (sites, cities, labels such as
    "Nederland", "Europa"): never a surname when they follow a given name."""
    words = set()
    for path in (config.CODEBOOK_FILE, config.STUDY_FILE):
        if Path(path).is_file():
            words.update(re.findall(rf"\b[{_UP}][{_LOW}]+\b", Path(path).read_text(encoding="utf-8")))
    return frozenset(words)


@lru_cache(maxsize=2)
def _prefilter(cell: bool) -> re.Pattern:
    """Every identifier pattern in one regex: a value that does not match has no identifier."""
    names = _name_patterns()
    parts = [names.text, _PHONE, _EMAIL, _POSTCODE, _BIRTH_TEXT, _BSN_TEXT, _IBAN_TEXT] + ([names.cell] if cell else [])
    return re.compile("|".join(f"(?:{p.pattern})" for p in parts))


def _valid_phone(m: re.Match) -> bool:
    text = m.group()
    if _DATE_START.match(text):
        return False  # "06-05-2024 10": a date and a time, not a number
    digits = re.sub(r"\D", "", text.replace("(0)", ""))
    if text.startswith("+") or text.startswith("0031"):
        digits = digits[4:] if text.startswith("0031") else digits[2:]
        return len(digits) == 9 and digits[0] != "0"
    return len(digits) == 10 and digits[0] == "0" and digits[1] != "0"


def _valid_email(m: re.Match) -> bool:
    return not _EMAIL_EXAMPLE.search(m.group())


def _strip_allowed(text: str, allowed: re.Pattern | None) -> str:
    """Blank out allowed phrases (same length, so offsets and line numbers stay right)."""
    text = _ALLOWED_PHRASES.sub(lambda m: " " * len(m.group()), text)
    if allowed is not None:
        text = allowed.sub(lambda m: " " * len(m.group()), text)
    return text


def _iter_identifiers(text: str, *, cell: bool = False, allowed: re.Pattern | None = None) -> Iterator[tuple[str, int, str]]:
    """(kind, offset, matched text) for every identifier in ``text``, in order of kind."""
    names = _name_patterns()
    stripped = _strip_allowed(text, allowed)
    for m in names.text.finditer(stripped):
        yield "name", m.start(), _TITLE_PREFIX.sub("", m.group())  # mask the name, not "mevrouw"
    if cell:
        for m in names.cell.finditer(stripped):
            yield "name", m.start(), m.group()
    ibans = [m for m in _IBAN_TEXT.finditer(text) if iban_valid(m.group())]
    for m in ibans:
        yield "iban", m.start(), m.group()
    # an account number's digits (even with a typo in it) are not also a phone number or a BSN
    text = _IBAN_TEXT.sub(lambda m: " " * len(m.group()), text)
    for m in _PHONE.finditer(text):
        if _valid_phone(m):
            yield "phone", m.start(), m.group()
    for m in _BSN_TEXT.finditer(text):
        if elfproef(re.sub(r"\D", "", m.group())):
            yield "bsn", m.start(), m.group()
    for m in _EMAIL.finditer(text):
        if _valid_email(m):
            yield "email", m.start(), m.group()
    for m in _POSTCODE.finditer(text):
        yield "postcode", m.start(), m.group()
    for m in _BIRTH_TEXT.finditer(text):
        yield "birth_date", m.start(), m.group()


def find_identifiers(text: str, *, cell: bool = False) -> list[tuple[str, str]]:
    """The identifiers in one piece of text, as (kind, masked value), one per kind.

    Parameters
    ----------
    text : str
        Prose, a notebook output, or one cell of a table.
    cell : bool, default False
        True for a cell of a data table that is not a code column: a listed given name or
        surname alone is then a name too (in prose it needs a surname, title or initial).

    Returns
    -------
    list of (str, str)
        The kinds found, each with the first match masked (:func:`mask`).

    Examples
    --------
    >>> find_identifiers("Henk", cell=True), find_identifiers("Henk")
    ([('name', 'He…')], [])
    >>> find_identifiers("Wil je meedoen? Ben je eenzaam? Jan en alleman kwam, 1234 AB.")
    [('postcode', '12…')]
    """
    if not isinstance(text, str):
        raise ValueError(f"find_identifiers: text must be a str, got {type(text).__name__}.")
    seen: dict[str, str] = {}
    for kind, _, value in _iter_identifiers(text, cell=cell):
        seen.setdefault(kind, mask(value))
    return list(seen.items())


# --------------------------------------------------------------------------------------------
# The identifier screen: one value, one answer (messages, problem reports, the cleaning log)

#: A date from this year on is a visit or interview date of the study, never a birth date of an
#: adult respondent; an earlier one (from BIRTH_DATE_FROM) could be a date of birth.
BIRTH_DATE_BEFORE = 2015
BIRTH_DATE_FROM = 1900

#: The kinds :func:`screen` gives, with their Dutch words (for the safe descriptions).
SCREEN_KINDS = {
    "email": "e-mailadres", "iban": "IBAN", "phone": "telefoonnummer", "bsn": "BSN",
    "postcode": "postcode", "birth_date": "geboortedatum", "name": "naam",
}

_MONTHS = ("jan", "feb", "mrt", "maa", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "oct",
           "nov", "dec", "mar", "may")
_DATE_DMY = re.compile(r"(?<![\w/.\-])(\d{1,2})([-/. ])(\d{1,2})\2(\d{4}|\d{2})(?![\w/]|[.\-]\d)")
_DATE_YMD = re.compile(r"(?<![\w/.\-])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\w/]|[.\-]\d)")
_DATE_WORD = re.compile(r"(?i)(?<!\w)(\d{1,2})\.? ?([a-z]{3,9})\.? (\d{4})(?!\w)")
_DATE_COMPACT = re.compile(r"^(19\d\d|20\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")  # 19580312
# nine digits as a BSN is written: 123456782, 1234.56.782, 123 456 782
_BSN_TEXT = re.compile(r"(?<![\w.,+\-/:])(?:\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3}[ .]\d{3}[ .]\d{3})(?![\w]|[.,:\-/]\d)")
_IBAN_TEXT = re.compile(r"(?<![\w])[A-Z]{2}\d{2}[ ]?(?:[A-Z0-9]{4}[ ]?){2,7}[A-Z0-9]{0,3}(?![\w])")
# a whole cell that is only a number (as a spreadsheet or SPSS stores it): 612345678, 612345678.0,
# 6.12345678E8, +31612345678, 31 6 12345678, 06-12345678
_NUMBER_CELL = re.compile(r"^\+?[\d][\d \-().]*(?:[eE]\+?\d+)?$")


def elfproef(digits: str) -> bool:
    """Whether nine digits pass the 11-test of a BSN (burgerservicenummer).

    The weighted sum 9·d1 + 8·d2 + ... + 2·d8 − 1·d9 is a multiple of 11, and the number is
    not 000000000 (Wet algemene bepalingen burgerservicenummer; the test every Dutch form uses).

    >>> elfproef("111222333"), elfproef("123456782"), elfproef("123456789"), elfproef("12345678")
    (True, True, False, False)

    (9+8+7 + 12+10+8 + 9+6 − 3 = 66 = 6·11; 9+16+21+24+25+24+21+16 − 2 = 154 = 14·11;
    with a last digit 9 the sum is 147, not a multiple of 11.)
    """
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1))) - int(digits[8])
    return total % 11 == 0


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed) is an IBAN whose check digits hold (ISO 13616 mod-97).

    Letters count as 10-35, the first four characters move to the end, and the number mod 97
    is 1. A Dutch IBAN has 18 characters.

    >>> iban_valid("NL91 ABNA 0417 1643 00"), iban_valid("NL92ABNA0417164300"), iban_valid("DE89370400440532013000")
    (True, False, True)
    """
    s = re.sub(r"\s", "", str(text)).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s) or (s[:2] == "NL" and len(s) != 18):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _number_digits(text: str) -> str | None:
    """The digits of a cell that is only a number (a float's ``.0`` and an exponent undone)."""
    t = text.strip()
    if not t or not _NUMBER_CELL.match(t):
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?[eE]\+?\d+|\d+\.0+", t):
        try:
            value = float(t)
        except ValueError:
            return None
        if not value.is_integer() or value >= 1e15:
            return None
        return str(int(value))
    if re.fullmatch(r"[+-]?\d*[.,]\d+", t):
        return None  # a decimal number ("12.5", "0.0612345678"), not an identifier
    return re.sub(r"\D", "", t)


def number_kind(value) -> str | None:
    """The identifier a bare number could be: ``"phone"`` or ``"bsn"`` (or None).

    Number parsing drops a leading 0 (Excel, SPSS, pandas): 0612345678 becomes 612345678 or
    612345678.0, BSN 012345672 becomes 12345672. So a whole cell that is a number is

    - a phone number: ten digits starting 0[1-9] (written ``06-12345678``, ``010 1234567``...),
      nine digits starting 6 (a mobile number that lost its 0), or 31/0031 followed by nine
      digits not starting 0 (``+31 6 12345678``, ``31612345678``);
    - a BSN: nine digits that pass the 11-test (:func:`elfproef`), or eight that pass it with the
      lost 0 put back.

    A count or amount of nine digits that fails the 11-test ("123456789") is not called a BSN
    here; messages never show eight or more digits in a row anyway (:func:`analysis.problems.safe_value`).

    >>> [number_kind(v) for v in [612345678, 612345678.0, "0612345678", "+31612345678", 111222333, 12345672]]
    ['phone', 'phone', 'phone', 'phone', 'bsn', 'bsn']

    (012345672: 0·9 + 1·8 + 2·7 + 3·6 + 4·5 + 5·4 + 6·3 + 7·2 − 2 = 110 = 10·11.)
    >>> [number_kind(v) for v in [123456789, 61234567, 6123456789, "12.5", 2024, None, True]]
    [None, None, None, None, None, None, None]
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if value != value or not value.is_integer() or abs(value) >= 1e15:
            return None
        text = str(int(value))
    else:
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            elif isinstance(value, np.floating):
                return number_kind(float(value))
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
        text = str(value)
    if date_years(text):
        return None  # 2024-03-18, 18-03-2024: a date, not a number
    digits = _number_digits(text)
    if not digits:
        return None
    plain = bool(re.fullmatch(r"\s*(?:\d+(?:\.0+)?|\d+(?:\.\d+)?[eE]\+?\d+|\d{4}\.\d{2}\.\d{3}|\d{3} \d{3} \d{3})\s*", text))
    international = text.strip().startswith(("+", "00"))
    if digits.startswith("0031") and len(digits) == 13:
        digits, international = digits[4:], True
    elif digits.startswith("31") and len(digits) == 11:
        digits, international = digits[2:], True
    if international:
        return "phone" if len(digits) == 9 and digits[0] != "0" else None
    if len(digits) == 10 and digits[0] == "0" and digits[1] != "0":
        return "phone"
    if len(digits) == 9 and digits[0] == "6":
        return "phone"
    if plain and len(digits) == 9 and elfproef(digits):
        return "bsn"
    if plain and len(digits) == 8 and elfproef("0" + digits):
        return "bsn"
    return None


def _year(y: str) -> int:
    y4 = int(y)
    if len(y) == 2:  # a two-digit year: 52 is 1952, 24 is 2024
        y4 += 2000 if y4 < BIRTH_DATE_BEFORE - 2000 else 1900
    return y4


def date_years(text: str) -> list[int]:
    """The years of the dates written in ``text`` (d-m-y, y-m-d, "12 maart 1958", 19580312).

    Only real calendar-like dates count (day 1-31, month 1-12 either way round), so times
    ("10:30"), ranges ("18-24") and counts are not dates.

    >>> date_years("geboren 12-03-1958, gezien 2024-06-12 en 3 mrt. 2025"), date_years("18-24, 10:30, 12.5")
    ([1958, 2024, 2025], [])
    """
    years = []
    for m in _DATE_DMY.finditer(text):
        a, b = int(m.group(1)), int(m.group(3))
        if 1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12:
            years.append((m.start(), _year(m.group(4))))
    for m in _DATE_YMD.finditer(text):
        if 1 <= int(m.group(3)) <= 12 and 1 <= int(m.group(4)) <= 31:
            years.append((m.start(), int(m.group(1))))
    for m in _DATE_WORD.finditer(text):
        if m.group(2).casefold()[:3] in _MONTHS and 1 <= int(m.group(1)) <= 31:
            years.append((m.start(), int(m.group(3))))
    m = _DATE_COMPACT.match(text.strip())
    if m:
        years.append((0, int(m.group(1))))
    return [y for _, y in sorted(years)]


def could_be_birth_date(value) -> bool:
    """A date (or datetime) from :data:`BIRTH_DATE_FROM` up to before :data:`BIRTH_DATE_BEFORE`.

    The study's visits and interviews are all later, so an earlier date in a date column, a
    message or the cleaning log is treated as a possible date of birth. A bare year ("1958")
    is not a date: the cleaning reads birth years typed as an age and logs them.

    >>> [could_be_birth_date(v) for v in ["12-03-1958", "1958-03-12", "03-03-2025", "1958", "12-03-58"]]
    [True, True, False, False, True]
    """
    import datetime as _dt

    if value is None:
        return False
    if isinstance(value, (_dt.date, _dt.datetime)) or hasattr(value, "year") and hasattr(value, "month"):
        try:
            year = int(value.year)
        except (TypeError, ValueError):
            return False
        return BIRTH_DATE_FROM <= year < BIRTH_DATE_BEFORE
    return any(BIRTH_DATE_FROM <= y < BIRTH_DATE_BEFORE for y in date_years(str(value)))


def screen(value) -> str | None:
    """The kind of identifier ``value`` looks like (a key of :data:`SCREEN_KINDS`), or None.

    One screen for every place a raw value might be shown (messages, problem reports, the
    cleaning log): an e-mail address anywhere in it; an IBAN whose mod-97 check holds; a Dutch
    phone number in any usual notation, or a bare number that is one after number parsing
    (:func:`number_kind`); a BSN (11-test); a full postcode; a date that could be a date of
    birth (:func:`could_be_birth_date`, or "geboren op ..."); a listed name (as in a data cell,
    see the module docstring). Checked in that order; the first kind found is given.

    >>> [screen(v) for v in ["jan@voorbeeld.nl", "NL91ABNA0417164300", "06-12345678", 612345678.0]]
    ['email', 'iban', 'phone', 'phone']
    >>> [screen(v) for v in ["111222333", "1234 AB", "12-03-1958", "Henk", "vrouww", "123456789", 45, None]]
    ['bsn', 'postcode', 'birth_date', 'name', None, None, None, None]
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value != value:
        return None
    kind = number_kind(value)
    if kind is not None:
        return kind
    if not isinstance(value, str):
        if could_be_birth_date(value):
            return "birth_date"
        value = str(value)
    text = value
    if not text.strip():
        return None
    order = {k: i for i, k in enumerate(SCREEN_KINDS)}
    found = {k for k, _, _ in _iter_identifiers(text, cell=True)}
    if could_be_birth_date(text):
        found.add("birth_date")
    return min(found, key=order.__getitem__) if found else None


# --------------------------------------------------------------------------------------------
# The codebook's vocabulary: raw values that are safe to show because the codebook lists them


@lru_cache(maxsize=4)
def vocabulary(codebook: str = str(config.CODEBOOK_FILE)) -> frozenset:
    """Every code, label, raw value and missing code in the codebook, case-folded and stripped.

    A raw value that is one of these is the study's own word (a variant the export wrote, a
    label, "weet niet", 98), never something a respondent typed about themselves, so messages
    may show it as it is.

    >>> v = vocabulary()
    >>> "vrouw" in v, "weet niet" in v, "henk" in v
    (True, True, False)
    """
    with open(codebook, encoding="utf-8") as fh:
        cb = yaml.safe_load(fh) or {}
    words: set[str] = set()
    for x in _yaml_leaves(cb):
        if x is not None and not isinstance(x, bool):
            if isinstance(x, float) and x.is_integer():
                x = int(x)
            words.add(str(x).strip().casefold())
    words.discard("")
    return frozenset(words)


def _yaml_leaves(x):
    """Every key and scalar of a parsed YAML document, depth first."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _yaml_leaves(k)
            yield from _yaml_leaves(v)
    elif isinstance(x, list):
        for v in x:
            yield from _yaml_leaves(v)
    else:
        yield x


# --------------------------------------------------------------------------------------------
# Codebook knowledge (read with yaml: the codebook's Python API may change)


@lru_cache(maxsize=4)
def _codebook_facts(codebook: str = str(config.CODEBOOK_FILE), study: str = str(config.STUDY_FILE)):
    """(free-text column names, code column names, known labels), all case-folded."""
    with open(codebook, encoding="utf-8") as fh:
        cb = yaml.safe_load(fh) or {}
    variables = cb.get("variables") or {}
    free, coded = set(), set()
    for name, spec in variables.items():
        spec = spec or {}
        if spec.get("free_text") or spec.get("type") == "text":
            free.add(str(name))
            free.update(str(spec[k]) for k in ("nl", "en") if spec.get(k))
        elif spec.get("codes") or spec.get("code_set") or spec.get("codes_from") or spec.get("identifier"):
            coded.add(str(name))
    for source in (cb.get("sources") or {}).values():
        for var, mapping in ((source or {}).get("columns") or {}).items():
            if str(var) in free and isinstance(mapping, dict):
                free.update(str(mapping[k]) for k in ("column", "label") if mapping.get(k))
    labels: set[str] = set()
    docs = [cb]
    if Path(study).is_file():
        with open(study, encoding="utf-8") as fh:
            docs.append(yaml.safe_load(fh) or {})

    for doc in docs:
        labels.update(x.strip().casefold() for x in _yaml_leaves(doc) if isinstance(x, str) and len(x.strip()) >= 3)
    fold = lambda names: frozenset(s.strip().casefold() for s in names)  # noqa: E731
    return fold(free), fold(coded), frozenset(labels)


# --------------------------------------------------------------------------------------------
# Tables


def _rows_text(rows: list[int]) -> str:
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = ", ".join(str(r) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"rows {shown}{more}"


def _string_column(s):
    """The non-empty string values of a column (index = row position), or None if not text."""
    import pandas as pd

    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if not (s.dtype == object or isinstance(s.dtype, pd.StringDtype)):
        return None
    s = s.dropna()
    s = s.astype(str).str.strip()
    return s[s != ""]


def _looks_free_text(values, labels: frozenset) -> str | None:
    """Why ``values`` look like typed sentences (see the module docstring), or None."""
    n = len(values)
    distinct = values.drop_duplicates()
    if len(distinct) < FREE_TEXT_MIN_DISTINCT or len(distinct) < FREE_TEXT_MIN_DISTINCT_SHARE * n:
        return None
    lengths = values.str.len()
    if lengths.median() <= FREE_TEXT_MIN_MEDIAN_LENGTH:
        return None
    if (values.str.count(r"\s+") + 1).median() < FREE_TEXT_MIN_MEDIAN_WORDS:
        return None
    if values.str.contains(" ", regex=False).mean() < 0.8:
        return None
    if values.str.count(r"[^\W\d_]").sum() < 0.6 * lengths.sum():
        return None
    if values.str.contains(_CODE_CHARS).mean() > 0.2:
        return None  # model formulas, paths, code: "who5 ~ wave + site + (1 | person)"
    sample = distinct.head(200).str.casefold()
    long_labels = [lab for lab in labels if len(lab) >= 12]
    # a label, or a label with a short prefix or suffix ("Mechanismen: huiskamersfeer")
    is_label = sample.map(lambda v: v in labels or any(lab in v and len(lab) >= 0.6 * len(v) for lab in long_labels))
    if is_label.mean() >= 0.5:
        return None
    return (
        f"{len(distinct)} distinct values in {n} rows, median {lengths.median():.0f} characters: "
        "looks like text people typed"
    )


def _scan_table(df, path: str, *, publishable: bool, heuristic: bool = True) -> list[Finding]:
    """Every rule that applies to a table; one finding per (column, kind)."""
    free_names, coded_names, labels = _codebook_facts()
    df = df.reset_index(drop=True)
    findings: list[Finding] = []
    for col in df.columns:
        name = str(col)
        folded = name.strip().casefold()
        where = f"column {name!r}"
        if _BIRTH_COLUMN.search(name):
            findings.append(Finding("birth_date", path, where, "the column's name says it holds dates (or years) of birth"))
        if folded in free_names:
            findings.append(Finding("free_text", path, where, "a free-text variable of the codebook (free_text: true)"))
        s = _string_column(df[col])
        if s is not None and len(s):
            uniq = s.drop_duplicates().astype(object)  # Python re (lookbehinds), not pyarrow's RE2
            code_column = folded in coded_names or bool(uniq.str.fullmatch(_CODE_VALUE).all())
            cell = not code_column
            # one vectorised pre-filter over the distinct values; the few candidates are then
            # checked rule by rule (digit counts, allowed phrases) in Python
            candidates = uniq[uniq.str.contains(_prefilter(cell))]
            hits: dict[str, set] = {}
            for value in candidates:
                for kind, _, _ in _iter_identifiers(value, cell=cell):
                    hits.setdefault(kind, set()).add(value)
            for kind, values in hits.items():
                rows = s.index[s.isin(values)].tolist()
                example = next(v for k, _, v in _iter_identifiers(s[rows[0]], cell=cell) if k == kind)
                findings.append(Finding(kind, path, f"{where}, {_rows_text(rows)}",
                                        f"{KINDS[kind]} ({mask(example)!r}) in {len(rows)} cell(s)"))
            if heuristic and folded not in free_names and folded not in DOCUMENTATION_COLUMNS and not code_column:
                why = _looks_free_text(s, labels)
                if why:
                    findings.append(Finding("free_text", path, where, why))
        said = {f.kind for f in findings if f.location.startswith(where)}
        if _BIRTH_COLUMN.search(name):
            said.add("birth_date")
        findings += [f for f in _cell_findings(df[col], name, path, where) if f.kind not in said]  # one per kind
        if publishable and _is_count_column(name):
            values = df[col].dropna().astype(str)
            small = values[values.str.match(_SMALL_COUNT)]
            if len(small):
                shown = ", ".join(sorted({v.strip() for v in small})[:4])
                findings.append(Finding(
                    "small_cell", path, f"{where}, {_rows_text(small.index.tolist())}",
                    f"count(s) of 1-4 not suppressed ({shown}); publish them as '<5' "
                    "(analysis.fmt.suppress_small_cells)"))
    return findings


_DATE_TOKENS = frozenset({"date", "datum", "datetime", "timestamp", "dt", "dag"})
_AGE_TOKENS = frozenset({"age", "leeftijd", "lft"})


def _name_tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.strip().casefold()) if t]


def _is_date_column(name: str, s) -> bool:
    """A column of dates: a datetime type, or a name such as ``date``, ``visit_date``, ``datum``,
    ``interviewdatum`` (a token, so ``pg_dagelijks_functioneren`` is not one)."""
    import pandas as pd

    tokens = _name_tokens(name)
    return (pd.api.types.is_datetime64_any_dtype(s) or any(t in _DATE_TOKENS or t.endswith("datum") for t in tokens))


def _is_age_column(name: str) -> bool:
    """``age``, ``age_group``, ``leeftijd``, ``leeftijdsgroep``...: a date in it is a birth date."""
    return any(t in _AGE_TOKENS or t.startswith("leeftijd") for t in _name_tokens(name))


def _cell_findings(s, name: str, path: str, where: str) -> list[Finding]:
    """Rules on whole cells, for columns of any type: a number that is a phone number or BSN
    once its lost leading 0 is put back (:func:`number_kind`), a date before
    :data:`BIRTH_DATE_BEFORE` in a date column, any date in an age column."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(s):
        return []
    values = s.dropna()
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    if not len(values):
        return []
    uniq = pd.unique(values)
    hits: dict[str, set] = {}
    numeric = pd.api.types.is_numeric_dtype(values)
    settings = name.strip().casefold() in SETTINGS_COLUMNS
    if not settings and (numeric or values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
        for v in uniq:
            if isinstance(v, str) and not _NUMBER_CELL.match(v.strip()):
                continue
            kind = number_kind(v)
            if kind is not None:
                hits.setdefault(kind, set()).add(v)
    date_col, age_col = _is_date_column(name, values), _is_age_column(name)
    if date_col or age_col:
        datetime = pd.api.types.is_datetime64_any_dtype(values)
        for v in uniq:
            if datetime:
                bad = age_col or could_be_birth_date(pd.Timestamp(v))
            elif isinstance(v, str):
                bad = bool(date_years(v)) if age_col else could_be_birth_date(v)
            else:
                bad = False
            if bad:
                hits.setdefault("birth_date", set()).add(v)
    out = []
    for kind, found in hits.items():
        rows = values.index[values.isin(list(found))].tolist()
        why = {"phone": "a phone number (a number whose leading 0 may have been lost)",
               "bsn": "a BSN (passes the 11-test)",
               "birth_date": "a date in an age column" if age_col else
                             f"a date before {BIRTH_DATE_BEFORE} in a date column: could be a date of birth"}[kind]
        out.append(Finding(kind, path, f"{where}, {_rows_text(rows)}",
                           f"{why} ({mask(str(values[rows[0]]))!r}) in {len(rows)} cell(s)"))
    return out


def _is_count_column(name: str) -> bool:
    """``n``, ``k``, ``count``, ``n_*`` or ``*_n``, unless listed in :data:`COUNT_ALLOW`.

    >>> [_is_count_column(c) for c in ["n", "n_reached", "reached_n", "n_resamples", "nl", "pct"]]
    [True, True, True, False, False, False]
    """
    low = name.strip().lower()
    if low in COUNT_ALLOW:
        return False
    return low in {"n", "k", "count"} or low.startswith("n_") or low.endswith("_n")


def _read_csv(data: bytes):
    import pandas as pd

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    header = text.split("\n", 1)[0]
    sep = max([",", ";", "\t"], key=header.count)
    return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[])


def _read_table(path: Path, data: bytes | None = None):
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(io.BytesIO(data) if data is not None else path)
    return _read_csv(data if data is not None else path.read_bytes())


# --------------------------------------------------------------------------------------------
# Text: notebooks, HTML, PDF


class _HTMLText(HTMLParser):
    """Text segments of an HTML page with their source line; scripts and styles dropped,
    block elements and table cells kept apart (a table cell is a ``cell`` segment)."""

    BLOCK = {"p", "div", "li", "ul", "ol", "tr", "table", "thead", "tbody", "h1", "h2", "h3", "h4",
             "h5", "h6", "section", "article", "header", "footer", "caption", "figcaption", "figure",
             "blockquote", "pre", "dd", "dt", "dl", "title", "br", "hr", "nav", "main", "aside"}
    CELL = {"td", "th"}
    SKIP = {"script", "style", "template", "noscript"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.segments: list[tuple[int, str, bool]] = []  # (line, text, is_cell)
        self._buf: list[str] = []
        self._line: int | None = None
        self._skip = 0
        self._cell = False

    def _flush(self):
        text = "".join(self._buf)
        if text.strip():
            self.segments.append((self._line or 1, text, self._cell))
        self._buf, self._line = [], None

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK or tag in self.CELL:
            self._flush()
            if tag in self.CELL:
                self._cell = True

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCK or tag in self.CELL:
            self._flush()
            if tag in self.CELL:
                self._cell = False

    def handle_data(self, data):
        if self._skip:
            return
        if self._line is None:
            self._line = self.getpos()[0]
        self._buf.append(re.sub(r"\s+", " ", data))


def _html_segments(html: str) -> list[tuple[int, str, bool]]:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    parser._flush()
    return parser.segments


class _HTMLTables(HTMLParser):
    """The tables of an HTML page as (header names, body rows of cell texts); a pandas
    ``DataFrame.to_html`` or Styler table: the last header row names the columns, each body
    row's index cells (``th``) come first."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._stack: list[dict] = []
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._stack.append({"head": [], "body": [], "in_head": False, "row": None})
        elif not self._stack:
            return
        t = self._stack[-1]
        if tag == "thead":
            t["in_head"] = True
        elif tag == "tbody":
            t["in_head"] = False
        elif tag == "tr":
            t["row"] = []
        elif tag in ("td", "th") and t["row"] is not None:
            self._cell = []
            try:
                self._span = max(1, int(dict(attrs).get("colspan") or 1))
            except ValueError:
                self._span = 1
            self._is_th = tag == "th"

    def handle_endtag(self, tag):
        if not self._stack:
            return
        t = self._stack[-1]
        if tag in ("td", "th") and self._cell is not None and t["row"] is not None:
            text = " ".join("".join(self._cell).split())
            t["row"].extend([(text, self._is_th)] * self._span)
            self._cell = None
        elif tag == "tr" and t["row"] is not None:
            row, t["row"] = t["row"], None
            head = t["in_head"] or (not t["body"] and row and all(is_th for _, is_th in row) and not t["head"])
            (t["head"] if head else t["body"]).append([text for text, _ in row])
        elif tag == "thead":
            t["in_head"] = False
        elif tag == "table":
            t = self._stack.pop()
            if t["head"]:
                self.tables.append((t["head"][-1], t["body"]))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _html_tables(html: str) -> list[tuple[list[str], list[list[str]]]]:
    parser = _HTMLTables()
    parser.feed(html)
    parser.close()
    return parser.tables


def _small_cells_in_html(html: str) -> list[tuple[str, list[int], list[str]]]:
    """(column, body rows (1-based), values) of the count columns holding 1-4 in an output's
    HTML tables (the rule of the publishable CSVs: :func:`_is_count_column`, ``_SMALL_COUNT``)."""
    out = []
    for names, body in _html_tables(html):
        hits: dict[str, tuple[list[int], set]] = {}
        for r, cells in enumerate(body, 1):
            k = min(len(names), len(cells))
            for name, value in zip(names[len(names) - k:], cells[len(cells) - k:]):
                if _is_count_column(name) and _SMALL_COUNT.match(value):
                    rows, values = hits.setdefault(name, ([], set()))
                    rows.append(r)
                    values.add(value.strip())
        out += [(name, rows, sorted(values)) for name, (rows, values) in hits.items()]
    return out


def _small_cells_in_text(text: str) -> list[tuple[str, list[int], list[str]]]:
    """The same for a DataFrame printed as text (``to_string``): a header line of column
    names, then rows with one more field (the index) or as many; a table whose rows do not
    split into that many fields (values with spaces) is left alone."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return []
    names = lines[0].split()
    if not any(_is_count_column(n) for n in names):
        return []
    hits: dict[str, tuple[list[int], set]] = {}
    for r, line in enumerate(lines[1:], 1):
        cells = line.split()
        if len(cells) not in (len(names), len(names) + 1):
            return []
        for name, value in zip(names, cells[len(cells) - len(names):]):
            if _is_count_column(name) and _SMALL_COUNT.match(value):
                rows, values = hits.setdefault(name, ([], set()))
                rows.append(r)
                values.add(value)
    return [(name, rows, sorted(values)) for name, (rows, values) in hits.items()]


def _text_findings(text: str, path: str, where: str, *, line0: int = 1, cell: bool = False,
                   allowed: re.Pattern | None = None) -> list[Finding]:
    """Findings in a piece of text; ``line0`` is the line the text starts on."""
    out, seen = [], set()
    for kind, offset, value in _iter_identifiers(text, cell=cell, allowed=allowed):
        line = line0 + text.count("\n", 0, offset)
        if (kind, line) in seen:
            continue
        seen.add((kind, line))
        loc = f"{where}, line {line}" if where else f"line {line}"
        out.append(Finding(kind, path, loc, f"{KINDS[kind]} ({mask(value)!r})"))
    return out


def _html_findings(html: str, path: str, where: str = "", allowed: re.Pattern | None = None) -> list[Finding]:
    out = []
    for line, text, is_cell in _html_segments(html):
        out += _text_findings(text, path, where, line0=line, cell=is_cell, allowed=allowed)
    return out


def _output_texts(output: dict) -> Iterator[tuple[str, str]]:
    """(mime type, text) of one notebook output."""
    def joined(x):
        return "".join(x) if isinstance(x, list) else str(x)

    otype = output.get("output_type")
    if otype == "stream":
        yield "text/plain", joined(output.get("text", ""))
    elif otype == "error":
        yield "text/plain", _ANSI.sub("", "\n".join([output.get("evalue", "")] + list(output.get("traceback", []))))
    else:
        data = output.get("data", {})
        for mime in ("text/plain", "text/markdown", "text/latex"):
            if mime in data:
                yield mime, joined(data[mime])
        if "text/html" in data:
            yield "text/html", joined(data["text/html"])


def _scan_notebook(path: Path) -> list[Finding]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb.get("cells", []), 1):
        for j, output in enumerate(cell.get("outputs", []) or [], 1):
            where = f"cell {i}, output {j}"
            found: dict[str, Finding] = {}  # one per kind: a table shown as text and as HTML
            for mime, text in _output_texts(output):
                if mime == "text/html":
                    new = _html_findings(text, str(path), where)
                else:
                    new = _text_findings(text, str(path), where)
                for f in new:
                    found.setdefault(f.kind, f)
            out += found.values()
            out += _notebook_small_cells(output, str(path), where)
    return out


def _notebook_small_cells(output: dict, path: str, where: str) -> list[Finding]:
    """Counts of 1-4 in the tables a notebook output shows (its HTML table, or the table
    printed as text when there is no HTML): the executed notebooks are published beside the
    report, so they may show suppressed frames only."""
    texts = dict(_output_texts(output))
    if "text/html" in texts:
        hits = _small_cells_in_html(texts["text/html"])
    elif "text/plain" in texts:
        hits = _small_cells_in_text(texts["text/plain"])
    else:
        hits = []
    return [Finding("small_cell", path, f"{where}, table column {name!r}, {_rows_text(rows).replace('row', 'table row')}",
                    f"count(s) of 1-4 shown unsuppressed ({', '.join(values[:4])}); show the published "
                    "(suppressed) frame, keep the unsuppressed one in internal/")
            for name, rows, values in hits]


def _scan_pdf(path: Path, allowed: re.Pattern | None) -> list[Finding]:
    from pypdf import PdfReader  # the test extra; see the module docstring

    out = []
    for p, page in enumerate(PdfReader(path).pages, 1):
        out += _text_findings(page.extract_text() or "", str(path), f"page {p}", allowed=allowed)
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        key = (f.kind, f.path, f.location)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _bib_authors(bib_text: str) -> list[tuple[str, str]]:
    """(family, given) of every ``author``/``editor`` in a BibTeX file (braces balanced)."""
    authors = []
    for m in re.finditer(r"(?im)^\s*(?:author|editor)\s*=\s*([{\"])", bib_text):
        i, depth, start = m.end(), 1, m.end()
        close = "}" if m.group(1) == "{" else '"'
        while i < len(bib_text) and depth:
            ch = bib_text[i]
            if m.group(1) == "{":
                depth += (ch == "{") - (ch == "}")
            elif ch == close:
                depth = 0
            i += 1
        value = re.sub(r"\\[a-zA-Z]+\s*|\\.|[{}]", "", bib_text[start:i - 1])
        for person in re.split(r"\s+and\s+", value):
            person = " ".join(person.split())
            if "," in person:
                family, given = (x.strip() for x in person.split(",", 1))
            else:
                given, _, family = person.rpartition(" ")
            if family:
                authors.append((family, given))
    return authors


def _bibliography_pattern(repo_dir: Path | None) -> re.Pattern | None:
    """The cited authors in the forms a rendered bibliography prints (module docstring)."""
    if repo_dir is None:
        return None
    forms = set()
    for bib in sorted(Path(repo_dir).glob("*.bib")):
        for family, given in _bib_authors(bib.read_text(encoding="utf-8", errors="replace")):
            fam = r"\s+".join(re.escape(w) for w in family.split())
            fam = rf"(?:{fam}|{fam[:1].upper()}{fam[1:]})" if fam[:1].islower() else fam
            forms.add(rf"{fam}(?:,\s+(?:[A-Z][\w'’-]*\.?\s*)+|\s+et\s+al\.?)")
            initials = r"(?:[A-Z]\.\s*)+"
            forms.add(rf"{initials}{fam}")
            if given:
                forms.add(r"\s+".join(re.escape(w) for w in given.split()) + rf"\s+{fam}")
    if not forms:
        return None
    return re.compile("|".join(sorted(forms, key=len, reverse=True)))


# --------------------------------------------------------------------------------------------
# Git


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True)
    if result.returncode != 0:
        raise ValueError(
            f"git {' '.join(args)} failed in {repo}: {result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


def _git_index(repo: Path) -> dict[str, tuple[str, str]]:
    """path -> (mode, blob id) of every file in the git index."""
    if shutil.which("git") is None:
        raise ValueError("check-privacy needs git on the PATH to check the git index.")
    top = _git(repo, "rev-parse", "--show-toplevel").decode().strip()
    if Path(top).resolve() != Path(repo).resolve():
        raise ValueError(f"repo_dir must be the top of a git work tree; {repo} is inside {top}.")
    index = {}
    for entry in _git(repo, "ls-files", "-s", "-z").split(b"\0"):
        if not entry:
            continue
        meta, path = entry.decode("utf-8", errors="surrogateescape").split("\t", 1)
        mode, blob, _stage = meta.split()
        index[path] = (mode, blob)
    return index


def _git_blobs(repo: Path, blobs: list[str]) -> dict[str, bytes]:
    """Contents of the given blobs, read in one ``git cat-file --batch`` call."""
    if not blobs:
        return {}
    raw = _git(repo, "cat-file", "--batch", data=("\n".join(blobs) + "\n").encode())
    out, pos = {}, 0
    for blob in blobs:
        end = raw.index(b"\n", pos)
        header = raw[pos:end].decode().split()
        size = int(header[2])
        out[blob] = raw[end + 1:end + 1 + size]
        pos = end + 1 + size + 1
    return out


def _parse_manifest(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        m = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$", line)
        if m:
            entries[m.group(2)] = m.group(1).lower()
    return entries


def _scan_git(repo: Path) -> tuple[list[Finding], int]:
    index = _git_index(repo)
    files = {p: v for p, v in index.items() if v[0] not in ("120000", "160000")}  # no links
    findings: list[Finding] = []
    raw = sorted(p for p in files if p.startswith(RAW_DIR) and p not in RAW_EXEMPT)
    scan_data = sorted(p for p in files if p.startswith("data/") and not p.startswith(RAW_DIR))
    blobs = _git_blobs(repo, sorted({files[p][1] for p in raw + scan_data + ([MANIFEST] if MANIFEST in files else [])}))

    manifest, manifest_where = None, ""
    if MANIFEST in files:
        manifest, manifest_where = _parse_manifest(blobs[files[MANIFEST][1]].decode("utf-8", "replace")), "git index"
    elif (repo / MANIFEST).is_file():
        manifest, manifest_where = _parse_manifest((repo / MANIFEST).read_text(encoding="utf-8")), "working tree (not tracked)"
    for p in raw:
        full = str(repo / p)
        name = p[len(RAW_DIR):]
        if manifest is None:
            findings.append(Finding("raw_not_in_manifest", full, "git index",
                                    f"tracked, and there is no {MANIFEST} to show it is synthetic; "
                                    "regenerate the synthetic files with their manifest, or untrack it (git rm --cached)"))
        elif name not in manifest:
            findings.append(Finding("raw_not_in_manifest", full, "git index",
                                    f"tracked but not listed in {MANIFEST} ({manifest_where}): may be real data; "
                                    "untrack it (git rm --cached) unless it is synthetic"))
        else:
            digest = hashlib.sha256(blobs[files[p][1]]).hexdigest()
            if digest != manifest[name]:
                findings.append(Finding("raw_hash_mismatch", full, "git index",
                                        f"sha256 {digest[:12]}… in git, {manifest[name][:12]}… in {MANIFEST}: "
                                        "not the synthetic file the manifest lists"))
    for p in sorted(files):
        if Path(p).suffix.lower() in DATA_SUFFIXES and not p.startswith(DATA_ALLOWED_DIRS):
            findings.append(Finding("data_file_tracked", str(repo / p), "git index",
                                    f"{KINDS['data_file_tracked']}: untrack it (git rm --cached) and keep it out of git"))
    for p in scan_data:
        findings += _scan_bytes(blobs[files[p][1]], Path(p), str(repo / p))
    notebooks = sorted(p for p in files if p.lower().endswith(".ipynb"))
    nb_blobs = _git_blobs(repo, sorted({files[p][1] for p in notebooks}))
    for p in notebooks:
        findings += _tracked_notebook(nb_blobs[files[p][1]], str(repo / p))
    return findings, len(files)


def _tracked_notebook(data: bytes, shown: str) -> list[Finding]:
    """One finding for a notebook in the git index with outputs (STYLE.md 11: notebooks are
    committed stripped; the executed copies live in ``_output/``, outside git)."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [Finding("unreadable", shown, "git index", f"not a notebook that could be read ({type(exc).__name__})")]
    cells = [i for i, c in enumerate(nb.get("cells", []) or [], 1) if c.get("outputs")]
    if not cells:
        return []
    return [Finding("notebook_outputs", shown, "git index",
                    f"saved with outputs in {len(cells)} cell(s) (first: cell {cells[0]}); strip them "
                    "(jupyter nbconvert --clear-output --inplace, or nbstripout) and git add it again")]


def _scan_bytes(data: bytes, rel: Path, shown: str) -> list[Finding]:
    """A tracked file under data/ (not data/raw): tables by column, other text by line."""
    suffix = rel.suffix.lower()
    try:
        if suffix in (".parquet", ".csv", ".tsv"):
            # reference tables document their sources in prose: no free-text heuristic here
            return _scan_table(_read_table(rel, data), shown, publishable=False, heuristic=False)
        if b"\0" in data[:8192]:
            return []  # binary: not text to scan (data files are handled by data_file_tracked)
        return _text_findings(data.decode("utf-8"), shown, "")
    except UnicodeDecodeError:
        return []
    except Exception as exc:  # noqa: BLE001 - an unreadable file is reported, not skipped
        return [Finding("unreadable", shown, "", f"could not be read ({type(exc).__name__}: {exc})")]


# --------------------------------------------------------------------------------------------
# The scan


def _existing_dir(path, what: str) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_dir():
        raise ValueError(f"{what} {p} is not a directory; run the pipeline first or pass the right path.")
    return p


def _scan(out_dir, output_dir, repo_dir) -> tuple[list[Finding], list[str]]:
    out = _existing_dir(out_dir, "processed-data directory")
    output = _existing_dir(output_dir, "output directory")
    repo = _existing_dir(repo_dir, "repository directory")
    findings: list[Finding] = []
    scanned: list[str] = []

    def guarded(path: Path, fn):
        try:
            return fn()
        except ImportError as exc:
            return [Finding("unreadable", str(path), "", f"could not be read: {exc} (pip install pypdf)")]
        except Exception as exc:  # noqa: BLE001 - an unreadable file is reported, not skipped
            return [Finding("unreadable", str(path), "", f"could not be read ({type(exc).__name__}: {exc})")]

    if out is not None:
        # hidden files are the temporaries of a write in progress (or killed), not outputs
        tables = sorted(p for p in out.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".csv")
                        and not any(part.startswith(".") for part in p.relative_to(out).parts))
        for p in tables:
            rel = p.relative_to(out).parts
            publishable = rel[0] == "results" and p.suffix.lower() == ".csv"
            findings += guarded(p, lambda p=p, pub=publishable: _scan_table(_read_table(p), str(p), publishable=pub))
        scanned.append(f"{len(tables)} tables in {out}")
        if (out / "results").is_dir():
            attack_findings, note = _attack_findings(out)
            findings += attack_findings
            scanned.append(note)
    if output is not None:
        notebooks = sorted(p for p in (output / "notebooks").glob("*.ipynb") if not p.name.startswith("."))
        for p in notebooks:
            findings += guarded(p, lambda p=p: _scan_notebook(p))
        scanned.append(f"{len(notebooks)} executed notebooks")
        allowed = _bibliography_pattern(repo)
        html, pdf = output / "report.html", output / "report.pdf"
        if html.is_file():
            text = html.read_text(encoding="utf-8", errors="replace")
            findings += guarded(html, lambda: _dedupe(_html_findings(text, str(html), allowed=allowed)))
            scanned.append("report.html")
        if pdf.is_file():
            findings += guarded(pdf, lambda: _scan_pdf(pdf, allowed))
            scanned.append("report.pdf")
    if repo is not None:
        git_findings, n = _scan_git(repo)
        findings += git_findings
        scanned.append(f"{n} files in the git index")
    return findings, scanned


def _attack_findings(out: Path) -> tuple[list[Finding], str]:
    """The disclosure attack on ``<out>/results`` (:func:`analysis.attack.attack_outputs`): a
    finding for every "<5" whose attacker's interval is too narrow (``protected`` False).

    Imported here, not at the top: the attack needs scipy and the modules that declare the
    tables' ledgers, and a scan of the git index alone should not. An attack that cannot run
    is a finding too: an unchecked table is not a safe one.
    """
    try:
        from analysis import attack
    except ModuleNotFoundError as exc:
        if exc.name in ("analysis.attack",):
            return [], "disclosure attack not run (analysis/attack.py is missing)"
        return [Finding("unreadable", str(out / "results"), "disclosure attack",
                        f"the attack could not be loaded ({type(exc).__name__}: {exc})")], "disclosure attack failed"
    try:
        result = attack.attack_outputs(out)
    except Exception as exc:  # noqa: BLE001 - reported, not skipped
        return [Finding("unreadable", str(out / "results"), "disclosure attack",
                        f"the attack could not be run ({type(exc).__name__}: {exc})")], "disclosure attack failed"
    findings = []
    for row in result.to_dict("records"):
        protected = row.get("protected")
        if not (protected is False or (isinstance(protected, str) and protected.strip().lower() == "false")
                or (type(protected).__name__ == "bool_" and not protected)):
            continue
        low, high = row.get("low"), row.get("high")
        span = f"{_num(low)}" if low == high else f"{_num(low)}–{_num(high)}"
        files = str(row.get("file") or "")
        first = files.split(", ")[0]
        path = str(out / "results" / (first if first.endswith(".csv") else first + ".csv")) if first else str(out / "results")
        findings.append(Finding("recoverable_cell", path, str(row.get("where") or row.get("key")),
                                f"a '{row.get('mark', '<5')}' cell the published tables give as {span} "
                                f"(key {row.get('key')!r}; tables: {files or '?'})"))
    return findings, f"disclosure attack on {len(result)} hidden cell(s)"


def _num(x) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return str(int(f)) if f.is_integer() else f"{f:g}"


def scan(out_dir, output_dir, repo_dir=config.PROJECT_DIR) -> list[Finding]:
    """Every privacy finding in the processed data, the outputs and the git index.

    Parameters
    ----------
    out_dir : path or None
        The processed-data directory (``data/processed``); None skips it.
    output_dir : path or None
        The output directory (``_output``: ``notebooks/*.ipynb``, ``report.html``,
        ``report.pdf``); None skips it.
    repo_dir : path or None, default the project directory
        The top of the git work tree whose index is checked, and whose ``*.bib`` authors are
        allowed in the report; None skips the git checks.

    Returns
    -------
    list of Finding
        Empty when nothing was found. The rules are in the module docstring.

    Raises
    ------
    ValueError
        A directory that does not exist, a ``repo_dir`` that is not the top of a git work tree,
        or no git on the PATH.
    """
    return _scan(out_dir, output_dir, repo_dir)[0]


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies inside it, else as it is."""
    here = Path.cwd().resolve()
    try:
        return str(Path(path).resolve().relative_to(here))
    except ValueError:
        return str(path)


def cli(args: argparse.Namespace) -> int:
    """``python -m analysis check-privacy [--out DIR] [--output DIR]``: print the findings.

    Returns 1 when there are findings, 0 when there are none, 2 on a usage error. A default
    directory that does not exist yet (no pipeline run) is skipped and said so; a directory
    given on the command line must exist.
    """
    notes = []
    out = config.processed_dir(args.out)
    output = Path(args.output).resolve() if args.output else config.OUTPUT_DIR
    if args.output is None and not output.is_dir():
        notes.append(f"{_shown(str(output))} does not exist yet: not scanned")
        output = None
    if args.out is None and not out.is_dir():
        notes.append(f"{_shown(str(out))} does not exist yet: not scanned")
        out = None
    try:
        findings, scanned = _scan(out, output, config.PROJECT_DIR)
    except ValueError as exc:
        print(f"check-privacy: error: {exc}")
        return 2
    for note in notes:
        print(f"check-privacy: note: {note}")
    if not findings:
        print(f"check-privacy: no findings ({'; '.join(scanned)}).")
        return 0
    print(f"check-privacy: {len(findings)} finding(s) ({'; '.join(scanned)}):")
    for f in findings:
        where = f" — {f.location}" if f.location else ""
        print(f"  [{f.kind}] {_shown(f.path)}{where}: {f.detail}")
    return 1
