"""What an incremental sync asks Stripe: one events read per account, a list only for the types with new
objects (and those whose creation Stripe does not announce), a re-fetch per changed object."""

from collections import Counter

import pytest

from orchestration.ingest.pipeline import sync_accounts
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.stripe_objects import STRIPE_OBJECTS
from tests.ingest.staging_keys import keys_twice, sync_and_count_keys
from tests.ingest.warehouse_state import PLATFORM_KEY, TOP_LEVEL, assert_table_matches, warehouse_rows

NOW = 1_790_000_000
LATER = NOW + 3600

# One events request, the lists of the types whose creation no event announces, and the account itself.
NO_CHANGE = Counter(
    {"/v1/events": 1, "/v1/account": 1, **{obj.list_path: 1 for obj in STRIPE_OBJECTS if not obj.creation_events}}
)


@pytest.fixture(scope="module")
def accounts():
    platform = generate_account(seed=1, customers=3, now=NOW, account_id="acct_platform000001")
    first = generate_account(seed=31, customers=30, now=NOW, account_id="acct_first00000001")
    second = generate_account(seed=32, customers=20, now=NOW, account_id="acct_second0000001")
    return platform, first, second


def _routes(server, account_id, before):
    routes = server.stats(account_id).paths.copy()
    routes.subtract(before)
    return +routes  # without the routes not requested


def test_a_sync_without_changes_reads_each_accounts_events_once_and_lists_nothing_announced(accounts, sync_settings):
    platform, first, second = accounts
    assert set(NO_CHANGE) == {"/v1/events", "/v1/account", "/v1/balance_transactions", "/v1/invoice_payments"}
    with SimulatorServer([platform, first, second], api_keys={PLATFORM_KEY: platform.account_id}) as server:
        settings = sync_settings(server.base_url, STRIPE_ACCOUNT_IDS=f"{first.account_id},{second.account_id}")
        sync_accounts(settings, now=NOW)
        before = {a.account_id: server.stats(a.account_id).paths.copy() for a in (first, second)}
        report = sync_accounts(settings, now=LATER)
        routes = {a.account_id: _routes(server, a.account_id, before[a.account_id]) for a in (first, second)}
    assert report.failures == {}
    assert {p.mode for p in report.progress.values()} == {"incremental"}
    assert routes == {first.account_id: NO_CHANGE, second.account_id: NO_CHANGE}


def test_a_sync_without_changes_loads_only_the_tables_it_has_rows_for(accounts, sync_settings):
    # An account's fixed cost: a table without new rows must not cost a load job (a merge per table).
    platform, first, _ = accounts
    with SimulatorServer([platform, first], api_keys={PLATFORM_KEY: platform.account_id}) as server:
        settings = sync_settings(server.base_url, STRIPE_ACCOUNT_IDS=first.account_id)
        _, first_load = sync_and_count_keys(settings, now=NOW)
        _, no_change = sync_and_count_keys(settings, now=LATER)
    assert len(first_load) > 20  # the first sync creates every table, empty or not
    assert no_change, "the account row is loaded on every sync"
    assert {table for table, keys in no_change.items() if not keys} == set()
    assert len(no_change) < 6, sorted(no_change)


def test_a_new_object_of_one_type_lists_that_type_alone_and_a_change_reads_its_object_alone(sync_settings):
    account = generate_account(seed=33, customers=20, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        sync_accounts(settings, now=NOW)
        before = server.stats(account.account_id).paths.copy()
        account.now = LATER
        coupons, customers = account.store.collection("coupons"), account.store.collection("customers")
        coupon = {**next(iter(coupons.objects.values())), "id": "SPRING26", "created": LATER - 100}
        account.store.put("coupons", coupon, event_type="coupon.created", at=LATER - 100)
        customer = next(iter(customers.objects.values()))
        account.store.put("customers", {**customer, "email": "new@example.org"}, "customer.updated", LATER - 90)
        report = sync_accounts(settings, now=LATER)
        routes = _routes(server, account.account_id, before)
    assert report.failures == {}
    # The events table has new objects too: its list is the second events request.
    assert routes == NO_CHANGE + Counter({"/v1/coupons": 1, "/v1/customers/{id}": 1, "/v1/events": 1})
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)


def test_an_object_created_and_changed_as_the_sync_starts_is_written_once(sync_settings):
    # Its events come within the overlap before the sync's start: listed as new and changed since, it used to
    # be listed and re-fetched, two rows of one key in one load.
    account = generate_account(seed=34, customers=20, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        sync_accounts(settings, now=NOW)
        before = server.stats(account.account_id).paths.copy()
        account.now = LATER
        customers = account.store.collection("customers")
        new = {**next(iter(customers.objects.values())), "id": "cus_newcomer0001", "created": LATER - 10}
        account.store.put("customers", new, "customer.created", LATER - 10)
        account.store.put("customers", {**new, "email": "changed@example.org"}, "customer.updated", LATER - 5)
        report, keys = sync_and_count_keys(settings, LATER)
        routes = _routes(server, account.account_id, before)
    assert report.failures == {}
    assert keys["customers"][(account.account_id, "cus_newcomer0001")] == 1
    assert keys_twice(keys) == {}
    assert "/v1/customers/{id}" not in routes, "listed in its latest state, it needs no re-fetch"
    stored = warehouse_rows(settings.duckdb_path, "customers")[(account.account_id, "cus_newcomer0001")][1]
    assert stored["email"] == "changed@example.org"
