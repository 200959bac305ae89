"""Reading a whole list endpoint fast: concurrent page chains over `created` time slices.

A list is read newest first, one page after another, so a single chain is bound by latency (one page per
round trip). After the first page, the rest of the time range is split into slices read side by side on
a shared thread pool; the account's token bucket keeps the total under Stripe's rate limit. Pages go
through a bounded queue, so memory stays flat however large the account.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchestration.ingest.client import PAGE_SIZE, StripeReader

Page = list[dict[str, Any]]
Chain = Iterator[Any]
"""Pages of one sequential read (a generator); each `next` is at most one request."""

MAX_SLICES = 32
PAGES_PER_SLICE = 8  # fewer, longer chains waste fewer requests on near-empty slices
# Pages fetched ahead of the consumer per list: at ~100 ms per request, 10 in flight keep up with Stripe's
# 100 requests/s, and a list never holds more parsed pages than that, however many slices it has.
PAGES_AHEAD = 10

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

    Each pool task fetches one page of one chain. At most PAGES_AHEAD pages are fetched ahead of the
    consumer (in flight or waiting for it); the other chains wait their turn without a page. So memory per
    list is bounded however many slices it has, and a consumer that is busy elsewhere (dlt visits
    resources in turn) holds no thread of the shared pool.
    """
    pages: queue.SimpleQueue[Any] = queue.SimpleQueue()
    waiting_turn: deque[Chain] = deque(chains)
    running = len(waiting_turn)
    credits = PAGES_AHEAD
    stop = threading.Event()

    def step(chain: Chain) -> None:
        if stop.is_set():
            return
        try:
            pages.put((chain, next(chain)))
        except StopIteration:
            pages.put((chain, _DONE))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            pages.put((chain, exc))

    def dispatch() -> None:
        # Only the consumer's thread calls this, so the counters need no lock.
        nonlocal credits
        while credits and waiting_turn:
            credits -= 1
            executor.submit(step, waiting_turn.popleft())

    try:
        dispatch()
        while running:
            chain, item = pages.get()
            if isinstance(item, BaseException):
                raise item
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
