# Two entry points: `make demo` (set up + run the end-to-end demo) and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# PostgreSQL for the database suite; set FEDHUB_TEST_POSTGRES_URL= (empty) to run SQLite only.
FEDHUB_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export FEDHUB_TEST_POSTGRES_URL

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first: the CPU build; a bare requirement would pull GBs of CUDA wheels
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/fedhub demo

test: setup
	$(VENV)/bin/pytest -n 2 --dist loadgroup

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
