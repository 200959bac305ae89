"""`stripe-warehouse run` killed with SIGKILL at any point, then simply run again: it notices the dead run, frees
what it held, and completes with the warehouse equal to what the simulator serves.

Each run is a real process, killed with its process group (as a container stop, an OOM kill of the group or a
reboot does) at a line it prints: while dlt extracts, while it loads and merges into DuckDB, while dbt builds.
The kills follow each other on one data folder, as crashes would; each next run cleans up after the last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from orchestration.automation.concurrency import WAREHOUSE_POOL
from orchestration.cli import main

pytestmark = pytest.mark.timeout(900)

KILL_POINTS = {
    "extract": "Extract stripe",  # dlt's progress header while the resources read Stripe
    "load": "Load stripe",  # dlt's load into DuckDB, the merge of the raw tables
    "dbt": " START sql ",  # dbt building its first model
}


def _run_until(env: dict[str, str], marker: str, cwd: Path) -> str:
    """Starts `stripe-warehouse run` and SIGKILLs its process group when it prints `marker`; its output."""
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("stripe-warehouse")), "run"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    deadline = time.monotonic() + 300
    try:
        for line in process.stdout:
            seen.append(line)
            if marker in line or time.monotonic() > deadline:
                break
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    output = "".join(seen)
    assert marker in output, f"the run never reached {marker!r}:\n{output[-3000:]}"
    return output


def _unfinished_runs(dagster_home: Path) -> list:
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        statuses = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
        return list(instance.get_runs(filters=RunsFilter(statuses=statuses)))


def test_a_run_killed_at_any_point_is_cleaned_up_by_the_next(
    pipeline_env, simulated_account, tmp_path, prime_dbt, monkeypatch, capsys
):
    # pipeline_env points the environment at the session's simulator and a fresh data folder.
    data_dir, dagster_home = pipeline_env, Path(os.environ["DAGSTER_HOME"])
    dbt_target = tmp_path / "dbt_target"
    prime_dbt(dbt_target, {"DUCKDB_PATH": str(data_dir / "warehouse.duckdb")})
    monkeypatch.setenv("DUCKDB_PATH", str(data_dir / "warehouse.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_target))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for point, marker in KILL_POINTS.items():
        output = _run_until(env, marker, tmp_path)
        if point != "extract":  # each run after a crash says what it cleaned up
            assert "died with its process" in output, output[-3000:]
        dead = _unfinished_runs(dagster_home)
        assert len(dead) == 1, f"after the kill during {point}: {dead}"

    assert main(["run"]) == 0
    assert "died with its process" in capsys.readouterr().out
    assert _unfinished_runs(dagster_home) == []
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids == set()

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as connection:
        for table, listed in (("customers", {}), ("invoices", {}), ("subscriptions", {"status": "all"})):
            expected = {obj["id"] for obj in simulated_account.listable(table, **listed)}
            raw = connection.sql(f"select id from stripe_raw.{table}").fetchall()
            assert len(raw) == len(expected) and {r[0] for r in raw} == expected, table
            clean = connection.sql(f"select count(*) from stripe.{table}").fetchall()[0][0]
            assert clean == len(expected), table
        assert connection.sql("select count(*) from analytics.mrr_monthly").fetchall()[0][0] > 0
