"""Row counts and column schemas of the warehouse tables behind the assets, read in one connection once
the step that wrote them is done (DuckDB admits no reader beside its writer).

Read from the warehouse, not from the dbt manifest: the manifest's relation names carry the database of
the target it was parsed with, while schema and table names are the same on DuckDB and Postgres.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from dagster import AssetKey, MetadataValue, TableColumn, TableSchema

from orchestration.settings import Settings
from orchestration.warehouse.reads import fetch_rows


def table_metadata(settings: Settings, keys: Collection[AssetKey]) -> dict[AssetKey, dict[str, Any]]:
    """`dagster/row_count` (tables only: counting a view runs its query) and `dagster/column_schema` for
    each asset keyed `<schema>/<table>` that exists in the warehouse."""
    wanted = {(key.path[0], key.path[-1]): key for key in keys if len(key.path) == 2}
    if not wanted:
        return {}
    schemas = ", ".join(f"'{schema}'" for schema in sorted({schema for schema, _ in wanted}))
    _, tables = fetch_rows(
        settings,
        f"select table_schema, table_name, table_type from information_schema.tables where table_schema in ({schemas})",
    )
    _, columns = fetch_rows(
        settings,
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        f"where table_schema in ({schemas}) order by table_schema, table_name, ordinal_position",
    )
    columns_by_table: dict[tuple[str, str], list[TableColumn]] = defaultdict(list)
    for schema, table, column, data_type in columns:
        columns_by_table[(schema, table)].append(TableColumn(column, str(data_type).lower()))
    counted = [(schema, table) for schema, table, kind in tables if (schema, table) in wanted and kind == "BASE TABLE"]
    counts = _row_counts(settings, counted)
    metadata: dict[AssetKey, dict[str, Any]] = {}
    for schema_table, key in wanted.items():
        if schema_table not in columns_by_table:
            continue
        # Dagster's own keys: the UI shows them as the asset's row count and columns.
        metadata[key] = {
            "dagster/column_schema": MetadataValue.table_schema(TableSchema(columns_by_table[schema_table]))
        }
        if schema_table in counts:
            metadata[key]["dagster/row_count"] = MetadataValue.int(counts[schema_table])
    return metadata


def _row_counts(settings: Settings, tables: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not tables:
        return {}
    sql = " union all ".join(
        f"select '{schema}', '{table}', count(*) from \"{schema}\".\"{table}\"" for schema, table in tables
    )
    _, rows = fetch_rows(settings, sql)
    return {(schema, table): int(count) for schema, table, count in rows}
