# Everything runs from a local virtual environment that `make` creates on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# CORE: salesim and its core libraries, enough for `make run`; STAMP adds the test tools and the
# Optuna and Ray extras (everything else needs them).
CORE := $(VENV)/.installed-core
STAMP := $(VENV)/.installed

.PHONY: run test test-all bench validate backtest-docs lint format clean

$(CORE): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found; set PY=/path/to/python3.11" >&2; exit 2; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(CORE)

$(STAMP): $(CORE)
	$(BIN)/python -m pip install --quiet -e '.[dev,optimise,ray]'
	$(BIN)/python -m pip install --quiet -e '.[query]'
	touch $(STAMP)

run: $(CORE)  ## the default scenario (100 replications) into results/
	$(BIN)/salesim $(ARGS)

test: $(STAMP)  ## the fast suite (slow checks excluded)
	$(BIN)/python -m pytest $(ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest -m "" $(ARGS)

bench: $(STAMP)  ## throughput and memory; figures go in docs/performance.md
	$(BIN)/python bench/bench.py $(ARGS)

validate: $(STAMP)  ## the validation checks at full size; rewrites docs/validation.md
	$(BIN)/python -m sim.validate --size full $(ARGS)

backtest-docs: $(CORE)  ## rolling backtests of ../shared/data, default fit; tables and figures for docs/calibration.md
	$(BIN)/python experiments/backtest_docs.py $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check sim tests bench
	$(BIN)/ruff format --check sim tests bench

format: $(STAMP)
	$(BIN)/ruff format sim tests bench
	$(BIN)/ruff check --fix sim tests bench

clean:
	rm -rf $(VENV) .pytest_cache
