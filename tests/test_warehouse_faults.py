"""The warehouse failing under `stripe-warehouse run`: its DuckDB file held by another process, and a full disk.

DuckDB lets one process at a time open a file for writing (and none read it meanwhile): a duckdb shell, a BI
tool or a second script holding `warehouse.duckdb` makes every open fail at once. A run waits for such a holder
(DUCKDB_LOCK_WAIT_SECONDS), naming it, then fails saying so; a disk that refuses a write fails the load with
the file and the fix. Either way the next run completes, and nothing half loaded is built on or lost.

The end-to-end test is one story on one data folder, as the faults would follow each other on a machine, so that
a single run pays for dbt: a load cut by a full disk, then a load given up on a lock held too long, then a run
that waits for the lock twice (before the ingestion, and dbt's) and completes equal to the simulator. The holder
is a real process, whose PID DuckDB reports; the full disk is a file size limit (RLIMIT_FSIZE, as `ulimit -f`:
DuckDB's write fails with EFBIG where a full disk gives ENOSPC), which needs no root and no mount.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import Settings
from orchestration.warehouse.access import (
    WarehouseLockedError,
    describe_warehouse_fault,
    lock_holder,
    open_duckdb,
    wait_for_duckdb_file,
)

pytestmark = pytest.mark.timeout(600)

# A process that takes DuckDB's write lock on a file on "lock" (waiting for it if need be) and lets it go on
# "unlock", answering each command once done, as a duckdb shell opening the file would.
HOLDER = """
import sys, time, duckdb
connection = None
for command in map(str.strip, sys.stdin):
    if command == "lock":
        while connection is None:
            try:
                connection = duckdb.connect(sys.argv[1])
            except duckdb.IOException:
                time.sleep(0.05)
    elif connection is not None:
        connection.close()
        connection = None
    print(command + "ed", flush=True)
"""
# Runs a command with a file size limit, a write beyond it failing with EFBIG (not killing the process).
WITH_FILE_SIZE_LIMIT = """
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
os.execv(sys.argv[2], sys.argv[2:])
"""
# The first load of the session's account writes ~20 MB into DuckDB; nothing else of a failed run (Dagster's
# SQLite, dlt's files, the dbt manifest) comes near this.
FILE_SIZE_LIMIT = 8 * 1024**2
WAITING = "Another program holds the warehouse"


class LockHolder:
    def __init__(self, path: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.pid = self.process.pid
        self._commands = threading.Lock()

    def lock(self) -> None:
        self._command("lock")

    def unlock(self) -> None:
        self._command("unlock")

    def unlock_in(self, seconds: float) -> None:
        threading.Timer(seconds, self.unlock).start()

    def _command(self, command: str) -> None:
        with self._commands:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            assert self.process.stdout.readline().strip() == command + "ed"

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def holder(tmp_path):
    holders = []

    def make(path: Path) -> LockHolder:
        holders.append(LockHolder(path))
        return holders[-1]

    yield make
    for each in holders:
        each.close()


def _run(env: dict[str, str], cwd: Path, *, when=(), file_size_limit: int | None = None) -> tuple[int, str]:
    """`stripe-warehouse run` in a process of its own: its exit code and output. `when`: (text, action) pairs,
    each action called once, at the first line of the output containing its text, in order."""
    command = [str(Path(sys.executable).with_name("stripe-warehouse")), "run"]
    if file_size_limit is not None:
        command = [sys.executable, "-c", WITH_FILE_SIZE_LIMIT, str(file_size_limit), *command]
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    pending = list(when)
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if pending and pending[0][0] in line:
                pending.pop(0)[1]()
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = "".join(seen)
    assert not pending, f"the run never printed {pending[0][0]!r}:\n{output[-3000:]}"
    return code, output


def _failure(output: str) -> str:
    """What the run printed under `stripe-warehouse run failed:` (the end of the output otherwise)."""
    return output.rpartition("stripe-warehouse run failed:")[2] or output[-3000:]


def _raw_tables(connection) -> list[str]:
    return [
        row[0]
        for row in connection.sql(
            "select table_name from information_schema.tables where table_schema = 'stripe_raw' "
            "and table_name not like '\\_dlt\\_%' escape '\\'"
        ).fetchall()
    ]


def test_a_full_disk_and_a_held_file_fail_runs_clearly_and_the_next_run_completes(
    pipeline_env, simulated_account, tmp_path, prime_dbt, monkeypatch, holder
):
    data_dir = pipeline_env
    warehouse = data_dir / "warehouse.duckdb"
    dbt_target = tmp_path / "dbt_target"
    prime_dbt(dbt_target, {"DUCKDB_PATH": str(warehouse)})
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_target))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    # 1. The disk refuses the first load's writes half way: the run fails naming the file and the fix.
    code, output = _run(env, tmp_path, file_size_limit=FILE_SIZE_LIMIT)
    assert code == 1, output[-3000:]
    failure = _failure(output)
    assert re.search(
        rf"stripe_ingest: {re.escape(str(warehouse))}(\.wal)? could not be written: File too large", failure
    )
    assert "run again" in failure and "Traceback" not in failure, failure
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # dlt merged some raw tables and not others, but recorded no complete load, so its state (the cursors)
        # did not move: the next run reads everything again. dbt never ran on it.
        assert connection.sql("select count(*) from stripe_raw._dlt_loads where status = 0").fetchall()[0] == (0,)
        schemas = {row[0] for row in connection.sql("select schema_name from information_schema.schemata").fetchall()}
        assert not schemas & {"stripe", "analytics"}

    # 2. A program opens the file while the run extracts and keeps it past DUCKDB_LOCK_WAIT_SECONDS: the load
    # waits, then gives up naming the program's PID and the fix.
    shell = holder(warehouse)
    code, output = _run({**env, "DUCKDB_LOCK_WAIT_SECONDS": "2"}, tmp_path, when=[("Extract stripe", shell.lock)])
    assert code == 1, output[-3000:]
    failure = _failure(output)
    assert f"stripe_ingest: {WAITING} {warehouse}: " in failure, failure
    assert f"(PID {shell.pid})" in failure and "after waiting 2 s (DUCKDB_LOCK_WAIT_SECONDS)" in failure
    assert "Close that program" in failure and "Traceback" not in failure, failure
    assert f"{WAITING} {warehouse}" in output.partition("STEP_FAILURE")[0], "no word while waiting"

    # 3. The next run finds the file still held, says so and waits; the program closes it two seconds later.
    # It opens it again as dbt starts: dbt, which finds it held, runs again once the program has closed it.
    code, output = _run(
        {**env, "DUCKDB_LOCK_WAIT_SECONDS": "60"},
        tmp_path,
        when=[
            (WAITING, lambda: shell.unlock_in(2)),
            # In a thread: the output must keep flowing while the holder takes the lock.
            ("stripe_dbt - Copying", threading.Thread(target=shell.lock).start),
            ("dbt found the warehouse held by another program", lambda: shell.unlock_in(1)),
        ],
    )
    assert code == 0, _failure(output)
    assert f"(PID {shell.pid}). Close it, or it will be retried: waiting up to 60 s" in output
    assert f"dbt found the warehouse held by another program, {warehouse}: " in output

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for table, listed in (("customers", {}), ("invoices", {}), ("subscriptions", {"status": "all"})):
            expected = {obj["id"] for obj in simulated_account.listable(table, **listed)}
            assert {r[0] for r in connection.sql(f"select id from stripe_raw.{table}").fetchall()} == expected, table
            assert connection.sql(f"select count(*) from stripe.{table}").fetchall()[0] == (len(expected),), table
        for table in _raw_tables(connection):
            [(rows, keys)] = connection.sql(
                f"select count(*), count(distinct (account_id, id)) from stripe_raw.{table}"
            ).fetchall()
            assert rows == keys, f"stripe_raw.{table}: {rows - keys} duplicate (account_id, id)"
        assert connection.sql("select count(*) from analytics.mrr_monthly").fetchall()[0][0] > 0


def test_an_open_waits_for_the_holder_and_names_it_when_it_gives_up(tmp_path, holder):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    shell = holder(path)
    shell.lock()
    started = time.monotonic()
    with pytest.raises(WarehouseLockedError) as raised:
        open_duckdb(path, read_only=True, patience=0.6)
    assert time.monotonic() - started >= 0.6
    assert str(raised.value).startswith(f"{WAITING} {path}: ")
    assert f"(PID {shell.pid})" in str(raised.value)

    shell.unlock_in(1)
    open_duckdb(path, read_only=True, patience=30).close()
    assert time.monotonic() - started < 10


def test_a_writer_waits_only_for_a_duckdb_file_that_exists(tmp_path):
    missing = Settings.from_env({"DATA_DIR": str(tmp_path), "DUCKDB_LOCK_WAIT_SECONDS": "0"})
    wait_for_duckdb_file(missing)
    assert not missing.duckdb_path.exists()  # nothing created
    postgres = Settings.from_env({"DATA_DIR": str(tmp_path), "WAREHOUSE": "postgres"})
    wait_for_duckdb_file(postgres)
    assert Settings.from_env({}).duckdb_lock_wait_seconds == 120
    assert Settings.from_env({"DUCKDB_LOCK_WAIT_SECONDS": "15"}).duckdb_lock_wait_seconds == 15


def test_faults_are_told_in_one_line_whatever_wrapped_them():
    lock = (
        'IO Error: Could not set lock on file "/data/warehouse.duckdb": Conflicting lock is held in /usr/bin/duckdb '
        "(PID 4242) by user ana. However, you would be able to open this database in read-only mode"
    )
    assert lock_holder(lock) == "/data/warehouse.duckdb: /usr/bin/duckdb (PID 4242, user ana)"
    told = describe_warehouse_fault([f"PipelineStepFailed: failed at `step=sync`\nConnection failed: {lock}"])
    assert told.startswith(f"{WAITING} /data/warehouse.duckdb: /usr/bin/duckdb (PID 4242, user ana)")
    assert "it will be retried" in told

    ours = f"{WAITING} /w.duckdb: duckdb (PID 1); ... after waiting 120 s (DUCKDB_LOCK_WAIT_SECONDS). Close it."
    quoted = f"Pipeline execution failed at `step=load` with exception:\n\n<class 'WarehouseLockedError'>\n{ours}"
    assert describe_warehouse_fault([quoted]) == ours

    full = describe_warehouse_fault(
        [
            'TransactionContext Error: Failed to commit: Could not write file "/data/warehouse.duckdb.wal": '
            "No space left on device"
        ]
    )
    assert full.startswith("/data/warehouse.duckdb.wal could not be written: No space left on device.")
    assert "df -h /data" in full and "run again" in full
    parquet = describe_warehouse_fault(["OSError: [Errno 28] No space left on device: '/data/dlt/a.parquet'"])
    assert parquet.startswith("/data/dlt/a.parquet could not be written: No space left on device.")
    assert describe_warehouse_fault(["KeyError: 'id'"]) is None


def test_the_dagster_ui_tells_a_warehouse_fault_in_its_one_line():
    """The ingestion step's Failure carries the one line, not dlt's wrapper, whichever exception dlt chains."""
    from orchestration.ingest import assets

    lock = 'IO Error: Could not set lock on file "/d/w.duckdb": Conflicting lock is held in /usr/bin/duckdb (PID 7)'
    try:
        try:
            raise OSError(lock)
        except OSError:
            raise RuntimeError("PipelineStepFailed: failed at `step=sync`, check your credentials") from None
    except RuntimeError as wrapped:  # the lock error is only the context, as when dlt re-raises in an except
        texts = assets._exception_texts(wrapped)
    assert texts[0].startswith("PipelineStepFailed") and lock in texts[1]
    told = describe_warehouse_fault(texts)
    assert told and "/usr/bin/duckdb (PID 7)" in told
