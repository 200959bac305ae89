"""Read-only looks into the warehouse, for the command line's summary and the tests."""

from __future__ import annotations

from orchestration.settings import Settings

# The schemas this project writes: dlt's raw tables, the clean Stripe tables, the marts and the lag checks.
PROJECT_SCHEMAS = ("stripe_raw", "stripe", "analytics", "monitoring")

_TABLES_SQL = """
    select table_schema, table_name
    from information_schema.tables
    where table_schema in ({schemas})
      and table_type = 'BASE TABLE'
      and table_name not like '\\_dlt\\_%' escape '\\'
    order by table_schema, table_name
"""


def table_row_counts(settings: Settings) -> list[tuple[str, str, int]]:
    """(schema, table, rows) for every table the project built, in schema order."""
    connection = connect(settings)
    try:
        cursor = connection.cursor()
        placeholders = ", ".join(f"'{schema}'" for schema in PROJECT_SCHEMAS)
        cursor.execute(_TABLES_SQL.format(schemas=placeholders))
        tables = cursor.fetchall()
        counts = []
        for schema, table in tables:
            cursor.execute(f'select count(*) from "{schema}"."{table}"')
            counts.append((schema, table, int(cursor.fetchone()[0])))
        order = {schema: i for i, schema in enumerate(PROJECT_SCHEMAS)}
        return sorted(counts, key=lambda row: (order[row[0]], row[1]))
    finally:
        connection.close()


def connect(settings: Settings):
    """A DB-API connection to the configured warehouse, read-only for DuckDB; the caller closes it."""
    if settings.warehouse == "postgres":
        import psycopg2

        pg = settings.postgres
        return psycopg2.connect(
            host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"], dbname=pg["database"]
        )
    import duckdb

    return duckdb.connect(str(settings.duckdb_path), read_only=True)
