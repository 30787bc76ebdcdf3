# Two entry points for a fresh machine: `make run` and `make test`. Each creates or refreshes .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test venv lint browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: venv
	$(BIN)/socialdesk run

lint: venv
	$(BIN)/ruff check bot api dashboard sandbox tests bench

# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser). Installed here
# when missing and we may (root with apt); otherwise those tests skip outside CI and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null \
		|| echo "could not install chromium: browser tests will skip outside CI"; fi

test: venv lint browser
	$(BIN)/python -m pytest -q -p no:cacheprovider
