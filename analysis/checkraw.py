"""``python -m analysis check-raw``: read every raw source and report every problem in one pass.

Stage 01 runs the same check (:func:`check_raw`) before it writes anything, so the command and
the pipeline can never disagree about what is wrong. The problems go to ``problems.csv`` and
``problems.txt`` in ``<out>/internal/`` (not published: the values are shown safely, but the
list is about the raw files); the exit status is 1 when a problem blocks the analysis.
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis.problems import Problems

#: Files the synthetic-data generator writes beside the exports (they hold no forms).
NOT_DATA = ("MANIFEST.sha256", "README.md", "true_parameters.yaml", "synthetic_sites.yaml")


def check_raw(raw_dir: Path, cb=None, *, synthetic: bool | None = None, progress=None) -> tuple[Problems, dict]:
    """Clean every source (reach, proxy, site questionnaire, interviews and their coded
    segments) without writing, collecting every problem.

    Returns the problems and the cleaned results (``reach``, ``proxy``, ``sites``,
    ``interviews``; None for a source that could not be read). ``synthetic``: as in
    :func:`analysis.clean.clean_reach` (decides only which pseudonym key is used).
    """
    from analysis import clean, interviews
    from analysis import codebook as cbmod

    raw_dir = Path(raw_dir)
    cb = cb or cbmod.load(raw_dir=raw_dir)
    synthetic = clean.is_synthetic(raw_dir) if synthetic is None else synthetic
    problems = Problems(progress=progress)
    unexpected_files(raw_dir, cb, problems)
    results = {
        "reach": clean.clean_reach(raw_dir, cb, synthetic=synthetic, problems=problems),
        "proxy": clean.clean_proxy(raw_dir, cb, synthetic=synthetic, problems=problems),
        "sites": clean.clean_sites(raw_dir, cb, problems=problems),
        "interviews": interviews.clean_interviews(raw_dir, cb, synthetic=synthetic, problems=problems),
    }
    return problems, results


def unexpected_files(raw_dir: Path, cb, problems: Problems) -> None:
    """A file in the raw folder that no source reads is named (a warning): a second export or a
    site's file under another name would otherwise be left out without a word."""
    from analysis.clean import expected_files

    expected = set(NOT_DATA) | expected_files(cb)
    for path in sorted(Path(raw_dir).iterdir()):
        if path.is_file() and not path.name.startswith((".", "~$")) and path.name not in expected:
            problems.add(path.name, "file not named in the codebook: not read",
                         "if it holds forms, give it the name analysis/codebook.yaml expects (sources.*.file) or add "
                         "a source for it; otherwise move it out of the raw-data folder", blocking=False)


def cli(args) -> int:
    """Print a progress line per file and the summary; write problems.csv; exit 1 if blocking."""
    from analysis import config, results

    raw = config.raw_dir(args.raw)
    if not raw.is_dir():
        print(f"error: raw-data directory {raw} does not exist; pass --raw PATH", file=sys.stderr)
        return 2
    folder = Path(args.problems) if args.problems else results.internal_dir(args.out)
    print(f"checking the raw exports in {raw}")
    # the pseudonyms made here are thrown away: the public key will do, real keys are not needed
    problems, _ = check_raw(raw, synthetic=True, progress=print)
    csv, txt = problems.write(folder)
    print(problems.summary())
    print(f"full list: {csv} (summary: {txt})")
    return 1 if problems.blocking_count else 0
