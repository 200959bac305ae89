"""The dbt project as Dagster specs, read straight from the prebuilt manifest: keys, lineage, groups, kinds,
descriptions, columns and freshness of the models, and one asset check per dbt test.

dagster-dbt derives the same from the manifest, but importing it imports dbt-core, which alone takes longer
than the definitions may take to load (3 s); so the specs are built here with Dagster only, and dagster-dbt
is used by the runs (orchestration/transform/assets.py).

- Models, seeds and snapshots are keyed `<schema>/<table>` (`stripe/customers`, `analytics/mrr_monthly`) and
  grouped by schema, i.e. by layer.
- Sources are keyed `<source>/<table>`: for `stripe_raw`, the key of the ingestion asset loading that table,
  so ingestion and transformation form one lineage graph.
- Every test is a check: on the node it is attached to, on its only parent (sources included: such a check
  checks an ingestion asset), or, for a singular test reading several models, on the one downstream of the
  others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    FreshnessPolicy,
    MetadataValue,
    TableColumn,
    TableSchema,
)

BUILT_TYPES = ("model", "seed", "snapshot")
# The schemas analysts read: the tables a freshness policy promises.
MART_SCHEMAS = ("stripe", "analytics")
UNIQUE_ID = "dbt/unique_id"


@dataclass(frozen=True)
class DbtSpecs:
    assets: list[AssetSpec]
    checks: list[AssetCheckSpec]
    """The tests of models, seeds and snapshots."""
    source_checks: list[AssetCheckSpec]
    """The tests of sources: they check the ingestion assets."""
    asset_keys: dict[str, AssetKey]
    """unique id → asset key, for models, seeds, snapshots and sources."""
    check_keys: dict[str, AssetCheckKey]
    """test unique id → check key."""


def dbt_specs(manifest: Mapping[str, Any], warehouse: str, freshness_policy: FreshnessPolicy | None = None) -> DbtSpecs:
    """`warehouse` is the configured one (a kind of every asset): the manifest names the target it was
    parsed with, which need not be the one the runs use."""
    nodes = {uid: node for uid, node in manifest["nodes"].items() if node["config"].get("enabled", True)}
    asset_keys = {uid: asset_key(node) for uid, node in {**manifest["sources"], **nodes}.items() if _is_keyed(node)}
    assets = [
        _asset_spec(node, asset_keys, warehouse, freshness_policy)
        for uid, node in nodes.items()
        if node["resource_type"] in BUILT_TYPES
    ]
    check_keys: dict[str, AssetCheckKey] = {}
    checks: list[AssetCheckSpec] = []
    source_checks: list[AssetCheckSpec] = []
    for uid, node in nodes.items():
        if node["resource_type"] != "test":
            continue
        parents = [p for p in dict.fromkeys(node["depends_on"].get("nodes", [])) if p in asset_keys]
        target = _checked_node(node, parents, manifest["parent_map"])
        if target is None:
            continue
        check_keys[uid] = AssetCheckKey(asset_keys[target], node["name"])
        (source_checks if target.startswith("source.") else checks).append(
            AssetCheckSpec(
                name=node["name"],
                asset=asset_keys[target],
                description=node.get("description") or _test_description(node),
                additional_deps=[asset_keys[p] for p in parents if p != target],
                metadata={UNIQUE_ID: uid},
                # dbt itself skips what is downstream of a failed test within the build; Dagster must not
                # hold back anything else (the data-lag check) on top of that.
                blocking=False,
            )
        )
    return DbtSpecs(
        assets=assets, checks=checks, source_checks=source_checks, asset_keys=asset_keys, check_keys=check_keys
    )


def asset_key(node: Mapping[str, Any]) -> AssetKey:
    if node["resource_type"] == "source":
        return AssetKey([node["source_name"], node["name"]])
    return AssetKey([node["schema"], node.get("alias") or node["name"]])


def _is_keyed(node: Mapping[str, Any]) -> bool:
    return node["resource_type"] in (*BUILT_TYPES, "source")


def _asset_spec(
    node: Mapping[str, Any], keys: Mapping[str, AssetKey], adapter: str, freshness_policy: FreshnessPolicy | None
) -> AssetSpec:
    materialized = node["config"].get("materialized")
    kind = (
        node["resource_type"] if node["resource_type"] != "model" else ("view" if materialized == "view" else "table")
    )
    columns = [
        TableColumn(column["name"], column.get("data_type") or "unknown", description=column.get("description") or None)
        for column in node.get("columns", {}).values()
    ]
    metadata: dict[str, Any] = {UNIQUE_ID: node["unique_id"], "dbt/file": node["original_file_path"]}
    if columns:
        metadata["dagster/column_schema"] = MetadataValue.table_schema(TableSchema(columns))
    is_mart = node["resource_type"] == "model" and node["schema"] in MART_SCHEMAS
    return AssetSpec(
        key=keys[node["unique_id"]],
        deps=[keys[parent] for parent in dict.fromkeys(node["depends_on"].get("nodes", [])) if parent in keys],
        description=node.get("description")
        or f"dbt {node['resource_type']} `{node['name']}` ({node['original_file_path']}).",
        group_name=node["schema"],
        kinds={"dbt", adapter, kind},
        metadata=metadata,
        code_version=hashlib.sha1((node.get("raw_code") or "").encode()).hexdigest() if node.get("raw_code") else None,
        freshness_policy=freshness_policy if is_mart else None,
        # dbt skips a model downstream of a failed test: the run then has no materialization for it.
        skippable=True,
    )


def _checked_node(test: Mapping[str, Any], parents: list[str], parent_map: Mapping[str, list[str]]) -> str | None:
    attached = test.get("attached_node")
    if attached in parents:
        return attached
    if len(parents) == 1:
        return parents[0]
    # A singular test over several models checks the one the others feed.
    for candidate in parents:
        ancestors = _ancestors(candidate, parent_map)
        if all(other in ancestors for other in parents if other != candidate):
            return candidate
    return parents[0] if parents else None


def _ancestors(unique_id: str, parent_map: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [unique_id]
    while stack:
        for parent in parent_map.get(stack.pop(), []):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _test_description(test: Mapping[str, Any]) -> str:
    metadata = test.get("test_metadata") or {}
    if metadata:
        column = test.get("column_name")
        return f"dbt test {metadata.get('name')}" + (f" on column {column}" if column else "")
    return f"dbt singular test {test['original_file_path']}"
