# The course's commands. Needs only Python 3.11, 3.12 or 3.13, pip and make: every target creates or refreshes
# the virtual environment .venv from pyproject.toml first (reinstalled only when pyproject.toml
# is newer than the stamp .venv/.installed); the test targets also install the `test` extra
# (pytest, selenium: stamp .venv/.installed-test).
#
#   make notebooks   run every notebook (full parameters) -> figures/, results/, build/notebooks/
#                    (options of tools/run_notebooks.py in ARGS: make notebooks ARGS="--only 05")
#   make test        unit and repository tests, then every notebook with SMOKE=True
#   make test-browser  notebooks 02 and 05 in JupyterLab driven by headless Chromium (widgets),
#                    and one page of the course site
#   make site        the course site (Sphinx + myst-nb, pyproject's `docs` extra: stamp
#                    .venv/.installed-docs) -> build/site/html/index.html
#   make lab         JupyterLab on notebooks/ with the project kernel (jupytext pairs .py/.ipynb)

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
TSTAMP  := $(VENV)/.installed-test
DSTAMP  := $(VENV)/.installed-docs
PYTEST  := $(PY) -m pytest
# Processes for the unit tests (pytest-xdist; each test runs PyTorch on one thread): 2 took the
# 916 tests from 5.5 to 3.6 min on the 2-core machine. `make test TEST_WORKERS=0` runs them here.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv notebooks test test-unit test-notebooks test-browser site lab sync strip bench clean \
	clean-venv

# Debian's chromium and chromium-driver (what tests/browser uses; $FAS_CHROMIUM etc. override)
CHROMIUM     := $(or $(FAS_CHROMIUM),/usr/bin/chromium)
CHROMEDRIVER := $(or $(FAS_CHROMEDRIVER),/usr/bin/chromedriver)

help:  ## list the targets
	@echo "make targets (all but help and clean* create or refresh .venv first):"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 18

# Python 3.11-3.13: the first of python3.11, python3.12, python3.13 found (3.11 first: its
# PyTorch wheels are the ones CI has cached), else python3 when it is one of them.
$(PY):
	@base=; for p in python3.11 python3.12 python3.13 python3; do \
	  if $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; \
	  then base=$$p; break; fi; done; \
	if [ -z "$$base" ]; then echo "error: Python 3.11, 3.12 or 3.13 is needed (python3.11 ... python3.13, or python3)" >&2; exit 1; fi; \
	echo "creating $(VENV) with $$base ($$($$base --version))"; \
	$$base -m venv $(VENV)

# An existing .venv (made by hand or by a previous make) is adopted, not recreated.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (fas-course .venv)"
	@touch $(STAMP)

# The test tools (pyproject's `test` extra) on top, for the test targets only.
$(TSTAMP): $(STAMP)
	$(PY) -m pip install -e ".[test]"
	@touch $(TSTAMP)

# The site tools (pyproject's `docs` extra), for make site only.
$(DSTAMP): $(STAMP)
	$(PY) -m pip install -e ".[docs]"
	@touch $(DSTAMP)

venv: $(STAMP)  ## create/refresh .venv (pip install -e . + Jupyter kernel)

notebooks: $(STAMP)  ## run notebooks/NN_*.ipynb in order, full parameters (ARGS="--only 03" etc.)
	$(PY) tools/run_notebooks.py --out build/notebooks $(ARGS)

test: $(TSTAMP)  ## unit + repository tests, then every notebook with SMOKE=True
	$(PYTEST) -n $(TEST_WORKERS) tests/unit tests/test_repo.py tests/test_layout.py
	$(PYTEST) tests/notebooks
	@if [ -x "$(CHROMIUM)" ] && [ -x "$(CHROMEDRIVER)" ]; then \
	  echo "browser test: not part of make test; Chromium found, run: make test-browser"; \
	else \
	  echo "browser test SKIPPED: no Chromium found ($(CHROMIUM), $(CHROMEDRIVER));" \
	       "apt-get install chromium chromium-driver, then: make test-browser"; \
	fi

test-unit: $(TSTAMP)  ## unit + repository tests only
	$(PYTEST) -n $(TEST_WORKERS) tests/unit tests/test_repo.py tests/test_layout.py

test-notebooks: $(TSTAMP)  ## every notebook with SMOKE=True (into build/notebook-smoke/)
	$(PYTEST) tests/notebooks

test-browser: $(TSTAMP) $(DSTAMP)  ## notebooks 02, 05 in JupyterLab + headless Chromium: widgets; a site page (ARGS="--smoke-run DIR")
	$(PYTEST) tests/browser --run-browser --tb=short $(ARGS)

site: $(DSTAMP)  ## the course site -> build/site/html (warnings are errors; every link inside it checked)
	$(PY) tools/build_site.py $(ARGS)

lab: $(STAMP)  ## JupyterLab on notebooks/ (edit the .py or the .ipynb: jupytext keeps them paired)
	$(VENV)/bin/jupyter lab --notebook-dir notebooks

sync: $(STAMP)  ## after editing notebooks outside JupyterLab: bring each .py/.ipynb pair in sync
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py
	$(PY) tools/strip_notebooks.py

strip: $(STAMP)  ## strip outputs and run metadata from notebooks/*.ipynb
	$(PY) tools/strip_notebooks.py

bench: $(STAMP)  ## run benchmarks/*.py (they print ratios and write results/bench_*.json)
	@set -e; for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script; done

clean:  ## remove build/ and caches (keeps .venv and the data cache ~/.cache/fas_lib)
	rm -rf build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

clean-venv:  ## remove .venv (the next make recreates it)
	rm -rf $(VENV)
