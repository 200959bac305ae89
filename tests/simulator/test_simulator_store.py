"""The store under mutation, and its paging cost at Stripe-sized collections."""

from __future__ import annotations

import json
import time

import pytest

from orchestration.simulator import SimulatedAccount, SimulatorServer, generate_account
from orchestration.simulator.errors import StripeError
from orchestration.simulator.model.listing import LIST_SPECS, ListQuery
from orchestration.simulator.model.store import Collection
from tests.simulator.sim_support import NOW, sdk_client


@pytest.fixture
def mutable() -> SimulatedAccount:
    return generate_account(seed=31, customers=20, now=NOW)


def test_deleted_customer_is_a_stub_and_leaves_the_list(mutable: SimulatedAccount):
    victim = mutable.objects["customers"][5]
    with SimulatorServer([mutable]) as server:
        client = sdk_client(server.base_url)
        mutable.store.delete("customers", victim["id"], event_type="customer.deleted", at=NOW)
        retrieved = client.v1.customers.retrieve(victim["id"])
        listed = [c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()]
        deletions = client.v1.events.list(params={"type": "customer.deleted"}).data

    assert retrieved.to_dict() == {"id": victim["id"], "object": "customer", "deleted": True}
    assert victim["id"] not in listed and len(listed) == len(mutable.objects["customers"]) == mutable.expected_count(
        "customers"
    )
    assert victim not in mutable.objects["customers"]
    # Besides the `deleted_customer` pattern's deletion 10 days before now.
    assert [e.data.object.id for e in deletions if e.data.object.id == victim["id"]] == [victim["id"]]


def test_cursor_on_a_deleted_object_still_pages(mutable: SimulatedAccount):
    order = [c["id"] for c in mutable.listable("customers")]
    mutable.store.delete("customers", order[4])

    page = mutable.store.list("customers", [("limit", "3"), ("starting_after", order[4])])

    assert [c["id"] for c in page["data"]] == order[5:8]


def test_updated_object_moves_between_filtered_lists(mutable: SimulatedAccount):
    live = mutable.listable("subscriptions")
    target = live[0]
    before = mutable.expected_count("subscriptions", status="canceled")

    mutable.store.put("subscriptions", {**target, "status": "canceled"}, event_type="customer.subscription.deleted")

    assert target["id"] not in [s["id"] for s in mutable.listable("subscriptions")]
    assert mutable.expected_count("subscriptions", status="canceled") == before + 1
    assert mutable.get("subscriptions", target["id"])["status"] == "canceled"
    assert mutable.listable("events", type="customer.subscription.deleted")[0]["data"]["object"]["id"] == target["id"]


def test_served_json_is_cached_and_follows_every_change(mutable: SimulatedAccount):
    store = mutable.store
    store.encode_all()
    customer = mutable.listable("customers")[0]
    renamed = {**customer, "name": "Renamed Customer"}
    store.put("customers", renamed)
    page = json.loads(store.list_json("customers", [("limit", "1")]))
    retrieved = json.loads(store.retrieve_json("customers", customer["id"]))
    store.delete("customers", customer["id"])

    assert page["data"] == [renamed] and page["has_more"] is True and page["url"] == "/v1/customers"
    assert retrieved == renamed
    assert json.loads(store.retrieve_json("customers", customer["id"])) == {
        "id": customer["id"],
        "object": "customer",
        "deleted": True,
    }
    assert json.loads(store.list_json("customers", [("limit", "100")]))["data"] == mutable.listable("customers")


def test_deleting_an_unknown_object_is_an_error(mutable: SimulatedAccount):
    with pytest.raises(KeyError):
        mutable.store.delete("customers", "cus_missing")


def test_unknown_list_name_is_an_unrecognized_url(mutable: SimulatedAccount):
    with pytest.raises(StripeError, match="Unrecognized request URL"):
        mutable.store.list("teleporters", [])


def test_pages_stay_cheap_at_300k_objects():
    objects = [
        {"id": f"ch_{i:08d}", "created": 1_600_000_000 + i // 3, "customer": f"cus_{i % 5000}"} for i in range(300_000)
    ]
    collection = Collection(LIST_SPECS["charges"], objects)
    by_customer = ListQuery(limit=100, matches={"customer": frozenset({"cus_42"})})
    collection.page(by_customer)  # builds the customer index once
    cursor, pages = None, 0
    started = time.perf_counter()
    while pages < 300:
        data, has_more = collection.page(ListQuery(limit=100, starting_after=cursor))
        cursor, pages = data[-1]["id"], pages + 1
    filtered, _ = collection.page(by_customer)
    elapsed = time.perf_counter() - started

    assert has_more and cursor == objects[-30_000]["id"]
    assert [c["customer"] for c in filtered] == ["cus_42"] * 60
    # About 0.2 ms a page; a full scan per page would take seconds.
    assert elapsed < 0.6, f"300 pages took {elapsed:.2f}s"
