"""Reading a whole list endpoint fast: concurrent page chains over `created` time slices.

A list is read newest first, one page after another, so a single chain is bound by latency (one page per
round trip). After the first page, the rest of the time range is split into slices read side by side on
a shared thread pool; the reader's rate budget keeps the total under Stripe's limits, account-wide and per
endpoint. Pages go through a bounded queue, so memory stays flat however large the account.

Stripe lets one endpoint take 25 requests a second, a quarter of the account's 100: the account's budget is
used only when several lists are read at once. So a list keeps in flight just the requests its endpoint's
budget lets through (its rate times a request's own time, Little's law), not PAGES_AHEAD of them: pool
threads do not sit waiting for one saturated endpoint's tokens while the other lists' requests wait for a
thread.
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchestration.ingest.client import PAGE_SIZE, StripeReader
from orchestration.ingest.rate_limit import Tally, thread_tally

Page = list[dict[str, Any]]
Chain = Iterator[Any]
"""Pages of one sequential read (a generator); each `next` is at most one request."""

MAX_SLICES = 32
PAGES_PER_SLICE = 8  # fewer, longer chains waste fewer requests on near-empty slices
# Pages fetched ahead of the consumer per list: at ~100 ms per request, 10 in flight keep up with Stripe's
# 100 requests/s, and a list never holds more parsed pages than that, however many slices it has.
PAGES_AHEAD = 10
# Requests of one list in flight before the first of them tells how long a request takes.
FIRST_IN_FLIGHT = 2

_DONE = object()


def list_all(
    reader: StripeReader,
    executor: ThreadPoolExecutor,
    path: str,
    params: dict[str, Any],
    *,
    sliced: bool = True,
    created_field: str = "created",
) -> Iterator[Page]:
    """Every object of `path` matching `params` (which may hold `created[gte]`), in pages.

    `sliced=False` reads one chain: for the few pages of an incremental read, where changes cluster in
    time and slices guessed from the first page would mostly come back empty.
    """
    first = reader.get(path, {"limit": PAGE_SIZE, **params}, lazy=True)
    objects = list(first["data"])
    yield objects
    if not first.get("has_more") or not objects:
        return
    newest, oldest = objects[0].get(created_field), objects[-1].get(created_field)
    floor = _created_floor(reader, params)
    if not sliced or newest is None or oldest is None or floor is None or oldest <= floor:
        yield from reader.list_pages(path, {**params, "starting_after": objects[-1]["id"]})
        return
    # Guess the number of pages left from the first page's density, to size the slices.
    pages_left = PAGE_SIZE * (oldest - floor) / max(1, newest - oldest + 1) / PAGE_SIZE
    slices = max(1, min(MAX_SLICES, int(pages_left / PAGES_PER_SLICE)))
    bounds = [floor + (oldest - floor) * i // slices for i in range(slices + 1)]
    chains: list[Chain] = [
        # The newest slice continues after the first page, which may have stopped inside one second.
        _chain(reader, path, {**params, "created[gte]": bounds[-2], "starting_after": objects[-1]["id"]})
    ]
    for low, high in itertools.pairwise(bounds[:-1]):
        chains.append(_chain(reader, path, {**_without_created(params), "created[gte]": low, "created[lt]": high}))
    yield from run_chains(executor, chains)


def run_chains(executor: ThreadPoolExecutor, chains: Iterable[Chain]) -> Iterator[Any]:
    """Runs the chains side by side on the pool; yields their pages as they come. The first error stops all.

    The chains are of one endpoint (a list's slices, one child list of many parents, retrieves of one
    object type). Each pool task fetches one page of one chain. At most PAGES_AHEAD pages are fetched ahead
    of the consumer (in flight or waiting for it), and at most what the endpoint's rate budget lets through
    are in flight (`_Pace`); the other chains wait their turn without a page. So memory per list is bounded
    however many slices it has, and a consumer that is busy elsewhere (dlt visits resources in turn) holds
    no thread of the shared pool.
    """
    pages: queue.SimpleQueue[Any] = queue.SimpleQueue()
    waiting_turn: deque[Chain] = deque(chains)
    running = len(waiting_turn)
    credits = PAGES_AHEAD
    """Pages not yet fetched ahead of the consumer: in flight or waiting for it take one each."""
    in_flight = 0
    # The consumer's latest request (a list's first page, a child's parent page) names the budget's endpoint rate.
    pace = _Pace(thread_tally().endpoint_rate)
    lock = threading.Lock()  # the consumer and the pool's threads both dispatch
    stop = threading.Event()

    def step(chain: Chain) -> None:
        nonlocal in_flight
        if stop.is_set():
            return
        tally = thread_tally()
        before = (tally.requests, tally.waited, time.monotonic())
        try:
            item = next(chain)
        except StopIteration:
            item = _DONE
        except BaseException as exc:  # handed to the consumer, which re-raises it
            item = exc
        with lock:
            pace.observe(tally, *before)
            in_flight -= 1
        pages.put((chain, item))
        dispatch()

    def dispatch() -> None:
        nonlocal credits, in_flight
        with lock:
            while credits and waiting_turn and in_flight < pace.in_flight and not stop.is_set():
                credits -= 1
                in_flight += 1
                try:
                    executor.submit(step, waiting_turn.popleft())
                except RuntimeError:  # the pool is shut down: the sync is over, nobody waits for the page
                    return

    try:
        dispatch()
        while running:
            chain, item = pages.get()
            if isinstance(item, BaseException):
                raise item
            with lock:
                credits += 1
                if item is _DONE:
                    running -= 1
                else:
                    waiting_turn.append(chain)  # to the back: every slice advances in turn
            dispatch()
            if item is not _DONE:
                yield item
    finally:
        stop.set()


class _Pace:
    """How many requests of one endpoint a `run_chains` keeps in flight: enough to spend the endpoint's budget
    (its rate times the time a request takes, waits for tokens left out, plus one for the jitter), few enough
    that no more than about one pool thread waits for the endpoint's tokens. Without a per-endpoint limit,
    PAGES_AHEAD."""

    SMOOTHING = 0.3  # weight of the latest request in the running mean of a request's time

    def __init__(self, endpoint_rate: float | None) -> None:
        self.rate = endpoint_rate
        self.seconds: float | None = None
        """Running mean of a request's own time: from the token to the parsed page."""

    @property
    def in_flight(self) -> int:
        if self.rate is None:
            return PAGES_AHEAD
        if self.seconds is None:
            return FIRST_IN_FLIGHT
        return max(1, min(PAGES_AHEAD, math.ceil(self.rate * self.seconds) + 1))

    def observe(self, tally: Tally, requests: int, waited: float, started: float) -> None:
        """Learns from a step that began with `tally` at (`requests`, `waited`), at `started`."""
        sent = tally.requests - requests
        if not sent:
            return  # a chain that ended without a request, or a test's chain without a reader
        self.rate = tally.endpoint_rate
        seconds = max(0.0, time.monotonic() - started - (tally.waited - waited)) / sent
        self.seconds = seconds if self.seconds is None else self.seconds + self.SMOOTHING * (seconds - self.seconds)


def _chain(reader: StripeReader, path: str, params: dict[str, Any]) -> Chain:
    return (page for page in reader.list_pages(path, params) if page)


def _created_floor(reader: StripeReader, params: dict[str, Any]) -> int | None:
    if "created[gte]" in params:
        return int(params["created[gte]"])
    # Nothing in an account predates the account itself.
    created = reader.account.get("created")
    return int(created) if created else None


def _without_created(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if not k.startswith("created")}
