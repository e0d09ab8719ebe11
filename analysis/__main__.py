"""Command line: ``python -m analysis <command>``; ``python -m analysis --help`` lists them.

Imports are lazy so that a no-op ``run`` stays fast (no pandas, no kernel).
"""

from __future__ import annotations

import argparse
import sys


def _run(args: argparse.Namespace) -> int:
    from analysis.runner import cli

    return cli(args)


def _render(args: argparse.Namespace) -> int:
    from analysis.render import cli

    return cli(args)


def _quarto_check(args: argparse.Namespace) -> int:
    from analysis.render.parity import cli

    return cli(args)


def _synth(args: argparse.Namespace) -> int:
    from analysis.synth import cli

    return cli(args)


def _fetch_cbs(args: argparse.Namespace) -> int:
    from analysis.cbs import cli

    return cli(args)


def _check_privacy(args: argparse.Namespace) -> int:
    from analysis.privacy import cli

    return cli(args)


def _check_raw(args: argparse.Namespace) -> int:
    from analysis.checkraw import cli

    return cli(args)


def _bench(args: argparse.Namespace) -> int:
    from analysis.bench import cli

    return cli(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every command's options are declared here, in one place."""
    p = argparse.ArgumentParser(prog="python -m analysis",
                                description="The Krachtpunten analysis: clean the raw exports, run the numbered "
                                            "notebooks, render the report, check data and outputs. "
                                            "'python -m analysis <command> --help' explains a command.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run the numbered notebooks (only what changed) and render the report")
    r.add_argument("--raw", help="raw-data directory (default data/raw)")
    r.add_argument("--out", help="processed-data directory: cleaned data, results tables, figures "
                                 "(default data/processed)")
    r.add_argument("--output", help="where the executed notebooks and the report go (default _output; "
                                    "not the same as --out)")
    r.add_argument("--force", action="store_true", help="run every stage even if nothing changed")
    r.add_argument("--only", nargs="+", metavar="STAGE", help="run only these stages (e.g. 01 02 report)")
    r.add_argument("--no-report", action="store_true", help="run the notebooks but do not render")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.add_argument("--kernel-per-notebook", action="store_true",
                   help="start a kernel for each notebook instead of sharing one with a cleared namespace")
    r.set_defaults(func=_run)

    q = sub.add_parser("render", help="render report.qmd to HTML and PDF (Quarto if on PATH, else offline)")
    q.add_argument("--qmd", help="the .qmd file (default report.qmd)")
    q.add_argument("--out", help="processed-data directory the report reads (default data/processed)")
    q.add_argument("--output", help="where report.html and report.pdf go (default _output)")
    q.add_argument("--engine", choices=["auto", "quarto", "offline"], default="auto",
                   help="auto: Quarto when 'quarto' is on the PATH, else the offline renderer (default auto)")
    q.add_argument("--to", nargs="+", choices=["html", "pdf"], default=["html", "pdf"],
                   help="the formats to write (default: html pdf)")
    q.set_defaults(func=_render)

    qc = sub.add_parser("quarto-check", help="render with Quarto and offline and print the differences",
                        description="Render the report offline and with Quarto (HTML and PDF) into temporary "
                                    "folders and compare sections, numbered captions, references, citations "
                                    "and numbers. Exit status 1 when they differ; 0 (with a note) when "
                                    "quarto is not on the PATH.")
    qc.add_argument("--qmd", help="the .qmd file (default report.qmd)")
    qc.add_argument("--out", help="processed-data directory the report reads (default data/processed)")
    qc.add_argument("--keep", metavar="DIR", help="keep both renders in DIR/offline and DIR/quarto, to look at them")
    qc.set_defaults(func=_quarto_check)

    s = sub.add_parser("synth", help="write the synthetic raw exports (seeded, deterministic)",
                       description="Write synthetic raw exports with documented true parameters and planted "
                                   "defects; the same seed, scale and profile give byte-identical files.")
    s.add_argument("--seed", type=int, default=1,
                   help="random seed, a non-negative whole number (default 1: the committed data/raw)")
    s.add_argument("--scale", type=int, default=1,
                   help="multiply the sites (3 x SCALE sites, generated beyond the study's three) for "
                        "benchmarks (default 1)")
    s.add_argument("--profile", default="study",
                   help="a set of settings in analysis/synth/params.yaml (profiles): 'study' (default: the "
                        "committed data, 140-160 forms per site) or 'small' (the real study's size: 30-60 forms "
                        "per site, 7 interviewees per site, 3-6 pairs per site and one site with 2 or 3, outcomes without "
                        "change)")
    s.add_argument("--out", help="directory to write (default data/raw)")
    s.set_defaults(func=_synth)

    c = sub.add_parser("fetch-cbs", help="fetch CBS Kerncijfers wijken en buurten with cbsodata (online)")
    c.add_argument("--table", default="85984NED",
                   help="CBS table id of Kerncijfers wijken en buurten (default 85984NED, the 2024 edition)")
    c.add_argument("--out", help="file to write (default data/reference/cbs_fetched_<table>.csv)")
    c.set_defaults(func=_fetch_cbs)

    v = sub.add_parser("check-privacy", help="scan outputs and the git index for personal data")
    v.add_argument("--out", help="processed-data directory (default data/processed)")
    v.add_argument("--output", help="where the executed notebooks and the report are (default _output)")
    v.set_defaults(func=_check_privacy)

    k = sub.add_parser("check-raw", help="read every raw export and list every problem in one pass (problems.csv)",
                       description="Read every raw source as stage 01 does, collect every problem (file, sheet, row, "
                                   "column, value shown safely, what is wrong, how to fix it) and write them to "
                                   "problems.csv and problems.txt. Exit status 1 when a problem blocks the analysis.")
    k.add_argument("--raw", help="raw-data directory (default data/raw)")
    k.add_argument("--out", help="processed-data directory; the lists go to its internal/ folder (default data/processed)")
    k.add_argument("--problems", metavar="DIR", help="write problems.csv and problems.txt here instead")
    k.set_defaults(func=_check_raw)

    b = sub.add_parser("bench", help="benchmark the pipeline at several scales")
    b.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100],
                   help="synthetic data sizes to time, as multiples of the study's sites (default: 1 10 100)")
    b.add_argument("--repeats", type=int, default=3, help="runs per scale; the medians are reported (default 3)")
    b.add_argument("--output", help="directory for the table and plot (default _output/bench)")
    b.set_defaults(func=_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
