"""The named billing patterns added for issue 11's catalogue (`orchestration.simulator.generate.patterns`): package and
tiered prices, licensed + metered items, a quantity change without proration, two subscriptions moving in one
month, three-decimal and two currencies, a deleted customer, a grandfathered price, a subscription schedule,
paused collection; and `price_scale` (two accounts sharing ids, not amounts). Objects checked over the store,
MRR from `expected_customer_mrr` against values worked out by hand from the prices."""

from __future__ import annotations

import pytest

from orchestration.simulator import SimulatedAccount, generate_account
from orchestration.simulator.generate.patterns import month_start
from orchestration.simulator.truth import expected_customer_mrr
from tests.simulator.sim_support import PATTERNS_NOW, mrr_value, pattern_month

NOW = PATTERNS_NOW


def _customer(pattern_account: SimulatedAccount, pattern: str) -> str:
    (customer,) = pattern_account.patterns[pattern]
    return customer


def _subscriptions(pattern_account: SimulatedAccount, customer: str) -> list[dict]:
    return sorted(
        pattern_account.store.select("subscriptions", [("customer", customer), ("status", "all")]),
        key=lambda s: s["created"],
    )


def _invoices(pattern_account: SimulatedAccount, customer: str) -> list[dict]:
    return sorted(pattern_account.store.select("invoices", [("customer", customer)]), key=lambda i: i["created"])


def _lines(pattern_account: SimulatedAccount, invoice: dict) -> list[dict]:
    return pattern_account.store.invoice_lines(invoice["id"], [("limit", "100")])["data"]


def _events(pattern_account: SimulatedAccount, kind: str, object_id: str) -> list[dict]:
    return [e for e in pattern_account.listable("events", type=kind) if e["data"]["object"]["id"] == object_id]


# Pattern → (months from now's month, MRR at that month's end, or at now for month 0), by hand:
HAND = {
    "package_pricing": [(-3, None), (-2, 150.0), (0, 150.0)],  # $50 × ceil(23 / 10) packs
    "graduated_tiers_flat": [(-2, 179.0), (0, 179.0)],  # 5 × 15 + 20 flat + 7 × 12
    "volume_tiers_flat": [(-2, 140.0), (0, 140.0)],  # 30 × 4 + 20 flat (the 11-50 tier)
    "licensed_and_metered": [(-3, 49.0), (0, 49.0)],  # the metered item is no MRR
    "quantity_change_without_proration": [(-4, 60.0), (-1, 60.0), (0, 96.0)],  # 5, then 8 seats × $12
    "two_subscriptions_same_month": [(-3, 73.0), (-2, 72.0), (0, 72.0)],  # 49 + 2 × 12, then 6 × 12
    "deleted_customer": [(-3, 49.0), (-1, 49.0), (0, 0.0)],  # canceled at deletion, 10 days ago
    "grandfathered_price": [(-12, 15.0), (-1, 15.0), (0, 15.0)],  # starter v1, archived, still $15
    "schedule_price_change": [(-4, 19.0), (-3, 19.0), (-2, 49.0), (0, 49.0)],  # starter, then the pro phase
}


@pytest.mark.parametrize("pattern", sorted(HAND))
def test_pattern_mrr_matches_the_hand_computed_values(pattern_account, pattern_mrr, pattern):
    customer = _customer(pattern_account, pattern)
    for months, expected in HAND[pattern]:
        assert mrr_value(pattern_mrr, customer, months) == expected, (pattern, months)


def test_package_pricing_objects(pattern_account):
    (sub,) = _subscriptions(pattern_account, _customer(pattern_account, "package_pricing"))
    (item,) = sub["items"]["data"]
    assert item["quantity"] == 23 and item["price"]["billing_scheme"] == "per_unit"
    assert item["price"]["transform_quantity"] == {"divide_by": 10, "round": "up"}
    assert item["plan"]["transform_usage"] == {"divide_by": 10, "round": "up"}
    first = _invoices(pattern_account, sub["customer"])[0]
    (line,) = _lines(pattern_account, first)
    assert line["quantity"] == 23 and line["amount"] == 15000 and first["total"] == 15000


@pytest.mark.parametrize(
    ("pattern", "quantity", "total"), [("graduated_tiers_flat", 12, 17900), ("volume_tiers_flat", 30, 14000)]
)
def test_tiered_prices_bill_their_tiers_with_flat_amounts(pattern_account, pattern, quantity, total):
    (sub,) = _subscriptions(pattern_account, _customer(pattern_account, pattern))
    (item,) = sub["items"]["data"]
    assert item["quantity"] == quantity and item["price"]["billing_scheme"] == "tiered"
    tiers = pattern_account.store.retrieve("prices", item["price"]["id"], ["tiers"])["tiers"]
    assert any(tier["flat_amount"] for tier in tiers)
    assert all(invoice["total"] == total for invoice in _invoices(pattern_account, sub["customer"]))


def test_licensed_and_metered_items(pattern_account):
    (sub,) = _subscriptions(pattern_account, _customer(pattern_account, "licensed_and_metered"))
    licensed, metered = sub["items"]["data"]
    assert licensed["price"]["recurring"]["usage_type"] == "licensed" and licensed["quantity"] == 1
    assert metered["price"]["recurring"]["usage_type"] == "metered" and "quantity" not in metered
    renewal = _invoices(pattern_account, sub["customer"])[1]
    assert {line["pricing"]["price_details"]["price"] for line in _lines(pattern_account, renewal)} == {
        licensed["price"]["id"],
        metered["price"]["id"],
    }


def test_quantity_change_without_proration(pattern_account):
    customer = _customer(pattern_account, "quantity_change_without_proration")
    (sub,) = _subscriptions(pattern_account, customer)
    assert sub["items"]["data"][0]["quantity"] == 8
    assert pattern_account.store.select("invoiceitems", [("customer", customer)]) == []  # no proration
    assert all(
        not line["parent"]["subscription_item_details"]["proration"]
        for i in _invoices(pattern_account, customer)
        for line in _lines(pattern_account, i)
    )
    changed = month_start(NOW, 0) + 12 * 3600
    (update,) = [
        e for e in _events(pattern_account, "customer.subscription.updated", sub["id"]) if e["created"] == changed
    ]
    assert update["data"]["previous_attributes"]["items"]["data"][0]["quantity"] == 5


def test_two_subscriptions_moving_in_one_month(pattern_account):
    pro, team = _subscriptions(pattern_account, _customer(pattern_account, "two_subscriptions_same_month"))
    assert pro["status"] == "canceled" and pro["ended_at"] == month_start(NOW, -2) + 19 * 86400
    assert team["status"] == "active" and team["items"]["data"][0]["quantity"] == 6


def test_three_decimal_currency(pattern_account, pattern_mrr):
    customer = _customer(pattern_account, "three_decimal_kwd")
    (sub,) = _subscriptions(pattern_account, customer)
    price = sub["items"]["data"][0]["price"]
    assert sub["currency"] == price["currency"] == "kwd" and price["unit_amount"] == 15000  # 15.000 KWD in fils
    invoices = _invoices(pattern_account, customer)
    assert all(i["currency"] == "kwd" and i["total"] == 15000 for i in invoices)
    assert "KWD 15.000" in _lines(pattern_account, invoices[0])[0]["description"]
    assert [mrr_value(pattern_mrr, customer, m, "kwd") for m in (-3, -2, 0)] == [None, 15.0, 15.0]


def test_two_currencies_one_after_the_other(pattern_account, pattern_mrr):
    customer = _customer(pattern_account, "two_currencies_in_turn")
    usd, eur = _subscriptions(pattern_account, customer)
    assert (usd["currency"], usd["status"], eur["currency"], eur["status"]) == ("usd", "canceled", "eur", "active")
    assert usd["ended_at"] < eur["created"]  # never two active subscriptions in different currencies
    assert pattern_account.store.retrieve("customers", customer, [])["currency"] == "usd"
    assert [mrr_value(pattern_mrr, customer, m) for m in (-4, -3, -2)] == [49.0, 0.0, None]  # USD churns
    assert [mrr_value(pattern_mrr, customer, m, "eur") for m in (-4, -3, 0)] == [None, 45.0, 45.0]  # EUR is new


def test_deleted_customer(pattern_account):
    customer = _customer(pattern_account, "deleted_customer")
    assert customer not in {c["id"] for c in pattern_account.listable("customers")}
    assert pattern_account.store.retrieve("customers", customer, []) == {
        "id": customer,
        "object": "customer",
        "deleted": True,
    }
    (sub,) = _subscriptions(pattern_account, customer)
    deleted_at = NOW - 10 * 86400
    assert sub["status"] == "canceled" and sub["canceled_at"] == sub["ended_at"] == deleted_at
    (deletion,) = _events(pattern_account, "customer.deleted", customer)
    assert deletion["created"] == deleted_at
    (detached,) = [
        e for e in pattern_account.listable("events", type="payment_method.detached") if e["created"] == deleted_at
    ]
    assert detached["data"]["object"]["customer"] is None
    assert detached["data"]["previous_attributes"] == {"customer": customer}


def test_grandfathered_price(pattern_account):
    (sub,) = _subscriptions(pattern_account, _customer(pattern_account, "grandfathered_price"))
    price = sub["items"]["data"][0]["price"]
    assert price["lookup_key"] == "starter_month_v1" and price["active"] is False and sub["status"] == "active"
    assert all(i["total"] == 1500 for i in _invoices(pattern_account, sub["customer"]))


def test_schedule_changes_the_price_at_its_second_phase(pattern_account):
    (sub,) = _subscriptions(pattern_account, _customer(pattern_account, "schedule_price_change"))
    assert sub["schedule"].startswith("sub_sched_") and sub["items"]["data"][0]["price"]["lookup_key"] == "pro_month"
    invoices = _invoices(pattern_account, sub["customer"])
    assert [i["total"] for i in invoices] == [1900, 1900, 4900, 4900, 4900]
    versions = pattern_account.subscription_history[sub["id"]]
    phase_start = month_start(NOW, -2) + 9 * 86400 + 12 * 3600
    assert next(v.at for v in versions if v.items != versions[0].items) == phase_start


def test_paused_collection_stays_active_and_counts(pattern_account, pattern_mrr):
    paused = month_start(NOW, -2) + 12 * 3600
    for customer, behavior, status in zip(
        pattern_account.patterns["pause_collection"],
        ("keep_as_draft", "void", "mark_uncollectible"),
        ("draft", "void", "uncollectible"),
        strict=True,
    ):
        (sub,) = _subscriptions(pattern_account, customer)
        assert sub["status"] == "active" and sub["pause_collection"] == {"behavior": behavior, "resumes_at": None}
        later = [i for i in _invoices(pattern_account, customer) if i["created"] > paused]
        assert len(later) == 3 and all(i["status"] == status and i["amount_paid"] == 0 for i in later)
        assert all(i["auto_advance"] is False for i in later) or status != "draft"
        assert [mrr_value(pattern_mrr, customer, m) for m in (-4, -2, -1, 0)] == [49.0, 49.0, 49.0, 49.0]


def test_catalogue_ids_depend_on_the_seed_alone():
    """Not on the customers, the account's id (named or drawn), the price scale or the patterns."""
    accounts = (
        generate_account(seed=31, customers=5, now=NOW, account_id="acct_1AAAAAAAAAAAAAAA"),
        generate_account(seed=31, customers=9, now=NOW, account_id="acct_1BBBBBBBBBBBBBBB", price_scale=2),
        generate_account(seed=31, customers=3, now=NOW, patterns=False),
    )
    for name in ("products", "prices", "plans", "coupons"):
        first, *others = ({obj["id"] for obj in account.objects[name]} for account in accounts)
        assert all(other == first for other in others), name
    lookup = [{p["lookup_key"]: p["id"] for p in account.objects["prices"]} for account in accounts]
    assert lookup[0]["team_pack_month"] == lookup[1]["team_pack_month"] == lookup[2]["team_pack_month"]


def test_price_scale_keeps_ids_and_scales_amounts():
    first = generate_account(seed=27, customers=5, now=NOW, account_id="acct_1AAAAAAAAAAAAAAA")
    second = generate_account(seed=27, customers=5, now=NOW, account_id="acct_1BBBBBBBBBBBBBBB", price_scale=1.5)

    def by_id(pattern_account, name):
        hidden = pattern_account.hidden_fields.get(name, {})
        return {obj["id"]: {**obj, **hidden.get(obj["id"], {})} for obj in pattern_account.objects[name]}

    for name in ("products", "prices", "plans", "coupons"):
        assert by_id(first, name).keys() == by_id(second, name).keys(), name
    assert [c["id"] for c in first.objects["customers"]] == [c["id"] for c in second.objects["customers"]]
    prices = {p["lookup_key"]: (p, by_id(second, "prices")[p["id"]]) for p in by_id(first, "prices").values()}
    assert (prices["pro_month"][0]["unit_amount"], prices["pro_month"][1]["unit_amount"]) == (4900, 7350)
    assert (prices["pro_month_kwd"][0]["unit_amount"], prices["pro_month_kwd"][1]["unit_amount"]) == (15000, 22500)
    graduated = prices["team_month_graduated"]
    assert [t["flat_amount"] for t in graduated[0]["tiers"]] == [2000, None, None]
    assert [t["flat_amount"] for t in graduated[1]["tiers"]] == [3000, None, None]
    assert [t["unit_amount"] for t in graduated[1]["tiers"]] == [2250, 1800, 1350]
    coupons = by_id(second, "coupons")
    assert (coupons["WELCOME20"]["amount_off"], coupons["SAVE5X6"]["amount_off"]) == (3000, 750)

    truths = [expected_customer_mrr(pattern_account, NOW) for pattern_account in (first, second)]
    for pattern, month, values in (
        ("forever", -4, [32.4, 48.6]),  # 3 × $12 × 0.9, then 3 × $18 × 0.9
        ("once_amount", -4, [29.0, 43.5]),  # $49 − $20, then $73.50 − $30
        ("graduated_tiers_flat", 0, [179.0, 268.5]),
    ):
        (customer,) = first.patterns[pattern]
        assert second.patterns[pattern] == [customer]
        assert [round(truth[(customer, "usd", pattern_month(month))], 2) for truth in truths] == values, pattern
