"""The accounts sensor: keeps the account partitions equal to the accounts to sync, and requests a sync of
each new account, so a newly connected account is loaded and in the marts without a restart."""

import json

from dagster import (
    AddDynamicPartitionsRequest,
    DeleteDynamicPartitionsRequest,
    ResourceParam,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from orchestration.automation.batches import account_run_requests, batch_id
from orchestration.automation.cadence import Automation
from orchestration.automation.jobs import stripe_sync_accounts_job, stripe_sync_job
from orchestration.automation.partitions import STRIPE_ACCOUNTS, partition_changes
from orchestration.automation.stale_runs import reap_dead_runs
from orchestration.ingest.accounts import account_ids
from orchestration.settings import Settings

SENSOR_INTERVAL_SECONDS = 60
NO_ACCOUNT = (
    "No Stripe account is configured here (STRIPE_API_KEY, STRIPE_ACCOUNT_IDS, stored connections): the "
    "partitions are left as they are."
)


def build_accounts_sensor(automation: Automation) -> SensorDefinition:
    parallel = automation.parallelism > 1

    @sensor(
        name="stripe_accounts_sensor",
        # With parallel runs, the new accounts' ingestion runs, then one build after them (batches.py).
        job=stripe_sync_accounts_job if parallel else stripe_sync_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=automation.sensor_status,
        description=(
            "Adds a partition for each new Stripe account (a stored connection, STRIPE_ACCOUNT_IDS, or the "
            "account of STRIPE_API_KEY, asked once of Stripe) and requests its first sync; removes the "
            "partitions of accounts no longer configured."
        ),
    )
    def stripe_accounts_sensor(
        context: SensorEvaluationContext, settings: ResourceParam[Settings]
    ) -> SensorResult | SkipReason:
        from orchestration.ingest.client import StripeReadError

        # A `stripe-warehouse run` killed on this machine would hold the warehouse from the scheduled runs:
        # every minute the sensor frees what dead runs hold, as the next CLI run would.
        for line in reap_dead_runs(context.instance):
            context.log.warning(line)

        # The cursor remembers the account of each key (by fingerprint), so Stripe is asked once per key.
        resolved_keys: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        try:
            wanted = account_ids(settings, resolved_keys)
        except StripeReadError as exc:
            return SkipReason(f"Could not read the account of STRIPE_API_KEY: {exc}")
        if not wanted:
            # Most likely a process started without the keys (the UI opened in another shell after a demo):
            # dropping every partition would hide the accounts' history.
            return SkipReason(NO_ACCOUNT)
        changes = partition_changes(context.instance, wanted)
        requests: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
        if changes.added:
            requests.append(STRIPE_ACCOUNTS.build_add_request(changes.added))
        if changes.removed:
            requests.append(STRIPE_ACCOUNTS.build_delete_request(changes.removed))
        if changes.added or changes.removed:
            context.log.info("Accounts added: %s; removed: %s", changes.added or "none", changes.removed or "none")
        if parallel:
            runs = account_run_requests(changes.added, batch_id("stripe_accounts_sensor"))
        else:
            runs = [RunRequest(partition_key=account_id) for account_id in changes.added]
        return SensorResult(
            run_requests=runs,
            dynamic_partitions_requests=requests,
            cursor=json.dumps(resolved_keys, sort_keys=True),
        )

    return stripe_accounts_sensor
