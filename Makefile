# Two entry points for a newcomer: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install bench

$(BIN)/baijiayun: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/baijiayun

demo: install
	$(BIN)/baijiayun demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy --strict src

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/sdk_overhead.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/emulator_throughput.py
