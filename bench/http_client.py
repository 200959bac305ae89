"""HTTP client benchmark: the CPU one list-page GET costs the reader, through the Stripe SDK or the lean client.

    .venv/bin/python -m bench.http_client [--requests 2000] [--threads 8] [--customers 300] [--path /v1/charges]

The simulator serves from a child process, so only the client's CPU is counted (`time.process_time()` of
this process, all its threads). Each variant sends the same GET of one 100-object list page `--requests`
times from `--threads` threads and reports CPU-s per 1,000 requests (= per 100,000 objects):

- `sdk`: the SDK's raw request (`StripeClient._requestor.request_raw`), the reader's path before the lean client;
- `lean`: `orchestration.ingest.http.StripeHTTP.get` with the headers the reader sends;
- `reader`: `StripeReader.get(..., lazy=True)`: the lean client plus the rate limit, retries and simdjson parse.

It also counts the TCP connections the simulator accepted during each variant (keep-alive: few).
Prints one Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import stripe

from orchestration.ingest.client import StripeReader
from orchestration.ingest.http import StripeHTTP, request_headers
from orchestration.settings import STRIPE_API_VERSION, Secret, StripeCredential

KEY = "sk_live_benchmark_000000000000"
# The simulator in a child process: prints its address and how many connections it accepted so far (one line
# per line read from stdin), until stdin closes.
SERVER = f"""
import sys
import uvicorn.protocols.http.h11_impl as h11_impl
import uvicorn.protocols.http.httptools_impl as httptools_impl
from orchestration.simulator import SimulatorServer, generate_account

accepted = 0  # uvicorn keeps no count of the connections it accepted: each protocol instance is one
for protocol in (h11_impl.H11Protocol, httptools_impl.HttpToolsProtocol):
    def counted(self, transport, _made=protocol.connection_made):
        global accepted
        accepted += 1
        _made(self, transport)
    protocol.connection_made = counted

account = generate_account(seed=7, customers=int(sys.argv[1]), now=1_790_000_000)
with SimulatorServer([account], api_keys={{{KEY!r}: account.account_id}}) as server:
    print(server.base_url, flush=True)
    for _ in sys.stdin:
        print(accepted, flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--path", default="/v1/charges")
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.customers)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        base_url = server.stdout.readline().strip()
        params = {"limit": 100}
        credential = StripeCredential(Secret(KEY))
        sdk = stripe.StripeClient(
            KEY, stripe_version=STRIPE_API_VERSION, base_addresses={"api": base_url}, max_network_retries=0
        )
        lean = StripeHTTP(base_url, connections=args.threads)
        headers = request_headers(sdk)
        reader = StripeReader(base_url, credential, requests_per_second=1e9, http=lean)

        def via_sdk() -> Any:
            return sdk._requestor.request_raw("get", args.path, params=params, base_address="api", api_mode="V1")

        variants: dict[str, Callable[[], Any]] = {
            "sdk": via_sdk,
            "lean": lambda: lean.get(args.path, params, headers),
            "reader": lambda: reader.get(args.path, params, lazy=True),
        }
        size = len(via_sdk()[0])  # type: ignore[arg-type]
        print(f"GET {args.path}?limit=100 ({size:,} bytes), {args.requests} requests from {args.threads} threads\n")
        print("| client | CPU-s per 1,000 requests | CPU-s per 1,000 objects | requests/s | connections opened |")
        print("|---|---|---|---|---|")
        for name, call in variants.items():
            call()  # warm: imports done
            before = _accepted(server)
            cpu, wall = _timed(call, args.requests, args.threads)
            connections = _accepted(server) - before
            per_1000 = cpu / args.requests * 1000
            print(f"| {name} | {per_1000:.3f} | {per_1000 / 100:.4f} | {args.requests / wall:,.0f} | {connections} |")
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)


def _accepted(server: subprocess.Popen[str]) -> int:
    """How many connections the simulator accepted so far."""
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write("\n")
    server.stdin.flush()
    return int(server.stdout.readline())


def _timed(call: Callable[[], Any], requests: int, threads: int) -> tuple[float, float]:
    """CPU seconds of this process and wall seconds for `requests` calls spread over `threads` threads."""
    left = [requests]
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            call()

    with ThreadPoolExecutor(threads) as pool:
        cpu, wall = time.process_time(), time.perf_counter()
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
        return time.process_time() - cpu, time.perf_counter() - wall


if __name__ == "__main__":
    main()
