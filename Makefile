# The README's first two commands: `make demo` (set up, run the main job on the embedded
# default) and `make test` (set up, pass the tests). Everything installs from this repo's files.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PG_TEST_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/lms_test

.PHONY: setup setup-browser demo test test-pg lint docs bench ci clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

## setup-browser: Debian's chromium for the browser tests (tests/web/test_browser.py), installed
## with apt when missing and run as root; otherwise says how (those tests skip, or fail in CI).
CHROMIUM ?= /usr/bin/chromium
setup-browser:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && apt-get install -y chromium; \
	else \
		echo "setup-browser: $(CHROMIUM) is missing; as root on Debian/Ubuntu run" \
			"'apt-get update && apt-get install -y chromium' (or 'sudo make setup-browser')." \
			"Without it the browser tests skip (and fail with LMS_NO_SKIPS=1, as in CI)."; \
	fi

## demo: SQLite file under ./var/, migrations, demo data, and a short tour of the CLI.
demo: $(STAMP)
	$(BIN)/lmsctl init
	$(BIN)/lmsctl demo seed
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/tour.sh

## test: the whole suite on SQLite, with the coverage gate on lms_core.
test: $(STAMP) setup-browser
	$(BIN)/pytest -q -n 2 --cov=lms_core --cov-report=term:skip-covered --cov-fail-under=85

## test-pg: the same suite on PostgreSQL (creates the database if missing).
test-pg: $(STAMP) setup-browser
	LMS_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -n 2

## lint: ruff, and mypy (strict) on the four packages, as CI runs them.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy lms_core lmsctl admin_ui jobs

## docs: regenerate docs/cli-reference.md from the Typer app (a test fails while it is stale).
docs: $(STAMP)
	$(BIN)/python -m lmsctl.reference

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage
