"""The whole pipeline on the committed synthetic data, as `make report` runs it, and its report.

One run into a temporary directory (shared by the tests here, kept on one xdist worker), then
checks of what a reader gets: both renderings, their sections and numbered figures and tables,
the page in a real browser, the PDF as images, the no-op re-run, determinism, and that the
report's numbers follow the results tables.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from analysis import config, runner

pytestmark = pytest.mark.xdist_group("e2e")

SECTIONS = ["Samenvatting", "Doelen van het onderzoek", "Methode", "Beperkingen", "Referenties",
            "Bijlage: reproduceerbaarheid"]


def run(out: Path, output: Path, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m analysis run`` as the Makefile calls it (a fresh process, like a user's)."""
    cmd = [sys.executable, "-m", "analysis", "run", "--raw", str(config.RAW_DIR), "--out", str(out),
           "--output", str(output), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd or config.PROJECT_DIR, timeout=900)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    out, output = base / "out", base / "_output"
    proc = run(out, output)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = (output / "report.html").read_text(encoding="utf-8")
    from pypdf import PdfReader

    pdf_text = "\n".join(page.extract_text() for page in PdfReader(output / "report.pdf").pages)
    return SimpleNamespace(base=base, out=out, output=output, log=proc.stdout, err=proc.stderr, html=html,
                           pdf=pdf_text)


def test_every_stage_ran_and_wrote_its_outputs(pipeline):
    for stage in runner.load_stages():
        assert f"{stage.id} {stage.name}: done in" in pipeline.log
        roots = runner.Roots(raw=config.RAW_DIR, out=pipeline.out, output=pipeline.output)
        assert runner.outputs_present(stage, roots), stage.id
        if stage.kind == "notebook":
            assert (pipeline.output / "notebooks" / stage.source.name).is_file()


def test_a_run_prints_no_warning_nobody_can_act_on(pipeline):
    """The kernels talk over IPC (analysis.render.execute.ipc_kernel_manager): over TCP ipykernel
    warned "Kernel is running over TCP without encryption" at every start."""
    assert "Kernel is running over TCP" not in pipeline.err + pipeline.log
    assert "WARNING" not in pipeline.err, pipeline.err


def test_noop_rerun_executes_nothing(pipeline):
    proc = run(pipeline.out, pipeline.output)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
    assert lines and all(ln.endswith(": up to date") for ln in lines), proc.stdout


def text_of_html(html: str) -> str:
    """The visible text: without <style>/<script> contents and tags."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def numbered(text: str, word: str) -> list[int]:
    return sorted({int(n) for n in re.findall(rf"{word} (\d+):", text)})


def test_html_and_pdf_have_the_same_sections_and_numbered_items(pipeline):
    html_text = text_of_html(pipeline.html)
    pdf = re.sub(r"\s+", " ", pipeline.pdf)
    for section in SECTIONS:
        assert section in html_text, f"HTML lacks section {section!r}"
        assert section in pdf, f"PDF lacks section {section!r}"
    for word in ("Tabel", "Figuur"):
        in_html, in_pdf = numbered(html_text, word), numbered(pdf, word)
        assert in_html == in_pdf, (word, in_html, in_pdf)
        assert in_html == list(range(1, len(in_html) + 1)), f"{word} numbers not consecutive: {in_html}"
    assert numbered(html_text, "Tabel"), "no numbered table"
    assert "?@" not in html_text and "?@" not in pdf, "unresolved cross-reference"


def test_synthetic_banner_on_first_page(pipeline):
    first_page = pipeline.pdf.split("\n1\n")[0] if "\n1\n" in pipeline.pdf else pipeline.pdf[:3000]
    assert "Synthetische data" in first_page
    assert "Synthetische data" in text_of_html(pipeline.html)[:3000]


def test_html_is_self_contained(pipeline):
    assert not re.search(r'<(?:img|script|link)[^>]+(?:src|href)="(?:https?:)?//', pipeline.html)


@pytest.mark.browser
def test_html_in_headless_chromium(pipeline):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((pipeline.output / "report.html").as_uri())
        page.wait_for_load_state("load")
        broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length")
        n_images = page.evaluate("document.images.length")
        n_tables = page.evaluate("document.querySelectorAll('table').length")
        page.screenshot(path=str(pipeline.output / "report-screenshot.png"), full_page=True)
        browser.close()
    assert errors == []
    assert broken == 0
    assert n_tables >= len(numbered(text_of_html(pipeline.html), "Tabel"))
    assert n_images >= len(numbered(text_of_html(pipeline.html), "Figuur"))
    assert (pipeline.output / "report-screenshot.png").stat().st_size > 10_000


def test_pdf_pages_as_images(pipeline):
    prefix = pipeline.output / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pipeline.output / "report.pdf"), str(prefix)], check=True)
    pages = sorted(pipeline.output.glob("page-*.png"))
    assert len(pages) >= 2
    assert all(p.stat().st_size > 2_000 for p in pages)  # not blank: a blank A4 page at 50 dpi is about 1.5 KB


def numeric_cells(html: str) -> list[str]:
    """The texts of the right-aligned (numeric) cells of every table in the HTML, without their
    footnote letters (a superscript sits above the line, and a PDF's text puts it on its own)."""
    import html as html_lib

    cells = re.findall(r'<td[^>]*style="text-align: right;"[^>]*>(.*?)</td>', html, re.S)
    cells = [re.sub(r"<sup>.*?</sup>", "", c, flags=re.S) for c in cells]
    return [t for t in (html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells) if t]


def test_pdf_tables_fit_no_overflow_and_no_number_on_two_lines(pipeline):
    """Every page looked at by machine: no two words overlap or leave the page (a number running
    into the next column, rows printed over each other), and no number of a numeric column is
    broken over two lines."""
    from analysis.render import layout

    pdf = pipeline.output / "report.pdf"
    assert layout.overlaps(pdf) == []
    cells = numeric_cells(pipeline.html)
    assert len(cells) > 300
    assert layout.broken_cells(pdf, cells) == []


def test_html_and_pdf_show_the_same_numbers_floats_and_references(pipeline):
    from analysis.render import parity

    html, pdf = (parity.structure(pipeline.output / f"report.{ext}") for ext in ("html", "pdf"))
    assert parity.compare(html, pdf, labels=("html", "pdf")) == []
    assert len(html["references"]) >= 20 and len(html["floats"]) >= 15


@pytest.mark.browser
def test_no_number_wraps_in_the_html(pipeline):
    from analysis.render import layout

    assert layout.html_wrapped_cells(pipeline.output / "report.html", width=1200) == []


def test_report_numbers_follow_the_results_tables(pipeline, tmp_path):
    """Change one number in a results table: the report's text changes with it."""
    from analysis.render import render_report

    out = tmp_path / "out"
    shutil.copytree(pipeline.out, out)
    flow_path = out / "results" / "cleaning_flow.csv"
    flow = flow_path.read_text(encoding="utf-8")
    kept = re.search(r"^PS_bereik\.sav,PS,[^,\n]*,[^,\n]*,[^,\n]*,(\d+)$", flow, re.M)
    assert kept, flow  # PS: nothing small in its row, so its kept count is published
    line = kept.group(0)
    flow_path.write_text(flow.replace(line, line[: -len(kept.group(1))] + str(int(kept.group(1)) + 9000)), encoding="utf-8")
    files = render_report(config.REPORT_QMD, tmp_path / "_output", formats=("html",), env={config.ENV_OUT: str(out)})
    text = text_of_html(files["html"].read_text(encoding="utf-8"))
    old_total = re.search(r"(\S+) zijn geanalyseerd", text_of_html(pipeline.html)).group(1)
    new_total = re.search(r"(\S+) zijn geanalyseerd", text).group(1)
    assert int(new_total.replace(".", "")) == int(old_total.replace(".", "")) + 9000


def digest_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".stamps" not in p.parts
    }


def notebook_content(path: Path, paths: dict[str, str] | None = None) -> list[tuple]:
    """What a reader sees in an executed notebook: each cell's type, source, execution count and
    outputs. Not its metadata, which holds timing (papermill's start and end times and durations,
    nbclient's execution times), nor cell ids (papermill gives its injected cell a random one).
    ``paths``: {path: placeholder}, for runs into other directories (the parameters cell
    names them)."""
    import nbformat

    text = path.read_text(encoding="utf-8")
    for old, new in (paths or {}).items():
        text = text.replace(json.dumps(old)[1:-1], new)
    nb = nbformat.reads(text, as_version=4)
    return [(c.cell_type, c.source, c.get("execution_count"), c.get("outputs", [])) for c in nb.cells]


@pytest.mark.slow
def test_rerun_from_scratch_elsewhere_is_byte_identical(pipeline, tmp_path):
    """Determinism, and the shared kernel changes nothing: a forced run from another working
    directory, each notebook in a kernel of its own, gives the same bytes as the first run
    (one kernel for all notebooks, as ``make report`` runs them): the data, the report (HTML and
    PDF, whose creation date is the commit's, not the clock's) and what the executed notebooks
    show (their timing metadata aside)."""
    out, output = tmp_path / "out", tmp_path / "_output"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    proc = run(out, output, "--force", "--kernel-per-notebook", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    first, second = digest_tree(pipeline.out), digest_tree(out)
    assert set(first) == set(second)
    differ = sorted(k for k in first if first[k] != second[k])
    assert differ == [], differ
    for name in ("report.html", "report.pdf"):
        assert (output / name).read_bytes() == (pipeline.output / name).read_bytes(), f"{name} differs"
    notebooks = sorted(p.name for p in (pipeline.output / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(p.name for p in (output / "notebooks").glob("*.ipynb"))
    assert "report.ipynb" in notebooks and len(notebooks) == len(runner.load_stages())
    here = {str(out): "OUT", str(output): "OUTPUT"}
    there = {str(pipeline.out): "OUT", str(pipeline.output): "OUTPUT"}
    for name in notebooks:
        assert notebook_content(output / "notebooks" / name, here) == \
            notebook_content(pipeline.output / "notebooks" / name, there), f"executed {name} differs"


def test_privacy_check_passes_on_the_outputs(pipeline):
    proc = subprocess.run([sys.executable, "-m", "analysis", "check-privacy", "--out", str(pipeline.out),
                           "--output", str(pipeline.output)], capture_output=True, text=True, cwd=config.PROJECT_DIR,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ----------------------------------------------------------------------------------------------
# disclosure: the attack on everything the run published (issue 17)
# ----------------------------------------------------------------------------------------------
def test_no_small_cell_can_be_recovered_from_the_published_tables(pipeline):
    from analysis import attack

    result = attack.attack_outputs(pipeline.out)
    small = result[result["mark"] == "<5"]
    assert len(small) > 50, "the synthetic data have many small cells; the attack saw too few"
    exposed = small[~small["protected"].astype(bool)]
    assert exposed.empty, exposed[["file", "key", "low", "high", "low_unmarked", "high_unmarked"]].to_string()
    # every hidden count is hidden wherever it is published: no "<5"/"x" beside the same count in
    # another table as a number (the ledger keeps the number when one table shows it)
    assert set(result["mark"]) <= {"<5", "x"}


def test_without_secondary_suppression_the_attack_recovers_cells(pipeline):
    # notebook 02's tables protected again from their unsuppressed copies, with primary
    # suppression only: the attack must find cells it can narrow (otherwise the test above could
    # not fail); with secondary suppression, none. (Notebook 03's tables: the same check in
    # tests/test_paired_disclosure.py, the flows in tests/test_flow_disclosure.py.)
    from analysis import attack, reach
    from analysis.stats import disclosure

    internal = {name: t for name, t in attack.read_published(pipeline.out / "internal").items()
                if name.startswith("reach_")}
    for secondary, expect_exposed in ((False, True), (True, False)):
        frames, _ = reach.protect_tables(internal, dict(reach.spec(), secondary_suppression=secondary))
        result = disclosure.attack(reach.ledger(frames, 5))
        small = result[result["mark"] == "<5"]
        exposed = small[~small["protected"].astype(bool)]
        assert (len(exposed) > 0) == expect_exposed, (secondary, len(exposed), len(small))
        if not secondary:
            # Table 1 cells come back by one subtraction (the "anders" example class)
            assert exposed["where"].str.contains("reach_table1").any()


def test_the_report_renders_with_hidden_values_and_says_so(pipeline, tmp_path):
    # the pipeline's own results with random counts and statistics replaced by "x" and "<5"
    from test_report_summary import report_with_hidden_values

    report_with_hidden_values(pipeline.out, tmp_path)
