"""Test-mode leftovers beside live objects (var stripe_livemode): an account first synced with a test key, then
with a live one, reports its live objects only.

In the shared variant build (variant_build), account A's objects are made live (as if synced with a live key) and
test-mode leftovers are added to it: charges with their balance transactions and a refund, and a subscription with
its item. Account B's objects stay as they were, all in test mode with no live event: kept. A's figures must then be
B's (both hold the same objects otherwise); with stripe_livemode=all, the leftovers count.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.transform.analytics_build import ACCOUNT_A, ACCOUNT_B, GUEST_CHARGE, query
from tests.transform.dbt_runner import run_dbt
from tests.transform.variant_build import LEFTOVER_CHARGES


@pytest.fixture(scope="module")
def leftovers(variant) -> Path:
    run_dir, _ = variant
    return run_dir


@pytest.fixture
def all_modes(leftovers, tmp_path) -> Path:
    """A copy of the variant build, for a rebuild with another stripe_livemode that the shared one must not see."""
    shutil.copy(leftovers / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    return tmp_path


def _per_account(database: Path, sql: str) -> dict[str, list[tuple]]:
    return {account: sorted(query(database, sql, account)) for account in (ACCOUNT_A, ACCOUNT_B)}


def test_auto_leaves_out_an_accounts_test_objects_once_it_is_live(leftovers):
    database = leftovers / "warehouse.duckdb"
    charges = _per_account(database, "select charge_id, is_livemode from stripe.charges where account_id = ?")
    assert {live for _, live in charges[ACCOUNT_A]} == {True}
    assert {live for _, live in charges[ACCOUNT_B]} == {False}  # B never went live: its test objects stay
    for table, key in (("refunds", "refund_id"), ("balance_transactions", "balance_transaction_id")):
        ids = {row[0] for row in query(database, f"select {key} from stripe.{table} where account_id = ?", ACCOUNT_A)}
        assert not {i for i in ids if "_test_" in i}, table
    items = query(
        database, "select subscription_item_id from stripe.subscription_items where account_id = ?", ACCOUNT_A
    )
    assert "si_test_0" not in {row[0] for row in items}
    # Everything else is B's: the same objects.
    assert (
        _per_account(
            database, "select month, currency, mrr, customers from analytics.mrr_monthly where account_id = ?"
        )[ACCOUNT_A]
        == _per_account(
            database, "select month, currency, mrr, customers from analytics.mrr_monthly where account_id = ?"
        )[ACCOUNT_B]
    )
    payments = _per_account(
        database,
        f"select charge_id, amount, net from analytics.payments where account_id = ? and charge_id <> '{GUEST_CHARGE}'",
    )
    assert payments[ACCOUNT_A] == payments[ACCOUNT_B]


def test_all_keeps_both_modes_and_a_wrong_value_names_the_fix(all_modes):
    run_dbt(
        all_modes,
        all_modes / "target",
        "run",
        "--select",
        "stripe__charges stripe__refunds stripe__balance_transactions stripe__subscriptions stripe__subscription_items",
        "--vars",
        "{stripe_livemode: all}",
    )
    database = all_modes / "warehouse.duckdb"
    for table, key, expected in (
        ("charges", "charge_id", LEFTOVER_CHARGES),
        ("balance_transactions", "balance_transaction_id", LEFTOVER_CHARGES),
        ("refunds", "refund_id", 1),
        ("subscriptions", "subscription_id", 1),
        ("subscription_items", "subscription_item_id", 1),
    ):
        ids = [row[0] for row in query(database, f"select {key} from stripe.{table} where account_id = ?", ACCOUNT_A)]
        assert len([i for i in ids if "_test_" in i]) == expected, table
    with pytest.raises(AssertionError) as failure:
        run_dbt(
            all_modes,
            all_modes / "target_bad",
            "compile",
            "--select",
            "stripe__charges",
            "--vars",
            "{stripe_livemode: prod}",
        )
    assert "stripe_livemode must be auto, live, test or all, not 'prod'" in str(failure.value)
