"""Render ``report.qmd`` to self-contained HTML and to PDF: with Quarto when it is installed,
else offline from maintained parts (STUDY.md section 8).

Offline path, one module per step::

    qmd.read_qmd        front matter (PyYAML) + chunks and their #| options (jupytext, Rmd mode)
    execute.execute     run the chunks and inline `{python} expr` in one kernel (nbclient)
    markdown.document   cells laid out as Quarto does; figure/table floats with captions
    pandoc.to_html      pandoc + crossref.lua (+ citeproc) → one self-contained HTML file
    pandoc.to_typst     the same Markdown → Typst, compiled by the typst package → PDF

Checks: ``parity`` compares two renders (``make quarto-check``: offline against Quarto),
``layout`` finds overflowing text and wrapped numbers in a rendered PDF or HTML.

Public API: :func:`render_report`, :func:`cli`; errors :class:`ChunkError` (a chunk or inline
expression raised), :class:`QmdError` (the document is wrong), :class:`RenderError` (pandoc,
typst or quarto failed); warnings :class:`RenderWarning`. Each error's message is one line
naming the file and the chunk or line (plus where to read more), never a traceback.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

from analysis.render.execute import ChunkError
from analysis.render.markdown import RenderWarning
from analysis.render.pandoc import RenderError
from analysis.render.qmd import QmdError

__all__ = ["render_report", "render_offline", "cli", "ChunkError", "QmdError", "RenderError", "RenderWarning"]

FORMATS = ("html", "pdf")
ENGINES = ("auto", "quarto", "offline")


def render_report(qmd, output_dir, *, formats=FORMATS, engine: str = "auto",
                  env: dict | None = None) -> dict[str, Path]:
    """Render ``qmd`` into ``output_dir``; return ``{"html": path, "pdf": path}`` for what was made.

    Parameters
    ----------
    qmd : path of the ``.qmd``; its folder is the working directory of the code.
    output_dir : where ``<stem>.html`` and ``<stem>.pdf`` are written (created if missing).
    formats : any of "html", "pdf".
    engine : "auto" (Quarto if on the PATH, else offline), "quarto" or "offline".
    env : extra environment variables for the code, e.g. ``{"KRACHTPUNTEN_OUT": "..."}``.

    Raises
    ------
    ValueError for an unknown format or engine; FileNotFoundError for a missing .qmd;
    ChunkError when a chunk raises (names the chunk); QmdError when the document is wrong (front
    matter, chunk options); RenderError when pandoc/typst/quarto fail.
    """
    formats = _check_formats(formats)
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    qmd = Path(qmd).resolve()
    if not qmd.is_file():
        raise FileNotFoundError(f"{qmd} does not exist")
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    from analysis.render import quarto

    if engine == "quarto" or (engine == "auto" and quarto.quarto_path()):
        return quarto.render_with_quarto(qmd, output_dir, formats, env)
    return render_offline(qmd, output_dir, formats=formats, env=env)


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be a non-empty selection of {FORMATS}, got {formats!r}")
    return formats


def render_offline(qmd: Path, output_dir: Path, *, formats=FORMATS, env: dict | None = None) -> dict[str, Path]:
    """The offline path (no Quarto): execute, lay out, then pandoc (and typst for the PDF).

    Every file lands in ``output_dir`` whole or not at all (a temporary file moved into place,
    ``analysis.results.write_atomic``), so a run killed half-way leaves the previous report.
    The executed chunks are kept as a notebook, ``notebooks/<stem>.ipynb`` under ``output_dir``
    (beside the stages' executed notebooks): a failing chunk's message points to its traceback
    there. When pandoc or typst fail, their input (``<stem>.md`` or ``<stem>.typ``, which their
    messages cite by line) is kept in ``output_dir``. The PDF's creation date is
    :func:`analysis.render.meta.build_timestamp` (``SOURCE_DATE_EPOCH``, else the git commit).

    Set ``keep-md: true`` or ``keep-typ: true`` in the front matter to keep the intermediates
    next to the outputs, as Quarto does.
    """
    from analysis.render import execute, markdown, meta, pandoc, qmd as qmd_mod

    formats = _check_formats(formats)
    doc = qmd_mod.read_qmd(qmd)
    metadata = meta.pandoc_metadata(doc.front, doc.path)
    defaults = _execute_defaults(doc.front, qmd)
    stem = doc.path.stem
    try:
        timestamp = meta.build_timestamp(doc.path)
    except ValueError as exc:  # SOURCE_DATE_EPOCH is not a number
        raise RenderError(str(exc)) from None
    written: dict[str, Path] = {}
    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix=f"{stem}-render-") as tmp:
        build = Path(tmp)
        parts = execute.execute(doc, env, executed_copy=output_dir / "notebooks" / f"{stem}.ipynb")
        text = markdown.document(parts, metadata, defaults, markdown.ImageStore(build / f"{stem}_files"))
        text += "\n" + meta.references_section(doc.front, text) + "\n"
        md = build / f"{stem}.md"
        md.write_text(text, encoding="utf-8")
        with _keep_on_failure(md, output_dir):
            if "html" in formats:
                written["html"] = pandoc.to_html(md, output_dir / f"{stem}.html", metadata, seen)
            if "pdf" in formats:
                headers = []
                for i, text in enumerate(meta.header_includes(doc.front, "typst", doc.path)):
                    headers.append(build / f"header-{i}.typ")
                    headers[-1].write_text(text, encoding="utf-8")
                typ = pandoc.to_typst(md, build / f"{stem}.typ", metadata, seen, headers)
        if "pdf" in formats:
            with _keep_on_failure(typ, output_dir):
                written["pdf"] = pandoc.compile_pdf(typ, output_dir / f"{stem}.pdf", timestamp)
            if doc.front.get("keep-typ"):
                _copy_atomic(typ, output_dir / typ.name)
        if doc.front.get("keep-md"):
            _copy_atomic(md, output_dir / md.name)
    return written


def _copy_atomic(source: Path, target: Path) -> Path:
    from analysis.results import write_atomic

    return write_atomic(target, lambda tmp: shutil.copyfile(source, tmp))


@contextlib.contextmanager
def _keep_on_failure(intermediate: Path, output_dir: Path):
    """On a RenderError, keep ``intermediate`` in ``output_dir`` (it vanishes with the build folder)
    and say where: pandoc's and typst's messages cite it by line."""
    try:
        yield
    except RenderError as exc:
        kept = _copy_atomic(intermediate, output_dir / intermediate.name)
        raise RenderError(f"{exc}\n  its input is kept at {kept}") from None


def _execute_defaults(front: dict, qmd: Path) -> dict:
    """Chunk-option defaults from front matter ``execute:`` (Quarto's default for echo is true)."""
    execute = front.get("execute") or {}
    if not isinstance(execute, dict):
        raise QmdError(f"{qmd.name}: 'execute:' in the front matter must be a mapping (e.g. echo: false)")
    known = ("echo", "output", "include", "warning", "message", "error", "eval")
    return {"echo": True, **{k: v for k, v in execute.items() if k in known}}


def cli(args) -> int:
    """``python -m analysis render``: render the report, print the files or one clear error."""
    from analysis import config

    qmd = Path(args.qmd) if getattr(args, "qmd", None) else config.REPORT_QMD
    output = Path(args.output) if getattr(args, "output", None) else config.OUTPUT_DIR
    env = {config.ENV_OUT: str(config.processed_dir(getattr(args, "out", None)))}
    try:
        files = render_report(qmd, output, formats=tuple(getattr(args, "to", None) or FORMATS),
                              engine=getattr(args, "engine", "auto") or "auto", env=env)
    except (ChunkError, QmdError, RenderError, ValueError, FileNotFoundError) as exc:
        print(f"render failed: {exc}", file=sys.stderr)
        return 1
    for path in files.values():
        print(path)
    return 0
