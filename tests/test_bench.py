"""The benchmark's bookkeeping (analysis/bench.py): exponents and the targets table.

The measurements themselves come from `make bench` (minutes, not a test); here made-up
medians with known answers check what the summary computes from them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import bench


def _medians(one_run_s: float, stage_s: float) -> pd.DataFrame:
    rows = []
    for scale, forms in ((1, 450), (10, 4500), (100, 45000)):
        f = scale / 100
        rows += [{"stage": st, "scale": scale, "forms": forms, "seconds": stage_s * f, "peak_mb": 300.0 + scale}
                 for st in ("01", "02", "03")]
        rows.append({"stage": bench.ONE_RUN, "scale": scale, "forms": forms, "seconds": one_run_s * f, "peak_mb": 700.0})
        rows.append({"stage": bench.ONE_RUN_SEPARATE, "scale": scale, "forms": forms, "seconds": 1.25 * one_run_s * f,
                     "peak_mb": 600.0})
        rows.append({"stage": "report", "scale": scale, "forms": forms, "seconds": 9.0, "peak_mb": 2500.0})
        # cleaning time grows as forms^1.2: 2 s at 450 forms
        rows.append({"stage": "clean (function only)", "scale": scale, "forms": forms,
                     "seconds": 2.0 * (forms / 450) ** 1.2, "peak_mb": 200.0})
    return pd.DataFrame(rows)


def test_exponent_and_targets_from_known_medians():
    med = _medians(one_run_s=58.0, stage_s=25.0)
    exps = bench.growth_exponents(med).set_index("stage")["exponent"]
    assert np.isclose(exps["clean (function only)"], 1.2) and np.isclose(exps["01"], 1.0)
    cmp = pd.DataFrame({"repeat": [0, 1, 2], "cold_full_run_s": [50.0, 70.0, 55.0], "noop_run_s": [0.5, 0.6, 0.7]})
    md = bench.summary_markdown(med, bench.growth_exponents(med), cmp, [1, 10, 100])
    lines = {ln.split(" | ")[0].strip("| "): ln for ln in md.splitlines() if ln.startswith("| ")}
    assert "| 55.00 | yes |" in lines["cold full run, scale 1 (s)"]  # median of 50, 70, 55
    assert "| 58.00 | yes |" in lines["cleaning + analysis stages 01-03 in one run, scale 100 (s)"]
    assert "| 25.00 | yes |" in lines["slowest single stage 01-03, scale 100 (s)"]
    assert "| 700.00 | yes |" in lines["peak memory, scale 100 (MB)"]  # the report stage is not counted
    assert "| 1.20 | NO |" in lines["growth exponent of cleaning"]
    slow = bench.summary_markdown(_medians(one_run_s=61.0, stage_s=25.0), exps.reset_index(), cmp, [1, 10, 100])
    assert "| 61.00 | NO |" in slow
    # shared kernel vs a kernel per notebook: 58 s against 1.25 * 58 = 72.5 s at scale 100
    section = md.split("one shared kernel vs a kernel per notebook")[1]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in section.splitlines() if ln.startswith("|")]
    assert rows[0][1:] == [bench.ONE_RUN, bench.ONE_RUN_SEPARATE, "shared / per notebook"]
    assert rows[-1] == ["100", "58.00", "72.50", "0.80"]
