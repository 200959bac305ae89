"""The jobs: the sync (incremental ingest, then the dbt build) and the full reconciliation.

Both select every asset: the ingestion assets are partitioned by account, so a run takes its accounts as
partition keys (a range for all of them); the dbt assets are not, and build over every account.

With parallel runs (Postgres, concurrency.py) the schedules and the accounts sensor run the two halves apart
instead: the ingestion alone, one run per account (`stripe_sync_accounts`, `stripe_full_reconciliation_accounts`),
then the dbt build and the checks once after them (`stripe_build`, batches.py).
"""

from dagster import AssetSelection, RunConfig, define_asset_job

from orchestration.automation.concurrency import INGEST_RUN_TAGS, WRITER_RUN_TAGS
from orchestration.ingest.assets import INGEST_GROUP, INGEST_OP_NAME, StripeSyncConfig

SYNC_JOB_NAME = "stripe_sync"
RECONCILE_JOB_NAME = "stripe_full_reconciliation"
SYNC_ACCOUNTS_JOB_NAME = "stripe_sync_accounts"
RECONCILE_ACCOUNTS_JOB_NAME = "stripe_full_reconciliation_accounts"
BUILD_JOB_NAME = "stripe_build"

_INGESTION = AssetSelection.groups(INGEST_GROUP)

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

stripe_sync_accounts_job = define_asset_job(
    SYNC_ACCOUNTS_JOB_NAME,
    # The checks read what dbt builds: they run with the build, once, not with each account.
    selection=_INGESTION.without_checks(),
    tags=INGEST_RUN_TAGS,
    description="Read what changed in the run's Stripe account (one run per account, several at a time).",
)

stripe_full_reconciliation_accounts_job = define_asset_job(
    RECONCILE_ACCOUNTS_JOB_NAME,
    selection=_INGESTION.without_checks(),
    tags=INGEST_RUN_TAGS,
    config=RunConfig(ops={INGEST_OP_NAME: StripeSyncConfig(full_refresh=True)}),
    description="Reload every object of the run's Stripe account in full (one run per account, several at a time).",
)

stripe_build_job = define_asset_job(
    BUILD_JOB_NAME,
    selection=(AssetSelection.all() - _INGESTION) | AssetSelection.all_asset_checks(),
    tags=WRITER_RUN_TAGS,
    description="Build and test every dbt model over all accounts, once the account runs of a sync are done.",
)

PARALLEL_JOBS = [stripe_sync_accounts_job, stripe_full_reconciliation_accounts_job, stripe_build_job]
