"""Rows Stripe no longer lists, found in the warehouse after a full reload: the loader's side of deletion
detection, for objects whose deletion no event reported."""

from __future__ import annotations

from collections.abc import Iterator

import dlt
import orjson

from orchestration.ingest.sync import Batch
from orchestration.stripe_objects import StripeObject


def vanished_rows(obj: StripeObject, account: str, seen: set[str], progress) -> Iterator[Batch]:
    """After a full reload that replaced an incremental history: rows Stripe no longer lists were deleted
    while no event could tell us; they are kept with their last known state, marked deleted."""
    with dlt.current.pipeline().sql_client() as client:
        table = client.make_qualified_table_name(obj.table)
        rows = client.execute_sql(f"select object_json from {table} where account_id = %s and not is_deleted", account)
    gone = [obj_json for (obj_json,) in rows or [] if orjson.loads(obj_json)["id"] not in seen]
    if gone:
        progress.deleted += len(gone)
        yield Batch(account, [orjson.loads(o) for o in gone], deleted=True)
