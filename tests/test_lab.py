"""`make lab` opens the notebooks with the project's kernel selected, in a real JupyterLab.

Started as the README says (`make lab`, with `LAB_ARGS` for a headless port and token), then a
notebook is opened in headless Chromium and the kernel name JupyterLab shows is read.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from analysis import config

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_opens_the_notebooks_with_the_project_kernel():
    port, token = _free_port(), "krachtpunten-test"
    args = f"--ServerApp.ip=127.0.0.1 --port {port} --ServerApp.token={token}"  # no display here: no browser
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # the command `make lab` runs (make -n prints it), started here so that the test owns the
    # server process and can stop it (through make, SIGTERM left servers running)
    command = subprocess.run(["make", "-s", "-n", "lab", f"LAB_ARGS={args}"], cwd=config.PROJECT_DIR, env=env,
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert "--no-browser" in command and f"--port {port}" in command
    lab = subprocess.Popen(shlex.split(command), cwd=config.PROJECT_DIR, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/kernelspecs?token={token}", timeout=2) as resp:
                    specs = json.load(resp)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        assert specs["default"] == config.KERNEL_NAME
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/lab/tree/02_reach_demographics.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            # "No Kernel" until the session starts; then the kernel JupyterLab chose for the notebook
            name = "document.querySelector('.jp-Toolbar-kernelName')?.textContent.trim()"
            try:
                page.wait_for_function(f"!['', 'No Kernel', undefined].includes({name})", timeout=60_000)
            except Exception:  # shown below: what the toolbar says
                pass
            shown = page.evaluate(name)
            browser.close()
        assert shown == config.KERNEL_DISPLAY_NAME
    finally:
        _stop(lab, base, token)


def _stop(lab: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels first); kill it if it has not within 30 s."""
    import signal

    request = urllib.request.Request(f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"})
    try:
        urllib.request.urlopen(request, timeout=10)
        lab.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(lab.pid, signal.SIGKILL)
        lab.wait(timeout=30)
