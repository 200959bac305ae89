"""The data-lag check: per Stripe account, whether its key tables still receive new objects.

`monitoring.stripe_data_lag` (a dbt model, built with the marts) compares the newest object of charges,
invoices, subscriptions and events with the account's last load. The check reads it for the run's accounts
and is partitioned like the ingestion assets, so each account has its own result on `stripe_raw/accounts`.
"""

import warnings

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    MetadataValue,
    PreviewWarning,
    ResourceParam,
    TableColumn,
    TableRecord,
    TableSchema,
    asset_check,
)

from orchestration.automation.concurrency import WAREHOUSE_POOL
from orchestration.automation.partitions import STRIPE_ACCOUNTS
from orchestration.ingest.assets import SYNC_FAILED_METADATA
from orchestration.settings import Settings
from orchestration.warehouse.reads import fetch_rows

DATA_LAG_MODEL = AssetKey(["monitoring", "stripe_data_lag"])
ACCOUNTS_RAW = AssetKey(["stripe_raw", "accounts"])

_LAG_SQL = """
    select account_id, table_name, status, lag_hours, warn_after_hours, error_after_hours, row_count
    from monitoring.stripe_data_lag
    order by account_id, table_name
"""
_MODEL_BUILT_SQL = """
    select 1 from information_schema.tables where table_schema = 'monitoring' and table_name = 'stripe_data_lag'
"""
_SCHEMA = TableSchema(
    columns=[
        TableColumn("account_id", "string"),
        TableColumn("table_name", "string"),
        TableColumn("status", "string", description="ok, warn, error, or no_data (nothing with a creation time)"),
        TableColumn("lag_hours", "float", description="Newest object to the account's last load"),
        TableColumn("warn_after_hours", "float"),
        TableColumn("error_after_hours", "float"),
        TableColumn("row_count", "int"),
    ]
)


def _data_lag(context: AssetCheckExecutionContext, settings: ResourceParam[Settings]) -> AssetCheckResult:
    accounts = set(context.partition_keys)
    failed = _failed_syncs(context.instance, accounts)
    _, built = fetch_rows(settings, _MODEL_BUILT_SQL)
    if not built:
        # An ingestion run without the dbt build, before any build: nothing to compare yet.
        if failed:
            return AssetCheckResult(
                passed=False,
                metadata={"failed_syncs": MetadataValue.json(failed)},
                description="; ".join(f"{a}: its last sync failed: {reason}" for a, reason in failed.items()),
            )
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description="monitoring.stripe_data_lag is not built yet: materialize the dbt assets.",
        )
    _, rows = fetch_rows(settings, _LAG_SQL)
    lags = [row for row in rows if row[0] in accounts]
    statuses = {row[2] for row in lags}
    unloaded = sorted(accounts - {row[0] for row in lags})
    late = [f"{row[0]} {row[1]} ({float(row[3]):.0f} h, {row[2]})" for row in lags if row[2] in ("warn", "error")]
    metadata = {
        "lags": MetadataValue.table(
            records=[
                TableRecord(
                    {
                        "account_id": account_id,
                        "table_name": table,
                        "status": status,
                        "lag_hours": float(lag) if lag is not None else None,
                        "warn_after_hours": float(warn),
                        "error_after_hours": float(error),
                        "row_count": int(count),
                    }
                )
                for account_id, table, status, lag, warn, error, count in lags
            ],
            schema=_SCHEMA,
        ),
        "max_lag_hours": MetadataValue.float(max((float(r[3]) for r in lags if r[3] is not None), default=0.0)),
        "accounts_without_load": MetadataValue.json(unloaded),
        "failed_syncs": MetadataValue.json(failed),
    }
    if failed or unloaded or "error" in statuses:
        problems = [f"{a}: its last sync failed: {reason}" for a, reason in failed.items()]
        problems += [f"{a}: no load recorded" for a in unloaded if a not in failed] + late
        return AssetCheckResult(passed=False, metadata=metadata, description="; ".join(problems))
    if "warn" in statuses:
        return AssetCheckResult(
            passed=False, severity=AssetCheckSeverity.WARN, metadata=metadata, description="; ".join(late)
        )
    return AssetCheckResult(passed=True, metadata=metadata)


def _failed_syncs(instance: DagsterInstance, accounts: set[str]) -> dict[str, str]:
    """Account → why its latest sync failed, for the accounts whose latest ingestion says so.

    The ingestion step materializes every partition of its run and names the failed accounts on their own
    partitions (`sync_failed`): their rows are those of an older sync, however fresh the lag looks.
    """
    failed = {}
    for account in sorted(accounts):
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=ACCOUNTS_RAW, asset_partitions=[account]), limit=1
        ).records
        materialization = records[0].asset_materialization if records else None
        reason = materialization.metadata.get(SYNC_FAILED_METADATA) if materialization else None
        if reason is not None:
            failed[account] = str(reason.value)
    return failed


# Partitioned asset checks are a Dagster preview feature (and say so at every load); they are what gives each
# account its own result.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PreviewWarning)
    stripe_data_lag_check = asset_check(
        asset=ACCOUNTS_RAW,
        name="data_lag",
        description=(
            "Per account: the newest charge, invoice, subscription and event against the account's last load "
            "(monitoring.stripe_data_lag). Warns past a table's warn threshold, fails past its error threshold, "
            "when the account has no load at all, or when its latest sync failed (with the reason)."
        ),
        partitions_def=STRIPE_ACCOUNTS,
        additional_deps=[DATA_LAG_MODEL],
        blocking=False,
        pool=WAREHOUSE_POOL,
    )(_data_lag)
