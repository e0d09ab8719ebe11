"""Benchmark: time and peak memory of each pipeline stage against the number of forms.

``python -m analysis bench`` (``make bench``) generates synthetic data at several scales
(``--scale`` 1, 10, 100: 3 to 300 sites, about 450 to 45,000 reach forms), then, ``--repeats``
times each, runs every stage in a fresh process exactly as ``python -m analysis run --only
<stage> --force`` does, and the cleaning function alone (no kernel start-up) to isolate its
growth. Wall time comes from ``time.perf_counter`` around the process, peak memory from the
process's own resource usage (``os.wait4``: the largest resident set of the process and the
kernels it started and reaped). It writes, under ``_output/bench/``:

* ``bench_runs.csv`` — every measurement;
* ``bench.csv`` — medians per scale and stage, with the number of forms;
* ``bench_exponents.csv`` — the fitted growth exponent b of time ≈ a·forms^b per stage
  (least squares on log–log medians);
* ``bench.png`` — log–log plot of time and peak memory per stage;
* ``bench.md`` — the table, the exponents, the targets and the same-run comparisons (full cold
  run, no-op run, notebook execution by the runner vs. plain ``jupyter nbconvert --execute``,
  and stages 01-03 in one shared kernel vs a kernel per notebook at every scale).

Why our own harness: the quantities (per-stage peak memory of kernel processes, growth
exponent) are not what pytest-benchmark or hyperfine report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import config

#: The targets of issue 9, checked in bench.md (not in timed tests).
TARGETS = {
    "cold full run, scale 1 (s)": 60.0,
    "no-op run (s)": 3.0,
    "cleaning + analysis stages 01-03 in one run, scale 100 (s)": 60.0,
    "slowest single stage 01-03, scale 100 (s)": 60.0,
    "peak memory, scale 100 (MB)": 2048.0,
    "growth exponent of cleaning": 1.1,
}
#: The stages 01-03 run one after the other by one runner, as `make report` runs them (one
#: shared kernel), and the same with a kernel per notebook (``--kernel-per-notebook``).
ONE_RUN = "01-03 (one run)"
ONE_RUN_SEPARATE = "01-03 (one run, kernel per notebook)"


def measure(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak resident memory in MB, output). Fails loudly."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})}, cwd=cwd or config.PROJECT_DIR)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{output[-3000:]}")
    return wall, usage.ru_maxrss / 1024.0, output


def count_forms(raw: Path) -> int:
    """Reach forms in a generated raw directory (from the generator's own record)."""
    import yaml

    truth = yaml.safe_load((raw / "true_parameters.yaml").read_text(encoding="utf-8"))
    return int(sum(f["rows"] for f in truth["files"] if str(f["file"]).endswith(("_bereik.csv", "_bereik.xlsx", "_bereik.sav"))))


def _py(*args: str) -> list[str]:
    return [sys.executable, *args]


def bench_scale(scale: int, repeats: int, work: Path, stages: list[str]) -> list[dict]:
    """All measurements at one scale."""
    raw = work / f"scale{scale}" / "raw"
    if not raw.is_dir():
        measure(_py("-m", "analysis", "synth", "--seed", "1", "--scale", str(scale), "--out", str(raw)))
    forms = count_forms(raw)
    rows = []
    for rep in range(repeats):
        out, output = work / f"scale{scale}" / "out", work / f"scale{scale}" / "_output"
        for stage in stages:
            wall, mem, _ = measure(_py("-m", "analysis", "run", "--raw", str(raw), "--out", str(out),
                                       "--output", str(output), "--only", stage, "--force", "--quiet"))
            rows.append({"scale": scale, "forms": forms, "repeat": rep, "stage": stage, "seconds": wall, "peak_mb": mem})
        notebooks = [st for st in stages if st != "report"]
        for name, extra in ((ONE_RUN, []), (ONE_RUN_SEPARATE, ["--kernel-per-notebook"])):
            wall, mem, _ = measure(_py("-m", "analysis", "run", "--raw", str(raw), "--out", str(out), "--output",
                                       str(output), "--only", *notebooks, "--force", "--no-report", "--quiet", *extra))
            rows.append({"scale": scale, "forms": forms, "repeat": rep, "stage": name, "seconds": wall, "peak_mb": mem})
        code = ("import time; from pathlib import Path; from analysis import clean; t=time.perf_counter(); "
                f"clean.clean_all_reach(Path({str(raw)!r}), Path({str(work / 'fn_out')!r})); "
                "print(time.perf_counter()-t)")
        wall, mem, output = measure(_py("-c", code))
        rows.append({"scale": scale, "forms": forms, "repeat": rep, "stage": "clean (function only)",
                     "seconds": float(output.strip().splitlines()[-1]), "peak_mb": mem})
    return rows


def same_run_comparisons(work: Path, repeats: int) -> pd.DataFrame:
    """Cold full run, no-op run, and runner vs plain nbconvert on the same notebooks (scale 1)."""
    raw = config.RAW_DIR
    rows = []
    for rep in range(repeats):
        out, output = work / "cmp" / f"out{rep}", work / "cmp" / f"_output{rep}"
        cold, mem, _ = measure(_py("-m", "analysis", "run", "--raw", str(raw), "--out", str(out), "--output", str(output), "--quiet"))
        noop, _, _ = measure(_py("-m", "analysis", "run", "--raw", str(raw), "--out", str(out), "--output", str(output), "--quiet"))
        runner_nb, _, _ = measure(_py("-m", "analysis", "run", "--raw", str(raw), "--out", str(out), "--output", str(output),
                                      "--force", "--no-report", "--quiet"))
        render, _, _ = measure(_py("-m", "analysis", "render", "--out", str(out), "--output", str(output)))
        nbc_out = work / "cmp" / f"nbconvert{rep}"
        nbc_out.mkdir(parents=True, exist_ok=True)
        env = {config.ENV_RAW: str(raw), config.ENV_OUT: str(out)}
        t0 = time.perf_counter()
        for nb in sorted(config.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
            measure(_py("-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(nb),
                        "--output-dir", str(nbc_out)), env=env)
        nbconvert = time.perf_counter() - t0
        rows.append({"repeat": rep, "cold_full_run_s": cold, "cold_peak_mb": mem, "noop_run_s": noop,
                     "notebooks_runner_s": runner_nb, "notebooks_nbconvert_s": nbconvert, "render_s": render,
                     "quarto_render_s": np.nan})
    frame = pd.DataFrame(rows)
    frame["runner_over_nbconvert"] = frame["notebooks_runner_s"] / frame["notebooks_nbconvert_s"]
    if shutil.which("quarto"):
        # Quarto installed: time it on the same processed data, in the same run
        for i, rep in enumerate(frame["repeat"]):
            out, output = work / "cmp" / f"out{rep}", work / "cmp" / f"quarto{rep}"
            wall, _, _ = measure(_py("-m", "analysis", "render", "--engine", "quarto", "--out", str(out), "--output", str(output)))
            frame.loc[i, "quarto_render_s"] = wall
        frame["offline_over_quarto"] = frame["render_s"] / frame["quarto_render_s"]
    return frame


def growth_exponents(medians: pd.DataFrame) -> pd.DataFrame:
    """Least-squares slope of log(time) on log(forms) per stage (b in time ≈ a·forms^b).

    >>> m = pd.DataFrame({"stage": ["x"] * 3, "forms": [100, 1000, 10000], "seconds": [1.0, 10.0, 100.0]})
    >>> round(float(growth_exponents(m)["exponent"].iloc[0]), 6)
    1.0
    """
    rows = []
    for stage, sub in medians.groupby("stage", sort=False):
        if sub["forms"].nunique() < 2:
            continue
        b, _ = np.polyfit(np.log(sub["forms"]), np.log(sub["seconds"]), 1)
        rows.append({"stage": stage, "exponent": b, "scales": ", ".join(map(str, sorted(sub["forms"])))})
    return pd.DataFrame(rows)


def plot(medians: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for stage, sub in medians.groupby("stage", sort=False):
        axes[0].plot(sub["forms"], sub["seconds"], marker="o", label=stage)
        axes[1].plot(sub["forms"], sub["peak_mb"], marker="o", label=stage)
    for ax, ylabel in zip(axes, ["tijd (s, mediaan)", "piekgeheugen (MB, mediaan)"]):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("aantal bereiksformulieren")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary_markdown(medians: pd.DataFrame, exps: pd.DataFrame, cmp: pd.DataFrame, scales: list[int]) -> str:
    """bench.md: medians, exponents, targets and same-run ratios."""
    med_cmp = cmp.median(numeric_only=True)
    top = max(scales)
    at_top = medians[medians["forms"] == medians["forms"].max()]
    stages_top = at_top[at_top["stage"].isin(["01", "02", "03"])]
    clean_exp = exps.loc[exps["stage"] == "clean (function only)", "exponent"]
    measured = {
        "cold full run, scale 1 (s)": med_cmp["cold_full_run_s"],
        "no-op run (s)": med_cmp["noop_run_s"],
        "cleaning + analysis stages 01-03 in one run, scale 100 (s)":
            float(at_top.loc[at_top["stage"] == ONE_RUN, "seconds"].iloc[0]) if top == 100 else np.nan,
        "slowest single stage 01-03, scale 100 (s)": stages_top["seconds"].max() if top == 100 else np.nan,
        "peak memory, scale 100 (MB)": at_top.loc[at_top["stage"] != "report", "peak_mb"].max() if top == 100 else np.nan,
        "growth exponent of cleaning": float(clean_exp.iloc[0]) if len(clean_exp) else np.nan,
    }
    lines = ["# Benchmark", "", f"Medians of {int(cmp['repeat'].nunique())} runs; machine: {os.cpu_count()} cores.", "",
             "## Time and peak memory per stage", "", medians.to_markdown(index=False, floatfmt=".2f"), "",
             "## Growth exponents (time ≈ a·forms^b)", "", exps.to_markdown(index=False, floatfmt=".3f"), "",
             "## Targets", "", "| target | limit | measured | met |", "|---|---|---|---|"]
    for name, limit in TARGETS.items():
        value = measured[name]
        met = "–" if pd.isna(value) else ("yes" if value <= limit else "NO")
        lines.append(f"| {name} | {limit:g} | {value:.2f} | {met} |")
    lines += ["", "## Same-run comparisons (scale 1, medians)", "",
              cmp.median(numeric_only=True).drop("repeat").to_frame("median").to_markdown(floatfmt=".3f"), ""]
    kernels = medians[medians["stage"].isin([ONE_RUN, ONE_RUN_SEPARATE])].pivot(index="scale", columns="stage",
                                                                                  values="seconds")
    if set(kernels.columns) == {ONE_RUN, ONE_RUN_SEPARATE}:
        kernels["shared / per notebook"] = kernels[ONE_RUN] / kernels[ONE_RUN_SEPARATE]
        kernels.index = kernels.index.astype(int).astype(str)  # a scale, not a measurement: no decimals
        lines += ["## Stages 01-03: one shared kernel vs a kernel per notebook (seconds, medians)", "",
                  kernels.reset_index().to_markdown(index=False, floatfmt=".2f"), ""]
    return "\n".join(lines)


def run_benchmark(scales: list[int], repeats: int, output: Path) -> dict[str, Path]:
    """Measure everything and write the files listed in the module docstring."""
    output.mkdir(parents=True, exist_ok=True)
    stages = ["01", "02", "03", "report"]
    with tempfile.TemporaryDirectory(prefix="krachtpunten-bench-") as tmp:
        work = Path(tmp)
        rows = []
        for scale in scales:
            print(f"scale {scale}: generating and running {repeats}×", flush=True)
            rows += bench_scale(scale, repeats, work, stages)
        runs = pd.DataFrame(rows)
        print("same-run comparisons at scale 1", flush=True)
        cmp = same_run_comparisons(work, repeats)
    medians = runs.groupby(["stage", "scale", "forms"], sort=False)[["seconds", "peak_mb"]].median().reset_index()
    exps = growth_exponents(medians)
    files = {
        "runs": output / "bench_runs.csv", "medians": output / "bench.csv", "exponents": output / "bench_exponents.csv",
        "comparisons": output / "bench_comparisons.csv", "plot": output / "bench.png", "summary": output / "bench.md",
    }
    runs.to_csv(files["runs"], index=False)
    medians.to_csv(files["medians"], index=False)
    exps.to_csv(files["exponents"], index=False)
    cmp.to_csv(files["comparisons"], index=False)
    plot(medians, files["plot"])
    files["summary"].write_text(summary_markdown(medians, exps, cmp, scales), encoding="utf-8")
    return files


def cli(args) -> int:
    """``python -m analysis bench``."""
    output = Path(args.output or config.OUTPUT_DIR / "bench")
    files = run_benchmark(list(args.scales), int(args.repeats), output)
    print(files["summary"].read_text(encoding="utf-8"))
    return 0
