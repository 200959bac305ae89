"""The Stripe analytics stack. Data flows, and imports run, one way (an import-linter contract in
pyproject.toml holds them to it):

- `settings` (everything read from the environment), `resources` (the settings as the Dagster resource the
  assets, checks and sensor receive), `stripe_objects` (the Stripe objects loaded and how
  each is listed), `sync_report` (what a sync did) and `warehouse/` (opening and reading the warehouse):
  the base every layer may use;
- `connect/`: Stripe accounts connected by an admin, their credentials kept encrypted;
- `ingest/`: Stripe's API read into the raw tables with dlt, one Dagster asset per table;
- `transform/`: the dbt project as Dagster assets, and what the UI shows of the MRR;
- `automation/`: how Dagster runs it all (partitions, jobs, schedules, sensor, checks, freshness, the
  warehouse's one writer, runs that died);
- `definitions.py` assembles the Dagster definitions; `cli.py` is `stripe-warehouse`.

`simulator/` is a Stripe API of our own for the demo and the tests, off the product's data path: only the
command line's `demo` and `simulate` start it.
"""
