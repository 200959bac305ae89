"""`data.previous_attributes`: every event announcing a change names exactly what changed, as Stripe's do.

Stripe sends, on each `*.updated` event (and on a few others that change their object, `charge.refunded`),
the previous value of exactly the top-level fields that changed, rendered like `data.object`: a subscription's
items change carries the whole previous `items` list object. The MRR models read it to date changes of
price, quantity and status, so the generated history has to send it as Stripe does, and the changes between
syncs (`mutate_account`) too.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from orchestration.simulator import SimulatedAccount, generate_account, mutate_account
from orchestration.simulator.generate.world import announces_change, previous_attributes
from orchestration.simulator.timeline import HOUR
from tests.simulator.sim_support import NOW

SILENT_FIELDS = {"customer": {"next_invoice_sequence"}, "charge": {"disputed"}}
"""Fields that change without an event about their object, as on Stripe (an invoice finalized, a dispute)."""


@pytest.fixture(scope="module")
def account() -> SimulatedAccount:
    return generate_account(seed=15, customers=300, now=NOW)


def _in_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events in the order things happened: ids sort like that within a second."""
    return sorted(events, key=lambda event: (event["created"], event["id"]))


def _changes(account: SimulatedAccount) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each event announcing a change, with the object as the last event of an earlier second showed it."""
    last_seen: dict[str, tuple[int, dict[str, Any]]] = {}
    earlier: dict[str, dict[str, Any]] = {}
    changes = []
    for event in _in_order(account.objects["events"]):
        obj = event["data"]["object"]
        seen = last_seen.get(obj["id"])
        if seen is not None and seen[0] < event["created"]:
            earlier[obj["id"]] = seen[1]
        if announces_change(event["type"]):
            changes.append((event, earlier.get(obj["id"])))
        last_seen[obj["id"]] = (event["created"], obj)
    return changes


def test_every_update_names_exactly_the_fields_it_changed(account: SimulatedAccount):
    changes = _changes(account)
    updates = [event for event, _ in changes if event["type"].endswith(".updated")]
    assert len(updates) > 50
    compared = 0
    for event, before in changes:
        obj, previous = event["data"]["object"], event["data"].get("previous_attributes")
        assert previous, (event["type"], event["id"])
        # Each field named changed, and holds its value from before the change.
        assert all(obj.get(key) != value for key, value in previous.items()), (event["type"], previous)
        if before is None:  # the object's first event in the 30 days, or made in the same second
            continue
        # Applying previous_attributes to the object gives it back as the previous event showed it: the
        # fields named are exactly those that differ (but for the few Stripe changes without an event).
        silent = SILENT_FIELDS.get(obj["object"], set())
        restored = {**obj, **previous}
        differing = {key for key in {*restored, *before} if restored.get(key) != before.get(key)} - silent
        assert differing == set(), (event["type"], event["id"], sorted(differing))
        compared += 1
    assert compared > 10


def test_the_history_announces_each_kind_of_change(account: SimulatedAccount):
    named: dict[str, set[str]] = defaultdict(set)
    for event, _ in _changes(account):
        named[event["type"]].update(event["data"]["previous_attributes"])

    assert {"items", "status", "cancel_at_period_end", "cancel_at", "discounts", "latest_invoice"} <= named[
        "customer.subscription.updated"
    ]
    assert {"delinquent", "currency"} <= named["customer.updated"]
    assert "post_payment_credit_notes_amount" in named["invoice.updated"]
    assert {"amount_refunded", "refunds"} <= named["charge.refunded"]


def test_status_changes_carry_the_previous_status(account: SimulatedAccount):
    statuses = {
        (event["data"]["previous_attributes"]["status"], event["data"]["object"]["status"])
        for event, _ in _changes(account)
        if event["type"] == "customer.subscription.updated" and "status" in event["data"]["previous_attributes"]
    }
    assert {("active", "past_due"), ("past_due", "active"), ("trialing", "active")} <= statuses


def test_an_items_change_carries_the_previous_items_list(account: SimulatedAccount):
    plan_changes = 0
    for event, before in _changes(account):
        previous = event["data"]["previous_attributes"]
        if event["type"] != "customer.subscription.updated" or "items" not in previous:
            continue
        items, was = event["data"]["object"]["items"], previous["items"]
        # The whole list object, rendered like data.object's.
        assert was.keys() == items.keys()
        assert (was["object"], was["has_more"], was["url"]) == ("list", False, items["url"])
        fields = items["data"][0].keys() - {"quantity"}  # which metered items leave out
        assert was["data"] and all(item.keys() - {"quantity"} == fields for item in was["data"])
        assert all(item["object"] == "subscription_item" for item in was["data"])
        if before is not None:
            assert was == before["items"]
        now = [(item["id"], item["price"]["id"], item.get("quantity")) for item in items["data"]]
        then = [(item["id"], item["price"]["id"], item.get("quantity")) for item in was["data"]]
        if now != then:  # an upgrade, downgrade or seat change (else a renewal: a new billing period)
            plan_changes += 1
            assert [item["id"] for item in was["data"]] == [item["id"] for item in items["data"]]
        else:
            periods = {(item["current_period_start"], item["current_period_end"]) for item in items["data"]}
            assert periods != {(item["current_period_start"], item["current_period_end"]) for item in was["data"]}
    assert plan_changes > 0


def test_a_subscription_changes_at_most_once_a_second(account: SimulatedAccount):
    """Objects are rendered as of a second: two versions in one second would make two events alike."""
    for versions in account.subscription_history.values():
        assert len({version.at for version in versions}) == len(versions)


def test_previous_attributes_is_the_diff_of_two_versions():
    before = {"id": "sub_1", "status": "past_due", "items": {"object": "list", "data": [1]}, "metadata": {}}
    after = {"id": "sub_1", "status": "active", "items": {"object": "list", "data": [2]}, "metadata": {}}

    assert previous_attributes(before, after) == {"status": "past_due", "items": before["items"]}
    assert previous_attributes(before, before) == {}
    assert previous_attributes({"id": "x"}, {"id": "x", "email": "a@b"}) == {"email": None}


def test_changes_between_syncs_name_exactly_the_fields_they_changed():
    account = generate_account(seed=5, customers=80, now=NOW)
    before = {(obj["object"], obj["id"]): obj for objects in account.objects.values() for obj in objects}
    kinds = ["change_subscription", "cancel_at_period_end", "change_email", "refund_charge", "archive_price"]
    summary = mutate_account(account, seed=3, changes=30, at=NOW + HOUR, kinds=[*kinds, "new_customer"])
    events = [account.get("events", event_id) for event_id in summary.ids("created", "events")]
    announced = [event for event in events if announces_change(event["type"])]

    assert {"customer.subscription.updated", "customer.updated", "charge.refunded"} <= {e["type"] for e in announced}
    for event in announced:
        obj, previous = event["data"]["object"], event["data"]["previous_attributes"]
        original = before.get((obj["object"], obj["id"]))
        if original is None:  # made in this batch: a new customer's story
            assert previous
            continue
        assert previous == {key: original[key] for key in obj if original.get(key) != obj[key]}, event["type"]
