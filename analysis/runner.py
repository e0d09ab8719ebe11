"""The pipeline runner: numbered notebooks in order with papermill, then the report.

Stages and their inputs/outputs are declared in ``analysis/pipeline.yaml``. A stage runs again
only when its fingerprint changed: the notebook (or ``.qmd``), the ``analysis/`` modules it
imports (followed transitively), the package's YAML configuration, the content of its input
files and its parameters. A stage whose declared outputs are missing runs too. With nothing
changed a run only hashes files, imports neither papermill nor pandas, and takes well under
three seconds.

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


def is_up_to_date(stage: Stage, roots: Roots, fp: dict[str, str]) -> bool:
    stamp = _stamp_path(stage, roots)
    if not stamp.is_file() or not outputs_present(stage, roots):
        return False
    return json.loads(stamp.read_text(encoding="utf-8")) == fp


def explain_change(stage: Stage, roots: Roots, fp: dict[str, str]) -> str:
    """A short reason why the stage runs (first few changed items)."""
    stamp = _stamp_path(stage, roots)
    if not stamp.is_file():
        return "never run"
    if not outputs_present(stage, roots):
        return "outputs missing"
    old = json.loads(stamp.read_text(encoding="utf-8"))
    changed = sorted(k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return "changed: " + ", ".join(changed[:3]) + more


# --- running ----------------------------------------------------------------------------------


#: Run in the shared kernel before each notebook after the first: go to the notebook's folder
#: and clear every variable (IPython's ``%reset -f``). Figures need no closing: the inline
#: backend closes them at the end of each cell.
_RESET_CODE = """import os as _os
_os.chdir({cwd!r})
get_ipython().run_line_magic("reset", "-f")
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

    def __init__(self, kernel_name: str = "python3"):
        self.kernel_name = kernel_name
        self.km = None

    def prepare(self, cwd: Path):
        """The kernel manager to hand to papermill, started and with a clean namespace."""
        from jupyter_client.manager import KernelManager

        if self.km is None:
            self.km = KernelManager(kernel_name=self.kernel_name)
            self.km.start_kernel(cwd=str(cwd))
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


def _execute_notebook(stage: Stage, roots: Roots, kernel: SharedKernel | None = None) -> Path:
    # papermill -> nbformat -> jsonschema, whose format checkers import rfc3987_syntax when it is
    # installed, and that compiles a Lark grammar for IRI checks (1.7 s per run). nbformat does not
    # check formats, so the runner marks it absent (as if not installed; jsonschema allows that).
    sys.modules.setdefault("rfc3987_syntax", None)
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out_nb = roots.output / "notebooks" / stage.source.name
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    shared = {} if kernel is None else {"km": kernel.prepare(stage.source.parent)}
    try:
        papermill.execute_notebook(
            str(stage.source),
            str(out_nb),
            parameters={"raw_dir": str(roots.raw), "out_dir": str(roots.out)},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(stage.source.parent),
            **shared,
        )
    except PapermillExecutionError as err:
        first_line = next((ln for ln in err.source.splitlines() if ln.strip()), "")
        shown = stage.source
        if stage.source.is_relative_to(roots.project):
            shown = stage.source.relative_to(roots.project)
        raise StageError(
            f"stage {stage.id} failed: notebook {shown}, cell {_original_cell_number(out_nb, err.cell_index)} "
            f"({first_line.strip()!r}): {err.ename}: {err.evalue}\n"
            f"  full traceback in the executed copy: {out_nb}"
        ) from None
    return out_nb


def _original_cell_number(executed: Path, cell_index: int) -> int:
    """1-based cell number in the notebook as the analyst sees it (without papermill's injected cell)."""
    import nbformat

    cells = nbformat.read(executed, as_version=4).cells
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])]
    return cell_index + 1 - (1 if injected and cell_index > injected[0] else 0)


def _render(stage: Stage, roots: Roots) -> Path:
    from analysis.render import render_report

    files = render_report(stage.source, roots.output, env={config.ENV_OUT: str(roots.out), config.ENV_RAW: str(roots.raw)})
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
            raise ValueError(f"unknown stage(s) {sorted(unknown)}; known: {[s.id for s in stages]}")
    todo = [s for s in stages if (not only or s.id in only) and (report or s.kind != "report")]
    roots.out.mkdir(parents=True, exist_ok=True)
    # notebooks and the report read these too (set for the kernels that papermill starts)
    os.environ[config.ENV_RAW], os.environ[config.ENV_OUT] = str(roots.raw), str(roots.out)
    status: dict[str, str] = {}
    kernel = None if kernel_per_notebook else SharedKernel()
    try:
        _run_stages(todo, roots, force, log, kernel, status)
    finally:
        if kernel is not None:
            kernel.close()
    return status


def _run_stages(todo: list[Stage], roots: Roots, force: bool, log, kernel: SharedKernel | None, status: dict) -> None:
    for i, stage in enumerate(todo, 1):
        fp = fingerprint(stage, roots)
        label = f"[{i}/{len(todo)}] {stage.id} {stage.name}"
        # inputs are hashed after the upstream stages ran, so a changed upstream output is seen
        if not force and is_up_to_date(stage, roots, fp):
            log(f"{label}: up to date")
            status[stage.id] = "skipped"
            continue
        reason = "forced" if force else explain_change(stage, roots, fp)
        log(f"{label}: running ({reason}) …")
        stamp = _stamp_path(stage, roots)
        stamp.unlink(missing_ok=True)
        t0 = time.perf_counter()
        result = _render(stage, roots) if stage.kind == "report" else _execute_notebook(stage, roots, kernel)
        # the fingerprint taken before the run: if an input changed meanwhile, the next run redoes it
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(fp, indent=1, sort_keys=True), encoding="utf-8")
        log(f"{label}: done in {time.perf_counter() - t0:.1f} s → {result}")
        status[stage.id] = "ran"


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
    return 0


__all__ = ["Stage", "StageError", "SharedKernel", "load_stages", "module_files", "fingerprint", "run_pipeline", "cli"]
