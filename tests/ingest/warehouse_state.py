"""Comparing what the warehouse holds with what the simulator serves."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

from orchestration.stripe_objects import STRIPE_OBJECTS

PLATFORM_KEY = "sk_test_platform_0000000000"

# Fields Stripe includes only when expanded: the ingester asks for them, the simulator's store keeps ids.
EXPANDABLE = {"tiers", "discounts"}
# Counters Stripe changes without sending any event: an incremental sync cannot see them move, the next
# full reconciliation does.
SILENT_FIELDS = {
    "coupons": {"times_redeemed"},
    "customers": {"next_invoice_sequence"},
    # Voiding an invoice cancels its open invoice payment; Stripe sends invoice.voided, no invoice_payment event.
    "invoice_payments": {"status", "status_transitions"},
}
TOP_LEVEL = [obj for obj in STRIPE_OBJECTS if obj.table != "events"]


def warehouse_rows(duckdb_path: Path, table: str) -> dict[tuple[str, str], tuple[bool, dict[str, Any]]]:
    """(account_id, id) → (is_deleted, object) for every row of stripe_raw.<table>."""
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        rows = connection.sql(f"select account_id, id, is_deleted, object_json from stripe_raw.{table}").fetchall()
    return {(a, i): (deleted, json.loads(obj)) for a, i, deleted, obj in rows}


def simulator_objects(account, table: str) -> dict[str, dict[str, Any]]:
    """Every live object of `table` the simulator serves for one account, by id."""
    obj = next(o for o in STRIPE_OBJECTS if o.table == table)
    found: dict[str, dict[str, Any]] = {}
    for params in obj.passes:
        typed = {k: {"true": True, "false": False}.get(v, v) for k, v in params.items()}
        for item in account.listable(obj.list_path.removeprefix("/v1/"), **typed):
            found[item["id"]] = item
    return found


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its expandable fields, also where they sit in its embedded lists (an item's or a
    line's discounts)."""
    return {k: _without_expandable(v) for k, v in obj.items() if k not in EXPANDABLE}


def _without_expandable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_expandable(v) for k, v in value.items() if k not in EXPANDABLE}
    if isinstance(value, list):
        return [_without_expandable(v) for v in value]
    return value


def duplicate_keys(duckdb_path: Path, table: str) -> list[tuple[str, str, int]]:
    """(account_id, id, rows) of every key stripe_raw.<table> holds more than once: a merge that went wrong."""
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        return connection.sql(
            f"select account_id, id, count(*) from stripe_raw.{table} group by all having count(*) > 1"
        ).fetchall()


def assert_table_matches(duckdb_path: Path, account, table: str) -> None:
    """Every live object is in the warehouse once, field for field; every other row is marked deleted."""
    duplicates = duplicate_keys(duckdb_path, table)
    assert not duplicates, f"{table}: {len(duplicates)} keys held more than once, e.g. {duplicates[:3]}"
    rows = {i: v for (a, i), v in warehouse_rows(duckdb_path, table).items() if a == account.account_id}
    expected = simulator_objects(account, table)
    missing = expected.keys() - rows.keys()
    assert not missing, f"{table}: {len(missing)} objects missing, e.g. {sorted(missing)[:3]}"
    for object_id, obj in expected.items():
        deleted, stored = rows[object_id]
        assert not deleted, f"{table} {object_id} is live but marked deleted"
        stored, obj = comparable(stored), comparable(obj)
        differs = {k for k in stored.keys() | obj.keys() if stored.get(k) != obj.get(k)}
        differs -= SILENT_FIELDS.get(table, set())
        assert not differs, f"{table} {object_id} differs in {sorted(differs)}"
    stale = [i for i, (deleted, _) in rows.items() if i not in expected and not deleted]
    assert not stale, f"{table}: {len(stale)} rows not deleted though Stripe no longer has them: {stale[:3]}"


def row_counts(database, schema: str) -> dict[str, int]:
    """Rows of every table of `schema`, dlt's own tables (`_dlt_*`) left out."""
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        ).fetchall()
        return {
            t: connection.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0]
            for (t,) in tables
            if not t.startswith("_dlt")
        }


def payout_items_loaded(duckdb_path: Path, account) -> dict[str, set[str]]:
    """Per payout, the balance transactions the warehouse holds under it, its own excluded; checks each row."""
    payouts = {payout["id"]: payout for payout in account.objects["payouts"]}
    balances = {balance["id"]: balance for balance in account.objects["balance_transactions"]}
    loaded: dict[str, set[str]] = defaultdict(set)
    with_own: set[str] = set()
    for (account_id, row_id), (deleted, obj) in warehouse_rows(duckdb_path, "payout_balance_transactions").items():
        if account_id != account.account_id:
            continue
        payout_id, balance_id = row_id.split(":")
        assert not deleted and obj == balances[balance_id], row_id  # the whole object, as Stripe sends it
        if balance_id == payouts[payout_id]["balance_transaction"]:
            with_own.add(payout_id)
        else:
            loaded[payout_id].add(balance_id)
    assert with_own == set(loaded), "each payout read lists its own balance transaction too"
    return dict(loaded)


def reconciled_payouts(account) -> set[str]:
    """The automatic payouts whose balance transactions Stripe lists in full: reconciled ones."""
    return {
        payout["id"]
        for payout in account.objects["payouts"]
        if payout["automatic"] and payout["reconciliation_status"] == "completed"
    }
