"""A full sync loads in two steps (pipeline.py `sources_to_load`, source.py `TailReads`): every object but the
payouts, while the payouts are still read, then the payouts; a sync that dies between the two loses nothing. An
incremental sync loads once."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dlt.pipeline.pipeline import Pipeline

from orchestration.ingest import children, spill
from orchestration.ingest.pipeline import stripe_pipeline, sync_accounts
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.simulator.truth import expected_payout_items
from orchestration.stripe_objects import STRIPE_OBJECTS
from tests.ingest.warehouse_state import (
    PLATFORM_KEY,
    TOP_LEVEL,
    assert_table_matches,
    duplicate_keys,
    payout_items_loaded,
    reconciled_payouts,
)

NOW = 1_790_000_000
LAST = {"payouts", "payout_balance_transactions"}


def spilled(settings) -> list[Path]:
    """The folders of spilled batches under the data folder."""
    parent = settings.data_dir / spill.FOLDER
    return list(parent.iterdir()) if parent.exists() else []


@pytest.fixture
def loads(monkeypatch):
    """Each load of the pipelines: the tables its package held, appended as its normalize step ends."""
    steps: list[set[str]] = []
    real_normalize = Pipeline.normalize

    def normalize(pipeline, *args, **kwargs):
        info = real_normalize(pipeline, *args, **kwargs)
        steps.append({t for t in info.row_counts if not t.startswith("_dlt")})
        return info

    monkeypatch.setattr(Pipeline, "normalize", normalize)
    return steps


def test_the_payouts_are_read_while_the_other_objects_load_then_loaded_last(sync_settings, loads, monkeypatch):
    account = generate_account(seed=35, customers=25, now=NOW)
    # The payouts' read, under way before the first load ends, waits for it to end: if that load waited for
    # the payouts, the wait would time out.
    first_load_done = threading.Event()
    waited: list[tuple[bool, bool]] = []
    real_to_read = children.FinalLists.to_read

    def to_read_after_the_first_load(lists, parents):
        if not waited:
            under_way_before = not first_load_done.is_set()
            waited.append((under_way_before, first_load_done.wait(timeout=20)))
        return real_to_read(lists, parents)

    monkeypatch.setattr(children.FinalLists, "to_read", to_read_after_the_first_load)
    real_load = Pipeline.load

    def load(pipeline, *args, **kwargs):
        try:
            return real_load(pipeline, *args, **kwargs)
        finally:
            first_load_done.set()

    monkeypatch.setattr(Pipeline, "load", load)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        assert sync_accounts(settings, now=NOW).failures == {}

    assert waited == [(True, True)], "the payouts were not read while the other objects loaded"
    assert not spilled(settings), "the batches that waited on disk were left there"
    assert len(loads) == 2
    assert loads[0] and not loads[0] & LAST
    assert loads[1] == LAST
    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)
    truth = expected_payout_items(account)
    loaded = payout_items_loaded(settings.duckdb_path, account)
    assert loaded == {p: truth[p] for p in reconciled_payouts(account) if truth[p]}


def test_a_sync_that_dies_between_its_two_loads_reads_the_payouts_again(sync_settings, loads, monkeypatch):
    account = generate_account(seed=36, customers=25, now=NOW)
    real_load = Pipeline.load

    def dies_at_the_second_load(pipeline, *args, **kwargs):
        if len(loads) == 2:  # the second load's package is normalized
            raise RuntimeError("killed between the loads")
        return real_load(pipeline, *args, **kwargs)

    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        monkeypatch.setattr(Pipeline, "load", dies_at_the_second_load)
        with pytest.raises(Exception, match="killed between the loads"):
            sync_accounts(settings, now=NOW)
        monkeypatch.setattr(Pipeline, "load", real_load)
        assert not spilled(settings), "the failed sync left its waiting batches on disk"
        # The next run starts as Dagster's dlt resource starts one: the dead run's package and state dropped.
        stripe_pipeline(settings).drop()
        again = sync_accounts(settings, now=NOW + 60)
        # The first load's cursors were saved with it; the payouts' were not: they are read in full again.
        modes = {table: again.for_table(table)[0].mode for table in (obj.table for obj in STRIPE_OBJECTS)}
        assert modes.pop("payouts") == "full"
        assert set(modes.values()) == {"incremental"}
        # And the second load saved theirs: the sync after reads them incrementally, in moments, so it loads
        # them with the rest, once.
        before = len(loads)
        third = sync_accounts(settings, now=NOW + 120)
        assert third.for_table("payouts")[0].mode == "incremental"
        assert len(loads) == before + 1
        assert third.failures == again.failures == {}

    for obj in TOP_LEVEL:
        assert_table_matches(settings.duckdb_path, account, obj.table)
    truth = expected_payout_items(account)
    loaded = payout_items_loaded(settings.duckdb_path, account)
    assert loaded == {p: truth[p] for p in reconciled_payouts(account) if truth[p]}
    assert duplicate_keys(settings.duckdb_path, "payout_balance_transactions") == []


def test_batches_a_killed_sync_left_on_disk_are_deleted_by_the_next(sync_settings):
    account = generate_account(seed=37, customers=5, now=NOW)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        settings = sync_settings(server.base_url)
        parent = settings.data_dir / spill.FOLDER
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        left_by_the_dead = parent / f"{int(dead.stdout)}-abc"
        of_a_live_run = parent / f"{os.getppid()}-def"  # a parallel run, still at work
        for folder in (left_by_the_dead, of_a_live_run):
            folder.mkdir(parents=True)
            (folder / "payouts.arrow").write_bytes(b"rows")
        assert sync_accounts(settings, now=NOW).failures == {}
    assert spilled(settings) == [of_a_live_run]
