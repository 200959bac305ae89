"""Simulator → dlt → DuckDB → dbt, through the Dagster job, as `stripe-warehouse run` does it.

The run is the account's second sync: the first, the sync of its partition as the accounts sensor requests it
for a new account, is the session's `partition_run` (tests/conftest.py), whose fresh load and first build
tests/automation/test_materialize.py checks; `stripe-warehouse run` goes on from a copy of its warehouse and
dlt state. So one run checks what a whole run leaves and that a second one merges: the same objects, each once,
and the snapshot brought up to date rather than duplicated. tests/test_end_to_end_postgres.py checks the
run on an empty warehouse, on Postgres.
"""

import shutil

import duckdb

from orchestration.cli import main

# What each raw table must hold: everything the list endpoint returns once its default filters are lifted.
EXPECTED_LISTS = {
    "customers": [{}],
    "charges": [{}],
    "coupons": [{}],
    "invoices": [{}],
    "plans": [{"active": True}, {"active": False}],
    "subscriptions": [{"status": "all"}],
    "events": [{}],
}


def expected_ids(account, table):
    return {obj["id"] for params in EXPECTED_LISTS[table] for obj in account.listable(table, **params)}


def table_ids(connection, schema, table, id_column):
    return {row[0] for row in connection.sql(f"select {id_column} from {schema}.{table}").fetchall()}


def test_run_loads_every_object_and_builds_the_models(
    pipeline_env, partition_run, prime_dbt, simulated_account, monkeypatch, capsys
):
    assert partition_run.result.success, "the first sync failed: see tests/automation/test_materialize.py"
    shutil.copytree(partition_run.data_dir, pipeline_env)
    # The run's dbt steps start from one parse of the project under its warehouse path (tests/conftest.py).
    dbt_target = pipeline_env.parent / "dbt_target"
    prime_dbt(dbt_target, {"DUCKDB_PATH": str(pipeline_env / "warehouse.duckdb")})
    monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_target))
    assert main(["run"]) == 0
    printed = capsys.readouterr().out
    assert "stripe.customers" in printed

    connection = duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True)
    account_ids = connection.sql("select distinct account_id from stripe_raw.customers").fetchall()
    assert account_ids == [(simulated_account.account_id,)]
    for table in EXPECTED_LISTS:
        expected = expected_ids(simulated_account, table)
        assert expected, f"the generated account has no {table}: the test would prove nothing"
        assert table_ids(connection, "stripe_raw", table, "id") == expected, table
        # The second sync merged on (account_id, id): the same objects, no duplicates.
        (rows,) = connection.sql(f"select count(*) from stripe_raw.{table}").fetchall()[0]
        assert rows == len(expected), table
        id_column = f"{table.removesuffix('s')}_id"
        assert table_ids(connection, "stripe", table, id_column) == expected, table
    # Canceled subscriptions and inactive plans, hidden by Stripe's default filters, arrived too.
    statuses = {r[0] for r in connection.sql("select distinct status from stripe.subscriptions").fetchall()}
    assert "canceled" in statuses
    # The snapshot the first build started was brought up to date: one open version per item, no new one.
    [(versions, items, closed, expected_items)] = connection.sql(
        """
        select count(*), count(distinct (account_id, subscription_item_id)), count(dbt_valid_to),
               (select count(*) from stripe.subscription_items)
        from stripe_snapshots.snap_stripe__subscription_item_states
        """
    ).fetchall()
    connection.close()
    assert expected_items > 0
    assert (versions, items, closed) == (expected_items, expected_items, 0)


def test_a_wrong_key_fails_the_run_with_the_fix(pipeline_env, monkeypatch, capsys):
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_wrong_key_000000000000")
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "STRIPE_API_KEY" in err
    assert "sk_test_wrong_key_000000000000" not in err
