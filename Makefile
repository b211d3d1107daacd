# The two commands of the README's Quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: run test test-fast demo bench lint clean-state

# Create the virtual environment and install the project (with its test extra) when
# pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip >/dev/null
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/digest run

test: $(STAMP)
	@if command -v npm >/dev/null && [ -f package.json ] && [ ! -d node_modules/mjml ]; then \
		npm install --no-audit --no-fund --silent >/dev/null || echo "npm install failed: mjml validation tests will skip"; fi
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/python -m pytest -q

# The quick loop while working: everything but the slow suites (processes, crashes and kills,
# full disks, deadlines, corpora, Chromium, Postfix, SpamAssassin). `make test` runs them all.
test-fast: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/python -m pytest -q -m "not slow and not chromium and not postfix"

demo: $(STAMP)
	$(BIN)/digest --config examples/config.toml run --now 2026-11-26T08:00:00+00:00

# The benchmarks also need their baselines' tools (sqlite-utils for bench/cli_help.py).
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
