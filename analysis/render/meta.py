"""Front matter → pandoc metadata, the way Quarto shows it: authors, dates and language words.

Quarto takes its words ("Figuur", "Referenties", callout titles) from a language file chosen by
``lang``; we keep the few we need here, copied from Quarto's ``_language.yml`` and
``_language-nl.yml`` (quarto-cli ``src/resources/language``), so HTML and Typst share them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path

from analysis.render.qmd import QmdError

#: Words per language, with Quarto's keys (``crossref-fig-title`` …). English is the fallback.
LANGUAGES: dict[str, dict[str, str]] = {
    "en": {
        "crossref-fig-title": "Figure",
        "crossref-tbl-title": "Table",
        "section-title-references": "References",
        "callout-note-title": "Note",
        "callout-tip-title": "Tip",
        "callout-warning-title": "Warning",
        "callout-important-title": "Important",
        "callout-caution-title": "Caution",
        "title-block-author-single": "Author",
        "title-block-author-plural": "Authors",
        "title-block-published": "Published",
    },
    "nl": {
        "crossref-fig-title": "Figuur",
        "crossref-tbl-title": "Tabel",
        "section-title-references": "Referenties",
        "callout-note-title": "Opmerking",
        "callout-tip-title": "Tip",
        "callout-warning-title": "Waarschuwing",
        "callout-important-title": "Belangrijk",
        "callout-caution-title": "Opgelet",
        "title-block-author-single": "Auteur",
        "title-block-author-plural": "Auteurs",
        "title-block-published": "Publicatiedatum",
    },
}

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
}
_MONTHS_SHORT = {
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "nl": "jan. feb. mrt. apr. mei jun. jul. aug. sep. okt. nov. dec.",
}
_DAYS = {  # Monday first, as datetime.weekday() counts
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "nl": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
}
# Quarto's date styles (dayjs locale formats L, LL, ll and a full form with the weekday)
_STYLES = {
    "en": {"full": "dddd, MMMM D, YYYY", "long": "MMMM D, YYYY", "medium": "MMM D, YYYY", "short": "M/D/YY"},
    "nl": {"full": "dddd D MMMM YYYY", "long": "D MMMM YYYY", "medium": "D MMM YYYY", "short": "DD-MM-YYYY"},
}
_TOKENS = re.compile(r"\[([^\]]*)\]|YYYY|YY|MMMM|MMM|MM|M|DD|D|dddd|ddd|HH|mm|ss")


def language(lang: str | None) -> str:
    """The language code we have words for: ``nl-NL`` → ``nl``; unknown languages → ``en``.

    >>> language("nl-NL"), language("fr"), language(None)
    ('nl', 'en', 'en')
    """
    base = (lang or "en").split("-")[0].lower()
    return base if base in LANGUAGES else "en"


def words(lang: str | None) -> dict[str, str]:
    """Quarto's words for ``lang``.

    >>> words("nl")["crossref-fig-title"]
    'Figuur'
    """
    return LANGUAGES[language(lang)]


def format_date(date: dt.date, fmt: str | None, lang: str | None) -> str:
    """Format ``date`` like Quarto's ``date-format``: a style (full, long, medium, short, iso) or
    a dayjs pattern (``D MMMM YYYY``; text in ``[…]`` is literal). No format means ``long``.

    >>> format_date(dt.date(2025, 5, 1), None, "nl")
    '1 mei 2025'
    >>> format_date(dt.date(2005, 3, 7), "long", "en")
    'March 7, 2005'
    >>> format_date(dt.date(2025, 5, 1), "dddd D MMMM YYYY", "nl")
    'donderdag 1 mei 2025'
    >>> format_date(dt.date(2025, 5, 1), "iso", "nl")
    '2025-05-01'
    """
    code = language(lang)
    fmt = fmt or "long"
    if fmt == "iso":
        return date.isoformat()[:10]
    fmt = _STYLES[code].get(fmt, fmt)
    when = date if isinstance(date, dt.datetime) else dt.datetime(date.year, date.month, date.day)

    def token(m: re.Match) -> str:
        t = m.group(0)
        values = {
            "YYYY": f"{when.year:04d}", "YY": f"{when.year % 100:02d}",
            "MMMM": _MONTHS[code].split()[when.month - 1], "MMM": _MONTHS_SHORT[code].split()[when.month - 1],
            "MM": f"{when.month:02d}", "M": str(when.month), "DD": f"{when.day:02d}", "D": str(when.day),
            "dddd": _DAYS[code].split()[when.weekday()], "ddd": _DAYS[code].split()[when.weekday()][:3],
            "HH": f"{when.hour:02d}", "mm": f"{when.minute:02d}", "ss": f"{when.second:02d}",
        }
        return m.group(1) if m.group(1) is not None else values[t]

    return _TOKENS.sub(token, fmt)


def parse_date(value, source: Path | None = None, today: dt.date | None = None) -> dt.date | None:
    """A date from front matter: a YAML date, ISO text, Quarto's ``MM/dd/yyyy`` forms, or the
    keywords ``today``, ``now`` (``today``, a date or datetime, stands in for the clock: the
    renderer passes ``SOURCE_DATE_EPOCH``'s when it is set) and ``last-modified`` (the .qmd's
    modification time). Returns None for text Quarto could not parse either (it is then shown as written).

    >>> parse_date("2025-05-01"), parse_date("03/07/2005"), parse_date("voorjaar 2025")
    (datetime.date(2025, 5, 1), datetime.date(2005, 3, 7), None)
    """
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if text == "today":
        return (today.date() if isinstance(today, dt.datetime) else today) or dt.date.today()
    if text == "now":
        return today if isinstance(today, dt.datetime) else dt.datetime.now()
    if text == "last-modified":
        if source is None:
            raise ValueError("date: last-modified needs the path of the .qmd")
        return dt.datetime.fromtimestamp(source.stat().st_mtime)
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%d %m %Y", "%m %d, %Y", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def source_date(env: dict | None = None) -> dt.datetime | None:
    """``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) as a datetime, or None when it is not set.

    The reproducible-builds convention (https://reproducible-builds.org/specs/source-date-epoch/)
    for "the time of this build"; Typst's CLI honours it too.

    >>> source_date({"SOURCE_DATE_EPOCH": "1746057600"})
    datetime.datetime(2025, 5, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> source_date({}) is None
    True
    """
    text = (os.environ if env is None else env).get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {text!r}")
    return dt.datetime.fromtimestamp(int(text), dt.timezone.utc)


def build_timestamp(qmd: Path, env: dict | None = None) -> int:
    """The creation date written into the PDF, in seconds since 1970, so that a rerun gives the
    same bytes (Typst would write the current time, its XMP metadata and ``/ID`` with it).

    In order: ``SOURCE_DATE_EPOCH`` when set; else the commit time of ``HEAD`` of the git
    repository holding the .qmd (the code the report was made from; ``git log -1 --format=%ct``);
    else, outside a git checkout (an exported copy), the .qmd's modification time. Not the raw
    data's dates: the renderer does not see the raw files, and the processed data record their
    hashes, not a date (``provenance.json``).
    """
    when = source_date(env)
    if when is not None:
        return int(when.timestamp())
    qmd = Path(qmd)
    try:
        result = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=qmd.parent, capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        result = None
    if result is not None and result.returncode == 0 and result.stdout.strip().isdigit():
        return int(result.stdout.strip())
    return int(qmd.stat().st_mtime)


def author_names(author) -> list[str]:
    """Quarto's ``author:`` as a list of names: a string, a list of strings, or dicts with ``name``
    (which may itself be a dict with ``literal`` or ``given``/``family``).

    >>> author_names("A. Jansen")
    ['A. Jansen']
    >>> author_names([{"name": "A. Jansen", "affiliation": "X"}, "B. de Vries"])
    ['A. Jansen', 'B. de Vries']
    >>> author_names([{"name": {"given": "Anna", "family": "Jansen"}}])
    ['Anna Jansen']
    """
    if author is None:
        return []
    items = author if isinstance(author, list) else [author]
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, dict):
            name = name.get("literal") or " ".join(str(name[k]) for k in ("given", "family") if name.get(k))
        if not name:
            raise QmdError(f"author entry {item!r} has no name; write 'author: [Name, …]' or '- name: Name'")
        names.append(str(name))
    return names


# front-matter keys that pandoc itself understands and that mean the same to Quarto
_PASS_THROUGH = ("title", "subtitle", "abstract", "lang", "toc", "toc-title", "number-sections",
                 "link-citations", "nocite", "keywords")


def pandoc_metadata(front: dict, qmd: Path) -> dict:
    """The metadata block we hand to pandoc: names, formatted date, absolute bibliography paths,
    and the language words the Lua filter and templates use (under ``krp-words``)."""
    if not isinstance(front, dict):
        raise QmdError(f"{qmd}: the front matter must be a YAML mapping (key: value lines between '---')")
    lang = front.get("lang") or "en"
    meta = {k: front[k] for k in _PASS_THROUGH if k in front}
    meta["lang"] = lang
    names = author_names(front.get("author"))
    if names:
        meta["author"] = names
        plural = "plural" if len(names) > 1 else "single"
        meta["krp-author-label"] = words(lang)[f"title-block-author-{plural}"]
    if front.get("date") is not None:
        # "today"/"now" mean the day of the render, or SOURCE_DATE_EPOCH's day when it is set
        parsed = parse_date(front["date"], qmd, today=source_date())
        meta["date"] = format_date(parsed, front.get("date-format"), lang) if parsed else str(front["date"])
    for key in ("bibliography", "csl"):
        if front.get(key):
            files = front[key] if isinstance(front[key], list) else [front[key]]
            paths = [(qmd.parent / f).resolve() for f in files]
            missing = [str(p) for p in paths if not p.is_file()]
            if missing:
                raise QmdError(f"{qmd.name}: {key} file(s) not found: {', '.join(missing)}")
            meta[key] = [str(p) for p in paths] if key == "bibliography" else str(paths[0])
    for fmt in ("html", "typst"):  # Quarto's tbl-colwidths per format (true, false or "auto")
        value = format_options(front, fmt).get("tbl-colwidths", front.get("tbl-colwidths"))
        if value is not None:
            if value not in (True, False, "auto"):
                raise QmdError(f"{qmd.name}: the offline renderer knows tbl-colwidths true, false or auto, not {value!r}")
            meta[f"krp-tbl-colwidths-{fmt}"] = value is not False
    typst = format_options(front, "typst")
    for key in ("papersize", "margin"):  # page options of Quarto's Typst format
        if typst.get(key):
            meta[key] = typst[key]
    lw = words(lang)
    meta["krp-words"] = dict(lw)
    meta["krp-typst-lang"] = str(lang).split("-")[0].lower()  # Typst wants "nl", not "nl-NL"
    meta["krp-resource-path"] = str(qmd.parent.resolve())
    return meta


def format_options(front: dict, fmt: str) -> dict:
    """The options under ``format: <fmt>:`` (``format: typst`` alone gives none).

    >>> format_options({"format": {"typst": {"papersize": "a4"}, "html": "default"}}, "typst")
    {'papersize': 'a4'}
    >>> format_options({"format": {"html": "default"}}, "html"), format_options({}, "typst")
    ({}, {})
    """
    formats = front.get("format") or {}
    options = formats.get(fmt) if isinstance(formats, dict) else None
    return options if isinstance(options, dict) else {}


def header_includes(front: dict, fmt: str, qmd: Path) -> list[str]:
    """The texts of ``format: <fmt>: include-in-header:`` (Quarto's form: a file name, or a
    ``text:`` entry, or a list of them), which pandoc puts raw into the output's header.

    >>> header_includes({"format": {"typst": {"include-in-header": [{"text": "#set par(justify: false)"}]}}},
    ...                 "typst", Path("report.qmd"))
    ['#set par(justify: false)']
    """
    entries = format_options(front, fmt).get("include-in-header") or []
    texts = []
    for entry in entries if isinstance(entries, list) else [entries]:
        if isinstance(entry, dict) and "text" in entry:
            texts.append(str(entry["text"]))
        elif isinstance(entry, dict) and "file" in entry or isinstance(entry, str):
            path = qmd.parent / (entry["file"] if isinstance(entry, dict) else entry)
            if not path.is_file():
                raise QmdError(f"{qmd.name}: include-in-header file not found: {path}")
            texts.append(path.read_text(encoding="utf-8"))
        else:
            raise QmdError(f"{qmd.name}: include-in-header entries are a file name or 'text: ...', not {entry!r}")
    return texts


def references_section(front: dict, markdown_text: str) -> str:
    """Where Quarto puts the bibliography when the text has no ``::: {#refs}`` div: a section at
    the end, titled in the document's language (``reference-section-title`` overrides), at the
    level of the document's top sections (so it sits beside ``## Resultaten``, not above it).

    >>> references_section({"bibliography": "x.bib", "lang": "nl"}, "## Inleiding\\n")
    '## Referenties {#references .unnumbered}\\n\\n::: {#refs}\\n:::'
    >>> references_section({"bibliography": "x.bib"}, "```\\n# code\\n```\\n## Intro\\n")[:13]
    '## References'
    >>> references_section({"lang": "nl"}, "## Inleiding")
    ''
    """
    if not front.get("bibliography") or re.search(r"\{#refs[\s}]", markdown_text):
        return ""
    from analysis.render.qmd import _segments

    prose = "".join(text for text, is_code in _segments(markdown_text) if not is_code)
    levels = [len(m.group(1)) for m in re.finditer(r"^(#{1,6})\s", prose, re.M)]
    title = front.get("reference-section-title") or words(front.get("lang"))["section-title-references"]
    return f"{'#' * min(levels, default=1)} {title} {{#references .unnumbered}}\n\n::: {{#refs}}\n:::"
