"""The schedules: the hourly (STRIPE_SYNC_CRON) sync and the daily (STRIPE_RECONCILE_CRON) full reconciliation,
each one run over every account partition; with parallel runs (Postgres), one ingestion run per account
partition, and the dbt build once after them (batches.py)."""

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason, schedule

from orchestration.automation.batches import account_run_requests, batch_id
from orchestration.automation.cadence import Automation
from orchestration.automation.jobs import (
    stripe_full_reconciliation_accounts_job,
    stripe_full_reconciliation_job,
    stripe_sync_accounts_job,
    stripe_sync_job,
)
from orchestration.automation.partitions import PARTITIONS_NAME, every_account_tags

NO_ACCOUNT = (
    "No Stripe account partition yet: the stripe_accounts sensor adds one per account (set STRIPE_API_KEY or "
    "connect an account), or run `stripe-warehouse run` once."
)


def build_schedules(automation: Automation) -> list[ScheduleDefinition]:
    if automation.parallelism > 1:
        return [
            _each_account_schedule(
                automation,
                name="stripe_sync_schedule",
                cron_schedule=automation.sync_cron,
                job=stripe_sync_accounts_job,
                description=(
                    f"Incremental sync of each account in a run of its own, {automation.parallelism} at a time, "
                    "then the dbt build once (STRIPE_SYNC_CRON, STRIPE_SYNC_PARALLELISM)."
                ),
            ),
            _each_account_schedule(
                automation,
                name="stripe_full_reconciliation_schedule",
                cron_schedule=automation.reconcile_cron,
                job=stripe_full_reconciliation_accounts_job,
                description=(
                    f"Full reload of each account in a run of its own, {automation.parallelism} at a time, "
                    "then the dbt build once (STRIPE_RECONCILE_CRON, STRIPE_SYNC_PARALLELISM)."
                ),
            ),
        ]
    return [
        _every_account_schedule(
            automation,
            name="stripe_sync_schedule",
            cron_schedule=automation.sync_cron,
            job=stripe_sync_job,
            description="Incremental sync of every account, then the dbt build (STRIPE_SYNC_CRON).",
        ),
        _every_account_schedule(
            automation,
            name="stripe_full_reconciliation_schedule",
            cron_schedule=automation.reconcile_cron,
            job=stripe_full_reconciliation_job,
            description="Full reload of every account, then the dbt build (STRIPE_RECONCILE_CRON).",
        ),
    ]


def _every_account_schedule(
    automation: Automation, *, name: str, cron_schedule: str, job, description: str
) -> ScheduleDefinition:
    """A schedule of `job` (one of the asset jobs) whose every tick runs all account partitions."""
    return _schedule(automation, name, cron_schedule, job, description, _every_account)


def _every_account(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    # One run over the range of all account partitions: one ingest step, one dbt build.
    tags = every_account_tags(context.instance)
    if tags is None:
        return SkipReason(NO_ACCOUNT)
    return RunRequest(tags=tags)


def _each_account_schedule(
    automation: Automation, *, name: str, cron_schedule: str, job, description: str
) -> ScheduleDefinition:
    """A schedule of `job` (an ingestion-only job) whose every tick runs each account partition apart."""

    def each_account(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        accounts = context.instance.get_dynamic_partitions(PARTITIONS_NAME)
        if not accounts:
            return SkipReason(NO_ACCOUNT)
        return account_run_requests(accounts, batch_id(name, context.scheduled_execution_time))

    return _schedule(automation, name, cron_schedule, job, description, each_account)


def _schedule(
    automation: Automation, name: str, cron_schedule: str, job, description: str, evaluate
) -> ScheduleDefinition:
    return schedule(
        name=name,
        cron_schedule=cron_schedule,
        job=job,
        default_status=automation.schedule_status,
        description=description,
    )(evaluate)
