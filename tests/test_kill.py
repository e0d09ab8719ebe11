"""Nothing half-written: the pipeline killed (SIGKILL, kernels included) at random points in every
stage and in the report leaves only whole files, and the next run recovers the same bytes.

One uninterrupted run is the reference. Its outputs are copied back to where it ran (so the
paths in the executed notebooks match) with the stamps removed, so that every stage runs again
over the old files; then a chain of runs is killed, each a seeded random fraction of a stage's
measured duration after that stage started (read from the runner's progress lines, so the
points hold on a slow or busy machine). After each kill every output that exists must be whole,
old or new. A last run without --force must finish and give the reference's bytes.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import config
from test_pipeline_e2e import digest_tree, notebook_content

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kill")]

SEED = 16
#: the stages each kill falls in: every stage and the report once, and this many drawn again
EXTRA_KILLS = 0
_RUNNING = re.compile(r"^\[\d+/\d+\] (\S+) \S+: running")
_DONE = re.compile(r"^\[\d+/\d+\] (\S+) \S+: done in ([\d.]+) s")


def command(base: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "analysis", "run", "--raw", str(config.RAW_DIR), "--out", str(base / "out"),
            "--output", str(base / "_output"), *extra]


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the runner's process group and the Jupyter kernels (each in a session of its own)."""
    import psutil

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    os.killpg(proc.pid, signal.SIGKILL)
    for child in family:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=30)
    psutil.wait_procs(family, timeout=30)


def run_and_kill(base: Path, stage_order: list[str], target: str, delay: float) -> str:
    """Start a run; ``delay`` seconds after ``target`` (or the first later stage that runs)
    started, kill it. Returns what happened, for the failure message."""
    proc = subprocess.Popen(command(base), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=config.PROJECT_DIR, start_new_session=True)
    later = set(stage_order[stage_order.index(target):])
    for line in proc.stdout:
        m = _RUNNING.match(line)
        if m and m.group(1) in later:
            time.sleep(delay)
            if proc.poll() is None:
                kill_tree(proc)
                return f"killed {delay:.1f} s into stage {m.group(1)}"
            break
    proc.wait(timeout=600)
    return f"finished before the kill (exit {proc.returncode})"


def assert_whole(root: Path) -> int:
    """Every output under ``root`` is whole; temporary files (hidden, ``.name.tmp.ext``) may be
    partial and are skipped. Returns how many files were checked."""
    import nbformat
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    checked = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if not path.is_file() or any(p.startswith(".") for p in rel if p != ".stamps"):
            continue
        data = path.read_bytes()
        suffix = path.suffix.lower()
        try:
            if suffix == ".json":
                json.loads(data)
            elif suffix == ".parquet":
                pq.read_table(path)
            elif suffix == ".csv":
                pd.read_csv(path)
            elif suffix == ".png":
                assert data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")
            elif suffix == ".html":
                assert data.rstrip().endswith(b"</html>")
            elif suffix == ".pdf":
                assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
            elif suffix == ".ipynb":
                nbformat.validate(nbformat.reads(data.decode("utf-8"), as_version=4))
            elif suffix == ".txt":
                data.decode("utf-8")
            else:
                pytest.fail(f"no wholeness check for {path}: add one")
        except (ValueError, OSError, AssertionError, pa.ArrowException, nbformat.ValidationError) as exc:
            pytest.fail(f"{path} is not whole after a kill: {type(exc).__name__}: {exc}")
        checked += 1
    return checked


def temporary_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*.tmp*"))


def test_killed_runs_leave_whole_files_and_the_next_run_recovers(tmp_path):
    t_start = time.perf_counter()
    base, ref = tmp_path / "run", tmp_path / "reference"
    proc = subprocess.run(command(base), capture_output=True, text=True, cwd=config.PROJECT_DIR, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    durations = {m.group(1): float(m.group(2)) for m in map(_DONE.match, proc.stdout.splitlines()) if m}
    order = list(durations)
    assert order[-1] == "report" and len(order) >= 4, proc.stdout
    base.rename(ref)
    shutil.copytree(ref, base, symlinks=True)
    shutil.rmtree(base / "out" / ".stamps")  # every stage runs again, over the old files

    rng = random.Random(SEED)
    targets = sorted(order + rng.sample(order, EXTRA_KILLS), key=order.index)
    happened = []
    for target in targets:
        delay = rng.uniform(0.05, 0.95) * durations[target]
        happened.append(f"{target}: " + run_and_kill(base, order, target, delay))
        for root in (base / "out", base / "_output"):
            assert assert_whole(root) > 0, happened
    assert sum("killed" in h for h in happened) >= len(order), happened  # every stage was hit

    proc = subprocess.run(command(base), capture_output=True, text=True, cwd=config.PROJECT_DIR, timeout=900)
    assert proc.returncode == 0, "\n".join(happened) + "\n" + proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for root in ("out", "_output"):
        assert temporary_files(base / root) == [], "a temporary file outlived the recovery run"
        first, again = digest_tree(ref / root), digest_tree(base / root)
        if root == "_output":  # executed notebooks: same content, not the same timing metadata
            notebooks = {k for k in first if k.endswith(".ipynb")}
            for name in notebooks:
                assert notebook_content(ref / root / name) == notebook_content(base / root / name), name
            first, again = ({k: v for k, v in d.items() if k not in notebooks} for d in (first, again))
        assert first == again, (root, "\n".join(happened))
    print(f"\nkill test: {len(targets)} kills ({'; '.join(happened)}); {time.perf_counter() - t_start:.0f} s")
