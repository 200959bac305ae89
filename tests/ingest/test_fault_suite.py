"""The fault suite: syncs against a Stripe that answers 429s beyond its rate limit, 500/502/503s, drops
connections before an answer and in the middle of one, and answers slowly, at rates fixed by a seed.

A first full sync killed half-way, the sync that resumes it and an incremental sync after changes must each
end equal to what the simulator serves (no lost row, no key twice), and report exactly the faults the server
says it answered. `bench/faults.py` runs the same sequence at scale, with real SIGKILLs, for BENCHMARKS.md.
"""

import time

import pytest

from orchestration.ingest import client, fetch, sync
from orchestration.ingest import source as source_module
from orchestration.ingest.pipeline import sync_accounts
from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account
from orchestration.simulator.generate.mutations import mutate_account
from orchestration.simulator.serve.traffic import TrafficStats
from tests.ingest.warehouse_state import PLATFORM_KEY, TOP_LEVEL, assert_table_matches, warehouse_rows

NOW = 1_790_000_000

# The rates: 10 % 429s, 2 % 5xx, 1 % dropped connections (half before an answer, half mid-body),
# and 1 % of answers a second late.
BAD_DAY = SimulatorOptions(
    rate_limit_rate=0.10,
    fault_rate=0.02,
    fault_statuses=(500, 502, 503),
    drop_rate=0.005,
    truncate_rate=0.005,
    slow_rate=0.01,
    slow_ms=1000,
    fault_seed=12,
)


def _assert_faults_reported(report, stats: TrafficStats, account_id: str) -> None:
    """The sync counted every fault the server answered it, by kind (each was retried: the sync succeeded)."""
    assert report.traffic[account_id] == {
        "requests": stats.requests,
        "rate_limited": stats.rate_limited,
        "server_errors": stats.faults,
        "connection_errors": stats.dropped + stats.truncated,
    }


def _wait_until_quiet(server: SimulatorServer, quiet_seconds: float = 1.0) -> None:
    seen = server.stats_total().requests
    while True:
        time.sleep(quiet_seconds)
        now = server.stats_total().requests
        if now == seen:
            return
        seen = now


def _assert_equal_to_truth(settings, account) -> None:
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)
    lines = warehouse_rows(settings.duckdb_path, "invoice_line_items")
    assert {i for a, i in lines if a == account.account_id} == {
        line["id"] for line in account.objects["invoice_line_items"]
    }


def test_killed_resumed_and_incremental_syncs_under_faults_end_equal_to_truth(sync_settings, monkeypatch):
    # Pages of 10 instead of 100: ten times the requests of a small account, so that each fault, at its rate of
    # a bad day, is met a few times.
    for module in (client, fetch, sync):
        monkeypatch.setattr(module, "PAGE_SIZE", 10)
    account = generate_account(seed=31, customers=40, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}, options=BAD_DAY) as server:
        settings = sync_settings(server.base_url, STRIPE_CONCURRENCY="8", STRIPE_MAX_NETWORK_RETRIES="6")

        # The first sync dies half-way (its process killed, as far as what it wrote is concerned).
        pages_written = {"n": 0}
        real_raw_table = source_module.raw_table

        def dies_half_way(*args, **kwargs):
            pages_written["n"] += 1
            if pages_written["n"] > 15:
                raise KeyboardInterrupt("killed")
            return real_raw_table(*args, **kwargs)

        monkeypatch.setattr(source_module, "raw_table", dies_half_way)
        with pytest.raises(BaseException, match="killed"):
            sync_accounts(settings, now=NOW)
        monkeypatch.setattr(source_module, "raw_table", real_raw_table)
        # A killed process takes its reading threads with it; here they finish the page they were reading.
        # Counting starts once they have: the resumed sync's requests are its own.
        _wait_until_quiet(server)

        server.reset_stats()
        resumed = sync_accounts(settings, now=NOW + 60)
        stats = server.stats(account.account_id)
        assert resumed.failures == {}
        _assert_faults_reported(resumed, stats, account.account_id)
        assert stats.rate_limited and stats.dropped and stats.truncated and stats.slowed, stats
        assert set(stats.fault_statuses) == {500, 502, 503}, "a 5xx status was never met: the test proves less"
        _assert_equal_to_truth(settings, account)

        mutate_account(account, seed=9, changes=60, at=NOW + 3600)
        server.reset_stats()
        incremental = sync_accounts(settings, now=NOW + 3700)
        stats = server.stats(account.account_id)
    assert incremental.failures == {}
    assert {p.mode for p in incremental.progress.values()} == {"incremental"}
    _assert_faults_reported(incremental, stats, account.account_id)
    assert stats.rate_limited + stats.faults + stats.dropped + stats.truncated > 0, stats
    _assert_equal_to_truth(settings, account)
