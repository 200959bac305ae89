"""Builds the dbt project on a temporary DuckDB file whose stripe_raw tables hold two accounts.

Both accounts have a coupon "25OFF" and a plan and price "gold": Stripe lets users choose those ids, so they
only identify an object together with account_id, and the per-account key tests must pass on them. Every raw
table has rows in both accounts, child lists (invoice lines, credit note lines, subscription items) under
their parent's id as the ingester writes them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.simulator.templates import build
from tests.transform.dbt_runner import run_dbt
from tests.transform.raw_warehouse import RAW_TABLES, StripeObjects, write_raw_tables

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
ACCOUNT_A = "acct_1AaaaaaaaaaaaaaA"
ACCOUNT_B = "acct_1BbbbbbbbbbbbbbB"
SYNCED_AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
CREATED = 1767225600  # 2026-01-01 00:00:00 UTC
DAY = 86400


def _objects() -> StripeObjects:
    return {**_seven_tables(), **_catalog(), **_billing(), **_money(), **_accounts()}


def _seven_tables() -> StripeObjects:
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


def _price(price_id: str, **fields) -> dict:
    """A recurring monthly per-unit price unless `fields` say otherwise."""
    return build("price", id=price_id, created=CREATED, **fields)


def _catalog() -> StripeObjects:
    recurring = {"interval": "month", "interval_count": 1, "meter": None, "usage_type": "licensed"}
    return {
        "products": {
            ACCOUNT_A: [build("product", id="prod_A1", name="Pro", created=CREATED, updated=CREATED + DAY)],
            ACCOUNT_B: [
                build("product", id="prod_B1", name="Pro EU", created=CREATED),
                # A product deleted on Stripe: the ingester keeps the stub Stripe returns for it.
                {"id": "prod_B2", "object": "product", "deleted": True},
            ],
        },
        "prices": {
            ACCOUNT_A: [
                _price("gold", product="prod_A1", unit_amount=2000, unit_amount_decimal="2000"),
                # Tiered, with the tiers the ingester expands (expand[]=data.tiers): 50.00 flat for the first 10
                # seats, then 4.00 a seat.
                _price(
                    "price_tiered",
                    product="prod_A1",
                    billing_scheme="tiered",
                    tiers_mode="graduated",
                    unit_amount=None,
                    unit_amount_decimal=None,
                    recurring={**recurring, "interval": "year"},
                    tiers=[
                        {
                            "flat_amount": 5000,
                            "flat_amount_decimal": "5000",
                            "unit_amount": None,
                            "unit_amount_decimal": None,
                            "up_to": 10,
                        },
                        {
                            "flat_amount": None,
                            "flat_amount_decimal": None,
                            "unit_amount": 400,
                            "unit_amount_decimal": "400",
                            "up_to": None,
                        },
                    ],
                ),
                # Metered at a fraction of a cent per unit (0.125 cents), billed per thousand units.
                _price(
                    "price_metered",
                    product="prod_A1",
                    unit_amount=None,
                    unit_amount_decimal="0.125",
                    recurring={**recurring, "meter": "mtr_A1", "usage_type": "metered"},
                    transform_quantity={"divide_by": 1000, "round": "up"},
                ),
            ],
            ACCOUNT_B: [
                _price(
                    "gold",
                    product="prod_B1",
                    currency="jpy",
                    unit_amount=50000,
                    unit_amount_decimal="50000",
                    recurring={**recurring, "interval": "year"},
                ),
                _price(
                    "price_setup",
                    product="prod_B1",
                    currency="eur",
                    unit_amount=4200,
                    unit_amount_decimal="4200",
                    type="one_time",
                    recurring=None,
                ),
            ],
        },
    }


def _credit_note(credit_type: str, amount: int, **fields) -> dict:
    """A credit note of `amount` (also its subtotal and total), credited before or after payment as
    `credit_type` says ('pre_payment' or 'post_payment')."""
    return build(
        "credit_note",
        type=credit_type,
        amount=amount,
        subtotal=amount,
        total=amount,
        pre_payment_amount=amount if credit_type == "pre_payment" else 0,
        post_payment_amount=amount if credit_type == "post_payment" else 0,
        **fields,
    )


def _billing() -> StripeObjects:
    prices = {(a, p["id"]): p for a, ps in _catalog()["prices"].items() for p in ps}
    gold_a, tiered_a, gold_b = prices[ACCOUNT_A, "gold"], prices[ACCOUNT_A, "price_tiered"], prices[ACCOUNT_B, "gold"]
    pricing = {"type": "price_details", "price_details": {"price": "gold", "product": "prod_A1"}}
    return {
        "subscription_items": {
            ACCOUNT_A: {
                "sub_A1": [
                    build(
                        "subscription_item",
                        id="si_A1",
                        subscription="sub_A1",
                        price=gold_a,
                        plan=build("plan", id="gold", product="prod_A1"),
                        quantity=3,
                        discounts=["di_A1"],
                        created=CREATED,
                        current_period_start=CREATED,
                        current_period_end=CREATED + 31 * DAY,
                    ),
                    # Without `subscription`: the parent the ingester read it under stands in.
                    build(
                        "subscription_item",
                        id="si_A2",
                        subscription=None,
                        price=tiered_a,
                        plan=build("plan", id="price_tiered"),
                        quantity=12,
                        discounts=[],
                    ),
                ]
            },
            ACCOUNT_B: {
                "sub_B1": [
                    build(
                        "subscription_item",
                        id="si_B1",
                        subscription="sub_B1",
                        price=gold_b,
                        plan=build("plan", id="gold", currency="jpy"),
                    )
                ]
            },
        },
        "invoice_line_items": {
            ACCOUNT_A: {
                "in_A1": [
                    build(
                        "line_item",
                        id="il_A1",
                        invoice="in_A1",
                        amount=6000,
                        quantity=3,
                        discount_amounts=[{"amount": 300, "discount": "di_A1"}, {"amount": 200, "discount": "di_2"}],
                        parent={
                            "type": "subscription_item_details",
                            "invoice_item_details": None,
                            "subscription_item_details": {
                                "invoice_item": None,
                                "proration": False,
                                "proration_details": {"credited_items": None},
                                "subscription": "sub_A1",
                                "subscription_item": "si_A1",
                            },
                        },
                        pricing={**pricing, "unit_amount_decimal": "2000"},
                        period={"start": CREATED, "end": CREATED + 31 * DAY},
                    ),
                    # A proration credit from an invoice item, without `invoice`: the parent stands in.
                    build(
                        "line_item",
                        id="il_A2",
                        invoice=None,
                        amount=-500,
                        parent={
                            "type": "invoice_item_details",
                            "invoice_item_details": {
                                "invoice_item": "ii_A1",
                                "proration": True,
                                "proration_details": {"credited_items": None},
                                "subscription": "sub_A1",
                            },
                            "subscription_item_details": None,
                        },
                        pricing={**pricing, "unit_amount_decimal": "-500"},
                    ),
                ]
            },
            ACCOUNT_B: {
                "in_B1": [
                    build(
                        "line_item",
                        id="il_B1",
                        invoice="in_B1",
                        currency="eur",
                        amount=4200,
                        parent={
                            "type": "invoice_item_details",
                            "invoice_item_details": {
                                "invoice_item": "ii_B1",
                                "proration": False,
                                "proration_details": None,
                                "subscription": None,
                            },
                            "subscription_item_details": None,
                        },
                        pricing={
                            "type": "price_details",
                            "price_details": {"price": "price_setup", "product": "prod_B1"},
                            "unit_amount_decimal": "4200",
                        },
                    )
                ]
            },
        },
        "invoice_items": {
            ACCOUNT_A: [
                build(
                    "invoiceitem",
                    id="ii_A1",
                    customer="cus_A1",
                    invoice="in_A1",
                    amount=-500,
                    net_amount=-500,
                    proration=True,
                    date=CREATED + DAY,
                    parent={"type": "subscription_details", "subscription_details": {"subscription": "sub_A1"}},
                    pricing={**pricing, "unit_amount_decimal": "-500"},
                    quantity_decimal="1.5",
                )
            ],
            ACCOUNT_B: [
                build(
                    "invoiceitem",
                    id="ii_B1",
                    customer="cus_B1",
                    invoice="in_B1",
                    currency="eur",
                    amount=4200,
                    net_amount=4200,
                    parent=None,
                )
            ],
        },
        "discounts": {
            ACCOUNT_A: [
                build(
                    "discount",
                    id="di_A1",
                    customer="cus_A1",
                    subscription="sub_A1",
                    start=CREATED,
                    end=None,
                    source={"coupon": "25OFF", "type": "coupon"},
                )
            ],
            ACCOUNT_B: [
                build(
                    "discount",
                    id="di_B1",
                    customer="cus_B1",
                    subscription="sub_B1",
                    start=CREATED,
                    end=CREATED + 90 * DAY,
                    source={"coupon": "25OFF", "type": "coupon"},
                )
            ],
        },
        "credit_notes": {
            ACCOUNT_A: [
                _credit_note(
                    "post_payment",
                    500,
                    id="cn_A1",
                    invoice="in_A1",
                    customer="cus_A1",
                    number="A1-0001-CN-01",
                    status="issued",
                    voided_at=None,
                    created=CREATED + DAY,
                    effective_at=CREATED + DAY,
                )
            ],
            ACCOUNT_B: [
                _credit_note(
                    "pre_payment",
                    1000,
                    id="cn_B1",
                    number="B1-0001-CN-01",
                    invoice="in_B1",
                    customer="cus_B1",
                    currency="eur",
                    status="void",
                    created=CREATED,
                    voided_at=CREATED + DAY,
                )
            ],
        },
        # in_A1 paid by a charge made without a payment intent; in_B1 by pi_B1, still open.
        "invoice_payments": {
            ACCOUNT_A: [
                build(
                    "invoice_payment",
                    id="inpay_A1",
                    invoice="in_A1",
                    payment={"type": "charge", "charge": "ch_usd"},
                    amount_paid=1800,
                    amount_requested=1800,
                    currency="usd",
                    status="paid",
                    livemode=False,
                    status_transitions={"canceled_at": None, "paid_at": CREATED + 3600},
                    created=CREATED + 60,
                )
            ],
            ACCOUNT_B: [
                build(
                    "invoice_payment",
                    id="inpay_B1",
                    invoice="in_B1",
                    payment={"type": "payment_intent", "payment_intent": "pi_B1"},
                    amount_paid=None,
                    amount_requested=4200,
                    currency="eur",
                    status="open",
                    is_default=True,
                    livemode=False,
                    created=CREATED,
                )
            ],
        },
        # A credit note line does not name its credit note: only the parent id it is read under does.
        "credit_note_line_items": {
            ACCOUNT_A: {
                "cn_A1": [
                    build(
                        "credit_note_line_item",
                        id="cnli_A1",
                        type="invoice_line_item",
                        invoice_line_item="il_A1",
                        amount=500,
                    )
                ]
            },
            ACCOUNT_B: {
                "cn_B1": [
                    build(
                        "credit_note_line_item",
                        id="cnli_B1",
                        type="custom_line_item",
                        invoice_line_item=None,
                        amount=1000,
                        unit_amount=1000,
                        unit_amount_decimal="1000",
                    )
                ]
            },
        },
    }


def _money() -> StripeObjects:
    evidence = build("dispute")["evidence_details"]
    return {
        "refunds": {
            ACCOUNT_A: [
                build(
                    "refund",
                    id="re_A1",
                    charge="ch_jpy",
                    amount=500,
                    currency="jpy",
                    status="succeeded",
                    reason="requested_by_customer",
                    balance_transaction="txn_A2",
                    created=CREATED,
                )
            ],
            ACCOUNT_B: [build("refund", id="re_B1", charge="ch_eur", amount=4200, currency="eur", status="pending")],
        },
        "balance_transactions": {
            ACCOUNT_A: [
                build(
                    "balance_transaction",
                    id="txn_A1",
                    source="ch_usd",
                    type="charge",
                    status="available",
                    currency="usd",
                    amount=1999,
                    fee=88,
                    net=1911,
                    created=CREATED,
                    available_on=CREATED + 2 * DAY,
                ),
                # The jpy refund, converted into the account's usd balance.
                build(
                    "balance_transaction",
                    id="txn_A2",
                    source="re_A1",
                    type="refund",
                    reporting_category="refund",
                    amount=-333,
                    fee=0,
                    net=-333,
                    exchange_rate=0.00666,
                ),
            ],
            ACCOUNT_B: [
                build(
                    "balance_transaction",
                    id="txn_B1",
                    source="ch_eur",
                    currency="eur",
                    amount=4200,
                    fee=150,
                    net=4050,
                    status="pending",
                )
            ],
        },
        "payment_intents": {
            ACCOUNT_A: [
                build(
                    "payment_intent",
                    id="pi_A1",
                    customer="cus_A3",
                    latest_charge="ch_bhd",
                    amount=12345,
                    currency="bhd",
                    status="requires_payment_method",
                    created=CREATED,
                    last_payment_error={
                        "code": "card_declined",
                        "decline_code": "insufficient_funds",
                        "message": "Your card has insufficient funds.",
                        "type": "card_error",
                    },
                )
            ],
            ACCOUNT_B: [
                build(
                    "payment_intent",
                    id="pi_B1",
                    customer="cus_B1",
                    latest_charge="ch_eur",
                    amount=4200,
                    amount_received=4200,
                    currency="eur",
                    status="succeeded",
                )
            ],
        },
        "disputes": {
            ACCOUNT_A: [
                build(
                    "dispute",
                    id="dp_A1",
                    charge="ch_usd",
                    amount=1999,
                    status="needs_response",
                    reason="fraudulent",
                    is_charge_refundable=True,
                    evidence_details={**evidence, "due_by": CREATED + 7 * DAY},
                )
            ],
            ACCOUNT_B: [
                build(
                    "dispute",
                    id="dp_B1",
                    charge="ch_eur",
                    amount=4200,
                    currency="eur",
                    status="won",
                    is_charge_refundable=False,
                )
            ],
        },
        "payouts": {
            ACCOUNT_A: [
                build(
                    "payout",
                    id="po_A1",
                    amount=1911,
                    currency="usd",
                    status="paid",
                    method="standard",
                    automatic=True,
                    arrival_date=CREATED + 2 * DAY,
                )
            ],
            ACCOUNT_B: [
                build(
                    "payout",
                    id="po_B1",
                    amount=4050,
                    currency="eur",
                    status="failed",
                    automatic=False,
                    method="instant",
                    failure_code="account_closed",
                )
            ],
        },
    }


def _accounts() -> StripeObjects:
    sample = build("account")
    return {
        "accounts": {
            ACCOUNT_A: [
                build(
                    "account",
                    id=ACCOUNT_A,
                    type="standard",
                    country="US",
                    default_currency="usd",
                    business_profile={**sample["business_profile"], "name": "Ada"},
                    settings={**sample["settings"], "dashboard": {"display_name": "Ada's", "timezone": "Etc/UTC"}},
                    charges_enabled=True,
                    payouts_enabled=True,
                    created=CREATED - 365 * DAY,
                )
            ],
            # No public business name: the dashboard's display name stands in.
            ACCOUNT_B: [
                build(
                    "account",
                    id=ACCOUNT_B,
                    country="DE",
                    default_currency="eur",
                    type="express",
                    settings={**sample["settings"], "dashboard": {"display_name": "Bee", "timezone": "Europe/Berlin"}},
                    charges_enabled=False,
                )
            ],
        }
    }


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
    write_raw_tables(run_dir / "warehouse.duckdb", _objects(), SYNCED_AT)
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
    assert {node: s for node, s in statuses.items() if s not in ("success", "pass")} == {}
    # The build really ran the per-account key and relationship tests, not only the models.
    assert any(node.startswith("unique_per_account_stripe__coupons_") for node in statuses)
    assert any(node.startswith("relationships_per_account_stripe__charges_") for node in statuses)
    assert any(node.startswith("relationships_per_account_stripe__credit_note_line_items_") for node in statuses)


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
    for table, accounts in _objects().items():
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
