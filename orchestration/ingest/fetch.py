"""Reading a whole list endpoint fast: concurrent page chains over `created` time slices.

A list is read newest first, one page after another, so a single chain is bound by latency (one page per
round trip). After the first page, the rest of the time range is split into slices read side by side on
a shared thread pool; the account's token bucket keeps the total under Stripe's rate limit. Pages go
through a bounded queue, so memory stays flat however large the account.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from orchestration.ingest.client import PAGE_SIZE, StripeReader

Page = list[dict[str, Any]]
Chain = Callable[[Callable[[Page], None]], None]

MAX_SLICES = 32
PAGES_PER_SLICE = 8  # fewer, longer chains waste fewer requests on near-empty slices
QUEUE_PAGES = 32

_DONE = object()


def list_all(
    reader: StripeReader, executor: ThreadPoolExecutor, path: str, params: dict[str, Any], *, sliced: bool = True
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
    newest, oldest = objects[0].get("created"), objects[-1].get("created")
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


def run_chains(executor: ThreadPoolExecutor, chains: Iterable[Chain]) -> Iterator[Page]:
    """Runs each chain on the pool; yields the pages they emit as they come. The first error stops all."""
    pages: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_PAGES)
    stop = threading.Event()
    chains = list(chains)

    def emit(page: Page) -> None:
        if stop.is_set():
            raise _Stopped
        pages.put(page)

    def run(chain: Chain) -> None:
        try:
            chain(emit)
            pages.put(_DONE)
        except _Stopped:
            pages.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            pages.put(exc)

    for chain in chains:
        executor.submit(run, chain)
    running = len(chains)
    try:
        while running:
            item = pages.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                running -= 1
                raise item
            else:
                yield item
    finally:
        stop.set()
        # Unblock producers waiting on a full queue so their threads return to the pool.
        while running:
            item = pages.get()
            running -= item is _DONE or isinstance(item, BaseException)


class _Stopped(Exception):
    pass


def _chain(reader: StripeReader, path: str, params: dict[str, Any]) -> Chain:
    def chain(emit: Callable[[Page], None]) -> None:
        for page in reader.list_pages(path, params):
            if page:
                emit(page)

    return chain


def _created_floor(reader: StripeReader, params: dict[str, Any]) -> int | None:
    if "created[gte]" in params:
        return int(params["created[gte]"])
    # Nothing in an account predates the account itself.
    created = reader.account.get("created")
    return int(created) if created else None


def _without_created(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if not k.startswith("created")}
