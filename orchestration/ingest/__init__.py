"""Stripe's API read into the raw tables (`stripe_raw.*`) with dlt, as Dagster assets.

Modules, one job each:
- `client` (one account over HTTP: rate limit, retries, errors that name the fix), `rate_limit` (its token
  bucket), `lazy_json` (pages parsed lazily, each object's JSON kept as sent);
- `fetch` (a whole list endpoint as concurrent page chains), `sync` (full or incremental: what to read for
  one object of one account), `raw_rows` (the raw row layout as Arrow tables), `memory` (keeping a sync's
  memory flat);
- `context` (what one sync shares: readers, thread pool, report, clock), `children` (the rows of child
  tables: embedded lists and the pages beyond, lists filtered on the parent, discounts named inside),
  `vanished` (rows Stripe no longer lists, found in the warehouse after a full reload), `source` (the dlt
  source: a resource per raw table over every account), `pipeline` (the dlt pipeline to the configured
  warehouse);
- `accounts` (the accounts to sync and the credentials a run reads them with), `assets` (the ingestion
  assets Dagster runs).
"""

import os

# Arrow picks its allocator once, as pyarrow is first imported, and every module here that reaches pyarrow is
# imported after this: the system allocator, as `memory` tunes it, rather than Arrow's mimalloc, whose
# per-thread heaps held ~100 MB more at a sync's peak (memory.py). A value the user set still wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
