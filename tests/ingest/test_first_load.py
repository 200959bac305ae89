"""A raw table that holds no row yet is loaded by appending, without the staging copy and merge (pipeline.py
`sources_to_load`); a load that died after appending some tables is merged into by the next run, each key once."""

import pytest
from dlt.common.destination.exceptions import DestinationTerminalException
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob

from orchestration.ingest.pipeline import stripe_pipeline, sync_accounts
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.stripe_objects import RAW_DATASET, STRIPE_OBJECTS
from tests.ingest.warehouse_state import (
    PLATFORM_KEY,
    TOP_LEVEL,
    assert_table_matches,
    duplicate_keys,
    row_counts,
)

NOW = 1_790_000_000


def write_dispositions(settings) -> dict[str, str]:
    """The write disposition dlt's stored schema gives each raw table: how its last load wrote it."""
    schema = stripe_pipeline(settings).default_schema
    return {name: table.get("write_disposition") for name, table in schema.tables.items() if not name.startswith("_")}


def test_a_first_load_appends_and_a_load_that_died_half_way_is_merged_into(sync_settings, monkeypatch):
    account = generate_account(seed=33, customers=20, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        # The first load dies after its first few tables were written: a process killed mid-load.
        copies = {"n": 0}
        real_run = DuckDbCopyJob.run

        def dies_after_five(job):
            copies["n"] += 1
            if copies["n"] > 5:
                raise DestinationTerminalException("killed mid-load")
            return real_run(job)

        monkeypatch.setattr(DuckDbCopyJob, "run", dies_after_five)
        with pytest.raises(Exception, match="killed mid-load"):
            sync_accounts(settings, now=NOW)
        monkeypatch.setattr(DuckDbCopyJob, "run", real_run)
        written = {table for table, rows in row_counts(settings.duckdb_path, RAW_DATASET).items() if rows}
        assert written, "the dead load wrote no table: nothing left to merge into"
        # The next run starts as Dagster's dlt resource starts one: the dead run's package and state dropped.
        stripe_pipeline(settings).drop()
        assert sync_accounts(settings, now=NOW).failures == {}
        after_the_dead_load = write_dispositions(settings)

    # The tables the dead load had written were merged into; the others, still empty, were appended to.
    assert {t for t in written if after_the_dead_load[t] != "merge"} == set()
    assert "append" in after_the_dead_load.values()
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)
    for table in [c.table for obj in STRIPE_OBJECTS for c in obj.children] + ["events", "accounts"]:
        assert duplicate_keys(settings.duckdb_path, table) == []
