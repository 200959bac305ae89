"""The balance transactions each automatic payout paid out, read over HTTP from the simulator.

The expected membership is the simulator's own record of which balances were available when each payout was
made (`truth.expected_payout_items`), not what the list endpoint answers.
"""

from __future__ import annotations

import pytest

from orchestration.ingest.context import SyncContext
from orchestration.ingest.pipeline import stripe_pipeline, sync_accounts
from orchestration.ingest.source import stripe_source
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.simulator.truth import expected_payout_items
from tests.ingest.warehouse_state import PLATFORM_KEY, duplicate_keys, payout_items_loaded, reconciled_payouts

NOW = 1_790_000_000
TABLE = "payout_balance_transactions"


@pytest.fixture
def payout_lists_read(monkeypatch):
    """Records the payout of every `GET /v1/balance_transactions?payout=…` the simulator answers, per account."""

    def spy(account) -> list[str]:
        calls: list[str] = []
        real = account.store.list_json

        def list_json(name, params):
            params = list(params)
            if name == "balance_transactions":
                calls.extend(value for key, value in params if key == "payout" and value)
            return real(name, params)

        monkeypatch.setattr(account.store, "list_json", list_json)
        return calls

    return spy


def test_every_reconciled_automatic_payout_is_read_once_with_what_it_paid_out(sync_settings, payout_lists_read):
    account = generate_account(seed=31, customers=30, now=NOW)
    truth = expected_payout_items(account)
    in_transit = {p["id"] for p in account.objects["payouts"] if p["reconciliation_status"] != "completed"}
    assert in_transit and len(reconciled_payouts(account)) > 50, "no payout in transit, or too few paid: proves little"
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        calls = payout_lists_read(account)
        settings = sync_settings(server.base_url)
        report = sync_accounts(settings, now=NOW)
    assert report.failures == {}
    assert not duplicate_keys(settings.duckdb_path, TABLE)
    # A payout in transit is not reconciled yet: its list may be incomplete, so it is not read.
    assert payout_items_loaded(settings.duckdb_path, account) == {
        p: truth[p] for p in reconciled_payouts(account) if truth[p]
    }
    # One request per reconciled payout (each paid out fewer than a page of transactions), none for the others.
    assert sorted(calls) == sorted(reconciled_payouts(account))


def test_later_syncs_read_only_payouts_reconciled_since(sync_settings, payout_lists_read):
    account = generate_account(seed=32, customers=30, now=NOW)
    truth = expected_payout_items(account)
    in_transit = [p for p in account.objects["payouts"] if p["reconciliation_status"] != "completed"]
    assert in_transit, "no payout in transit: the test would prove nothing"
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        calls = payout_lists_read(account)
        settings = sync_settings(server.base_url)
        sync_accounts(settings, now=NOW)
        first = len(calls)

        # The payouts in transit arrive: paid, reconciled, with the event Stripe sends for it.
        arrived = NOW + 3600
        account.now = arrived
        for payout in in_transit:
            paid = {**payout, "status": "paid", "reconciliation_status": "completed"}
            account.store.put("payouts", paid, "payout.reconciliation_completed", at=arrived)
        report = sync_accounts(settings, now=arrived + 100)
        incremental = calls[first:]
        assert report.failures == {}
        assert report.progress[("payouts", account.account_id)].mode == "incremental"
        assert sorted(incremental) == sorted(p["id"] for p in in_transit)
        loaded = payout_items_loaded(settings.duckdb_path, account)
        assert loaded == {p: truth[p] for p in reconciled_payouts(account) if truth[p]}

        # The daily reconciliation reloads every payout but reads again only the lists of the last few: those
        # that were not complete at the previous full read (the first sync), and none it read earlier.
        context = SyncContext(settings, full_refresh=True)
        with context:
            stripe_pipeline(settings).run(stripe_source(context))
        reconciliation = calls[first + len(incremental) :]
        assert context.report.failures == {}
        assert sorted(reconciliation) == sorted(p["id"] for p in in_transit)
        # Once every payout is complete, a full read reads the newest payout's list alone.
        context = SyncContext(settings, full_refresh=True)
        with context:
            stripe_pipeline(settings).run(stripe_source(context))
        newest = max(account.objects["payouts"], key=lambda p: (p["created"], p["id"]))
        assert calls[first + len(incremental) + len(reconciliation) :] == [newest["id"]]
    assert payout_items_loaded(settings.duckdb_path, account) == loaded
    assert not duplicate_keys(settings.duckdb_path, TABLE)
