"""The warehouse, DuckDB or Postgres, as every layer reads it.

Modules, one job each: `access` (opening it, waiting for a DuckDB file another program holds, and one
line for each warehouse fault), `reads` (read-only queries after the step that wrote), `table_metadata`
(row counts and column schemas for the Dagster assets).
"""
