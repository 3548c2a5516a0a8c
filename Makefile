# ikdoemee-sync: `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: venv demo test test-fast test-pg lint drills bench clean

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

# The fast lane: everything but the `slow` tests (end-to-end runs, drills, schemathesis, the
# 10 000-window paging; `make test` runs them), on all cores, with a fifth of the hypothesis
# examples. Assertion rewriting is cached in __pycache__ even where PYTHONDONTWRITEBYTECODE is
# set: redoing it costs ~10 s a run. The plugins only the slow lane uses (schemathesis) or no test
# uses (respx, anyio's) stay unloaded: ~1 s of CPU in each of the three processes.
test-fast: venv
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n auto -m "not slow" --hypothesis-profile=fast \
		-p no:schemathesis -p no:respx -p no:anyio

test-pg: venv
	IKDOEMEE_TEST_DATABASE_URL=$${IKDOEMEE_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy sync connectors mappings samplefeed
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) data/*.sqlite3* .pytest_cache .mypy_cache .ruff_cache

BENCH_VENV ?= bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cksum bench/requirements.txt 2>/dev/null | cut -d' ' -f1)

# dlt lives only in bench/.venv; our own runs use the project's venv.
$(BENCH_STAMP): bench/requirements.txt
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	@rm -f $(BENCH_VENV)/.installed-*
	@touch $@

# Raw figures: bench/out/results.json (summary in bench/RESULTS.md). e.g. BENCH_ARGS="--sizes 10000"
bench: venv $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Full drills: 20 000 events with 20 kills, the HTTP fault matrix, a PostgreSQL restart. The short
# mode runs in `make test` (tests/e2e/test_drills_short.py). e.g. DRILLS_ARGS="--db sqlite"
drills: venv
	$(BIN)/python bench/drills.py $(DRILLS_ARGS)
