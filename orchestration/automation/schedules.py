"""The schedules: the hourly (STRIPE_SYNC_CRON) sync and the daily (STRIPE_RECONCILE_CRON) full reconciliation,
each one run over every account partition."""

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason, schedule

from orchestration.automation.cadence import Automation
from orchestration.automation.jobs import stripe_full_reconciliation_job, stripe_sync_job
from orchestration.automation.partitions import every_account_tags

NO_ACCOUNT = (
    "No Stripe account partition yet: the stripe_accounts sensor adds one per account (set STRIPE_API_KEY or "
    "connect an account), or run `stripe-warehouse run` once."
)


def build_schedules(automation: Automation) -> list[ScheduleDefinition]:
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
    return schedule(
        name=name,
        cron_schedule=cron_schedule,
        job=job,
        default_status=automation.schedule_status,
        description=description,
    )(_every_account)


def _every_account(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    # One run over the range of all account partitions: one ingest step, one dbt build.
    tags = every_account_tags(context.instance)
    if tags is None:
        return SkipReason(NO_ACCOUNT)
    return RunRequest(tags=tags)
