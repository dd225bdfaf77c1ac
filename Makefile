# The README's two commands: `make run` and `make test`. CI runs `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app

.PHONY: run test lint format bench check-python sysdeps-run sysdeps-test clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Stillpoint needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

sysdeps-run:
	@sh scripts/system-deps.sh run

sysdeps-test:
	@sh scripts/system-deps.sh test

## run: set up, create or upgrade the SQLite database, load the demo if empty, serve on :5000
run: $(VENV)/.installed sysdeps-run
	$(FLASK) init
	$(FLASK) demo --if-empty
	@echo "Stillpoint on http://127.0.0.1:5000 (owner@demo.test / stillpoint-demo)"
	STILLPOINT_SESSION_COOKIE_SECURE=false STILLPOINT_REMEMBER_COOKIE_SECURE=false \
		$(FLASK) run --host 127.0.0.1 --port 5000

## test: set up with dev tools, Chromium and poppler, lint, check the protocol library, run every test
test: $(VENV)/.dev-installed sysdeps-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(FLASK) protocols check
	$(BIN)/pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: seed BENCH_SMALL and BENCH_VISITS visits on each backend, measure, print one table, write BENCH_JSON
BENCH_VISITS   ?= 100000
BENCH_SMALL    ?= 1000
BENCH_BACKENDS ?= sqlite,postgresql
BENCH_JSON     ?= benchmarks/results.json
bench: $(VENV)/.dev-installed sysdeps-test
	$(BIN)/python -m benchmarks.run --visits $(BENCH_VISITS) --small $(BENCH_SMALL) \
		--backends $(BENCH_BACKENDS) --json $(BENCH_JSON)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage htmlcov test-artifacts
