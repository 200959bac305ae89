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
"""

from __future__ import annotations

from pathlib import Path

WAREHOUSE_POOL = "warehouse"
WRITES_TAG = "stripe_warehouse/writes"
WRITER_RUN_TAGS = {WRITES_TAG: "warehouse"}

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
# What earlier versions wrote, replaced without asking.
_EARLIER_CONFIG = "python_logs:\n  managed_python_loggers:\n    - orchestration\n  python_log_level: INFO\n"


def write_instance_config(dagster_home: Path) -> None:
    """Writes the instance's dagster.yaml unless the user has their own."""
    path = dagster_home / "dagster.yaml"
    if path.exists():
        current = path.read_text()
        if current != _EARLIER_CONFIG and not current.startswith(MARKER):
            return
    path.write_text(INSTANCE_CONFIG)
