"""Simulator → dlt → DuckDB → dbt, through the Dagster job, as `stripe-warehouse run` does it."""

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


def test_run_loads_every_object_and_builds_the_models(pipeline_env, simulated_account, capsys):
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
        id_column = f"{table.removesuffix('s')}_id"
        assert table_ids(connection, "stripe", table, id_column) == expected, table
    # Canceled subscriptions and inactive plans, hidden by Stripe's default filters, arrived too.
    statuses = {r[0] for r in connection.sql("select distinct status from stripe.subscriptions").fetchall()}
    assert "canceled" in statuses
    connection.close()

    # A second run merges on (account_id, id): the same objects, no duplicates.
    assert main(["run"]) == 0
    connection = duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True)
    for table in EXPECTED_LISTS:
        (rows,) = connection.sql(f"select count(*) from stripe_raw.{table}").fetchall()[0]
        assert rows == len(expected_ids(simulated_account, table)), table
    connection.close()


def test_a_wrong_key_fails_the_run_with_the_fix(pipeline_env, monkeypatch, capsys):
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_wrong_key_000000000000")
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "STRIPE_API_KEY" in err
    assert "sk_test_wrong_key_000000000000" not in err
