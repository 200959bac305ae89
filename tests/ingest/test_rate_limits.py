"""Syncing under Stripe's limits: account-wide and per endpoint, one budget per key owner, 0 429s in steady state.

https://docs.stripe.com/rate-limits: 100 requests/s per account in live mode, 25 per endpoint by default; the
simulator plays both (`endpoint_rate_limit_per_second`), and for Connect charges the platform's budget too.
"""

from __future__ import annotations

import threading

import pytest

from orchestration.ingest.context import SyncContext
from orchestration.ingest.pipeline import sync_accounts
from orchestration.ingest.rate_limit import RateBudget, endpoint, thread_tally
from orchestration.settings import ConfigurationError, Settings
from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account
from tests.ingest.warehouse_state import PLATFORM_KEY, TOP_LEVEL, assert_table_matches

NOW = 1_790_000_000
LIVE_KEY = "sk_live_platform_000000000"
# Stripe's live limits (global 100, per endpoint 25, each one second's worth of burst), with some latency.
STRIPE_LIKE = SimulatorOptions(latency_ms=20, rate_limit_per_second=100, endpoint_rate_limit_per_second=25)


@pytest.fixture(scope="module")
def accounts():
    # Small, yet each with ~150 payouts whose balance transactions are read on one endpoint, `GET
    # /v1/balance_transactions`: more than twice its second of burst.
    platform = generate_account(seed=2, customers=3, now=NOW, account_id="acct_platform000002", patterns=False)
    first = generate_account(seed=31, customers=10, now=NOW, account_id="acct_first00000031", patterns=False)
    second = generate_account(seed=32, customers=6, now=NOW, account_id="acct_second0000032", patterns=False)
    return platform, first, second


def test_an_endpoint_is_the_operation_not_the_object_it_acts_on():
    assert endpoint("get", "/v1/invoices/in_1/lines") == endpoint("GET", "/v1/invoices/in_2/lines")
    assert endpoint("GET", "/v1/invoices/in_1/lines") == "GET /v1/invoices/{id}/lines"
    assert endpoint("GET", "/v1/customers/cus_1") == "GET /v1/customers/{id}" != endpoint("GET", "/v1/customers")
    assert endpoint("GET", "/v1/account") == "GET /v1/account"


def test_a_budget_holds_each_endpoint_to_its_rate_and_all_of_them_to_the_global_one():
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    budget = RateBudget(100, 20, clock=lambda: clock[0], sleep=sleep)
    tally = thread_tally()
    waited_before = tally.waited
    for _ in range(42):
        budget.acquire("/v1/customers")
    one_endpoint = clock[0]
    for i in range(400):
        budget.acquire(f"/v1/{('charges', 'invoices', 'products', 'prices', 'plans', 'coupons')[i % 6]}")
    many_endpoints = clock[0] - one_endpoint

    assert one_endpoint == pytest.approx(40 / 20, abs=0.01)  # 42 requests, 2 of them the bucket's burst
    assert many_endpoints == pytest.approx(400 / 100, abs=0.15)  # 6 endpoints × 20 > 100: the global one binds
    assert tally.waited - waited_before == pytest.approx(clock[0])


def _settings(tmp_path, **env: str) -> Settings:
    return Settings.from_env({"STRIPE_API_KEY": LIVE_KEY, "DATA_DIR": str(tmp_path), **env})


def test_parallel_runs_of_a_platforms_accounts_split_both_of_its_limits(tmp_path):
    # Four runs at once on Postgres, each reading one connected account with the platform's key: together they
    # stay under the platform's 90/s and, reading the same endpoint at once (each account's payouts), its 22/s.
    env = {"WAREHOUSE": "postgres", "STRIPE_SYNC_PARALLELISM": "4", "STRIPE_ACCOUNT_IDS": "acct_a,acct_b"}
    shared = _settings(tmp_path, **env)
    own = _settings(tmp_path, **env, STRIPE_RATE_LIMIT_BUDGET="account")
    connected = shared.stripe_credentials[0]
    assert connected.stripe_account == "acct_a"

    def limits(settings, one_account_run):
        return (
            settings.rate_limit_for(connected, one_account_run=one_account_run),
            settings.endpoint_rate_limit_for(connected, one_account_run=one_account_run),
        )

    assert limits(shared, one_account_run=True) == (90 / 4, 22 / 4)
    assert limits(shared, one_account_run=False) == (90, 22)  # one run reads every account: one budget
    assert limits(own, one_account_run=True) == (90, 22)  # each connected account its own limits


def test_rate_settings_default_under_stripes_limits_and_refuse_nonsense(tmp_path):
    live = _settings(tmp_path)
    credential = live.stripe_credentials[0]
    test_mode = _settings(tmp_path, STRIPE_API_KEY=PLATFORM_KEY)
    raised = _settings(tmp_path, STRIPE_REQUESTS_PER_SECOND="1000")
    explicit = _settings(tmp_path, STRIPE_ENDPOINT_REQUESTS_PER_SECOND="12.5")

    assert (live.rate_limit_for(credential), live.endpoint_rate_limit_for(credential)) == (90, 22)
    assert test_mode.endpoint_rate_limit_for(test_mode.stripe_credentials[0]) == 22
    assert raised.endpoint_rate_limit_for(credential) == 220  # an account whose limits Stripe raised
    assert explicit.endpoint_rate_limit_for(credential) == 12.5
    for name in ("STRIPE_REQUESTS_PER_SECOND", "STRIPE_ENDPOINT_REQUESTS_PER_SECOND"):
        for value in ("fast", "0", "-3", "nan", "inf"):
            with pytest.raises(ConfigurationError, match=f"{name}='{value}' is not a number of requests per second"):
                _settings(tmp_path, **{name: value})
    with pytest.raises(ConfigurationError, match="STRIPE_RATE_LIMIT_BUDGET='platform' is not supported: set it to"):
        _settings(tmp_path, STRIPE_RATE_LIMIT_BUDGET="platform")


def test_the_accounts_one_key_reads_share_its_budget_unless_each_gets_its_own(tmp_path):
    shared = SyncContext(_settings(tmp_path, STRIPE_ACCOUNT_IDS="acct_a,acct_b")).readers
    apart = SyncContext(
        _settings(tmp_path, STRIPE_ACCOUNT_IDS="acct_a,acct_b", STRIPE_RATE_LIMIT_BUDGET="Account")
    ).readers

    assert shared[0].budget is shared[1].budget
    assert apart[0].budget is not apart[1].budget
    assert (apart[0].budget.requests_per_second, apart[0].budget.endpoint_requests_per_second) == (90, 22)


def test_parallel_runs_of_one_platform_key_split_its_budget(tmp_path):
    def rates(**env: str) -> list[float]:
        settings = _settings(tmp_path, WAREHOUSE="postgres", STRIPE_SYNC_PARALLELISM="3", **env)
        return [reader.budget.requests_per_second for reader in SyncContext(settings).readers]

    # A run of one connected account may run beside two others reading with the same key: a third each.
    assert rates(STRIPE_ACCOUNT_IDS="acct_a") == [30]
    # One run reading both accounts holds the whole budget, shared by its readers.
    assert rates(STRIPE_ACCOUNT_IDS="acct_a,acct_b") == [90, 90]
    # The account's own key, or a budget per account: nothing shared with the other runs.
    assert rates() == [90]
    assert rates(STRIPE_ACCOUNT_IDS="acct_a", STRIPE_RATE_LIMIT_BUDGET="account") == [90]
    # DuckDB runs one sync at a time.
    duckdb = _settings(tmp_path, STRIPE_ACCOUNT_IDS="acct_a", STRIPE_SYNC_PARALLELISM="3")
    assert [reader.budget.requests_per_second for reader in SyncContext(duckdb).readers] == [90]


def test_a_full_sync_at_stripes_limits_meets_no_429_and_loads_every_row(accounts, tmp_path):
    _, account, _ = accounts
    with SimulatorServer([account], api_keys={LIVE_KEY: account.account_id}, options=STRIPE_LIKE) as server:
        settings = _settings(tmp_path, STRIPE_API_BASE=server.base_url)
        report = sync_accounts(settings, now=NOW)
        stats = server.stats(account.account_id)
    assert report.failures == {}
    # The busiest endpoint got more than its one second of burst: without its own budget it would meet 429s.
    assert max(stats.paths.values()) > 2 * 25, stats.paths.most_common(3)
    assert stats.rate_limited == 0, stats.rate_limited_by
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)


def test_connected_accounts_read_with_one_platform_key_share_its_budget(accounts, tmp_path):
    platform, first, second = accounts
    options = SimulatorOptions(
        latency_ms=20, rate_limit_per_second=100, endpoint_rate_limit_per_second=25, connect_rate_limit="both"
    )
    with SimulatorServer(list(accounts), api_keys={LIVE_KEY: platform.account_id}, options=options) as server:
        settings = _settings(
            tmp_path, STRIPE_API_BASE=server.base_url, STRIPE_ACCOUNT_IDS=f"{first.account_id},{second.account_id}"
        )
        report = sync_accounts(settings, now=NOW)
        total = server.stats_total()
    assert report.failures == {}
    assert total.rate_limited == 0, total.rate_limited_by
    for account in (first, second):
        for obj in TOP_LEVEL:
            assert_table_matches(settings.duckdb_path, account, obj.table)


@pytest.mark.parametrize(("budget", "refused"), [("key", False), ("account", True)])
def test_readers_at_once_stay_under_the_key_owners_limit_only_with_its_shared_budget(
    accounts, tmp_path, budget, refused
):
    # The platform's limit is the one that binds: both accounts' requests count against it. Half a second of
    # burst: two budgets of 90/s each overrun it within a second, one does not however its requests bunch up.
    platform, first, second = accounts
    options = SimulatorOptions(rate_limit_per_second=100, rate_limit_burst=50, connect_rate_limit="both")
    with SimulatorServer(list(accounts), api_keys={LIVE_KEY: platform.account_id}, options=options) as server:
        settings = _settings(
            tmp_path,
            STRIPE_API_BASE=server.base_url,
            STRIPE_ACCOUNT_IDS=f"{first.account_id},{second.account_id}",
            STRIPE_RATE_LIMIT_BUDGET=budget,
            STRIPE_ENDPOINT_REQUESTS_PER_SECOND="1000",  # one endpoint here: the global limit is the point
        )
        readers = SyncContext(settings).readers
        # Four threads per reader, so that the budgets, not the threads' round trips, set the pace.
        threads = [
            threading.Thread(target=lambda r=reader: [r.get("/v1/customers", {"limit": 1}) for _ in range(20)])
            for reader in readers
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = server.stats_total()
    assert sum(reader.stats.requests for reader in readers) == total.requests >= 160
    assert (total.rate_limited > 0) is refused, total.rate_limited_by
