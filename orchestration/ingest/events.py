"""An account's events, read once per sync and shared by all its objects: what changed, and whether
anything new was created.

Each object's incremental read used to list its own events, one request or more per object type and
account even when nothing had happened. Here one read of `/v1/events` since the oldest point any object
needs serves them all: each object takes the changes to its own objects (`AccountEvents.changes`), and
learns whether an object of its type was created since its last sync (`AccountEvents.announced_creation`),
so a list with nothing new is not read at all.

The read is not filtered by type. Stripe's `types[]` takes up to 20 exact names and no wildcard, `type`
one wildcard pattern but not both ("An array of up to 20 strings containing specific event names ... You may
pass either type or types, but not both", https://docs.stripe.com/api/events/list): filtering needs the
exact name of every event type of every object, a list that would miss the types Stripe adds later. One
unfiltered read is a single request when nothing happened, sees every creation event, and tells the events
table too whether there is anything new; what it costs is the pages of event types no object reads, a share
of what the events table lists anyway.

It is read lazily, by whichever object of the account needs it first, once; a lock makes the other
objects of the account wait for it rather than read it again. Each object's share is kept compact (a
`Change` per object, the object's JSON only where a deletion may need its last state) until taken.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import orjson

from orchestration.ingest.client import StripeReader
from orchestration.ingest.fetch import list_all
from orchestration.ingest.lazy_json import object_json
from orchestration.stripe_objects import STRIPE_OBJECTS, StripeObject

log = logging.getLogger(__name__)

Windows = dict[str, int]
"""Per table, the first second whose events it needs (its cursor less the overlap)."""


@dataclass(frozen=True)
class Change:
    """The newest event about one object: when, whether it deleted the object, and, where it may be needed,
    the object as the event showed it (compact JSON): the last state of an object deleted."""

    created: int
    deletion: bool
    object_json: str | None

    def last_state(self, **marks: Any) -> dict[str, Any]:
        if self.object_json is None:
            raise RuntimeError("this change kept no state of its object")
        return {**orjson.loads(self.object_json), **marks}


class SharedEvents:
    """The events of each account of one sync, read at most once per account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, AccountEvents] = {}

    def of(self, reader: StripeReader, executor: ThreadPoolExecutor, windows: Callable[[], Windows]) -> AccountEvents:
        """The account's events; `windows` is asked once, when they are first needed."""
        with self._lock:
            account = self._accounts.get(reader.account_id)
            if account is None:
                account = self._accounts[reader.account_id] = AccountEvents(reader, executor, windows)
            return account


class AccountEvents:
    """One account's events since the oldest window of its objects, read on first use."""

    def __init__(self, reader: StripeReader, executor: ThreadPoolExecutor, windows: Callable[[], Windows]) -> None:
        self._reader = reader
        self._executor = executor
        self._plan = windows
        self._lock = threading.Lock()
        self._windows: Windows | None = None
        self._changes: dict[str, dict[str, Change]] = {}
        self._created: set[str] = set()
        self._taken: set[str] = set()

    def changes(self, obj: StripeObject) -> dict[str, Change]:
        """The newest change to each of the object's objects since its window; handed over, not kept."""
        self._ensure_read(obj)
        with self._lock:
            if obj.table in self._taken:
                raise RuntimeError(f"the changes to {obj.table} of {self._reader.account_id} were already taken")
            self._taken.add(obj.table)
            return self._changes.pop(obj.table, {})

    def announced_creation(self, obj: StripeObject) -> bool:
        """Whether an event since the object's window announces a new object of its type (for the events
        table: any event at all)."""
        self._ensure_read(obj)
        return obj.table in self._created

    def _ensure_read(self, obj: StripeObject) -> None:
        with self._lock:
            if self._windows is None:
                windows = self._plan()
                self._read(windows)
                self._windows = windows
            if obj.table not in self._windows:
                # Every object read incrementally has a window: one without is a bug, not a reason to miss changes.
                raise RuntimeError(f"{obj.table} of {self._reader.account_id} has no events window")

    def _read(self, windows: Windows) -> None:
        if not windows:
            return
        objects = [obj for obj in STRIPE_OBJECTS if obj.table in windows]
        matchers: dict[str, _Matcher] = {}
        since = min(windows.values())
        events = pages = 0
        for page in list_all(self._reader, self._executor, "/v1/events", {"created[gte]": since}, sliced=False):
            pages += 1
            for event in page:
                events += 1
                event_type = event["type"]
                matcher = matchers.get(event_type)
                if matcher is None:
                    matcher = matchers[event_type] = _Matcher.of(event_type, objects)
                self._apply(event, matcher, windows)
        log.info(
            "events of %s since %d: %d in %d pages; changes: %s; new objects announced: %s",
            self._reader.account_id, since, events, pages,
            ", ".join(f"{t} {len(c)}" for t, c in self._changes.items()) or "none",
            ", ".join(sorted(self._created)) or "none",
        )  # fmt: skip

    def _apply(self, event: Any, matcher: _Matcher, windows: Windows) -> None:
        created = event["created"]
        for table in matcher.creations:
            if created >= windows[table]:
                self._created.add(table)
        if not matcher.direct and not matcher.related:
            return
        data = event["data"]["object"]
        object_type = data.get("object")
        for obj in matcher.direct:
            if object_type == obj.object_type and created >= windows[obj.table]:
                deletion = obj.deletable and matcher.type.endswith(".deleted")
                # The event's state is kept where it may be the last one: a deletion, or a deletable object
                # that may be gone by the time it is re-fetched.
                self._record(obj, data.get("id"), created, deletion, data if obj.deletable else None)
        for obj, field_name in matcher.related:
            value = data.get(field_name)
            if object_type != obj.object_type and isinstance(value, str) and created >= windows[obj.table]:
                self._record(obj, value, created, False, None)

    def _record(self, obj: StripeObject, object_id: Any, created: int, deletion: bool, state: Any) -> None:
        if not isinstance(object_id, str):
            return  # an upcoming invoice's preview has no id: nothing to re-read
        changes = self._changes.setdefault(obj.table, {})
        seen = changes.get(object_id)
        # Events come newest first: an older event never replaces a newer one; of two in the same second, a
        # deletion wins, since Stripe deletes for good.
        if seen is None or created > seen.created or (created == seen.created and deletion and not seen.deletion):
            changes[object_id] = Change(created, deletion, None if state is None else object_json(state))


@dataclass
class _Matcher:
    """What events of one type mean for the account's objects, worked out once per type."""

    type: str
    creations: list[str] = field(default_factory=list)
    """Tables a new object of which this event type announces."""
    direct: list[StripeObject] = field(default_factory=list)
    """Objects this event type changes when its object is theirs."""
    related: list[tuple[StripeObject, str]] = field(default_factory=list)
    """(object, field of the event's object naming it): objects this event type changes through another."""

    @classmethod
    def of(cls, event_type: str, objects: list[StripeObject]) -> _Matcher:
        matcher = cls(event_type)
        for obj in objects:
            if any(fnmatchcase(event_type, p) for p in obj.creation_events):
                matcher.creations.append(obj.table)
            if any(fnmatchcase(event_type, p) for p in obj.event_types):
                matcher.direct.append(obj)
            matcher.related += [(obj, f) for p, f in obj.related_events if fnmatchcase(event_type, p)]
        return matcher
