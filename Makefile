# Krachtpunten analysis. `make help` lists the targets.
# The environment is a venv in .venv built from requirements.lock (conda users: environment.yml).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RAW    ?= data/raw
OUT    ?= data/processed
LAB_ARGS ?=

.DEFAULT_GOAL := help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: install it or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name krachtpunten --display-name "Python (krachtpunten)"
	touch $(STAMP)

env: $(STAMP)  ## Create or update the environment (.venv) from requirements.lock

report: $(STAMP)  ## Run the whole pipeline (only what changed) and render _output/report.html and .pdf
	$(PY) -m analysis run --raw $(RAW) --out $(OUT)

test: $(STAMP)  ## Run every test (what CI runs): the default suite, then the slow end-to-end runs
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow"
	$(PY) -m pytest -n 2 --dist loadgroup -m slow

test-fast: $(STAMP)  ## Run the default suite only (no whole-pipeline runs; a few minutes)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow"

# no browser where there is no display (a server: open the URL it prints), --allow-root as root
LAB_AUTO := $(if $(DISPLAY)$(WAYLAND_DISPLAY),,--no-browser) $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)  ## Open JupyterLab with the project's kernel ("Python (krachtpunten)"); LAB_ARGS="--port 8890" for more
	$(PY) -m jupyter lab --MultiKernelManager.default_kernel_name=krachtpunten $(LAB_AUTO) $(LAB_ARGS) notebooks/

bench: $(STAMP)  ## Benchmark the pipeline at several scales
	$(PY) -m analysis bench

check-raw: $(STAMP)  ## List every problem in the raw exports in one pass (problems.csv)
	$(PY) -m analysis check-raw --raw $(RAW) --out $(OUT)

check-privacy: $(STAMP)  ## Scan outputs and the git index for personal data
	$(PY) -m analysis check-privacy --out $(OUT)

quarto-check: $(STAMP)  ## Render with Quarto and offline and print the differences (needs quarto on the PATH)
	$(PY) -m analysis quarto-check --out $(OUT)

clean:  ## Remove derived outputs (keeps the environment)
	rm -rf _output $(OUT)/*.parquet $(OUT)/*.csv $(OUT)/provenance.json $(OUT)/results $(OUT)/internal $(OUT)/figures $(OUT)/.stamps

.PHONY: help env report test test-fast lab bench check-raw check-privacy quarto-check clean
