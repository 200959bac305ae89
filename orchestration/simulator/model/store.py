"""The list/retrieve engine: Stripe's list semantics over one account's objects.

Each collection keeps its objects' `(created, id)` keys sorted ascending, so "newest first" walks the
list backwards, `created` ranges and cursors are bisections, and a page costs O(log n + page size) even
at hundreds of thousands of objects. Equality filters (`customer=`, `status=`) are answered from
per-field indexes of the same sorted keys, built on first use; when a request combines filters, the
most selective index is walked and the others are checked per object.

Objects can be added, replaced and deleted at runtime (`put`, `delete`), optionally with the event
that announces the change; every public method holds the store's lock, so a test thread can mutate an
account while the server thread pages through it. Events older than 30 days before the account's clock
(`SimulatedAccount.now`) are neither listed nor retrievable, as on Stripe.
"""

from __future__ import annotations

import builtins
import heapq
import secrets
import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from orchestration.simulator.errors import no_such, unrecognized_url
from orchestration.simulator.model.expansion import expanded, requested
from orchestration.simulator.model.listing import (
    LIST_SPECS,
    Filter,
    ListQuery,
    ListSpec,
    Match,
    matches_value,
    parse_query,
)
from orchestration.simulator.templates import API_VERSION, build

if TYPE_CHECKING:
    from orchestration.simulator.model.account import SimulatedAccount

Key = tuple[Any, str]
"""(sort field value, id): the order of a collection, ascending."""
Values = Callable[[dict[str, Any]], Iterable[Hashable]]
"""An object → the index values of one filter's field."""


class HiddenFields:
    """The hidden fields (`ListSpec.hidden_fields`) of one list's objects, by id: a view of
    `SimulatedAccount.hidden_fields[name]`, which holds no entry for the list until it has one."""

    def __init__(self, fields: dict[str, dict[str, dict[str, Any]]], name: str) -> None:
        self._fields = fields
        self._name = name

    def of(self, object_id: str) -> dict[str, Any]:
        return self._fields.get(self._name, {}).get(object_id, {})

    def update(self, object_id: str, values: dict[str, Any]) -> None:
        self._fields.setdefault(self._name, {}).setdefault(object_id, {}).update(values)


class Collection:
    """The objects of one list endpoint, sorted and indexed."""

    def __init__(self, spec: ListSpec, objects: Iterable[dict[str, Any]], hidden: HiddenFields | None = None) -> None:
        self.spec = spec
        self.hidden = hidden or HiddenFields({}, spec.name)
        """What filters on hidden fields (`Filter.hidden`) read."""
        self.objects: dict[str, dict[str, Any]] = {obj["id"]: obj for obj in objects}
        self._json: dict[str, bytes] = {}
        """Each served object's JSON, encoded on first use and dropped when the object changes."""
        self.keys: list[Key] = sorted(self._key(obj) for obj in self.objects.values())
        self.deleted: dict[str, Key] = {}
        """Keys of deleted objects: a cursor on an object deleted between two pages still works."""
        self._filters: dict[str, Filter] = {f.field: f for f in spec.filters}
        self._indexes: dict[str, dict[Hashable, list[Key]]] = {}
        self._unions: dict[tuple[str, frozenset[Hashable]], list[Key]] = {}

    def _key(self, obj: dict[str, Any]) -> Key:
        return (obj[self.spec.sort_field], obj["id"])

    def json_of(self, obj: dict[str, Any]) -> bytes:
        """The JSON of `obj`, one of this collection's current objects."""
        encoded = self._json.get(obj["id"])
        if encoded is None:
            encoded = self._json[obj["id"]] = _encode(obj)
        return encoded

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
        checks = [(self._values(field), match) for field, match in residual.items()]
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
            values = self._values(field)
            index = {}
            for key in self.keys:
                for value in values(self.objects[key[1]]):
                    index.setdefault(value, []).append(key)
            self._indexes[field] = index
        return index

    def _values(self, field: str) -> Values:
        """How to read the index values of `field` from an object: from the object itself, or for a filter
        on a hidden field from the object's hidden fields."""
        flt = self._filters[field]
        if not flt.hidden:
            return flt.values
        return lambda obj: flt.values(self.hidden.of(obj["id"]))

    # Writing.

    def put(self, obj: dict[str, Any], hidden: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Adds `obj` or replaces the object with its id, with `hidden` fields to add to its hidden ones;
        returns the replaced object."""
        previous = self.objects.get(obj["id"])
        if previous is not None:
            self._unindex(previous)  # under the hidden fields it was indexed with
        if hidden:
            self.hidden.update(obj["id"], hidden)
        self.objects[obj["id"]] = obj
        self._json.pop(obj["id"], None)
        self.deleted.pop(obj["id"], None)
        key = self._key(obj)
        insort(self.keys, key)
        for field, index in self._indexes.items():
            for value in self._values(field)(obj):
                insort(index.setdefault(value, []), key)
        self._unions.clear()
        return previous

    def delete(self, object_id: str) -> dict[str, Any]:
        obj = self.objects.pop(object_id)
        self._json.pop(object_id, None)
        self._unindex(obj)
        self.deleted[object_id] = self._key(obj)
        self._unions.clear()
        return obj

    def _unindex(self, obj: dict[str, Any]) -> None:
        key = self._key(obj)
        _remove(self.keys, key)
        for field, index in self._indexes.items():
            for value in self._values(field)(obj):
                _remove(index[value], key)


class AccountStore:
    """Thread-safe list/retrieve/mutate access to every collection of one account.

    Reads come in two forms: Python objects (`list`, `retrieve`, `select`), and the JSON bodies the
    server sends (`list_json`, `retrieve_json`, `lines_json`), assembled from each object's JSON
    encoded once and cached until the object changes, so a page costs a join, not a serialization.
    """

    def __init__(self, account: SimulatedAccount) -> None:
        self.account = account
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._children: dict[str, dict[str, list[dict[str, Any]]]] = {}
        """Per child list (`invoice_line_items`), its objects grouped by parent id, in order."""
        self._positions: dict[str, dict[str, int]] = {}
        """Per list, each object's index in `account.objects[name]`, so replacing one is not a scan."""

    def collection(self, name: str) -> Collection:
        """The sorted, indexed collection of list `name`, built on first use (a server starts at once)."""
        with self._lock:
            collection = self._collections.get(name)
            if collection is None:
                spec = LIST_SPECS.get(name)
                if spec is None or name == "accounts":
                    raise unrecognized_url("GET", f"/v1/{name}")
                collection = Collection(
                    spec, self.account.objects.get(name, ()), HiddenFields(self.account.hidden_fields, name)
                )
                self._collections[name] = collection
            return collection

    # Reading.

    def list(self, name: str, params: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """The body of `GET /v1/<name>?<params>`; raises `StripeError` like Stripe would."""
        return self._as_dict(self._list_page(name, params))

    def list_json(self, name: str, params: Iterable[tuple[str, str]]) -> bytes:
        """`list` as the JSON body the server sends."""
        return self._as_json(self._list_page(name, params))

    def select(self, name: str, params: Iterable[tuple[str, str]] = ()) -> builtins.list[dict[str, Any]]:
        """Everything `GET /v1/<name>?<params>` returns across all its pages, newest first."""
        collection = self.collection(name)
        query = parse_query(collection.spec, params)
        fields = requested(name, query.expand, in_list=True)
        with self._lock:
            self._retain(collection, query)
            return [self._expanded(name, obj, fields) or obj for obj in collection.select(query)]

    def retrieve(self, name: str, object_id: str, expand: Iterable[str] = ()) -> dict[str, Any]:
        """The body of `GET /v1/<name>/<id>`: the object, a deleted stub, or a 404 `resource_missing`."""
        with self._lock:
            obj, fields = self._find(name, object_id, expand)
            return self._expanded(name, obj, fields) or obj

    def retrieve_json(self, name: str, object_id: str, expand: Iterable[str] = ()) -> bytes:
        """`retrieve` as the JSON body the server sends."""
        with self._lock:
            obj, fields = self._find(name, object_id, expand)
            full = self._expanded(name, obj, fields)
            return _encode(full) if full is not None else self.collection(name).json_of(obj)

    def invoice_lines(self, invoice_id: str, params: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """The body of `GET /v1/invoices/<id>/lines`: the invoice's lines in invoice order, paged."""
        return self._as_dict(self._lines_page("invoices", invoice_id, params))

    def lines_json(self, parent: str, parent_id: str, params: Iterable[tuple[str, str]]) -> bytes:
        """The body of `GET /v1/<parent>/<id>/lines` (invoices, credit notes) as JSON."""
        return self._as_json(self._lines_page(parent, parent_id, params))

    def encode_all(self) -> None:
        """Encodes every object's JSON now rather than on first serve: a benchmark that times a sync
        calls it first, so it measures serving rather than the first pass's one-off encoding."""
        with self._lock:
            for name in self.account.objects:
                collection = self.collection(name)
                for obj in collection.objects.values():
                    collection.json_of(obj)

    def hidden(self, name: str, object_id: str) -> dict[str, Any]:
        """The fields of an object that its API form leaves out (`ListSpec.hidden_fields`)."""
        return self.account.hidden_fields.get(name, {}).get(object_id, {})

    def _list_page(self, name: str, params: Iterable[tuple[str, str]]) -> _Page:
        collection = self.collection(name)
        query = parse_query(collection.spec, params)
        with self._lock:
            self._retain(collection, query)
            data, has_more = collection.page(query)
        return _Page(name, data, has_more, collection.spec.path, requested(name, query.expand, in_list=True))

    def _lines_page(self, parent: str, parent_id: str, params: Iterable[tuple[str, str]]) -> _Page:
        name = _CHILD_LISTS[parent]
        self.retrieve(parent, parent_id)
        query = parse_query(LIST_SPECS[name], params)
        with self._lock:
            lines = self._children_of(name).get(parent_id, [])
            positions = {line["id"]: position for position, line in enumerate(lines)}
            start, end = 0, len(lines)
            for cursor, param in ((query.starting_after, "starting_after"), (query.ending_before, "ending_before")):
                if cursor is not None and cursor not in positions:
                    raise no_such(LIST_SPECS[name].object, cursor, param, status=400)
            if query.ending_before is not None:
                end = positions[query.ending_before]
                start = max(0, end - query.limit)
                data, has_more = lines[start:end], start > 0
            else:
                if query.starting_after is not None:
                    start = positions[query.starting_after] + 1
                data, has_more = lines[start : start + query.limit], start + query.limit < end
        url = f"/v1/{parent}/{parent_id}/lines"
        return _Page(name, data, has_more, url, requested(name, query.expand, in_list=True))

    def _find(self, name: str, object_id: str, expand: Iterable[str]) -> tuple[dict[str, Any], frozenset[str]]:
        """The object `GET /v1/<name>/<id>` returns, and the fields to expand in it."""
        collection = self.collection(name)
        spec = collection.spec
        obj = collection.objects.get(object_id)
        if obj is not None and (spec.retention is None or obj[spec.sort_field] >= self._horizon(spec.retention)):
            return obj, requested(name, expand, in_list=False)
        if obj is None and object_id in collection.deleted and spec.deleted_stub:
            return {"id": object_id, "object": spec.object, "deleted": True}, frozenset()
        raise no_such(spec.object, object_id, "id")

    def _expanded(self, name: str, obj: dict[str, Any], fields: frozenset[str]) -> dict[str, Any] | None:
        if not fields:
            return None
        return expanded(name, obj, fields, self._lookup, self.hidden)

    def _lookup(self, name: str, object_id: str) -> dict[str, Any] | None:
        return self.collection(name).objects.get(object_id)

    def _retain(self, collection: Collection, query: ListQuery) -> None:
        """Hides what the account no longer keeps (events older than 30 days before its clock); a cursor
        on such an object is unknown, as on Stripe: a sync whose cursor expired must start over."""
        spec = collection.spec
        if spec.retention is None:
            return
        horizon = self._horizon(spec.retention)
        query.created_min = horizon if query.created_min is None else max(query.created_min, horizon)
        for cursor, param in ((query.starting_after, "starting_after"), (query.ending_before, "ending_before")):
            obj = collection.objects.get(cursor) if cursor is not None else None
            if obj is not None and obj[spec.sort_field] < horizon:
                raise no_such(spec.object, obj["id"], param, status=400)

    def _horizon(self, retention: int) -> int:
        return self.account.current_time() - retention

    def _children_of(self, name: str) -> dict[str, builtins.list[dict[str, Any]]]:
        grouped = self._children.get(name)
        if grouped is None:
            grouped = {}
            parent_of = _PARENT_OF[name]
            for obj in self.account.objects.get(name, ()):
                grouped.setdefault(parent_of(obj, self.hidden(name, obj["id"])), []).append(obj)
            self._children[name] = grouped
        return grouped

    def _as_dict(self, page: _Page) -> dict[str, Any]:
        with self._lock:
            data = [self._expanded(page.name, obj, page.expand) or obj for obj in page.data]
        return {"object": "list", "data": data, "has_more": page.has_more, "url": page.url}

    def _as_json(self, page: _Page) -> bytes:
        collection = self.collection(page.name)
        with self._lock:
            parts = []
            for obj in page.data:
                full = self._expanded(page.name, obj, page.expand)
                parts.append(collection.json_of(obj) if full is None else _encode(full))
        more = b'],"has_more":true,"url":' if page.has_more else b'],"has_more":false,"url":'
        return b'{"object":"list","data":[' + b",".join(parts) + more + _encode(page.url) + b"}"

    # Writing.

    def put(self, name: str, obj: dict[str, Any], event_type: str | None = None, at: int | None = None) -> None:
        """Adds or replaces an object (keeping `account.objects` in step) and, given `event_type`,
        records the event announcing it with the object as `data.object` (at `at`, by default the
        account's clock).

        Hidden fields in `obj` (a price's `tiers`, a credit note line's `credit_note`) are kept apart
        from the API object; an object put without them keeps the ones it had.
        """
        spec = LIST_SPECS.get(name)
        hidden = {key: obj[key] for key in spec.hidden_fields if key in obj} if spec else {}
        if hidden:
            obj = {key: value for key, value in obj.items() if key not in hidden}
        with self._lock:
            previous = self.collection(name).put(obj, hidden)
            objects = self.account.objects.setdefault(name, [])
            if previous is None:
                self._positions_of(name)[obj["id"]] = len(objects)
                objects.append(obj)
            else:
                objects[self._positions_of(name)[obj["id"]]] = obj
            grouped = self._children.get(name)
            if grouped is not None:
                siblings = grouped.setdefault(_PARENT_OF[name](obj, self.hidden(name, obj["id"])), [])
                if previous is None:
                    siblings.append(obj)
                else:
                    siblings[siblings.index(previous)] = obj
            if event_type is not None:
                self._record_event(event_type, obj, at)

    def delete(self, name: str, object_id: str, event_type: str | None = None, at: int | None = None) -> None:
        """Deletes an object; retrieving a deleted customer then answers `{"deleted": true}`."""
        with self._lock:
            obj = self.collection(name).delete(object_id)
            grouped = self._children.get(name)
            if grouped is not None:
                grouped[_PARENT_OF[name](obj, self.hidden(name, object_id))].remove(obj)
            objects, positions = self.account.objects[name], self._positions_of(name)
            position = positions.pop(object_id)
            del objects[position]
            for index in range(position, len(objects)):  # the objects after it moved up by one
                positions[objects[index]["id"]] = index
            self.account.hidden_fields.get(name, {}).pop(object_id, None)
            if event_type is not None:
                self._record_event(event_type, obj, at)

    def _positions_of(self, name: str) -> dict[str, int]:
        positions = self._positions.get(name)
        if positions is None:
            positions = {obj["id"]: index for index, obj in enumerate(self.account.objects.get(name, ()))}
            self._positions[name] = positions
        return positions

    def _record_event(self, event_type: str, obj: dict[str, Any], at: int | None) -> None:
        created = self.account.current_time() if at is None else at
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


@dataclass(frozen=True, slots=True)
class _Page:
    name: str
    """The list its objects belong to."""
    data: list[dict[str, Any]]
    has_more: bool
    url: str
    expand: frozenset[str]


_CHILD_LISTS = {"invoices": "invoice_line_items", "credit_notes": "credit_note_line_items"}
"""Lists served only through their parent (`/v1/invoices/{id}/lines`), by parent list."""
_PARENT_OF: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "invoice_line_items": lambda line, _hidden: line["invoice"],
    "credit_note_line_items": lambda _line, hidden: hidden["credit_note"],
}
"""(object, its hidden fields) → its parent's id."""


def _encode(value: Any) -> bytes:
    # orjson (installed with dagster-dbt and dlt) encodes about three times faster than `json`, which
    # keeps a sync's first pass over an account, when no object's JSON is cached yet, cheap as well.
    return orjson.dumps(value)


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
