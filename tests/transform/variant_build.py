"""One rebuild of the shared warehouse with the vars that reshape the marts, for the livemode, time-zone and segment
tests (test_livemode, test_reporting_timezone, test_segments).

On a copy of the shared warehouse (analytics_build), account A's raw objects are made live with test-mode
leftovers beside them, some of its customers and a product are given metadata, and every model but monitoring is
rebuilt in one dbt run with New York's time zone, the metadata keys and `mrr_as_of` at the simulated clock. Each
change leaves the others' expectations exact: under stripe_livemode auto the leftovers are out of every stripe
table and mart, so A's figures stay those of the simulator's objects and of B; the zone moves A's and B's
boundaries alike; metadata keys only add columns to the segment tables. One parse and one run instead of three.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from tests.transform.analytics_build import ACCOUNT_A, NOW
from tests.transform.dbt_runner import run_dbt

ZONE = "America/New_York"
LEFTOVER_CHARGES = 5
METADATA_KEYS = {
    "customer": {"segment": "text", "seats": "bigint", "renewal-date": "date"},
    "product": {"tier": "text"},
}
VARS = {"stripe_reporting_timezone": ZONE, "mrr_as_of": NOW, "stripe_metadata_keys": METADATA_KEYS}

Metadata = dict[str, dict[str, str]]


def make_live_with_test_leftovers(database: Path) -> None:
    """Account A's objects made live (as if synced with a live key), with test-mode leftovers added: charges with
    their balance transactions and a refund, and a subscription with its item. B's stay all in test mode."""
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


def add_metadata(database: Path) -> Metadata:
    """Metadata on three of A's raw customers and one of its products; the metadata of each, by object id."""
    with duckdb.connect(str(database)) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "select id from stripe_raw.customers where account_id = ? order by id limit 3", (ACCOUNT_A,)
            ).fetchall()
        ]
        product = connection.execute(
            "select id from stripe_raw.products where account_id = ? order by id limit 1", (ACCOUNT_A,)
        ).fetchone()[0]
        metadata = {
            ids[0]: {"segment": "enterprise", "seats": "250", "renewal-date": "2026-09-30"},
            ids[1]: {"segment": "", "seats": "3"},  # an empty string is no value
            ids[2]: {"unrelated": "x"},
        }
        for customer_id, values in metadata.items():
            connection.execute(
                "update stripe_raw.customers set object_json = json_merge_patch(object_json, ?)"
                " where account_id = ? and id = ?",
                (json.dumps({"metadata": values}), ACCOUNT_A, customer_id),
            )
        connection.execute(
            "update stripe_raw.products set object_json = json_merge_patch(object_json, ?)"
            " where account_id = ? and id = ?",
            (json.dumps({"metadata": {"tier": "gold"}}), ACCOUNT_A, product),
        )
    return {**metadata, product: {"tier": "gold"}}


def build_variant_warehouse(source: Path, run_dir: Path) -> Metadata:
    """run_dir/warehouse.duckdb: a copy of `source` changed as above and rebuilt with VARS; the metadata added."""
    shutil.copy(source, run_dir / "warehouse.duckdb")
    make_live_with_test_leftovers(run_dir / "warehouse.duckdb")
    metadata = add_metadata(run_dir / "warehouse.duckdb")
    # Every model, as each var reaches many: a model that no longer builds with one of them fails here. The
    # monitoring checks the load's lag, which none of the vars changes.
    run_dbt(run_dir, run_dir / "target", "run", "--exclude", "monitoring", "--threads", "8", "--vars", json.dumps(VARS))
    return metadata
