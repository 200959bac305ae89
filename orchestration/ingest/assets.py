"""The ingestion assets: one Dagster asset per raw Stripe table, loaded by the dlt source, partitioned by
Stripe account.

The specs are built from the object list (orchestration/ingest/stripe_objects.py) with Dagster only:
building the dlt source and pipeline, as dagster-dlt's `@dlt_assets` does to describe the assets, costs over
a second on every load of the definitions. A run builds them and loads the selected tables through
dagster-dlt's resource, which runs the pipeline and reports what dlt loaded.
"""

from collections.abc import Collection, Iterator
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    BackfillPolicy,
    Config,
    Failure,
    FreshnessPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    ResourceParam,
    multi_asset,
)
from pydantic import Field

from orchestration.ingest.accounts import credentials_for
from orchestration.settings import Settings, StripeCredential
from orchestration.stripe_objects import RAW_DATASET, STRIPE_OBJECTS
from orchestration.sync_report import SyncReport
from orchestration.warehouse.access import describe_warehouse_fault
from orchestration.warehouse.table_metadata import table_metadata

INGEST_GROUP = "stripe_ingest"
INGEST_OP_NAME = "stripe_ingest"
FAILED_ACCOUNTS_METADATA = "failed_accounts"
"""Every table's metadata: the accounts of the run whose sync failed, with Stripe's reason (no secret)."""
SYNC_FAILED_METADATA = "sync_failed"
"""A failed account's own partition: why its sync failed. Its rows are those of its last good sync."""
ACCOUNTS_DESCRIPTION = "The Stripe accounts read, one row each: the key's own account or the connected account."


class StripeSyncConfig(Config):
    """Run configuration of the ingestion step (the launchpad shows it)."""

    full_refresh: bool = Field(
        default=False,
        description=(
            "Reload every object of every account in full instead of reading what changed: picks up what no "
            "event reports (coupon redemptions, deletions older than Stripe's 30 days of events)."
        ),
    )


def raw_asset_key(table: str) -> AssetKey:
    """`stripe_raw/<table>`: the key the dbt source of the same table has, so ingestion and transformation
    form one lineage graph."""
    return AssetKey([RAW_DATASET, table])


def raw_tables() -> dict[str, str]:
    """Every raw table the dlt source loads (one resource each), with its description."""
    tables = {}
    for obj in STRIPE_OBJECTS:
        tables[obj.table] = obj.description
        for child in obj.children:
            tables[child.table] = obj.child_description(child)
    tables["accounts"] = ACCOUNTS_DESCRIPTION
    return tables


def build_stripe_ingest_assets(
    *, partitions_def: PartitionsDefinition, pool: str, freshness_policy: FreshnessPolicy | None, warehouse: str
):
    """The ingestion assets, partitioned by Stripe account id.

    A run with partition keys reads those accounts; a run without (a plain job launch, tests) reads every
    account. A backfill over many accounts is a single run, so they share one rate limiter and one load.
    """
    specs = [
        AssetSpec(
            key=raw_asset_key(table),
            description=description,
            group_name=INGEST_GROUP,
            kinds={"dlt", "stripe", warehouse},
            freshness_policy=freshness_policy,
            metadata={"dagster/table_name": f"{RAW_DATASET}.{table}"},
        )
        for table, description in raw_tables().items()
    ]

    @multi_asset(
        name=INGEST_OP_NAME,
        specs=specs,
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        pool=pool,
        description="Loads the selected raw tables of the run's Stripe accounts with dlt.",
    )
    def stripe_ingest_assets(
        context: AssetExecutionContext, config: StripeSyncConfig, settings: ResourceParam[Settings]
    ) -> Iterator[Any]:
        yield from _sync(context, config, settings)

    return stripe_ingest_assets


def _sync(context: AssetExecutionContext, config: StripeSyncConfig, settings: Settings) -> Iterator[Any]:
    # Imported here: dlt, the Stripe client and the connections store are a run's business, not the load's.
    from orchestration.connect.accounts import record_sync_outcome
    from orchestration.ingest.pipeline import account_loads, extract_settings, sources_to_load

    # The settings resource reads them per run (orchestration/resources.py), so a changed key or warehouse takes
    # effect without reloading the code.
    credentials, missing = credentials_for(settings, _partition_accounts(context))
    if not credentials and not missing:
        raise Failure(description="No Stripe account to sync: set STRIPE_API_KEY or connect an account.")
    context.log.info(
        "Syncing %s%s",
        ", ".join(c.known_account_id or "the account of STRIPE_API_KEY" for c in credentials) or "no account",
        " (full reload)" if config.full_refresh else "",
    )
    tables = sorted(key.path[-1] for key in context.selected_asset_keys)
    rows_loaded: dict[str, int] = {}
    dlt_metadata: dict[AssetKey, dict[str, Any]] = {}
    with _sync_context(settings, credentials, config.full_refresh) as sync, extract_settings():
        for account_id, reason in missing.items():
            sync.report.fail(account_id, reason)
        # One pipeline on DuckDB; on Postgres one per account (pipeline.py). Each runs one load, or two when
        # the payouts load last (`sources_to_load`).
        for pipeline, share in account_loads(settings, sync) if credentials else ():
            with sources_to_load(settings, share, tables) as sources:
                for source in sources:
                    dlt_metadata.update(_run_load(context, pipeline, source))
                    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
                    for table, rows in (normalized.row_counts if normalized else {}).items():
                        rows_loaded[table] = rows_loaded.get(table, 0) + rows
    context.log.info(sync.report.traffic_summary())
    # Given the credentials the sync used, so a re-authentication made meanwhile is not undone.
    record_sync_outcome(settings, sync.report, credentials=credentials)
    failures = sync.report.failures
    read = {reader.account_id_or_key for reader in sync.readers} if credentials else set()
    if failures and not read - failures.keys():
        # No account was read: nothing new to materialize, nothing for the models to build on.
        raise Failure(
            description=_failures_text(f"Every Stripe account of the run failed ({len(failures)}).", failures),
            allow_retries=False,
        )
    if failures:
        # The accounts that loaded are materialized and the models build on them; the failed ones are named in
        # the metadata of every table (and on their own partitions), where the data-lag check reads them.
        context.log.error(
            _failures_text(f"{len(failures)} Stripe account(s) failed; the others were loaded.", failures)
        )
        for account in sorted(failures.keys() & set(_partition_accounts(context) or ())):
            for table in tables:
                context.add_asset_metadata(
                    {SYNC_FAILED_METADATA: MetadataValue.text(failures[account])},
                    asset_key=raw_asset_key(table),
                    partition_key=account,
                )
    # The tables' total rows and columns, read once dlt has let go of the warehouse.
    tables_metadata = table_metadata(settings, [raw_asset_key(table) for table in tables])
    for table in tables:
        key = raw_asset_key(table)
        yield MaterializeResult(
            asset_key=key,
            metadata={
                **dlt_metadata.get(key, {}),
                "rows_loaded": MetadataValue.int(rows_loaded.get(table, 0)),
                **tables_metadata.get(key, {}),
                **_sync_metadata(table, sync.report),
                FAILED_ACCOUNTS_METADATA: MetadataValue.json(dict(sorted(failures.items()))),
            },
        )


def _run_load(context: AssetExecutionContext, pipeline, source) -> dict[AssetKey, dict[str, Any]]:
    """Runs one load through dagster-dlt, which describes what dlt loaded per table: that, per asset."""
    from dagster_dlt import DagsterDltResource

    metadata: dict[AssetKey, dict[str, Any]] = {}
    try:
        # Each selected table's transformer brings along the page producer it reads from.
        for result in DagsterDltResource().run(
            context=context, dlt_source=source, dlt_pipeline=pipeline, dagster_dlt_translator=_raw_table_keys()
        ):
            if result.asset_key is not None:
                metadata[result.asset_key] = dict(result.metadata or {})
    except Exception as exc:
        # dlt wraps a held DuckDB file or a full disk in pages of advice that do not apply: the UI shows the
        # one line that names the file and the fix instead.
        fault = describe_warehouse_fault(_exception_texts(exc))
        if fault is None:
            raise
        raise Failure(description=fault, allow_retries=False) from exc
    return metadata


def _exception_texts(exc: BaseException) -> list[str]:
    """The messages of an exception and of every exception it was caused by or raised during."""
    texts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts.append(str(current))
        pending += [current.__cause__, current.__context__]
    return texts


def _failures_text(headline: str, failures: dict[str, str]) -> str:
    return "\n".join([headline, *(f"- {account}: {reason}" for account, reason in sorted(failures.items()))])


def _raw_table_keys():
    from dagster_dlt import DagsterDltTranslator

    class RawTableKeys(DagsterDltTranslator):
        """Keys each dlt resource as its ingestion asset, `stripe_raw/<table>`."""

        def get_asset_spec(self, data) -> AssetSpec:
            return AssetSpec(key=raw_asset_key(data.resource.name))

    return RawTableKeys()


def _partition_accounts(context: AssetExecutionContext) -> Collection[str] | None:
    """The account ids of the run's partitions; None for a run without partitions (every account)."""
    if context.has_partition_key or context.has_partition_key_range:
        return context.partition_keys
    return None


def _sync_context(settings: Settings, credentials: tuple[StripeCredential, ...], full_refresh: bool):
    from orchestration.ingest.context import SyncContext

    return SyncContext(settings, credentials=credentials, full_refresh=full_refresh)


def _sync_metadata(table: str, report: SyncReport) -> dict[str, Any]:
    progress = report.for_table(table)
    if not progress:
        return {}
    return {
        "objects_read": MetadataValue.int(sum(p.rows + p.refetched for p in progress)),
        "objects_deleted": MetadataValue.int(sum(p.deleted for p in progress)),
        "sync_mode": MetadataValue.text(", ".join(sorted({p.mode for p in progress}))),
        "cursor_created": MetadataValue.json({p.account_id: p.cursor for p in progress}),
        # Requests are counted per account, not per table: these are the whole sync's, every table shows them.
        "requests_this_sync": MetadataValue.int(report.requests()),
        "faults_retried_this_sync": MetadataValue.json(report.faults()),
        "requests_by_account": MetadataValue.json(report.traffic),
    }
