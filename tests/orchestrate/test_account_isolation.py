"""One failing account of two: the sync job, as `stripe-warehouse run` launches it over every account partition,
loads the healthy account and builds the models on it, while the failed account's data-lag check fails with
Stripe's reason, the run reports the failure, and the failed account's last successful sync stays put."""

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
    """The platform, a healthy connected account and one that will fail: small, without the patterns."""
    return (
        generate_account(seed=91, customers=3, patterns=False),
        generate_account(seed=92, customers=8, patterns=False),
        generate_account(seed=93, customers=6, patterns=False),
    )


@pytest.fixture(scope="module")
def dbt_target(tmp_path_factory, prime_dbt):
    """The dbt project parsed once for the module's runs (their warehouses differ, the parse does not)."""
    path = tmp_path_factory.mktemp("dbt_target")
    prime_dbt(path)
    return path


@pytest.fixture
def sync_two_accounts(accounts, dbt_target, fast_tmp_path, monkeypatch):
    """Runs the sync job over both connected accounts, as `stripe-warehouse run` does; `before_run(server,
    failing_id)` revokes the failing account. Both were last synced at EARLIER_SYNC. Returns the run, the
    settings, the stored connections after it, and how many requests of the failing account Stripe served."""
    from orchestration.definitions import defs
    from orchestration.orchestrate.once import sync_every_account

    platform, healthy, failing = accounts
    data_dir = fast_tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("STRIPE_PLATFORM_KEY", PLATFORM_KEY)
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", "1000")
    monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_target))
    for name in ("STRIPE_API_KEY", "STRIPE_ACCOUNT_IDS", "CONNECTIONS_DB", "DUCKDB_PATH", "WAREHOUSE", "DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)

    def run(before_run):
        with SimulatorServer([platform, healthy, failing], api_keys={PLATFORM_KEY: platform.account_id}) as server:
            monkeypatch.setenv("STRIPE_API_BASE", server.base_url)
            settings = Settings.from_env()
            store = ConnectionStore(settings.connect)
            for account in (healthy, failing):
                store.save(
                    Connection(
                        account_id=account.account_id,
                        method=Method.CONNECT_OAUTH,
                        livemode=False,
                        connected_at=EARLIER_SYNC - 3600,
                        last_synced_at=EARLIER_SYNC,
                    )
                )
            before_run(server, failing.account_id)
            with DagsterInstance.ephemeral() as instance:
                result = sync_every_account(defs, instance, settings)
            connections = {c.account_id: c for c in store.connections()}
            assert server.stats(failing.account_id).rejected > 0
            served = server.stats(failing.account_id).served
        return result, settings, connections, served

    return run


def _customers_by_account(settings: Settings, table: str) -> dict[str, int]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        return dict(connection.sql(f"select account_id, count(*) from {table} group by account_id").fetchall())


def _assert_isolated(result, settings, connections, accounts, *, failing_loaded_before_revocation: bool):
    from orchestration.orchestrate.once import run_problems

    _, healthy, failing = accounts
    # The ingestion step succeeded, and so did dbt: nothing failed but the failing account's check.
    assert not [e.step_key for e in result.all_events if e.is_step_failure]
    ingested = [m.materialization for m in result.get_asset_materialization_events() if m.asset_key == RAW_ACCOUNTS]
    [reason] = ingested[0].metadata["failed_accounts"].value.values()
    assert set(ingested[0].metadata["failed_accounts"].value) == {failing.account_id}
    assert "does not have access" in reason and "Connections page" in reason
    by_partition = {m.partition: m.metadata for m in ingested}
    assert by_partition[failing.account_id]["sync_failed"].value == reason
    assert "sync_failed" not in by_partition[healthy.account_id]

    # The models were built with the healthy account's rows.
    assert any(m.asset_key == CUSTOMERS for m in result.get_asset_materialization_events())
    raw = _customers_by_account(settings, "stripe_raw.customers")
    assert raw[healthy.account_id] == len(healthy.listable("customers"))
    assert _customers_by_account(settings, "stripe.customers")[healthy.account_id] > 0
    assert _customers_by_account(settings, "analytics.invoices")[healthy.account_id] > 0
    if not failing_loaded_before_revocation:
        assert failing.account_id not in raw

    # The failed account's data-lag check failed, with the reason. The healthy account's sync is not blamed (a
    # small generated account's newest subscription may well be weeks old: a lag of its own).
    [lag] = [e for e in result.get_asset_check_evaluations() if e.asset_check_key == DATA_LAG]
    assert not lag.passed and lag.severity == AssetCheckSeverity.ERROR
    assert f"{failing.account_id}: its last sync failed: {reason}" in lag.description
    assert f"{healthy.account_id}: its last sync failed" not in lag.description
    assert lag.metadata["failed_syncs"].value == {failing.account_id: reason}

    # `stripe-warehouse run` exits non-zero on these problems (failed checks only, no failed step), and names
    # the account and its reason.
    problems = run_problems(result)
    assert all(p.startswith("check ") for p in problems), problems
    [named] = [p for p in problems if failing.account_id in p]
    assert named.startswith("check stripe_raw/accounts data_lag failed: ") and reason in named

    # Its last successful sync did not move; the healthy account's did.
    assert connections[failing.account_id].last_synced_at == EARLIER_SYNC
    assert connections[failing.account_id].status is Status.NEEDS_REAUTH
    assert connections[healthy.account_id].last_synced_at > EARLIER_SYNC
    assert connections[healthy.account_id].status is Status.ACTIVE


def test_an_account_revoked_before_the_run_fails_alone_and_the_models_build(sync_two_accounts, accounts):
    result, settings, connections, served = sync_two_accounts(lambda server, failing: server.revoke(failing))
    assert served == 0
    _assert_isolated(result, settings, connections, accounts, failing_loaded_before_revocation=False)


def test_an_account_revoked_during_the_run_fails_alone_and_the_models_build(sync_two_accounts, accounts):
    # A few of its lists are read, then Stripe refuses the rest.
    result, settings, connections, served = sync_two_accounts(lambda server, failing: server.revoke_after(failing, 5))
    assert served == 5
    _assert_isolated(result, settings, connections, accounts, failing_loaded_before_revocation=True)
