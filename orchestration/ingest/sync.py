"""What to read for one object of one account: everything, or only what changed since the cursor.

- First sync (no cursor): the whole list.
- Later syncs: what the account's events (`events`, read once per account and shared by its objects) say
  changed since the events cursor, each object re-fetched from its retrieve endpoint, because an event's
  payload is rendered in the API version of its time and carries no expansions; deletions become rows with
  `is_deleted`. Then the objects created since the `created` cursor, listed only if an event announced a
  new one (for the types Stripe always announces; the others are always listed).
- Events are eventually consistent, so every read starts a minute before the cursor; the merge on
  (account_id, id) makes the overlap harmless.
- Stripe keeps events for 30 days: an events cursor older than that cannot see every change, so the
  object is reloaded in full instead, and the log says so.
- Each object is written at most once per sync (deleted, listed, or re-fetched), so a load holds no key
  twice and its merge needs no deduplication.
The new cursor is handed back, not stored (`ObjectRead.cursor`, once its batches are read): the caller saves
it only once the rows it covers are yielded, and dlt commits its state with the load, so a sync that dies
half way re-reads instead of skipping.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain
from typing import Any

from orchestration.ingest.client import PAGE_SIZE, StripeNotFoundError, StripeReader
from orchestration.ingest.events import AccountEvents, Change, Windows
from orchestration.ingest.fetch import Page, list_all, run_chains
from orchestration.stripe_objects import STRIPE_OBJECTS, StripeObject
from orchestration.sync_report import ObjectProgress

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 60
EVENT_RETENTION_SECONDS = 30 * 24 * 3600
# Margin for the clock difference between here and Stripe, and for the time a sync takes.
RETENTION_MARGIN_SECONDS = 3600


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
        events: AccountEvents | None = None,
        full: bool = False,
    ) -> None:
        self._batches = _read(reader, executor, obj, cursor, now, progress, events=events, full=full)
        self._cursor: Cursor | None = None

    def __iter__(self) -> Iterator[Batch]:
        self._cursor = yield from self._batches

    @property
    def cursor(self) -> Cursor:
        if self._cursor is None:
            raise RuntimeError("the cursor is known only once every batch has been read")
        return self._cursor


def event_windows(cursors: dict[str, Cursor | None], now: int, *, full: bool = False) -> Windows:
    """Per object read incrementally that learns from events, the first second whose events it needs.

    An object's changes are the events since its events cursor, less the overlap. So are its creations:
    each sync lists the new objects, or saw no creation event, from the last sync's start less the overlap,
    so together they cover every second since the object was first read, whatever the created cursor. (A
    cursor saved before events cursors were kept for the events table falls back on its created cursor.)
    """
    if full:
        return {}
    windows: Windows = {}
    for obj in STRIPE_OBJECTS:
        cursor = cursors.get(obj.table)
        if (obj.event_types or obj.creation_events) and not needs_full_reload(obj, cursor, now):
            assert cursor is not None  # no cursor needs a full reload
            since = cursor.events if cursor.events is not None else cursor.created
            if since is not None:
                windows[obj.table] = max(0, since - OVERLAP_SECONDS)
    return windows


def _read(
    reader: StripeReader,
    executor: ThreadPoolExecutor,
    obj: StripeObject,
    cursor: Cursor | None,
    now: int,
    progress: ObjectProgress,
    *,
    events: AccountEvents | None,
    full: bool = False,
) -> Generator[Batch, None, Cursor]:
    """The batches to write, returning the new cursor. `full` reloads whatever the cursor.

    An incremental read takes its changes from the account's events before it lists anything: every
    event it knows of came before its list, so an object listed is at least as new as its events say and
    is not re-fetched. Each object is so written once per sync: deleted, listed, or re-fetched.
    """
    newest = cursor.created if cursor else None
    changes: dict[str, Change] = {}
    list_new = True
    if full or needs_full_reload(obj, cursor, now):
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
        if obj.event_types or obj.creation_events:
            if events is None:
                raise ValueError(f"{obj.table} is read from its events: pass the account's events")
            changes = events.changes(obj) if obj.event_types else {}
            # Not listed when no event announced a new one since the last sync.
            list_new = not obj.creation_events or events.announced_creation(obj)
            if not list_new:
                log.debug("%s of %s: no new object announced, not listed", obj.table, reader.account_id)

    # Deletions first, and for good: Stripe does not bring a deleted object back, so one the list still
    # shows (lists lag behind) is written deleted, once.
    deleted = {i: change for i, change in changes.items() if change.deletion}
    if deleted:
        progress.deleted += len(deleted)
        yield Batch(reader.account_id, [change.last_state() for change in deleted.values()], deleted=True)

    # Ids listed this sync, where a list could show one twice: an incremental list, to re-fetch only the
    # others, and the passes of an object (active, then inactive) that may change in between.
    listed: set[str] | None = set() if created_since is not None or len(obj.passes) > 1 else None
    for params in obj.passes if list_new else ():
        query = {**params, **_expand(obj.expand, "expand")}
        if created_since is not None:
            query["created[gte]"] = created_since
        for page in list_all(
            reader, executor, obj.list_path, query, sliced=created_since is None, created_field=obj.created_field
        ):
            if listed is not None:
                page = [o for o in page if o["id"] not in listed and o["id"] not in deleted]
                listed.update(o["id"] for o in page)
            if page:
                newest = max(newest or 0, max(o.get(obj.created_field) or 0 for o in page))
                progress.rows += len(page)
                progress.pages += 1
                yield Batch(reader.account_id, page)

    changed = [(i, change) for i, change in changes.items() if not change.deletion and i not in (listed or ())]
    del changes, deleted
    if changed:
        yield from _refetch(reader, executor, obj, changed, progress)
    progress.cursor = newest
    # The events table has an events cursor too: where the next sync's look for new events starts.
    return Cursor(created=newest, events=now if obj.event_types or obj.creation_events else None)


def needs_full_reload(obj: StripeObject, cursor: Cursor | None, now: int) -> bool:
    """Whether `obj`, last read up to `cursor`, is read in full now: never read, or its events expired."""
    if cursor is None or (cursor.created is None and cursor.events is None):
        return True
    if not obj.event_types:
        return False  # objects that never change need only the created cursor
    return cursor.events is None or cursor.events < now - EVENT_RETENTION_SECONDS + RETENTION_MARGIN_SECONDS


def _refetch(
    reader: StripeReader,
    executor: ThreadPoolExecutor,
    obj: StripeObject,
    changed: list[tuple[str, Change]],
    progress: ObjectProgress,
) -> Iterator[Batch]:
    """The changed objects, each re-fetched from its retrieve endpoint (an event's payload is in the API
    version of its time and carries no expansions)."""
    refetched: Page = []
    gone: Page = []
    retrievals = run_chains(executor, [_retrieve(reader, obj, i, change) for i, change in changed])
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


def _retrieve(reader: StripeReader, obj: StripeObject, object_id: str, change: Change) -> Iterator[Page]:
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


def _expand(values: tuple[str, ...] | list[str], name: str) -> dict[str, Any]:
    # The SDK encodes a list parameter as name[0]=…&name[1]=…, which Stripe reads as an array.
    return {name: list(values)} if values else {}
