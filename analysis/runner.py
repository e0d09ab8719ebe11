"""The pipeline runner: numbered notebooks in order with papermill, then the report.

Stages and their inputs/outputs are declared in ``analysis/pipeline.yaml``. A stage runs again
only when its fingerprint changed: the notebook (or ``.qmd``), the ``analysis/`` modules it
imports (followed transitively), the package's YAML configuration, the content of its input
files and its parameters. A stage whose declared outputs are missing runs too. With nothing
changed a run only hashes files, imports neither papermill nor pandas, and takes well under
three seconds.

Nothing half-written: the executed copies and the stamps go to hidden temporary files (which are
never taken for inputs or outputs) moved into place when complete, like every data file
(``analysis.results.write_atomic``), and a stage's stamp is removed before it runs and written
after all its outputs, so a run killed at any moment leaves old or new files, and the next run
redoes the stage it interrupted (tests/test_kill.py). Every failure is one message (``StageError``)
naming the file, the cell, chunk or line, and the cause; tracebacks stay in the executed copies.

Why our own fingerprinting instead of Make or a workflow tool: the notebook's dependencies on
``analysis/`` modules are found by reading its imports, which Make cannot express.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from analysis import config
from analysis.config import sha256

PIPELINE_FILE = config.PACKAGE_DIR / "pipeline.yaml"
#: Notebook parameters that papermill injects (the cell tagged "parameters" declares them).
PARAMETERS = ("raw_dir", "out_dir")


class StageError(RuntimeError):
    """A stage failed; the message names the notebook, the cell and the error."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: a notebook (or the report) with declared inputs and outputs."""

    id: str
    source: Path
    kind: str  # "notebook" or "report"
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.source.stem


@dataclass
class Roots:
    """The directories that the ``raw:``/``out:``/``output:``/``project:`` prefixes refer to."""

    raw: Path
    out: Path
    output: Path
    project: Path = config.PROJECT_DIR
    package: Path = config.PACKAGE_DIR
    extra_env: dict = field(default_factory=dict)

    def resolve(self, spec: str) -> tuple[Path, str]:
        """Split ``"out:results/*.csv"`` into (root directory, pattern)."""
        prefix, sep, pattern = spec.partition(":")
        if not sep or prefix not in ("raw", "out", "output", "project"):
            raise ValueError(
                f"pipeline path {spec!r} must start with raw:, out:, output: or project: "
                f"(see {PIPELINE_FILE.name})"
            )
        return getattr(self, prefix), pattern


def load_stages(path: Path = PIPELINE_FILE, project: Path = config.PROJECT_DIR) -> list[Stage]:
    """Read the stage list from ``pipeline.yaml`` (order in the file is execution order)."""
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    stages = []
    for item in spec["stages"]:
        if "notebook" in item:
            source, kind = project / item["notebook"], "notebook"
        elif "qmd" in item:
            source, kind = project / item["qmd"], "report"
        else:
            raise ValueError(f"stage {item.get('id')!r} in {path} needs 'notebook' or 'qmd'")
        stages.append(
            Stage(
                id=str(item["id"]),
                source=source,
                kind=kind,
                inputs=tuple(item.get("inputs", ())),
                outputs=tuple(item.get("outputs", ())),
            )
        )
    ids = [s.id for s in stages]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate stage ids in {path}: {ids}")
    return stages


# --- what a stage depends on -------------------------------------------------------------------

_QMD_CHUNK = re.compile(r"^```\{python[^}]*\}\s*$(.*?)^```\s*$", re.M | re.S)
_INLINE = re.compile(r"`\{python\}\s+([^`]+)`")


def stage_code(stage: Stage) -> str:
    """The Python code of a notebook's code cells or of a ``.qmd``'s chunks and inline code."""
    text = stage.source.read_text(encoding="utf-8")
    if stage.kind == "report":
        chunks = _QMD_CHUNK.findall(text)
        return "\n".join(chunks + _INLINE.findall(text))
    nb = json.loads(text)
    return "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
    )


def _imported_modules(code: str, package: str, current: str | None = None) -> set[str]:
    """Names of ``package`` modules imported by ``code`` (absolute and relative imports)."""
    lines = [ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == package)
        elif isinstance(node, ast.ImportFrom):
            if node.level and current:
                base = current.split(".")
                base = base[: len(base) - node.level] if len(base) >= node.level else base[:1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != package:
                continue
            found.add(mod)
            # "from analysis import clean" imports the submodule analysis.clean
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def _module_file(name: str, package_dir: Path) -> Path | None:
    parts = name.split(".")[1:]
    base = package_dir.joinpath(*parts) if parts else package_dir
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_files(code: str, package_dir: Path = config.PACKAGE_DIR) -> list[Path]:
    """The ``analysis/`` source files that ``code`` uses, following imports transitively.

    Parent packages count too (importing ``analysis.stats.paired`` runs ``analysis/stats/__init__.py``).
    """
    package = package_dir.name
    todo = _imported_modules(code, package)
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        for i in range(1, name.count(".") + 2):
            parent = ".".join(name.split(".")[:i])
            if parent in seen:
                continue
            path = _module_file(parent, package_dir)
            if path is None:
                continue
            seen[parent] = path
            is_pkg = path.name == "__init__.py"
            current = parent + ".__init__" if is_pkg else parent
            todo |= _imported_modules(path.read_text(encoding="utf-8"), package, current) - set(seen)
    return sorted(set(seen.values()))


def _expand(spec: str, roots: Roots) -> list[Path]:
    root, pattern = roots.resolve(spec)
    if not any(ch in pattern for ch in "*?["):
        p = root / pattern
        return [p] if p.exists() else []
    return sorted(p for p in root.glob(pattern) if p.is_file() and not _is_private(p, root))


def _is_private(path: Path, root: Path) -> bool:
    """Hidden files and the runner's own stamps are not inputs."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def fingerprint(stage: Stage, roots: Roots) -> dict[str, str]:
    """Everything the stage's result depends on, as {name: sha256}."""
    parts: dict[str, str] = {"source:" + stage.source.name: sha256(stage.source)}
    code_files = module_files(stage_code(stage), roots.package)
    if stage.kind == "report":
        # the renderer itself shapes the report
        code_files += sorted((roots.package / "render").glob("**/*.*"))
    code_files += sorted(roots.package.glob("*.yaml"))
    for f in sorted(set(code_files)):
        if "__pycache__" not in f.parts:
            parts["code:" + f.relative_to(roots.package).as_posix()] = sha256(f)
    for spec in stage.inputs:
        root, _ = roots.resolve(spec)
        for f in _expand(spec, roots):
            parts[f"input:{spec.split(':')[0]}:{f.relative_to(root).as_posix()}"] = sha256(f)
    params = {"raw": str(roots.raw), "out": str(roots.out), "output": str(roots.output)}
    parts["params"] = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    return parts


def outputs_present(stage: Stage, roots: Roots) -> bool:
    """True when every declared output (file or glob) exists."""
    return all(_expand(spec, roots) for spec in stage.outputs)


def _stamp_path(stage: Stage, roots: Roots) -> Path:
    return roots.out / ".stamps" / f"{stage.id}.json"


def _read_stamp(stage: Stage, roots: Roots) -> dict | None:
    """The fingerprint of the stage's last complete run, or None (never run, or a stamp that is
    not valid JSON, as an older runner could leave when killed while writing it: run again)."""
    stamp = _stamp_path(stage, roots)
    if not stamp.is_file():
        return None
    try:
        return json.loads(stamp.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def is_up_to_date(stage: Stage, roots: Roots, fp: dict[str, str]) -> bool:
    if not outputs_present(stage, roots):
        return False
    return _read_stamp(stage, roots) == fp


def explain_change(stage: Stage, roots: Roots, fp: dict[str, str]) -> str:
    """A short reason why the stage runs (first few changed items)."""
    old = _read_stamp(stage, roots)
    if old is None:
        return "never run" if not _stamp_path(stage, roots).is_file() else "its stamp is unreadable"
    if not outputs_present(stage, roots):
        return "outputs missing"
    changed = sorted(k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return "changed: " + ", ".join(changed[:3]) + more


# --- running ----------------------------------------------------------------------------------


#: Run in the shared kernel before each notebook after the first: go to the notebook's folder,
#: clear every variable (IPython's ``%reset -f``) and count cells from 1 again, as a fresh kernel
#: does (``%reset`` keeps the count: the executed copy's ``In [n]`` would depend on which stages
#: ran before it in the same run). Figures need no closing: the inline backend closes them at
#: the end of each cell.
_RESET_CODE = """import os as _os
_os.chdir({cwd!r})
get_ipython().run_line_magic("reset", "-f")
get_ipython().execution_count = 1
"""


class SharedKernel:
    """One Jupyter kernel for the notebooks of one run, with a clean namespace for each.

    Why: starting a kernel and importing pandas, matplotlib, statsmodels and ``analysis`` again
    for every notebook cost 9 s of 53 s for stages 01-03 at national scale (``make bench``).
    Safe because before each notebook every variable is deleted (``%reset -f``; papermill then
    injects the parameters) and the working directory is reset, so a notebook sees no name
    another notebook defined, as when it is opened alone. What does persist is module state:
    the loaded modules and the caches of configuration files (``analysis/*.yaml``), which no
    stage writes. ``--kernel-per-notebook`` runs each notebook in a kernel of its own instead;
    the determinism test compares both to the byte (tests/test_pipeline_e2e.py).
    """

    def __init__(self, kernel_name: str = config.RUN_KERNEL):
        self.kernel_name = kernel_name
        self.km = None
        self.sockets = None

    def prepare(self, cwd: Path):
        """The kernel manager to hand to papermill, started and with a clean namespace."""
        import tempfile

        from analysis.render.execute import ipc_kernel_manager

        if self.km is None:
            self.sockets = tempfile.TemporaryDirectory(prefix="krp-kernel-")
            self.km = ipc_kernel_manager(self.sockets.name)(kernel_name=self.kernel_name)
            self.km.start_kernel(cwd=str(cwd), extra_arguments=list(config.KERNEL_ARGS))
        else:
            kc = self.km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                reply = kc.execute_interactive(_RESET_CODE.format(cwd=str(cwd)), store_history=False, timeout=60)
            finally:
                kc.stop_channels()
            if reply["content"]["status"] != "ok":
                raise StageError(f"could not clear the shared kernel before {cwd}: {reply['content'].get('evalue')}")
        return self.km

    def close(self) -> None:
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self.km = None
        if self.sockets is not None:
            self.sockets.cleanup()
        self.sockets = None


def _execute_notebook(stage: Stage, roots: Roots, kernel: SharedKernel | None = None) -> Path:
    """Run the stage's notebook with papermill; the executed copy goes to ``<output>/notebooks/``.

    papermill saves the copy after every cell, so it writes a hidden temporary file beside it
    (``analysis.results.temporary_path``), moved into place when the run ends: a run killed at
    any moment leaves the previous copy. When a cell fails the copy, with its traceback, is
    moved into place too, and :class:`StageError` points to it.
    """
    # papermill -> nbformat -> jsonschema, whose format checkers import rfc3987_syntax when it is
    # installed, and that compiles a Lark grammar for IRI checks (1.7 s per run). nbformat does not
    # check formats, so the runner marks it absent (as if not installed; jsonschema allows that).
    sys.modules.setdefault("rfc3987_syntax", None)
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from analysis.results import temporary_path

    out_nb = roots.output / "notebooks" / stage.source.name
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(out_nb)
    own = SharedKernel() if kernel is None else None  # --kernel-per-notebook: a kernel for this notebook
    shared = {"km": (kernel or own).prepare(stage.source.parent)}
    t0 = time.time()
    try:
        papermill.execute_notebook(
            str(stage.source),
            str(tmp),
            parameters={"raw_dir": str(roots.raw), "out_dir": str(roots.out)},
            kernel_name=config.RUN_KERNEL,
            progress_bar=False,
            cwd=str(stage.source.parent),
            **shared,
        )
        os.replace(tmp, out_nb)
    except PapermillExecutionError as err:
        os.replace(tmp, out_nb)
        raise StageError(_cell_failure(stage, roots, out_nb, err, t0)) from None
    except (DeadKernelError, CellTimeoutError) as err:
        # papermill saved the copy up to the cell that was running (marked "running")
        cell = _running_cell(tmp) if tmp.is_file() else None
        if tmp.is_file():
            os.replace(tmp, out_nb)
        where = f", cell {cell}" if cell else ""
        raise StageError(f"stage {stage.id} failed: notebook {_shown(stage, roots)}{where}: the kernel "
                         f"{'took too long' if isinstance(err, CellTimeoutError) else 'died'} "
                         f"({type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''})\n"
                         f"  what ran is in the executed copy: {out_nb}") from None
    finally:
        tmp.unlink(missing_ok=True)
        if own is not None:
            own.close()
    return out_nb


def _shown(stage: Stage, roots: Roots) -> Path:
    """The stage's notebook as the user names it: relative to the project when inside it."""
    return stage.source.relative_to(roots.project) if stage.source.is_relative_to(roots.project) else stage.source


def _cell_failure(stage: Stage, roots: Roots, out_nb: Path, err, started: float) -> str:
    """One message for a failing cell: notebook, cell number, the cell's first line, the error.

    Bad raw data (``RawDataError``, raised by cleaning with every problem in its message) is
    shown as its own message, which lists the problems, followed by where the full list is.
    """
    first_line = next((ln for ln in err.source.splitlines() if ln.strip()), "")
    where = (f"notebook {_shown(stage, roots)}, cell {_original_cell_number(out_nb, err.cell_index)} "
             f"({first_line.strip()!r})")
    copy = f"  full traceback in the executed copy: {out_nb}"
    if err.ename == "RawDataError":
        # the one-pass check writes every problem to <out>/internal/problems.csv (clean.clean_all_reach)
        listed = [folder / name for folder in (roots.out / "internal", roots.out) for name in ("problems.csv",)
                  if (folder / name).is_file() and (folder / name).stat().st_mtime >= started - 1]
        full = "".join(f"\n  every problem is listed in {p}" for p in listed)
        return f"stage {stage.id} stopped: the raw data in {roots.raw} cannot be used ({where}):\n{err.evalue}{full}\n{copy}"
    return f"stage {stage.id} failed: {where}: {err.ename}: {err.evalue}\n{copy}"


def _running_cell(executed: Path) -> int | None:
    """The 1-based number (as the analyst counts) of the cell papermill marked as running."""
    import nbformat

    try:
        cells = _executed_cells(executed)
    except (OSError, ValueError, nbformat.ValidationError):  # the copy is unreadable: name no cell
        return None
    for i, cell in enumerate(cells):
        if cell.metadata.get("papermill", {}).get("status") == "running":
            return _original_cell_number(executed, i)
    return None


#: papermill's tag on the cells it adds to a failed notebook's copy (a note at the top, an anchor)
_PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def _executed_cells(executed: Path) -> list:
    """The executed copy's cells as papermill ran them: without the cells it adds on failure."""
    import nbformat

    cells = nbformat.read(executed, as_version=4).cells
    return [c for c in cells if _PAPERMILL_ERROR_TAG not in c.metadata.get("tags", [])]


def _original_cell_number(executed: Path, cell_index: int) -> int:
    """1-based cell number in the notebook as the analyst sees it: papermill's ``cell_index`` counts
    its injected parameters cell, which the analyst's notebook does not have."""
    cells = _executed_cells(executed)[: cell_index + 1]
    return sum("injected-parameters" not in c.metadata.get("tags", []) for c in cells)


def _render(stage: Stage, roots: Roots) -> Path:
    """Render the report; a failure becomes one :class:`StageError` naming the file, the chunk or
    line, and the cause (the traceback is in the executed copy the message points to)."""
    from analysis.render import ChunkError, QmdError, RenderError, render_report

    try:
        files = render_report(stage.source, roots.output,
                              env={config.ENV_OUT: str(roots.out), config.ENV_RAW: str(roots.raw)})
    except (ChunkError, QmdError, RenderError) as err:
        raise StageError(f"stage {stage.id} failed: {err}") from None  # the message names the file
    return next(iter(files.values()))


def run_pipeline(
    raw: Path | str | None = None,
    out: Path | str | None = None,
    output: Path | str | None = None,
    *,
    stages: list[Stage] | None = None,
    force: bool = False,
    only: list[str] | None = None,
    report: bool = True,
    log=print,
    package_dir: Path = config.PACKAGE_DIR,
    kernel_per_notebook: bool = False,
) -> dict[str, str]:
    """Run the stages in order; return {stage id: "ran" | "skipped"}.

    The notebooks that run share one kernel (:class:`SharedKernel`) unless
    ``kernel_per_notebook``. Raises :class:`StageError` on the first failing stage; later
    stages do not run and the failed stage's stamp is removed, so the next run retries it.
    """
    roots = Roots(
        raw=config.raw_dir(raw),
        out=config.processed_dir(out),
        output=Path(output or config.OUTPUT_DIR).resolve(),
        package=package_dir,
    )
    if not roots.raw.is_dir():
        raise StageError(f"raw-data directory {roots.raw} does not exist; pass --raw PATH")
    stages = load_stages() if stages is None else stages
    if only:
        unknown = set(only) - {s.id for s in stages}
        if unknown:
            raise StageError(f"unknown stage(s) {', '.join(sorted(unknown))} in --only; "
                             f"the stages are {', '.join(s.id for s in stages)}")
    todo = [s for s in stages if (not only or s.id in only) and (report or s.kind != "report")]
    roots.out.mkdir(parents=True, exist_ok=True)
    # notebooks and the report read these too (set for the kernels that papermill starts)
    os.environ[config.ENV_RAW], os.environ[config.ENV_OUT] = str(roots.raw), str(roots.out)
    status: dict[str, str] = {}
    kernel = None if kernel_per_notebook else SharedKernel()
    try:
        _run_stages(todo, roots, force, log, kernel, status, stages)
    finally:
        if kernel is not None:
            kernel.close()
    return status


def _run_stages(todo: list[Stage], roots: Roots, force: bool, log, kernel: SharedKernel | None, status: dict,
                stages: list[Stage] = ()) -> None:
    for i, stage in enumerate(todo, 1):
        fp = fingerprint(stage, roots)
        label = f"[{i}/{len(todo)}] {stage.id} {stage.name}"
        # inputs are hashed after the upstream stages ran, so a changed upstream output is seen
        if not force and is_up_to_date(stage, roots, fp):
            log(f"{label}: up to date")
            status[stage.id] = "skipped"
            continue
        _check_inputs(stage, roots, list(stages) or todo)
        reason = "forced" if force else explain_change(stage, roots, fp)
        log(f"{label}: running ({reason}) …")
        stamp = _stamp_path(stage, roots)
        # removed before the stage writes anything, written (atomically) after all its outputs:
        # a run killed in between leaves no stamp, and the next run redoes the stage
        stamp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        result = _render(stage, roots) if stage.kind == "report" else _execute_notebook(stage, roots, kernel)
        # the fingerprint taken before the run: if an input changed meanwhile, the next run redoes it
        from analysis.results import write_atomic

        text = json.dumps(fp, indent=1, sort_keys=True)
        write_atomic(stamp, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        log(f"{label}: done in {time.perf_counter() - t0:.1f} s → {result}")
        status[stage.id] = "ran"


def _check_inputs(stage: Stage, roots: Roots, stages: list[Stage]) -> None:
    """A declared input file (not a pattern) that does not exist stops the run before the stage
    starts, naming the stage that makes it, instead of a FileNotFoundError inside a notebook."""
    missing = [spec for spec in stage.inputs if not any(ch in spec for ch in "*?[") and not _expand(spec, roots)]
    if missing:
        makers = [s.id for s in stages if s.id != stage.id and set(missing) & set(s.outputs)]
        one = len(missing) == 1
        hint = (f"; stage {', '.join(makers)} makes {'it' if one else 'them'}: run "
                f"{'it' if len(makers) == 1 else 'them'} first") if makers else ""
        files = ", ".join(str(Path(*roots.resolve(spec))) for spec in missing)
        raise StageError(f"stage {stage.id} ({stage.source.name}) cannot start: {files} "
                         f"{'does' if one else 'do'} not exist{hint}")


def cli(args) -> int:
    """``python -m analysis run``: run the pipeline, print one readable message on failure."""
    try:
        run_pipeline(
            args.raw,
            args.out,
            args.output,
            force=args.force,
            only=args.only,
            report=not args.no_report,
            kernel_per_notebook=args.kernel_per_notebook,
            log=(lambda *a, **k: None) if args.quiet else (lambda msg: print(msg, flush=True)),
        )
    except StageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # what was written is whole (temporary files, moved into place); the stage that was
        # running has no stamp, so the next run redoes it
        print("error: interrupted; the next run redoes the stage that was running", file=sys.stderr)
        return 130
    return 0


__all__ = ["Stage", "StageError", "SharedKernel", "load_stages", "module_files", "fingerprint", "run_pipeline", "cli"]
