"""The Dagster definitions load without secrets or network, and form one lineage graph."""

import subprocess

import pytest
from dagster import AssetKey

from orchestration.ingest.stripe_objects import STRIPE_OBJECTS
from orchestration.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def asset_graph():
    from orchestration.definitions import defs

    return defs.resolve_asset_graph()


def test_every_stripe_object_is_an_ingestion_asset(asset_graph):
    keys = asset_graph.get_all_asset_keys()
    for obj in STRIPE_OBJECTS:
        assert AssetKey(["stripe_raw", obj.table]) in keys
        assert asset_graph.get(AssetKey(["stripe_raw", obj.table])).group_name == "stripe_ingest"


def test_each_staging_model_reads_an_ingestion_asset(asset_graph):
    staging = [key for key in asset_graph.get_all_asset_keys() if key.path[0] == "stripe_staging"]
    models = [key for key in staging if key.path[-1].startswith("stg_stripe__")]
    assert len(models) >= len(STRIPE_OBJECTS)
    for key in models:
        raw_parents = [p for p in asset_graph.get(key).parent_keys if p.path[0] == "stripe_raw"]
        assert raw_parents, f"{key.to_user_string()} has no ingestion asset upstream"
        # The parent is the dlt asset itself, not a detached dbt source node.
        assert all(asset_graph.get(p).is_materializable for p in raw_parents)


def test_every_clean_table_reaches_stripe(asset_graph):
    clean = [key for key in asset_graph.get_all_asset_keys() if key.path[0] == "stripe"]
    assert {key.path[-1] for key in clean} >= {o.table for o in STRIPE_OBJECTS}
    for key in clean:
        assert any(a.path[0] == "stripe_raw" for a in _ancestors(asset_graph, key)), key


def test_dbt_tests_are_asset_checks(asset_graph):
    checked = {check.asset_key for check in asset_graph.asset_check_keys}
    assert AssetKey(["stripe", "customers"]) in checked


def _ancestors(asset_graph, key):
    seen, stack = set(), [key]
    while stack:
        for parent in asset_graph.get(stack.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_definitions_validate_without_secrets(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
