"""Asset keys and groups for the dbt nodes, so the Dagster graph reads like the warehouse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings


class StripeDbtTranslator(DagsterDbtTranslator):
    """Models are keyed `<schema>/<table>` (`stripe/customers`, `analytics/mrr_monthly`) and grouped by
    schema, i.e. by layer. Sources keep dagster-dbt's `<source>/<table>` key, which for `stripe_raw` is the
    key of the ingestion asset that loads that table."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            table = dbt_resource_props.get("alias") or dbt_resource_props["name"]
            return AssetKey([dbt_resource_props["schema"], table])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dbt_resource_props["schema"]
        return super().get_group_name(dbt_resource_props)
