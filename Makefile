# Everything runs from a local virtual environment that `make` creates on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# CORE: salesim and its core libraries, enough for `make run`; STAMP adds the test tools and the
# Optuna and Ray extras (everything else needs them).
CORE := $(VENV)/.installed-core
STAMP := $(VENV)/.installed

.PHONY: run test test-all test-browser bench validate backtest-docs lint format clean

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

# test-browser: report.html in the system's headless Chromium, driven by playwright (the
# `browser` extra); Chromium comes from apt-get when /usr/bin/chromium is absent (root, or sudo).
BROWSER := $(VENV)/.installed-browser
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BROWSER): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,browser]'
	touch $(BROWSER)

test-browser: $(BROWSER)  ## report.html in headless Chromium; screenshots in results/test-artifacts/
	@test -x $(CHROMIUM) || command -v chromium >/dev/null 2>&1 || \
	  $(SUDO) apt-get install -y chromium chromium-driver || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver; }
	SALESIM_BROWSER_REQUIRED=1 $(BIN)/python -m pytest -rs tests/test_report_browser.py $(ARGS)

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
