"""Builds the dbt project on a temporary DuckDB file whose stripe_raw tables hold two accounts.

Both accounts have a coupon "25OFF" and a plan "gold": Stripe lets users choose those ids, so they only
identify an object together with account_id, and the per-account key tests must pass on them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from raw_warehouse import write_raw_tables

from orchestration.simulator.templates import build

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_A = "acct_1AaaaaaaaaaaaaaA"
ACCOUNT_B = "acct_1BbbbbbbbbbbbbbB"
SYNCED_AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
CREATED = 1767225600  # 2026-01-01 00:00:00 UTC


def _objects() -> dict[str, dict[str, list[dict]]]:
    invoice_a = build(
        "invoice",
        id="in_A1",
        customer="cus_A1",
        status="paid",
        number="A1-0001",
        created=CREATED,
        parent={
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": "sub_A1"},
            "type": "subscription_details",
        },
        subtotal=2000,
        total_discount_amounts=[{"amount": 300, "discount": "di_1"}, {"amount": 200, "discount": "di_2"}],
        total_excluding_tax=1500,
        total=1800,
        amount_due=1800,
        amount_paid=1800,
        amount_remaining=0,
        status_transitions={
            "finalized_at": CREATED + 60,
            "marked_uncollectible_at": None,
            "paid_at": CREATED + 3600,
            "voided_at": None,
        },
    )
    return {
        "customers": {
            ACCOUNT_A: [
                build("customer", id="cus_A1", email="ada@example.com", currency="usd", created=CREATED),
                build("customer", id="cus_A2", currency="jpy", created=CREATED),
                build("customer", id="cus_A3", currency="bhd", created=CREATED),
                # A customer deleted on Stripe: the ingester keeps the stub Stripe returns for it.
                build("deleted_customer", id="cus_A4"),
            ],
            ACCOUNT_B: [build("customer", id="cus_B1", currency="eur", created=CREATED)],
        },
        "charges": {
            ACCOUNT_A: [
                build("charge", id="ch_usd", customer="cus_A1", currency="usd", amount=1999),
                build("charge", id="ch_jpy", customer="cus_A2", currency="jpy", amount=1500, amount_refunded=500),
                build(
                    "charge",
                    id="ch_bhd",
                    customer="cus_A3",
                    amount=12345,
                    currency="bhd",
                    status="failed",
                    paid=False,
                    failure_code="card_declined",
                ),
            ],
            ACCOUNT_B: [build("charge", id="ch_eur", customer="cus_B1", amount=4200, currency="eur")],
        },
        "coupons": {
            ACCOUNT_A: [build("coupon", id="25OFF", percent_off=25.0, duration="once")],
            ACCOUNT_B: [
                build(
                    "coupon",
                    id="25OFF",
                    percent_off=None,
                    amount_off=2500,
                    currency="eur",
                    duration="repeating",
                    duration_in_months=3,
                )
            ],
        },
        "invoices": {
            ACCOUNT_A: [invoice_a],
            ACCOUNT_B: [build("invoice", id="in_B1", customer="cus_B1", currency="eur", parent=None)],
        },
        "plans": {
            ACCOUNT_A: [build("plan", id="gold", amount=2000, amount_decimal="2000", currency="usd")],
            ACCOUNT_B: [
                build("plan", id="gold", amount=50000, amount_decimal="50000", currency="jpy", interval="year")
            ],
        },
        "subscriptions": {
            ACCOUNT_A: [
                build(
                    "subscription",
                    id="sub_A1",
                    customer="cus_A1",
                    latest_invoice="in_A1",
                    status="active",
                    cancel_at_period_end=False,
                )
            ],
            ACCOUNT_B: [build("subscription", id="sub_B1", customer="cus_B1", status="canceled")],
        },
        "events": {
            ACCOUNT_A: [
                build(
                    "event",
                    id="evt_A1",
                    type="invoice.paid",
                    data={"object": invoice_a, "previous_attributes": {"status": "open"}},
                )
            ],
            ACCOUNT_B: [build("event", id="evt_B1")],
        },
    }


@pytest.fixture(scope="session")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The target folder of every dbt run here: runs after the first reuse its parse (about 5 s each)."""
    return tmp_path_factory.mktemp("dbt_target")


def _dbt(command: str, run_dir: Path, target: Path, *, expect_success: bool = True) -> None:
    """Runs a dbt command in its own process, as Dagster does, on the DuckDB file run_dir/warehouse.duckdb.

    Its own process because dbt-duckdb keeps its connection open for the life of the process. The DuckDB
    path is relative to the working directory, so the profile is the same for every run and dbt's partial
    parsing applies. Artifacts go to `target`, so the manifest Dagster loads from dbt_project/target stays.
    """
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            command,
            "--project-dir",
            str(PROJECT_ROOT),
            "--profiles-dir",
            str(PROJECT_ROOT),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env={**os.environ, "DBT_TARGET": "duckdb", "DUCKDB_PATH": "warehouse.duckdb"},
        cwd=run_dir,
        capture_output=True,
        text=True,
    )
    assert (completed.returncode == 0) == expect_success, completed.stdout[-5000:] + completed.stderr[-5000:]


def _statuses(target: Path) -> dict[str, str]:
    """Status of every node of the last run (success, pass, warn, fail, error, skipped), by unique id."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].removeprefix("test.stripe_warehouse."): r["status"] for r in results}


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory, dbt_target: Path) -> tuple[Path, dict[str, str]]:
    """The DuckDB file after `dbt build` (seeds, models and tests), and the status of every node."""
    run_dir = tmp_path_factory.mktemp("dbt_build")
    write_raw_tables(run_dir / "warehouse.duckdb", _objects(), SYNCED_AT)
    _dbt("build", run_dir, dbt_target)
    return run_dir / "warehouse.duckdb", _statuses(dbt_target)


def _query(database: Path, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql, params).fetchall()


def test_build_passes_every_model_and_test(warehouse):
    _, statuses = warehouse
    assert {node: s for node, s in statuses.items() if s not in ("success", "pass")} == {}
    # The build really ran the per-account key and relationship tests, not only the models.
    assert any(node.startswith("unique_per_account_stripe__coupons_") for node in statuses)
    assert any(node.startswith("relationships_per_account_stripe__charges_") for node in statuses)


def test_per_account_tests_catch_a_repeated_key_and_an_id_from_another_account(tmp_path, dbt_target):
    objects = _objects()
    # The same coupon twice within one account, and a charge of account B naming a customer of account A.
    objects["coupons"][ACCOUNT_A].append(build("coupon", id="25OFF"))
    objects["charges"][ACCOUNT_B].append(build("charge", id="ch_foreign", customer="cus_A1"))
    write_raw_tables(tmp_path / "warehouse.duckdb", objects, SYNCED_AT)

    _dbt("build", tmp_path, dbt_target, expect_success=False)
    statuses = _statuses(dbt_target)

    def status(prefix: str) -> str:
        (found,) = [s for node, s in statuses.items() if node.startswith(prefix)]
        return found

    assert status("unique_per_account_stg_stripe__coupons_coupon_id") == "fail"
    assert statuses["model.stripe_warehouse.stripe__coupons"] == "skipped"  # a failed key stops the table
    assert status("relationships_per_account_stripe__charges_customer_id") == "warn"
    assert status("unique_per_account_stg_stripe__charges_charge_id") == "pass"


def test_tables_land_in_the_contract_schemas_under_plain_names(warehouse):
    database, _ = warehouse
    rows = _query(
        database,
        """
        select table_schema, table_name, table_type from information_schema.tables
        where table_schema in ('stripe', 'stripe_staging') order by all
    """,
    )
    tables = {(schema, name) for schema, name, kind in rows if kind == "BASE TABLE"}
    views = {(schema, name) for schema, name, kind in rows if kind == "VIEW"}
    seven = ("charges", "coupons", "customers", "events", "invoices", "plans", "subscriptions")
    assert {("stripe", t) for t in seven} <= tables
    assert {("stripe_staging", f"stg_stripe__{t}") for t in seven} <= views


def test_rows_per_account(warehouse):
    database, _ = warehouse
    counts = {}
    for table in ("customers", "charges", "coupons", "invoices", "plans", "subscriptions", "events"):
        for account_id, n in _query(database, f"select account_id, count(*) from stripe.{table} group by 1"):
            counts[(table, account_id)] = n
    assert counts == {
        ("customers", ACCOUNT_A): 4,
        ("customers", ACCOUNT_B): 1,
        ("charges", ACCOUNT_A): 3,
        ("charges", ACCOUNT_B): 1,
        ("coupons", ACCOUNT_A): 1,
        ("coupons", ACCOUNT_B): 1,
        ("invoices", ACCOUNT_A): 1,
        ("invoices", ACCOUNT_B): 1,
        ("plans", ACCOUNT_A): 1,
        ("plans", ACCOUNT_B): 1,
        ("subscriptions", ACCOUNT_A): 1,
        ("subscriptions", ACCOUNT_B): 1,
        ("events", ACCOUNT_A): 1,
        ("events", ACCOUNT_B): 1,
    }


def test_same_user_chosen_ids_stay_apart_per_account(warehouse):
    database, _ = warehouse
    coupons = _query(
        database,
        """
        select account_id, coupon_id, duration, percent_off, amount_off, amount_off_decimal,
               duration_in_months
        from stripe.coupons order by account_id
    """,
    )
    assert coupons == [
        (ACCOUNT_A, "25OFF", "once", Decimal("25"), None, None, None),
        (ACCOUNT_B, "25OFF", "repeating", None, 2500, Decimal("25"), 3),
    ]
    plans = _query(
        database,
        """
        select account_id, plan_id, recurring_interval, amount, amount_decimal
        from stripe.plans order by account_id
    """,
    )
    assert plans == [
        (ACCOUNT_A, "gold", "month", 2000, Decimal("20")),
        (ACCOUNT_B, "gold", "year", 50000, Decimal("50000")),
    ]


def test_amounts_in_major_units_follow_the_currency_exponent(warehouse):
    database, _ = warehouse
    charges = _query(
        database,
        """
        select charge_id, currency, amount, amount_decimal, amount_refunded_decimal
        from stripe.charges where account_id = ? order by charge_id
    """,
        ACCOUNT_A,
    )
    assert charges == [
        ("ch_bhd", "bhd", 12345, Decimal("12.345"), Decimal("0")),  # three-decimal currency
        ("ch_jpy", "jpy", 1500, Decimal("1500"), Decimal("500")),  # zero-decimal currency
        ("ch_usd", "usd", 1999, Decimal("19.99"), Decimal("0")),
    ]


def test_fields_are_extracted_renamed_and_typed(warehouse):
    database, _ = warehouse
    charge = _query(
        database,
        """
        select status, is_paid, payment_method_type, card_brand, failure_code, created_at
        from stripe.charges where charge_id = 'ch_bhd'
    """,
    )
    assert charge == [("failed", False, "card", "visa", "card_declined", datetime(2009, 2, 13, 23, 31, 30))]

    invoice = _query(
        database,
        """
        select subscription_id, invoice_number, status, total_discount_amount, tax, tax_decimal,
               created_at, finalized_at, paid_at, voided_at, synced_at
        from stripe.invoices where invoice_id = 'in_A1'
    """,
    )
    assert invoice == [
        (
            "sub_A1",
            "A1-0001",
            "paid",
            500,
            300,
            Decimal("3"),
            datetime(2026, 1, 1),
            datetime(2026, 1, 1, 0, 1),
            datetime(2026, 1, 1, 1),
            None,
            datetime(2026, 3, 1, 12, 30),  # synced_at as a UTC timestamp without time zone
        )
    ]
    assert _query(
        database,
        "select subscription_id, total_discount_amount from stripe.invoices where invoice_id = 'in_B1'",
    ) == [(None, 0)]

    event = _query(
        database,
        """
        select event_type, object_id, object_type, previous_attributes
        from stripe.events where event_id = 'evt_A1'
    """,
    )
    assert event == [("invoice.paid", "in_A1", "invoice", '{"status":"open"}')]


def test_deleted_objects_are_kept_and_flagged(warehouse):
    database, _ = warehouse
    customers = _query(
        database,
        """
        select customer_id, email, is_deleted, created_at from stripe.customers
        where account_id = ? order by customer_id
    """,
        ACCOUNT_A,
    )
    assert customers[0] == ("cus_A1", "ada@example.com", False, datetime(2026, 1, 1))
    assert customers[3] == ("cus_A4", None, True, None)


def test_parse_needs_no_warehouse(tmp_path, dbt_target):
    """Dagster loads the manifest of `dbt parse`, which runs before any warehouse exists."""
    manifest = dbt_target / "manifest.json"
    manifest.unlink(missing_ok=True)
    _dbt("parse", tmp_path, dbt_target)
    assert manifest.exists()
    assert not (tmp_path / "warehouse.duckdb").exists()
