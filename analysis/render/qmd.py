"""Read a Quarto ``.qmd`` into front matter, markdown and code chunks with their ``#|`` options.

jupytext reads the chunks (R Markdown mode understands ```` ```{python} ````); the front matter is
read with PyYAML because jupytext keeps it as one raw cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_FENCE_OPEN = re.compile(r"^(`{3,})\s*\{(\w+)[^}]*\}\s*$")
INLINE = re.compile(r"`\{python\}\s+([^`]+?)\s*`")

class QmdError(ValueError):
    """The document itself is wrong (front matter, chunk options, a chunk's language); the message
    names the file and the chunk or line."""


# chunk options we honour and the types Quarto allows for them
_BOOL_OR = {"echo": ("fenced",), "output": ("asis",), "include": (), "eval": (), "warning": (),
            "message": (), "error": ()}


@dataclass(frozen=True)
class Chunk:
    """One ```` ```{python} ```` chunk: its code (without option lines) and options."""

    index: int
    source: str
    options: dict = field(default_factory=dict)
    line: int | None = None
    option_lines: str = ""
    #: line in the .qmd of the first line of ``source`` (to name the line that raised)
    code_line: int | None = None

    @property
    def label(self) -> str | None:
        return self.options.get("label")

    def describe(self, qmd_name: str = "the .qmd") -> str:
        """How an error message names this chunk: label, number and line."""
        where = f"chunk {self.index}" + (f", line {self.line} of {qmd_name}" if self.line else "")
        return f"'{self.label}' ({where})" if self.label else where

    def qmd_line(self, code_line: int) -> int | None:
        """The .qmd's line number of line ``code_line`` (1-based) of the chunk's code.

        >>> Chunk(1, "x = 1\\ny = 2", code_line=12).qmd_line(2)
        13
        """
        return None if self.code_line is None else self.code_line + code_line - 1


@dataclass(frozen=True)
class Markdown:
    """Markdown between chunks; may hold inline expressions `` `{python} expr` ``."""

    text: str
    line: int | None = None


@dataclass(frozen=True)
class Qmd:
    """A parsed document: the front matter and the parts in order."""

    path: Path
    front: dict
    parts: tuple
    #: (line, expression) of every inline `` `{python} expr` `` in the file, in order
    inline_lines: tuple = ()

    @property
    def chunks(self) -> list[Chunk]:
        return [p for p in self.parts if isinstance(p, Chunk)]


def read_front_matter(text: str, name: str = "document") -> dict:
    """The YAML front matter as a dict (empty when there is none).

    >>> read_front_matter("---\\ntitle: Hoi\\nlang: nl\\n---\\ntext")
    {'title': 'Hoi', 'lang': 'nl'}
    """
    m = _FRONT.match(text)
    if not m:
        return {}
    try:
        front = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise QmdError(f"{name}: the front matter is not valid YAML: {exc}") from None
    if not isinstance(front, dict):
        raise QmdError(f"{name}: the front matter must be key: value lines between '---'")
    return front


def split_options(source: str, where: str = "chunk") -> tuple[dict, str, str]:
    """Split Quarto's ``#| key: value`` lines off the top of a chunk.

    Returns (options, code, the option lines as written). The lines are YAML, as in Quarto.

    >>> split_options("#| label: fig-a\\n#| echo: false\\nx = 1")
    ({'label': 'fig-a', 'echo': False}, 'x = 1', '#| label: fig-a\\n#| echo: false')
    """
    lines = source.splitlines()
    n = 0
    while n < len(lines) and lines[n].startswith("#|"):
        n += 1
    yaml_text = "\n".join(line[3:] if line.startswith("#| ") else line[2:] for line in lines[:n])
    try:
        options = yaml.safe_load(yaml_text) or {} if n else {}
    except yaml.YAMLError as exc:
        raise QmdError(f"{where}: the '#|' option lines are not valid YAML: {exc}") from None
    if not isinstance(options, dict):
        raise QmdError(f"{where}: '#|' lines must be 'key: value' pairs, got {yaml_text!r}")
    _check_options(options, where)
    return options, "\n".join(lines[n:]).strip("\n"), "\n".join(lines[:n])


def _check_options(options: dict, where: str) -> None:
    for key, extra in _BOOL_OR.items():
        if key in options and not (isinstance(options[key], bool) or options[key] in extra):
            allowed = ", ".join(["true", "false", *extra])
            raise QmdError(f"{where}: option '{key}: {options[key]}' must be one of {allowed}")
    label = options.get("label")
    if label is not None and not re.fullmatch(r"[A-Za-z][\w:.-]*", str(label)):
        raise QmdError(f"{where}: label {label!r} must start with a letter and hold no spaces")


def _chunk_lines(text: str) -> list[int]:
    """1-based line numbers of the ```` ```{python} ```` fences, to name chunks in errors."""
    found, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        if fence:
            if line.strip() == fence:
                fence = None
            continue
        m = _FENCE_OPEN.match(line.strip())
        if m:
            fence = m.group(1)
            if m.group(2) == "python":
                found.append(number)
        elif line.lstrip().startswith("```"):
            fence = line.strip()[: len(line.strip()) - len(line.strip().lstrip("`"))]
    return found


def read_qmd(path: Path) -> Qmd:
    """Parse ``path``: front matter, then markdown and python chunks in document order."""
    import jupytext

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    text = path.read_text(encoding="utf-8")
    front = read_front_matter(text, path.name)
    nb = jupytext.reads(text, fmt="Rmd")
    lines = _chunk_lines(text)
    parts: list = []
    n_code = 0
    for cell in nb.cells:
        if cell.cell_type == "raw" and not parts and cell.source.startswith("---"):
            continue  # the front matter, read above
        if cell.cell_type == "code":
            n_code += 1
            _check_language(cell, path, n_code)
            line = lines[n_code - 1] if len(lines) >= n_code else None
            where = f"{path.name}, chunk {n_code}" + (f" (line {line})" if line else "")
            options, code, option_lines = split_options(cell.source, where)
            parts.append(Chunk(n_code, code, options, line, option_lines, _code_line(cell.source, line)))
        else:
            text_part = cell.source
            if parts and isinstance(parts[-1], Markdown):  # jupytext splits at double blank lines
                parts[-1] = Markdown(parts[-1].text + "\n\n" + text_part, parts[-1].line)
            else:
                parts.append(Markdown(text_part))
    return Qmd(path.resolve(), front, tuple(parts), tuple(inline_lines(text)))


def _code_line(cell_source: str, fence_line: int | None) -> int | None:
    """The .qmd line of the chunk's first code line: after the fence, the ``#|`` lines and the
    blank lines that :func:`split_options` strips."""
    if fence_line is None:
        return None
    lines = cell_source.splitlines()
    n = 0
    while n < len(lines) and lines[n].startswith("#|"):
        n += 1
    while n < len(lines) and lines[n] == "":
        n += 1
    return fence_line + 1 + n


def inline_lines(text: str) -> list[tuple[int, str]]:
    """(line, expression) of each inline expression of a whole .qmd, outside fenced code, so an
    error can name the line.

    >>> inline_lines("---\\ntitle: T\\n---\\n\\nn = `{python} n`\\n```{python}\\n`{python} no`\\n```\\nm = `{python} m`")
    [(5, 'n'), (9, 'm')]
    """
    found, line = [], 1
    for segment, is_code in _segments(text):
        if not is_code:
            found += [(line + segment[: m.start()].count("\n"), m.group(1)) for m in INLINE.finditer(segment)]
        line += segment.count("\n")
    return found


def _check_language(cell, path: Path, number: int) -> None:
    first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
    lang = cell.metadata.get("language")
    if (lang and lang != "python") or re.match(r"%%(R|bash|sh|js|julia)\b", first):
        raise QmdError(f"{path.name}, chunk {number}: only ```{{python}} chunks can be run offline")


def inline_expressions(text: str) -> list[str]:
    """The inline expressions in markdown, outside fenced code blocks.

    >>> inline_expressions("n = `{python} n_total` en `x`")
    ['n_total']
    """
    return [m.group(1) for segment, is_code in _segments(text) if not is_code for m in INLINE.finditer(segment)]


def replace_inline(text: str, values: list[str]) -> str:
    """Put ``values`` in place of the inline expressions, in order (fenced code left alone).

    >>> replace_inline("n = `{python} n` en m = `{python} m`", ["12", "3"])
    'n = 12 en m = 3'
    """
    pending = iter(values)
    return "".join(seg if code else INLINE.sub(lambda m: next(pending), seg) for seg, code in _segments(text))


def _segments(text: str) -> list[tuple[str, bool]]:
    """Split markdown into (text, is_fenced_code) pieces, keeping line ends."""
    out, buf, fence = [], [], None
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        opening = re.match(r"^(`{3,}|~{3,})", stripped)
        if fence is None and opening:
            out.append(("".join(buf), False))
            buf, fence = [line], opening.group(1)
        elif fence is not None and stripped.startswith(fence) and stripped.strip(fence[0]) == "":
            buf.append(line)
            out.append(("".join(buf), True))
            buf, fence = [], None
        else:
            buf.append(line)
    out.append(("".join(buf), fence is not None))
    return [s for s in out if s[0]]
