"""One sync of every account outside the scheduler, as `stripe-warehouse run` does it: the account
partitions brought up to date, then the sync job over all of them in this process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import AssetCheckSeverity, DagsterInstance, Definitions, ExecuteInProcessResult

from orchestration.automation.jobs import SYNC_JOB_NAME
from orchestration.automation.partitions import apply_partition_changes, every_account_tags, partition_changes
from orchestration.automation.stale_runs import owner_tags
from orchestration.ingest.accounts import account_ids
from orchestration.resources import settings_resources
from orchestration.settings import Settings
from orchestration.warehouse.access import describe_warehouse_fault

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

# Dagster's console logger defaults to DEBUG, which buries the progress lines in engine events.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def sync_every_account(defs: Definitions, instance: DagsterInstance, settings: Settings) -> ExecuteInProcessResult:
    """Raises StripeReadError when the account of STRIPE_API_KEY cannot be read (a wrong or revoked key). The run
    is tagged with this process as its owner, so that a later run can tell if it died (stale_runs).

    The run reads these very settings (orchestration/resources.py), not the environment: a Python value, so
    none of it, the keys least of all, is stored with the run."""
    apply_partition_changes(instance, partition_changes(instance, account_ids(settings)))
    return defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=QUIET_RUN_CONFIG,
        resources=settings_resources(settings),
        tags={**(every_account_tags(instance) or {}), **owner_tags()},
    )


def run_problems(result: ExecuteInProcessResult) -> list[str]:
    """Why a run failed, one line each: failed steps, then failed checks of error severity.

    A step failed by the warehouse itself (its DuckDB file held by another process, a full disk), whatever
    dlt or dbt wrapped the error in, is said in one line naming the file, the process or disk, and the fix."""
    problems = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            reason = error.cause.message if error and error.cause else (error.message if error else "")
            fault = describe_warehouse_fault(_error_texts(error))
            problems.append(f"{event.step_key}: {fault or reason.strip()}")
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR:
            check = f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
            problems.append(f"check {check} failed" + (f": {evaluation.description}" if evaluation.description else ""))
    return problems


def _error_texts(error: SerializableErrorInfo | None) -> list[str]:
    """The messages of an error and of every error it was caused by or raised during."""
    texts = []
    while error is not None:
        texts.append(error.message)
        texts += _error_texts(error.context)
        error = error.cause
    return texts
