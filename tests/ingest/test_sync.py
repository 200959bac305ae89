"""Syncing simulator accounts: every object, updates and deletes, many accounts, failures."""

import logging

import pytest

from orchestration.ingest import source as source_module
from orchestration.ingest.context import SyncContext
from orchestration.ingest.pipeline import stripe_pipeline, sync_accounts
from orchestration.ingest.source import stripe_source
from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account
from orchestration.simulator.generate.mutations import mutate_account
from orchestration.stripe_objects import STRIPE_OBJECTS
from tests.ingest.warehouse_state import PLATFORM_KEY, TOP_LEVEL, assert_table_matches, warehouse_rows

NOW = 1_790_000_000


@pytest.fixture(scope="module")
def accounts():
    platform = generate_account(seed=1, customers=3, now=NOW, account_id="acct_platform000001")
    first = generate_account(seed=11, customers=40, now=NOW, account_id="acct_first00000001")
    second = generate_account(seed=12, customers=30, now=NOW, account_id="acct_second0000001")
    return platform, first, second


def test_two_connected_accounts_load_apart(accounts, sync_settings):
    platform, first, second = accounts
    with SimulatorServer([platform, first, second], api_keys={PLATFORM_KEY: platform.account_id}) as server:
        settings = sync_settings(server.base_url, STRIPE_ACCOUNT_IDS=f"{first.account_id},{second.account_id}")
        report = sync_accounts(settings)
    assert report.failures == {}
    for account in (first, second):
        for obj in TOP_LEVEL:
            assert_table_matches(settings.duckdb_path, account, obj.table)
    # Plan and coupon ids are chosen by users: the same id in two accounts is two rows.
    coupons = warehouse_rows(settings.duckdb_path, "coupons")
    shared = {i for a, i in coupons if a == first.account_id} & {i for a, i in coupons if a == second.account_id}
    assert shared, "the generated accounts share no coupon id: the test would prove nothing"
    for coupon_id in shared:
        assert coupons[(first.account_id, coupon_id)][1] == first.get("coupons", coupon_id)
        assert coupons[(second.account_id, coupon_id)][1] == second.get("coupons", coupon_id)
    lines = warehouse_rows(settings.duckdb_path, "invoice_line_items")
    for account in (first, second):
        expected = {line["id"] for line in account.objects["invoice_line_items"]}
        assert {i for a, i in lines if a == account.account_id} == expected
    # Discounts have no list endpoint: each is read, expanded, where it is named, and once it has ended
    # (Stripe removes it from its subscription and item) only from the invoices and lines it discounted.
    for account in (first, second):
        on_subscriptions, on_invoices = _discounts_named(account)
        for table, expected in (("discounts", on_subscriptions), ("invoice_discounts", on_invoices)):
            raw = warehouse_rows(settings.duckdb_path, table)
            rows = {i: obj for (a, i), (_, obj) in raw.items() if a == account.account_id}
            assert rows.keys() == expected, table
            assert all(obj["object"] == "discount" and obj["source"]["coupon"] for obj in rows.values())
    on_subscriptions, on_invoices = _discounts_named(first)
    ended = on_invoices - on_subscriptions
    item_level = {d["id"] for d in first.objects["discounts"] if d.get("subscription_item")}
    assert ended and item_level & (on_subscriptions | on_invoices), "no ended or item-level discount to read"


def _discounts_named(account) -> tuple[set[str], set[str]]:
    """Ids of the discounts the account's subscriptions and their items name, and those its invoices and their
    lines name."""
    items: dict[str, list] = {}
    for item in account.objects["subscription_items"]:
        items.setdefault(item["subscription"], []).append(item)
    lines: dict[str, list] = {}
    for line in account.objects["invoice_line_items"]:
        lines.setdefault(line["invoice"], []).append(line)
    on_subscriptions = {
        d for sub in account.objects["subscriptions"] for o in [sub, *items.get(sub["id"], [])] for d in o["discounts"]
    }
    on_invoices = {
        d for inv in account.objects["invoices"] for o in [inv, *lines.get(inv["id"], [])] for d in o["discounts"]
    }
    return on_subscriptions, on_invoices


def test_incremental_sync_applies_new_changed_and_deleted_objects(sync_settings, caplog):
    account = generate_account(seed=21, customers=40, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        first = sync_accounts(settings, now=NOW)
        requests_full = server.stats(account.account_id).requests
        assert requests_full > 0
        summary = mutate_account(account, seed=5, changes=40, at=NOW + 3600)
        assert summary.deleted and summary.updated and summary.created, "the mutation would prove nothing"
        second = sync_accounts(settings, now=NOW + 3700)
        requests_incremental = server.stats(account.account_id).requests - requests_full
    assert first.failures == second.failures == {}
    assert {p.mode for p in second.progress.values()} == {"incremental"}
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)
    assert sum(p.refetched for p in second.progress.values()) > 0
    # Per object type at most ⌈k/100⌉ + 2 requests (new objects' pages, events' pages), plus re-fetches
    # and the account itself.
    refetches = sum(p.refetched for p in second.progress.values())
    assert requests_incremental <= refetches + 3 * len(STRIPE_OBJECTS) + 1, (requests_incremental, refetches)


def test_a_cursor_older_than_event_retention_reloads_in_full(sync_settings, caplog):
    account = generate_account(seed=22, customers=25, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        sync_accounts(settings, now=NOW)
        later = NOW + 31 * 24 * 3600
        mutate_account(account, seed=6, changes=30, at=later - 600)
        report = sync_accounts(settings, now=later)
    assert report.failures == {}
    assert report.progress[("customers", account.account_id)].mode == "full"
    assert "older than Stripe's 30-day event retention" in caplog.text
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)


def test_a_full_refresh_picks_up_changes_and_deletions_no_event_reported(sync_settings, caplog):
    caplog.set_level(logging.INFO, logger="orchestration")
    account = generate_account(seed=25, customers=20, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        sync_accounts(settings, now=NOW)
        # Stripe changes some fields (a customer's balance) and removes objects without any event.
        customers = account.store.collection("customers")
        changed_id = next(iter(customers.objects))
        customers.put({**customers.objects[changed_id], "balance": 4242})
        products = account.store.collection("products")
        vanished_id = next(iter(products.objects))
        products.delete(vanished_id)

        incremental = sync_accounts(settings, now=NOW + 3600)
        assert warehouse_rows(settings.duckdb_path, "customers")[(account.account_id, changed_id)][1]["balance"] != 4242
        assert not warehouse_rows(settings.duckdb_path, "products")[(account.account_id, vanished_id)][0]

        context = SyncContext(settings, full_refresh=True)
        with context:
            stripe_pipeline(settings).run(stripe_source(context))
    assert incremental.failures == context.report.failures == {}
    assert {p.mode for p in context.report.progress.values()} == {"full"}
    assert "reconciliation, reloading in full" in caplog.text
    assert warehouse_rows(settings.duckdb_path, "customers")[(account.account_id, changed_id)][1]["balance"] == 4242
    assert warehouse_rows(settings.duckdb_path, "products")[(account.account_id, vanished_id)][0], "not marked deleted"


def test_rate_limits_and_server_faults_still_converge(sync_settings, quick_retries):
    account = generate_account(seed=23, customers=30, now=NOW)
    options = SimulatorOptions(rate_limit_per_second=40, fault_rate=0.15, drop_rate=0.05, fault_seed=1)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}, options=options) as server:
        settings = sync_settings(server.base_url, STRIPE_REQUESTS_PER_SECOND="200", STRIPE_CONCURRENCY="16")
        server.rate_limit_storm(requests=10)
        report = sync_accounts(settings, now=NOW)
        stats = server.stats(account.account_id)
    assert report.failures == {}
    assert stats.rate_limited > 0 and stats.faults > 0, "no 429 or fault was met: the test would prove nothing"
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)


def test_a_sync_killed_half_way_converges_when_run_again(sync_settings, monkeypatch):
    account = generate_account(seed=24, customers=30, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        sync_accounts(settings, now=NOW)
        mutate_account(account, seed=7, changes=30, at=NOW + 3600)
        calls = {"n": 0}
        real_raw_table = source_module.raw_table

        def dies_half_way(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 12:
                raise KeyboardInterrupt("killed")
            return real_raw_table(*args, **kwargs)

        monkeypatch.setattr(source_module, "raw_table", dies_half_way)
        with pytest.raises(BaseException, match="killed"):
            sync_accounts(settings, now=NOW + 3700)
        monkeypatch.setattr(source_module, "raw_table", real_raw_table)
        report = sync_accounts(settings, now=NOW + 3800)
    assert report.failures == {}
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)


def test_a_revoked_account_fails_alone_with_its_reason(accounts, sync_settings):
    platform, first, second = accounts
    with SimulatorServer([platform, first, second], api_keys={PLATFORM_KEY: platform.account_id}) as server:
        server.revoke(second.account_id)
        settings = sync_settings(server.base_url, STRIPE_ACCOUNT_IDS=f"{first.account_id},{second.account_id}")
        report = sync_accounts(settings, now=NOW)
    assert set(report.failures) == {second.account_id}
    assert "does not have access" in report.failures[second.account_id]
    assert "reconnect" in report.failures[second.account_id]
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, first, obj.table)
    assert not any(a == second.account_id for a, _ in warehouse_rows(settings.duckdb_path, "customers"))
