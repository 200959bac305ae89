"""Many-accounts benchmark: a Connect platform's connected accounts, most of them small, synced into Postgres.

    .venv/bin/python -m bench.many_accounts [--accounts 200] [--parallelism 1 2 4] [--latency-ms 100] [--rate 100]
        [--endpoint-rate 25] [--connect-rate-limit both] [--waves 1]

N generated accounts of 20-2,000 customers, log-uniform (most are small: the median is ~200), are served by
the simulator in this process as connected accounts of one platform (100 ms latency, token buckets of 100
requests/s per account and 25 per endpoint, as live-mode Stripe: https://docs.stripe.com/rate-limits; by
default the platform's buckets count every connected account's requests too, the strictest reading of that
page, as the client's default budget assumes), and synced into a
throwaway local PostgreSQL server (scripts/postgres.sh) by P child processes at once, each syncing its share
of the accounts one after another, one `sync_accounts` per account: what P Dagster runs of one account each
do (orchestration/automation/schedules.py), without Dagster's own cost per run (a process and a load of the
definitions: bench/definitions_load.py). Generated accounts are cached on disk (--cache-dir).

The simulator holds every account it serves in memory, several GB per million objects and more as it serves
them: 200 accounts of up to 2,000 customers (3.6 M objects) outgrew this machine's 24 GB. `--waves W` serves
and syncs the accounts W groups at a time, each group a share of every size, into the same databases; the
times add up. At most P accounts sync at once either way; a wave's last account runs with fewer beside it,
so waves can only make the total longer.

Measured: (a) the full sync's wall time at each parallelism, into a fresh database each; (b) then a sync with
no change: requests per account (the simulator counts them by account and route) and wall time; (c) the
fixed cost of an account: seconds and requests of the smallest accounts, full and with no change. Prints
Markdown tables for BENCHMARKS.md; requests by route go to stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import pickle
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account
from orchestration.simulator.serve.options import CONNECT_RATE_LIMITS

KEY = "sk_live_platform_many_accounts_0000"
CHILD = """
import json, sys, time
from orchestration.ingest.pipeline import sync_accounts
from orchestration.settings import Settings
now = int(sys.argv[1])
results = {}
for account in sys.argv[2:]:
    started = time.monotonic()
    report = sync_accounts(Settings.from_env({**__import__("os").environ, "STRIPE_ACCOUNT_IDS": account}), now=now)
    rows = sum(p.rows + p.refetched + p.deleted + p.child_rows for p in report.progress.values())
    results[account] = {"seconds": time.monotonic() - started, "rows": rows, "failures": report.failures}
print(json.dumps(results))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--min-customers", type=int, default=20)
    parser.add_argument("--max-customers", type=int, default=2000)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--rate", type=float, default=100, help="requests/s per account (token bucket)")
    parser.add_argument("--endpoint-rate", type=float, default=25, help="requests/s per endpoint; 0: unlimited")
    parser.add_argument(
        "--connect-rate-limit",
        choices=CONNECT_RATE_LIMITS,
        default="both",
        help="whose buckets a connected account's request spends (SimulatorOptions)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smallest", type=int, default=10, help="accounts counted in the fixed cost")
    parser.add_argument("--waves", type=int, default=1, help="groups of accounts served and synced in turn")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "many_accounts_cache")
    args = parser.parse_args()

    platform, plan = _plan(args)
    sizes = {account_id: size for account_id, (_, _, size) in plan.items()}
    customers = {account_id: n for account_id, (_, n, _) in plan.items()}
    _print_distribution(customers, sizes)
    print(
        f"\nlatency {args.latency_ms:.0f} ms, {args.rate:.0f} requests/s per account, "
        f"{args.endpoint_rate or 'unlimited'} per endpoint, Connect requests spending the "
        f"{args.connect_rate_limit} account's buckets, {os.cpu_count()} cores, "
        f"simulator in this process, warehouse Postgres, {args.waves} wave(s)\n"
    )
    options = SimulatorOptions(
        latency_ms=args.latency_ms,
        rate_limit_per_second=args.rate,
        endpoint_rate_limit_per_second=args.endpoint_rate or None,
        connect_rate_limit=args.connect_rate_limit,
    )
    smallest = sorted(customers, key=lambda a: (customers[a], a))[: args.smallest]
    # Largest first, dealt round to the waves: each wave holds a share of every size.
    by_size = sorted(plan, key=lambda a: -sizes[a])
    waves = [by_size[i :: args.waves] for i in range(args.waves)]
    full: dict[int, Totals] = {p: Totals() for p in args.parallelism}
    unchanged = Totals()
    parallelism = args.parallelism[-1]
    with ExitStack() as stack:
        from tests.postgres import running_postgres

        postgres = stack.enter_context(running_postgres())
        envs = {}
        for p in args.parallelism:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            database = postgres.create_database(f"many_accounts_p{p}")
            # STRIPE_SYNC_PARALLELISM as a deployment sets it to its run pool: each run's share of the key's budget.
            envs[p] = {**os.environ, "STRIPE_API_KEY": KEY, "DATA_DIR": data_dir, "WAREHOUSE": "postgres",
                       "STRIPE_SYNC_PARALLELISM": str(p), **database.env()}  # fmt: skip
        for number, wave in enumerate(waves, 1):
            accounts = [_cached(args.cache_dir, *plan[account_id][:2]) for account_id in wave]
            with SimulatorServer([platform, *accounts], api_keys={KEY: platform.account_id}, options=options) as server:
                now = max(a.now or int(time.time()) for a in accounts)
                for p in args.parallelism:
                    env = {**envs[p], "STRIPE_API_BASE": server.base_url}
                    full[p].add(*_sync(server, accounts, sizes, env, now, p))
                # (b) With no change since, into the last database: what each account costs when nothing happened.
                env = {**envs[parallelism], "STRIPE_API_BASE": server.base_url}
                unchanged.add(*_sync(server, accounts, sizes, env, now + 3600, parallelism))
            del accounts, server  # this wave's accounts go before the next wave's come
            gc.collect()  # the generated objects refer to each other
            print(f"wave {number} of {len(waves)} done: {len(wave)} accounts", file=sys.stderr, flush=True)

    print("| sync | parallelism | accounts | objects | requests | seconds | objects/s | 429s |")
    print("|---|---|---|---|---|---|---|---|")
    for p in args.parallelism:
        _row("full", p, full[p])
    _row("no change", parallelism, unchanged)

    per_account = [r["requests"] for r in unchanged.results.values()]
    print(
        f"\nNo-change sync, requests per account: median {statistics.median(per_account):.0f}, "
        f"min {min(per_account)}, max {max(per_account)}, total {sum(per_account):,}"
    )
    print("\n| fixed cost of the smallest accounts | customers | seconds (full) | requests (full) "
          "| seconds (no change) | requests (no change) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    last_full = full[parallelism].results
    for label, pick in (("median", statistics.median), ("max", max)):
        print(
            f"| {label} of {len(smallest)} | {pick(customers[a] for a in smallest):.0f} "
            f"| {pick(last_full[a]['seconds'] for a in smallest):.1f} "
            f"| {pick(last_full[a]['requests'] for a in smallest):.0f} "
            f"| {pick(unchanged.results[a]['seconds'] for a in smallest):.1f} "
            f"| {pick(unchanged.results[a]['requests'] for a in smallest):.0f} |"
        )


@dataclass
class Totals:
    """One kind of sync over every wave: per account its seconds, rows and requests; the waves' times added."""

    results: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    requests: int = 0
    limited: int = 0

    def add(self, results: dict[str, dict], seconds: float, requests: int, limited: int) -> None:
        self.results |= results
        self.seconds += seconds
        self.requests += requests
        self.limited += limited


def _plan(args):
    """The platform, and per connected account its (seed, customers, objects): generated once per (seed,
    customers) and cached, then let go, so that only the wave being synced is held in memory."""
    rng = random.Random(args.seed)
    low, high = math.log(args.min_customers), math.log(args.max_customers)
    counts = [round(math.exp(rng.uniform(low, high))) for _ in range(args.accounts)]
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    platform = _cached(args.cache_dir, args.seed * 100_000, 1)
    plan: dict[str, tuple[int, int, int]] = {}
    for i, n in enumerate(counts):
        seed = args.seed * 100_000 + 1 + i
        account = _cached(args.cache_dir, seed, n)
        plan[account.account_id] = (seed, n, sum(len(v) for v in account.objects.values()))
    print(
        f"{len(plan)} accounts ready in {time.monotonic() - started:.0f} s (cache {args.cache_dir})",
        file=sys.stderr,
    )
    return platform, plan


def _cached(folder: Path, seed: int, customers: int):
    path = folder / f"account_{seed}_{customers}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    account = generate_account(seed=seed, customers=customers, patterns=False)
    path.write_bytes(pickle.dumps(account))
    return account


def _print_distribution(customers: dict[str, int], sizes: dict[str, int]) -> None:
    bins = [(20, 50), (50, 100), (100, 200), (200, 500), (500, 1000), (1000, 2001)]
    print(f"{len(customers)} accounts, {sum(customers.values()):,} customers, {sum(sizes.values()):,} objects\n")
    print("| customers | accounts | objects |")
    print("|---|---|---|")
    for lo, hi in bins:
        picked = [a for a, n in customers.items() if lo <= n < hi]
        print(f"| {lo}-{min(hi, 2000) - (hi <= 2000)} | {len(picked)} | {sum(sizes[a] for a in picked):,} |")


def _sync(server, accounts, sizes, env, now, parallelism):
    """Every account synced by `parallelism` children; per account its seconds, rows and requests."""
    before = {a.account_id: server.stats(a.account_id).copy() for a in accounts}
    shares: list[list[str]] = [[] for _ in range(parallelism)]
    load = [0] * parallelism
    # The largest first, each to the least loaded child: the shares end at about the same time.
    for account in sorted((a.account_id for a in accounts), key=lambda a: -sizes[a]):
        child = load.index(min(load))
        shares[child].append(account)
        load[child] += sizes[account]
    started = time.monotonic()
    # Each child's output to a file of its own: read from pipes one child after another, a child whose pipe
    # was full stopped mid-log, holding the warehouse's load turn that the child being read waited for.
    busy = [share for share in shares if share]
    with ExitStack() as outputs:
        files = [outputs.enter_context(tempfile.TemporaryFile("w+")) for _ in busy]
        children = [
            subprocess.Popen([sys.executable, "-c", CHILD, str(now), *share], env=env, stdout=out, text=True)
            for share, out in zip(busy, files, strict=True)
        ]
        results: dict[str, dict] = {}
        for child, out in zip(children, files, strict=True):
            if child.wait():
                raise SystemExit(f"a sync child failed (exit {child.returncode})")
            out.seek(0)
            results |= json.loads(out.read().strip().splitlines()[-1])
    seconds = time.monotonic() - started
    failed = {a: r["failures"] for a, r in results.items() if r["failures"]}
    if failed:
        raise SystemExit(f"syncs failed: {failed}")
    routes: Counter[str] = Counter()
    limited = 0
    for account in accounts:
        after = server.stats(account.account_id)
        results[account.account_id]["requests"] = after.requests - before[account.account_id].requests
        limited += after.rate_limited - before[account.account_id].rate_limited
        routes.update(after.paths)
        routes.subtract(before[account.account_id].paths)
    print("  requests by route:", ", ".join(f"{p} {n}" for p, n in routes.most_common() if n > 0), file=sys.stderr)
    return results, seconds, sum(r["requests"] for r in results.values()), limited


def _row(kind, parallelism, totals: Totals):
    rows = sum(r["rows"] for r in totals.results.values())
    print(
        f"| {kind} | {parallelism} | {len(totals.results)} | {rows:,} | {totals.requests:,} | {totals.seconds:.1f} "
        f"| {rows / totals.seconds:,.0f} | {totals.limited} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
