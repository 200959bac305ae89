"""Changes between syncs (`mutate_account`) and the account's clock (event retention)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe

from orchestration.simulator import MutationSummary, SimulatedAccount, SimulatorServer, generate_account, mutate_account
from orchestration.simulator.generate.mutations import CHANGE_KINDS
from orchestration.simulator.timeline import DAY, HOUR
from tests.simulator.integrity import LIST_OF
from tests.simulator.sim_support import NOW, sdk_client
from tests.simulator.stripe_shapes import shape_errors

State = dict[str, dict[str, dict[str, Any]]]


def fresh() -> SimulatedAccount:
    return generate_account(seed=31, customers=60, now=NOW)


def rich() -> SimulatedAccount:
    """Big enough to hold open and draft invoices and pending invoice items to change."""
    return generate_account(seed=0, customers=300, now=NOW)


def state(account: SimulatedAccount) -> State:
    """Every object of the account by list and id (objects are replaced on change, never edited)."""
    return {name: {obj["id"]: obj for obj in objects} for name, objects in account.objects.items()}


def replay(before: State, summary: MutationSummary, account: SimulatedAccount) -> State:
    """What a warehouse holds after applying the summary's changes, read from the simulator, to `before`."""
    after = {name: dict(objects) for name, objects in before.items()}
    for action in ("created", "updated"):
        for name, ids in getattr(summary, action).items():
            after.setdefault(name, {}).update((object_id, account.get(name, object_id)) for object_id in ids)
    for name, ids in summary.deleted.items():
        for object_id in ids:
            del after[name][object_id]
    return after


@pytest.fixture(scope="module")
def mutated() -> tuple[SimulatedAccount, State, MutationSummary]:
    account = rich()
    before = state(account)
    summary = mutate_account(account, seed=4, changes=150)
    return account, before, summary


def test_the_summary_accounts_for_every_change(mutated):
    account, before, summary = mutated

    assert replay(before, summary, account) == state(account)
    assert len(set(summary.changes)) >= 12 and set(summary.changes) <= set(CHANGE_KINDS)
    assert len(summary.changes) == 150
    assert summary.at == account.now == NOW + HOUR


def test_every_event_carries_the_object_after_the_change(mutated):
    account, before, summary = mutated
    events = [account.get("events", event_id) for event_id in summary.ids("created", "events")]
    earlier = max(event["created"] for event in before["events"].values())
    deleted = {object_id for ids in summary.deleted.values() for object_id in ids}
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        latest[event["data"]["object"]["id"]] = event

    assert all(event["created"] == summary.at > earlier for event in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # ids sort like the changes happened
    assert [e["id"] for e in account.listable("events")[: len(events)]] == [e["id"] for e in reversed(events)]
    assert not [error for event in events for error in shape_errors(event)]
    for object_id, event in latest.items():
        payload = event["data"]["object"]
        if object_id in deleted:
            assert event["type"].endswith(".deleted"), event["type"]
        elif payload["object"] != "charge":  # a charge's `disputed` changes without an event, as on Stripe
            assert payload == account.get(LIST_OF[payload["object"]], object_id), event["type"]


def test_updated_events_name_the_previous_values(mutated):
    account, before, summary = mutated
    events = [account.get("events", event_id) for event_id in summary.ids("created", "events")]
    # Updates of objects that existed before the batch (a new customer's own story has no previous values).
    old = [e for e in events if e["data"]["object"]["id"] in before[LIST_OF[e["data"]["object"]["object"]]]]
    emails = [e for e in old if e["type"] == "customer.updated"]
    subscription_updates = [e for e in old if e["type"] == "customer.subscription.updated"]

    assert emails and subscription_updates
    for event in emails + subscription_updates:
        obj, previous = event["data"]["object"], event["data"]["previous_attributes"]
        original = before[LIST_OF[obj["object"]]][obj["id"]]
        assert previous == {key: original[key] for key in previous}
        assert all(obj[key] != value for key, value in previous.items())


def test_deletions_behave_like_stripes_through_the_sdk():
    account = rich()
    kinds = ["delete_customer", "delete_coupon", "delete_product", "delete_plan", "delete_invoiceitem"]
    summary = mutate_account(account, seed=2, changes=12, kinds=kinds)
    with SimulatorServer([account]) as server:
        client = sdk_client(server.base_url)
        customer_id = summary.ids("deleted", "customers")[0]
        stub = client.v1.customers.retrieve(customer_id)
        listed = {c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()}
        missing = {}
        for name in ("coupons", "products", "plans", "invoiceitems"):
            for object_id in summary.ids("deleted", name):
                with pytest.raises(stripe.InvalidRequestError) as raised:
                    client.raw_request("get", f"/v1/{name}/{object_id}")
                missing[name] = raised.value.http_status
                listed_ids = json.loads(client.raw_request("get", f"/v1/{name}", limit=100).body)["data"]
                assert object_id not in {obj["id"] for obj in listed_ids}
        types = {e.type for e in client.v1.events.list(params={"created": summary.at, "limit": 100}).data}

    assert stub.to_dict() == {"id": customer_id, "object": "customer", "deleted": True}
    assert customer_id not in listed
    assert missing == {"coupons": 404, "products": 404, "plans": 404, "invoiceitems": 404}
    assert {"customer.deleted", "coupon.deleted", "product.deleted", "plan.deleted", "invoiceitem.deleted"} <= types


def test_status_changes_of_old_objects():
    account = rich()
    kinds = ["cancel_subscription", "change_subscription", "pay_invoice", "refund_charge", "open_dispute"]
    summary = mutate_account(account, seed=3, changes=20, kinds=kinds)
    events = [account.get("events", event_id) for event_id in summary.ids("created", "events")]
    types = {event["type"] for event in events}
    refunds = [account.get("refunds", refund_id) for refund_id in summary.ids("created", "refunds")]

    assert {"customer.subscription.deleted", "customer.subscription.updated", "invoice.paid"} <= types
    assert {"charge.refunded", "refund.created", "charge.dispute.created"} <= types
    for refund in refunds:
        charge = account.get("charges", refund["charge"])
        balance = account.get("balance_transactions", refund["balance_transaction"])
        assert refund in charge["refunds"]["data"] and charge["amount_refunded"] >= refund["amount"]
        assert balance["type"] == "refund" and balance["created"] == summary.at
    for sub_id in summary.ids("updated", "subscriptions"):
        sub, last = account.get("subscriptions", sub_id), account.subscription_history[sub_id][-1]
        assert last.at == summary.at and last.status == sub["status"]
        assert [(i.price_id, i.quantity) for i in last.items] == [
            (item["price"]["id"], item.get("quantity")) for item in sub["items"]["data"]
        ]
    paid = [account.get("invoices", i) for i in summary.ids("updated", "invoices")]
    assert paid and all(i["status"] == "paid" and i["amount_remaining"] == 0 for i in paid)
    assert all(i["status_transitions"]["paid_at"] == summary.at for i in paid)


def test_new_customers_bring_their_whole_chain():
    account = fresh()
    summary = mutate_account(account, seed=5, changes=6, kinds=["new_customer"])
    subscriptions = [account.get("subscriptions", s) for s in summary.ids("created", "subscriptions")]

    assert len(summary.ids("created", "customers")) == 6 == len(subscriptions)
    for sub in subscriptions:
        customer = account.get("customers", sub["customer"])
        invoice = account.get("invoices", sub["latest_invoice"])
        lines = account.store.invoice_lines(invoice["id"], [("limit", "100")])["data"]
        assert customer["created"] == sub["created"] == invoice["created"] == summary.at
        assert lines and sum(line["amount"] for line in lines) == invoice["subtotal"]
        assert account.subscription_history[sub["id"]][0].at == summary.at
        if invoice["status"] == "paid" and invoice["amount_paid"]:
            charge = next(c for c in account.listable("charges", customer=customer["id"]) if c["paid"])
            assert account.get("payment_intents", charge["payment_intent"])["status"] == "succeeded"
            assert account.get("balance_transactions", charge["balance_transaction"])["source"] == charge["id"]
    assert not [error for sub in subscriptions for error in shape_errors(sub)]


def test_same_seed_same_changes():
    first, second, other = fresh(), fresh(), fresh()
    one = mutate_account(first, seed=9, changes=25)
    two = mutate_account(second, seed=9, changes=25)
    three = mutate_account(other, seed=10, changes=25)

    assert one == two and json.dumps(first.objects) == json.dumps(second.objects)
    assert three.changes != one.changes


def test_changes_cannot_go_back_in_time():
    account = fresh()
    newest = max(event["created"] for event in account.objects["events"])

    with pytest.raises(ValueError, match="would come before the account's clock or its newest event"):
        mutate_account(account, seed=1, changes=1, at=newest)
    with pytest.raises(ValueError, match="unknown change kinds \\['teleport'\\]"):
        mutate_account(account, seed=1, changes=1, kinds=["teleport"])
    assert mutate_account(account, seed=1, changes=1, at=NOW + DAY).at == NOW + DAY


def test_events_older_than_30_days_before_the_clock_are_gone():
    account = fresh()
    with SimulatorServer([account]) as server:
        client = sdk_client(server.base_url)
        before = list(client.v1.events.list(params={"limit": 100}).auto_paging_iter())
        cursor = before[0].id  # the newest event an ingester saw
        summary = mutate_account(account, seed=6, changes=5, at=NOW + 40 * DAY)
        after = list(client.v1.events.list(params={"limit": 100}).auto_paging_iter())
        with pytest.raises(stripe.InvalidRequestError) as expired:
            client.v1.events.list(params={"ending_before": cursor})
        with pytest.raises(stripe.InvalidRequestError) as gone:
            client.v1.events.retrieve(cursor)
        account.now = NOW + 100 * DAY  # the clock can also just move on
        empty = client.v1.events.list().data

    assert before and {e.id for e in after} == set(summary.ids("created", "events"))
    assert expired.value.http_status == 400 and expired.value.code == "resource_missing"
    assert gone.value.http_status == 404
    assert empty == []
