"""Run a parsed .qmd in one Jupyter kernel with nbclient: chunks in order, inline expressions at
their place in the text (after the chunks above them), as Quarto's Jupyter engine does.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

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

# a str is marked as one (Quarto treats a str's quoted repr apart: it strips the quotes and escapes
# the Markdown in it), anything else shows its display repr. Not IPython's Pretty(): it reads the
# string as a file name when such a file exists.
_STR_MIME = "application/x-krp-str"
_INLINE = ("(lambda __v: type('InlineText', (), {{'_repr_mimebundle_': lambda self, include=None, exclude=None: "
           "{{'text/plain': __v, '" + _STR_MIME + "': __v}}}})() if isinstance(__v, str) else __v)(({expr}))")
#: the characters Quarto 1.7 escapes in a str's inline value (jupyter-inline.ts, asEscapedMarkdown;
#: its class "+-." is a range, so the comma is one of them)
_QUARTO_ESCAPED = re.compile(r"([\\`*_{}\[\]()>#+,\-.!])")


def quarto_inline_text(value: str) -> str:
    r"""A str's inline value as Quarto 1.7 puts it into the Markdown: backslashes doubled, then
    the Markdown characters escaped, so ``*dz*`` shows as typed (a Markdown object is not escaped).

    >>> print(quarto_inline_text("Cohen's *dz* (zie [1])."))
    Cohen's \*dz\* \(zie \[1\]\)\.
    """
    return _QUARTO_ESCAPED.sub(r"\\\1", value.replace("\\", "\\\\"))


def ipc_kernel_manager(folder, *, asynchronous: bool = False):
    """A kernel manager class (call it with ``kernel_name=``) whose kernel talks over IPC sockets
    in ``folder``, a private temporary folder.

    Why: over TCP without encryption ipykernel prints "Kernel is running over TCP without
    encryption" at every start, a warning nobody can act on; IPC sockets are files only this user
    can reach, and the folder keeps them out of the notebook's or report's folder.
    ``asynchronous``: the manager nbclient expects (handed a blocking one, a cell's timeout was
    not kept); papermill's shared kernel takes the blocking one.
    """
    from jupyter_client.manager import AsyncKernelManager, KernelManager

    base, ip = (AsyncKernelManager if asynchronous else KernelManager), str(Path(folder) / "kernel")

    def __init__(self, **kwargs):  # a subclass, not a partial: nbclient's trait wants a class
        base.__init__(self, **{"transport": "ipc", "ip": ip, **kwargs})

    return type("IpcKernelManager", (base,), {"__init__": __init__})


class ChunkError(RuntimeError):
    """A chunk (or an inline expression) raised; the message names it, the .qmd's line and the
    error, in one line, and points to the executed copy that holds the traceback.

    Attributes: ``where`` (the chunk or expression and its line), ``error`` (``ValueError: …``),
    ``traceback`` (the kernel's, without colours), ``executed`` (the executed copy, or None),
    ``at`` (the line that raised, ``line 15 of report.qmd``, when the traceback tells).
    """

    def __init__(self, where: str, error: str, traceback: str = "", executed=None, at: str = ""):
        self.where, self.error, self.traceback, self.executed, self.at = where, error, traceback, executed, at
        super().__init__(self._text())

    def _text(self) -> str:
        head = f"{self.where} failed" + (f" at {self.at}" if self.at else "") + f": {self.error}"
        if self.executed is not None:
            return f"{head}\n  full traceback in the executed copy: {self.executed}"
        return head + (f"\n\n{self.traceback}" if self.traceback else "")

    def with_executed(self, executed) -> "ChunkError":
        """The same error, pointing to the executed copy written after it."""
        return ChunkError(self.where, self.error, self.traceback, executed, self.at)


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


def execute(doc: Qmd, env: dict | None = None, *, timeout: int = 600, kernel_name: str | None = None,
            executed_copy=None) -> list:
    """Run every chunk of ``doc`` in a fresh kernel started in the .qmd's folder.

    Returns the parts in order: :class:`Executed` for chunks and :class:`Markdown` with the inline
    expressions replaced by their values. Raises :class:`ChunkError` naming the failing chunk.

    ``executed_copy``: where to write the cells as they ran (a notebook; each cell's metadata
    ``qmd`` says which chunk or inline expression and line it is), written atomically whether the
    run succeeds or fails, so a failure's traceback can be read there. Without timing metadata,
    so that the same document gives the same notebook.

    The code runs in ``kernel_name``, by default this interpreter (``config.RUN_KERNEL``); the
    executed copy names the kernel of the front matter's ``jupyter:`` (as Quarto would run it),
    so that JupyterLab opens it with that kernel.
    """
    import nbformat
    from nbclient import NotebookClient

    from analysis import config

    nb = nbformat.v4.new_notebook()
    named = _named_kernel(doc.front)
    nb.metadata["kernelspec"] = {"name": named, "language": "python",
                                 "display_name": config.KERNEL_DISPLAY_NAME if named == config.KERNEL_NAME else named}
    kernel_env = {**os.environ, **{k: str(v) for k, v in (env or {}).items()}}
    kernel_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiets a debugger warning on stderr
    parts: list = []
    inline_seen: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="krp-kernel-") as sockets:
            # nbclient makes the manager (and so shuts its kernel down when done)
            client = NotebookClient(nb, kernel_name=kernel_name or config.RUN_KERNEL, timeout=timeout,
                                    kernel_manager_class=ipc_kernel_manager(sockets, asynchronous=True),
                                    record_timing=False,
                                    resources={"metadata": {"path": str(doc.path.parent)}})
            with client.setup_kernel(env=kernel_env):
                _run_cell(client, nb, _SETUP, store_history=False, meta={"setup": True})
                for part in doc.parts:
                    if isinstance(part, Chunk):
                        parts.append(_run_chunk(client, nb, part, doc.path.name))
                    else:
                        values = []
                        for expr in inline_expressions(part.text):
                            line = _inline_line(doc, expr, inline_seen)
                            values.append(_inline_value(client, nb, expr, doc.path.name, line))
                        parts.append(Markdown(replace_inline(part.text, values), part.line))
    except ChunkError as exc:
        if executed_copy is None:
            raise
        _write_notebook(nb, executed_copy)
        raise exc.with_executed(executed_copy) from None
    if executed_copy is not None:
        _write_notebook(nb, executed_copy)
    return parts


def _write_notebook(nb, path) -> None:
    import nbformat

    from analysis.results import write_atomic

    write_atomic(path, lambda tmp: nbformat.write(nb, str(tmp)))


def _inline_line(doc: Qmd, expr: str, seen: dict[str, int]):
    """The .qmd line of this occurrence of ``expr`` (the n-th time it is evaluated: the n-th in the file)."""
    n = seen.get(expr, 0)
    seen[expr] = n + 1
    lines = [line for line, e in doc.inline_lines if e == expr]
    return lines[n] if n < len(lines) else None


def _run_cell(client, nb, source: str, *, store_history: bool = True, tags: tuple = (), meta: dict | None = None):
    """Execute one cell; raise nbclient's CellExecutionError when it fails (unless tagged)."""
    import nbformat

    cell = nbformat.v4.new_code_cell(source)
    cell.id = f"cell-{len(nb.cells) + 1}"  # by position, not random: the same document, the same notebook
    if tags:
        cell.metadata["tags"] = list(tags)
    if meta:
        cell.metadata["qmd"] = meta
    nb.cells.append(cell)
    client.execute_cell(cell, len(nb.cells) - 1, store_history=store_history)
    return cell


def _run_chunk(client, nb, chunk: Chunk, qmd_name: str) -> Executed:
    if chunk.options.get("eval") is False or not chunk.source.strip():
        return Executed(chunk, [])
    from nbclient.exceptions import CellExecutionError

    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    tags = ("raises-exception",) if chunk.options.get("error") is True else ()
    meta = {"chunk": chunk.index, "line": chunk.line, **({"label": chunk.label} if chunk.label else {})}
    try:
        cell = _run_cell(client, nb, chunk.source, tags=tags, meta=meta)
    except (CellTimeoutError, DeadKernelError) as exc:
        raise ChunkError(chunk.describe(qmd_name), _kernel_trouble(exc)) from None
    except CellExecutionError as exc:
        cell = nb.cells[-1]
        error, trace = _error_parts(cell, exc)
        line = _failing_line(cell, trace)
        line = None if line is None else chunk.qmd_line(line)
        raise ChunkError(chunk.describe(qmd_name), error, trace, at=f"line {line} of {qmd_name}" if line else "") from None
    return Executed(chunk, list(cell.outputs))


def _inline_value(client, nb, expr: str, qmd_name: str, line: int | None = None) -> str:
    """The text Quarto puts in place of `` `{python} expr` ``: markdown repr, else text/plain."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    at = f" (line {line} of {qmd_name})" if line else f" in {qmd_name}"
    try:
        cell = _run_cell(client, nb, _INLINE.format(expr=expr), store_history=False,
                         meta={"inline": expr, "line": line})
    except (CellTimeoutError, DeadKernelError) as exc:
        raise ChunkError(f"inline expression `{{python}} {expr}`{at}", _kernel_trouble(exc)) from None
    except CellExecutionError as exc:
        error, trace = _error_parts(nb.cells[-1], exc)
        raise ChunkError(f"inline expression `{{python}} {expr}`{at}", error, trace) from None
    for out in cell.outputs:
        if out.output_type == "execute_result":
            data = out.get("data", {})
            if _STR_MIME in data:
                return quarto_inline_text(data[_STR_MIME])
            return data.get("text/markdown") or data.get("text/plain", "")
    return ""


def _named_kernel(front: dict) -> str:
    """The kernel ``jupyter:`` names: a name, or ``{kernelspec: {name: ...}}`` (Quarto accepts both)."""
    value = front.get("jupyter") or "python3"
    if isinstance(value, dict):
        value = (value.get("kernelspec") or {}).get("name") or "python3"
    return str(value)


def _kernel_trouble(exc) -> str:
    """The cause when the kernel, not the code, failed: it took too long or died."""
    first = next((ln for ln in strip_ansi(str(exc)).splitlines() if ln.strip()), "")
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def _error_parts(cell, exc) -> tuple[str, str]:
    """(``ValueError: message``, the traceback), without terminal colours."""
    for out in cell.outputs:
        if out.output_type == "error":
            return f"{out.ename}: {out.evalue}", strip_ansi("\n".join(out.get("traceback", [])))
    text = strip_ansi(str(exc)).strip()
    return (text.splitlines()[-1] if text else type(exc).__name__), text


_CELL_FRAME = re.compile(r"^Cell In\[(\d+)\], line (\d+)", re.M)


def _failing_line(cell, trace: str) -> int | None:
    """The line of the chunk's code that raised: IPython's last ``Cell In[n], line k`` frame of this cell.

    >>> from types import SimpleNamespace
    >>> _failing_line(SimpleNamespace(execution_count=4), "Cell In[4], line 2\\n----> 2 f()\\nCell In[3], line 1")
    2
    """
    frames = [int(k) for n, k in _CELL_FRAME.findall(trace) if int(n) == cell.execution_count]
    return frames[-1] if frames else None
