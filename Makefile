# Two commands on a fresh machine:
#   make serve   install paradup and run it on the embedded SQLite store
#   make test    install what the tests need, then lint, type-check and test

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: serve test install install-test system-deps lint typecheck unit bench eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

serve: install
	$(BIN)/paradup serve

# redis-server backs the Redis backend's tests (the tests start it themselves);
# chromium runs the review page's end-to-end test.
SYSTEM_TOOLS := redis-server:redis-server redis-cli:redis-tools chromium:chromium
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing with apt:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing >/dev/null; fi

install-test: $(BIN)/python system-deps
	$(BIN)/pip install -q -e '.[test,bench,redis]'

lint:
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks

typecheck:
	$(BIN)/mypy

unit:
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test: install-test lint typecheck unit

bench:
	$(BIN)/python -m benchmarks.hashing.bench_hashing

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Detection quality on the real corpora in ../shared/corpora (paragraphs, then passages).
eval:
	$(BIN)/python -m benchmarks.quality.eval_quality
	$(BIN)/python -m benchmarks.quality.eval_passages
