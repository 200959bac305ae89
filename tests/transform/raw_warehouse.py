"""Writes `stripe_raw` tables in the ingester's layout into a DuckDB file, for the dbt tests and benchmarks.

The rows are made by the ingester's own `raw_table`, so the tests follow the layout the ingester writes.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.ingest.raw_rows import RAW_SCHEMA, raw_table
from orchestration.simulator import SimulatedAccount
from orchestration.stripe_objects import PAYOUT_BALANCE_TRANSACTIONS

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
    "invoice_discounts",
    "refunds",
    "balance_transactions",
    "payment_intents",
    "disputes",
    "payouts",
    "payout_balance_transactions",
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

# The simulator's list names that are not raw tables, and the raw names of the others where they differ.
_NOT_LOADED = {"payment_methods"}
_RAW_NAMES = {"invoiceitems": "invoice_items"}
# Child lists: raw table -> the field of the child naming the parent it is read under.
_CHILD_PARENTS = {"invoice_line_items": "invoice", "subscription_items": "subscription"}
# Child lists whose raw ids are `<parent id>:<child id>` (`ChildList.keyed_by_parent`).
_KEYED_BY_PARENT = {PAYOUT_BALANCE_TRANSACTIONS.table}
# Hidden fields the ingester never sees: a balance transaction's payout is only known through the list filtered
# on it (payout_balance_transactions).
_UNSERVED_HIDDEN = {"balance_transactions": {"payout"}}


def simulated_raw_objects(account: SimulatedAccount, account_ids: list[str]) -> StripeObjects:
    """A simulated account's objects as the ingester would write them into stripe_raw, once under each id.

    Child lists go under their parent's id (invoice lines under their invoice, subscription items and
    discounts under their subscription, credit note lines under their credit note); prices and plans carry
    the tiers the ingester expands; each reconciled automatic payout's balance transactions go under it, as
    `GET /v1/balance_transactions?payout=` lists them. Every account id but the first gets its own copy of the
    objects.
    """
    tables: dict[str, AccountRows] = {}
    for name, objects in account.objects.items():
        if name in _NOT_LOADED or name == "discounts":
            continue
        if name == "invoice_payments":
            # What /v1/invoice_payments returns, as the ingester lists it.
            objects = account.listable("invoice_payments")
        table = _RAW_NAMES.get(name, name)
        unserved = _UNSERVED_HIDDEN.get(name, set())
        hidden = {
            object_id: {k: v for k, v in fields.items() if k not in unserved}
            for object_id, fields in account.hidden_fields.get(name, {}).items()
        }
        objects = [{**obj, **hidden.get(obj["id"], {})} for obj in objects]
        if table in _CHILD_PARENTS or table == "credit_note_line_items":
            by_parent: dict[str, list[StripeObject]] = defaultdict(list)
            for obj in objects:
                parent = obj.pop("credit_note") if table == "credit_note_line_items" else obj[_CHILD_PARENTS[table]]
                by_parent[parent].append(obj)
            tables[table] = dict(by_parent)
        else:
            tables[table] = objects
    tables |= embedded_discounts(account)
    tables[PAYOUT_BALANCE_TRANSACTIONS.table] = payout_balance_transactions(account)
    tables["accounts"] = [account.account]
    return {
        table: {account_id: rows if n == 0 else copy.deepcopy(rows) for n, account_id in enumerate(account_ids)}
        for table, rows in tables.items()
    }


def embedded_discounts(account: SimulatedAccount) -> dict[str, dict[str, list[StripeObject]]]:
    """The discounts the ingester can read, by the raw table and parent it reads them under.

    Stripe has no list of discounts: the ingester reads those its subscriptions and their items name
    (`discounts`) and those its invoices and their embedded lines name (`invoice_discounts`), expanded. A
    discount Stripe removed from its subscription is only found on invoices; one the account holds but no
    object names is never read.
    """
    by_id = {discount["id"]: discount for discount in account.objects.get("discounts", [])}
    lines: dict[str, list[StripeObject]] = defaultdict(list)
    for line in account.objects.get("invoice_line_items", []):
        lines[line["invoice"]].append(line)
    items: dict[str, list[StripeObject]] = defaultdict(list)
    for item in account.objects.get("subscription_items", []):
        items[item["subscription"]].append(item)

    def named(*holders: StripeObject) -> list[StripeObject]:
        ids = dict.fromkeys(d if isinstance(d, str) else d["id"] for h in holders for d in h.get("discounts") or [])
        return [by_id[discount_id] for discount_id in ids if discount_id in by_id]

    # The loader merges on the id: a discount named by many invoices is one row, under the last parent read.
    read_under: dict[str, dict[str, tuple[str, StripeObject]]] = {"discounts": {}, "invoice_discounts": {}}
    for sub in account.objects.get("subscriptions", []):
        for discount in named(sub, *items[sub["id"]]):
            read_under["discounts"][discount["id"]] = (sub["id"], discount)
    for invoice in account.objects.get("invoices", []):
        for discount in named(invoice, *lines[invoice["id"]]):
            read_under["invoice_discounts"][discount["id"]] = (invoice["id"], discount)
    tables: dict[str, dict[str, list[StripeObject]]] = {}
    for table, rows in read_under.items():
        tables[table] = defaultdict(list)
        for parent_id, discount in rows.values():
            tables[table][parent_id].append(discount)
    return tables


def payout_balance_transactions(account: SimulatedAccount) -> dict[str, list[StripeObject]]:
    """The balance transactions the ingester reads under each payout: those the simulator lists for the payout
    (its own among them), for the automatic payouts whose reconciliation is complete."""
    child = PAYOUT_BALANCE_TRANSACTIONS
    assert child.listed_for is not None and child.final_when is not None
    return {
        payout["id"]: account.listable("balance_transactions", payout=payout["id"])
        for payout in account.objects.get("payouts", [])
        if child.listed_for(payout) and child.final_when(payout)
    }


def raw_arrow_tables(objects: StripeObjects, synced_at: datetime) -> dict[str, pa.Table]:
    """Every table of RAW_TABLES as the ingester's Arrow rows (empty when `objects` has none for it)."""
    tables = {}
    for table in RAW_TABLES:
        pages = []
        for account_id, rows in objects.get(table, {}).items():
            if isinstance(rows, dict):
                pages += [_child_rows(account_id, rows, synced_at, table in _KEYED_BY_PARENT)] if rows else []
            else:
                pages.append(raw_table(account_id, rows, synced_at))
        tables[table] = pa.concat_tables(pages) if pages else RAW_SCHEMA.empty_table()
    return tables


def _child_rows(
    account_id: str, by_parent: dict[str, list[StripeObject]], synced_at: datetime, keyed_by_parent: bool = False
) -> pa.Table:
    """The children of every parent as one table: raw_table's rows, each with its own parent's id (and, keyed
    by parent, an id `<parent id>:<child id>`).

    The ingester writes one page per parent; one table for all of them is the same rows, and far quicker to
    build for the benchmark's hundreds of thousands of invoices.
    """
    children = [child for rows in by_parent.values() for child in rows]
    parents = pa.array([parent for parent, rows in by_parent.items() for _ in rows], pa.string())
    rows = raw_table(account_id, children, synced_at)
    index = RAW_SCHEMA.get_field_index("parent_id")
    rows = rows.set_column(index, RAW_SCHEMA.field(index), parents)
    if keyed_by_parent:
        ids = [f"{parent}:{child['id']}" for parent, rows_of in by_parent.items() for child in rows_of]
        index = RAW_SCHEMA.get_field_index("id")
        rows = rows.set_column(index, RAW_SCHEMA.field(index), pa.array(ids, pa.string()))
    return rows


def write_raw_tables(database: Path, objects: StripeObjects, synced_at: datetime) -> None:
    """Creates every table of RAW_TABLES in schema stripe_raw (empty when `objects` has none for it)."""
    connection = duckdb.connect(str(database))
    try:
        connection.execute("create schema if not exists stripe_raw")
        for table, rows in raw_arrow_tables(objects, synced_at).items():
            connection.register("raw_rows", rows)
            connection.execute(f"create or replace table stripe_raw.{table} as select * from raw_rows")
            connection.unregister("raw_rows")
    finally:
        connection.close()
