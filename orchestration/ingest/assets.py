"""The ingestion assets: one Dagster asset per raw Stripe table, materialized by dagster-dlt."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from orchestration.ingest.pipeline import RAW_DATASET, stripe_pipeline
from orchestration.ingest.source import stripe_source
from orchestration.ingest.stripe_objects import stripe_object
from orchestration.settings import Settings

INGEST_GROUP = "stripe_ingest"


class StripeRawTranslator(DagsterDltTranslator):
    """Keys each dlt resource as `stripe_raw/<table>`, the key dagster-dbt gives the dbt source of the
    same table, so ingestion and transformation form one lineage graph."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=raw_asset_key(data.resource.name),
            deps=[],
            group_name=INGEST_GROUP,
            description=stripe_object(data.resource.name).description,
            kinds={"dlt", "stripe", *spec.kinds},
        )


def raw_asset_key(table: str) -> AssetKey:
    return AssetKey([RAW_DATASET, table])


@dlt_assets(
    dlt_source=stripe_source(),
    dlt_pipeline=stripe_pipeline(Settings.from_env()),
    name="stripe_ingest",
    dagster_dlt_translator=StripeRawTranslator(),
)
def stripe_ingest_assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    # Settings are read per run, so a changed key or warehouse takes effect without reloading the code.
    settings = Settings.from_env()
    yield from dlt.run(context=context, dlt_source=stripe_source(settings), dlt_pipeline=stripe_pipeline(settings))
