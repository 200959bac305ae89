"""dbt build benchmark: `dbt build` (DuckDB, 2 threads) on a raw warehouse of over a million Stripe objects.

    .venv/bin/python -m bench.dbt_build [--accounts 4] [--customers 6250] [--regenerate] [--runs 1]

Going through the HTTP simulator would take most of an hour for a million objects, so the raw `stripe_raw`
tables are written directly, in the ingester's layout (tests/transform/raw_warehouse.py, which uses the
ingester's own `raw_table`): `--accounts` generated accounts of `--customers` customers each, every one
with its own seed and account id, so that each has its own three years of subscription histories. The raw
warehouse is kept in $DATA_DIR/bench/ and reused while the parameters stay the same; every run copies it
and builds on the copy from scratch (seeds, snapshots, models and data tests; not the unit tests, which
belong in CI: `dbt build --exclude-resource-type unit_test`, as a production build runs). A second run on the
same copy (`--runs 2`) measures a later build, when snapshots and incremental models already exist.

Prints the raw row counts, the build's wall time and dbt's own elapsed time, and the three slowest models
(from `run_results.json`), in Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq

from orchestration.settings import PROJECT_ROOT
from orchestration.simulator import generate_account
from tests.transform.dbt_runner import run_dbt
from tests.transform.raw_warehouse import RAW_TABLES, raw_arrow_tables, simulated_raw_objects

NOW = 1780272000  # 2026-06-01 00:00:00 UTC: the accounts' clock, so that every run builds the same data
SYNCED_AT = datetime.fromtimestamp(NOW + 600, UTC)
THREADS = 2  # the profile's, and this machine's cores
# A production build, as the Dagster job runs it: dbt's unit tests check the SQL's logic on fixed rows, not the
# data, so they belong in CI (`dbt test --select "test_type:unit"`), not in every build.
EXCLUDE = ["--exclude-resource-type", "unit_test"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--customers", type=int, default=6250, help="customers per account")
    parser.add_argument("--regenerate", action="store_true", help="generate the raw warehouse even if kept")
    parser.add_argument("--runs", type=int, default=1, help="builds on the same copy (the 2nd is a later build)")
    args = parser.parse_args()

    bench_dir = Path(os.environ.get("DATA_DIR", PROJECT_ROOT / "data")).resolve() / "bench" / "dbt_build"
    raw = bench_dir / f"raw_{args.accounts}x{args.customers}.duckdb"
    if args.regenerate or not raw.exists():
        started = time.monotonic()
        prepare_raw_warehouse(raw, args.accounts, args.customers)
        print(f"raw warehouse {raw} prepared in {time.monotonic() - started:.0f} s\n")

    counts = raw_counts(raw)
    print(f"load average before the build: {load_average()}\n")
    print("| raw table | rows |\n|---|---|")
    for table, rows in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"| {table} | {rows:,} |")
    print(f"| **all** | **{sum(counts.values()):,}** |\n")

    run_dir = bench_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    shutil.copyfile(raw, run_dir / "warehouse.duckdb")
    target = run_dir / "target"
    # Parsing is paid once per project change, not per build: parse first so the build reuses it, as
    # Dagster does with its prepared manifest.
    run_dbt(run_dir, target, "parse", *dbt_vars())
    print("| run | wall s | dbt elapsed s | slowest models (s) | load before → after |\n|---|---|---|---|---|")
    for run in range(1, args.runs + 1):
        before = load_average()
        started = time.monotonic()
        run_dbt(run_dir, target, "build", "--threads", str(THREADS), *EXCLUDE, *dbt_vars())
        wall = time.monotonic() - started
        results = orjson.loads((target / "run_results.json").read_bytes())
        slowest = ", ".join(f"{name} {seconds:.1f}" for name, seconds in slowest_models(results, 3))
        label = "first" if run == 1 else f"later ({run})"
        print(f"| {label} | {wall:.1f} | {results['elapsed_time']:.1f} | {slowest} | {before} → {load_average()} |")


def dbt_vars() -> list[str]:
    # Reproducible MRR (its current month at the accounts' clock) and data-lag checks measured from then.
    return ["--vars", json.dumps({"mrr_as_of": NOW})]


def prepare_raw_warehouse(database: Path, accounts: int, customers: int) -> None:
    """Generates the accounts two at a time (one per core) as Parquet, then loads every raw table at once."""
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(dir=database.parent) as parquet_dir:
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(pool.map(write_account, range(1, accounts + 1), [customers] * accounts, [parquet_dir] * accounts))
        with duckdb.connect(str(database)) as connection:
            connection.execute("create schema stripe_raw")
            for table in RAW_TABLES:
                files = f"{parquet_dir}/*/{table}.parquet"
                connection.execute(f"create table stripe_raw.{table} as select * from read_parquet('{files}')")


def write_account(seed: int, customers: int, parquet_dir: str) -> None:
    """One generated account's raw tables, as Parquet files under parquet_dir/<seed>/."""
    account_id = f"acct_1Bench{seed:010d}"
    account = generate_account(seed=seed, customers=customers, now=NOW, account_id=account_id)
    objects = simulated_raw_objects(account, [account_id])
    del account
    folder = Path(parquet_dir) / str(seed)
    folder.mkdir()
    for table, rows in raw_arrow_tables(objects, SYNCED_AT).items():
        pq.write_table(rows, folder / f"{table}.parquet")


def raw_counts(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {t: connection.execute(f"select count(*) from stripe_raw.{t}").fetchone()[0] for t in RAW_TABLES}


def slowest_models(results: dict, n: int) -> list[tuple[str, float]]:
    models = [
        (r["unique_id"].split(".")[-1], r["execution_time"])
        for r in results["results"]
        if r["unique_id"].startswith(("model.", "snapshot."))
    ]
    return sorted(models, key=lambda model: -model[1])[:n]


def load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


if __name__ == "__main__":
    main()
