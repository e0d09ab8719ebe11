"""environment.yml (conda) and requirements.lock (venv) must agree on every package and version."""

from __future__ import annotations

import re
import tomllib

import yaml

from analysis import config

# In environment.yml only, on purpose: the interpreter and installer themselves, and quarto-cli,
# whose PyPI package downloads the Quarto binary at install time (README, "Rendering").
CONDA_ONLY = {"python", "pip", "quarto-cli"}


def norm(name: str) -> str:
    """PEP 503 normalised project name (conda and pip spell some names differently)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def conda_env() -> dict[str, str]:
    spec = yaml.safe_load((config.PROJECT_DIR / "environment.yml").read_text(encoding="utf-8"))
    pins: dict[str, str] = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                name, _, version = line.partition("==")
                pins[norm(name)] = version
        else:
            name, _, version = dep.partition("=")
            pins[norm(name)] = version
    return pins


def lock() -> dict[str, str]:
    pins = {}
    for line in (config.PROJECT_DIR / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"requirements.lock line {line!r} is not pinned with =="
            pins[norm(name)] = version
    return pins


def disagreements(env: dict[str, str], locked: dict[str, str]) -> dict[str, tuple]:
    """Packages whose environment.yml pin is missing from the lock or differs from it."""
    return {
        name: (version, locked.get(name))
        for name, version in env.items()
        if name not in CONDA_ONLY and locked.get(name) != version
    }


def test_every_conda_package_is_locked_at_the_same_version():
    disagree = disagreements(conda_env(), lock())
    assert not disagree, f"environment.yml vs requirements.lock (env, lock): {disagree}"


def test_the_check_catches_a_version_or_package_difference():
    env = {"pandas": "3.1.1", "scipy": "1.17.1", "quarto-cli": "1.7.34"}
    assert disagreements(env, {"pandas": "3.1.1", "scipy": "1.17.1"}) == {}
    assert disagreements(env, {"pandas": "3.1.0", "scipy": "1.17.1"}) == {"pandas": ("3.1.1", "3.1.0")}
    assert disagreements(env, {"pandas": "3.1.1"}) == {"scipy": ("1.17.1", None)}


def test_python_is_311_in_both():
    assert conda_env()["python"] == "3.11"
    project = tomllib.loads((config.PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11,<3.12"


def test_every_direct_dependency_is_in_both():
    project = tomllib.loads((config.PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    direct = {norm(d) for d in project["project"]["dependencies"]}
    direct |= {norm(d) for d in project["project"]["optional-dependencies"]["test"]}
    env, locked = conda_env(), lock()
    assert direct - set(env) == set(), "missing from environment.yml"
    assert direct - set(locked) == set(), "missing from requirements.lock"


def test_core_packages_present():
    core = {"jupyterlab", "pandas", "statsmodels", "seaborn", "pingouin", "papermill", "pyarrow", "quarto-cli"}
    assert core <= set(conda_env())


def test_installed_versions_match_the_lock():
    """The running environment is the locked one (catches a stale .venv)."""
    from importlib.metadata import PackageNotFoundError, version

    mismatched = {}
    for name, pinned in lock().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            mismatched[name] = (pinned, None)
            continue
        if installed != pinned:
            mismatched[name] = (pinned, installed)
    assert not mismatched, f"(lock, installed): {mismatched}; run 'make env'"
