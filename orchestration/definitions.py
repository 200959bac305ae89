"""The Dagster definitions the UI (workspace.yaml) and `stripe-warehouse run` load: the ingestion and dbt
assets, the data-lag check, the jobs, schedules and sensor. Loading them reads no secret and calls no
network."""

from dagster import Definitions, in_process_executor

from orchestration.automation.batches import build_after_sync_sensor
from orchestration.automation.cadence import Automation
from orchestration.automation.checks import stripe_data_lag_check
from orchestration.automation.concurrency import WAREHOUSE_POOL, ingest_pool
from orchestration.automation.freshness import sync_freshness_policy
from orchestration.automation.jobs import (
    PARALLEL_JOBS,
    RECONCILE_JOB_NAME,
    SYNC_JOB_NAME,
    stripe_full_reconciliation_job,
    stripe_sync_job,
)
from orchestration.automation.partitions import STRIPE_ACCOUNTS
from orchestration.automation.schedules import build_schedules
from orchestration.automation.sensors import build_accounts_sensor
from orchestration.ingest.assets import build_stripe_ingest_assets
from orchestration.resources import default_resources
from orchestration.settings import Settings
from orchestration.transform.assets import build_stripe_dbt_assets


def build_definitions(automation: Automation) -> Definitions:
    freshness = sync_freshness_policy(automation)
    # The configured warehouse is a kind of every table asset, and decides whether accounts sync in parallel
    # runs (concurrency.py); the settings need no secret.
    settings = Settings.from_env()
    warehouse = settings.warehouse
    parallel = automation.parallelism > 1
    dbt_assets, dbt_source_tests = build_stripe_dbt_assets(
        pool=WAREHOUSE_POOL, freshness_policy=freshness, warehouse=warehouse
    )
    return Definitions(
        assets=[
            build_stripe_ingest_assets(
                partitions_def=STRIPE_ACCOUNTS,
                pool=ingest_pool(settings),
                freshness_policy=freshness,
                warehouse=warehouse,
            ),
            dbt_assets,
        ],
        asset_checks=[dbt_source_tests, stripe_data_lag_check],
        jobs=[stripe_sync_job, stripe_full_reconciliation_job, *(PARALLEL_JOBS if parallel else [])],
        schedules=build_schedules(automation),
        sensors=[build_accounts_sensor(automation), *([build_after_sync_sensor(automation)] if parallel else [])],
        # The settings every asset, check and the sensor receive: read from the environment at each run's start.
        resources=default_resources(),
        # Every step opens the warehouse and the pool runs them one at a time anyway: running them in the
        # run's own process spares each step a Python start and a load of these definitions.
        executor=in_process_executor,
    )


defs = build_definitions(Automation.from_env())

__all__ = ["RECONCILE_JOB_NAME", "SYNC_JOB_NAME", "build_definitions", "defs"]
