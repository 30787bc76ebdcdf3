# Two entry points for a fresh machine: `make run` and `make test`. Each (re)builds its virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test venv lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: venv
	$(BIN)/socialdesk run

lint: venv
	$(BIN)/ruff check bot api dashboard tests bench

test: venv lint
	$(BIN)/python -m pytest -q -p no:cacheprovider
