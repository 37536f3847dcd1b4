# genomlysning: `make run` sets up and runs the whole pipeline on demo data; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
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
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
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

test: $(STAMP) ## set up and run every test (unit, property, nbval notebooks) in a project of their own
	$(PY) -m ruff check lib tests scripts
	$(NBVAL_PROJECT)
	$(NBVAL_ENV) $(PY) -m pytest tests -p no:cacheprovider
	rm -rf $(NBVAL_ROOT)/reports
	$(NBVAL_ENV) $(PY) -m pytest notebooks --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

notebooks: $(STAMP) ## re-execute the committed notebooks at their defaults (refreshes the outputs nbval compares)
	$(NBVAL_PROJECT)
	$(NBVAL_ENV) $(PY) scripts/execute_notebook.py notebooks/[0-9]*.ipynb

lint: $(STAMP) ## ruff
	$(PY) -m ruff check lib tests scripts

bench: data ## benchmarks: cleaning throughput and notebook run times (prints medians)
	$(PY) scripts/bench.py

bench-quick: data ## a shorter benchmark (fewer municipalities in the national run)
	$(PY) scripts/bench.py --quick

simulate: $(STAMP) ## Monte Carlo bias and coverage of the published shares (1 000 replicates, ~5 min)
	$(PY) -m pytest tests/test_simulation.py -m simulation -s -p no:cacheprovider

clean-outputs: ## remove generated data, processed data and reports (keeps .venv)
	rm -rf data/processed/*/ reports/
