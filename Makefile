# The course's commands. Needs only Python 3.11, pip and make: every target creates or refreshes
# the virtual environment .venv from pyproject.toml first (reinstalled only when pyproject.toml
# is newer than the stamp .venv/.installed).
#
#   make notebooks   run every notebook (full parameters) -> figures/, results/, build/notebooks/
#                    (options of tools/run_notebooks.py in ARGS: make notebooks ARGS="--only 05")
#   make test        unit and repository tests, then every notebook with SMOKE=True

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYTEST  := $(PY) -m pytest

.DEFAULT_GOAL := help
.PHONY: help venv notebooks test test-unit test-notebooks strip bench clean clean-venv

help:  ## list the targets
	@echo "make targets (all but help and clean* create or refresh .venv first):"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 18

# Python 3.11: python3.11 when found, else python3 when it is 3.11.
$(PY):
	@if python3.11 -c '' 2>/dev/null; then base=python3.11; \
	elif python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then base=python3; \
	else echo "error: Python 3.11 is needed (python3.11, or a python3 that is 3.11)" >&2; exit 1; fi; \
	echo "creating $(VENV) with $$base ($$($$base --version))"; \
	$$base -m venv $(VENV)

# An existing .venv (made by hand or by a previous make) is adopted, not recreated.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (fas-course .venv)"
	@touch $(STAMP)

venv: $(STAMP)  ## create/refresh .venv (pip install -e . + Jupyter kernel)

notebooks: $(STAMP)  ## run notebooks/NN_*.ipynb in order, full parameters (ARGS="--only 03" etc.)
	$(PY) tools/run_notebooks.py --out build/notebooks $(ARGS)

test: $(STAMP)  ## unit + repository tests, then every notebook with SMOKE=True
	$(PYTEST) tests/unit tests/test_repo.py
	$(PYTEST) tests/notebooks

test-unit: $(STAMP)  ## unit + repository tests only
	$(PYTEST) tests/unit tests/test_repo.py

test-notebooks: $(STAMP)  ## every notebook with SMOKE=True (into build/notebook-smoke/)
	$(PYTEST) tests/notebooks

strip: $(STAMP)  ## strip outputs and run metadata from notebooks/*.ipynb
	$(PY) tools/strip_notebooks.py

bench: $(STAMP)  ## run benchmarks/*.py (they print ratios and write results/bench_*.json)
	@set -e; for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script; done

clean:  ## remove build/ and caches (keeps .venv and the data cache ~/.cache/fas_lib)
	rm -rf build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

clean-venv:  ## remove .venv (the next make recreates it)
	rm -rf $(VENV)
