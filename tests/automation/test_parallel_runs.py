"""Accounts sync in parallel Dagster runs on Postgres (orchestration/automation/concurrency.py, batches.py,
orchestration/ingest/pipeline.py); DuckDB keeps one writer at a time whatever STRIPE_SYNC_PARALLELISM says."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

from orchestration.automation.batches import BATCH_TAG, BUILT_AFTER_TAG, builds_after_sync
from orchestration.automation.cadence import Automation
from orchestration.automation.concurrency import (
    ACCOUNT_TAG,
    INGEST_POOL,
    INGEST_RUN_TAGS,
    INGEST_TAG,
    INSTANCE_CONFIG,
    WAREHOUSE_POOL,
    WRITES_TAG,
    apply_pool_limits,
    ingest_pool,
    instance_config,
    parallelism_notice,
    sync_parallelism,
    write_instance_config,
)
from orchestration.automation.jobs import BUILD_JOB_NAME, SYNC_ACCOUNTS_JOB_NAME
from orchestration.automation.partitions import STRIPE_ACCOUNTS
from orchestration.automation.schedules import build_schedules
from orchestration.ingest.pipeline import _only_account
from orchestration.settings import ConfigurationError, Settings
from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account

PROJECT = Path(__file__).resolve().parents[2]
PLATFORM_KEY = "sk_test_platform_parallel_01"
RAW_CUSTOMERS = AssetKey(["stripe_raw", "customers"])


def test_postgres_syncs_four_accounts_at_once_by_default_and_takes_the_setting():
    assert sync_parallelism(Settings.from_env({"WAREHOUSE": "postgres"})) == 4
    settings = Settings.from_env({"WAREHOUSE": "postgres", "STRIPE_SYNC_PARALLELISM": "3"})
    assert sync_parallelism(settings) == 3
    assert ingest_pool(settings) == INGEST_POOL
    with pytest.raises(ConfigurationError, match="STRIPE_SYNC_PARALLELISM"):
        Settings.from_env({"STRIPE_SYNC_PARALLELISM": "0"})


def test_duckdb_keeps_one_writer_whatever_the_setting_and_says_so():
    settings = Settings.from_env({"STRIPE_SYNC_PARALLELISM": "4"})
    assert sync_parallelism(settings) == 1
    assert ingest_pool(settings) == WAREHOUSE_POOL
    assert instance_config(settings) == INSTANCE_CONFIG
    notice = parallelism_notice(settings)
    assert notice is not None and "STRIPE_SYNC_PARALLELISM=4" in notice and "DuckDB" in notice
    assert parallelism_notice(Settings.from_env({})) is None
    # Postgres with a setting of 1: today's one-run arrangement, nothing to say.
    one = Settings.from_env({"WAREHOUSE": "postgres", "STRIPE_SYNC_PARALLELISM": "1"})
    assert instance_config(one) == INSTANCE_CONFIG and parallelism_notice(one) is None


def test_the_instance_limits_follow_the_setting(tmp_path):
    settings = Settings.from_env({"WAREHOUSE": "postgres", "STRIPE_SYNC_PARALLELISM": "12"})
    write_instance_config(tmp_path, settings)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        apply_pool_limits(instance, settings)
        config = instance.get_concurrency_config()
        ingest_slots = instance.event_log_storage.get_concurrency_info(INGEST_POOL).slot_count
    # dbt and the checks: one at a time; the account syncs: twelve.
    assert config.pool_config.default_pool_limit == 1
    assert ingest_slots == 12
    limits = {
        limit["key"]: (limit["value"], limit["limit"]) for limit in config.run_queue_config.tag_concurrency_limits
    }
    assert limits[WRITES_TAG] == ("warehouse", 1)
    assert limits[INGEST_TAG] == ("accounts", 12)
    assert limits[ACCOUNT_TAG] == ({"applyLimitPerUniqueValue": True}, 1)
    # Room for every sync and the build after them.
    assert config.run_queue_config.max_concurrent_runs == 13


def test_a_parallel_schedule_runs_each_account_apart_in_one_batch(instance):
    sync, reconcile = build_schedules(Automation.from_env({"WAREHOUSE": "postgres"}))
    assert isinstance(sync(build_schedule_context(instance=instance)), SkipReason), "no account yet"
    instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, ["acct_1", "acct_2", "acct_3"])
    tick = datetime(2026, 1, 5, 10, tzinfo=UTC)
    for schedule in (sync, reconcile):
        requests = schedule(build_schedule_context(instance=instance, scheduled_execution_time=tick))
        assert [r.partition_key for r in requests] == ["acct_1", "acct_2", "acct_3"]
        assert [r.tags[ACCOUNT_TAG] for r in requests] == ["acct_1", "acct_2", "acct_3"]
        assert {r.tags[BATCH_TAG] for r in requests} == {f"{schedule.name}@2026-01-05T10:00:00+00:00"}
        assert schedule.job_name.endswith("_accounts")


def _account_run(instance, batch: str, account: str, status: DagsterRunStatus) -> None:
    from dagster._core.test_utils import create_run_for_test

    create_run_for_test(
        instance,
        job_name=SYNC_ACCOUNTS_JOB_NAME,
        status=status,
        tags={**INGEST_RUN_TAGS, BATCH_TAG: batch, ACCOUNT_TAG: account},
    )


def test_the_build_waits_for_every_run_of_the_batch_then_comes_once(instance):
    _account_run(instance, "tick@1", "acct_1", DagsterRunStatus.SUCCESS)
    _account_run(instance, "tick@1", "acct_2", DagsterRunStatus.STARTED)
    first = builds_after_sync(build_sensor_context(instance=instance))
    assert isinstance(first, SensorResult) and first.run_requests == [], "acct_2 still syncs"

    run = instance.get_runs()[0]
    assert run.tags[ACCOUNT_TAG] == "acct_2"
    instance.report_run_failed(run)  # one account failing keeps no one else's rows from the marts
    second = builds_after_sync(build_sensor_context(instance=instance, cursor=first.cursor))
    assert isinstance(second, SensorResult)
    [build] = second.run_requests
    assert build.run_key == "tick@1" and build.tags[BUILT_AFTER_TAG] == "tick@1"
    assert isinstance(builds_after_sync(build_sensor_context(instance=instance, cursor=second.cursor)), SkipReason)

    # A batch whose every run failed loaded nothing: no build.
    _account_run(instance, "tick@2", "acct_1", DagsterRunStatus.FAILURE)
    third = builds_after_sync(build_sensor_context(instance=instance, cursor=second.cursor))
    assert isinstance(third, SensorResult) and third.run_requests == []


def test_only_the_account_s_own_state_is_carried_over():
    state = {
        "cursors": {"customers": {"acct_a": {"created": 5}, "acct_b": {"created": 7}}, "coupons": {"acct_b": {}}},
        "lists_loaded_through": {"payout_balance_transactions": {"acct_a": 3}},
        "version": 2,
    }
    assert _only_account(state, "acct_a") == {
        "cursors": {"customers": {"acct_a": {"created": 5}}, "coupons": {}},
        "lists_loaded_through": {"payout_balance_transactions": {"acct_a": 3}},
        "version": 2,
    }


# --- On a real Postgres server -------------------------------------------------------------------------------

# A run of the ingestion job for one account, in a process of its own, started when the test says go: the two
# runs start together after their imports.
RUN_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dagster import DagsterInstance
    from orchestration.automation.once import QUIET_RUN_CONFIG
    from orchestration.definitions import defs

    home, account, batch, go = sys.argv[1:5]
    job = defs.resolve_job_def("stripe_sync_accounts")
    while not Path(go).exists():
        time.sleep(0.05)
    with DagsterInstance.from_config(home) as instance:
        result = job.execute_in_process(
            instance=instance, partition_key=account, raise_on_error=False, run_config=QUIET_RUN_CONFIG,
            tags={"stripe_warehouse/batch": batch, "stripe_warehouse/account": account},
        )
    sys.exit(0 if result.success else 1)
    """
)


def _concurrent_account_runs(home: Path, accounts: list[str], batch: str, tmp: Path) -> None:
    go = tmp / f"go-{batch}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_SCRIPT, str(home), account, batch, str(go)],
            cwd=PROJECT,
            env={**os.environ, "PYTHONPATH": str(PROJECT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for account in accounts
    ]
    go.touch()
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-3000:]


@pytest.fixture(scope="module")
def two_accounts():
    """The platform and two small connected accounts."""
    return (
        generate_account(seed=71, customers=3, patterns=False),
        generate_account(seed=72, customers=9, patterns=False),
        generate_account(seed=73, customers=7, patterns=False),
    )


@pytest.mark.timeout(900)
def test_two_accounts_sync_in_concurrent_runs_and_dbt_builds_once(
    two_accounts, postgres_database, prime_dbt, tmp_path, monkeypatch
):
    from orchestration.automation.once import QUIET_RUN_CONFIG
    from orchestration.resources import default_resources

    platform, first, second = two_accounts
    accounts = [first.account_id, second.account_id]
    dbt_target = tmp_path / "dbt"
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("WAREHOUSE", "postgres")
    for name, value in postgres_database.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("STRIPE_API_KEY", PLATFORM_KEY)
    monkeypatch.setenv("STRIPE_ACCOUNT_IDS", ",".join(accounts))
    monkeypatch.setenv("STRIPE_SYNC_PARALLELISM", "2")
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", "1000")
    monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_target))
    for name in ("DBT_TARGET", "CONNECTIONS_DB", "DUCKDB_PATH", "STRIPE_PLATFORM_KEY"):
        monkeypatch.delenv(name, raising=False)
    prime_dbt(dbt_target)
    # A little latency, so that each run reads for a few seconds and the two overlap.
    options = SimulatorOptions(latency_ms=30)
    with SimulatorServer(
        [platform, first, second], api_keys={PLATFORM_KEY: platform.account_id}, options=options
    ) as server:
        monkeypatch.setenv("STRIPE_API_BASE", server.base_url)
        settings = Settings.from_env()
        write_instance_config(home, settings)
        with DagsterInstance.from_config(str(home)) as instance:
            apply_pool_limits(instance, settings)
            instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, accounts)

        _concurrent_account_runs(home, accounts, "tick@1", tmp_path)

        with DagsterInstance.from_config(str(home)) as instance:
            records = instance.get_run_records()
            assert {r.dagster_run.tags[ACCOUNT_TAG] for r in records} == set(accounts)
            assert {r.dagster_run.status for r in records} == {DagsterRunStatus.SUCCESS}
            # The two runs were in progress at the same time.
            assert max(r.start_time for r in records) < min(r.end_time for r in records)
            full = _objects_read(instance, accounts)
            assert all(read > 1 for read in full.values())

            # The build comes once both have ended, over both accounts.
            due = builds_after_sync(build_sensor_context(instance=instance, resources=default_resources()))
            assert isinstance(due, SensorResult)
            [request] = due.run_requests
            assert isinstance(request, RunRequest)
            # Built for this test's settings: `orchestration.definitions.defs` may come from another test's.
            from orchestration.definitions import build_definitions

            defs = build_definitions(Automation.from_env())
            build = defs.resolve_job_def(BUILD_JOB_NAME).execute_in_process(
                instance=instance, tags=request.tags, run_config=QUIET_RUN_CONFIG, raise_on_error=False
            )
            assert build.success
            later = builds_after_sync(build_sensor_context(instance=instance, cursor=due.cursor))
            assert isinstance(later, SkipReason), "one build per batch"

        connection = postgres_database.connect()
        try:
            cursor = connection.cursor()
            for account in (first, second):
                cursor.execute("select id from stripe_raw.customers where account_id = %s", (account.account_id,))
                assert {row[0] for row in cursor.fetchall()} == {c["id"] for c in account.objects["customers"]}
            cursor.execute("select account_id, count(*) from stripe_raw.customers group by account_id")
            raw = dict(cursor.fetchall())
            cursor.execute("select account_id, count(*) from stripe.customers group by account_id")
            assert dict(cursor.fetchall()) == raw
            # Each account's cursors in a pipeline of its own.
            cursor.execute("select distinct pipeline_name from stripe_raw._dlt_pipeline_state")
            assert {row[0] for row in cursor.fetchall()} == {f"stripe_{account}" for account in accounts}
        finally:
            connection.close()

        # Both kept their cursors: the next concurrent sync reads only what changed (nothing, but the newest
        # object, created at the cursor itself).
        _concurrent_account_runs(home, accounts, "tick@2", tmp_path)
        with DagsterInstance.from_config(str(home)) as instance:
            again = _objects_read(instance, accounts)
            assert all(again[account] < full[account] for account in accounts), (again, full)
            assert _sync_modes(instance, accounts) == {
                first.account_id: "incremental",
                second.account_id: "incremental",
            }


def _latest_customers(instance, account: str):
    from dagster import AssetRecordsFilter

    [record] = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=RAW_CUSTOMERS, asset_partitions=[account]), limit=1
    ).records
    return record.asset_materialization.metadata


def _objects_read(instance, accounts: list[str]) -> dict[str, int]:
    return {account: _latest_customers(instance, account)["objects_read"].value for account in accounts}


def _sync_modes(instance, accounts: list[str]) -> dict[str, str]:
    return {account: _latest_customers(instance, account)["sync_mode"].value for account in accounts}


def test_an_account_keeps_its_cursors_from_the_shared_pipeline(
    two_accounts, postgres_database, tmp_path, monkeypatch, caplog
):
    """A Postgres warehouse synced before accounts had pipelines of their own: each account's first sync in its
    own pipeline reads what changed since the shared one's cursors, not everything again."""
    from orchestration.ingest.context import SyncContext
    from orchestration.ingest.pipeline import extract_settings, stripe_pipeline, sync_accounts
    from orchestration.ingest.source import stripe_source

    platform, first, _ = two_accounts
    monkeypatch.setenv("WAREHOUSE", "postgres")
    for name, value in postgres_database.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STRIPE_API_KEY", PLATFORM_KEY)
    monkeypatch.setenv("STRIPE_ACCOUNT_IDS", first.account_id)
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", "1000")
    with SimulatorServer([platform, first], api_keys={PLATFORM_KEY: platform.account_id}) as server:
        monkeypatch.setenv("STRIPE_API_BASE", server.base_url)
        settings = Settings.from_env()
        # What earlier versions did on Postgres: every account in the one `stripe` pipeline.
        with SyncContext(settings) as context, extract_settings():
            stripe_pipeline(settings).run(stripe_source(context))
        full = context.report.for_table("customers")[0].rows
        assert full > 1

        with caplog.at_level("INFO", logger="orchestration.ingest.pipeline"):
            report = sync_accounts(settings)
        [customers] = report.for_table("customers")
        # Incremental: from the carried cursor (which re-reads the newest object, created at the cursor itself).
        assert customers.mode == "incremental" and customers.rows < full
        assert f"{first.account_id}: cursors carried over" in caplog.text
