"""Materializing in process against the simulator: the whole graph (ingestion, dbt build, every check) for
one account's partition, as the accounts sensor requests it for a new account."""

import shutil

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

RAW_COUPONS = AssetKey(["stripe_raw", "coupons"])
MRR_MONTHLY = AssetKey(["analytics", "mrr_monthly"])
CUSTOMERS = AssetKey(["stripe", "customers"])
DATA_LAG = AssetCheckKey(AssetKey(["stripe_raw", "accounts"]), "data_lag")


@pytest.fixture(scope="module")
def run(partition_run):
    """The sync job's run for the simulated account's partition, in a fresh warehouse (tests/conftest.py)."""
    return partition_run.result


def materialization(result, key):
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key == key]
    return event.materialization


def test_the_partition_loads_that_account(run, simulated_account):
    assert run.success, [e.message for e in run.all_events if e.is_failure]
    coupons = materialization(run, RAW_COUPONS)
    assert coupons.partition == simulated_account.account_id
    metadata = coupons.metadata
    assert metadata["objects_read"].value == len(simulated_account.listable("coupons"))
    assert metadata["requests_this_sync"].value > 0
    assert metadata["faults_retried_this_sync"].value == {"rate_limited": 0, "server_errors": 0, "connection_errors": 0}
    assert metadata["cursor_created"].value[simulated_account.account_id] is not None
    assert metadata["dagster/row_count"].value == len(simulated_account.listable("coupons"))
    assert "id" in {c.name for c in metadata["dagster/column_schema"].value.columns}
    # What dagster-dlt reports of the load itself.
    assert metadata["dataset_name"].value == "stripe_raw"
    assert metadata["destination_type"].value
    # The tests of the dbt sources checked what was loaded.
    source_checks = [e for e in run.get_asset_check_evaluations() if e.asset_key == RAW_COUPONS]
    assert {e.check_name for e in source_checks} >= {"source_unique_per_account_stripe_raw_coupons_id"}
    assert all(e.passed for e in source_checks)


def test_the_whole_graph_builds_with_every_check(run):
    assert run.success, [e.message for e in run.all_events if e.is_failure]
    evaluations = {(e.asset_key, e.check_name): e for e in run.get_asset_check_evaluations()}
    # Every dbt test ran as a check, those on the ingestion assets (dbt sources) included.
    assert len(evaluations) > 300
    assert any(key.path[0] == "stripe_raw" for key, _ in evaluations)
    failed = [
        f"{k.to_user_string()} {n}" for (k, n), e in evaluations.items() if not e.passed and e.severity.value == "ERROR"
    ]
    assert not failed, failed


def test_the_data_lag_check_reports_the_account(run, simulated_account):
    [lag] = [e for e in run.get_asset_check_evaluations() if e.asset_check_key == DATA_LAG]
    rows = lag.metadata["lags"].value.records
    assert {r.data["account_id"] for r in rows} == {simulated_account.account_id}
    assert {r.data["table_name"] for r in rows} == {"charges", "invoices", "subscriptions", "events"}


def test_tables_show_row_counts_and_columns(run):
    customers = materialization(run, CUSTOMERS).metadata
    assert customers["dagster/row_count"].value > 0
    assert "customer_id" in {c.name for c in customers["dagster/column_schema"].value.columns}


def test_mrr_monthly_shows_24_months_as_table_chart_and_numbers(run):
    metadata = materialization(run, MRR_MONTHLY).metadata
    records = metadata["mrr_last_24_months"].value.records
    months = {r.data["month"] for r in records}
    assert 0 < len(months) <= 24
    assert "█" in metadata["mrr_chart"].value
    totals = {k: v.value for k, v in metadata.items() if k.startswith("mrr_") and isinstance(v.value, float)}
    assert totals and any(v > 0 for v in totals.values()), totals


def test_a_failing_source_test_is_a_failed_check_that_holds_back_no_model(partition_run, fast_tmp_path, monkeypatch):
    """On a copy of the run's warehouse, whose raw coupons it breaks on purpose."""
    import duckdb
    from dagster._core.execution.api import create_execution_plan

    from orchestration.definitions import SYNC_JOB_NAME, defs

    # The models' step never waits for the source tests' step: a failing source test holds no mart back.
    plan = create_execution_plan(defs.resolve_job_def(SYNC_JOB_NAME))
    assert "stripe_dbt_source_tests" not in plan.get_step_by_key("stripe_dbt").get_execution_dependency_keys()

    data_dir = fast_tmp_path / "data"
    shutil.copytree(partition_run.data_dir, data_dir)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("DUCKDB_PATH", str(data_dir / "warehouse.duckdb"))
    monkeypatch.setenv("DBT_TARGET_PATH", str(fast_tmp_path / "dbt_target"))
    for name in ("WAREHOUSE", "DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    connection = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    connection.execute("insert into stripe_raw.coupons select * from stripe_raw.coupons limit 1")
    connection.close()
    unique = AssetCheckKey(RAW_COUPONS, "source_unique_per_account_stripe_raw_coupons_id")
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(), asset_check_selection={unique})
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    # A failed check, shown as such, not a failed step.
    assert result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.asset_check_key == unique
    assert not evaluation.passed
    assert evaluation.metadata["failed_row_count"].value == 1
