"""The dlt source: every Stripe object of every configured account, one resource per raw table.

Each object has a page producer (not loaded itself) that reads what changed; transformers turn its
batches into the raw rows of the object's table and of its child tables (invoice lines, subscription
items, discounts, credit note lines), so each table is its own dlt resource and Dagster asset while the
parent list is read once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import dlt
import orjson
import pyarrow as pa
from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns
from dlt.extract.resource import DltResource

from orchestration.ingest.client import StripeAuthError, StripeReader, StripeReadError
from orchestration.ingest.fetch import run_chains
from orchestration.ingest.lazy_json import is_array, is_object
from orchestration.ingest.memory import release_freed_memory, tune_malloc
from orchestration.ingest.raw_rows import PRIMARY_KEY, RAW_SCHEMA, raw_table
from orchestration.ingest.sync import Batch, Cursor, read_object
from orchestration.settings import Settings, StripeCredential
from orchestration.stripe_objects import STRIPE_OBJECTS, ChildList, EmbeddedObjects, StripeObject
from orchestration.sync_report import SyncReport

log = logging.getLogger(__name__)

SOURCE_NAME = "stripe"
PROGRESS_EVERY_SECONDS = 10
ROWS_PER_BATCH = 1000


@dataclass
class SyncContext:
    """What one sync shares: the settings, a reader per account, the thread pool and the report."""

    settings: Settings
    credentials: tuple[StripeCredential, ...] | None = None
    """The accounts to read; None: those of the settings (STRIPE_API_KEY / STRIPE_ACCOUNT_IDS)."""
    full_refresh: bool = False
    """Reload every object in full whatever its cursor (the daily reconciliation): picks up what no event
    reports, and marks deleted the rows Stripe no longer lists."""
    report: SyncReport = field(default_factory=SyncReport)
    synced_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the sync started; each row's `synced_at` is when it was read, on the same clock."""
    _started: float = field(default_factory=time.monotonic, repr=False)

    def read_time(self) -> datetime:
        """Now, on the sync's clock: a row read later in the sync carries a later synced_at, so when one
        load holds an object twice (listed as new, then re-fetched after a change) the merge keeps the later."""
        return self.synced_at + timedelta(seconds=time.monotonic() - self._started)

    @property
    def now(self) -> int:
        """The sync's clock in unix seconds, against which cursors are aged."""
        return int(self.synced_at.timestamp())

    @cached_property
    def readers(self) -> tuple[StripeReader, ...]:
        return tuple(
            StripeReader(
                self.settings.stripe_api_base,
                credential,
                requests_per_second=self.settings.rate_limit_for(credential),
                max_network_retries=self.settings.max_network_retries,
            )
            for credential in (
                self.credentials if self.credentials is not None else self.settings.require_credentials()
            )
        )

    @cached_property
    def executor(self) -> ThreadPoolExecutor:
        tune_malloc()  # before the pool's threads allocate
        return ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="stripe")

    def close(self) -> None:
        if "executor" in self.__dict__:
            self.executor.shutdown(wait=False, cancel_futures=True)
        for reader in self.__dict__.get("readers", ()):
            self.report.traffic[reader.account_id_or_key] = reader.stats.as_dict()

    def __enter__(self) -> SyncContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def stripe_source(context: SyncContext | None = None) -> Iterator[DltResource]:
    """Building the source reads nothing: accounts are resolved when the first resource runs, so Dagster
    loads the definitions without secrets or network."""
    lazy = _LazyContext(context)
    for obj in STRIPE_OBJECTS:
        pages = dlt.resource(_produce(obj, lazy), name=f"{obj.table}__changes", selected=False)
        yield pages | _table_rows(obj.table, obj.description, lazy)
        for child in obj.children:
            yield pages | _table_rows(child.table, obj.child_description(child), lazy)
    yield dlt.resource(_accounts(lazy), name="accounts", **RAW_TABLE_HINTS)


_RAW_COLUMNS = py_arrow_to_table_schema_columns(RAW_SCHEMA)
# When a load holds an object twice, dlt keeps one row per key: the one read last, not an arbitrary one.
_RAW_COLUMNS["synced_at"]["dedup_sort"] = "desc"

RAW_TABLE_HINTS: dict[str, Any] = {
    # Merge on (account_id, id): ids are unique per account only (plan and coupon ids are user-chosen),
    # and reloading an object replaces its row instead of duplicating it.
    "write_disposition": "merge",
    "primary_key": PRIMARY_KEY,
    "columns": _RAW_COLUMNS,
}


class _LazyContext:
    def __init__(self, context: SyncContext | None) -> None:
        self._context = context

    def get(self) -> SyncContext:
        if self._context is None:
            self._context = SyncContext(Settings.from_env())
        return self._context


@dataclass
class RawBatch:
    """Raw rows of one account, already Arrow, per table (the object's own and its child tables).

    Pages become Arrow as soon as they arrive, so a batch holds compact JSON text rather than parsed
    objects, and about ROWS_PER_BATCH rows go to dlt at once: dlt spends ~25 ms on each yielded item,
    which per 100-object page would make it, not Stripe, the bottleneck.
    """

    account_id: str
    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    rows: int = 0

    def add(self, table: str, rows: pa.Table) -> None:
        self.tables.setdefault(table, []).append(rows)
        self.rows += rows.num_rows


def _produce(obj: StripeObject, lazy: _LazyContext):
    def produce() -> Iterator[RawBatch]:
        context = lazy.get()
        cursors = dlt.current.source_state().setdefault("cursors", {}).setdefault(obj.table, {})
        for reader in context.readers:
            account = _account_label(reader)
            if account in context.report.failures:
                continue
            try:
                account = reader.account_id
                # An empty batch first, so every table exists even for an account without such objects.
                yield RawBatch(account)
                progress = context.report.start(obj.table, account, "full")
                cursor = Cursor.from_state(cursors.get(account))
                # A full reload over an earlier sync must find the rows deleted meanwhile: track what it saw.
                seen: set[str] | None = set() if cursor is not None and obj.deletable else None
                pending = RawBatch(account)
                last_log = time.monotonic()
                for item in read_object(
                    reader, context.executor, obj, cursor, context.now, progress, full=context.full_refresh
                ):
                    if isinstance(item, Cursor):
                        if seen is not None and progress.mode == "full":
                            for batch in _vanished(obj, account, seen, progress):
                                _add_rows(pending, obj, batch, reader, context, progress)
                        if pending.rows:
                            yield pending
                        # Saved only now that every row it covers has been yielded.
                        cursors[account] = item.to_state()
                        continue
                    if seen is not None:
                        seen.update(o["id"] for o in item.objects)
                    _add_rows(pending, obj, item, reader, context, progress)
                    if pending.rows >= ROWS_PER_BATCH:
                        yield pending
                        pending = RawBatch(account)
                    if time.monotonic() - last_log > PROGRESS_EVERY_SECONDS:
                        last_log = time.monotonic()
                        log.info(
                            "%s of %s: %d rows in %d pages so far, %.0fs",
                            obj.table, account, progress.rows + progress.refetched, progress.pages,
                            time.monotonic() - progress.started,
                        )  # fmt: skip
                progress.elapsed = time.monotonic() - progress.started
                log.info(
                    "%s of %s: %s sync, %d rows in %d pages (%d re-fetched, %d deleted, %d child rows) in %.1fs",
                    obj.table, account, progress.mode, progress.rows + progress.refetched, progress.pages,
                    progress.refetched, progress.deleted, progress.child_rows, progress.elapsed,
                )  # fmt: skip
            except StripeReadError as exc:
                log.error("%s of %s failed: %s", obj.table, account, exc)
                context.report.fail(account, str(exc), needs_reauth=isinstance(exc, StripeAuthError))
        # What this object's read held goes back before the next one's, and before dlt's load (once per
        # object, not per account: a full collection takes a moment).
        release_freed_memory()

    return produce


def _add_rows(
    pending: RawBatch, obj: StripeObject, batch: Batch, reader: StripeReader, context: SyncContext, progress
) -> None:
    read_at = context.read_time()
    pending.add(
        obj.table,
        raw_table(batch.account_id, batch.objects, read_at, deleted=batch.deleted, created_field=obj.created_field),
    )
    if batch.deleted:
        return  # a deleted parent's children keep their last state
    read: dict[str, list[tuple[str, list[Any]]]] = {}
    for child in obj.children:
        read[child.table] = list(_children(child, batch.objects, reader, context, read))
        for parent_id, children in read[child.table]:
            if children:
                pending.add(child.table, raw_table(batch.account_id, children, read_at, parent_id))
                progress.child_rows += len(children)


def _vanished(obj: StripeObject, account: str, seen: set[str], progress) -> Iterator[Batch]:
    """After a full reload that replaced an incremental history: rows Stripe no longer lists were deleted
    while no event could tell us; they are kept with their last known state, marked deleted."""
    with dlt.current.pipeline().sql_client() as client:
        table = client.make_qualified_table_name(obj.table)
        rows = client.execute_sql(f"select object_json from {table} where account_id = %s and not is_deleted", account)
    gone = [obj_json for (obj_json,) in rows or [] if orjson.loads(obj_json)["id"] not in seen]
    if gone:
        progress.deleted += len(gone)
        yield Batch(account, [orjson.loads(o) for o in gone], deleted=True)


def _table_rows(table: str, description: str, lazy: _LazyContext) -> DltResource:
    @dlt.transformer(name=table, **RAW_TABLE_HINTS)
    def rows(batch: RawBatch) -> Iterator[pa.Table]:
        parts = batch.tables.get(table)
        if parts:
            yield pa.concat_tables(parts)
        elif not batch.rows:
            # The first, empty batch of an account: an empty Arrow table creates the table with exactly the
            # raw columns (dlt's own marker would add dlt columns the Arrow rows lack).
            yield raw_table(batch.account_id, [], lazy.get().synced_at)

    rows.__doc__ = description
    return rows


def _children(
    child: ChildList | EmbeddedObjects,
    parents: list[dict[str, Any]],
    reader: StripeReader,
    context: SyncContext,
    read: dict[str, list[tuple[str, list[Any]]]],
):
    """(parent id, children) for each parent: the embedded first page, then the pages beyond it; for objects
    embedded in the parent, those found in it and in the rows of the child list already `read`."""
    if isinstance(child, EmbeddedObjects):
        child_rows: dict[str, list[Any]] = {}
        if child.in_child_rows:
            for parent_id, children in read[child.in_child_rows[0]]:
                child_rows.setdefault(parent_id, []).extend(children)
        for parent in parents:
            found = [obj for path in child.paths for obj in _objects_at(parent, path)]
            if child.in_child_rows:
                path = child.in_child_rows[1]
                found += [obj for row in child_rows.get(parent["id"], []) for obj in _objects_at(row, path)]
            unique: dict[str, Any] = {}  # a discount names many lines of its invoice: one row
            for obj in found:
                unique.setdefault(obj["id"], obj)
            yield parent["id"], list(unique.values())
        return
    to_page = []
    for parent in parents:
        embedded = parent.get(child.embedded_field) or {}
        yield parent["id"], embedded.get("data", [])
        if embedded.get("has_more") and child.list_path:
            to_page.append((parent["id"], embedded["data"][-1]["id"]))
    yield from _pages_beyond(child, to_page, reader, context)


def _objects_at(holder: Any, path: str) -> list[Any]:
    """The expanded objects at `path` in `holder` (through list objects and arrays); ids left unexpanded are
    skipped."""
    values = [holder]
    for name in path.split("."):
        values = [value.get(name) for value in _elements(values) if is_object(value)]
    return [value for value in _elements(values) if is_object(value) and value.get("id") is not None]


def _elements(values: list[Any]) -> list[Any]:
    """The values, with each array replaced by its elements."""
    return [element for value in values if value is not None for element in (value if is_array(value) else [value])]


def _pages_beyond(child: ChildList, to_page, reader: StripeReader, context: SyncContext):
    def chain(parent_id: str, after: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        params: dict[str, Any] = {"starting_after": after}
        if child.expand:
            # The SDK encodes a list parameter as expand[0]=…, which Stripe reads as an array.
            params["expand"] = list(child.expand)
        if child.parent_param:
            params[child.parent_param] = parent_id
        for page in reader.list_pages(str(child.list_path).format(parent_id=parent_id), params):
            if page:
                yield parent_id, page

    yield from run_chains(context.executor, [chain(p, a) for p, a in to_page])


def _accounts(lazy: _LazyContext):
    def accounts() -> Iterator[pa.Table]:
        """The Stripe accounts read, one row each: the key's own account or the connected account."""
        context = lazy.get()
        for reader in context.readers:
            try:
                yield raw_table(reader.account_id, [reader.account], context.read_time())
            except StripeReadError as exc:
                context.report.fail(_account_label(reader), str(exc), needs_reauth=isinstance(exc, StripeAuthError))

    return accounts


def _account_label(reader: StripeReader) -> str:
    return reader.account_id_or_key
