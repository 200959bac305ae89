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

# Every raw table the dbt sources name, after the Stripe list endpoint.
RAW_TABLES = (
    "customers",
    "charges",
    "coupons",
    "invoices",
    "invoice_payments",
    "plans",
    "subscriptions",
    "events",
    "products",
    "prices",
    "subscription_items",
    "invoice_line_items",
    "invoice_items",
    "discounts",
    "refunds",
    "balance_transactions",
    "payment_intents",
    "disputes",
    "payouts",
    "credit_notes",
    "credit_note_line_items",
    "accounts",
)

StripeObject = dict[str, Any]
AccountRows = list[StripeObject] | dict[str, list[StripeObject]]
"""An account's objects of one table: a list of top-level objects, or for a child list (invoice lines,
credit note lines, subscription items) the objects keyed by the id of the parent they are read under."""

# table -> account_id -> that account's objects
StripeObjects = dict[str, dict[str, AccountRows]]


def write_raw_tables(database: Path, objects: StripeObjects, synced_at: datetime) -> None:
    """Creates every table of RAW_TABLES in schema stripe_raw (empty when `objects` has none for it)."""
    connection = duckdb.connect(str(database))
    try:
        connection.execute("create schema if not exists stripe_raw")
        for table in RAW_TABLES:
            pages = []
            for account_id, rows in objects.get(table, {}).items():
                if isinstance(rows, dict):
                    pages += [raw_table(account_id, children, synced_at, parent) for parent, children in rows.items()]
                else:
                    pages.append(raw_table(account_id, rows, synced_at))
            connection.register("raw_rows", pa.concat_tables(pages) if pages else RAW_SCHEMA.empty_table())
            connection.execute(f"create or replace table stripe_raw.{table} as select * from raw_rows")
            connection.unregister("raw_rows")
    finally:
        connection.close()
