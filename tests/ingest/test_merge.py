"""Merging raw rows: one row per (account_id, id), and of two reads in one load, the later wins."""

from datetime import UTC, datetime

import dlt
import duckdb

from orchestration.ingest import pipeline as pipeline_module
from orchestration.ingest.pipeline import stripe_pipeline
from orchestration.ingest.raw_rows import raw_table
from orchestration.ingest.source import RAW_TABLE_HINTS


def test_of_two_reads_of_an_object_in_one_load_the_later_is_kept(sync_settings):
    # An object listed as new and re-fetched after a change in the same sync reaches dlt twice.
    settings = sync_settings("http://simulator.invalid")
    listed, refetched = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, 0, 0, 5, tzinfo=UTC)

    @dlt.resource(name="charges", **RAW_TABLE_HINTS)
    def charges():
        # Both arrival orders: the row read later must win either way, not whichever dlt sees first.
        yield raw_table("acct_1", [{"id": "ch_a", "status": "succeeded"}], refetched)
        yield raw_table("acct_1", [{"id": "ch_b", "status": "pending"}], listed)
        yield raw_table("acct_1", [{"id": "ch_a", "status": "pending"}], listed)
        yield raw_table("acct_1", [{"id": "ch_b", "status": "succeeded"}], refetched)

    stripe_pipeline(settings).run(charges())
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as db:
        rows = db.sql(
            "select id, object_json::json->>'status', synced_at from stripe_raw.charges order by id"
        ).fetchall()
    assert [(i, status) for i, status, _ in rows] == [("ch_a", "succeeded"), ("ch_b", "succeeded")]


def test_memory_the_extract_freed_is_handed_back_before_the_load(sync_settings, monkeypatch):
    # DuckDB's merge runs in this process: what parsing pages left in the allocators must not add to it.
    steps = []
    monkeypatch.setattr(pipeline_module, "release_freed_memory", lambda: steps.append("released"))
    pipeline = stripe_pipeline(sync_settings("http://simulator.invalid"))
    start = pipeline_module.LogCollector._start

    def started(collector, step):
        steps.append(step.split()[0])
        start(collector, step)

    monkeypatch.setattr(pipeline_module.LogCollector, "_start", started)

    pipeline.run(dlt.resource([raw_table("acct_1", [{"id": "ch_1"}], datetime.now(UTC))], name="charges"))
    assert steps.index("released") == steps.index("Load") - 1
