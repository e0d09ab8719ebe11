"""The pipeline runner: order, parameters, incremental skip, dependencies; nothing half-written
(executed copies, stamps) and one error format for every failure `python -m analysis run` reports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from analysis import config, runner
from analysis.runner import Roots, Stage, StageError, run_pipeline


def make_notebook(path: Path, *cells: str) -> Path:
    """A notebook with a papermill parameters cell followed by ``cells``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("raw_dir = None\nout_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def project(tmp_path):
    """Two stages: 01 copies raw/input.txt to out/a.txt (upper-cased), 02 makes out/b.txt from it."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "input.txt").write_text("hello")
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    nb1 = make_notebook(
        nbdir / "01_first.ipynb",
        "from pathlib import Path\n"
        "text = (Path(raw_dir) / 'input.txt').read_text()\n"
        "(Path(out_dir) / 'a.txt').write_text(text.upper())\n"
        "(Path(out_dir) / 'order.log').open('a').write('01\\n')",
    )
    nb2 = make_notebook(
        nbdir / "02_second.ipynb",
        "from pathlib import Path\n"
        "a = (Path(out_dir) / 'a.txt').read_text()\n"
        "(Path(out_dir) / 'b.txt').write_text(a + '!')\n"
        "(Path(out_dir) / 'order.log').open('a').write('02\\n')",
    )
    stages = [
        Stage("01", nb1, "notebook", inputs=("raw:*.txt",), outputs=("out:a.txt",)),
        Stage("02", nb2, "notebook", inputs=("out:a.txt",), outputs=("out:b.txt",)),
    ]
    return tmp_path, stages


def run(tmp_path, stages, **kw):
    lines: list[str] = []
    status = run_pipeline(
        tmp_path / "raw", tmp_path / "out", tmp_path / "_output", stages=stages, log=lines.append, **kw
    )
    return status, lines


def test_runs_stages_in_order_with_parameters(project):
    tmp_path, stages = project
    status, lines = run(tmp_path, stages)
    assert status == {"01": "ran", "02": "ran"}
    assert (tmp_path / "out" / "b.txt").read_text() == "HELLO!"
    assert (tmp_path / "out" / "order.log").read_text() == "01\n02\n"
    # executed copies are kept, with papermill's injected parameters
    executed = nbformat.read(tmp_path / "_output" / "notebooks" / "01_first.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert str(tmp_path / "raw") in injected[0].source
    # progress: one "running" and one "done" line per stage
    assert [ln.split(":")[0] for ln in lines if "done in" in ln] == ["[1/2] 01 01_first", "[2/2] 02 02_second"]


@pytest.mark.parametrize("per_notebook", [False, True])
def test_notebooks_share_one_kernel_but_no_variables(project, per_notebook):
    # Shared kernel (default): both notebooks report the same kernel process, yet the second
    # does not see the first's variable and works in its own folder although the first left
    # another. With kernel_per_notebook every notebook has a process of its own.
    tmp_path, stages = project
    probe = ("import os\n"
             "seen = [os.getpid(), 'secret' in dir(), os.getcwd()]\n"
             "(Path(out_dir) / (NAME + '.txt')).write_text(' '.join(map(str, seen)))\n")
    make_notebook(stages[0].source, "from pathlib import Path\nsecret = 42",
                  probe.replace("NAME", "'first'"), "os.chdir('/')",
                  "(Path(out_dir) / 'a.txt').write_text('A')")
    make_notebook(stages[1].source, "from pathlib import Path", probe.replace("NAME", "'second'"),
                  "(Path(out_dir) / 'b.txt').write_text('B')")
    status, _ = run(tmp_path, stages, kernel_per_notebook=per_notebook)
    assert status == {"01": "ran", "02": "ran"}
    first = (tmp_path / "out" / "first.txt").read_text().split(" ", 2)
    second = (tmp_path / "out" / "second.txt").read_text().split(" ", 2)
    assert first[1] == "True"
    assert second[1:] == ["False", str(stages[1].source.parent)]
    assert (first[0] != second[0]) == per_notebook
    # each executed copy counts its cells from 1, as when it ran alone
    for stage in stages:
        executed = nbformat.read(tmp_path / "_output" / "notebooks" / stage.source.name, as_version=4)
        counts = [c.execution_count for c in executed.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), (stage.id, counts)


def test_rerun_with_nothing_changed_executes_no_notebook(project, monkeypatch):
    tmp_path, stages = project
    run(tmp_path, stages)

    def fail(*a, **k):
        raise AssertionError("a notebook was executed although nothing changed")

    monkeypatch.setattr(runner, "_execute_notebook", fail)
    status, lines = run(tmp_path, stages)
    assert status == {"01": "skipped", "02": "skipped"}
    assert all("up to date" in ln for ln in lines)


def test_changed_input_reruns_only_what_depends_on_it(project):
    tmp_path, stages = project
    run(tmp_path, stages)
    (tmp_path / "raw" / "input.txt").write_text("bye")
    status, _ = run(tmp_path, stages)
    assert status == {"01": "ran", "02": "ran"}
    assert (tmp_path / "out" / "b.txt").read_text() == "BYE!"
    # same content again under a new mtime: stage 01 reruns? No: content is what counts.
    (tmp_path / "raw" / "input.txt").write_text("bye")
    status, _ = run(tmp_path, stages)
    assert status == {"01": "skipped", "02": "skipped"}


def test_upstream_rerun_with_identical_output_skips_downstream(project):
    tmp_path, stages = project
    run(tmp_path, stages)
    (tmp_path / "raw" / "input.txt").write_text("HELLO")  # upper-cases to the same a.txt
    status, _ = run(tmp_path, stages)
    assert status == {"01": "ran", "02": "skipped"}


def test_changed_notebook_reruns_that_stage(project):
    tmp_path, stages = project
    run(tmp_path, stages)
    nb = nbformat.read(stages[1].source, as_version=4)
    nb.cells[-1].source += "\n# a comment"
    nbformat.write(nb, stages[1].source)
    status, lines = run(tmp_path, stages)
    assert status == {"01": "skipped", "02": "ran"}
    assert any("changed: source:02_second.ipynb" in ln for ln in lines)


def test_missing_output_reruns_stage(project):
    tmp_path, stages = project
    run(tmp_path, stages)
    (tmp_path / "out" / "b.txt").unlink()
    status, lines = run(tmp_path, stages)
    assert status == {"01": "skipped", "02": "ran"}
    assert any("outputs missing" in ln for ln in lines)


def test_other_parameters_rerun(project):
    tmp_path, stages = project
    run(tmp_path, stages)
    other = tmp_path / "raw2"
    other.mkdir()
    (other / "input.txt").write_text("hello")
    status = run_pipeline(other, tmp_path / "out", tmp_path / "_output", stages=stages, log=lambda m: None)
    assert status["01"] == "ran"


def test_failure_names_notebook_cell_and_error_and_stops(project):
    tmp_path, stages = project
    bad = make_notebook(tmp_path / "notebooks" / "01_first.ipynb", "x = 1", "ratio = 1 / 0")
    stages = [Stage("01", bad, "notebook", outputs=("out:a.txt",)), stages[1]]
    with pytest.raises(StageError) as exc:
        run(tmp_path, stages)
    msg = str(exc.value)
    assert "01_first.ipynb" in msg
    assert "cell 3 " in msg  # 1-based, as the analyst counts: papermill's injected cell not counted
    assert "'ratio = 1 / 0'" in msg
    assert "ZeroDivisionError: division by zero" in msg
    assert "Traceback" not in msg
    assert not (tmp_path / "out" / "order.log").exists()  # stage 02 never ran
    assert not (tmp_path / "out" / ".stamps" / "01.json").exists()


def test_cli_failure_is_one_readable_message(project, capsys, monkeypatch):
    tmp_path, stages = project
    monkeypatch.setattr(runner, "load_stages", lambda: stages)
    make_notebook(stages[0].source, "raise ValueError('column leeftijd missing in DH.csv')")
    from analysis.__main__ import main

    code = main(["run", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
                 "--output", str(tmp_path / "_output"), "--no-report"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: stage 01 failed")
    assert "ValueError: column leeftijd missing in DH.csv" in err


def test_missing_raw_directory_is_a_clear_error(tmp_path):
    with pytest.raises(StageError, match="does not exist; pass --raw"):
        run_pipeline(tmp_path / "nope", tmp_path / "out", tmp_path / "o", stages=[], log=lambda m: None)


def test_module_files_follow_imports_transitively(tmp_path):
    pkg = tmp_path / "analysis"
    (pkg / "stats").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "stats" / "__init__.py").write_text("")
    (pkg / "stats" / "paired.py").write_text("from . import util\nimport numpy\n")
    (pkg / "stats" / "util.py").write_text("from analysis.fmt import pct\n")
    (pkg / "fmt.py").write_text("")
    (pkg / "unused.py").write_text("")
    code = "import pandas as pd\nfrom analysis.stats import paired\n%matplotlib inline"
    files = {p.relative_to(pkg).as_posix() for p in runner.module_files(code, pkg)}
    assert files == {"__init__.py", "stats/__init__.py", "stats/paired.py", "stats/util.py", "fmt.py"}


def test_changed_module_changes_fingerprint(tmp_path, project):
    _, stages = project
    pkg = tmp_path / "analysis"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "clean.py").write_text("def f(): return 1\n")
    (pkg / "other.py").write_text("")
    stage = Stage("x", make_notebook(tmp_path / "x.ipynb", "from analysis.clean import f"), "notebook")
    roots = Roots(raw=tmp_path, out=tmp_path / "out", output=tmp_path / "o", package=pkg)
    before = runner.fingerprint(stage, roots)
    (pkg / "other.py").write_text("x = 2\n")  # not used by the notebook
    assert runner.fingerprint(stage, roots) == before
    (pkg / "clean.py").write_text("def f(): return 2\n")
    assert runner.fingerprint(stage, roots) != before


def test_pipeline_yaml_declares_numbered_notebooks_in_order():
    stages = runner.load_stages()
    notebooks = [s for s in stages if s.kind == "notebook"]
    assert [s.source.name[:2] for s in notebooks] == sorted(s.source.name[:2] for s in notebooks)
    assert all(s.source.exists() for s in stages), "every stage's notebook/qmd exists"
    assert stages[-1].kind == "report"


def test_repository_notebooks_have_no_outputs_and_a_parameters_cell():
    for stage in runner.load_stages():
        if stage.kind != "notebook":
            continue
        nb = json.loads(stage.source.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), stage.source
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{stage.source.name} needs exactly one cell tagged 'parameters'"
        assert all(p in "".join(tagged[0]["source"]) for p in runner.PARAMETERS)


# --- nothing half-written ------------------------------------------------------------------------


def test_executed_copy_appears_only_when_complete(project):
    # While a notebook runs, its executed copy is a hidden temporary file; the name the user opens
    # holds the previous complete copy (or nothing on the first run) until the run ends.
    tmp_path, stages = project
    probe = ("import json, os\n"
             "from pathlib import Path\n"
             "nbdir = Path(out_dir).parent / '_output' / 'notebooks'\n"
             "final = nbdir / '01_first.ipynb'\n"
             "old = json.loads(final.read_text())['cells'][-1]['outputs'] if final.exists() else None\n"
             "(Path(out_dir) / 'seen.json').write_text(json.dumps([sorted(os.listdir(nbdir)), old]))\n"
             "print('RUN', len(os.listdir(Path(out_dir))))")
    make_notebook(stages[0].source, "from pathlib import Path\n(Path(out_dir) / 'a.txt').write_text('A')", probe)
    run(tmp_path, stages[:1])
    listing, old = json.loads((tmp_path / "out" / "seen.json").read_text())
    assert listing == [".01_first.ipynb.tmp.ipynb"] and old is None
    run(tmp_path, stages[:1], force=True)
    listing, old = json.loads((tmp_path / "out" / "seen.json").read_text())
    assert listing == [".01_first.ipynb.tmp.ipynb", "01_first.ipynb"]
    assert "".join(old[0]["text"]).startswith("RUN")  # the previous copy, whole and readable during the run
    assert sorted(p.name for p in (tmp_path / "_output" / "notebooks").iterdir()) == ["01_first.ipynb"]


def test_failed_stage_places_its_executed_copy_and_leaves_no_temporary_file(project):
    tmp_path, stages = project
    make_notebook(stages[0].source, "x = 1", "ratio = 1 / 0")
    with pytest.raises(StageError, match="full traceback in the executed copy"):
        run(tmp_path, stages)
    nbdir = tmp_path / "_output" / "notebooks"
    assert [p.name for p in nbdir.iterdir()] == ["01_first.ipynb"]
    errors = [o for c in nbformat.read(nbdir / "01_first.ipynb", as_version=4).cells
              for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "ZeroDivisionError"


def test_stale_temporary_files_of_a_killed_run_are_ignored_and_overwritten(project):
    # What a SIGKILL can leave behind: half-written hidden temporaries (executed copy, an output,
    # a stamp). The next run is not confused by them and replaces them.
    tmp_path, stages = project
    run(tmp_path, stages)
    stale = [tmp_path / "_output" / "notebooks" / ".01_first.ipynb.tmp.ipynb",
             tmp_path / "out" / ".stamps" / ".01.json.tmp.json"]
    for path in stale:
        path.write_text('{"cells": [', encoding="utf-8")
    status, _ = run(tmp_path, stages)
    assert status == {"01": "skipped", "02": "skipped"}
    status, _ = run(tmp_path, stages, force=True)
    assert status == {"01": "ran", "02": "ran"}
    assert not any(p.exists() for p in stale)
    assert json.loads((tmp_path / "out" / ".stamps" / "01.json").read_text())


def test_hidden_temporary_files_are_neither_inputs_nor_outputs(tmp_path):
    nb = make_notebook(tmp_path / "x.ipynb", "x = 1")
    stage = Stage("x", nb, "notebook", inputs=("out:results/*",), outputs=("out:figures/*",))
    roots = Roots(raw=tmp_path, out=tmp_path / "out", output=tmp_path / "o")
    (roots.out / "results").mkdir(parents=True)
    (roots.out / "figures").mkdir()
    (roots.out / "results" / "t.csv").write_text("a\n1\n")
    before = runner.fingerprint(stage, roots)
    (roots.out / "results" / ".t.csv.tmp.csv").write_text("a\n")  # half a write
    (roots.out / "figures" / ".f.png.tmp.png").write_bytes(b"\x89PNG")
    assert runner.fingerprint(stage, roots) == before
    assert not runner.outputs_present(stage, roots)


def test_unreadable_stamp_reruns_the_stage(project):
    # A stamp cut short (as a runner that wrote stamps in place could leave it) is no crash
    tmp_path, stages = project
    run(tmp_path, stages)
    (tmp_path / "out" / ".stamps" / "01.json").write_text('{"source:01', encoding="utf-8")
    status, lines = run(tmp_path, stages)
    assert status == {"01": "ran", "02": "skipped"}
    assert any("its stamp is unreadable" in ln for ln in lines)


# --- one error format: what `python -m analysis run` prints ------------------------------------


def cli_run(tmp_path, monkeypatch, capfd, stages, *extra, raw=None) -> tuple[int, str]:
    """``python -m analysis run`` in this process with ``stages``; (exit code, all of stderr,
    the kernels' included: capfd reads the file descriptor)."""
    from analysis.__main__ import main

    monkeypatch.setattr(runner, "load_stages", lambda: stages)
    capfd.readouterr()
    code = main(["run", "--raw", str(raw or tmp_path / "raw"), "--out", str(tmp_path / "out"),
                 "--output", str(tmp_path / "_output"), *extra])
    return code, capfd.readouterr().err


def error_lines(err: str) -> list[str]:
    """Our message: from 'error:' on (the kernels' own start-up warnings come before it)."""
    assert "error: " in err, err
    return err[err.index("error: "):].rstrip("\n").split("\n")


def report_stage(tmp_path, text: str) -> Stage:
    qmd = tmp_path / "doc.qmd"
    qmd.write_text(text, encoding="utf-8")
    return Stage("report", qmd, "report", outputs=("output:doc.html", "output:doc.pdf"))


def test_cli_report_chunk_error_names_file_chunk_and_line(tmp_path, monkeypatch, capfd):
    (tmp_path / "raw").mkdir()
    stage = report_stage(tmp_path, "---\ntitle: T\n---\n\n```{python}\nx = 1\n```\n\nTekst.\n\n"
                                   "```{python}\n#| label: tbl-kapot\n\nn = len([1])\n"
                                   "raise KeyError('leeftijd')\n```\n")
    code, err = cli_run(tmp_path, monkeypatch, capfd, [stage])
    copy = tmp_path / "_output" / "notebooks" / "doc.ipynb"
    assert code == 1 and "Traceback" not in err
    assert error_lines(err) == [
        "error: stage report failed: 'tbl-kapot' (chunk 2, line 11 of doc.qmd) failed at line 15 of doc.qmd: "
        "KeyError: 'leeftijd'",
        f"  full traceback in the executed copy: {copy}"]
    cell = nbformat.read(copy, as_version=4).cells[-1]
    assert cell.metadata["qmd"] == {"chunk": 2, "line": 11, "label": "tbl-kapot"}
    assert "Traceback" in "".join(cell.outputs[-1].traceback) or cell.outputs[-1].ename == "KeyError"
    assert not (tmp_path / "_output" / "doc.html").exists()


def test_cli_report_inline_error_names_file_and_line(tmp_path, monkeypatch, capfd):
    (tmp_path / "raw").mkdir()
    stage = report_stage(tmp_path, "---\ntitle: T\n---\n\nEerst `{python} 1 + 1`.\n\n"
                                   "Dan: `{python} aantal_deelnemers * 2`.\n")
    code, err = cli_run(tmp_path, monkeypatch, capfd, [stage])
    assert code == 1 and "Traceback" not in err
    lines = error_lines(err)
    assert lines[0] == ("error: stage report failed: inline expression `{python} aantal_deelnemers * 2` "
                        "(line 7 of doc.qmd) failed: NameError: name 'aantal_deelnemers' is not defined")
    assert lines[1:] == [f"  full traceback in the executed copy: {tmp_path / '_output' / 'notebooks' / 'doc.ipynb'}"]


def test_cli_typst_failure_names_file_and_line_and_keeps_the_old_pdf(tmp_path, monkeypatch, capfd):
    (tmp_path / "raw").mkdir()
    (tmp_path / "_output").mkdir()
    (tmp_path / "_output" / "doc.pdf").write_bytes(b"%PDF old %%EOF")
    stage = report_stage(tmp_path, "---\ntitle: T\n---\n\nTekst.\n\n```{=typst}\n#onbekendefunctie()\n```\n")
    code, err = cli_run(tmp_path, monkeypatch, capfd, [stage])
    assert code == 1 and "Traceback" not in err
    lines = error_lines(err)
    assert lines[0] == "error: stage report failed: typst could not compile doc.typ: unknown variable: onbekendefunctie", err
    assert any(re.search(r"doc\.typ:\d+:\d+", ln) for ln in lines)  # file, line and column
    assert lines[-1] == f"  its input is kept at {tmp_path / '_output' / 'doc.typ'}"
    assert "#onbekendefunctie()" in (tmp_path / "_output" / "doc.typ").read_text(encoding="utf-8")
    assert (tmp_path / "_output" / "doc.pdf").read_bytes() == b"%PDF old %%EOF"
    assert not [p for p in (tmp_path / "_output").iterdir() if p.name.startswith(".")]


def test_cli_failing_cell_is_one_message_without_traceback(project, monkeypatch, capfd):
    tmp_path, stages = project
    make_notebook(stages[0].source, "x = 1", "import pandas\nraise ValueError('column leeftijd missing in DH.csv')")
    code, err = cli_run(tmp_path, monkeypatch, capfd, stages, "--no-report")
    assert code == 1 and "Traceback" not in err
    assert error_lines(err) == [
        "error: stage 01 failed: notebook " f"{stages[0].source}, cell 3 ('import pandas'): "
        "ValueError: column leeftijd missing in DH.csv",
        f"  full traceback in the executed copy: {tmp_path / '_output' / 'notebooks' / '01_first.ipynb'}"]


def test_cli_raw_data_error_shows_its_own_message(project, monkeypatch, capfd):
    # RawDataError lists every problem; the user sees that list as written, not 'ename: evalue'
    tmp_path, stages = project
    make_notebook(stages[0].source,
                  "from analysis.problems import Problem\nfrom analysis.readers import RawDataError\n"
                  "raise RawDataError.from_problems([\n"
                  "    Problem('DH_bereik.csv', 'leeftijd is not a number', 'type the age in years', 4, 'leeftijd'),\n"
                  "    Problem('LH_bereik.xlsx', 'column wijk is missing', 'add the column', None, 'wijk')])")
    code, err = cli_run(tmp_path, monkeypatch, capfd, stages, "--no-report")
    assert code == 1 and "Traceback" not in err
    lines = error_lines(err)
    assert lines[0] == (f"error: stage 01 stopped: the raw data in {tmp_path / 'raw'} cannot be used "
                        f"(notebook {stages[0].source}, cell 2 ('from analysis.problems import Problem')):")
    assert lines[1].startswith("2 problems in the raw data (2 files)")
    assert "DH_bereik.csv" in lines[2] and "leeftijd" in lines[2] and "LH_bereik.xlsx" in lines[3]
    assert "RawDataError:" not in err
    assert lines[-1].startswith("  full traceback in the executed copy: ")


def test_cli_missing_raw_directory(tmp_path, monkeypatch, capfd):
    code, err = cli_run(tmp_path, monkeypatch, capfd, [], raw=tmp_path / "nergens")
    assert code == 1 and "Traceback" not in err
    assert error_lines(err) == [f"error: raw-data directory {tmp_path / 'nergens'} does not exist; pass --raw PATH"]


def test_cli_missing_input_names_the_file_and_the_stage_that_makes_it(project, monkeypatch, capfd):
    tmp_path, stages = project
    code, err = cli_run(tmp_path, monkeypatch, capfd, stages, "--only", "02")
    assert code == 1 and "Traceback" not in err
    assert error_lines(err) == [f"error: stage 02 (02_second.ipynb) cannot start: {tmp_path / 'out' / 'a.txt'} "
                                "does not exist; stage 01 makes it: run it first"]


def test_cli_unknown_stage_is_a_clear_error(project, monkeypatch, capfd):
    tmp_path, stages = project
    code, err = cli_run(tmp_path, monkeypatch, capfd, stages, "--only", "07")
    assert code == 1 and error_lines(err) == ["error: unknown stage(s) 07 in --only; the stages are 01, 02"]


@pytest.mark.slow
def test_cli_stage_01_on_raw_data_with_a_missing_file(tmp_path):
    """The real stage 01, as a user runs it, on a copy of the raw data without one export."""
    raw = tmp_path / "raw"
    shutil.copytree(config.RAW_DIR, raw)
    (raw / "DH_bereik.csv").unlink()
    proc = subprocess.run([sys.executable, "-m", "analysis", "run", "--raw", str(raw), "--out", str(tmp_path / "out"),
                           "--output", str(tmp_path / "_output"), "--only", "01", "--no-report"],
                          capture_output=True, text=True, cwd=config.PROJECT_DIR, timeout=600,
                          env={**os.environ, "KRACHTPUNTEN_PSEUDONYM_KEY": "test-key"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = error_lines(proc.stderr)
    assert lines[0].startswith(f"error: stage 01 stopped: the raw data in {raw} cannot be used "
                               "(notebook notebooks/01_clean_reach.ipynb, cell ")
    assert any("DH_bereik.csv" in ln for ln in lines[1:])
    assert lines[-1] == f"  full traceback in the executed copy: {tmp_path / '_output' / 'notebooks' / '01_clean_reach.ipynb'}"


def test_cli_report_missing_bibliography_is_one_message(tmp_path, monkeypatch, capfd):
    (tmp_path / "raw").mkdir()
    stage = report_stage(tmp_path, "---\ntitle: T\nbibliography: bronnen.bib\n---\n\nTekst [@jansen2020].\n")
    code, err = cli_run(tmp_path, monkeypatch, capfd, [stage])
    assert code == 1 and "Traceback" not in err
    assert error_lines(err) == [f"error: stage report failed: doc.qmd: bibliography file(s) not found: "
                                f"{tmp_path / 'bronnen.bib'}"]

