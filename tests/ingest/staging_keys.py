"""Syncing with a look at what a load would write before it is loaded: the keys each table's rows hold."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pyarrow.parquet as pq

from orchestration.ingest.context import SyncContext
from orchestration.ingest.pipeline import extract_settings, stripe_pipeline
from orchestration.ingest.source import stripe_source
from orchestration.settings import Settings
from orchestration.sync_report import SyncReport

Keys = dict[str, Counter[tuple[str, str]]]
"""Per table, how many rows the load holds of each (account_id, id)."""


def sync_and_count_keys(settings: Settings, now: int) -> tuple[SyncReport, Keys]:
    """One sync like `sync_accounts`, run step by step: after the normalize, the rows the load is about to
    merge (the staging data) are counted per key; then it loads."""
    context = SyncContext(settings)
    context.synced_at = datetime.fromtimestamp(now, UTC)
    pipeline = stripe_pipeline(settings)
    keys: Keys = {}
    with context, extract_settings():
        pipeline.extract(stripe_source(context))
        pipeline.normalize()
        for load_id in pipeline.list_normalized_load_packages():
            for job in pipeline.get_load_package_info(load_id).jobs["new_jobs"]:
                table = job.job_file_info.table_name
                if table.startswith("_dlt") or not job.file_path.endswith(".parquet"):
                    continue
                rows = pq.read_table(job.file_path, columns=["account_id", "id"]).to_pylist()
                keys.setdefault(table, Counter()).update((row["account_id"], row["id"]) for row in rows)
        pipeline.load()
    return context.report, keys


def keys_twice(keys: Keys) -> dict[str, list[tuple[str, str]]]:
    """Per table, the keys the load holds more than once."""
    found = {table: [key for key, n in counts.items() if n > 1] for table, counts in keys.items()}
    return {table: twice for table, twice in found.items() if twice}
