"""One writer at a time in the warehouse: DuckDB takes a single read-write process, and a second one (dbt
while dlt loads, a check while dbt builds) fails on the file lock instead of waiting.

Two guards, for two kinds of run:
- The pool `warehouse`, limit 1: every asset and check that opens the warehouse is in it, so Dagster runs
  one such step at a time across all runs, whoever launched them: a selection materialized from the UI, a
  backfill, a job. A step waiting for the pool shows as such in the run.
- A run-queue limit of 1 on the tag `stripe_warehouse/writes`, carried by the project's jobs (schedules,
  sensor, `stripe-warehouse run`): a scheduled run that would only wait for the pool stays queued instead,
  so it holds no process and the UI shows it waiting for the one in progress.

Both live in the instance's dagster.yaml, which `stripe-warehouse run` and `ui` write into DAGSTER_HOME.
The webserver never opens the warehouse, so the UI stays responsive while a run writes.

On Postgres, which takes many writers, accounts sync in parallel runs (STRIPE_SYNC_PARALLELISM, default 4):
- the ingestion step is in a pool of its own, `stripe_ingest`, limited to that many steps at a time
  (dagster.yaml names no pool but the default: its limit is set in the instance's storage,
  `apply_pool_limits`), while dbt and the checks stay in `warehouse`, one at a time;
- the schedules and the accounts sensor launch one ingestion run per account (the tag
  `stripe_warehouse/ingest`, limited to that many runs; `stripe_warehouse/account`, one run per account at a
  time), and a sensor builds dbt once after each such batch (schedules.py, sensors.py).
A setting of 1 keeps DuckDB's arrangement. With DuckDB the setting changes nothing: one process at a time
may write a DuckDB file.
"""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance

from orchestration.settings import Settings

WAREHOUSE_POOL = "warehouse"
WRITES_TAG = "stripe_warehouse/writes"
WRITER_RUN_TAGS = {WRITES_TAG: "warehouse"}
INGEST_POOL = "stripe_ingest"
INGEST_TAG = "stripe_warehouse/ingest"
INGEST_RUN_TAGS = {INGEST_TAG: "accounts"}
ACCOUNT_TAG = "stripe_warehouse/account"
"""The account of a one-account ingestion run: two runs of one account would read and write the same rows."""

# The first line tells a dagster.yaml this project wrote (and may rewrite) from one a user wrote.
MARKER = "# Written by stripe-warehouse; delete this line to keep your own changes."
INSTANCE_CONFIG = f"""{MARKER}
# The ingester's progress lines (rows, pages, elapsed per object) reach the run's Dagster log.
python_logs:
  managed_python_loggers:
    - orchestration
  python_log_level: INFO
# A run worker the daemon launched (schedules, sensor, UI) that dies is marked failed and its slots freed;
# `stripe-warehouse run` does the same for its own runs (stale_runs.py).
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 30
concurrency:
  pools:
    # Only one pool exists, `{WAREHOUSE_POOL}`: one step at a time opens the warehouse.
    default_limit: 1
  runs:
    tag_concurrency_limits:
      - key: "{WRITES_TAG}"
        value: "warehouse"
        limit: 1
"""
_PARALLEL_CONFIG = """
concurrency:
  pools:
    # `{warehouse_pool}` (dbt, the checks): one step at a time. `{ingest_pool}` (the account syncs) is set to
    # {parallelism} in the instance's storage: dagster.yaml names no single pool.
    default_limit: 1
  runs:
    max_concurrent_runs: {max_runs}
    tag_concurrency_limits:
      - key: "{writes_tag}"
        value: "warehouse"
        limit: 1
      - key: "{ingest_tag}"
        value: "accounts"
        limit: {parallelism}
      - key: "{account_tag}"
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""
# Dagster's default cap on runs in progress at once.
_DAGSTER_MAX_CONCURRENT_RUNS = 10
# What earlier versions wrote, replaced without asking.
_EARLIER_CONFIG = "python_logs:\n  managed_python_loggers:\n    - orchestration\n  python_log_level: INFO\n"


def sync_parallelism(settings: Settings) -> int:
    """How many account syncs run at once (`Settings.account_syncs_at_once`)."""
    return settings.account_syncs_at_once


def parallel_runs(settings: Settings) -> bool:
    """Whether accounts sync in runs of their own, several at a time."""
    return sync_parallelism(settings) > 1


def ingest_pool(settings: Settings) -> str:
    return INGEST_POOL if parallel_runs(settings) else WAREHOUSE_POOL


def parallelism_notice(settings: Settings) -> str | None:
    """Why STRIPE_SYNC_PARALLELISM is ignored, when it is."""
    if settings.warehouse == "duckdb" and (settings.sync_parallelism or 1) > 1:
        return (
            f"STRIPE_SYNC_PARALLELISM={settings.sync_parallelism} has no effect with DuckDB, which one process "
            "writes at a time: accounts sync one run after another. With WAREHOUSE=postgres they sync in parallel."
        )
    return None


def instance_config(settings: Settings | None = None) -> str:
    """The dagster.yaml of this project for these settings (None: DuckDB's one-writer rule)."""
    if settings is None or not parallel_runs(settings):
        return INSTANCE_CONFIG
    parallelism = sync_parallelism(settings)
    one_writer = INSTANCE_CONFIG[: INSTANCE_CONFIG.index("concurrency:")]
    return one_writer + _PARALLEL_CONFIG.lstrip("\n").format(
        warehouse_pool=WAREHOUSE_POOL,
        ingest_pool=INGEST_POOL,
        parallelism=parallelism,
        # Every ingestion run and the dbt build after them, without lowering Dagster's default.
        max_runs=max(_DAGSTER_MAX_CONCURRENT_RUNS, parallelism + 1),
        writes_tag=WRITES_TAG,
        ingest_tag=INGEST_TAG,
        account_tag=ACCOUNT_TAG,
    )


def write_instance_config(dagster_home: Path, settings: Settings | None = None) -> None:
    """Writes the instance's dagster.yaml unless the user has their own."""
    path = dagster_home / "dagster.yaml"
    if path.exists():
        current = path.read_text()
        if current != _EARLIER_CONFIG and not current.startswith(MARKER):
            return
    path.write_text(instance_config(settings))


def apply_pool_limits(instance: DagsterInstance, settings: Settings) -> None:
    """Sets the limit of the ingestion pool, which dagster.yaml cannot name, in the instance's storage (what
    `dagster instance concurrency set` does): the settings decide it at each start of `run` and `ui`."""
    if parallel_runs(settings):
        instance.event_log_storage.set_concurrency_slots(INGEST_POOL, sync_parallelism(settings))
