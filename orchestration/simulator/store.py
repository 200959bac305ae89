"""The list/retrieve engine: Stripe's list semantics over one account's objects.

Each collection keeps its objects' `(created, id)` keys sorted ascending, so "newest first" walks the
list backwards, `created` ranges and cursors are bisections, and a page costs O(log n + page size) even
at hundreds of thousands of objects. Equality filters (`customer=`, `status=`) are answered from
per-field indexes of the same sorted keys, built on first use; when a request combines filters, the
most selective index is walked and the others are checked per object.

Objects can be added, replaced and deleted at runtime (`put`, `delete`), optionally with the event
that announces the change; every public method holds the store's lock, so a test thread can mutate an
account while the server thread pages through it.
"""

from __future__ import annotations

import heapq
import secrets
import threading
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from orchestration.simulator.errors import no_such, unrecognized_url
from orchestration.simulator.listing import LIST_SPECS, Filter, ListQuery, ListSpec, Match, matches_value, parse_query
from orchestration.simulator.templates import API_VERSION, build

if TYPE_CHECKING:
    from orchestration.simulator.account import SimulatedAccount

Key = tuple[Any, str]
"""(sort field value, id): the order of a collection, ascending."""


class Collection:
    """The objects of one list endpoint, sorted and indexed."""

    def __init__(self, spec: ListSpec, objects: Iterable[dict[str, Any]]) -> None:
        self.spec = spec
        self.objects: dict[str, dict[str, Any]] = {obj["id"]: obj for obj in objects}
        self.keys: list[Key] = sorted(self._key(obj) for obj in self.objects.values())
        self.deleted: dict[str, Key] = {}
        """Keys of deleted objects: a cursor on an object deleted between two pages still works."""
        self._filters: dict[str, Filter] = {f.field: f for f in spec.filters}
        self._indexes: dict[str, dict[Hashable, list[Key]]] = {}
        self._unions: dict[tuple[str, frozenset[Hashable]], list[Key]] = {}

    def _key(self, obj: dict[str, Any]) -> Key:
        return (obj[self.spec.sort_field], obj["id"])

    # Reading.

    def page(self, query: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        """One page of `query`, newest first, and whether more objects lie beyond it."""
        keys, accept, low, high = self._scope(query)
        limit = query.limit
        found: list[dict[str, Any]] = []
        if query.ending_before is not None:
            position = max(low, bisect_right(keys, self._cursor(query.ending_before, "ending_before")))
            for obj in self._walk(keys, range(position, high), accept):
                found.append(obj)
                if len(found) > limit:
                    break
            return list(reversed(found[:limit])), len(found) > limit
        if query.starting_after is not None:
            high = min(high, bisect_left(keys, self._cursor(query.starting_after, "starting_after")))
        for obj in self._walk(keys, range(high - 1, low - 1, -1), accept):
            found.append(obj)
            if len(found) > limit:
                break
        return found[:limit], len(found) > limit

    def select(self, query: ListQuery) -> list[dict[str, Any]]:
        """Every object `query` matches (all pages), newest first."""
        keys, accept, low, high = self._scope(query)
        return list(self._walk(keys, range(high - 1, low - 1, -1), accept))

    def _scope(self, query: ListQuery) -> tuple[list[Key], dict[str, Match], int, int]:
        keys, residual = self._candidates(query.matches)
        low = 0 if query.created_min is None else bisect_left(keys, (query.created_min,))
        high = len(keys) if query.created_max is None else bisect_left(keys, (query.created_max + 1,))
        return keys, residual, low, high

    def _walk(self, keys: list[Key], positions: range, residual: dict[str, Match]) -> Iterator[dict[str, Any]]:
        objects = self.objects
        checks = [(self._filters[field].values, match) for field, match in residual.items()]
        for position in positions:
            obj = objects[keys[position][1]]
            if all(any(matches_value(match, value) for value in values(obj)) for values, match in checks):
                yield obj

    def _cursor(self, object_id: str, param: str) -> Key:
        obj = self.objects.get(object_id)
        if obj is not None:
            return self._key(obj)
        if object_id in self.deleted:
            return self.deleted[object_id]
        raise no_such(self.spec.object, object_id, param, status=400)

    def _candidates(self, matches: dict[str, Match]) -> tuple[list[Key], dict[str, Match]]:
        """The smallest sorted key list that contains every match, and the filters left to check."""
        if not matches:
            return self.keys, {}
        best: tuple[int, str, list[list[Key]], frozenset[Hashable]] | None = None
        for field, match in matches.items():
            index = self._index(field)
            values = match if isinstance(match, frozenset) else frozenset(v for v in index if match(v))
            lists = [index[value] for value in values if value in index]
            size = sum(len(keys) for keys in lists)
            if best is None or size < best[0]:
                best = (size, field, lists, values)
        assert best is not None
        _, field, lists, values = best
        residual = {name: match for name, match in matches.items() if name != field}
        if len(lists) <= 1:
            return (lists[0] if lists else []), residual
        cache_key = (field, values)
        if cache_key not in self._unions:
            self._unions[cache_key] = list(_unique(heapq.merge(*lists)))
        return self._unions[cache_key], residual

    def _index(self, field: str) -> dict[Hashable, list[Key]]:
        index = self._indexes.get(field)
        if index is None:
            values = self._filters[field].values
            index = {}
            for key in self.keys:
                for value in values(self.objects[key[1]]):
                    index.setdefault(value, []).append(key)
            self._indexes[field] = index
        return index

    # Writing.

    def put(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Adds `obj` or replaces the object with its id; returns the replaced object."""
        previous = self.objects.get(obj["id"])
        if previous is not None:
            self._unindex(previous)
        self.objects[obj["id"]] = obj
        self.deleted.pop(obj["id"], None)
        key = self._key(obj)
        insort(self.keys, key)
        for field, index in self._indexes.items():
            for value in self._filters[field].values(obj):
                insort(index.setdefault(value, []), key)
        self._unions.clear()
        return previous

    def delete(self, object_id: str) -> dict[str, Any]:
        obj = self.objects.pop(object_id)
        self._unindex(obj)
        self.deleted[object_id] = self._key(obj)
        self._unions.clear()
        return obj

    def _unindex(self, obj: dict[str, Any]) -> None:
        key = self._key(obj)
        _remove(self.keys, key)
        for field, index in self._indexes.items():
            for value in self._filters[field].values(obj):
                _remove(index[value], key)


class AccountStore:
    """Thread-safe list/retrieve/mutate access to every collection of one account."""

    def __init__(self, account: SimulatedAccount) -> None:
        self.account = account
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._lines: dict[str, list[dict[str, Any]]] | None = None

    def collection(self, name: str) -> Collection:
        """The sorted, indexed collection of list `name`, built on first use (a server starts at once)."""
        with self._lock:
            collection = self._collections.get(name)
            if collection is None:
                spec = LIST_SPECS.get(name)
                if spec is None or name == "accounts":
                    raise unrecognized_url("GET", f"/v1/{name}")
                collection = Collection(spec, self.account.objects.get(name, ()))
                self._collections[name] = collection
            return collection

    def list(self, name: str, params: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """The body of `GET /v1/<name>?<params>`; raises `StripeError` like Stripe would."""
        collection = self.collection(name)
        query = parse_query(collection.spec, params)
        with self._lock:
            data, has_more = collection.page(query)
        return {"object": "list", "data": data, "has_more": has_more, "url": collection.spec.path}

    def select(self, name: str, params: Iterable[tuple[str, str]] = ()) -> list[dict[str, Any]]:
        """Everything `GET /v1/<name>?<params>` returns across all its pages, newest first."""
        collection = self.collection(name)
        query = parse_query(collection.spec, params)
        with self._lock:
            return collection.select(query)

    def retrieve(self, name: str, object_id: str) -> dict[str, Any]:
        """The body of `GET /v1/<name>/<id>`: the object, a deleted stub, or a 404 `resource_missing`."""
        collection = self.collection(name)
        with self._lock:
            obj = collection.objects.get(object_id)
            if obj is not None:
                return obj
            if object_id in collection.deleted and collection.spec.deleted_stub:
                return {"id": object_id, "object": collection.spec.object, "deleted": True}
        raise no_such(collection.spec.object, object_id, "id")

    def invoice_lines(self, invoice_id: str, params: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """The body of `GET /v1/invoices/<id>/lines`: the invoice's lines in invoice order, paged."""
        self.retrieve("invoices", invoice_id)
        query = parse_query(LIST_SPECS["invoice_line_items"], params)
        with self._lock:
            lines = self._lines_by_invoice().get(invoice_id, [])
            positions = {line["id"]: position for position, line in enumerate(lines)}
            start, end = 0, len(lines)
            for cursor, param in ((query.starting_after, "starting_after"), (query.ending_before, "ending_before")):
                if cursor is not None and cursor not in positions:
                    raise no_such("line_item", cursor, param, status=400)
            if query.ending_before is not None:
                end = positions[query.ending_before]
                start = max(0, end - query.limit)
                data, has_more = lines[start:end], start > 0
            else:
                if query.starting_after is not None:
                    start = positions[query.starting_after] + 1
                data, has_more = lines[start : start + query.limit], start + query.limit < end
        return {"object": "list", "data": data, "has_more": has_more, "url": f"/v1/invoices/{invoice_id}/lines"}

    def _lines_by_invoice(self) -> dict[str, list[dict[str, Any]]]:
        if self._lines is None:
            grouped: dict[str, list[dict[str, Any]]] = {}
            for line in self.account.objects.get("invoice_line_items", ()):
                grouped.setdefault(line["invoice"], []).append(line)
            self._lines = grouped
        return self._lines

    def put(self, name: str, obj: dict[str, Any], event_type: str | None = None, at: int | None = None) -> None:
        """Adds or replaces an object (keeping `account.objects` in step) and, given `event_type`,
        records the event announcing it with the object as `data.object`."""
        with self._lock:
            previous = self.collection(name).put(obj)
            objects = self.account.objects.setdefault(name, [])
            if previous is None:
                objects.append(obj)
            else:
                objects[_position(objects, previous)] = obj
            if name == "invoice_line_items":
                self._lines = None
            if event_type is not None:
                self._record_event(event_type, obj, at)

    def delete(self, name: str, object_id: str, event_type: str | None = None, at: int | None = None) -> None:
        """Deletes an object; retrieving a deleted customer then answers `{"deleted": true}`."""
        with self._lock:
            obj = self.collection(name).delete(object_id)
            objects = self.account.objects[name]
            del objects[_position(objects, obj)]
            if event_type is not None:
                self._record_event(event_type, obj, at)

    def _record_event(self, event_type: str, obj: dict[str, Any], at: int | None) -> None:
        created = int(time.time()) if at is None else at
        event = build(
            "event",
            id="evt_1" + secrets.token_hex(12),
            api_version=API_VERSION,
            created=created,
            data={"object": obj},
            pending_webhooks=0,
            request={"id": None, "idempotency_key": None},
            type=event_type,
        )
        self.put("events", event)


def _unique(keys: Iterable[Key]) -> Iterator[Key]:
    """Sorted keys without repeats (an object indexed under two matching values appears twice)."""
    previous = None
    for key in keys:
        if key != previous:
            yield key
            previous = key


def _remove(keys: list[Key], key: Key) -> None:
    position = bisect_left(keys, key)
    if position < len(keys) and keys[position] == key:
        del keys[position]


def _position(objects: list[dict[str, Any]], obj: dict[str, Any]) -> int:
    return next(index for index, candidate in enumerate(objects) if candidate is obj)
