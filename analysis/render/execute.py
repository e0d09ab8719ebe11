"""Run a parsed .qmd in one Jupyter kernel with nbclient: chunks in order, inline expressions at
their place in the text (after the chunks above them), as Quarto's Jupyter engine does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from analysis.render.qmd import Chunk, Markdown, Qmd, inline_expressions, replace_inline

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Quarto's defaults for HTML figures (fig-width 7, fig-height 5 inches, retina), run hidden first
_SETUP = """
try:
    import matplotlib as __krp_mpl
    __krp_mpl.rcParams["figure.figsize"] = (7, 5)
    get_ipython().run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    get_ipython().run_line_magic("config", "InlineBackend.print_figure_kwargs = {'bbox_inches': 'tight', 'dpi': 192}")
    del __krp_mpl
except ImportError:
    pass
"""

# a str is shown as itself (Quarto strips the quotes), anything else by its display repr. Not
# IPython's Pretty(): it reads the string as a file name when such a file exists.
_INLINE = ("(lambda __v: type('InlineText', (), {{'_repr_pretty_': lambda self, p, cycle: p.text(__v)}})() "
           "if isinstance(__v, str) else __v)(({expr}))")


class ChunkError(RuntimeError):
    """A chunk (or an inline expression) raised; the message names it and gives the error."""


@dataclass(frozen=True)
class Executed:
    """A chunk with the outputs its run produced (empty when ``eval: false``)."""

    chunk: Chunk
    outputs: list


def strip_ansi(text: str) -> str:
    """Tracebacks from the kernel carry terminal colours; remove them for readable messages.

    >>> strip_ansi("\\x1b[0;31mValueError\\x1b[0m: boom")
    'ValueError: boom'
    """
    return _ANSI.sub("", text)


def execute(doc: Qmd, env: dict | None = None, *, timeout: int = 600, kernel_name: str = "python3") -> list:
    """Run every chunk of ``doc`` in a fresh kernel started in the .qmd's folder.

    Returns the parts in order: :class:`Executed` for chunks and :class:`Markdown` with the inline
    expressions replaced by their values. Raises :class:`ChunkError` naming the failing chunk.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    client = NotebookClient(
        nb, kernel_name=kernel_name, timeout=timeout,
        resources={"metadata": {"path": str(doc.path.parent)}},
    )
    kernel_env = {**os.environ, **{k: str(v) for k, v in (env or {}).items()}}
    kernel_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiets a debugger warning on stderr
    parts: list = []
    with client.setup_kernel(env=kernel_env):
        _run_cell(client, nb, _SETUP, store_history=False)
        for part in doc.parts:
            if isinstance(part, Chunk):
                parts.append(_run_chunk(client, nb, part, doc.path.name))
            else:
                values = [_inline_value(client, nb, expr, doc.path.name) for expr in inline_expressions(part.text)]
                parts.append(Markdown(replace_inline(part.text, values), part.line))
    return parts


def _run_cell(client, nb, source: str, *, store_history: bool = True, tags: tuple = ()):
    """Execute one cell; raise nbclient's CellExecutionError when it fails (unless tagged)."""
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    nb.cells.append(cell)
    client.execute_cell(cell, len(nb.cells) - 1, store_history=store_history)
    return cell


def _run_chunk(client, nb, chunk: Chunk, qmd_name: str) -> Executed:
    if chunk.options.get("eval") is False or not chunk.source.strip():
        return Executed(chunk, [])
    from nbclient.exceptions import CellExecutionError

    tags = ("raises-exception",) if chunk.options.get("error") is True else ()
    try:
        cell = _run_cell(client, nb, chunk.source, tags=tags)
    except CellExecutionError as exc:
        raise ChunkError(f"{chunk.describe(qmd_name)} failed: {_error_text(nb.cells[-1], exc)}") from None
    return Executed(chunk, list(cell.outputs))


def _inline_value(client, nb, expr: str, qmd_name: str) -> str:
    """The text Quarto puts in place of `` `{python} expr` ``: markdown repr, else text/plain."""
    from nbclient.exceptions import CellExecutionError

    try:
        cell = _run_cell(client, nb, _INLINE.format(expr=expr), store_history=False)
    except CellExecutionError as exc:
        raise ChunkError(f"inline expression `{{python}} {expr}` in {qmd_name} failed: "
                         f"{_error_text(nb.cells[-1], exc)}") from None
    for out in cell.outputs:
        if out.output_type == "execute_result":
            data = out.get("data", {})
            return data.get("text/markdown") or data.get("text/plain", "")
    return ""


def _error_text(cell, exc) -> str:
    """``ValueError: message`` and the traceback, without terminal colours."""
    for out in cell.outputs:
        if out.output_type == "error":
            trace = strip_ansi("\n".join(out.get("traceback", [])))
            return f"{out.ename}: {out.evalue}\n\n{trace}"
    return strip_ansi(str(exc))
