# ikdoemee-sync: `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: venv demo test test-pg lint drills bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: venv
	@scripts/demo.sh

test: venv
	$(BIN)/pytest -q

test-pg: venv
	IKDOEMEE_TEST_DATABASE_URL=$${IKDOEMEE_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy sync connectors mappings samplefeed

clean:
	rm -rf $(VENV) data/*.sqlite3* .pytest_cache .mypy_cache .ruff_cache
