"""Markdown → self-contained HTML and → Typst → PDF, with the pandoc that pypandoc-binary ships
and the ``typst`` package. Pandoc's warnings (e.g. an unresolved reference) become Python
warnings, so callers and tests can see them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path

from analysis.render.markdown import RenderWarning

HERE = Path(__file__).resolve().parent
LUA_FILTER = HERE / "crossref.lua"
HTML_TEMPLATE = HERE / "template.html"
TYPST_TEMPLATE = HERE / "template.typ"
CSS = HERE / "report.css"


class RenderError(RuntimeError):
    """Pandoc or Typst could not make the output; the message carries their diagnostics."""


class _Collect(logging.Handler):
    """Keeps pypandoc's log records of pandoc's stderr (it logs them rather than raising)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _pandoc_warnings(seen: set[str]):
    handler = _Collect()
    logger = logging.getLogger("pypandoc")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    for message in handler.messages:
        text = message.strip()
        if text and text not in seen:
            seen.add(text)
            warnings.warn(f"pandoc: {text}", RenderWarning, stacklevel=4)


def _pandoc(md: Path, to: str, output: Path, extra: list[str], meta: dict, seen: set[str]) -> None:
    import pypandoc

    args = ["--lua-filter", str(LUA_FILTER)]
    if meta.get("bibliography"):
        args.append("--citeproc")  # after the filter, so @fig- refs are already resolved
    if meta.get("toc"):
        args.append("--toc")
    if meta.get("number-sections"):
        args.append("--number-sections")
    paths = [str(md.parent)] + ([meta["krp-resource-path"]] if meta.get("krp-resource-path") else [])
    args += ["--standalone", "--resource-path=" + os.pathsep.join(paths), *extra]
    from analysis.results import write_atomic

    try:
        with _pandoc_warnings(seen):
            # into a temporary file, moved into place when pandoc is done: never half a file
            write_atomic(output, lambda tmp: pypandoc.convert_file(str(md), to, format="markdown",
                                                                   outputfile=str(tmp), extra_args=args))
    except RuntimeError as exc:
        raise RenderError(f"pandoc could not write {output.name} from {md.name}: {exc}") from None


def to_html(md: Path, output: Path, meta: dict, seen: set[str]) -> Path:
    """One HTML file with CSS, images and fonts inside it (``--embed-resources``)."""
    _pandoc(md, "html5", output, ["--embed-resources", "--template", str(HTML_TEMPLATE),
                                  "--css", str(CSS), "--mathml"], meta, seen)
    return output


def to_typst(md: Path, output: Path, meta: dict, seen: set[str], headers=()) -> Path:
    """Typst source using our template (title block, A4, figure numbering off); ``headers``:
    files whose text goes raw into the header, after the template's rules (include-in-header)."""
    # "-citations": citeproc's author-date text, not Typst's own (numeric) citations, as Quarto's
    # "citeproc: true" does (pandoc before 3.7 wrote "@key" for Typst even with --citeproc)
    _pandoc(md, "typst-citations", output, ["--template", str(TYPST_TEMPLATE),
                                  *(f"--include-in-header={h}" for h in headers)], meta, seen)
    return output


def compile_pdf(typ: Path, output: Path, timestamp: int | None = None) -> Path:
    """Compile with Typst's bundled fonts only, so the PDF is the same on every machine.

    ``timestamp`` (seconds since 1970): the PDF's creation date. Without it Typst writes the
    current time into the document information, the XMP metadata and (through them) the ``/ID``,
    and no two renders have the same bytes; with it they do (``meta.build_timestamp``).
    The root is ``/`` because figures may live next to the .qmd as well as in the build folder.
    Written to a temporary file and moved into place (``write_atomic``).
    """
    import typst

    from analysis.results import write_atomic

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            write_atomic(output, lambda tmp: typst.compile(str(typ), output=str(tmp), root="/",
                                                           ignore_system_fonts=True, timestamp=timestamp))
    except typst.TypstError as exc:
        detail = (getattr(exc, "diagnostic", "") or "").strip()
        hints = "; ".join(getattr(exc, "hints", []) or [])
        raise RenderError(f"typst could not compile {typ.name}: {getattr(exc, 'message', exc)}"
                          f"{(' (hint: ' + hints + ')') if hints else ''}" + (f"\n{detail}" if detail else "")) from None
    for w in caught:
        warnings.warn(f"typst: {w.message}", RenderWarning, stacklevel=2)
    return output
