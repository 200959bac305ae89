"""Fault benchmark: syncs against a Stripe having a bad day, killed and resumed, compared with the truth.

    .venv/bin/python -m bench.faults [--customers 1500] [--seed 12] [--latency-ms 50] [--rate 100]

The simulator answers, at rates fixed by `--seed`: 10 % 429s beyond its token bucket, 2 % 500/502/503 with
Stripe's error bodies, 0.5 % connections closed before an answer and 0.5 % in the middle of its body, and
1 % of answers a second late. Every sync runs in a child process (`sync_accounts`, no Dagster): a full sync;
then, after changes, a sync SIGKILLed half-way; the sync that resumes it; then, after more changes, an
incremental sync. After each finished sync every raw table is compared with what the simulator serves
(tests/ingest/warehouse_state.py: each live object field for field, the others marked deleted, no key
twice), and the faults the sync reports are compared with those the server answered. Prints one Markdown
table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestration.settings import Settings
from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account
from orchestration.simulator.generate.mutations import mutate_account
from orchestration.simulator.serve.traffic import TrafficStats
from tests.ingest.warehouse_state import TOP_LEVEL, assert_table_matches

KEY = "sk_live_benchmark_000000000000"
CHILD = """
import json, sys
from orchestration.ingest.pipeline import sync_accounts
from orchestration.settings import Settings
report = sync_accounts(Settings.from_env(), now=int(sys.argv[1]))
print(json.dumps({"traffic": report.traffic, "failures": report.failures}))
"""


def bad_day(seed: int, latency_ms: float, rate: float) -> SimulatorOptions:
    return SimulatorOptions(
        latency_ms=latency_ms,
        rate_limit_per_second=rate,
        rate_limit_rate=0.10,
        fault_rate=0.02,
        fault_statuses=(500, 502, 503),
        drop_rate=0.005,
        truncate_rate=0.005,
        slow_rate=0.01,
        slow_ms=1000,
        fault_seed=seed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--changes", type=int, default=500)
    args = parser.parse_args()

    account = generate_account(seed=args.seed, customers=args.customers)
    size = sum(len(v) for v in account.objects.values())
    options = bad_day(args.seed, args.latency_ms, args.rate)
    print(
        f"{args.customers:,} customers, {size:,} objects; latency {args.latency_ms:.0f} ms, {args.rate:.0f} "
        f"requests/s; faults seeded {args.seed}\n"
    )
    print(
        "| sync | requests | 429 | 5xx (500/502/503) | dropped before answer | cut mid-body | slow | "
        "counted by the sync | seconds | warehouse vs simulator |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with (
        SimulatorServer([account], api_keys={KEY: account.account_id}, options=options) as server,
        tempfile.TemporaryDirectory() as data_dir,
    ):
        env = {**os.environ, "STRIPE_API_BASE": server.base_url, "STRIPE_API_KEY": KEY, "DATA_DIR": data_dir}
        env.pop("DUCKDB_PATH", None)
        duckdb_path = Settings.from_env(env).duckdb_path
        now = account.now or int(time.time())

        seconds = _sync_row("full", server, account, env, now, duckdb_path)

        now += 3600
        mutate_account(account, seed=1, changes=args.changes, at=now - 120)
        _killed_row(server, account, env, now, after=seconds / 2)
        _sync_row("resumed after the kill", server, account, env, now + 60, duckdb_path)

        now += 3600
        mutate_account(account, seed=2, changes=args.changes, at=now - 120)
        _sync_row("incremental", server, account, env, now, duckdb_path)


def _sync_row(label: str, server, account, env: dict[str, str], now: int, duckdb_path: Path) -> float:
    server.reset_stats()
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", CHILD, str(now)], env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    stats = server.stats(account.account_id)
    if out.returncode != 0:
        outcome, counted = f"sync failed: {out.stderr.strip().splitlines()[-1:]}", "—"
    else:
        result = json.loads(out.stdout.strip().splitlines()[-1])
        outcome = f"failed: {result['failures']}" if result["failures"] else _compare(duckdb_path, account)
        counted = _counted(result["traffic"].get(account.account_id, {}), stats)
    _row(label, stats, counted, seconds, outcome)
    return seconds


def _killed_row(server, account, env: dict[str, str], now: int, after: float) -> None:
    server.reset_stats()
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(now)], env=env, stdout=subprocess.DEVNULL)
    time.sleep(after)
    child.send_signal(signal.SIGKILL)
    child.wait()
    stats = server.stats(account.account_id)
    _row(f"SIGKILL after {after:.0f} s", stats, "—", time.monotonic() - started, "not compared (killed)")


def _counted(reported: dict[str, int], stats: TrafficStats) -> str:
    met = stats.rate_limited + stats.faults + stats.dropped + stats.truncated
    counted = sum(reported.get(kind, 0) for kind in ("rate_limited", "server_errors", "connection_errors"))
    return f"all {counted}" if counted == met and reported.get("requests") == stats.requests else f"{counted} of {met}"


def _compare(duckdb_path: Path, account) -> str:
    try:
        for obj in TOP_LEVEL:
            assert_table_matches(duckdb_path, account, obj.table)
    except AssertionError as difference:
        return f"differs: {difference}"
    return f"equal ({len(TOP_LEVEL)} tables, no key twice)"


def _row(label: str, stats: TrafficStats, counted: str, seconds: float, outcome: str) -> None:
    statuses = "/".join(str(stats.fault_statuses.get(status, 0)) for status in (500, 502, 503))
    print(
        f"| {label} | {stats.requests:,} | {stats.rate_limited:,} | {stats.faults} ({statuses}) | {stats.dropped} "
        f"| {stats.truncated} | {stats.slowed} | {counted} | {seconds:.1f} | {outcome} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
