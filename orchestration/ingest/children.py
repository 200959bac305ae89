"""The rows of an object's child tables: lists embedded in the parent (invoice lines, subscription items,
credit note lines) with the pages beyond the embedded one, and objects named inside the parent or its child
rows (discounts), each read once per parent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from orchestration.ingest.client import StripeReader
from orchestration.ingest.context import SyncContext
from orchestration.ingest.fetch import run_chains
from orchestration.ingest.lazy_json import is_array, is_object
from orchestration.stripe_objects import ChildList, EmbeddedObjects


def child_rows(
    child: ChildList | EmbeddedObjects,
    parents: list[dict[str, Any]],
    reader: StripeReader,
    context: SyncContext,
    read: dict[str, list[tuple[str, list[Any]]]],
):
    """(parent id, children) for each parent: the embedded first page, then the pages beyond it; for objects
    embedded in the parent, those found in it and in the rows of the child list already `read`."""
    if isinstance(child, EmbeddedObjects):
        rows_by_parent: dict[str, list[Any]] = {}
        if child.in_child_rows:
            for parent_id, children in read[child.in_child_rows[0]]:
                rows_by_parent.setdefault(parent_id, []).extend(children)
        for parent in parents:
            found = [obj for path in child.paths for obj in _objects_at(parent, path)]
            if child.in_child_rows:
                path = child.in_child_rows[1]
                found += [obj for row in rows_by_parent.get(parent["id"], []) for obj in _objects_at(row, path)]
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
