# Two commands on a fresh machine (Python 3.11, pip and make): `make demo` and `make test`.
# Every target installs what is missing first, idempotently.

PYTHON ?= python3
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen
# uv must use the machine's Python: it cannot download interpreters here.
export UV_PYTHON_DOWNLOADS := never

.PHONY: install prepare demo test lint ui

install:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

# The dbt manifest the Dagster definitions load; built ahead so loading them never parses dbt.
prepare: install
	@$(RUN) stripe-warehouse prepare

demo: prepare
	$(RUN) stripe-warehouse demo

# The tests start with the linters: a change that breaks the layering or the style fails CI before the suite.
test: prepare lint
	$(RUN) pytest

# sqlfluff's dbt templater compiles each model: in a target folder of its own (the runs' manifest stays as
# `prepare` built it), and on no warehouse file.
lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports --no-cache
	$(RUN) mypy
	DBT_TARGET_PATH=dbt_project/target/sqlfluff DUCKDB_PATH=:memory: $(RUN) sqlfluff lint dbt_project/models --processes 2

ui: prepare
	$(RUN) stripe-warehouse ui
