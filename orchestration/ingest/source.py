"""The dlt source: every Stripe object of every configured account, one resource per raw table.

The sync's shared state is `context.SyncContext`, child tables are read by `children`, rows deleted without
an event are found by `vanished`.

Each object has a page producer (not loaded itself) that reads what changed; transformers turn its
batches into the raw rows of the object's table and of its child tables (invoice lines, subscription
items, discounts, credit note lines, the balance transactions of each automatic payout), so each table is its
own dlt resource and Dagster asset while the parent list is read once.

A sync may load in two steps (`TailReads`): every object but those that load last, then those, whose read
started with the first and went on while it loaded; it does when one of those is read in full.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns
from dlt.extract.resource import DltResource

from orchestration.ingest.children import FinalLists, child_rows
from orchestration.ingest.client import StripeAuthError, StripeReader, StripeReadError
from orchestration.ingest.context import SyncContext
from orchestration.ingest.events import SharedEvents
from orchestration.ingest.memory import release_freed_memory
from orchestration.ingest.raw_rows import PRIMARY_KEY, RAW_SCHEMA, raw_table
from orchestration.ingest.read_ahead import ReadAhead, read_ahead
from orchestration.ingest.spill import SpillFolder, read_back
from orchestration.ingest.sync import Batch, Cursor, ObjectRead, event_windows, needs_full_reload
from orchestration.ingest.vanished import vanished_rows
from orchestration.settings import Settings
from orchestration.stripe_objects import STRIPE_OBJECTS, ChildList, EmbeddedObjects, StripeObject

log = logging.getLogger(__name__)

SOURCE_NAME = "stripe"
PROGRESS_EVERY_SECONDS = 10
ROWS_PER_BATCH = 1000


@dlt.source(name=SOURCE_NAME, max_table_nesting=0)
def stripe_source(context: SyncContext | None = None, tail: TailReads | None = None) -> Iterator[DltResource]:
    """Building the source reads nothing: accounts are resolved when the first resource runs, so Dagster
    loads the definitions without secrets or network.

    With `tail`, the sync loads in two steps, each with this source and its own share of the tables: the
    objects of `tail` are read from the first step's start and handed to the second (`TailReads`)."""
    lazy = _LazyContext(context)
    events = SharedEvents()
    for obj in STRIPE_OBJECTS:
        if tail is not None and obj in tail.objects:
            produce = tail.produce(obj, lazy, events)
        else:
            produce = _produce(obj, lazy, events, tail)
        pages = dlt.resource(produce, name=f"{obj.table}__changes", selected=False)
        yield pages | _table_rows(obj.table, obj.description, lazy)
        for child in obj.children:
            yield pages | _table_rows(child.table, obj.child_description(child), lazy)
    yield dlt.resource(_accounts(lazy), name="accounts", **UNIQUE_RAW_TABLE_HINTS)


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

UNIQUE_RAW_TABLE_HINTS: dict[str, Any] = {
    **RAW_TABLE_HINTS,
    # For the source's own tables, whose loads hold each key once (each object is written once per sync,
    # see `sync`; discounts and accounts are kept apart below): dlt's delete-insert merge then copies the
    # staging rows as they are, instead of numbering every staging row per key in a window over the whole
    # table (ROW_NUMBER() OVER (PARTITION BY account_id, id ORDER BY synced_at DESC)), which held a full
    # load's rows in DuckDB's memory. tests/ingest/test_one_row_per_key.py checks that no load holds a key
    # twice. RAW_TABLE_HINTS keep the window, for writers that cannot promise as much.
    "write_disposition": {"disposition": "merge", "strategy": "delete-insert", "deduplicated": True},
    # Nothing to sort: dlt would warn that it ignores the order.
    "columns": py_arrow_to_table_schema_columns(RAW_SCHEMA),
}


class _LazyContext:
    def __init__(self, context: SyncContext | None) -> None:
        self._context = context
        self._lock = threading.Lock()  # the objects' pages are read on threads of their own

    def get(self) -> SyncContext:
        with self._lock:
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

    def spill(self, folder: SpillFolder) -> SpilledBatch:
        """This batch written to Arrow files in `folder`, its memory let go."""
        files = {table: folder.write(pa.concat_tables(parts)) for table, parts in self.tables.items()}
        return SpilledBatch(self.account_id, files, self.rows)


@dataclass
class SpilledBatch:
    """A `RawBatch` waiting on disk (`TailReads`): its tables' Arrow files."""

    account_id: str
    files: dict[str, Path]
    rows: int

    def restore(self) -> RawBatch:
        """The batch, read back; its files deleted."""
        tables = {table: [read_back(path)] for table, path in self.files.items()}
        return RawBatch(self.account_id, tables, self.rows)


def _produce(obj: StripeObject, lazy: _LazyContext, events: SharedEvents, tail: TailReads | None):
    def produce() -> Iterator[RawBatch | None]:
        # dlt's state is reached from dlt's thread only; the read runs on a thread of its own (read_ahead.py).
        # The cursors it sets are committed with the load, which takes place only once every batch is yielded.
        state = dlt.current.source_state()
        if tail is not None:
            tail.start(state, lazy.get(), events)  # the first object of the first load starts the tail's reads
        yield from _handed_to_dlt(read_ahead(lambda: _read(obj, lazy.get(), events, state), name=_thread(obj)))

    return produce


def _handed_to_dlt(items: ReadAhead[RawBatch | SpilledBatch | _Vanished]) -> Iterator[RawBatch | None]:
    """The batches of one object's read as dlt takes them, its deleted rows found on dlt's thread."""
    try:
        for item in items:
            if isinstance(item, SpilledBatch):
                yield item.restore()
            elif isinstance(item, _Vanished):
                vanished = item.rows()
                yield vanished if vanished.rows else None  # empty, it would cost every table a load job
            else:
                yield item
    finally:
        items.close()  # dlt stopped reading (an error elsewhere): so does the read


class TailReads:
    """The reads of the objects that load last (`StripeObject.loads_last`), for a sync that may load in two steps.

    The first step's extract starts them with its own objects (`start`). Each such read first decides whether
    it is a full one for some account (a first sync, an expired cursor, a reconciliation): that one is long, so
    the first step loads without it, and a second step loads it (`deferred`). Its batches wait on disk
    meanwhile, in Arrow files (spill.py): held in memory, they raised the peak RSS of a 7,500-customer full
    sync from 384 to 399 MB. An incremental read is short: the first step takes it like any other object's,
    and the sync loads once.

    Either way the read starts from a copy of dlt's state as the first step found it, and the step that takes
    its batches (`produce`) takes with them only this object's entries of the copy, the cursors the read
    moved, saved with that step's load. A sync that dies between the steps has loaded the others; the next
    reads these again from where they were.
    """

    def __init__(self, objects: Sequence[StripeObject]) -> None:
        self.objects = tuple(objects)
        self.deferred: set[str] = set()
        """The objects (their tables) left to a second step."""
        self._lock = threading.Lock()
        self._state: dict[str, Any] | None = None
        self._reads: dict[str, ReadAhead[RawBatch | SpilledBatch | _Vanished]] = {}
        self._in_full: dict[str, bool] = {}
        self._decided = {obj.table: threading.Event() for obj in self.objects}
        self._folder: SpillFolder | None = None

    def start(self, state: dict[str, Any], context: SyncContext, events: SharedEvents) -> None:
        """Starts every read, from a copy of `state` (dlt's source state); once, whoever calls first."""
        with self._lock:
            if self._state is not None:
                return
            self._state = copy.deepcopy(state)
            self._folder = SpillFolder(context.settings.data_dir)
            for obj in self.objects:
                read = partial(self._read_tail, obj, context, events)
                self._reads[obj.table] = read_ahead(read, name=_thread(obj), depth=None)

    def _read_tail(
        self, obj: StripeObject, context: SyncContext, events: SharedEvents
    ) -> Iterator[RawBatch | SpilledBatch | _Vanished]:
        assert self._state is not None and self._folder is not None
        try:
            in_full = self._in_full[obj.table] = _read_in_full(obj, self._state, context)
        finally:
            self._decided[obj.table].set()  # also when deciding failed: the read raises it to dlt
        for item in _read(obj, context, events, self._state):
            yield item.spill(self._folder) if in_full and isinstance(item, RawBatch) else item

    def produce(self, obj: StripeObject, lazy: _LazyContext, events: SharedEvents):
        def produce() -> Iterator[RawBatch | None]:
            state = dlt.current.source_state()
            self.start(state, lazy.get(), events)  # the first step read no other object: from here, then
            while not self._decided[obj.table].is_set():
                yield None  # dlt goes on with the other objects meanwhile
            if self._in_full.get(obj.table) and obj.table not in self.deferred:
                self.deferred.add(obj.table)  # the first step: a second one loads it
                return
            yield from _handed_to_dlt(self._reads[obj.table])
            assert self._state is not None
            for key, table in _state_entries(obj):
                state.setdefault(key, {})[table] = self._state.get(key, {}).get(table, {})

        return produce

    def close(self) -> None:
        """Stops whatever is still read (the sync failed before its second step), and deletes what waits."""
        for read in self._reads.values():
            read.close()
        if self._folder is not None:
            self._folder.remove()


def _read_in_full(obj: StripeObject, state: dict[str, Any], context: SyncContext) -> bool:
    """Whether `_read` reads `obj` in full for some account of the sync (`state`: dlt's source state)."""
    if context.full_refresh:
        return True
    cursors = state.get("cursors", {}).get(obj.table, {})
    for reader in context.readers:
        try:
            account = reader.account_id
        except StripeReadError:
            continue  # its read fails and reports it
        if needs_full_reload(obj, Cursor.from_state(cursors.get(account)), context.now):
            return True
    return False


def _state_entries(obj: StripeObject) -> list[tuple[str, str]]:
    """Where `_read` keeps what it loaded of `obj` in dlt's source state: (key, table), each a dict per account."""
    return [("cursors", obj.table)] + [("lists_loaded_through", child.table) for child in _final_children(obj)]


def _final_children(obj: StripeObject) -> list[ChildList]:
    """The child lists of `obj` read once, when complete (a payout's balance transactions)."""
    return [c for c in obj.children if isinstance(c, ChildList) and c.final_when is not None]


def _thread(obj: StripeObject) -> str:
    return f"stripe-{obj.table}"


@dataclass
class _Vanished:
    """After a full read over an earlier sync: the rows of the warehouse it did not see, to mark deleted."""

    obj: StripeObject
    reader: StripeReader
    context: SyncContext
    progress: Any
    seen: set[str]

    def rows(self) -> RawBatch:
        account = self.reader.account_id
        batch = RawBatch(account)
        for deleted in vanished_rows(self.obj, account, self.seen, self.progress):
            _add_rows(batch, self.obj, deleted, self.reader, self.context, self.progress, {}, {})
        return batch


def _read(
    obj: StripeObject, context: SyncContext, events: SharedEvents, state: dict[str, Any]
) -> Iterator[RawBatch | _Vanished]:
    """The batches of one object, every account's, in order; records each account's new cursor in `state` once its
    batches are yielded."""
    all_cursors = state.setdefault("cursors", {})
    cursors = all_cursors.setdefault(obj.table, {})
    # Per child list read once when complete (a payout's balance transactions): how far it is loaded.
    final_children = _final_children(obj)
    loaded_through = {
        c.table: state.setdefault("lists_loaded_through", {}).setdefault(c.table, {}) for c in final_children
    }
    done: set[str] = set()
    for reader in context.readers:
        account = _account_label(reader)
        if account in context.report.failures:
            continue
        try:
            account = reader.account_id
            if account in done:
                continue  # configured twice: read once, or the load would hold its rows twice
            done.add(account)
            progress = context.report.start(obj.table, account, "full")
            cursor = Cursor.from_state(cursors.get(account))
            if cursor is None:
                # An empty batch first, so every table exists even for an account without such objects. Only
                # on the account's first sync (a cursor is saved with the load that created the tables):
                # a table without rows then has no load job, and a sync with nothing new merges nothing.
                yield RawBatch(account)
            final = {c.table: FinalLists(c, loaded_through[c.table].get(account)) for c in final_children}
            # Objects embedded in more parents than one (a discount named by every invoice it applied to):
            # the ids written so far this sync, so each is written once.
            embedded: dict[str, set[str]] = {c.table: set() for c in obj.children if isinstance(c, EmbeddedObjects)}
            # A full reload over an earlier sync must find the rows deleted meanwhile: track what it saw.
            seen: set[str] | None = set() if cursor is not None and obj.deletable else None
            pending = RawBatch(account)
            last_log = time.monotonic()
            windows = partial(_event_windows, all_cursors, account, context)
            read = ObjectRead(
                reader,
                context.executor,
                obj,
                cursor,
                context.now,
                progress,
                events=events.of(reader, context.executor, windows),
                full=context.full_refresh,
            )
            for batch in read:
                if seen is not None:
                    seen.update(o["id"] for o in batch.objects)
                _add_rows(pending, obj, batch, reader, context, progress, final, embedded)
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
            if seen is not None and progress.mode == "full":
                # The warehouse is read from dlt's thread (`produce`), where dlt's pipeline is at hand.
                yield _Vanished(obj, reader, context, progress, seen)
            if pending.rows:
                yield pending
            # Saved only now that every row it covers has been yielded.
            cursors[account] = read.cursor.to_state()
            if progress.mode == "full":
                for table, lists in final.items():
                    loaded_through[table][account] = lists.through_after_full_read()
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


def _add_rows(
    pending: RawBatch,
    obj: StripeObject,
    batch: Batch,
    reader: StripeReader,
    context: SyncContext,
    progress,
    final: dict[str, FinalLists],
    embedded: dict[str, set[str]],
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
        # A list read once when complete: only for the parents whose list is complete and not loaded yet.
        parents = final[child.table].to_read(batch.objects) if child.table in final else batch.objects
        read[child.table] = list(child_rows(child, parents, reader, context, read))
        keyed = isinstance(child, ChildList) and child.keyed_by_parent
        for parent_id, children in read[child.table]:
            if child.table in embedded:
                children = _first_time(children, embedded[child.table])
            if children:
                pending.add(
                    child.table, raw_table(batch.account_id, children, read_at, parent_id, keyed_by_parent=keyed)
                )
                progress.child_rows += len(children)


def _first_time(objects: list[Any], written: set[str]) -> list[Any]:
    """The objects whose id is not in `written` yet, which then holds them too."""
    new = [o for o in objects if o["id"] not in written]
    written.update(o["id"] for o in new)
    return new


def _event_windows(all_cursors: dict[str, Any], account: str, context: SyncContext) -> dict[str, int]:
    """The events windows of the account's objects, from their cursors as this sync found them."""
    cursors = {table: Cursor.from_state(by_account.get(account)) for table, by_account in all_cursors.items()}
    return event_windows(cursors, context.now, full=context.full_refresh)


def _table_rows(table: str, description: str, lazy: _LazyContext) -> DltResource:
    @dlt.transformer(name=table, **UNIQUE_RAW_TABLE_HINTS)
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


def _accounts(lazy: _LazyContext):
    def accounts() -> Iterator[pa.Table]:
        """The Stripe accounts read, one row each: the key's own account or the connected account."""
        context = lazy.get()
        done: set[str] = set()
        for reader in context.readers:
            try:
                if reader.account_id not in done:  # an account configured twice is one row
                    done.add(reader.account_id)
                    yield raw_table(reader.account_id, [reader.account], context.read_time())
            except StripeReadError as exc:
                context.report.fail(_account_label(reader), str(exc), needs_reauth=isinstance(exc, StripeAuthError))

    return accounts


def _account_label(reader: StripeReader) -> str:
    return reader.account_id_or_key
