"""What to read for one object of one account: everything, or only what changed since the cursor.

- First sync (no cursor): the whole list.
- Later syncs: objects created since the `created` cursor, plus the objects named by events since the
  events cursor, each re-fetched from its retrieve endpoint, because an event's payload is rendered in the
  API version of its time and carries no expansions. Deletions become rows with `is_deleted`.
- Events are eventually consistent, so every read starts a minute before the cursor; the merge on
  (account_id, id) makes the overlap harmless.
- Stripe keeps events for 30 days: an events cursor older than that cannot see every change, so the
  object is reloaded in full instead, and the log says so.
The new cursor is handed back, not stored (`ObjectRead.cursor`, once its batches are read): the caller saves
it only once the rows it covers are yielded, and dlt commits its state with the load, so a sync that dies
half way re-reads instead of skipping.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatch
from itertools import chain
from typing import Any

import orjson

from orchestration.ingest.client import PAGE_SIZE, StripeNotFoundError, StripeReader
from orchestration.ingest.fetch import Page, list_all, run_chains
from orchestration.ingest.lazy_json import object_json
from orchestration.stripe_objects import StripeObject
from orchestration.sync_report import ObjectProgress

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 60
EVENT_RETENTION_SECONDS = 30 * 24 * 3600
# Margin for the clock difference between here and Stripe, and for the time a sync takes.
RETENTION_MARGIN_SECONDS = 3600
MAX_EVENT_TYPES_PER_REQUEST = 20


@dataclass(frozen=True)
class Cursor:
    created: int | None = None
    """Newest `created` loaded."""
    events: int | None = None
    """Events up to this time are applied."""

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> Cursor | None:
        return cls(**state) if state else None

    def to_state(self) -> dict[str, Any]:
        return {"created": self.created, "events": self.events}


@dataclass
class Batch:
    """Objects of one account to write; `deleted` ones are written with is_deleted."""

    account_id: str
    objects: Page
    deleted: bool = False


class ObjectRead:
    """One object of one account read: iterate once for the batches to write; then `cursor` is where the
    next sync of it starts."""

    def __init__(
        self,
        reader: StripeReader,
        executor: ThreadPoolExecutor,
        obj: StripeObject,
        cursor: Cursor | None,
        now: int,
        progress: ObjectProgress,
        *,
        full: bool = False,
    ) -> None:
        self._batches = _read(reader, executor, obj, cursor, now, progress, full=full)
        self._cursor: Cursor | None = None

    def __iter__(self) -> Iterator[Batch]:
        self._cursor = yield from self._batches

    @property
    def cursor(self) -> Cursor:
        if self._cursor is None:
            raise RuntimeError("the cursor is known only once every batch has been read")
        return self._cursor


def _read(
    reader: StripeReader,
    executor: ThreadPoolExecutor,
    obj: StripeObject,
    cursor: Cursor | None,
    now: int,
    progress: ObjectProgress,
    *,
    full: bool = False,
) -> Generator[Batch, None, Cursor]:
    """The batches to write, returning the new cursor. `full` reloads whatever the cursor."""
    newest = cursor.created if cursor else None
    if full or _needs_full_reload(obj, cursor, now):
        progress.mode = "full"
        if full:
            log.info("%s of %s: reconciliation, reloading in full.", obj.table, reader.account_id)
        elif cursor is not None:
            log.warning(
                "%s of %s: the events cursor is older than Stripe's 30-day event retention, "
                "so changes may be missing: reloading %s in full.",
                obj.table,
                reader.account_id,
                obj.table,
            )
        created_since = None
    else:
        assert cursor is not None  # no cursor needs a full reload
        progress.mode = "incremental"
        created_since = max(0, (cursor.created or 0) - OVERLAP_SECONDS)

    listed: set[str] = set()
    for params in obj.passes:
        query = {**params, **_expand(obj.expand, "expand")}
        if created_since is not None:
            query["created[gte]"] = created_since
        for page in list_all(
            reader, executor, obj.list_path, query, sliced=created_since is None, created_field=obj.created_field
        ):
            if page:
                newest = max(newest or 0, max(o.get(obj.created_field) or 0 for o in page))
                progress.rows += len(page)
                progress.pages += 1
                if created_since is not None:
                    listed.update(o["id"] for o in page)
                yield Batch(reader.account_id, page)

    if progress.mode == "incremental" and obj.event_types and cursor is not None and cursor.events is not None:
        # Objects just listed as new are already in their latest state, unless an event came after the list.
        # `now` (the sync's start, on Stripe's clock in the simulator) precedes every list request.
        fresh = _ListedBefore(listed, now - OVERLAP_SECONDS)
        yield from _apply_events(reader, executor, obj, cursor.events - OVERLAP_SECONDS, progress, fresh)
    progress.cursor = newest
    return Cursor(created=newest, events=now if obj.event_types else None)


def _needs_full_reload(obj: StripeObject, cursor: Cursor | None, now: int) -> bool:
    if cursor is None or (cursor.created is None and cursor.events is None):
        return True
    if not obj.event_types:
        return False  # objects that never change need only the created cursor
    return cursor.events is None or cursor.events < now - EVENT_RETENTION_SECONDS + RETENTION_MARGIN_SECONDS


@dataclass(frozen=True)
class _ListedBefore:
    ids: set[str]
    at: int

    def covers(self, object_id: str, changed_at: int) -> bool:
        return object_id in self.ids and changed_at < self.at


def _apply_events(
    reader: StripeReader,
    executor: ThreadPoolExecutor,
    obj: StripeObject,
    since: int,
    progress: ObjectProgress,
    fresh: _ListedBefore,
) -> Iterator[Batch]:
    # The newest event per object decides: deleted, or changed (re-fetched).
    latest: dict[str, _Change] = {}
    for query in _event_queries(obj.event_types + tuple(p for p, _ in obj.related_events)):
        for page in list_all(reader, executor, "/v1/events", {**query, "created[gte]": since}, sliced=False):
            for event in page:
                object_id = _changed_id(obj, event)
                seen = latest.get(object_id) if object_id else None
                if object_id and (seen is None or event["created"] >= seen.created):
                    latest[object_id] = _Change.of(obj, event)
    deleted = [change.last_state() for change in latest.values() if change.deletion]
    changed = [i for i, change in latest.items() if not change.deletion and not fresh.covers(i, change.created)]
    if deleted:
        progress.deleted += len(deleted)
        yield Batch(reader.account_id, deleted, deleted=True)

    refetched: Page = []
    gone: Page = []
    retrievals = run_chains(executor, [_retrieve(reader, obj, i, latest.pop(i)) for i in changed])
    for page in chain(retrievals, [None]):  # None: the end, to flush what is left
        for item in page or ():
            (gone if item.get("deleted") else refetched).append(item)
        # Written a page's worth at a time, so thousands of changes are not held in memory at once.
        if refetched and (page is None or len(refetched) >= PAGE_SIZE):
            progress.refetched += len(refetched)
            yield Batch(reader.account_id, refetched)
            refetched = []
        if gone and (page is None or len(gone) >= PAGE_SIZE):
            progress.deleted += len(gone)
            yield Batch(reader.account_id, gone, deleted=True)
            gone = []


@dataclass(frozen=True)
class _Change:
    """The newest event about one object, kept small (a page's events would otherwise stay in memory until
    every change is re-fetched): when, whether it deleted the object, and the object as the event showed
    it, as compact JSON: the last state of an object deleted meanwhile."""

    created: int
    deletion: bool
    object_json: str

    @classmethod
    def of(cls, obj: StripeObject, event: Any) -> _Change:
        return cls(event["created"], _is_deletion(obj, event), object_json(event["data"]["object"]))

    def last_state(self, **marks: Any) -> dict[str, Any]:
        return {**orjson.loads(self.object_json), **marks}


def _changed_id(obj: StripeObject, event: dict[str, Any]) -> str | None:
    """The id of our object an event changed, if it changed one."""
    data = event["data"]["object"]
    if data.get("object") == obj.object_type:
        return data.get("id")
    for pattern, field in obj.related_events:
        if fnmatch(event["type"], pattern) and isinstance(data.get(field), str):
            return data[field]
    return None


def _is_deletion(obj: StripeObject, event: dict[str, Any]) -> bool:
    data = event["data"]["object"]
    return obj.deletable and event["type"].endswith(".deleted") and data.get("object") == obj.object_type


def _retrieve(reader: StripeReader, obj: StripeObject, object_id: str, change: _Change) -> Iterator[Page]:
    try:
        found = reader.get(obj.retrieve_path.format(id=object_id), _expand(obj.retrieve_expand, "expand"))
    except StripeNotFoundError:
        if not obj.deletable:
            raise
        # Deleted after the event: keep the last state Stripe showed, marked deleted.
        found = change.last_state(deleted=True)
    if found.get("deleted") and len(found) <= 3:
        # Stripe's deleted stub ({id, object, deleted}); the event holds the last full state.
        found = change.last_state(deleted=True)
    yield [found]


def _event_queries(patterns: tuple[str, ...]) -> list[dict[str, Any]]:
    wildcards = [{"type": p} for p in patterns if "*" in p]
    exact = [p for p in patterns if "*" not in p]
    batches = [exact[i : i + MAX_EVENT_TYPES_PER_REQUEST] for i in range(0, len(exact), MAX_EVENT_TYPES_PER_REQUEST)]
    return wildcards + [_expand(batch, "types") for batch in batches]


def _expand(values: tuple[str, ...] | list[str], name: str) -> dict[str, Any]:
    # The SDK encodes a list parameter as name[0]=…&name[1]=…, which Stripe reads as an array.
    return {name: list(values)} if values else {}
