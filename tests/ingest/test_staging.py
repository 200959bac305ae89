"""After a sync, no copy of the raw rows is left beside the warehouse: a first load appends without staging,
a merge load empties dlt's staging dataset once done, and the load's files are deleted."""

from orchestration.ingest.pipeline import sync_accounts
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.simulator.generate.mutations import mutate_account
from orchestration.stripe_objects import RAW_DATASET
from tests.ingest.warehouse_state import PLATFORM_KEY, row_counts

NOW = 1_790_000_000
STAGING_DATASET = f"{RAW_DATASET}_staging"  # dlt's default staging_dataset_name_layout, "%s_staging"


def test_no_copy_of_the_rows_is_left_beside_the_warehouse_after_a_full_and_an_incremental_sync(sync_settings):
    account = generate_account(seed=31, customers=8, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        first = sync_accounts(settings, now=NOW)
        staging_after_full = row_counts(settings.duckdb_path, STAGING_DATASET)
        mutate_account(account, seed=3, changes=10, at=NOW + 3600)
        second = sync_accounts(settings, now=NOW + 3700)
    assert first.failures == second.failures == {}

    raw = row_counts(settings.duckdb_path, RAW_DATASET)
    staging = row_counts(settings.duckdb_path, STAGING_DATASET)
    # The full load into the empty tables appended (pipeline.sources_to_load): no staging copy at all. The
    # incremental one merged through the staging tables (they exist, one per raw table it loaded), and left
    # nothing in them.
    assert raw["customers"] == len(account.listable("customers")) > 0
    assert raw["charges"] > 0
    assert staging_after_full == {}
    assert {"customers", "charges", "subscriptions"} <= staging.keys() <= raw.keys()
    assert {t: n for t, n in staging.items() if n} == {}

    # Each loaded package keeps only dlt's record of it: its state, its schema, no job's rows. The full sync
    # loaded twice, the payouts last (pipeline.sources_to_load), the incremental one once.
    loaded = settings.data_dir / "dlt_pipelines" / "stripe" / "load" / "loaded"
    packages = list(loaded.iterdir())
    assert len(packages) == 3
    rows_files = [f for f in loaded.rglob("*") if f.suffix in {".parquet", ".csv", ".gz", ".jsonl", ".insert_values"}]
    assert rows_files == []
