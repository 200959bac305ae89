"""Two failing accounts of three (one revoked before the run, one during it): the sync job, as `stripe-warehouse
run` launches it over every account partition, loads the healthy account and builds the models on it, while the
failed accounts' data-lag check fails with Stripe's reasons, the run reports the failure, and the failed accounts'
last successful sync stays put. One run for both cases: each run builds every model."""

from __future__ import annotations

import duckdb
import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey, DagsterInstance

from orchestration.connect.store import Connection, ConnectionStore, Method, Status
from orchestration.settings import Settings
from orchestration.simulator import SimulatorServer, generate_account

PLATFORM_KEY = "sk_test_platform_isolation_01"
EARLIER_SYNC = 1_700_000_000
RAW_ACCOUNTS = AssetKey(["stripe_raw", "accounts"])
RAW_CUSTOMERS = AssetKey(["stripe_raw", "customers"])
CUSTOMERS = AssetKey(["stripe", "customers"])
DATA_LAG = AssetCheckKey(RAW_ACCOUNTS, "data_lag")


@pytest.fixture(scope="module")
def accounts():
    """The platform, a healthy connected account, one revoked before the run and one revoked during it: small,
    without the patterns."""
    return (
        generate_account(seed=91, customers=3, patterns=False),
        generate_account(seed=92, customers=8, patterns=False),
        generate_account(seed=93, customers=6, patterns=False),
        generate_account(seed=94, customers=6, patterns=False),
    )


@pytest.fixture(scope="module")
def run(accounts, tmp_path_factory, prime_dbt):
    """One sync job over the three connected accounts, as `stripe-warehouse run` does, all last synced at
    EARLIER_SYNC: the run, its settings, the stored connections after it, and the requests Stripe served each
    failing account."""
    from orchestration.automation.once import sync_every_account
    from orchestration.definitions import defs

    platform, healthy, revoked_before, revoked_during = accounts
    dbt_target = tmp_path_factory.mktemp("dbt_target")
    prime_dbt(dbt_target)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("DATA_DIR", str(tmp_path_factory.mktemp("isolation") / "data"))
        monkeypatch.setenv("STRIPE_PLATFORM_KEY", PLATFORM_KEY)
        monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", "1000")
        monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_target))
        for name in (
            "STRIPE_API_KEY",
            "STRIPE_ACCOUNT_IDS",
            "CONNECTIONS_DB",
            "DUCKDB_PATH",
            "WAREHOUSE",
            "DBT_TARGET",
        ):
            monkeypatch.delenv(name, raising=False)
        served = [platform, healthy, revoked_before, revoked_during]
        with SimulatorServer(served, api_keys={PLATFORM_KEY: platform.account_id}) as server:
            monkeypatch.setenv("STRIPE_API_BASE", server.base_url)
            settings = Settings.from_env()
            store = ConnectionStore(settings.connect)
            for account in (healthy, revoked_before, revoked_during):
                store.save(
                    Connection(
                        account_id=account.account_id,
                        method=Method.CONNECT_OAUTH,
                        livemode=False,
                        connected_at=EARLIER_SYNC - 3600,
                        last_synced_at=EARLIER_SYNC,
                    )
                )
            server.revoke(revoked_before.account_id)
            # A few of its lists are read, then Stripe refuses the rest.
            server.revoke_after(revoked_during.account_id, 5)
            with DagsterInstance.ephemeral() as instance:
                result = sync_every_account(defs, instance, settings)
            connections = {c.account_id: c for c in store.connections()}
            stats = {a.account_id: server.stats(a.account_id) for a in (revoked_before, revoked_during)}
            assert all(stat.rejected > 0 for stat in stats.values())
            requests_served = {account_id: stat.served for account_id, stat in stats.items()}
        yield result, settings, connections, requests_served


def _customers_by_account(settings: Settings, table: str) -> dict[str, int]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return dict(connection.sql(f"select account_id, count(*) from {table} group by account_id").fetchall())


def test_the_revoked_accounts_fail_alone_and_the_models_build(run, accounts):
    from orchestration.automation.once import run_problems

    result, settings, connections, served = run
    _, healthy, revoked_before, revoked_during = accounts
    failing = (revoked_before.account_id, revoked_during.account_id)
    assert served == {revoked_before.account_id: 0, revoked_during.account_id: 5}

    # The ingestion step succeeded, and so did dbt: nothing failed but the failing accounts' check.
    assert not [e.step_key for e in result.all_events if e.is_step_failure]
    ingested = [m.materialization for m in result.get_asset_materialization_events() if m.asset_key == RAW_ACCOUNTS]
    reasons = ingested[0].metadata["failed_accounts"].value
    assert set(reasons) == set(failing)
    assert all("does not have access" in reason and "Connections page" in reason for reason in reasons.values())
    by_partition = {m.partition: m.metadata for m in ingested}
    for account in failing:
        assert by_partition[account]["sync_failed"].value == reasons[account]
    assert "sync_failed" not in by_partition[healthy.account_id]

    # The models were built with the healthy account's rows; the account revoked before the run has none.
    assert any(m.asset_key == CUSTOMERS for m in result.get_asset_materialization_events())
    raw = _customers_by_account(settings, "stripe_raw.customers")
    assert raw[healthy.account_id] == len(healthy.listable("customers"))
    assert _customers_by_account(settings, "stripe.customers")[healthy.account_id] > 0
    assert _customers_by_account(settings, "analytics.invoices")[healthy.account_id] > 0
    assert revoked_before.account_id not in raw

    # The failed accounts' data-lag check failed, with the reasons. The healthy account's sync is not blamed (a
    # small generated account's newest subscription may well be weeks old: a lag of its own).
    [lag] = [e for e in result.get_asset_check_evaluations() if e.asset_check_key == DATA_LAG]
    assert not lag.passed and lag.severity == AssetCheckSeverity.ERROR
    for account in failing:
        assert f"{account}: its last sync failed: {reasons[account]}" in lag.description
    assert f"{healthy.account_id}: its last sync failed" not in lag.description
    assert lag.metadata["failed_syncs"].value == reasons

    # `stripe-warehouse run` exits non-zero on these problems (failed checks only, no failed step), and names
    # the accounts and their reasons.
    problems = run_problems(result)
    assert all(p.startswith("check ") for p in problems), problems
    [named] = [p for p in problems if p.startswith("check stripe_raw/accounts data_lag failed: ")]
    assert all(account in named and reasons[account] in named for account in failing)

    # Their last successful sync did not move; the healthy account's did.
    for account in failing:
        assert connections[account].last_synced_at == EARLIER_SYNC
        assert connections[account].status is Status.NEEDS_REAUTH
    assert connections[healthy.account_id].last_synced_at > EARLIER_SYNC
    assert connections[healthy.account_id].status is Status.ACTIVE
