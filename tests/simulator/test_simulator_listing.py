"""Stripe's list and retrieve semantics, exercised through the official SDK against the running simulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import stripe

from orchestration.simulator import SimulatedAccount
from orchestration.simulator.timeline import DAY
from tests.simulator.sim_support import NOW


def newest_first(objects: list[dict[str, Any]], field: str = "created") -> list[str]:
    return [obj["id"] for obj in sorted(objects, key=lambda obj: (obj[field], obj["id"]), reverse=True)]


def ids(objects: Any) -> list[str]:
    return [obj.id for obj in objects]


def test_auto_paging_returns_every_customer_newest_first(client: stripe.StripeClient, account: SimulatedAccount):
    page = client.v1.customers.list(params={"limit": 100})
    listed = ids(page.auto_paging_iter())

    assert page.has_more is True and len(page.data) == 100
    assert listed == newest_first(account.objects["customers"])
    assert len(listed) == account.expected_count("customers") == len(account.objects["customers"])


def test_default_page_is_ten_with_has_more_and_list_url(client: stripe.StripeClient):
    page = client.v1.charges.list()

    assert len(page.data) == 10
    assert page.has_more is True
    assert page.url == "/v1/charges"


@pytest.mark.parametrize("limit", [0, 101, -5])
def test_limit_out_of_range_is_rejected(client: stripe.StripeClient, limit: int):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.list(params={"limit": limit})

    assert raised.value.http_status == 400
    assert raised.value.param == "limit"


def test_limit_bounds_are_inclusive(client: stripe.StripeClient):
    assert len(client.v1.invoices.list(params={"limit": 100}).data) == 100
    assert len(client.v1.invoices.list(params={"limit": 1}).data) == 1


def test_cursors_walk_forward_and_back(client: stripe.StripeClient, account: SimulatedAccount):
    expected = newest_first(account.objects["invoices"])
    first = client.v1.invoices.list(params={"limit": 5})
    second = client.v1.invoices.list(params={"limit": 5, "starting_after": first.data[-1].id})
    back = client.v1.invoices.list(params={"limit": 5, "ending_before": second.data[0].id})
    top = client.v1.invoices.list(params={"limit": 3, "ending_before": expected[4]})

    assert ids(first) == expected[:5]
    assert ids(second) == expected[5:10]
    assert ids(back) == expected[:5] and back.has_more is False
    assert ids(top) == expected[1:4] and top.has_more is True


def test_auto_paging_backwards_from_ending_before(client: stripe.StripeClient, account: SimulatedAccount):
    expected = newest_first(account.objects["customers"])
    listed = ids(client.v1.customers.list(params={"limit": 7, "ending_before": expected[30]}).auto_paging_iter())

    assert listed == list(reversed(expected[:30]))


def test_unknown_cursor_is_a_missing_resource(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.list(params={"starting_after": "cus_doesnotexist"})

    assert raised.value.param == "starting_after"
    assert raised.value.code == "resource_missing"
    assert raised.value.user_message == "No such customer: 'cus_doesnotexist'"


def test_created_filters(client: stripe.StripeClient, account: SimulatedAccount):
    charges = account.objects["charges"]
    middle = sorted(charge["created"] for charge in charges)[len(charges) // 2]
    since = ids(client.v1.charges.list(params={"limit": 100, "created": {"gte": middle}}).auto_paging_iter())
    before = ids(client.v1.charges.list(params={"limit": 100, "created": {"lt": middle}}).auto_paging_iter())
    window = ids(
        client.v1.charges.list(
            params={"limit": 100, "created": {"gt": middle - 30 * DAY, "lte": middle}}
        ).auto_paging_iter()
    )
    exact = ids(client.v1.charges.list(params={"created": middle}).auto_paging_iter())

    assert since == newest_first([c for c in charges if c["created"] >= middle])
    assert before == newest_first([c for c in charges if c["created"] < middle])
    assert len(since) + len(before) == len(charges)
    assert window == newest_first([c for c in charges if middle - 30 * DAY < c["created"] <= middle])
    assert exact == newest_first([c for c in charges if c["created"] == middle]) and exact


def test_subscriptions_hide_canceled_unless_asked(client: stripe.StripeClient, account: SimulatedAccount):
    everything = account.objects["subscriptions"]
    default = ids(client.v1.subscriptions.list(params={"limit": 100}).auto_paging_iter())
    every = ids(client.v1.subscriptions.list(params={"limit": 100, "status": "all"}).auto_paging_iter())
    canceled = ids(client.v1.subscriptions.list(params={"limit": 100, "status": "canceled"}).auto_paging_iter())

    assert default == newest_first([s for s in everything if s["status"] != "canceled"])
    assert every == newest_first(everything)
    assert canceled == newest_first([s for s in everything if s["status"] == "canceled"]) and canceled
    assert account.expected_count("subscriptions") == len(default) < len(every)


def test_subscription_customer_and_price_filters(client: stripe.StripeClient, account: SimulatedAccount):
    sub = account.objects["subscriptions"][0]
    price = sub["items"]["data"][0]["price"]["id"]
    by_customer = ids(client.v1.subscriptions.list(params={"customer": sub["customer"], "status": "all"}))
    by_price = ids(
        client.v1.subscriptions.list(params={"price": price, "status": "all", "limit": 100}).auto_paging_iter()
    )

    assert sub["id"] in by_customer
    assert by_customer == newest_first(
        [s for s in account.objects["subscriptions"] if s["customer"] == sub["customer"]]
    )
    assert by_price == newest_first(
        [s for s in account.objects["subscriptions"] if any(i["price"]["id"] == price for i in s["items"]["data"])]
    )


def test_invalid_enum_value_is_rejected(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.list(params={"status": "sleeping"})

    assert raised.value.param == "status"


def test_prices_list_active_ones_by_default(client: stripe.StripeClient, account: SimulatedAccount):
    prices = account.objects["prices"]
    default = ids(client.v1.prices.list(params={"limit": 100}))
    inactive = ids(client.v1.prices.list(params={"limit": 100, "active": False}))
    active = ids(client.v1.prices.list(params={"limit": 100, "active": True}))
    one_time = ids(client.v1.prices.list(params={"limit": 100, "type": "one_time"}))

    assert default == active == newest_first([p for p in prices if p["active"]])
    assert inactive == newest_first([p for p in prices if not p["active"]]) and inactive
    assert set(default) | set(inactive) == {p["id"] for p in prices}
    assert one_time and all(account.get("prices", i)["type"] == "one_time" for i in one_time)


def test_products_and_plans_list_everything_unless_filtered(client: stripe.StripeClient, account: SimulatedAccount):
    products = account.objects["products"]

    assert ids(client.v1.products.list()) == newest_first(products)
    assert ids(client.v1.products.list(params={"active": False})) == [p["id"] for p in products if not p["active"]]
    assert len(client.v1.plans.list(params={"limit": 100}).data) == len(account.objects["plans"])


def test_invoice_lines_page_beyond_the_embedded_ten(client: stripe.StripeClient, account: SimulatedAccount):
    invoice = next(inv for inv in account.objects["invoices"] if inv["lines"]["has_more"])
    all_lines = [line["id"] for line in account.objects["invoice_line_items"] if line["invoice"] == invoice["id"]]
    paged = ids(client.v1.invoices.line_items.list(invoice["id"], params={"limit": 3}).auto_paging_iter())
    fetched = client.v1.invoices.retrieve(invoice["id"])

    assert len(all_lines) > 10
    assert paged == all_lines
    assert ids(fetched.lines.data) == all_lines[:10] and fetched.lines.has_more is True
    assert ids(fetched.lines.auto_paging_iter()) == all_lines


def test_subscription_items_need_their_subscription(client: stripe.StripeClient, account: SimulatedAccount):
    sub = next(s for s in account.objects["subscriptions"] if len(s["items"]["data"]) > 1)
    items = client.v1.subscription_items.list(params={"subscription": sub["id"]})

    assert sorted(ids(items)) == sorted(item["id"] for item in sub["items"]["data"])
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.raw_request("get", "/v1/subscription_items")
    assert raised.value.param == "subscription" and raised.value.code == "parameter_missing"


@pytest.mark.parametrize(
    "name",
    [
        "customers",
        "products",
        "prices",
        "plans",
        "coupons",
        "subscriptions",
        "subscription_items",
        "invoices",
        "invoiceitems",
        "invoice_payments",
        "charges",
        "payment_intents",
        "payment_methods",
        "refunds",
        "balance_transactions",
        "disputes",
        "events",
    ],
)
def test_retrieve_returns_the_listed_object(client: stripe.StripeClient, account: SimulatedAccount, name: str):
    obj = account.objects[name][-1]
    response = client.raw_request("get", f"/v1/{name}/{obj['id']}")

    assert json.loads(response.body) == obj


def test_unknown_id_is_404_resource_missing(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.retrieve("sub_doesnotexist")

    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.user_message == "No such subscription: 'sub_doesnotexist'"


def test_unknown_parameter_names_the_parameter(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.list(params={"colour": "blue"})
    with pytest.raises(stripe.InvalidRequestError) as nested:
        client.v1.charges.list(params={"created": {"after": 5}})

    assert raised.value.param == "colour" and raised.value.code == "parameter_unknown"
    assert raised.value.user_message == "Received unknown parameter: colour"
    assert nested.value.param == "created[after]"


def test_expand_is_accepted(client: stripe.StripeClient):
    assert len(client.v1.prices.list(params={"expand": ["data.tiers"], "limit": 2}).data) == 2


def test_events_cover_only_the_last_30_days(client: stripe.StripeClient, account: SimulatedAccount):
    events = list(client.v1.events.list(params={"limit": 100}).auto_paging_iter())

    assert len(events) == len(account.objects["events"]) > 100
    assert all(NOW - 30 * DAY <= event.created <= NOW for event in events)
    assert ids(events) == newest_first(account.objects["events"])


def test_event_type_filters_and_wildcards(client: stripe.StripeClient, account: SimulatedAccount):
    events = account.objects["events"]
    invoice_events = list(client.v1.events.list(params={"type": "invoice.*", "limit": 100}).auto_paging_iter())
    exact = ids(client.v1.events.list(params={"type": "customer.created", "limit": 100}).auto_paging_iter())
    several = list(
        client.v1.events.list(params={"types": ["charge.succeeded", "charge.failed"], "limit": 100}).auto_paging_iter()
    )

    assert {e.type for e in invoice_events} >= {"invoice.created", "invoice.paid"}
    assert all(e.type.startswith("invoice.") for e in invoice_events)
    assert len(invoice_events) == sum(1 for e in events if e["type"].startswith("invoice."))
    assert exact == newest_first([e for e in events if e["type"] == "customer.created"]) and exact
    assert {e.type for e in several} == {"charge.succeeded", "charge.failed"}
    assert len(several) == account.expected_count("events", types=["charge.succeeded", "charge.failed"])


def test_customer_filters_on_money_lists(client: stripe.StripeClient, account: SimulatedAccount):
    invoice = next(inv for inv in account.objects["invoices"] if inv["parent"])
    customer = invoice["customer"]
    subscription = invoice["parent"]["subscription_details"]["subscription"]
    by_customer = ids(client.v1.invoices.list(params={"customer": customer, "limit": 100}).auto_paging_iter())
    by_subscription = ids(
        client.v1.invoices.list(params={"subscription": subscription, "limit": 100}).auto_paging_iter()
    )
    charges = ids(client.v1.charges.list(params={"customer": customer, "limit": 100}).auto_paging_iter())

    assert by_customer == newest_first([i for i in account.objects["invoices"] if i["customer"] == customer])
    assert invoice["id"] in by_subscription and set(by_subscription) <= set(by_customer)
    assert charges == newest_first([c for c in account.objects["charges"] if c["customer"] == customer])


def test_types_accepts_bracket_arrays_up_to_twenty(server, account: SimulatedAccount):
    url, headers = f"{server.base_url}/v1/events", {"Authorization": "Bearer sk_test_simulator"}
    pairs = [("types[]", "invoice.paid"), ("types[]", "invoice.created"), ("limit", "100")]
    listed = requests.get(url, params=pairs, headers=headers, timeout=10).json()["data"]
    too_many = requests.get(url, params=[("types[]", f"x.{i}") for i in range(21)], headers=headers, timeout=10)

    assert {e["type"] for e in listed} == {"invoice.paid", "invoice.created"}
    assert len(listed) == min(100, account.expected_count("events", types=["invoice.paid", "invoice.created"]))
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "types"
