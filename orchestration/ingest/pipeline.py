"""The dlt pipeline that writes the raw Stripe tables into the configured warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.destination import Destination
from dlt.common.runtime.collector import LogCollector
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from orchestration.ingest.context import SyncContext
from orchestration.ingest.memory import release_freed_memory
from orchestration.ingest.source import ROWS_PER_BATCH, stripe_source
from orchestration.settings import Settings
from orchestration.stripe_objects import RAW_DATASET
from orchestration.sync_report import SyncReport
from orchestration.warehouse.access import wait_for_duckdb_file

PIPELINE_NAME = "stripe"


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
        destination: Destination[Any, Any] = dlt.destinations.postgres(credentials=credentials)
    else:
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
            },
        )
        destination = dlt.destinations.duckdb(credentials=duckdb_credentials)
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=RAW_DATASET,
        pipelines_dir=str(settings.data_dir / "dlt_pipelines"),
        progress=_ProgressLog(settings),
    )


class _ProgressLog(LogCollector):
    """dlt's progress log (rows and files per table in the terminal and the Dagster logs), which also, before
    the load, hands what the extract freed back to the system (DuckDB's merge takes its share) and waits for
    the warehouse file to be free (another process may have opened it while the extract ran)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(dump_system_stats=False)
        self.settings = settings

    def _start(self, step: str) -> None:
        if step.startswith("Load"):
            release_freed_memory()
            wait_for_duckdb_file(self.settings)
        super()._start(step)


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
    """
    return dlt.config.values(
        {"data_writer.buffer_max_items": ROWS_PER_BATCH // 2, "load.truncate_staging_dataset": True}
    )


def sync_accounts(settings: Settings, now: int | None = None) -> SyncReport:
    """One sync of every configured account into the warehouse, outside Dagster (tests, benchmarks).

    Raises what dlt raises when the load itself fails; failures of single accounts are in the report.
    """
    context = SyncContext(settings)
    if now is not None:
        context.synced_at = datetime.fromtimestamp(now, UTC)
    with context, extract_settings():
        stripe_pipeline(settings).run(stripe_source(context))
    return context.report
