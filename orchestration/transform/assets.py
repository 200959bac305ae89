"""The dbt assets: every model, seed and snapshot, with dbt tests as asset checks."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.transform.project import DBT_PROJECT, require_manifest
from orchestration.transform.translator import StripeDbtTranslator


@dbt_assets(
    manifest=require_manifest(),
    project=DBT_PROJECT,
    dagster_dbt_translator=StripeDbtTranslator(),
    name="stripe_dbt",
)
def stripe_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    # `build` runs models, seeds and tests in DAG order, so a failing test stops its dependents only.
    yield from dbt.cli(["build"], context=context).stream()
