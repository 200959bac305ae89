"""One writer at a time: every step opening the warehouse is in the pool, which the instance limits to 1."""

from dagster import DagsterInstance

from orchestration.automation.concurrency import MARKER, WAREHOUSE_POOL, WRITER_RUN_TAGS, write_instance_config


def test_every_step_that_opens_the_warehouse_is_in_the_pool():
    from orchestration.definitions import SYNC_JOB_NAME, defs

    nodes = [*defs.assets, *defs.asset_checks]
    assert {node.node_def.name for node in nodes} == {
        "stripe_ingest",
        "stripe_dbt",
        "stripe_dbt_source_tests",
        "stripe_raw__accounts_data_lag",
    }
    assert {node.node_def.pool for node in nodes} == {WAREHOUSE_POOL}
    assert defs.resolve_job_def(SYNC_JOB_NAME).tags.items() >= WRITER_RUN_TAGS.items()


def test_the_instance_runs_one_warehouse_step_and_one_writing_run_at_a_time(tmp_path):
    write_instance_config(tmp_path)
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1
    [limit] = config.run_queue_config.tag_concurrency_limits
    assert (limit["key"], limit["value"], limit["limit"]) == (*next(iter(WRITER_RUN_TAGS.items())), 1)


def test_a_dagster_yaml_of_ones_own_is_left_alone(tmp_path):
    own = "telemetry:\n  enabled: false\n"
    (tmp_path / "dagster.yaml").write_text(own)
    write_instance_config(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == own

    # The one earlier versions wrote is brought up to date.
    (tmp_path / "dagster.yaml").write_text(
        "python_logs:\n  managed_python_loggers:\n    - orchestration\n  python_log_level: INFO\n"
    )
    write_instance_config(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text().startswith(MARKER)
