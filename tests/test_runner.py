"""The pipeline runner: order, parameters, failure message, incremental skip, dependencies."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from analysis import runner
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
