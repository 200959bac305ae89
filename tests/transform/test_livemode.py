"""Test-mode leftovers beside live objects (var stripe_livemode): an account first synced with a test key, then
with a live one, reports its live objects only.

On a copy of the shared warehouse, account A's objects are made live (as if synced with a live key) and test-mode
leftovers are added to it: charges with their balance transactions and a refund, and a subscription with its
item. Account B's objects stay as they were, all in test mode with no live event: kept. A's figures must then be
B's (both hold the same objects otherwise); with stripe_livemode=all, the leftovers count.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.transform.analytics_build import ACCOUNT_A, ACCOUNT_B, GUEST_CHARGE, query
from tests.transform.dbt_runner import run_dbt

LEFTOVER_CHARGES = 5


def _make_live_with_test_leftovers(database: Path) -> None:
    with duckdb.connect(str(database)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'stripe_raw'"
                " and table_name not like '_dlt%'"
            ).fetchall()
        ]
        for table in tables:
            rows = connection.execute(
                f"select id, object_json from stripe_raw.{table} where account_id = ?", (ACCOUNT_A,)
            ).fetchall()
            for object_id, text in rows:
                obj = json.loads(text)
                if "livemode" in obj:
                    obj["livemode"] = True
                    connection.execute(
                        f"update stripe_raw.{table} set object_json = ? where account_id = ? and id = ?",
                        (json.dumps(obj), ACCOUNT_A, object_id),
                    )

        def copy_as_test(table: str, object_id: str, new_id: str, changes: dict) -> None:
            """A copy of a live object under `new_id`, in test mode, with `changes` (and a new parent, if given)."""
            parent_id = changes.pop("parent_id", None)
            row = connection.execute(
                f"select * from stripe_raw.{table} where account_id = ? and id = ?", (ACCOUNT_A, object_id)
            ).fetchall()[0]
            columns = [c[0] for c in connection.description]
            values = dict(zip(columns, row, strict=True))
            obj = {**json.loads(values["object_json"]), **changes, "id": new_id}
            if "livemode" in obj:
                obj["livemode"] = False
            values.update(id=new_id, object_json=json.dumps(obj))
            if parent_id is not None:
                values["parent_id"] = parent_id
            connection.execute(
                f"insert into stripe_raw.{table} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
                list(values.values()),
            )

        charges = connection.execute(
            "select id, json_extract_string(object_json, '$.balance_transaction') from stripe_raw.charges"
            " where account_id = ? and json_extract_string(object_json, '$.status') = 'succeeded'"
            " and json_extract_string(object_json, '$.balance_transaction') is not null order by id limit ?",
            (ACCOUNT_A, LEFTOVER_CHARGES),
        ).fetchall()
        refund = connection.execute("select id from stripe_raw.refunds where account_id = ? limit 1", (ACCOUNT_A,))
        refund_id = refund.fetchall()[0][0]
        for n, (charge_id, balance_id) in enumerate(charges):
            copy_as_test("charges", charge_id, f"ch_test_{n}", {"balance_transaction": f"txn_test_{n}"})
            copy_as_test("balance_transactions", balance_id, f"txn_test_{n}", {"source": f"ch_test_{n}"})
        copy_as_test("refunds", refund_id, "re_test_0", {"charge": "ch_test_0", "balance_transaction": None})
        subscription_id, item_id = connection.execute(
            "select parent_id, id from stripe_raw.subscription_items where account_id = ? and parent_id in"
            " (select id from stripe_raw.subscriptions where account_id = ?"
            "  and json_extract_string(object_json, '$.status') = 'active') order by id limit 1",
            (ACCOUNT_A, ACCOUNT_A),
        ).fetchall()[0]
        copy_as_test("subscriptions", subscription_id, "sub_test_0", {})
        copy_as_test(
            "subscription_items", item_id, "si_test_0", {"subscription": "sub_test_0", "parent_id": "sub_test_0"}
        )


@pytest.fixture(scope="module")
def leftovers(warehouse, tmp_path_factory) -> Path:
    source, _ = warehouse
    run_dir = tmp_path_factory.mktemp("livemode")
    shutil.copy(source, run_dir / "warehouse.duckdb")
    _make_live_with_test_leftovers(run_dir / "warehouse.duckdb")
    run_dbt(run_dir, run_dir / "target", "run", "--exclude", "monitoring")
    return run_dir


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


def test_all_keeps_both_modes_and_a_wrong_value_names_the_fix(leftovers):
    run_dbt(
        leftovers,
        leftovers / "target",
        "run",
        "--select",
        "stripe__charges stripe__refunds stripe__balance_transactions stripe__subscriptions stripe__subscription_items",
        "--vars",
        "{stripe_livemode: all}",
    )
    database = leftovers / "warehouse.duckdb"
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
            leftovers,
            leftovers / "target_bad",
            "compile",
            "--select",
            "stripe__charges",
            "--vars",
            "{stripe_livemode: prod}",
        )
    assert "stripe_livemode must be auto, live, test or all, not 'prod'" in str(failure.value)
