"""The ingestion assets: one Dagster asset per raw Stripe table, materialized by dagster-dlt."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Failure, MaterializeResult, MetadataValue
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from orchestration.ingest.pipeline import RAW_DATASET, stripe_pipeline
from orchestration.ingest.report import SyncReport
from orchestration.ingest.source import SyncContext, stripe_source
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
            description=(data.resource.__doc__ or "").strip() or None,
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
    with SyncContext(settings) as sync:
        results = list(dlt.run(context=context, dlt_source=stripe_source(sync), dlt_pipeline=stripe_pipeline(settings)))
    for result in results:
        yield _with_sync_metadata(result, sync.report)
    if sync.report.failures:
        reasons = "\n".join(f"- {account}: {reason}" for account, reason in sorted(sync.report.failures.items()))
        raise Failure(
            description=f"{len(sync.report.failures)} Stripe account(s) failed; the others were loaded.\n{reasons}",
            allow_retries=False,
        )


def _with_sync_metadata(result: MaterializeResult, report: SyncReport) -> MaterializeResult:
    table = result.asset_key.path[-1] if result.asset_key else ""
    progress = report.for_table(table)
    if not progress:
        return result
    metadata = {
        "objects_read": MetadataValue.int(sum(p.rows + p.refetched for p in progress)),
        "objects_deleted": MetadataValue.int(sum(p.deleted for p in progress)),
        "sync_mode": MetadataValue.text(", ".join(sorted({p.mode for p in progress}))),
        "cursor_created": MetadataValue.json({p.account_id: p.cursor for p in progress}),
        "requests_by_account": MetadataValue.json(report.requests),
        "rate_limited_by_account": MetadataValue.json(report.rate_limited),
    }
    return MaterializeResult(
        asset_key=result.asset_key, metadata={**(result.metadata or {}), **metadata}, data_version=result.data_version
    )
