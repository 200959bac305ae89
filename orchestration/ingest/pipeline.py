"""The dlt pipelines that write the raw Stripe tables into the configured warehouse.

DuckDB has one pipeline, `stripe`, for every account: one process writes the file at a time anyway. On
Postgres, accounts sync in parallel runs, and each account has a pipeline of its own, `stripe_<account id>`:
dlt keeps the cursors in the state of the source, one document per pipeline, which a run reads as it starts
and writes back whole with its load; two runs of one pipeline would each write back the cursors they started
from, and the later one would undo the other's. Its working folder (the state, the pending packages, which
Dagster's dlt resource drops before each run) is per pipeline too.

What concurrent loads into Postgres still share, they take turns at (`_PostgresLoadTurn`): dlt's staging
dataset (`stripe_raw_staging`, one table per raw table, which each merge load empties and fills before
merging from it) and the tables' creation on a first load. Reading Stripe, most of a sync, runs in parallel.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.destination import Destination
from dlt.common.runtime.collector import LogCollector
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from dlt.extract import DltSource

from orchestration.ingest.client import StripeAuthError, StripeReadError
from orchestration.ingest.context import SyncContext
from orchestration.ingest.memory import release_freed_memory
from orchestration.ingest.source import ROWS_PER_BATCH, SOURCE_NAME, TailReads, stripe_source
from orchestration.settings import Settings
from orchestration.stripe_objects import RAW_DATASET, STRIPE_OBJECTS, StripeObject
from orchestration.sync_report import SyncReport
from orchestration.warehouse.access import open_duckdb, wait_for_duckdb_file
from orchestration.warehouse.reads import tables_holding_rows

log = logging.getLogger(__name__)

PIPELINE_NAME = "stripe"
ACCOUNT_ID_PREFIX = "acct_"
"""Stripe's account ids, the keys under which the source state holds each account's cursors."""


def account_loads(settings: Settings, context: SyncContext) -> Iterator[tuple[dlt.Pipeline, SyncContext]]:
    """The loads of a sync: the pipeline and the share of the sync each loads.

    DuckDB: one, the `stripe` pipeline for every account of the sync. Postgres: one per account, with its
    own pipeline; an account whose id cannot be read (a revoked key) is reported failed and skipped.
    """
    if settings.warehouse != "postgres":
        yield stripe_pipeline(settings), context
        return
    for reader in context.readers:
        try:
            account_id = reader.account_id
        except StripeReadError as exc:
            log.error("%s failed: %s", reader.account_id_or_key, exc)
            context.report.fail(reader.account_id_or_key, str(exc), needs_reauth=isinstance(exc, StripeAuthError))
            continue
        share = context.for_reader(reader)
        yield account_pipeline(settings, account_id, share), share


def account_pipeline(settings: Settings, account_id: str, context: SyncContext) -> dlt.Pipeline:
    """The Postgres pipeline of one account, `stripe_<account id>`, its cursors carried over from the `stripe`
    pipeline that held every account's before (`context` is the account's share of the sync)."""
    pipeline = _pipeline(settings, f"{PIPELINE_NAME}_{account_id}")
    _carry_over_cursors(settings, pipeline, account_id, context)
    return pipeline


def stripe_pipeline(settings: Settings) -> dlt.Pipeline:
    """The pipeline for the configured warehouse; creating it reads and writes nothing remote.

    dlt opens a DuckDB warehouse twice in a run, first thing to restore its state and again to load, and
    fails at once if another process holds the file: so this returns only once the file is free, and the
    load waits for it again as it starts (DUCKDB_LOCK_WAIT_SECONDS each, then WarehouseLockedError naming
    the process holding it). Nothing is lost when a load fails: dlt's state (the cursors) counts only once
    its load completed, and Dagster's dlt resource drops the pending package before each run, which restores
    the state from the warehouse, so the next run reads again what a failed load held.
    """
    wait_for_duckdb_file(settings)
    return _pipeline(settings, PIPELINE_NAME)


def _destination(settings: Settings) -> Destination[Any, Any]:
    if settings.warehouse == "postgres":
        pg = settings.postgres
        credentials = PostgresCredentials(
            {
                "drivername": "postgresql",
                "host": pg.host,
                "port": pg.port,
                "username": pg.user,
                "password": pg.password.value,  # "" (trust, .pgpass) resolves; dlt rejects a None password
                "database": pg.database,
            }
        )
        return dlt.destinations.postgres(credentials=credentials)
    duckdb_credentials = DuckDbCredentials(
        str(settings.duckdb_path),
        global_config={
            # DuckDB takes up to 80% of RAM by default for a merge; a cap keeps a sync's memory flat as
            # the account grows (DuckDB spills to disk beyond it). The merge holds no deduplication
            # window (a load holds each key once, `source.UNIQUE_RAW_TABLE_HINTS`): the full sync of a
            # 7,500-customer account (~320k objects) loaded with 64 MB.
            "memory_limit": settings.duckdb_memory_limit,
            # Row order means nothing in the raw tables; keeping it costs the merge memory and ~30% time.
            "preserve_insertion_order": False,
            # Hand freed memory back to the system sooner than the default 128 MB of cached pages.
            "allocator_flush_threshold": "32MB",
            # The raw tables' JSON text compressed with zstd when DuckDB writes it to the file, instead of the
            # dictionary and FSST DuckDB picks by itself, which compress one string at a time: a full sync of
            # a 7,500-customer account made a 105 MB file instead of 471 MB, and its load took 12.3 CPU-s
            # instead of 16.1 (BENCHMARKS.md). Columns zstd cannot hold (numbers, booleans, timestamps) keep
            # DuckDB's choice. Only what this pipeline writes: dbt's connections keep DuckDB's defaults.
            "force_compression": "zstd",
        },
    )
    # One load job at a time: DuckDB runs each job's statements on its own threads already, and dlt's default
    # of twenty parallel jobs on the one file only contended for them. The load of a 7,500-customer full sync
    # took 13.9 CPU-s and peaked at 409 MB with twenty, 12.3 CPU-s and 345 MB with one, 1.4 s longer.
    return dlt.destinations.duckdb(credentials=duckdb_credentials, max_parallel_load_jobs=1)


def _pipeline(settings: Settings, name: str, pipelines_dir: str | None = None) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        destination=_destination(settings),
        dataset_name=RAW_DATASET,
        pipelines_dir=pipelines_dir or str(settings.data_dir / "dlt_pipelines"),
        progress=_ProgressLog(settings),
    )


def _carry_over_cursors(settings: Settings, pipeline: dlt.Pipeline, account_id: str, context: SyncContext) -> None:
    """Gives an account's new pipeline the account's cursors from the `stripe` pipeline's state, once: a
    Postgres warehouse loaded before accounts had pipelines of their own goes on reading what changed,
    instead of reloading every account in full.

    The carried state is what the `stripe` source state holds for this account (every entry keyed by another
    account id left out), committed to the warehouse as the new pipeline's state before its first sync.
    """
    pipeline.sync_destination()
    if pipeline.state.get("sources", {}).get(SOURCE_NAME):
        return  # the account's own state exists: carried over already, or synced since
    # The old pipeline's state, restored into a throwaway folder: its own working folder stays as it is.
    with tempfile.TemporaryDirectory() as folder:
        old = _pipeline(settings, PIPELINE_NAME, pipelines_dir=folder)
        old.sync_destination()
        earlier = old.state.get("sources", {}).get(SOURCE_NAME)
    if not earlier:
        return  # a new warehouse: nothing to carry over
    if not _mentions(earlier, account_id):
        log.info("%s has no cursors in the `%s` pipeline: it loads in full once", account_id, PIPELINE_NAME)
        return
    with pipeline.managed_state() as state:
        state.setdefault("sources", {})[SOURCE_NAME] = _only_account(earlier, account_id)
    # A load of no table commits the state alone (dlt's `_dlt_pipeline_state`), under the new pipeline's name.
    pipeline.run(stripe_source(context).with_resources())
    log.info("%s: cursors carried over from `%s` to `%s`", account_id, PIPELINE_NAME, pipeline.pipeline_name)


def _mentions(state: Any, account_id: str) -> bool:
    if isinstance(state, dict):
        return account_id in state or any(_mentions(value, account_id) for value in state.values())
    return False


def _only_account(state: Any, account_id: str) -> Any:
    """`state` without the entries of other accounts (at whatever depth the source keeps them)."""
    if not isinstance(state, dict):
        return state
    return {
        key: _only_account(value, account_id)
        for key, value in state.items()
        if not (isinstance(key, str) and key.startswith(ACCOUNT_ID_PREFIX) and key != account_id)
    }


class _ProgressLog(LogCollector):
    """dlt's progress log (rows and files per table in the terminal and the Dagster logs), which also, before
    the load, hands what the extract freed back to the system (DuckDB's merge takes its share) and takes the
    turn to load, held until the load step ends: the DuckDB file (`_DuckDbLoadTurn`; another process may have
    opened it while the extract ran), or on Postgres the advisory lock (`_PostgresLoadTurn`)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(dump_system_stats=False)
        self.settings = settings
        self._turn: _PostgresLoadTurn | _DuckDbLoadTurn | None = None

    def _start(self, step: str) -> None:
        if step.startswith("Load"):
            release_freed_memory()
            if self.settings.warehouse == "postgres":
                self._turn = _PostgresLoadTurn(self.settings)
            else:
                self._turn = _DuckDbLoadTurn(self.settings)
        super()._start(step)

    def _stop(self) -> None:
        try:
            super()._stop()
        finally:
            if self._turn is not None:
                self._turn.release()
                self._turn = None


class _PostgresLoadTurn:
    """One load into the Postgres warehouse at a time, across processes: a session advisory lock, held from
    the start of dlt's load step to its end (and released by Postgres if the process dies).

    Concurrent loads share dlt's staging tables, which each merge load empties before filling and merging
    from: a second load emptying them between another's fill and merge would drop that one's rows while its
    cursors move on. And two first loads would both create the same tables, and one fail."""

    def __init__(self, settings: Settings) -> None:
        import psycopg2  # dlt's Postgres driver, needed by Postgres warehouses only

        pg = settings.postgres
        self._connection = psycopg2.connect(
            host=pg.host, port=pg.port, user=pg.user, password=pg.password.value, dbname=pg.database
        )
        self._connection.autocommit = True
        key = f"{RAW_DATASET} load"
        with self._connection.cursor() as cursor:
            cursor.execute("select pg_try_advisory_lock(hashtext(%s))", (key,))
            (taken,) = cursor.fetchone()
            if not taken:
                log.info("waiting for another run's load into Postgres to finish")
                cursor.execute("select pg_advisory_lock(hashtext(%s))", (key,))

    def release(self) -> None:
        self._connection.close()  # ends the session, and with it the lock


class _DuckDbLoadTurn:
    """The DuckDB file held open by this process from the start of dlt's load step to its end.

    dlt's load jobs each open the database and close it when done, and DuckDB lets the file go when the last
    connection of the process closes: between two jobs, another process (dbt, a `duckdb` shell) could take
    it, and the rest of the load would fail. Held open here (once `open_duckdb` found it free, waiting up to
    DUCKDB_LOCK_WAIT_SECONDS), the file stays this process's until the load ends, and each job opens the
    same database again rather than the file.

    It also spares a checkpoint per job, which DuckDB runs as a database's last connection closes: on the
    per-stage benchmark's load (152k objects in 41 files) 7.2 instead of 8.8 CPU-s. A whole sync's load,
    with fewer and larger files, gained nothing measurable.
    """

    def __init__(self, settings: Settings) -> None:
        self._connection = open_duckdb(
            settings.duckdb_path, read_only=False, patience=settings.duckdb_lock_wait_seconds
        )

    def release(self) -> None:
        self._connection.close()  # the last connection: DuckDB checkpoints and lets the file go


def extract_settings():
    """dlt settings for the duration of a sync (its extract and its load).

    Its writers flush each batch of raw rows to disk at once: dlt buffers 5,000 rows per table before writing
    by default, and for two dozen tables of Stripe objects up to 4 kB each that alone was ~90 MB of Arrow
    buffers at the peak of a 160k-object sync.

    The staging dataset is emptied once a load completes. A merge load writes the new rows into
    `stripe_raw_staging` first and merges them into `stripe_raw` from there; dlt otherwise empties a staging
    table only when a later load writes to that table again, so they kept a second copy of the rows last
    loaded into each table (the whole account after a full reload). Each load fills them anew before merging,
    so nothing reads what is left in them.

    So are the load's files once it completes: dlt otherwise keeps every loaded package's files in the
    pipeline's folder for good, a copy of all the rows each sync wrote, and the disk fills sync after sync.
    And they are not gzipped: they live only until the load, and dlt compresses at gzip's slowest level. A
    Postgres sync, whose rows go to the server as CSV, spent 0.05 of its 0.12 CPU-s per 1,000 objects on it
    (BENCHMARKS.md). The price is disk while a sync runs: about 1.5 kB per object, a full sync's rows at once.
    """
    return dlt.config.values(
        {
            "data_writer.buffer_max_items": ROWS_PER_BATCH // 2,
            "data_writer.disable_compression": True,
            "load.truncate_staging_dataset": True,
            "load.delete_completed_jobs": True,
        }
    )


@contextmanager
def sources_to_load(
    settings: Settings, context: SyncContext, tables: Iterable[str] | None = None
) -> Iterator[Iterator[DltSource]]:
    """The sources of a sync's loads (of `tables`, or every raw table), to run one after the other with one
    pipeline, each once the one before has loaded: one, and a second when the first left objects that load
    last (`StripeObject.loads_last`) to it (`source.TailReads`). Their reads are stopped when this ends.

    Why two: in a full sync, the payouts' balance transactions, a request per payout at an endpoint Stripe
    limits to 25 a second, are read long after every other object. With one load, the whole load waited for
    them; with two, the first loads the rest while they are read, and the second only them (BENCHMARKS.md).
    An incremental sync reads them in moments, and loads once.

    In each, a table that holds no row yet is loaded by appending its rows, not merged. A merge load writes
    the rows into the staging dataset, deletes the keys they replace, and inserts them from there; into an
    empty table that ends where an append ends, with every row written twice. The load files of a
    7,500-customer account's first full sync, inserted straight into their DuckDB tables, took 5.1 CPU-s,
    against 12.3 merged (BENCHMARKS.md). It is exact because a load holds each key once
    (`source.UNIQUE_RAW_TABLE_HINTS`) and a table empty as the load starts has no row to replace. A load that
    dies half way leaves its tables as far as it got; the next run finds them holding rows, merges into them,
    and reads again what the dead run read: Dagster's dlt resource drops the dead run's package and state
    before each run. (`sync_accounts`, for tests and benchmarks, lets dlt resume a pending package instead.)
    """
    names = set(stripe_source(context).selected_resources) if tables is None else set(tables)
    last = [obj for obj in STRIPE_OBJECTS if obj.loads_last and _tables_of(obj) & names]
    tail = TailReads(last) if last and names - {table for obj in last for table in _tables_of(obj)} else None
    # Which tables are empty, asked once: the first load leaves those of the objects it defers as they were.
    empty = names - tables_holding_rows(settings, RAW_DATASET, sorted(names))

    def source(share: set[str]) -> DltSource:
        loaded = stripe_source(context, tail).with_resources(*sorted(share))
        for table in share & empty:
            loaded.resources[table].apply_hints(write_disposition="append")
        return loaded

    def sources() -> Iterator[DltSource]:
        yield source(names)
        if tail is not None and tail.deferred:
            # Dagster's dlt resource restores the state from the warehouse first thing, the moment the first
            # load let the file go: the moment another process waiting for it takes it.
            wait_for_duckdb_file(settings)
            yield source({t for obj in last if obj.table in tail.deferred for t in _tables_of(obj)} & names)

    try:
        yield sources()
    finally:
        if tail is not None:
            tail.close()


def _tables_of(obj: StripeObject) -> set[str]:
    """The raw tables an object's read loads: its own and its children's."""
    return {obj.table, *(child.table for child in obj.children)}


def sync_accounts(settings: Settings, now: int | None = None) -> SyncReport:
    """One sync of every configured account into the warehouse, outside Dagster (tests, benchmarks).

    Raises what dlt raises when the load itself fails; failures of single accounts are in the report.
    """
    context = SyncContext(settings)
    if now is not None:
        context.synced_at = datetime.fromtimestamp(now, UTC)
    with context, extract_settings():
        for pipeline, share in account_loads(settings, context):
            with sources_to_load(settings, share) as sources:
                for source in sources:
                    pipeline.run(source)
    return context.report
