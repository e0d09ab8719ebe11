"""Render ``report.qmd`` to self-contained HTML and to PDF: with Quarto when it is installed,
else offline from maintained parts (STUDY.md section 8).

Offline path, one module per step::

    qmd.read_qmd        front matter (PyYAML) + chunks and their #| options (jupytext, Rmd mode)
    execute.execute     run the chunks and inline `{python} expr` in one kernel (nbclient)
    markdown.document   cells laid out as Quarto does; figure/table floats with captions
    pandoc.to_html      pandoc + crossref.lua (+ citeproc) → one self-contained HTML file
    pandoc.to_typst     the same Markdown → Typst, compiled by the typst package → PDF

Public API: :func:`render_report`, :func:`cli`; errors :class:`ChunkError`, :class:`RenderError`;
warnings :class:`RenderWarning`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from analysis.render.execute import ChunkError
from analysis.render.markdown import RenderWarning
from analysis.render.pandoc import RenderError

__all__ = ["render_report", "render_offline", "cli", "ChunkError", "RenderError", "RenderWarning"]

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
    ChunkError when a chunk raises (names the chunk); RenderError when pandoc/typst/quarto fail.
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

    Set ``keep-md: true`` or ``keep-typ: true`` in the front matter to keep the intermediates
    next to the outputs, as Quarto does.
    """
    from analysis.render import execute, markdown, meta, pandoc, qmd as qmd_mod

    formats = _check_formats(formats)
    doc = qmd_mod.read_qmd(qmd)
    metadata = meta.pandoc_metadata(doc.front, doc.path)
    defaults = _execute_defaults(doc.front, qmd)
    stem = doc.path.stem
    written: dict[str, Path] = {}
    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix=f"{stem}-render-") as tmp:
        build = Path(tmp)
        parts = execute.execute(doc, env)
        text = markdown.document(parts, metadata, defaults, markdown.ImageStore(build / f"{stem}_files"))
        text += "\n" + meta.references_section(doc.front, text) + "\n"
        md = build / f"{stem}.md"
        md.write_text(text, encoding="utf-8")
        if "html" in formats:
            written["html"] = pandoc.to_html(md, output_dir / f"{stem}.html", metadata, seen)
        if "pdf" in formats:
            typ = pandoc.to_typst(md, build / f"{stem}.typ", metadata, seen)
            written["pdf"] = pandoc.compile_pdf(typ, output_dir / f"{stem}.pdf")
            if doc.front.get("keep-typ"):
                shutil.copy(typ, output_dir / typ.name)
        if doc.front.get("keep-md"):
            shutil.copy(md, output_dir / md.name)
    return written


def _execute_defaults(front: dict, qmd: Path) -> dict:
    """Chunk-option defaults from front matter ``execute:`` (Quarto's default for echo is true)."""
    execute = front.get("execute") or {}
    if not isinstance(execute, dict):
        raise ValueError(f"{qmd.name}: 'execute:' in the front matter must be a mapping (e.g. echo: false)")
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
    except (ChunkError, RenderError, ValueError, FileNotFoundError) as exc:
        print(f"render failed: {exc}", file=sys.stderr)
        return 1
    for path in files.values():
        print(path)
    return 0
