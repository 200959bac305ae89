"""Reading a whole list endpoint fast: concurrent page chains over `created` time slices.

A list is read newest first, one page after another, so a single chain is bound by latency (one page per
round trip). After the first page, the rest of the time range is split into slices read side by side on
a shared thread pool; the account's token bucket keeps the total under Stripe's rate limit. Pages go
through a bounded queue, so memory stays flat however large the account.
"""

from __future__ import annotations

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
QUEUE_PAGES = 8

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
    first = reader.get(path, {"limit": PAGE_SIZE, **params})
    objects = first["data"]
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
    for low, high in zip(bounds[:-2], bounds[1:-1], strict=True):
        chains.append(_chain(reader, path, {**_without_created(params), "created[gte]": low, "created[lt]": high}))
    yield from run_chains(executor, chains)


def run_chains(executor: ThreadPoolExecutor, chains: Iterable[Chain]) -> Iterator[Any]:
    """Runs the chains side by side on the pool; yields their pages as they come. The first error stops all.

    Each pool task fetches one page of one chain. When more than QUEUE_PAGES pages wait for the consumer,
    a chain is parked with its page instead of blocking its thread, and resumed as the consumer catches
    up: memory stays bounded, and a consumer that is busy elsewhere (dlt visits resources in turn) can
    never starve the shared pool.
    """
    pages: queue.SimpleQueue[Any] = queue.SimpleQueue()
    lock = threading.Lock()
    parked: deque[tuple[Chain, Any]] = deque()
    waiting = 0  # pages queued and not yet taken by the consumer
    stop = threading.Event()

    def step(chain: Chain) -> None:
        nonlocal waiting
        if stop.is_set():
            return
        try:
            page = next(chain)
        except StopIteration:
            pages.put(_DONE)
            return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            pages.put(exc)
            return
        with lock:
            if waiting >= QUEUE_PAGES:
                parked.append((chain, page))
                return
            waiting += 1
        pages.put(page)
        executor.submit(step, chain)

    running = 0
    for chain in chains:
        running += 1
        executor.submit(step, chain)
    try:
        while running:
            item = pages.get()
            if item is _DONE:
                running -= 1
                continue
            if isinstance(item, BaseException):
                raise item
            with lock:
                waiting -= 1
                resumed = parked.popleft() if parked else None
                if resumed:
                    waiting += 1
            if resumed:
                pages.put(resumed[1])
                executor.submit(step, resumed[0])
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
