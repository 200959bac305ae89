"""Serving throughput under latency: `.venv/bin/python -m bench.serving [--clients 32 64 ...]`.

Not a test (pytest does not collect it): it prints requests/s and objects/s of client threads paging
through list endpoints at limit=100 against a simulator that waits `--latency-ms` before each response.
The server runs in a thread of this process (as in the test suite, sharing the GIL with the clients) or,
with `--separate-process`, in its own; `--warm` encodes every object's JSON before timing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event
from pathlib import Path

import requests

from orchestration.simulator import SimulatedAccount, SimulatorOptions, SimulatorServer, generate_account

LISTS = ("invoices", "charges", "customers", "events", "balance_transactions", "payment_intents")
NOW = 1_780_000_000


def _account(customers: int, warm: bool) -> SimulatedAccount:
    account = generate_account(seed=5, customers=customers, now=NOW)
    if warm:
        account.store.encode_all()
    return account


def _serve_in_child(customers: int, latency_ms: float, warm: bool, ready: multiprocessing.Queue, stop: Event) -> None:
    with SimulatorServer([_account(customers, warm)], options=SimulatorOptions(latency_ms=latency_ms)) as server:
        ready.put(server.base_url)
        stop.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux `/proc`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(customers: int, latency_ms: float, warm: bool, separate: bool) -> Iterator[tuple[str, int]]:
    """(base URL, pid of the process serving it)."""
    if not separate:
        with SimulatorServer([_account(customers, warm)], options=SimulatorOptions(latency_ms=latency_ms)) as server:
            yield server.base_url, os.getpid()
        return
    ready: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    child = multiprocessing.Process(
        target=_serve_in_child, args=(customers, latency_ms, warm, ready, stop), daemon=True
    )
    child.start()
    try:
        yield ready.get(timeout=300), child.pid
    finally:
        stop.set()
        child.join(10)


def _client(base_url: str, index: int, deadline: float, totals: list[tuple[int, int]]) -> None:
    """Pages through one list, over and over, until the deadline; like the ingester, parses each page."""
    session = requests.Session()
    session.headers["Authorization"] = "Bearer sk_test_simulator"
    name, cursor = LISTS[index % len(LISTS)], None
    calls = objects = 0
    while time.monotonic() < deadline:
        params = {"limit": 100, **({"starting_after": cursor} if cursor else {})}
        page = session.get(f"{base_url}/v1/{name}", params=params, timeout=30).json()
        calls, objects = calls + 1, objects + len(page["data"])
        cursor = page["data"][-1]["id"] if page["has_more"] else None
    totals.append((calls, objects))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--separate-process", action="store_true", help="run the server in its own process")
    parser.add_argument("--warm", action="store_true", help="encode every object's JSON before timing")
    args = parser.parse_args()
    where = "in its own process" if args.separate_process else "in-process"
    with _server(args.customers, args.latency_ms, args.warm, args.separate_process) as (base_url, pid):
        for clients in args.clients:
            totals: list[tuple[int, int]] = []
            cpu_before = _cpu_seconds(pid)
            deadline = time.monotonic() + args.seconds
            started = time.perf_counter()
            threads = [threading.Thread(target=_client, args=(base_url, i, deadline, totals)) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            calls, objects = sum(t[0] for t in totals), sum(t[1] for t in totals)
            cpu = _cpu_seconds(pid) - cpu_before
            # In-process, the clients' CPU is counted too: only the separate server's figure is its own.
            print(
                f"{clients} clients, {args.latency_ms:g} ms latency, {'warm' if args.warm else 'cold'} server {where}: "
                f"{calls / elapsed:.0f} requests/s, {objects / elapsed:.0f} objects/s, "
                f"{cpu / calls * 1000:.1f} ms CPU per request ({cpu / elapsed:.0%} of a core)"
            )


if __name__ == "__main__":
    main()
