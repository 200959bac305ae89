"""Dead runs cleaned up, live ones waited for with a word and a limit (orchestration/automation/stale_runs.py).

The whole crash (SIGKILL of `stripe-warehouse run` during extract, load and dbt) is tests/test_crash_recovery.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.automation.concurrency import WAREHOUSE_POOL, write_instance_config
from orchestration.automation.stale_runs import (
    OWNER_TAG,
    WarehouseBusyError,
    owner_tags,
    reap_dead_runs,
    wait_for_the_warehouse,
)


@pytest.fixture
def instance(tmp_path):
    write_instance_config(tmp_path)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        # Room for the fake runs below to hold slots side by side (the project's limit is 1).
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 3)
        yield instance


def _started_run(instance: DagsterInstance, run_id: str, tags: dict[str, str]) -> DagsterRun:
    run = instance.add_run(
        DagsterRun(job_name="stripe_sync", run_id=run_id, status=DagsterRunStatus.STARTED, tags=tags)
    )
    assert instance.event_log_storage.claim_concurrency_slot(WAREHOUSE_POOL, run_id, "stripe_ingest").is_claimed
    return run


def _dead_owner() -> dict[str, str]:
    """The owner tag of a process that has exited (its pid is free again)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return {OWNER_TAG: f"{socket.gethostname()}:{child.stdout.strip()}:1"}


def test_a_run_whose_process_is_gone_is_marked_failed_and_its_slot_freed(instance):
    _started_run(instance, "0" * 32, _dead_owner())
    _started_run(instance, "1" * 32, owner_tags())  # this process: alive
    _started_run(instance, "2" * 32, {OWNER_TAG: "another-host:1:1"})  # cannot be told from here: left alone

    cleaned = reap_dead_runs(instance)

    pid = instance.get_run_by_id("0" * 32).tags[OWNER_TAG].split(":")[1]
    assert cleaned == [f"run 00000000 died with its process (pid {pid}): marked failed, its slots freed"]
    assert instance.get_run_by_id("0" * 32).status == DagsterRunStatus.FAILURE
    assert instance.get_run_by_id("1" * 32).status == DagsterRunStatus.STARTED
    assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids == {"1" * 32, "2" * 32}


def test_a_slot_kept_by_a_run_that_ended_is_freed(instance):
    run = _started_run(instance, "3" * 32, owner_tags())
    instance.report_run_failed(run)  # ended, but its slot stayed claimed

    assert reap_dead_runs(instance) == ["run 33333333 had ended but still held the warehouse: its slots freed"]
    assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids == set()


def test_a_live_run_is_waited_for_with_a_word_and_a_limit(instance):
    _started_run(instance, "4" * 32, owner_tags())
    said: list[str] = []
    with pytest.raises(
        WarehouseBusyError, match=r"44444444 still hold the warehouse after 0 s.*STRIPE_WAREHOUSE_WAIT_SECONDS"
    ):
        wait_for_the_warehouse(instance, patience=0.3, say=said.append, poll=0.05)
    assert len(said) == 1 and said[0].startswith("waiting for run 44444444 (") and "holds the warehouse" in said[0]

    instance.event_log_storage.free_concurrency_slots_for_run("4" * 32)
    wait_for_the_warehouse(instance, patience=0.3, say=said.append, poll=0.05)  # free: returns at once
    assert len(said) == 1
