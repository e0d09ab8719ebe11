"""Executed chunks → one pandoc Markdown document, laid out the way Quarto lays out cells.

Each chunk becomes a ``.cell`` div holding its code (when echoed) and its outputs. A chunk
labelled ``fig-…`` (or with ``fig-cap``) wraps its images in a float div ``#fig-…`` with a
``.krp-caption`` div; ``tbl-…`` likewise. ``crossref.lua`` turns those into numbered figures and
tables, so the numbering is done once, by pandoc, for HTML and Typst alike.
"""

from __future__ import annotations

import base64
import warnings
from pathlib import Path

import yaml

from analysis.render.execute import Executed, strip_ansi
from analysis.render.qmd import Markdown

_IMAGES = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}


class RenderWarning(UserWarning):
    """Something Quarto would also warn about (an unresolved reference, a caption without image)."""


class ImageStore:
    """Writes image outputs as files in the build folder (Typst needs files; pandoc embeds them)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def save(self, data, ext: str, stem: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = self.folder / f"{stem}-{self.count}.{ext}"
        if ext == "svg":
            path.write_text(data if isinstance(data, str) else "".join(data), encoding="utf-8")
        else:
            path.write_bytes(base64.b64decode(data))
        return path


def document(parts: list, meta: dict, defaults: dict, images: ImageStore) -> str:
    """The whole Markdown text: a YAML metadata block, then every part in order."""
    head = "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---\n\n"
    body = [p.text if isinstance(p, Markdown) else chunk_markdown(p, defaults, images) for p in parts]
    return head + "\n\n".join(b for b in body if b.strip()) + "\n"


def chunk_markdown(done: Executed, defaults: dict, images: ImageStore) -> str:
    """Markdown for one chunk, honouring echo, output, include, warning/message, and captions."""
    opts = {**defaults, **done.chunk.options}
    if opts.get("include") is False:
        return ""
    pieces = []
    if opts.get("echo", True):
        pieces.append(_code(done.chunk, fenced=opts.get("echo") == "fenced"))
    if opts.get("output", True) is not False:
        pieces.append(_outputs(done, opts, images))
    inner = "\n\n".join(p for p in pieces if p.strip())
    if not inner:
        return ""
    return f"::: {{.cell}}\n{inner}\n:::"


def _fence(text: str, attrs: str) -> str:
    """A fenced block that its content cannot close (one backtick more than the longest run)."""
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    ticks = "`" * max(3, longest + 1)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            ticks = "`" * max(len(ticks), len(stripped) - len(stripped.lstrip("`")) + 1)
    return f"{ticks} {{{attrs}}}\n{text}\n{ticks}"


def _code(chunk, *, fenced: bool) -> str:
    if fenced:
        body = "```{python}\n" + "\n".join(x for x in (chunk.option_lines, chunk.source) if x) + "\n```"
        return _fence(body, ".markdown .cell-code")
    return _fence(chunk.source, ".python .cell-code")


def _outputs(done: Executed, opts: dict, images: ImageStore) -> str:
    label = str(opts.get("label") or "")
    asis = opts.get("output") == "asis"
    hide_stderr = opts.get("warning") is False or opts.get("message") is False
    stem = label or f"chunk-{done.chunk.index}"
    blocks, figures = [], []
    for out in done.outputs:
        kind = out.get("output_type")
        if kind == "stream":
            if out.get("name") == "stderr" and hide_stderr:
                continue
            text = out.get("text", "")
            if asis and out.get("name") == "stdout":
                blocks.append(text)
            else:
                blocks.append(_fence(text.rstrip("\n"), f".cell-output .cell-output-{out.get('name')}"))
        elif kind == "error":
            trace = strip_ansi("\n".join(out.get("traceback", [])))
            blocks.append(_fence(trace, ".cell-output .cell-output-error"))
        elif kind in ("display_data", "execute_result"):
            text, is_image = _display(out, asis, images, stem)
            if is_image:
                figures.append(text)
            else:
                blocks.append(text)
    return _with_floats(blocks, figures, opts)


def _display(out, asis: bool, images: ImageStore, stem: str) -> tuple[str, bool]:
    """Pick the richest representation both HTML and Typst can show, as Quarto does."""
    data = out.get("data", {})
    for mime, ext in _IMAGES.items():
        if mime in data:
            return str(images.save(data[mime], ext, stem)), True
    if "text/markdown" in data:
        return data["text/markdown"], False
    plain = data.get("text/plain", "")
    if asis:
        return plain, False
    shown = _fence(plain, ".cell-output .cell-output-display") if plain else ""
    if "text/html" in data:  # e.g. a pandas DataFrame: HTML in the web page, text in the PDF
        raw = _fence(data["text/html"], "=html")
        typst = f'::: {{.content-visible when-format="typst"}}\n{shown}\n:::' if shown else ""
        return raw + "\n\n" + typst, False
    return shown, False


def _with_floats(blocks: list[str], figures: list[str], opts: dict) -> str:
    """Wrap images and tables in Quarto-style float divs when the chunk has a label or caption."""
    text_md = "\n\n".join(b for b in blocks if b.strip())
    label = str(opts.get("label") or "")
    if text_md and (label.startswith("tbl-") or opts.get("tbl-cap")):
        text_md = _float(text_md, "tbl", label, opts.get("tbl-cap"), caption_first=True)
    fig_md = "\n\n".join(f"![]({p}){_alt_attr(opts.get('fig-alt'))}" for p in figures)
    if fig_md and (label.startswith("fig-") or opts.get("fig-cap")):
        fig_md = _float(fig_md, "fig", label, opts.get("fig-cap"), caption_first=False)
    elif not fig_md and label.startswith("fig-"):
        warnings.warn(f"chunk '{label}' has a figure label but made no image", RenderWarning, stacklevel=2)
    return "\n\n".join(x for x in (text_md, fig_md) if x)


def _float(content: str, kind: str, label: str, caption, *, caption_first: bool) -> str:
    """A ``::: {#fig-x}`` / ``{#tbl-x}`` div with its caption in a ``.krp-caption`` div.

    Quarto puts table captions above the table and figure captions below the figure.
    """
    numbered = label.startswith(f"{kind}-")
    if numbered and not caption:
        warnings.warn(f"chunk '{label}' has a {kind} label but no {kind}-cap; it is numbered without caption",
                      RenderWarning, stacklevel=3)
    ident = f"#{label}" if numbered else f".krp-unnumbered-{kind}"
    cap = f"::: {{.krp-caption}}\n{caption}\n:::" if caption else ""
    inner = [cap, content] if caption_first else [content, cap]
    return f"::: {{{ident}}}\n" + "\n\n".join(x for x in inner if x) + "\n:::"


def _alt_attr(alt) -> str:
    if not alt:
        return ""
    text = str(alt).replace("\\", "\\\\").replace('"', '\\"')
    return f'{{fig-alt="{text}" alt="{text}"}}'
