"""A load holds each (account_id, id) once: the merge copies its rows without deduplicating them
(`source.UNIQUE_RAW_TABLE_HINTS`), so a key written twice would be two rows in the warehouse."""

from collections import Counter

from orchestration.ingest import sync as sync_module
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.simulator.generate.mutations import mutate_account
from tests.ingest.staging_keys import keys_twice, sync_and_count_keys
from tests.ingest.warehouse_state import PLATFORM_KEY, TOP_LEVEL, assert_table_matches

NOW = 1_790_000_000


def test_no_load_of_a_full_or_an_incremental_sync_holds_a_key_twice(sync_settings):
    account = generate_account(seed=41, customers=40, now=NOW)
    # A discount applies to every invoice of its months: read from each, it must still be written once.
    named = Counter(d for invoice in account.objects["invoices"] for d in invoice["discounts"])
    assert max(named.values()) > 1, "no discount is named by two invoices: the test would prove less"
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        # The account configured twice is read once.
        settings = sync_settings(server.base_url, STRIPE_ACCOUNT_IDS=f"{account.account_id},{account.account_id}")
        full, full_keys = sync_and_count_keys(settings, NOW)
        mutate_account(account, seed=8, changes=60, at=NOW + 3600)
        incremental, incremental_keys = sync_and_count_keys(settings, NOW + 3700)
    assert full.failures == incremental.failures == {}
    assert {"customers", "invoices", "invoice_discounts", "events", "accounts"} <= full_keys.keys()
    assert {"customers", "invoices", "events"} <= incremental_keys.keys()
    assert keys_twice(full_keys) == {}
    assert keys_twice(incremental_keys) == {}
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)


def test_an_object_that_moves_between_passes_is_written_once(sync_settings, monkeypatch):
    # Prices are listed active, then inactive: one archived in between is in both lists.
    account = generate_account(seed=42, customers=10, now=NOW)
    prices = account.store.collection("prices")
    passes: dict[str, list[str]] = {}
    real_list_all = sync_module.list_all

    def archives_after_the_active_pass(reader, executor, path, params, **kwargs):
        listed = passes.setdefault(f"{path} active={params.get('active')}", [])
        for page in real_list_all(reader, executor, path, params, **kwargs):
            listed += [o["id"] for o in page]
            yield page
        if path == "/v1/prices" and params.get("active") == "true":
            account.store.put("prices", {**prices.objects[listed[0]], "active": False})

    monkeypatch.setattr(sync_module, "list_all", archives_after_the_active_pass)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        report, keys = sync_and_count_keys(settings, NOW)
    assert report.failures == {}
    moved = passes["/v1/prices active=true"][0]
    assert moved in passes["/v1/prices active=false"], "the inactive list did not show it: nothing to prove"
    assert keys["prices"][(account.account_id, moved)] == 1
    assert keys_twice(keys) == {}
