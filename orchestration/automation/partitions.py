"""The Stripe accounts as dynamic partitions of the ingestion assets, kept in step with the accounts to sync."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from dagster import DagsterInstance, DynamicPartitionsDefinition

PARTITIONS_NAME = "stripe_accounts"
STRIPE_ACCOUNTS = DynamicPartitionsDefinition(name=PARTITIONS_NAME)


@dataclass(frozen=True)
class PartitionChanges:
    added: list[str]
    removed: list[str]


def partition_changes(instance: DagsterInstance, account_ids: Collection[str]) -> PartitionChanges:
    """What to add and remove so that the partitions are exactly `account_ids`.

    A removed account's partition goes too: partition ranges then cover exactly the accounts to sync, and
    its materializations stay in the asset's history.
    """
    current = set(instance.get_dynamic_partitions(PARTITIONS_NAME))
    return PartitionChanges(added=sorted(set(account_ids) - current), removed=sorted(current - set(account_ids)))


def apply_partition_changes(instance: DagsterInstance, changes: PartitionChanges) -> None:
    if changes.added:
        instance.add_dynamic_partitions(PARTITIONS_NAME, changes.added)
    for account_id in changes.removed:
        instance.delete_dynamic_partition(PARTITIONS_NAME, account_id)


def every_account_tags(instance: DagsterInstance) -> dict[str, str] | None:
    """Run tags for one run over every account partition (a partition range); None when there is none yet."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    keys = instance.get_dynamic_partitions(PARTITIONS_NAME)
    if not keys:
        return None
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
