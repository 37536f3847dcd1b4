# genomlysning: `make run` sets up and runs the whole pipeline on demo data; `make test` runs every test.
SHELL := /bin/bash
# The newest supported interpreter found on PATH (one that actually runs: a pyenv shim of a version not
# selected fails); override with `make PYTHON=/path/to/python3.x`.
SUPPORTED_PYTHONS := python3.13 python3.12 python3.11 python3 python
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in $(SUPPORTED_PYTHONS); do \
	$$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1 && \
	{ command -v $$p; break; }; done)
endif
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEED ?= 20261122
# One BLAS thread per process: the runner parallelises over municipalities, and multi-threaded
# OpenBLAS on a small machine makes the Firth profile intervals many times slower.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

# The tests run in a throw-away project of their own (.nbval/: the demo municipalities written
# there by demo-data and prepared there, an empty reports/): a user's own params/ and data/ never
# reach them, and what a later notebook reads of earlier reports (04 reads each municipality's
# published ledger) is the same on a fresh clone, in CI and after `make run`.
NBVAL_ROOT := .nbval
NBVAL_ENV = GENOMLYSNING_ROOT=$(CURDIR)/$(NBVAL_ROOT)
NBVAL_PROJECT = rm -rf $(NBVAL_ROOT) && mkdir -p $(NBVAL_ROOT)/params && ln -s $(CURDIR)/notebooks $(NBVAL_ROOT)/notebooks && \
	$(NBVAL_ENV) $(PY) -m genomlysning.cli demo-data --seed $(SEED) >/dev/null && \
	$(NBVAL_ENV) $(PY) -m genomlysning.cli prepare >/dev/null

.DEFAULT_GOAL := help
.PHONY: help venv data processed run test lint bench bench-quick simulate notebooks clean-outputs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11, 3.12 or 3.13 is required; none found on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; assert (3, 11) <= v <= (3, 13), "Python 3.11-3.13 is required, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; print("make: $(VENV) uses Python", sys.version.split()[0], "(newest supported found: $(PYTHON))")'
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the pinned environment (requirements.lock)

data: $(STAMP) ## write the synthetic demo municipalities into data/raw and params/
	$(PY) -m genomlysning.cli demo-data --seed $(SEED)

processed: data ## clean every demo municipality into data/processed (library calls, no notebooks)
	$(PY) -m genomlysning.cli prepare

run: data ## set up and run the whole pipeline on the demo data (reports/ + reports/index.html)
	$(PY) -m genomlysning.cli run

test: $(STAMP) ## set up and run every test (unit, property, nbval notebooks) in a project of their own (.nbval)
	$(PY) -m genomlysning.cli test

notebooks: $(STAMP) ## re-execute the committed notebooks at their defaults (refreshes the outputs nbval compares)
	$(NBVAL_PROJECT)
	$(NBVAL_ENV) $(PY) scripts/execute_notebook.py notebooks/[0-9]*.ipynb

lint: $(STAMP) ## ruff
	$(PY) -m ruff check lib tests scripts bootstrap.py

bench: data ## benchmarks: cleaning throughput and notebook run times (prints medians)
	$(PY) scripts/bench.py

bench-quick: data ## a shorter benchmark (fewer municipalities in the national run)
	$(PY) scripts/bench.py --quick

simulate: $(STAMP) ## Monte Carlo bias and coverage of the published shares (1 000 replicates, ~5 min)
	$(PY) -m pytest tests/test_simulation.py -m simulation -s -p no:cacheprovider

clean-outputs: ## remove generated data, processed data and reports (keeps .venv)
	rm -rf data/processed/*/ reports/
