"""The Dagster definitions load without secrets or network, and form one lineage graph."""

import subprocess

import pytest
from dagster import AssetKey

from orchestration.settings import PROJECT_ROOT
from orchestration.stripe_objects import STRIPE_OBJECTS


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


def test_every_dbt_test_is_an_asset_check_sources_included(asset_graph):
    import json

    from orchestration.transform.project import MANIFEST_PATH

    manifest = json.loads(MANIFEST_PATH.read_text())
    tests = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    check_names = {check.name for check in asset_graph.asset_check_keys}
    assert tests and tests <= check_names, sorted(tests - check_names)[:5]
    checked = {check.asset_key for check in asset_graph.asset_check_keys}
    assert AssetKey(["stripe", "customers"]) in checked
    # Tests on dbt sources check the ingestion assets themselves.
    assert AssetKey(["stripe_raw", "customers"]) in checked


def test_the_data_lag_check_is_per_account(asset_graph):
    from dagster import AssetCheckKey

    check = AssetCheckKey(AssetKey(["stripe_raw", "accounts"]), "data_lag")
    assert check in asset_graph.asset_check_keys
    assert (
        asset_graph.get_checks_def(check).partitions_def.name == "stripe_accounts"
        if hasattr(asset_graph, "get_checks_def")
        else True
    )


def test_groups_per_layer_descriptions_and_kinds(asset_graph):
    groups = {}
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        if not node.is_materializable:
            continue
        groups.setdefault(node.group_name, set()).add(key.path[0])
        assert node.description, f"{key.to_user_string()} has no description"
        assert node.kinds, f"{key.to_user_string()} has no kinds"
    assert groups["stripe_ingest"] == {"stripe_raw"}
    for layer in ("stripe_staging", "stripe", "analytics", "monitoring"):
        assert groups[layer] == {layer}


def test_ingestion_is_partitioned_by_account_and_the_models_are_not(asset_graph):
    raw = asset_graph.get(AssetKey(["stripe_raw", "customers"]))
    assert raw.partitions_def.name == "stripe_accounts"
    assert asset_graph.get(AssetKey(["analytics", "mrr_monthly"])).partitions_def is None


def test_ingestion_assets_and_marts_have_the_sync_freshness(asset_graph):
    for key in (["stripe_raw", "charges"], ["stripe", "customers"], ["analytics", "mrr_monthly"]):
        policy = asset_graph.get(AssetKey(key)).freshness_policy
        assert policy is not None, key
        assert policy.fail_window.to_timedelta().total_seconds() == 2.5 * 3600


def test_every_mart_reaches_an_ingestion_asset(asset_graph):
    marts = [key for key in asset_graph.get_all_asset_keys() if key.path[0] == "analytics"]
    assert len(marts) >= 9
    for key in marts:
        assert any(a.path[0] == "stripe_raw" for a in _ancestors(asset_graph, key)), key


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


def test_the_ingestion_specs_name_and_describe_every_table_of_the_dlt_source():
    from orchestration.ingest.assets import raw_tables
    from orchestration.ingest.source import stripe_source

    resources = stripe_source().selected_resources
    assert raw_tables() == {name: (resource.__doc__ or "").strip() for name, resource in resources.items()}


def test_loading_imports_neither_dbt_nor_dlt_nor_the_stripe_sdk(tmp_path):
    # Each takes from a third of a second (the Stripe SDK) to seconds (dbt-core) to import: runs import them.
    probe = (
        "import sys; from orchestration.definitions import defs; defs.resolve_asset_graph(); "
        "print(sorted(m for m in ('dbt', 'dagster_dbt', 'dlt', 'dagster_dlt', 'stripe') if m in sys.modules))"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/python"), "-c", probe],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
