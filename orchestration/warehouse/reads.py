"""Read-only queries into the warehouse for checks and metadata, run after the step that wrote it."""

from __future__ import annotations

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
