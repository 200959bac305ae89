"""The objects an ingester reads beyond the basics: pricing models, expansions, payouts, credit notes."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
import stripe

from orchestration.simulator import SimulatedAccount, SimulatorServer, generate_account
from orchestration.simulator.generate.catalog import Tier, build_catalog
from orchestration.simulator.ids import IdFactory
from tests.simulator.sim_support import NOW, sdk_client
from tests.simulator.stripe_shapes import shape_errors

EXPECTED_TIERS = {
    "graduated": [
        {
            "flat_amount": 2000,
            "flat_amount_decimal": "2000",
            "unit_amount": 1500,
            "unit_amount_decimal": "1500",
            "up_to": 5,
        },
        {
            "flat_amount": None,
            "flat_amount_decimal": None,
            "unit_amount": 1200,
            "unit_amount_decimal": "1200",
            "up_to": 20,
        },
        {
            "flat_amount": None,
            "flat_amount_decimal": None,
            "unit_amount": 900,
            "unit_amount_decimal": "900",
            "up_to": None,
        },
    ],
}


def body(client: stripe.StripeClient, path: str, **params: object) -> dict:
    return json.loads(client.raw_request("get", path, **params).body)


def tiered(account: SimulatedAccount, mode: str) -> dict:
    return next(p for p in account.objects["prices"] if p["tiers_mode"] == mode)


def test_tiered_prices_show_tiers_only_when_expanded(client: stripe.StripeClient, account: SimulatedAccount):
    graduated, volume = tiered(account, "graduated"), tiered(account, "volume")
    listed = client.v1.prices.list(params={"limit": 100}).data
    expanded = body(client, "/v1/prices", limit=100, expand=["data.tiers"])["data"]
    retrieved = body(client, f"/v1/prices/{graduated['id']}", expand=["tiers"])
    plan = body(client, f"/v1/plans/{volume['id']}", expand=["tiers"])

    assert graduated["billing_scheme"] == "tiered" and graduated["unit_amount"] is None
    assert all("tiers" not in price for price in listed)
    assert "tiers" not in body(client, f"/v1/prices/{graduated['id']}")
    assert {p["id"]: "tiers" in p for p in expanded if p["billing_scheme"] == "tiered"} == {
        graduated["id"]: True,
        volume["id"]: True,
    }
    assert retrieved["tiers"] == EXPECTED_TIERS["graduated"]
    assert plan["tiers_mode"] == "volume" and plan["amount"] is None and plan["tiers"][-1]["flat_amount"] == 5000
    plans = body(client, "/v1/plans", limit=100, expand=["data.tiers"])["data"]
    assert {p["id"] for p in plans if "tiers" in p} == {graduated["id"], volume["id"]}


@pytest.mark.parametrize(
    ("mode", "quantity", "amount"),
    [
        ("graduated", 3, 2000 + 3 * 1500),
        ("graduated", 25, 2000 + 5 * 1500 + 15 * 1200 + 5 * 900),
        ("volume", 10, 1000 + 10 * 500),
        ("volume", 11, 2000 + 11 * 400),
        ("volume", 80, 5000 + 80 * 300),
    ],
)
def test_tiered_amounts_follow_stripes_rules(mode: str, quantity: int, amount: int):
    catalog = build_catalog(IdFactory(random.Random(1), "acct_1TestTestTestTe"), NOW)
    price = next(p for p in catalog.prices.values() if p.tiers_mode == mode)

    assert price.amount(quantity) == amount
    assert isinstance(price.tiers[0], Tier)


def test_subscriptions_bill_tiered_metered_weekly_and_daily_prices(account: SimulatedAccount):
    demo = generate_account(seed=0, customers=300, now=NOW)
    items = [item for sub in demo.objects["subscriptions"] for item in sub["items"]["data"]]
    lines = demo.objects["invoice_line_items"]
    metered = [item for item in items if item["price"]["recurring"]["usage_type"] == "metered"]
    usage_lines = [line for line in lines if line["pricing"]["price_details"]["price"] == metered[0]["price"]["id"]]
    graduated_items = [item for item in items if item["price"]["tiers_mode"] == "graduated"]
    graduated_lines = {
        (line["subscription"], line["quantity"]): line["amount"]
        for line in lines
        if line["pricing"]["price_details"]["price"] == graduated_items[0]["price"]["id"]
    }

    assert {item["price"]["recurring"]["interval"] for item in items} == {"day", "week", "month", "year"}
    assert {item["price"]["tiers_mode"] for item in items} == {None, "graduated", "volume"}
    assert metered and all("quantity" not in item for item in metered)
    assert (
        metered[0]["price"]["recurring"]["meter"].startswith("mtr_") and metered[0]["plan"]["usage_type"] == "metered"
    )
    assert all(line["amount"] == 2 * line["quantity"] for line in usage_lines)
    assert any(line["quantity"] > 1 for line in usage_lines)
    item = graduated_items[0]
    quantity = item["quantity"]
    expected = 2000 + min(quantity, 5) * 1500 + max(0, min(quantity, 20) - 5) * 1200 + max(0, quantity - 20) * 900
    assert graduated_lines.get((item["subscription"], quantity), expected) == expected


def test_subscription_discounts_expand_to_discount_objects(client: stripe.StripeClient, account: SimulatedAccount):
    sub = next(s for s in account.objects["subscriptions"] if s["discounts"])
    discount_id = sub["discounts"][0]
    listed = body(client, "/v1/subscriptions", customer=sub["customer"], status="all", expand=["data.discounts"])[
        "data"
    ]
    expanded = next(s for s in listed if s["id"] == sub["id"])
    retrieved = body(client, f"/v1/subscriptions/{sub['id']}", expand=["discounts"])
    plain = body(client, f"/v1/subscriptions/{sub['id']}")
    invoice = next(i for i in account.objects["invoices"] if i["discounts"])
    invoice_expanded = body(client, f"/v1/invoices/{invoice['id']}", expand=["discounts"])

    assert plain["discounts"] == [discount_id]
    discount = retrieved["discounts"][0]
    assert expanded["discounts"] == retrieved["discounts"]
    assert shape_errors(discount) == []
    assert discount["id"] == discount_id and discount["object"] == "discount"
    assert discount["subscription"] == sub["id"] and discount["customer"] == sub["customer"]
    assert discount["source"]["coupon"] in {c["id"] for c in account.objects["coupons"]}
    assert discount["start"] == sub["created"]
    assert invoice_expanded["discounts"][0]["id"] == invoice["discounts"][0]
    assert expanded["items"] == plain["items"]  # only the top-level discounts expand


def test_lines_and_items_expand_their_discounts():
    account = generate_account(seed=61, customers=10, now=NOW, patterns=False)
    discount = account.objects["discounts"][0]
    item = account.objects["subscription_items"][0]
    line = account.objects["invoice_line_items"][0]
    account.store.put("subscription_items", {**item, "discounts": [discount["id"]]})
    account.store.put("invoice_line_items", {**line, "discounts": [discount["id"]]})
    with SimulatorServer([account]) as server:
        client = sdk_client(server.base_url)
        items = body(client, "/v1/subscription_items", subscription=item["subscription"], expand=["data.discounts"])
        lines = body(client, f"/v1/invoices/{line['invoice']}/lines", expand=["data.discounts"])
        unexpanded = body(client, f"/v1/invoices/{line['invoice']}/lines")

    assert next(i for i in items["data"] if i["id"] == item["id"])["discounts"] == [discount]
    assert next(li for li in lines["data"] if li["id"] == line["id"])["discounts"] == [discount]
    assert next(li for li in unexpanded["data"] if li["id"] == line["id"])["discounts"] == [discount["id"]]


def test_payouts_with_their_balance_transactions(client: stripe.StripeClient, account: SimulatedAccount):
    payouts = list(client.v1.payouts.list(params={"limit": 100}).auto_paging_iter())
    balances = {b["id"]: b for b in account.objects["balance_transactions"]}

    assert len(payouts) == len(account.objects["payouts"]) > 100
    assert {p.status for p in payouts} == {"paid", "in_transit"}
    for payout in payouts[:20]:
        balance = balances[payout.balance_transaction]
        assert balance["type"] == "payout" and balance["amount"] == -payout.amount and balance["source"] == payout.id
        assert payout.arrival_date > payout.created and payout.destination.startswith("ba_")
        assert (payout.status == "paid") == (payout.arrival_date <= NOW)
    in_transit = client.v1.payouts.list(params={"status": "in_transit"}).data
    assert in_transit and all(p.status == "in_transit" for p in in_transit)
    assert client.v1.payouts.retrieve(payouts[0].id).amount == payouts[0].amount


@pytest.fixture(scope="module")
def demo_server() -> Iterator[tuple[SimulatorServer, SimulatedAccount]]:
    demo = generate_account(seed=0, customers=300, now=NOW)
    with SimulatorServer([demo]) as server:
        yield server, demo


def test_credit_notes_and_their_lines_page_beyond_ten(demo_server):
    server, demo = demo_server
    client = sdk_client(server.base_url)
    notes = list(client.v1.credit_notes.list(params={"limit": 100}).auto_paging_iter())
    parents = demo.hidden_fields["credit_note_line_items"]
    big = max(notes, key=lambda note: sum(1 for p in parents.values() if p["credit_note"] == note.id))
    expected = [
        line["id"] for line in demo.objects["credit_note_line_items"] if parents[line["id"]]["credit_note"] == big.id
    ]
    paged = [line.id for line in client.v1.credit_notes.line_items.list(big.id, params={"limit": 4}).auto_paging_iter()]
    invoice = client.v1.invoices.retrieve(big.invoice)
    refund = client.v1.refunds.retrieve(big.refunds[0].refund)

    assert len(notes) == len(demo.objects["credit_notes"]) > 0
    assert len(expected) > 10 and paged == expected
    assert [line.id for line in big.lines.data] == expected[:10] and big.lines.has_more is True
    assert all(not hasattr(line, "credit_note") for line in big.lines.data)
    assert big.amount == sum(
        line["amount"] for line in demo.objects["credit_note_line_items"] if line["id"] in expected
    )
    assert refund.amount == big.amount and invoice.post_payment_credit_notes_amount >= big.amount
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.credit_notes.line_items.list("cn_missing")


def test_connected_accounts_list_for_a_platform_key():
    platform, connected = (
        generate_account(seed=71, customers=2, now=NOW, patterns=False),
        generate_account(seed=72, customers=2, now=NOW, patterns=False),
    )
    with SimulatorServer([platform, connected]) as server:
        client = sdk_client(server.base_url)
        accounts = client.v1.accounts.list().data
        own = body(client, "/v1/account")

    assert [a.id for a in accounts] == [connected.account_id]
    assert own["id"] == platform.account_id and accounts[0].charges_enabled is True
