"""The jobs: the sync (incremental ingest, then the dbt build) and the full reconciliation.

Both select every asset: the ingestion assets are partitioned by account, so a run takes its accounts as
partition keys (a range for all of them); the dbt assets are not, and build over every account.
"""

from dagster import AssetSelection, RunConfig, define_asset_job

from orchestration.automation.concurrency import WRITER_RUN_TAGS
from orchestration.ingest.assets import INGEST_OP_NAME, StripeSyncConfig

SYNC_JOB_NAME = "stripe_sync"
RECONCILE_JOB_NAME = "stripe_full_reconciliation"

stripe_sync_job = define_asset_job(
    SYNC_JOB_NAME,
    selection=AssetSelection.all(),
    tags=WRITER_RUN_TAGS,
    description=(
        "Read what changed in the run's Stripe accounts (its partitions; every account without), then build "
        "and test every dbt model over all accounts."
    ),
)

stripe_full_reconciliation_job = define_asset_job(
    RECONCILE_JOB_NAME,
    selection=AssetSelection.all(),
    tags=WRITER_RUN_TAGS,
    config=RunConfig(ops={INGEST_OP_NAME: StripeSyncConfig(full_refresh=True)}),
    description=(
        "Reload every object of the run's Stripe accounts in full, then build and test the models: catches "
        "what no event reports (counters such as a coupon's redemptions, deletions older than 30 days)."
    ),
)
