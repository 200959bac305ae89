"""Read-only queries into the warehouse: for checks and metadata, run after the step that wrote it, and for what
a load needs to know before it starts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestration.settings import Settings
from orchestration.warehouse.access import connect


def fetch_rows(settings: Settings, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of one query; the connection is read-only for DuckDB and closed afterwards."""
    connection = connect(settings)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return [column[0] for column in cursor.description], list(cursor.fetchall())
    finally:
        connection.close()


def tables_holding_rows(settings: Settings, schema: str, tables: Iterable[str]) -> set[str]:
    """Those of `tables` that exist in `schema` and hold a row; none while the warehouse itself does not exist.
    The names are the project's own (no user input reaches the SQL)."""
    if settings.warehouse == "duckdb" and not settings.duckdb_path.exists():
        return set()
    connection = connect(settings)
    try:
        cursor = connection.cursor()
        cursor.execute(f"select table_name from information_schema.tables where table_schema = '{schema}'")
        existing = {name for (name,) in cursor.fetchall()}
        holding = set()
        for table in sorted(existing.intersection(tables)):
            cursor.execute(f'select 1 from "{schema}"."{table}" limit 1')
            if cursor.fetchone() is not None:
                holding.add(table)
        return holding
    finally:
        connection.close()
