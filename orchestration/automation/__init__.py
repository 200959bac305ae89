"""How Dagster runs the pipeline by itself and from the command line.

Modules, one job each: `cadence` (the schedules' crons and on/off switch), `partitions` (accounts as dynamic
partitions), `jobs`, `schedules`, `sensors` (new accounts synced without a restart), `checks` (the data-lag
check per account), `freshness`, `concurrency` (one writer at a time in the warehouse), `stale_runs` (runs
whose process died are cleaned up), `once` (one sync of every account, as `stripe-warehouse run` does it).
`orchestration/definitions.py` assembles them with the ingest and transform assets.
"""
