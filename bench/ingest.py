"""Ingestion benchmark: full and incremental syncs against the simulator at Stripe's limits.

    .venv/bin/python -m bench.ingest [--customers 7500 3750] [--latency-ms 100] [--rate 100] [--endpoint-rate 25]
        [--warehouse duckdb]

The simulator runs in this process (a uvicorn thread) with 100 ms latency per request, a token bucket of
100 requests/s per account and one of 25 requests/s per endpoint of the account, like live-mode Stripe
(https://docs.stripe.com/rate-limits); the `429s` column is how many requests of the sync the simulator
refused (the sync retries them; the goal is none). Every sync runs in a child process, so its CPU and
its peak memory are its own. With `--warehouse postgres` the rows go to a throwaway local PostgreSQL server
(scripts/postgres.sh), so the sync's memory is the ingester's alone; with DuckDB (the default) it includes
DuckDB's merge, which runs inside the sync's process. Prints one Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack

from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account
from orchestration.simulator.generate.mutations import MutationSummary, mutate_account
from orchestration.stripe_objects import STRIPE_OBJECTS

KEY = "sk_live_benchmark_000000000000"
CHILD = """
import json, re, sys, time
from orchestration.ingest.pipeline import sync_accounts
from orchestration.settings import Settings
started = time.monotonic()
report = sync_accounts(Settings.from_env(), now=int(sys.argv[1]))
elapsed = time.monotonic() - started
rows = sum(p.rows + p.refetched + p.deleted + p.child_rows for p in report.progress.values())
import resource
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"elapsed": elapsed, "rows": rows, "failures": report.failures,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
                  "peak_rss_mb": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]) / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[7500, 3750])
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--rate", type=float, default=100, help="requests/s per account (Stripe live: 100)")
    parser.add_argument(
        "--endpoint-rate", type=float, default=25, help="requests/s per endpoint (Stripe: 25); 0: no such limit"
    )
    # 0: an incremental sync with nothing new, the fixed cost of an account.
    parser.add_argument("--changes", type=int, nargs="+", default=[0, 100, 10_000])
    parser.add_argument("--warehouse", choices=["duckdb", "postgres"], default="duckdb")
    args = parser.parse_args()

    ceiling = args.rate * 100
    endpoint_rate = args.endpoint_rate or None
    print(
        f"latency {args.latency_ms:.0f} ms, {args.rate:.0f} requests/s, "
        f"{f'{endpoint_rate:.0f}' if endpoint_rate else 'unlimited'} requests/s per endpoint, "
        f"ceiling {ceiling:,.0f} objects/s, warehouse {args.warehouse}\n"
    )
    print(
        "| account | sync | objects | requests | 429s | seconds | objects/s | of ceiling | request goal | peak RSS "
        "| CPU s per 1,000 objects |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for customers in args.customers:
        account = generate_account(seed=1, customers=customers)
        # The simulator serves from this process: its millions of generated objects, out of the garbage
        # collector's sight. Its first full collection otherwise fell in the sync's first seconds and stalled
        # every request for 1.2 s at 7,500 customers, a pause of the stand-in that Stripe does not have.
        gc.collect()
        gc.freeze()
        size = sum(len(v) for v in account.objects.values())
        options = SimulatorOptions(
            latency_ms=args.latency_ms, rate_limit_per_second=args.rate, endpoint_rate_limit_per_second=endpoint_rate
        )
        with ExitStack() as stack:
            simulator = SimulatorServer([account], api_keys={KEY: account.account_id}, options=options)
            server = stack.enter_context(simulator)
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            env = {**os.environ, "STRIPE_API_BASE": server.base_url, "STRIPE_API_KEY": KEY, "DATA_DIR": data_dir}
            env.pop("DUCKDB_PATH", None)
            if args.warehouse == "postgres":
                from tests.postgres import running_postgres

                database = stack.enter_context(running_postgres()).create_database(f"bench_{customers}")
                env.update(WAREHOUSE="postgres", **database.env())
            now = account.now or int(time.time())
            result, requests = _sync(server, account, env, now)
            label = f"{customers:,} customers, {size:,} objects"
            _row(label, "full", result, requests, ceiling, "")
            for k in args.changes if customers == args.customers[0] else []:
                now += 3600
                summary = mutate_account(account, seed=k, changes=k, at=now - 120)
                result, requests = _sync(server, account, env, now)
                _row(label, f"incremental, k={k:,}", result, requests, ceiling, _request_goal(summary))


def _request_goal(summary: MutationSummary) -> str:
    """The issue's goal for an incremental sync: one events request per event group and one request per
    list with new objects, plus the re-fetch of each object changed. The events are read once, unfiltered
    (one group), and again by the events table's own list when there are new ones; the lists Stripe announces
    no creation for are read each time; and the account itself is read. (Pages beyond an embedded child list
    and a payout's balance transactions are not counted.)"""

    def pages(name: str) -> int:
        return math.ceil(len(summary.created.get(name, ())) / 100)

    events = max(1, pages("events"))
    lists = 0
    for obj in STRIPE_OBJECTS:
        if obj.table != "events":
            new = pages(obj.list_path.removeprefix("/v1/"))
            lists += new if obj.creation_events else max(1, new)
    refetches = sum(len(ids) for ids in summary.updated.values()) + sum(len(ids) for ids in summary.deleted.values())
    total = events + pages("events") + lists + refetches + 1
    return f"≤ {total:,} ({events + pages('events')} events, {lists} lists, {refetches} re-fetches, 1 account)"


def _sync(server, account, env, now):
    before = server.stats(account.account_id).copy()
    out = subprocess.run([sys.executable, "-c", CHILD, str(now)], env=env, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise SystemExit(f"sync failed: {result['failures']}")
    after = server.stats(account.account_id)
    # Where the requests went, to stderr: list pages, events pages and re-fetches per route; the 429s per cause.
    routes = after.paths.copy()
    routes.subtract(before.paths)
    print("  requests by route:", ", ".join(f"{p} {n}" for p, n in routes.most_common() if n > 0), file=sys.stderr)
    causes = after.rate_limited_by.copy()
    causes.subtract(before.rate_limited_by)
    if +causes:
        print("  429s by cause:", ", ".join(f"{c} {n}" for c, n in (+causes).most_common()), file=sys.stderr)
    result["rate_limited"] = after.rate_limited - before.rate_limited
    return result, after.requests - before.requests


def _row(label, kind, result, requests, ceiling, goal):
    rate = result["rows"] / result["elapsed"]
    print(
        f"| {label} | {kind} | {result['rows']:,} | {requests:,} | {result['rate_limited']:,} "
        f"| {result['elapsed']:.1f} | {rate:,.0f} "
        f"| {rate / ceiling:.2f} | {goal} | {result['peak_rss_mb']:.0f} MB "
        f"| {result['cpu_seconds'] / result['rows'] * 1000:.3f} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
