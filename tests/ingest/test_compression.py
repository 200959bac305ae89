"""How the raw tables are stored in DuckDB: their JSON text compressed with zstd (pipeline.py), which made a
7,500-customer account's warehouse 4.5 times smaller than DuckDB's own choice (BENCHMARKS.md)."""

import duckdb

from orchestration.ingest.pipeline import sync_accounts
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.stripe_objects import RAW_DATASET
from tests.ingest.warehouse_state import PLATFORM_KEY

NOW = 1_790_000_000


def test_the_raw_tables_json_is_written_compressed_with_zstd(sync_settings):
    account = generate_account(seed=32, customers=8, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        assert sync_accounts(settings, now=NOW).failures == {}

    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        stored = connection.execute(
            f"""
            select distinct compression
            from pragma_storage_info('{RAW_DATASET}.charges')
            where column_name = 'object_json' and segment_type = 'VARCHAR'
            """
        ).fetchall()
        rows = connection.execute(f"select count(*) from {RAW_DATASET}.charges").fetchone()[0]
    assert rows > 0
    assert stored == [("ZSTD",)]
