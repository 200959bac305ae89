"""Runs whose process died are noticed and cleaned up before the next run, and a run never waits blind.

A run killed with its process (`kill -9`, an OOM kill, a reboot, a stopped container) stays STARTED in
Dagster's storage and keeps its slot of the `warehouse` pool (concurrency.py): every later run would wait for
that slot, silently and for ever. So the runs this project executes carry an owner tag, the host, pid and
start time of their process (a pid the system reused for another process is not the run's); before a run
starts, a run whose owner on this host is gone is marked failed and its slots are freed, and so are slots
still held by runs that already ended. Runs launched by Dagster's daemon (schedules, sensor, the UI) are run
workers of the daemon, whose run monitoring does the same for them (dagster.yaml, concurrency.py).

A run that finds the warehouse held by a live run says which, and waits at most STRIPE_WAREHOUSE_WAIT_SECONDS.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from orchestration.automation.concurrency import WAREHOUSE_POOL

OWNER_TAG = "stripe_warehouse/owner"
"""`host:pid:start`, the process executing the run (start: its start time in clock ticks since boot)."""
UNFINISHED = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
ENDED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


class WarehouseBusyError(RuntimeError):
    """Another live run held the warehouse longer than this run would wait."""


def owner_tags() -> dict[str, str]:
    """The tag naming this process as the owner of the runs it executes."""
    pid = os.getpid()
    return {OWNER_TAG: f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"}


def reap_dead_runs(instance: DagsterInstance) -> list[str]:
    """Marks failed the unfinished runs whose owning process on this host is gone, and frees the warehouse
    slots they, or runs that already ended, still hold. One line per run cleaned up."""
    cleaned = []
    for run in instance.get_runs(filters=RunsFilter(statuses=UNFINISHED)):
        owner = run.tags.get(OWNER_TAG)
        if owner is None or _owner_alive(owner) is not False:
            continue
        pid = owner.split(":")[1]
        instance.report_run_failed(
            run, message=f"The process running this run (pid {pid}) is gone: killed, or its machine restarted."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        cleaned.append(f"run {run.run_id[:8]} died with its process (pid {pid}): marked failed, its slots freed")
    for run_id in _holders(instance):
        holder = instance.get_run_by_id(run_id)
        if holder is None or holder.status in ENDED:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            cleaned.append(f"run {run_id[:8]} had ended but still held the warehouse: its slots freed")
    return cleaned


def wait_for_the_warehouse(
    instance: DagsterInstance, patience: float, say: Callable[[str], None], poll: float = 2.0
) -> None:
    """Returns once no run holds the warehouse pool, saying which run it waits for; raises WarehouseBusyError
    after `patience` seconds."""
    give_up = time.monotonic() + patience
    announced: set[str] = set()
    while holders := _holders(instance):
        for run_id in holders - announced:
            run = instance.get_run_by_id(run_id)
            owner = run.tags.get(OWNER_TAG, "a Dagster run worker") if run else "an unknown process"
            say(f"waiting for run {run_id[:8]} ({owner}), which holds the warehouse, for up to {patience:.0f} s")
        announced |= holders
        if time.monotonic() >= give_up:
            raise WarehouseBusyError(
                f"run(s) {', '.join(sorted(r[:8] for r in holders))} still hold the warehouse after {patience:.0f} s; "
                "let them finish, or cancel them in the Dagster UI (stripe-warehouse ui), then run again. "
                "STRIPE_WAREHOUSE_WAIT_SECONDS sets how long a run waits."
            )
        time.sleep(poll)


def _holders(instance: DagsterInstance) -> set[str]:
    """Runs holding a slot of the warehouse pool."""
    return instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids


def _owner_alive(owner: str) -> bool | None:
    """Whether the process of an owner tag still runs; None when it cannot be told from here (another host)."""
    host, pid_text, start = owner.split(":", 2)
    if host != socket.gethostname():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a process of another user: alive
    return not start or _start_ticks(pid) == start


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux's /proc); empty where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    return stat.rsplit(")", 1)[1].split()[19]
