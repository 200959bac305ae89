"""The finance marts (analytics.balance_transactions, payout_items, payouts) against the simulator's payouts.

Which balance transactions each payout paid out is the simulator's own record of what had become available when
it paid out (`truth.expected_payout_items`); everything else expected here is computed in Python from the
simulator's objects. Account B holds A's objects again plus a guest charge that no payout paid out yet.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.simulator import SimulatedAccount
from orchestration.simulator.truth import expected_payout_items
from tests.transform.analytics_build import ACCOUNT_A, ACCOUNT_B, GUEST_CHARGE, query

ACCOUNTS = (ACCOUNT_A, ACCOUNT_B)
ITEM_TEST = "test.stripe_warehouse.payout_items_add_up_to_each_payout"


def _reconciled(account: SimulatedAccount) -> dict[str, dict[str, Any]]:
    """The payouts whose items the ingester reads: automatic ones whose reconciliation is completed."""
    return {
        p["id"]: p for p in account.objects["payouts"] if p["automatic"] and p["reconciliation_status"] == "completed"
    }


def _at(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def test_each_payout_has_exactly_the_items_it_paid_out(warehouse, account):
    database, _ = warehouse
    truth = expected_payout_items(account)
    reconciled = _reconciled(account)
    assert len(reconciled) > 100 and len(reconciled) < len(account.objects["payouts"]), "no payout in transit"
    rows = query(database, "select account_id, payout_id, balance_transaction_id from analytics.payout_items")
    for account_id in ACCOUNTS:
        loaded: dict[str, set[str]] = defaultdict(set)
        for row_account, payout_id, balance_id in rows:
            if row_account == account_id:
                loaded[payout_id].add(balance_id)
        assert loaded == {payout_id: truth[payout_id] for payout_id in reconciled}, account_id
    balances = {b["id"]: b for b in account.objects["balance_transactions"]}
    for payout_id, payout in reconciled.items():
        assert sum(balances[b]["net"] for b in truth[payout_id]) == payout["amount"]


def test_payouts_sum_their_items_by_kind(warehouse, account):
    database, _ = warehouse
    truth = expected_payout_items(account)
    reconciled = _reconciled(account)
    balances = {b["id"]: b for b in account.objects["balance_transactions"]}
    kinds = {
        **{c["id"]: "charge" for c in account.objects["charges"]},
        **{r["id"]: "refund" for r in account.objects["refunds"]},
        **{d["id"]: "dispute" for d in account.objects["disputes"]},
    }
    expected = {}
    for payout in account.objects["payouts"]:
        if payout["id"] not in reconciled:
            expected[payout["id"]] = (payout["amount"], *[None] * 11, False, False)
            continue
        items = [balances[b] for b in truth[payout["id"]]]

        def total(kind: str | None, field: str = "amount", items: list = items) -> int:
            return sum(b[field] for b in items if kind is None or kinds.get(b["source"], "other") == kind)

        def count(kind: str, items: list = items) -> int:
            return sum(1 for b in items if kinds.get(b["source"]) == kind)

        expected[payout["id"]] = (
            payout["amount"],
            len(items),
            count("charge"),
            count("refund"),
            count("dispute"),
            total("charge"),
            total("refund"),
            total("dispute"),
            total("other"),
            total(None, "fee"),
            total(None, "net"),
            Decimal(total(None, "net")) / 100,  # every balance transaction is in usd
            True,
            True,
        )
    assert any(row[3] for row in expected.values() if row[3] is not None), "no refund paid out: proves little"
    assert any(row[4] for row in expected.values() if row[4] is not None), "no dispute paid out: proves little"
    rows = query(
        database,
        """
        select account_id, payout_id, amount, item_count, charge_count, refund_count, dispute_count,
               charges_amount, refunds_amount, disputes_amount, other_amount, fees, net, net_decimal,
               has_items, is_fully_itemized
        from analytics.payouts
        """,
    )
    for account_id in ACCOUNTS:
        assert {row[1]: tuple(row[2:]) for row in rows if row[0] == account_id} == expected, account_id


def test_balance_transactions_name_their_source_charge_customer_invoice_and_payout(warehouse, account):
    database, _ = warehouse
    charges = {c["id"]: c for c in account.objects["charges"]}
    refunds = {r["id"]: r for r in account.objects["refunds"]}
    disputes = {d["id"]: d for d in account.objects["disputes"]}
    payouts = {p["id"]: p for p in account.objects["payouts"]}
    invoices = {i["id"]: i for i in account.objects["invoices"]}
    invoice_of_intent = {
        p["payment"]["payment_intent"]: p["invoice"]
        for p in account.objects["invoice_payments"]
        if p["status"] == "paid"
    }
    # Each paid-out balance transaction's payout, the payouts' own included, for the payouts the ingester read.
    paid_in = {b: p for p, items in expected_payout_items(account).items() if p in _reconciled(account) for b in items}
    paid_in |= {p["balance_transaction"]: p["id"] for p in _reconciled(account).values()}

    expected = {}
    for balance in account.objects["balance_transactions"]:
        source = balance["source"]
        if source in charges:
            source_type, charge_id = "charge", source
        elif source in refunds:
            source_type, charge_id = "refund", refunds[source]["charge"]
        elif source in disputes:
            source_type, charge_id = "dispute", disputes[source]["charge"]
        else:
            source_type, charge_id = ("payout" if source in payouts else balance["type"]), None
        charge = charges.get(charge_id) if charge_id else None
        invoice_id = invoice_of_intent.get(charge["payment_intent"]) if charge else None
        invoice = invoices.get(invoice_id) if invoice_id else None
        subscription_id = ((invoice or {}).get("parent") or {}).get("subscription_details") or {}
        payout_id = paid_in.get(balance["id"])
        expected[balance["id"]] = (
            source_type,
            charge_id,
            charge["customer"] if charge else None,
            invoice_id,
            subscription_id.get("subscription"),
            payout_id,
            _at(payouts[payout_id]["arrival_date"]) if payout_id else None,
            balance["net"],
        )
    assert {row[0] for row in expected.values()} == {"charge", "refund", "dispute", "payout"}
    rows = query(
        database,
        """
        select account_id, balance_transaction_id, source_type, charge_id, customer_id, invoice_id, subscription_id,
               payout_id, payout_arrival_at, net
        from analytics.balance_transactions
        """,
    )
    by_account = {a: {row[1]: tuple(row[2:]) for row in rows if row[0] == a} for a in ACCOUNTS}
    assert by_account[ACCOUNT_A] == expected
    guest = by_account[ACCOUNT_B].pop(f"txn_{GUEST_CHARGE}")
    assert guest[:6] == ("charge", GUEST_CHARGE, None, None, None, None)  # no customer, not paid out yet
    assert by_account[ACCOUNT_B] == expected


def test_the_reconciliation_test_passes_and_fails_a_payout_missing_an_item(warehouse, tmp_path: Path):
    database, statuses = warehouse
    assert statuses[ITEM_TEST] == ("pass", 0)
    assert statuses["test.stripe_warehouse.reconciled_payouts_have_their_items"] == ("pass", 0)
    compiled = next((database.parent / "target" / "compiled").rglob("payout_items_add_up_to_each_payout.sql"))
    # The same test on a copy of the warehouse whose payout lost one of its items: that payout, and it alone.
    broken = tmp_path / database.name
    shutil.copy(database, broken)
    with duckdb.connect(str(broken)) as connection:
        # A payout of several items: one left without any is the warn test's to report (without items).
        (payout_id, balance_id) = connection.execute(
            """
            select payout_id, min(balance_transaction_id) from analytics.payout_items where account_id = ?
            group by payout_id having count(*) > 1 order by payout_id limit 1
            """,
            [ACCOUNT_B],
        ).fetchone()
        connection.execute(
            "delete from analytics.payout_items where account_id = ? and balance_transaction_id = ?",
            [ACCOUNT_B, balance_id],
        )
        failing = connection.execute(f"select account_id, payout_id from ({compiled.read_text()})").fetchall()
    assert failing == [(ACCOUNT_B, payout_id)]


@pytest.mark.parametrize("mart", ["balance_transactions", "payout_items", "payouts"])
def test_amounts_have_their_major_unit_twins(warehouse, mart):
    database, _ = warehouse
    columns = {"balance_transactions": ("amount", "fee", "net"), "payout_items": ("amount", "fee", "net")}.get(
        mart, ("amount", "charges_amount", "refunds_amount", "disputes_amount", "other_amount", "fees", "net")
    )
    checks = " or ".join(f"cast({c} as decimal(38, 6)) / 100 <> {c}_decimal" for c in columns)
    (mismatched,) = query(database, f"select count(*) from analytics.{mart} where currency = 'usd' and ({checks})")[0]
    (rows,) = query(database, f"select count(*) from analytics.{mart}")[0]
    assert rows and mismatched == 0
