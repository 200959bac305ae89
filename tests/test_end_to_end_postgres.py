"""Simulator → dlt → Postgres → dbt, through the Dagster job, as `stripe-warehouse run` does it.

The same run as test_end_to_end.py, on a real PostgreSQL server (scripts/postgres.sh) chosen by
configuration only: WAREHOUSE=postgres and the POSTGRES_* variables (dbt's target follows WAREHOUSE).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestration.cli import main
from orchestration.simulator.truth import expected_customer_mrr, expected_movements
from orchestration.stripe_objects import STRIPE_OBJECTS, EmbeddedObjects

# Two full runs, on a 2-core CI machine; the first may also install PostgreSQL (scripts/postgres.sh).
pytestmark = pytest.mark.timeout(1200)

RAW = "stripe_raw"
CLEAN = "stripe"
TEST_KINDS = ("test", "unit_test")


def expected_raw_ids(account) -> dict[str, set[str]]:
    """Per raw table, the ids of every object the simulator serves for it (default filters lifted)."""
    expected: dict[str, set[str]] = {"accounts": {account.account_id}}
    for obj in STRIPE_OBJECTS:
        name = obj.list_path.removeprefix("/v1/")
        parents: dict[str, dict] = {}
        for params in obj.passes:
            typed = {k: {"true": True, "false": False}.get(v, v) for k, v in params.items()}
            parents |= {item["id"]: item for item in account.listable(name, **typed)}
        expected[obj.table] = set(parents)
        for child in obj.children:
            if isinstance(child, EmbeddedObjects):  # discounts: those the listed parents (and their lines) name
                named = [_ids_at(parent, path) for parent in parents.values() for path in child.paths]
                if child.in_child_rows:
                    table, path = child.in_child_rows
                    parent_field = obj.object_type  # an invoice line names its `invoice`, an item its `subscription`
                    named += [_ids_at(row, path) for row in account.objects[table] if row[parent_field] in parents]
                expected[child.table] = set().union(*named)
            elif child.embedded_field is None and child.list_path and child.parent_param:
                # A list filtered on the parent (a payout's balance transactions), read for the parents it is
                # complete for; each row keyed by the pair.
                listed = child.list_path.removeprefix("/v1/")
                expected[child.table] = {
                    f"{parent_id}:{item['id']}"
                    for parent_id, parent in parents.items()
                    if (child.listed_for is None or child.listed_for(parent))
                    and (child.final_when is None or child.final_when(parent))
                    for item in account.listable(listed, **{child.parent_param: parent_id})
                }
            elif child.list_path:  # a list of its own (invoice lines): every object of it
                expected[child.table] = {item["id"] for item in account.objects[child.table]}
    return expected


def _ids_at(parent: dict, path: str) -> set[str]:
    """The ids at `path` in `parent`, through list objects and arrays (`items.data.discounts`)."""
    values: list = [parent]
    for name in path.split("."):
        values = [value.get(name) for value in _elements(values) if isinstance(value, dict)]
    return {value if isinstance(value, str) else value["id"] for value in _elements(values) if value}


def _elements(values: list) -> list:
    return [e for value in values if value is not None for e in (value if isinstance(value, list) else [value])]


def tables(cursor, schema: str) -> set[str]:
    cursor.execute(
        """
        select table_name from information_schema.tables
        where table_schema = %s and table_type = 'BASE TABLE' and table_name not like '\\_dlt\\_%%'
        """,
        (schema,),
    )
    return {row[0] for row in cursor.fetchall()}


def column(cursor, schema: str, table: str, name: str) -> list[str]:
    cursor.execute(f'select "{name}" from "{schema}"."{table}"')
    return [row[0] for row in cursor.fetchall()]


def row_count(cursor, schema: str, table: str) -> int:
    cursor.execute(f'select count(*) from "{schema}"."{table}"')
    return cursor.fetchone()[0]


def dbt_results(target_root: Path) -> dict[str, str]:
    """unique_id → status of every node of the run's dbt invocations under `target_root` (run_results.json):
    the source tests after ingestion, then the build of the models."""
    paths = sorted(target_root.glob("*/run_results.json"))
    assert len(paths) == 2, f"expected the source tests and the build, found {paths}"
    return {
        result["unique_id"]: result["status"] for path in paths for result in json.loads(path.read_text())["results"]
    }


def assert_dbt_build_passed(target_root: Path) -> None:
    """Every model and seed built, every data and unit test passed (or warned, as its severity says)."""
    results = dbt_results(target_root)
    tests = {node: status for node, status in results.items() if node.split(".")[0] in TEST_KINDS}
    # Exposures build nothing (dbt reports them as no-op): neither a test nor a table.
    built = {node: status for node, status in results.items() if node.split(".")[0] not in (*TEST_KINDS, "exposure")}
    assert tests, "dbt ran no test"
    assert any(node.startswith("model.stripe_warehouse.stripe__") for node in built), "dbt built no stripe table"
    # `warn`: a test of severity warn, e.g. the data lag of the generated account's last activity.
    assert {node: status for node, status in tests.items() if status not in ("pass", "warn")} == {}
    assert {node: status for node, status in built.items() if status != "success"} == {}


@pytest.fixture
def postgres_env(pipeline_env, postgres_database, monkeypatch):
    """The pipeline's environment, with the warehouse switched to the test's own Postgres database."""
    monkeypatch.setenv("WAREHOUSE", "postgres")
    monkeypatch.delenv("DBT_TARGET", raising=False)  # WAREHOUSE alone decides dbt's target too
    for name, value in postgres_database.env().items():
        monkeypatch.setenv(name, value)
    return postgres_database


def test_each_test_gets_a_database_of_its_own_on_a_local_server(postgres_database):
    connection = postgres_database.connect()
    try:
        cursor = connection.cursor()
        cursor.execute("select current_database(), current_setting('listen_addresses')")
        assert cursor.fetchone() == (postgres_database.database, "127.0.0.1")
        cursor.execute("select count(*) from information_schema.schemata where schema_name like 'stripe%%'")
        assert cursor.fetchone() == (0,)
    finally:
        connection.close()


def test_run_on_postgres_loads_every_object_and_builds_the_models(
    postgres_env, prime_dbt, simulated_account, tmp_path, monkeypatch, capsys
):
    # Dagster gives each dbt invocation its own artifact folder (run_results.json) under DBT_TARGET_PATH,
    # starting from the parse of the project found there: one for both runs (tests/conftest.py).
    prime_dbt(tmp_path / "dbt_first_run")
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_first_run"))
    assert main(["run"]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "stripe.customers" in printed
    assert_dbt_build_passed(tmp_path / "dbt_first_run")

    expected = expected_raw_ids(simulated_account)
    for table in ("customers", "subscriptions", "invoices", "invoice_line_items", "charges", "events"):
        assert expected[table], f"the generated account has no {table}: the test would prove little"
    connection = postgres_env.connect()
    try:
        cursor = connection.cursor()
        assert tables(cursor, RAW) == set(expected)
        for table, expected_ids in expected.items():
            raw_ids = column(cursor, RAW, table, "id")
            assert len(raw_ids) == len(set(raw_ids)), f"{RAW}.{table} has duplicate ids"
            assert set(raw_ids) == expected_ids, table
        assert set(column(cursor, RAW, "customers", "account_id")) == {simulated_account.account_id}

        # Every raw table has its clean table, row for row; discounts read with invoices are stripe.discounts rows.
        clean = tables(cursor, CLEAN)
        assert set(expected) - {"invoice_discounts"} <= clean, f"missing in {CLEAN}: {sorted(set(expected) - clean)}"
        for table in set(expected) - {"discounts", "invoice_discounts"}:
            assert row_count(cursor, CLEAN, table) == row_count(cursor, RAW, table), table
        discount_ids = set(column(cursor, RAW, "discounts", "id")) | set(column(cursor, RAW, "invoice_discounts", "id"))
        assert row_count(cursor, CLEAN, "discounts") == len(discount_ids)
        # Canceled subscriptions and inactive plans, hidden by Stripe's default filters, arrived too.
        assert "canceled" in set(column(cursor, CLEAN, "subscriptions", "status"))
    finally:
        connection.close()

    # A second run merges on (account_id, id): the same objects, no duplicates. Its build replaces tables and
    # views that exist and updates the snapshot, which the first build never does (on DuckDB too:
    # tests/test_end_to_end.py).
    (tmp_path / "dbt_second_run").mkdir()
    shutil.copy2(tmp_path / "dbt_first_run" / "partial_parse.msgpack", tmp_path / "dbt_second_run")
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_second_run"))
    assert main(["run"]) == 0, capsys.readouterr().err
    assert_dbt_build_passed(tmp_path / "dbt_second_run")
    connection = postgres_env.connect()
    try:
        cursor = connection.cursor()
        for table, expected_ids in expected.items():
            assert row_count(cursor, RAW, table) == len(expected_ids), table
            if table not in ("discounts", "invoice_discounts"):
                assert row_count(cursor, CLEAN, table) == len(expected_ids), table
        assert_pattern_mrr_equals_the_truth(cursor, simulated_account)
    finally:
        connection.close()


def assert_pattern_mrr_equals_the_truth(cursor, account) -> None:
    """Every billing pattern's customer-months, discounts and dunning among them, equal the simulator's truth
    (from each subscription's state timeline) to the cent, with their movements; the run evaluated the current
    month minutes after the account's clock, and no pattern changes in between."""
    pattern_of = {customer: name for name, customers in account.patterns.items() for customer in customers}
    assert {"once_percent", "repeating_ended", "item_level", "several_discounts", "dunning_unpaid_old"} <= set(
        account.patterns
    )
    truth = expected_customer_mrr(account, account.current_time())
    moves = expected_movements(truth)
    cursor.execute("select customer_id, currency, month, mrr, movement from analytics.customer_mrr_monthly")
    actual = {(c, cur, m): (float(mrr), move) for c, cur, m, mrr, move in cursor.fetchall() if c in pattern_of}
    expected = {key: (mrr, moves[key]) for key, mrr in truth.items() if key[0] in pattern_of}
    wrong = {
        (pattern_of[key[0]], *key): (expected.get(key), actual.get(key))
        for key in expected.keys() | actual.keys()
        if key not in expected
        or key not in actual
        or abs(expected[key][0] - actual[key][0]) >= 0.005
        or expected[key][1] != actual[key][1]
    }
    assert wrong == {}
