"""Builds the dbt project on a temporary DuckDB file whose stripe_raw tables hold two accounts.

Both accounts have a coupon "25OFF" and a plan and price "gold": Stripe lets users choose those ids, so they
only identify an object together with account_id, and the per-account key tests must pass on them. Every raw
table has rows in both accounts, child lists (invoice lines, credit note lines, subscription items) under
their parent's id as the ingester writes them.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.simulator.templates import build
from tests.transform.dbt_build_rows import ACCOUNT_A, ACCOUNT_B, SYNCED_AT, all_objects
from tests.transform.dbt_runner import run_dbt
from tests.transform.raw_warehouse import RAW_TABLES, write_raw_tables

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The objects here are dated early 2026 while the build runs at today's date: data-lag thresholds (hours, vars of
# dbt_project.yml) large enough that the lag checks pass on them. Every run passes them, so that dbt's partial
# parse (which a change of vars invalidates) is reused across the runs of the session.
LAG_VARS = json.dumps(
    {
        "stripe_data_lag_warn_hours": 1_000_000,
        "stripe_data_lag_error_hours": 1_000_000,
        "stripe_data_lag_table_hours": {},
    }
)


@pytest.fixture(scope="session")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The target folder of every dbt run here: runs after the first reuse its parse (about 5 s each)."""
    return tmp_path_factory.mktemp("dbt_target")


def _dbt(command: str, run_dir: Path, target: Path, *, expect_success: bool = True) -> None:
    """Runs a dbt command on run_dir/warehouse.duckdb, with lag thresholds the old fixture data meets."""
    run_dbt(run_dir, target, command, "--vars", LAG_VARS, expect_success=expect_success)


def _statuses(target: Path) -> dict[str, str]:
    """Status of every node of the last run (success, pass, warn, fail, error, skipped), by unique id."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].removeprefix("test.stripe_warehouse."): r["status"] for r in results}


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory, dbt_target: Path) -> tuple[Path, dict[str, str]]:
    """The DuckDB file after `dbt build` (seeds, models and tests), and the status of every node."""
    run_dir = tmp_path_factory.mktemp("dbt_build")
    write_raw_tables(run_dir / "warehouse.duckdb", all_objects(), SYNCED_AT)
    _dbt("build", run_dir, dbt_target)
    return run_dir / "warehouse.duckdb", _statuses(dbt_target)


@pytest.fixture(scope="session")
def database(warehouse: tuple[Path, dict[str, str]]) -> Path:
    """The DuckDB file after `dbt build`, for the tests that query it."""
    return warehouse[0]


def _query(database: Path, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql, params).fetchall()


def _records(database: Path, sql: str, *params: object) -> list[dict]:
    """The rows of `sql` as dicts by column name, for the wide tables."""
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _pick(record: dict, *columns: str) -> tuple:
    return tuple(record[c] for c in columns)


def test_build_passes_every_model_and_test(warehouse):
    _, statuses = warehouse
    # An exposure builds nothing: dbt reports it as no-op.
    assert {
        node: s
        for node, s in statuses.items()
        if s not in ("success", "pass") and not (node.startswith("exposure.") and s == "no-op")
    } == {}
    # The build really ran the per-account key and relationship tests, not only the models.
    assert any(node.startswith("unique_per_account_stripe__coupons_") for node in statuses)
    assert any(node.startswith("relationships_per_account_stripe__charges_") for node in statuses)
    assert any(node.startswith("relationships_per_account_stripe__credit_note_line_items_") for node in statuses)


def test_per_account_tests_catch_a_repeated_key_and_an_id_from_another_account(tmp_path, dbt_target):
    objects = all_objects()
    # The same coupon twice within one account, and a charge of account B naming a customer of account A.
    objects["coupons"][ACCOUNT_A].append(build("coupon", id="25OFF"))
    objects["charges"][ACCOUNT_B].append(build("charge", id="ch_foreign", customer="cus_A1"))
    write_raw_tables(tmp_path / "warehouse.duckdb", objects, SYNCED_AT)

    _dbt("build", tmp_path, dbt_target, expect_success=False)
    statuses = _statuses(dbt_target)

    def status(prefix: str) -> str:
        (found,) = [s for node, s in statuses.items() if node.startswith(prefix)]
        return found

    # The repeated coupon fails the first per-account key test that reads it: the raw table's where the source
    # has one, else the `stripe` table's (staging views leave their keys' tests to their `stripe` twins); and a
    # failed key stops what reads the table (here the discount periods of the MRR, and the MRR after them).
    coupon_keys = [
        s
        for node, s in statuses.items()
        if node.startswith(("source_unique_per_account_stripe_raw_coupons_id", "unique_per_account_stripe__coupons_"))
    ]
    assert "fail" in coupon_keys
    assert statuses["model.stripe_warehouse.int_stripe__discount_periods"] == "skipped"
    assert status("relationships_per_account_stripe__charges_customer_id") == "warn"
    assert status("unique_per_account_stripe__charges_charge_id") == "pass"


def test_each_staging_view_is_read_by_its_stripe_table_alone(warehouse, dbt_target):
    # Staging is views: any other reader (an intermediate model, a test, a snapshot) would parse the raw JSON
    # again. The `stripe` tables are its materialized twins, and everything downstream reads those.
    manifest = json.loads((dbt_target / "manifest.json").read_text())
    readers: dict[str, set[str]] = {}
    for node in [*manifest["nodes"].values(), *manifest.get("unit_tests", {}).values()]:
        for parent in node.get("depends_on", {}).get("nodes", []):
            if parent.startswith("model.stripe_warehouse.stg_stripe__"):
                readers.setdefault(parent.split(".")[-1], set()).add(node["unique_id"])
    # Discounts read with invoices are the same objects as those read with subscriptions: one stripe table.
    twin = {table: table for table in RAW_TABLES} | {"invoice_discounts": "discounts"}
    assert readers == {f"stg_stripe__{t}": {f"model.stripe_warehouse.stripe__{twin[t]}"} for t in RAW_TABLES}


def test_tables_land_in_the_contract_schemas_under_plain_names(database):
    rows = _query(
        database,
        """
        select table_schema, table_name, table_type from information_schema.tables
        where table_schema in ('stripe', 'stripe_staging') order by all
    """,
    )
    tables = {(schema, name) for schema, name, kind in rows if kind == "BASE TABLE"}
    views = {(schema, name) for schema, name, kind in rows if kind == "VIEW"}
    assert {("stripe", t) for t in RAW_TABLES if t != "invoice_discounts"} <= tables
    assert ("stripe", "invoice_discounts") not in tables  # they are stripe.discounts rows
    # Staging is views, each read by its `stripe` table alone: the raw JSON is parsed once per build, there.
    assert {("stripe_staging", f"stg_stripe__{t}") for t in RAW_TABLES} <= views


def test_rows_per_account(database):
    counts = {}
    for table in RAW_TABLES:
        if table == "invoice_discounts":
            continue  # rows of stripe.discounts (the unit test discounts_keep_ended_ones_from_invoices_and_events)
        for account_id, n in _query(database, f"select account_id, count(*) from stripe.{table} group by 1"):
            counts[(table, account_id)] = n
    # Every raw row reaches its clean table (deleted ones included), in its own account.
    expected = {}
    for table, accounts in all_objects().items():
        for account_id, rows in accounts.items():
            expected[(table, account_id)] = sum(map(len, rows.values())) if isinstance(rows, dict) else len(rows)
    assert counts == expected
    assert counts[("customers", ACCOUNT_A)] == 4
    assert counts[("prices", ACCOUNT_A)] == 3
    assert counts[("subscription_items", ACCOUNT_A)] == 2


def test_same_user_chosen_ids_stay_apart_per_account(database):
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
    prices = _query(
        database,
        """
        select account_id, price_id, currency, recurring_interval, unit_amount, unit_amount_decimal
        from stripe.prices where price_id = 'gold' order by account_id
    """,
    )
    assert prices == [
        (ACCOUNT_A, "gold", "usd", "month", 2000, Decimal("20")),
        (ACCOUNT_B, "gold", "jpy", "year", 50000, Decimal("50000")),
    ]


def test_amounts_in_major_units_follow_the_currency_exponent(database):
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


def test_fields_are_extracted_renamed_and_typed(database):
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


def test_deleted_objects_are_kept_and_flagged(database):
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


def test_prices_keep_tiers_and_sub_cent_amounts(database):
    prices = _records(database, "select * from stripe.prices where account_id = ? order by price_id", ACCOUNT_A)
    gold, metered, tiered = prices
    assert (gold["price_type"], gold["billing_scheme"], gold["recurring_interval"], gold["usage_type"]) == (
        "recurring",
        "per_unit",
        "month",
        "licensed",
    )
    assert (gold["unit_amount"], gold["unit_amount_decimal"], gold["product_id"]) == (2000, Decimal("20"), "prod_A1")
    # 0.125 cents a unit: no integer unit_amount, but exact in major units and as Stripe's string.
    assert (metered["unit_amount"], metered["unit_amount_decimal"], metered["unit_amount_exact"]) == (
        None,
        Decimal("0.00125"),
        Decimal("0.125"),
    )
    assert (metered["usage_type"], metered["meter_id"], metered["transform_quantity_divide_by"]) == (
        "metered",
        "mtr_A1",
        1000,
    )
    assert (tiered["billing_scheme"], tiered["tiers_mode"], tiered["recurring_interval"]) == (
        "tiered",
        "graduated",
        "year",
    )
    assert [(t["up_to"], t["flat_amount"], t["unit_amount"]) for t in json.loads(tiered["tiers"])] == [
        (10, 5000, None),
        (None, None, 400),
    ]
    assert gold["tiers"] is None
    (setup,) = _records(database, "select * from stripe.prices where price_id = 'price_setup'")
    assert (setup["price_type"], setup["recurring_interval"], setup["currency"]) == ("one_time", None, "eur")


def test_products_and_deleted_ones(database):
    products = _query(
        database,
        """
        select product_id, product_name, product_type, is_active, is_deleted, updated_at
        from stripe.products where product_id in ('prod_A1', 'prod_B2') order by all
    """,
    )
    assert products == [
        ("prod_A1", "Pro", "service", True, False, datetime(2026, 1, 2)),
        ("prod_B2", None, None, None, True, None),  # Stripe's deleted stub
    ]


def test_subscription_items_carry_price_period_and_parent(database):
    items = _records(database, "select * from stripe.subscription_items where account_id = ? order by 2", ACCOUNT_A)
    assert _pick(items[0], "subscription_id", "price_id", "plan_id", "product_id", "quantity", "discounts") == (
        "sub_A1",
        "gold",
        "gold",
        "prod_A1",
        3,
        '["di_A1"]',
    )
    # The current period lives on items since API version 2025-03-31.
    assert _pick(items[0], "current_period_start_at", "current_period_end_at") == (
        datetime(2026, 1, 1),
        datetime(2026, 2, 1),
    )
    # si_A2 does not name its subscription: the parent it was read under does.
    assert _pick(items[1], "subscription_item_id", "subscription_id", "price_id", "quantity") == (
        "si_A2",
        "sub_A1",
        "price_tiered",
        12,
    )


def test_invoice_lines_read_parent_and_pricing(database):
    subscription_line, proration_line = _records(
        database, "select * from stripe.invoice_line_items where account_id = ? order by 2", ACCOUNT_A
    )
    assert _pick(
        subscription_line,
        "invoice_id",
        "subscription_id",
        "subscription_item_id",
        "invoice_item_id",
        "price_id",
        "product_id",
        "parent_type",
        "is_proration",
    ) == ("in_A1", "sub_A1", "si_A1", None, "gold", "prod_A1", "subscription_item_details", False)
    assert _pick(
        subscription_line, "quantity", "amount", "amount_decimal", "discount_amount", "unit_amount_decimal"
    ) == (3, 6000, Decimal("60"), 500, Decimal("20"))
    assert _pick(subscription_line, "period_start_at", "period_end_at") == (datetime(2026, 1, 1), datetime(2026, 2, 1))
    # An invoice item's proration credit, read under in_A1 without naming it.
    assert _pick(
        proration_line, "line_item_id", "invoice_id", "subscription_id", "invoice_item_id", "is_proration", "amount"
    ) == ("il_A2", "in_A1", "sub_A1", "ii_A1", True, -500)
    (line_b,) = _records(database, "select * from stripe.invoice_line_items where account_id = ?", ACCOUNT_B)
    assert _pick(line_b, "invoice_id", "subscription_id", "price_id", "currency", "amount_decimal") == (
        "in_B1",
        None,
        "price_setup",
        "eur",
        Decimal("42"),
    )


def test_invoice_items_and_discounts(database):
    (item,) = _records(database, "select * from stripe.invoice_items where invoice_item_id = 'ii_A1'")
    assert _pick(
        item, "invoice_id", "subscription_id", "price_id", "is_proration", "amount_decimal", "quantity_exact"
    ) == ("in_A1", "sub_A1", "gold", True, Decimal("-5"), Decimal("1.5"))
    assert item["created_at"] == datetime(2026, 1, 2)  # from Stripe's `date`
    discounts = _query(
        database,
        """
        select account_id, coupon_id, customer_id, subscription_id, source_type, start_at, end_at
        from stripe.discounts order by account_id
    """,
    )
    assert discounts == [
        (ACCOUNT_A, "25OFF", "cus_A1", "sub_A1", "coupon", datetime(2026, 1, 1), None),
        (ACCOUNT_B, "25OFF", "cus_B1", "sub_B1", "coupon", datetime(2026, 1, 1), datetime(2026, 4, 1)),
    ]


def test_money_movements(database):
    refunds = _query(
        database, "select refund_id, charge_id, status, reason, amount_decimal from stripe.refunds order by 1"
    )
    assert refunds == [
        ("re_A1", "ch_jpy", "succeeded", "requested_by_customer", Decimal("500")),  # zero-decimal currency
        ("re_B1", "ch_eur", "pending", None, Decimal("42")),
    ]

    charge_txn, refund_txn = _records(
        database, "select * from stripe.balance_transactions where account_id = ? order by 2", ACCOUNT_A
    )
    assert _pick(
        charge_txn, "balance_transaction_type", "source_id", "status", "amount_decimal", "fee_decimal", "net_decimal"
    ) == ("charge", "ch_usd", "available", Decimal("19.99"), Decimal("0.88"), Decimal("19.11"))
    assert charge_txn["available_on_at"] == datetime(2026, 1, 3)
    assert _pick(refund_txn, "balance_transaction_type", "net", "exchange_rate") == ("refund", -333, Decimal("0.00666"))

    (intent,) = _records(database, "select * from stripe.payment_intents where payment_intent_id = 'pi_A1'")
    assert _pick(
        intent,
        "status",
        "latest_charge_id",
        "amount_decimal",
        "last_payment_error_code",
        "last_payment_error_decline_code",
        "last_payment_error_message",
    ) == (
        "requires_payment_method",
        "ch_bhd",
        Decimal("12.345"),  # three-decimal currency
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    )

    disputes = _query(
        database, "select dispute_id, charge_id, status, is_charge_refundable from stripe.disputes order by 1"
    )
    assert disputes == [("dp_A1", "ch_usd", "needs_response", True), ("dp_B1", "ch_eur", "won", False)]
    assert _query(database, "select evidence_due_by_at from stripe.disputes where dispute_id = 'dp_A1'") == [
        (datetime(2026, 1, 8),)
    ]

    payouts = _query(
        database,
        "select payout_id, status, method, is_automatic, amount_decimal, failure_code from stripe.payouts order by 1",
    )
    assert payouts == [
        ("po_A1", "paid", "standard", True, Decimal("19.11"), None),
        ("po_B1", "failed", "instant", False, Decimal("40.5"), "account_closed"),
    ]
    assert _query(database, "select arrival_at from stripe.payouts where payout_id = 'po_A1'") == [
        (datetime(2026, 1, 3),)
    ]


def test_invoice_payments(database):
    rows = _query(
        database,
        """
        select account_id, invoice_payment_id, invoice_id, payment_type, payment_intent_id, payment_charge_id,
               status, is_default, amount_paid_decimal, amount_requested_decimal, paid_at
        from stripe.invoice_payments order by 1
    """,
    )
    assert rows == [
        (
            ACCOUNT_A,
            "inpay_A1",
            "in_A1",
            "charge",
            None,
            "ch_usd",
            "paid",
            True,
            Decimal("18"),
            Decimal("18"),
            datetime(2026, 1, 1, 1),
        ),
        (ACCOUNT_B, "inpay_B1", "in_B1", "payment_intent", "pi_B1", None, "open", True, None, Decimal("42"), None),
    ]
    # A charge made without a payment intent finds its invoice through the invoice payment naming it.
    assert _query(
        database, "select invoice_id, subscription_id from analytics.payments where charge_id = 'ch_usd'"
    ) == [("in_A1", "sub_A1")]


def test_credit_notes_and_their_lines(database):
    credit_notes = _query(
        database,
        """
        select credit_note_id, invoice_id, credit_note_number, status, credit_note_type, amount_decimal, voided_at
        from stripe.credit_notes order by 1
    """,
    )
    assert credit_notes == [
        ("cn_A1", "in_A1", "A1-0001-CN-01", "issued", "post_payment", Decimal("5"), None),
        ("cn_B1", "in_B1", "B1-0001-CN-01", "void", "pre_payment", Decimal("10"), datetime(2026, 1, 2)),
    ]
    # The lines name neither their credit note nor a currency: both come from the credit note read above them.
    lines = _query(
        database,
        """
        select credit_note_line_item_id, credit_note_id, invoice_line_item_id, line_item_type, currency,
               amount_decimal, unit_amount_decimal
        from stripe.credit_note_line_items order by 1
    """,
    )
    assert lines == [
        ("cnli_A1", "cn_A1", "il_A1", "invoice_line_item", "usd", Decimal("5"), None),
        ("cnli_B1", "cn_B1", None, "custom_line_item", "eur", Decimal("10"), Decimal("10")),
    ]


def test_accounts(database):
    accounts = _query(
        database,
        """
        select account_id, business_name, country, default_currency, account_type, dashboard_timezone,
               is_charges_enabled
        from stripe.accounts order by 1
    """,
    )
    assert accounts == [
        (ACCOUNT_A, "Ada", "US", "usd", "standard", "Etc/UTC", True),
        (ACCOUNT_B, "Bee", "DE", "eur", "express", "Europe/Berlin", False),  # the dashboard's display name
    ]


def test_parse_needs_no_warehouse(tmp_path, dbt_target):
    """Dagster loads the manifest of `dbt parse`, which runs before any warehouse exists."""
    manifest = dbt_target / "manifest.json"
    manifest.unlink(missing_ok=True)
    _dbt("parse", tmp_path, dbt_target)
    assert manifest.exists()
    assert not (tmp_path / "warehouse.duckdb").exists()
