# `make run` and `make test` work from a fresh clone: they create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/crmflow demo

lint: install
	$(VENV)/bin/ruff check crmflow tests bench
	$(VENV)/bin/mypy crmflow/core

# The whole suite, in two processes: the fast tests, then the slow browser and soak tests
# (`-m slow`). A long run of one process left the browser tests' Playwright driver waiting
# forever on one message after ~900 other tests; in their own process they pass.
test: install lint
	$(PY) -m pytest -q -m "not slow"
	$(PY) -m pytest -q -m slow

bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .crmflow build *.egg-info
