"""Discounts as Stripe keeps them: a `once` coupon discounts one invoice and leaves the subscription, an
ended `repeating` one leaves it too, and both stay expandable from the invoices and lines they discounted.

Stripe: "Once: applies to the first invoice only", "Multiple months: applies for the number of months set"
(https://docs.stripe.com/billing/subscriptions/coupons); "Use `expand[]=discounts` to expand each discount"
(https://docs.stripe.com/api/invoices/object).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from orchestration.simulator import SimulatedAccount
from orchestration.simulator.generate.catalog import build_catalog
from orchestration.simulator.generate.patterns import _Teller
from orchestration.simulator.generate.payments import Payments
from orchestration.simulator.generate.render import Renderer
from orchestration.simulator.generate.story import Script
from orchestration.simulator.generate.world import World
from orchestration.simulator.ids import IdFactory
from orchestration.simulator.timeline import DAY, HOUR, add_months
from tests.simulator.sim_support import NOW


def _coupons(account: SimulatedAccount) -> dict[str, dict[str, Any]]:
    return {coupon["id"]: coupon for coupon in account.objects["coupons"]}


def _discount_coupon(account: SimulatedAccount) -> dict[str, dict[str, Any]]:
    coupons = _coupons(account)
    return {d["id"]: coupons[d["source"]["coupon"]] for d in account.objects["discounts"]}


def _invoices_by_discount(account: SimulatedAccount) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for invoice in account.objects["invoices"]:
        for discount in invoice["discounts"]:
            found[discount].append(invoice)
    return found


def _subscription_discounts(account: SimulatedAccount) -> set[str]:
    listed = set()
    for sub in account.objects["subscriptions"]:
        listed.update(sub["discounts"])
        for item in sub["items"]["data"]:
            listed.update(item["discounts"])
    return listed


def test_a_once_discount_discounts_exactly_one_invoice_and_then_leaves_the_subscription(account: SimulatedAccount):
    coupon_of = _discount_coupon(account)
    invoices = _invoices_by_discount(account)
    listed = _subscription_discounts(account)
    used = 0
    for discount_id, coupon in coupon_of.items():
        if coupon["duration"] != "once":
            continue
        discounted = invoices.get(discount_id, [])
        assert len(discounted) <= 1, f"{discount_id} ({coupon['id']}) discounts {len(discounted)} invoices"
        if discounted and discounted[0]["status"] != "draft":
            used += 1
            assert discount_id not in listed, f"{discount_id} still on its subscription after its first invoice"
    assert used > 0, "the account has no used `once` discount to check"


def test_ended_repeating_discounts_leave_the_subscription_but_stay_on_their_invoices(account: SimulatedAccount):
    now = account.current_time()
    invoices = _invoices_by_discount(account)
    listed = _subscription_discounts(account)
    # A subscription canceled while its discount ran is a closed record: it keeps what it had then.
    ended_at = {sub["id"]: sub["ended_at"] for sub in account.objects["subscriptions"]}
    ended = [
        d
        for d in account.objects["discounts"]
        if d["end"] is not None and d["end"] <= now and d["end"] <= (ended_at[d["subscription"]] or now)
    ]
    assert ended, "the account has no ended repeating discount to check"
    for discount in ended:
        assert discount["id"] not in listed
    assert any(invoices.get(discount["id"]) for discount in ended)


def test_ended_discounts_expand_from_invoices_and_their_lines(account: SimulatedAccount):
    listed = _subscription_discounts(account)
    by_id = {d["id"]: d for d in account.objects["discounts"]}
    invoices = account.listable("invoices", expand=["data.discounts"])
    gone = [inv for inv in invoices if any(d["id"] not in listed for d in inv["discounts"])]
    assert gone, "no invoice carries a discount its subscription has lost"
    for invoice in gone[:20]:
        assert all(d == by_id[d["id"]] and d["object"] == "discount" for d in invoice["discounts"])
        lines = account.store.invoice_lines(invoice["id"], [("expand[]", "data.discounts"), ("limit", "100")])
        for line in lines["data"]:
            assert all(isinstance(d, dict) and d["object"] == "discount" for d in line["discounts"])
            for amount in line["discount_amounts"]:
                assert amount["discount"] in by_id


def test_subscription_discounts_expand_at_both_levels(account: SimulatedAccount):
    by_id = {d["id"]: d for d in account.objects["discounts"]}
    subs = account.listable("subscriptions", status="all", expand=["data.discounts", "data.items.data.discounts"])
    with_discounts = [s for s in subs if s["discounts"]]
    assert with_discounts
    for sub in subs:
        assert all(isinstance(d, dict) and by_id[d["id"]] == d for d in sub["discounts"])
        for item in sub["items"]["data"]:
            assert all(isinstance(d, dict) and by_id[d["id"]] == d for d in item["discounts"])
    plain = account.listable("subscriptions", status="all")
    assert all(isinstance(d, str) for s in plain for d in s["discounts"])


def _scripted_world(now: int) -> tuple[World, _Teller]:
    """An empty world whose catalogue opened a year and a half before `now`, and a teller of scripted stories."""
    rng = random.Random(5)
    ids = IdFactory(rng, "acct_1Discounts00000000")
    world = World(rng, ids, build_catalog(ids, now - 540 * DAY), now, "acct_1Discounts00000000")
    teller = _Teller(world, Payments(world))
    teller.name = "test"
    return world, teller


def test_a_repeating_discount_leaves_a_yearly_subscription_at_its_end():
    """50OFF3M on a yearly plan: the subscription changes nothing for a year, but the discount goes after
    3 months, announced then (`customer.discount.deleted`, `customer.subscription.updated`)."""
    now = NOW
    world, teller = _scripted_world(now)
    start = now - 100 * DAY
    story = teller.subscribe(
        teller.customer(start - HOUR), start, [("pro_year", 1)], Script(coupons=(("50OFF3M", None),))
    )
    (discount,) = story.sub.versions[0].discounts
    assert discount.end == add_months(start, 3) and discount.end < now
    renderer = Renderer(world.catalog, {c.id: c for c in world.customers}, "Test", now, world.account_id)
    assert renderer.subscription(story.sub, discount.end - 1)["discounts"] == [discount.id]
    assert renderer.subscription(story.sub, discount.end)["discounts"] == []
    assert renderer.subscription(story.sub, now)["discounts"] == []
    at_end = [(e.type, e.record) for e in world.events if e.created == discount.end]
    assert at_end == [("customer.discount.deleted", discount), ("customer.subscription.updated", story.sub)]
    assert [v.at for v in story.sub.versions] == sorted(v.at for v in story.sub.versions)
