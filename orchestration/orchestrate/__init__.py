"""How Dagster runs the pipeline: account partitions, jobs, schedules, sensors, checks, freshness and the
one-writer rule of the warehouse; `definitions.py` assembles them with the ingest and transform assets."""
