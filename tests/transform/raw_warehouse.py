"""Writes `stripe_raw` tables in the ingester's layout into a DuckDB file, for the dbt tests.

The rows are made by the ingester's own `raw_table`, so the tests follow the layout the ingester writes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.ingest.raw_rows import RAW_SCHEMA, raw_table

# The seven tables of the walking skeleton, named by Stripe list endpoint.
RAW_TABLES = ("customers", "charges", "coupons", "invoices", "plans", "subscriptions", "events")

# table -> account_id -> Stripe objects of that account
StripeObjects = dict[str, dict[str, list[dict[str, Any]]]]


def write_raw_tables(database: Path, objects: StripeObjects, synced_at: datetime) -> None:
    """Creates every table of RAW_TABLES in schema stripe_raw (empty when `objects` has none for it)."""
    connection = duckdb.connect(str(database))
    try:
        connection.execute("create schema if not exists stripe_raw")
        for table in RAW_TABLES:
            pages = [
                raw_table(account_id, account_objects, synced_at)
                for account_id, account_objects in objects.get(table, {}).items()
            ]
            connection.register("raw_rows", pa.concat_tables(pages) if pages else RAW_SCHEMA.empty_table())
            connection.execute(f"create or replace table stripe_raw.{table} as select * from raw_rows")
            connection.unregister("raw_rows")
    finally:
        connection.close()
