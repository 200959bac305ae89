"""The Dagster definitions: assembles the stages, nothing else."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from orchestration.ingest.assets import stripe_ingest_assets
from orchestration.transform.assets import stripe_dbt_assets
from orchestration.transform.project import DBT_EXECUTABLE, DBT_PROJECT

SYNC_JOB_NAME = "stripe_sync"

stripe_sync_job = define_asset_job(
    SYNC_JOB_NAME,
    selection=AssetSelection.all(),
    description="Ingest every configured Stripe account, then build and test the dbt models.",
)

defs = Definitions(
    assets=[stripe_ingest_assets, stripe_dbt_assets],
    jobs=[stripe_sync_job],
    resources={
        "dlt": DagsterDltResource(),
        "dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE),
    },
)
