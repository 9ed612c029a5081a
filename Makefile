# Every target installs what it needs on first use: `make run` and `make test` are the
# only two commands a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run example test lint typecheck contracts pytest bench bench-api docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The server on 127.0.0.1:$(PORT), data in $TAV_DATA_DIR (default ./.tav).
PORT ?= 8000

run: $(STAMP)
	$(BIN)/tav serve --port $(PORT)

example: $(STAMP)
	$(BIN)/tav run examples/hello.json --input '{"name": "world"}'

test: lint typecheck contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/engine.py

bench-api: $(STAMP)
	$(BIN)/python bench/api.py

docs: $(STAMP)
	$(BIN)/tav nodes docs > docs/reference/built-in-nodes.md

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
