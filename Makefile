# Two entry points for a fresh machine: `make run` and `make test`. Each creates .venv and installs
# from the hash-pinned lock files, only when pyproject.toml or a lock file changed (a stamp file):
# `make run` the runtime lock, `make test` the one with the dev tools. `make lock` refreshes both.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TEST_WORKERS ?= auto
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Our editable package, built with the setuptools pinned in the lock (no unpinned build download).
INSTALL_SELF := $(PIP) install --no-deps --no-build-isolation -e .
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes

.PHONY: run test venv lint browser lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml requirements.lock | $(BIN)/python
	$(PIP) install --require-hashes -r requirements.lock
	$(INSTALL_SELF)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml requirements-dev.lock | $(BIN)/python
	$(PIP) install --require-hashes -r requirements-dev.lock
	$(INSTALL_SELF)
	@touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-dev

run: $(VENV)/.installed-run
	@$(BIN)/socialdesk run

lint: venv
	$(BIN)/ruff check bot api dashboard sandbox tests bench

# Refresh the lock files after changing dependencies in pyproject.toml (or to take new releases):
# resolves with uv, every file's sha256 recorded; the dev lock is held to the runtime lock's versions.
lock: $(BIN)/python
	@$(BIN)/uv --version >/dev/null 2>&1 || $(PIP) install 'uv>=0.5'
	$(UV_COMPILE) --upgrade pyproject.toml requirements.in -o requirements.lock
	$(UV_COMPILE) --upgrade pyproject.toml requirements.in --extra dev -c requirements.lock -o requirements-dev.lock

# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser). Installed here
# when missing and we may (root with apt); otherwise those tests skip outside CI and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null \
		|| echo "could not install chromium: browser tests will skip outside CI"; fi

# Tests create and drop their own PostgreSQL databases on SOCIALDESK_TEST_PG's cluster and start their
# own redis-server; xdist spreads them over TEST_WORKERS processes (auto: one per core).
test: venv lint browser
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal --durations=15
