"""The stripe_raw rows test_dbt_build.py builds the dbt project on: two accounts, every raw table, the
shapes the ingester writes (child lists under their parent's id)."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestration.simulator.templates import build
from tests.transform.raw_warehouse import StripeObjects

ACCOUNT_A = "acct_1AaaaaaaaaaaaaaA"
ACCOUNT_B = "acct_1BbbbbbbbbbbbbbB"
SYNCED_AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
CREATED = 1767225600  # 2026-01-01 00:00:00 UTC
DAY = 86400


def all_objects() -> StripeObjects:
    objects = {**_seven_tables(), **_catalog(), **_billing(), **_money(), **_accounts()}
    # What the automatic payout po_A1 (reconciled) paid out, read under it: the charge's transaction, whose net
    # is the payout's amount.
    balances_a = objects["balance_transactions"][ACCOUNT_A]
    assert isinstance(balances_a, list)
    objects["payout_balance_transactions"] = {ACCOUNT_A: {"po_A1": [b for b in balances_a if b["id"] == "txn_A1"]}}
    return objects


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
