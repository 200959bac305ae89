"""The accounts sensor keeps the partitions equal to the accounts to sync; the schedules run all of them."""

import json
import os
import socket

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    DeleteDynamicPartitionsRequest,
    RunRequest,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

from orchestration.automation.cadence import Automation
from orchestration.automation.jobs import RECONCILE_JOB_NAME, SYNC_JOB_NAME
from orchestration.automation.partitions import STRIPE_ACCOUNTS
from orchestration.automation.schedules import build_schedules
from orchestration.automation.sensors import build_accounts_sensor
from orchestration.resources import default_resources

SENSOR = build_accounts_sensor(Automation.from_env({}))
SYNC_SCHEDULE, RECONCILE_SCHEDULE = build_schedules(Automation.from_env({}))


def sensor_context(instance, cursor=None):
    """A tick's context, with the settings resource of the definitions (read from the environment)."""
    return build_sensor_context(instance=instance, cursor=cursor, resources=default_resources())


def evaluate(instance, cursor=None) -> SensorResult:
    result = SENSOR(sensor_context(instance, cursor))
    assert isinstance(result, SensorResult)
    return result


def added(result: SensorResult) -> list[str]:
    return [
        k
        for r in result.dynamic_partitions_requests
        if isinstance(r, AddDynamicPartitionsRequest)
        for k in r.partition_keys
    ]


def deleted(result: SensorResult) -> list[str]:
    return [
        k
        for r in result.dynamic_partitions_requests
        if isinstance(r, DeleteDynamicPartitionsRequest)
        for k in r.partition_keys
    ]


def test_the_account_of_a_lone_key_is_asked_of_stripe_once(instance, pipeline_env, monkeypatch, simulated_account):
    api_key = os.environ["STRIPE_API_KEY"]
    account = simulated_account.account_id

    first = evaluate(instance)
    assert added(first) == [account]
    assert [(r.partition_key, r.job_name) for r in first.run_requests] == [(account, None)]
    assert api_key not in first.cursor, "the cursor names a key by its fingerprint only"
    assert list(json.loads(first.cursor).values()) == [account]

    # The partition exists now; with Stripe unreachable, the cursor alone knows the key's account.
    instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [account])
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")
    second = evaluate(instance, cursor=first.cursor)
    assert added(second) == [] and deleted(second) == [] and second.run_requests == []


def test_connected_accounts_become_partitions_without_a_request(instance, no_accounts_env, monkeypatch):
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_platform_0123456789")
    monkeypatch.setenv("STRIPE_ACCOUNT_IDS", "acct_b,acct_a")
    monkeypatch.setattr("orchestration.connect.accounts.connected_account_ids", lambda settings: ["acct_stored"])
    instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, ["acct_a", "acct_gone"])

    result = evaluate(instance)
    assert added(result) == ["acct_b", "acct_stored"]
    assert deleted(result) == ["acct_gone"]
    # Each new account gets a sync of its own, so it reaches the marts before the next scheduled run.
    assert sorted(r.partition_key for r in result.run_requests) == ["acct_b", "acct_stored"]


def test_an_environment_without_accounts_leaves_the_partitions_alone(instance, no_accounts_env):
    instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, ["acct_from_the_demo"])
    result = SENSOR(sensor_context(instance))
    assert isinstance(result, SkipReason)
    assert "STRIPE_API_KEY" in result.skip_message
    assert instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name) == ["acct_from_the_demo"]


def test_a_refused_key_skips_the_tick_with_the_reason(instance, no_accounts_env, monkeypatch, simulator):
    monkeypatch.setenv("STRIPE_API_BASE", simulator.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_wrong_key_000000000000")
    result = SENSOR(sensor_context(instance))
    assert isinstance(result, SkipReason)
    assert "STRIPE_API_KEY" in result.skip_message
    assert "sk_test_wrong_key_000000000000" not in result.skip_message


def test_the_schedules_run_every_account_in_one_run(instance):
    context = build_schedule_context(instance=instance)
    assert isinstance(SYNC_SCHEDULE(context), SkipReason), "no account yet: nothing to run"

    instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, ["acct_1", "acct_2", "acct_3"])
    for schedule, job in ((SYNC_SCHEDULE, SYNC_JOB_NAME), (RECONCILE_SCHEDULE, RECONCILE_JOB_NAME)):
        request = schedule(build_schedule_context(instance=instance))
        assert isinstance(request, RunRequest)
        assert request.tags["dagster/asset_partition_range_start"] == "acct_1"
        assert request.tags["dagster/asset_partition_range_end"] == "acct_3"
        assert schedule.job_name == job


def test_the_reconciliation_job_reloads_in_full_and_the_sync_does_not():
    from orchestration.definitions import defs

    def full_refresh(job_name):
        run_config = defs.resolve_job_def(job_name).get_run_config_for_partition_key("acct_1")
        return run_config.get("ops", {}).get("stripe_ingest", {}).get("config", {}).get("full_refresh", False)

    assert full_refresh(RECONCILE_JOB_NAME) is True
    assert full_refresh(SYNC_JOB_NAME) is False


def test_the_switch_turns_the_automation_off():
    automation = Automation.from_env({"STRIPE_SCHEDULES": "off"})
    assert {s.default_status for s in build_schedules(automation)} == {DefaultScheduleStatus.STOPPED}
    assert build_accounts_sensor(automation).default_status == DefaultSensorStatus.STOPPED
    assert SYNC_SCHEDULE.cron_schedule == "0 * * * *"
    assert RECONCILE_SCHEDULE.cron_schedule == "30 3 * * *"


def test_the_sensor_frees_what_a_killed_run_held(instance, no_accounts_env):
    from dagster import DagsterRunStatus
    from dagster._core.storage.dagster_run import DagsterRun

    from orchestration.automation.concurrency import WAREHOUSE_POOL
    from orchestration.automation.stale_runs import OWNER_TAG

    # A `stripe-warehouse run` of this machine whose process is gone (no pid reaches 999999999 on Linux).
    dead = {OWNER_TAG: f"{socket.gethostname()}:999999999:1"}
    instance.add_run(DagsterRun(job_name=SYNC_JOB_NAME, run_id="5" * 32, status=DagsterRunStatus.STARTED, tags=dead))
    instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
    assert instance.event_log_storage.claim_concurrency_slot(WAREHOUSE_POOL, "5" * 32, "stripe_ingest").is_claimed

    assert isinstance(SENSOR(sensor_context(instance)), SkipReason)  # no account: still cleans up
    assert instance.get_run_by_id("5" * 32).status == DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids == set()
