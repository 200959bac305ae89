"""The dbt project (dbt_project/) as Dagster assets.

Modules, one job each: `project` (where the project, profiles and prebuilt manifest live), `translator`
(the manifest as Dagster asset specs and checks, without importing dbt), `assets` (the dbt build a run
executes), `mrr_report` (the MRR table and chart the UI shows after a build).
"""
