# Two entry points: `make demo` (main job end to end) and `make test` (lint + test suite).
# Both create .venv and install ragbridge with every extra, at the exact versions in
# constraints.txt (pyproject.toml declares only compatible ranges), on first use.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install demo demo-quick test lint

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/ragbridge demo

demo-quick: $(VENV)/.installed
	$(BIN)/ragbridge demo --quick

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks

test: lint
	$(BIN)/python -m pytest
