"""The raw row layout: typed keys plus the whole Stripe object, as Arrow tables.

Yielding Arrow tables lets dlt skip its row-by-row normalizer (about ten times faster for Stripe objects),
and keeping the object as JSON text keeps every field Stripe sends without dlt exploding nested objects
into hundreds of child tables. The dbt staging models extract and type the fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from orchestration.ingest.lazy_json import object_json

RAW_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        # The object's id; for a child list keyed by parent (a payout's balance transactions), `<parent>:<id>`.
        pa.field("id", pa.string(), nullable=False),
        pa.field("created", pa.int64()),
        # For rows of a child list (invoice lines, credit note lines, subscription items): the parent's id,
        # which some child objects (credit note lines) do not carry themselves.
        pa.field("parent_id", pa.string()),
        pa.field("is_deleted", pa.bool_(), nullable=False),
        pa.field("synced_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("object_json", pa.string(), nullable=False),
    ]
)

PRIMARY_KEY = ("account_id", "id")


def raw_table(
    account_id: str,
    objects: Sequence[dict[str, Any]],
    synced_at: datetime,
    parent_id: str | None = None,
    *,
    deleted: bool = False,
    created_field: str = "created",
    keyed_by_parent: bool = False,
) -> pa.Table:
    """One page of Stripe objects as raw rows of one account; `deleted` marks them all deleted.

    `keyed_by_parent`: each row's id is `<parent_id>:<object id>`, for children that more than one parent
    may list (`ChildList.keyed_by_parent`)."""
    n = len(objects := list(objects))  # a lazy array makes new proxies at each pass
    prefix = f"{parent_id}:" if keyed_by_parent else ""
    # One pass, each object's fields read once: a lazy object's field lookup scans its keys.
    ids, created, is_deleted, texts = [], [], [], []
    for obj in objects:
        text = object_json(obj)
        ids.append(prefix + obj["id"])
        created.append(obj.get(created_field))
        # Only Stripe's deleted stubs say `"deleted":true` at the top level: the text search (C speed) spares
        # the key scan for every other object, whose lookup of an absent key reads all of its keys.
        is_deleted.append(deleted or ('"deleted":true' in text and bool(obj.get("deleted", False))))
        texts.append(text)
    return pa.Table.from_arrays(
        [
            pa.repeat(pa.scalar(account_id, pa.string()), n),
            pa.array(ids, pa.string()),
            pa.array(created, pa.int64()),
            pa.repeat(pa.scalar(parent_id, pa.string()), n),
            pa.array(is_deleted, pa.bool_()),
            pa.repeat(pa.scalar(synced_at, pa.timestamp("us", tz="UTC")), n),
            pa.array(texts, pa.string()),
        ],
        schema=RAW_SCHEMA,
    )
