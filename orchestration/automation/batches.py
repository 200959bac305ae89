"""Parallel syncs (Postgres, concurrency.py) as batches: the runs of one schedule tick or sensor tick, one per
account, carry the tick's batch tag; once every run of a batch has ended, the `stripe_build_after_sync`
sensor requests one dbt build (with the checks) over every account.

Why a sensor and not Dagster's own ordering: an asset backfill, or an eager automation condition on the dbt
assets, builds them only once every account partition is materialized, so a single account failing its sync
(a revoked connection) would keep every other account's fresh rows out of the marts. The sensor builds once
the batch is over whatever became of each run, unless none loaded anything. The build's run key is the batch,
which Dagster launches once per sensor, and the build job's tag limit (one writer at a time) queues it behind
a build in progress.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dagster import (
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from orchestration.automation.cadence import Automation
from orchestration.automation.concurrency import ACCOUNT_TAG, INGEST_RUN_TAGS
from orchestration.automation.jobs import stripe_build_job
from orchestration.automation.partitions import every_account_tags

BATCH_TAG = "stripe_warehouse/batch"
"""The tick an account run belongs to: `<schedule or sensor>@<time>`."""
BUILT_AFTER_TAG = "stripe_warehouse/built_after"
"""On a build run: the batch it was requested after."""
BUILD_SENSOR_INTERVAL_SECONDS = 30
ENDED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
LOOKBACK_SECONDS = 60.0
SETTLED_KEPT = 200  # far more batches than end within LOOKBACK_SECONDS


def batch_id(origin: str, at: datetime | None = None) -> str:
    return f"{origin}@{(at or datetime.now(UTC)).isoformat(timespec='seconds')}"


def account_run_requests(accounts: Sequence[str], batch: str) -> list[RunRequest]:
    """One ingestion run per account, all of them in `batch`."""
    return [
        RunRequest(
            run_key=f"{batch}/{account}",
            partition_key=account,
            tags={BATCH_TAG: batch, ACCOUNT_TAG: account},
        )
        for account in accounts
    ]


def build_after_sync_sensor(automation: Automation) -> SensorDefinition:
    @sensor(
        name="stripe_build_after_sync",
        job=stripe_build_job,
        minimum_interval_seconds=BUILD_SENSOR_INTERVAL_SECONDS,
        default_status=automation.sensor_status,
        description=(
            "Builds and tests the dbt models once, over every account, when every account run of a scheduled "
            "sync (or of the accounts sensor) has ended."
        ),
    )
    def stripe_build_after_sync(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        return builds_after_sync(context)

    return stripe_build_after_sync


def builds_after_sync(context: SensorEvaluationContext) -> SensorResult | SkipReason:
    """The builds due: one per batch whose runs have all ended since the cursor.

    The cursor holds the last end seen and the batches settled (built, or all failed) around it: the run
    storage's update times are not finer than the order in which runs end, so the runs that ended up to
    LOOKBACK_SECONDS before the last end seen are read again, and a batch already settled is skipped.
    """
    instance = context.instance
    cursor = _BuildCursor.parse(context.cursor)
    ended = instance.get_run_records(
        RunsFilter(
            tags=INGEST_RUN_TAGS,
            statuses=list(ENDED),
            updated_after=datetime.fromtimestamp(max(0.0, cursor.since - LOOKBACK_SECONDS), UTC),
        )
    )
    batches = {r.dagster_run.tags[BATCH_TAG] for r in ended if BATCH_TAG in r.dagster_run.tags} - set(cursor.settled)
    if not batches:
        return SkipReason("No account run has ended since the last build was requested.")
    requests, settled = [], []
    for batch in sorted(batches):
        runs = instance.get_runs(RunsFilter(tags={BATCH_TAG: batch, **INGEST_RUN_TAGS}))
        if any(run.status not in ENDED for run in runs):
            continue  # the batch's last run to end brings it back
        settled.append(batch)
        if not any(run.status == DagsterRunStatus.SUCCESS for run in runs):
            context.log.warning("Every account run of %s failed: nothing new to build.", batch)
            continue
        requests.append(
            RunRequest(run_key=batch, tags={**(every_account_tags(instance) or {}), BUILT_AFTER_TAG: batch})
        )
    since = max(cursor.since, *(record.update_timestamp.timestamp() for record in ended))
    return SensorResult(run_requests=requests, cursor=_BuildCursor(since, [*cursor.settled, *settled]).dump())


@dataclass(frozen=True)
class _BuildCursor:
    since: float
    """The last end of an account run seen."""
    settled: list[str]
    """The latest batches built or given up (all runs failed), newest last."""

    @classmethod
    def parse(cls, text: str | None) -> _BuildCursor:
        if not text:
            return cls(0.0, [])
        if not text.startswith("{"):  # a cursor of the first version: the last end alone
            return cls(float(text), [])
        state = json.loads(text)
        return cls(float(state["since"]), list(state["settled"]))

    def dump(self) -> str:
        return json.dumps({"since": self.since, "settled": self.settled[-SETTLED_KEPT:]})
