"""Where a full sync's CPU goes: each stage of the ingester alone, in CPU seconds per 1,000 objects.

    .venv/bin/python -m bench.ingest_stages [--customers 1500] [--warehouse duckdb|postgres]

The simulator serves a generated account from a child process, so this process's CPU is the ingester's
alone. Each stage runs by itself, one after the other, on the objects of a full sync:

- **HTTP client**: every list page of every object type (the passes and expansions a full sync asks for),
  read one after another with `StripeReader.get`, minus the parse below;
- **page parse**: the same page bodies parsed as the sync parses them (lazily, each object's id and
  `created` read);
- **row building**: each page's raw rows as Arrow (`raw_table`), with the child lists embedded in it
  (invoice lines, subscription items, credit note lines);
- **dlt extract**, **normalize**, **load/merge**: those Arrow tables, in batches of `ROWS_PER_BATCH` per
  table as the source yields them, through a dlt pipeline with the source's table hints (each key once per
  load: no deduplication), step by step into a fresh warehouse (with DuckDB, its merge's CPU is this
  process's).

Then a whole sync of the same account (`sync_accounts`, concurrent as in production) is measured too: what it
spends beyond the sum of the stages is the cost of running them together (threads, queues, dlt's pipes, the
pages read beyond the first of each embedded list). Objects are every row written, child rows included, as in
`bench.ingest`; CPU is user + system time of this process and its children (`getrusage`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import dlt
import pyarrow as pa

from orchestration.ingest.client import PAGE_SIZE, StripeReader
from orchestration.ingest.lazy_json import parse_lazily
from orchestration.ingest.pipeline import extract_settings, stripe_pipeline, sync_accounts
from orchestration.ingest.raw_rows import raw_table
from orchestration.ingest.source import ROWS_PER_BATCH, UNIQUE_RAW_TABLE_HINTS
from orchestration.settings import Settings
from orchestration.simulator import SimulatorServer, generate_account
from orchestration.stripe_objects import STRIPE_OBJECTS, ChildList

KEY = "sk_live_benchmark_000000000000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--warehouse", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument("--label", default="now", help="the column's name in the printed table")
    args = parser.parse_args()

    with ExitStack() as stack:
        base_url, account_id = stack.enter_context(simulator_process(args.customers))
        data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        env = {**os.environ, "STRIPE_API_BASE": base_url, "STRIPE_API_KEY": KEY, "DATA_DIR": data_dir}
        env.pop("DUCKDB_PATH", None)
        if args.warehouse == "postgres":
            from tests.postgres import running_postgres

            server = stack.enter_context(running_postgres())
            env.update(WAREHOUSE="postgres", **server.create_database(f"stages_{args.customers}").env())
        settings = Settings.from_env(env)
        stages = _stages(settings, account_id)
        whole_env = {**env, "DATA_DIR": os.path.join(data_dir, "whole")}
        if args.warehouse == "postgres":
            whole_env.update(server.create_database(f"stages_whole_{args.customers}").env())
        whole = _measure(lambda: sync_accounts(Settings.from_env(whole_env)))
    report = whole.result
    whole_objects = sum(p.rows + p.refetched + p.deleted + p.child_rows for p in report.progress.values())
    print(
        f"{args.customers:,} customers; the stages wrote {stages.rows:,} objects, the whole sync "
        f"{whole_objects:,}; warehouse {args.warehouse}\n"
    )
    print(f"| stage | CPU s per 1,000 objects ({args.label}) | share of the whole sync |")
    print("|---|---|---|")
    whole_per_1000 = whole.cpu / whole_objects * 1000
    for name, cpu in stages.cpu.items():
        per_1000 = cpu / stages.rows * 1000
        print(f"| {name} | {per_1000:.3f} | {per_1000 / whole_per_1000:.0%} |")
    rest = whole_per_1000 - sum(stages.cpu.values()) / stages.rows * 1000
    print(f"| running them together (the whole sync minus the stages) | {rest:.3f} | {rest / whole_per_1000:.0%} |")
    print(f"| **whole sync** ({whole.wall:.1f} s wall) | **{whole_per_1000:.3f}** | 100% |")


@dataclass
class _Stages:
    cpu: dict[str, float] = field(default_factory=dict)
    rows: int = 0


@dataclass
class _Measured:
    cpu: float
    wall: float
    result: Any


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _measure(work) -> _Measured:
    cpu, wall = _cpu(), time.monotonic()
    result = work()
    return _Measured(_cpu() - cpu, time.monotonic() - wall, result)


def _stages(settings: Settings, account_id: str) -> _Stages:
    stages = _Stages()
    credential = settings.require_credentials()[0]
    reader = StripeReader(settings.stripe_api_base, credential, requests_per_second=1e9)
    queries = [
        (obj, obj.list_path, {**params, **({"expand": list(obj.expand)} if obj.expand else {})})
        for obj in STRIPE_OBJECTS
        for params in obj.passes
    ]
    pages: list[tuple[Any, list[Any]]] = []
    requests: list[tuple[str, dict[str, Any]]] = []

    def read_pages() -> None:
        for obj, path, params in queries:
            query: dict[str, Any] = {"limit": PAGE_SIZE, **params}
            while True:
                page = reader.get(path, query, lazy=True)
                objects = list(page["data"])
                for o in objects:  # what the sync reads of each object as it pages
                    o.get("id"), o.get(obj.created_field)
                pages.append((obj, objects))
                requests.append((path, dict(query)))
                if not page.get("has_more") or not objects:
                    break
                query["starting_after"] = objects[-1]["id"]

    http_and_parse = _measure(read_pages).cpu
    bodies = [_raw_body(settings.stripe_api_base, path, query) for path, query in requests]

    def parse() -> None:
        for body in bodies:
            page: Any = parse_lazily(body)
            for o in page["data"]:
                o.get("id"), o.get("created")

    parse_cpu = _measure(parse).cpu
    stages.cpu["HTTP client (StripeReader.get without the parse)"] = http_and_parse - parse_cpu
    stages.cpu["page parse (simdjson, lazily)"] = parse_cpu

    tables: dict[str, list[pa.Table]] = {}
    read_at = datetime.now(UTC)

    def build_rows() -> None:
        for obj, objects in pages:
            tables.setdefault(obj.table, []).append(
                raw_table(account_id, objects, read_at, created_field=obj.created_field)
            )
            for child in obj.children:
                if isinstance(child, ChildList) and child.embedded_field:
                    for parent in objects:
                        embedded = (parent.get(child.embedded_field) or {}).get("data") or []
                        if embedded:
                            tables.setdefault(child.table, []).append(
                                raw_table(account_id, embedded, read_at, parent["id"])
                            )

    stages.cpu["row building (Arrow per page)"] = _measure(build_rows).cpu
    pages.clear()
    stages.rows = sum(t.num_rows for parts in tables.values() for t in parts)

    pipeline = stripe_pipeline(settings)
    resources = [
        dlt.resource(_batches(parts), name=table, **UNIQUE_RAW_TABLE_HINTS) for table, parts in sorted(tables.items())
    ]
    with extract_settings():
        stages.cpu["dlt extract (Arrow to files)"] = _measure(lambda: pipeline.extract(resources)).cpu
        stages.cpu["dlt normalize"] = _measure(pipeline.normalize).cpu
        stages.cpu[f"load/merge ({settings.warehouse})"] = _measure(pipeline.load).cpu
    return stages


def _batches(parts: list[pa.Table]) -> Iterator[pa.Table]:
    """About ROWS_PER_BATCH rows at a time, as the source yields them."""
    batch: list[pa.Table] = []
    rows = 0
    for part in parts:
        batch.append(part)
        rows += part.num_rows
        if rows >= ROWS_PER_BATCH:
            yield pa.concat_tables(batch)
            batch, rows = [], 0
    if batch:
        yield pa.concat_tables(batch)


def _raw_body(api_base: str, path: str, query: dict[str, Any]) -> bytes:
    """A page's body again, read with the standard library outside the measured stages, to time its parse."""
    request = urllib.request.Request(
        f"{api_base}{path}?{urllib.parse.urlencode(_flat(query))}",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    with urllib.request.urlopen(request) as answer:
        return answer.read()


def _flat(query: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (f"{k}[{i}]", v) for k, values in query.items() if isinstance(values, list) for i, v in enumerate(values)
    ] + [(k, v) for k, v in query.items() if not isinstance(v, list)]


@contextmanager
def simulator_process(customers: int) -> Iterator[tuple[str, str]]:
    """The simulator serving a generated account from a child process; yields its base URL and account id.

    The account is generated in the child: in this process, its millions of Python objects would make every
    garbage collection of the ingester's slower than in production."""
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(customers, theirs), daemon=True)
    child.start()
    try:
        yield ours.recv()
    finally:
        child.kill()
        child.join()


def _serve(customers: int, pipe: Connection) -> None:
    account = generate_account(seed=1, customers=customers)
    with SimulatorServer([account], api_keys={KEY: account.account_id}) as server:
        pipe.send((server.base_url, account.account_id))
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
