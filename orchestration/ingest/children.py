"""The rows of an object's child tables: lists embedded in the parent (invoice lines, subscription items,
credit note lines) with the pages beyond the embedded one, lists read whole from an endpoint filtered on the
parent (the balance transactions of a payout), and objects named inside the parent or its child rows
(discounts), each read once per parent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
    to_page: list[tuple[str, str | None]] = []
    for parent in parents:
        if child.listed_for is not None and not child.listed_for(parent):
            continue
        if child.embedded_field is None:
            to_page.append((parent["id"], None))  # nothing embedded: from the first page
            continue
        embedded = parent.get(child.embedded_field) or {}
        yield parent["id"], embedded.get("data", [])
        if embedded.get("has_more") and child.list_path:
            to_page.append((parent["id"], embedded["data"][-1]["id"]))
    yield from _pages_beyond(child, to_page, reader, context)


@dataclass
class FinalLists:
    """The parents of one account whose child list to read, for a list that is read once, when complete
    (`ChildList.final_when`: a reconciled payout's balance transactions): those whose list is complete, but
    not those whose list an earlier sync loaded.

    `through` comes from dlt's state, per account and table, and is saved with the load like the cursors:
    the list of every parent created up to it is loaded. Only a full read sees every parent, so only a full
    read moves it (`through_after_full_read`): to just before the oldest parent whose list is not complete
    yet, or else just before the newest parent (a parent of the same second may not have been listed yet).
    A later full read so re-reads only the lists of the last few parents, not every payout since the first.
    """

    child: ChildList
    through: int | None = None
    _oldest_open: int | None = None
    _newest: int | None = None

    def to_read(self, parents: list[Any]) -> list[Any]:
        """The parents, of a page of them, whose list to read now; notes the others for `through`."""
        final_when = self.child.final_when
        assert final_when is not None, f"{self.child.table} is read with its parent whenever it changes"
        selected = []
        for parent in parents:
            if self.child.listed_for is not None and not self.child.listed_for(parent):
                continue
            created = parent["created"]
            self._newest = created if self._newest is None else max(self._newest, created)
            if not final_when(parent):
                self._oldest_open = created if self._oldest_open is None else min(self._oldest_open, created)
            elif self.through is None or created > self.through:
                selected.append(parent)
        return selected

    def through_after_full_read(self) -> int | None:
        """`through` once a full read has seen every parent (each of whose complete lists it read)."""
        bounds = [moment for moment in (self._oldest_open, self._newest) if moment is not None]
        if not bounds:
            return self.through
        return max(self.through or 0, min(bounds) - 1)


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
    def chain(parent_id: str, after: str | None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        params: dict[str, Any] = {"starting_after": after} if after else {}
        if child.expand:
            # The SDK encodes a list parameter as expand[0]=…, which Stripe reads as an array.
            params["expand"] = list(child.expand)
        if child.parent_param:
            params[child.parent_param] = parent_id
        for page in reader.list_pages(str(child.list_path).format(parent_id=parent_id), params):
            if page:
                yield parent_id, page

    yield from run_chains(context.executor, [chain(p, a) for p, a in to_page])
