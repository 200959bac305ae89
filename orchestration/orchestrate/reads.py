"""Read-only queries into the warehouse for checks and metadata, run after the step that wrote it."""

from __future__ import annotations

from typing import Any

from orchestration.settings import Settings


def fetch_rows(settings: Settings, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of one query; the connection is read-only for DuckDB and closed afterwards."""
    if settings.warehouse == "postgres":
        import psycopg2

        pg = settings.postgres
        connection = psycopg2.connect(
            host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"], dbname=pg["database"]
        )
    else:
        import duckdb

        connection = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return [column[0] for column in cursor.description], list(cursor.fetchall())
    finally:
        connection.close()
