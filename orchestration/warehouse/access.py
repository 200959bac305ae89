"""Opening the warehouse, and what its faults mean for the user.

- Read-only looks into the warehouse, for the command line's summary, the checks and the tests.
- DuckDB admits one writing process per file, and no reader beside a writer: another process holding the
  file (a `duckdb warehouse.duckdb` shell, a BI tool, a script) makes every open fail at once. Every open of
  this project waits for it instead, for at most DUCKDB_LOCK_WAIT_SECONDS, saying which process holds it:
  our reads retry their own open (`connect`), and dlt and dbt, which open the file themselves, are preceded
  by `wait_for_duckdb_file` (orchestration/ingest/pipeline.py, orchestration/transform/assets.py).
- `describe_warehouse_fault` turns DuckDB's lock conflict and a full disk, as dlt or dbt report them deep
  in a traceback, into one line naming the file, the process or the disk, and the fix.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path

from orchestration.settings import Settings

log = logging.getLogger(__name__)

# The schemas this project writes: dlt's raw tables, the clean Stripe tables, the marts and the lag checks.
PROJECT_SCHEMAS = ("stripe_raw", "stripe", "analytics", "monitoring")

_TABLES_SQL = """
    select table_schema, table_name
    from information_schema.tables
    where table_schema in ({schemas})
      and table_type = 'BASE TABLE'
      and table_name not like '\\_dlt\\_%' escape '\\'
    order by table_schema, table_name
"""

# DuckDB's words when another process holds the file (POSIX):
#   IO Error: Could not set lock on file "/data/warehouse.duckdb": Conflicting lock is held in
#   /usr/bin/duckdb (PID 4242) by user ana. However, you would be able to open this database in read-only mode...
_LOCK_CONFLICT = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)": Conflicting lock is held in (?P<program>.+?) '
    r"\(PID (?P<pid>\d+)\)(?: by user (?P<user>[^.\s]+))?"
)
# A write the disk refused: DuckDB's `Could not write file "<path>": No space left on device`, Python's
# `[Errno 28] No space left on device: '<path>'`, a quota, or a file size limit (`ulimit -f`).
_DISK_REASONS = r"No space left on device|Disk quota exceeded|File too large"
_DISK_FULL = (
    re.compile(rf'Could not (?:write|truncate|create|open) file "(?P<path>[^"]+)": (?P<reason>{_DISK_REASONS})'),
    re.compile(rf"\[Errno \d+\] (?P<reason>{_DISK_REASONS}): '(?P<path>[^']+)'"),
    re.compile(rf"(?P<reason>{_DISK_REASONS})"),
)
# How a lock message of ours begins, in a step's error or quoted by dlt.
_LOCKED_PREFIX = "Another program holds the warehouse "
# Back-off between two attempts to open a locked file: doubling from the first, up to the last.
_FIRST_RETRY_SECONDS = 0.25
_LONGEST_RETRY_SECONDS = 5.0


class WarehouseLockedError(RuntimeError):
    """Another process held the DuckDB file for longer than DUCKDB_LOCK_WAIT_SECONDS; the message says
    which process and what to do."""


def table_row_counts(settings: Settings) -> list[tuple[str, str, int]]:
    """(schema, table, rows) for every table the project built, in schema order."""
    connection = connect(settings)
    try:
        cursor = connection.cursor()
        placeholders = ", ".join(f"'{schema}'" for schema in PROJECT_SCHEMAS)
        cursor.execute(_TABLES_SQL.format(schemas=placeholders))
        tables = cursor.fetchall()
        counts = []
        for schema, table in tables:
            cursor.execute(f'select count(*) from "{schema}"."{table}"')
            counts.append((schema, table, int(cursor.fetchone()[0])))
        order = {schema: i for i, schema in enumerate(PROJECT_SCHEMAS)}
        return sorted(counts, key=lambda row: (order[row[0]], row[1]))
    finally:
        connection.close()


def connect(settings: Settings):
    """A DB-API connection to the configured warehouse, read-only for DuckDB; the caller closes it.

    A DuckDB file another process writes is waited for (DUCKDB_LOCK_WAIT_SECONDS), then WarehouseLockedError."""
    if settings.warehouse == "postgres":
        import psycopg2

        pg = settings.postgres
        return psycopg2.connect(
            host=pg.host, port=pg.port, user=pg.user, password=pg.password.value, dbname=pg.database
        )
    return open_duckdb(settings.duckdb_path, read_only=True, patience=settings.duckdb_lock_wait_seconds)


def wait_for_duckdb_file(settings: Settings, deadline: float | None = None) -> None:
    """Returns once no other process holds the DuckDB warehouse, so that a writer (dlt, dbt) opening it
    next finds it free; raises WarehouseLockedError after DUCKDB_LOCK_WAIT_SECONDS (or at `deadline`, a
    time.monotonic()). Returns at once for Postgres, or when the file does not exist yet (nobody holds it)."""
    if settings.warehouse != "duckdb" or not settings.duckdb_path.exists():
        return
    patience = settings.duckdb_lock_wait_seconds
    if deadline is not None:
        patience = max(0.0, deadline - time.monotonic())
    # Read-write, as the writer will: a reader elsewhere (`duckdb -readonly`) blocks it as well.
    open_duckdb(
        settings.duckdb_path, read_only=False, patience=patience, waited=settings.duckdb_lock_wait_seconds
    ).close()


def open_duckdb(path: Path, *, read_only: bool, patience: float, waited: float | None = None):
    """duckdb.connect(path), tried again with back-off while another process holds the file, saying which
    (once per holder); WarehouseLockedError after `patience` seconds. `waited`: the whole wait to name in the
    error, when `patience` is what is left of it."""
    import duckdb

    give_up = time.monotonic() + patience
    delay = _FIRST_RETRY_SECONDS
    announced: set[str] = set()
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            holder = _LOCK_CONFLICT.search(str(exc))
            if holder is None:
                raise
            left = give_up - time.monotonic()
            if left <= 0:
                raise WarehouseLockedError(
                    _locked_message(holder, waited if waited is not None else patience)
                ) from None
            if holder["pid"] not in announced:
                announced.add(holder["pid"])
                log.warning(
                    "%s%s: %s. Close it, or it will be retried: waiting up to %.0f s for it to close "
                    "(DUCKDB_LOCK_WAIT_SECONDS).",
                    _LOCKED_PREFIX,
                    holder["path"],
                    _holder(holder),
                    left,
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, _LONGEST_RETRY_SECONDS)


def lock_holder(text: str) -> str | None:
    """`<file>: <program> (PID n)` when an error text is DuckDB's refusal to open a file another process
    holds; None otherwise."""
    holder = _LOCK_CONFLICT.search(text)
    return f"{holder['path']}: {_holder(holder)}" if holder else None


def describe_warehouse_fault(texts: Iterable[str]) -> str | None:
    """The user's one line for a warehouse fault found in error texts (a step's error and its causes, dbt's
    messages): the file locked by another process, or a disk that refused a write. None for anything else."""
    texts = [text for text in texts if text]
    for text in texts:
        # Ours, as raised or as dlt quotes it: it says how long the run waited.
        for line in text.splitlines():
            if _LOCKED_PREFIX in line:
                return line[line.index(_LOCKED_PREFIX) :].strip()
    for text in texts:
        if holder := _LOCK_CONFLICT.search(text):
            return _locked_message(holder, None)
    for pattern in _DISK_FULL:
        for text in texts:
            if full := pattern.search(text):
                return _disk_full_message(full.groupdict().get("path"), full["reason"])
    return None


def _holder(match: re.Match) -> str:
    user = f", user {match['user']}" if match["user"] else ""
    return f"{match['program']} (PID {match['pid']}{user})"


def _locked_message(holder: re.Match, waited: float | None) -> str:
    after = f" after waiting {waited:.0f} s (DUCKDB_LOCK_WAIT_SECONDS)" if waited is not None else ""
    return (
        f"{_LOCKED_PREFIX}{holder['path']}: {_holder(holder)}; DuckDB lets no other process open the file "
        f"meanwhile. The run gave up{after}. Close that program (a duckdb shell, a BI tool, a script), or it "
        "will be retried: the next run loads everything this one did not."
    )


def _disk_full_message(path: str | None, reason: str) -> str:
    what = f"{path} could not be written" if path else "The run could not write a file"
    if reason == "File too large":
        fix = "Raise this process's file size limit (ulimit -f)"
    else:
        fix = f"Free space on its disk{f' (df -h {Path(path).parent})' if path else ''}"
    return (
        f"{what}: {reason}. Nothing already loaded is lost: a load cut short is read again and merged by the "
        f"next run before dbt builds on it. {fix}, or move DUCKDB_PATH (or DATA_DIR) to a larger disk, then "
        "run again."
    )
