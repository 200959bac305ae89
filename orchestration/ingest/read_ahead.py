"""Each object's read on a thread of its own, so that one object waiting on Stripe does not stall the others.

dlt pulls the objects' batches in turn, on one thread: with a plain generator, the object whose turn it is holds
that thread until its next batch is read. Under Stripe's limit of 25 requests a second per endpoint, that wait
is long (a payouts page's hundred balance-transaction lists alone take four seconds), and meanwhile every
other object, its few pages read ahead, stands still: a full sync ran at about one endpoint's rate.

`read_ahead` runs a producer on a thread and hands its items to dlt as they are ready; while none is, it yields
None, which dlt takes for "nothing yet" and goes on to the next object (it waits a little once every object
said so: dlt's own `extract.futures_poll_interval`). At most `depth` items wait for dlt, so memory stays
bounded. Items come in the producer's order; an exception in the producer is raised in dlt's thread; when dlt
stops reading (an error elsewhere), the producer stops at its next item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_PUT_RETRY_SECONDS = 0.1


def read_ahead(produce: Callable[[], Iterator[T]], *, name: str, depth: int = 1) -> Iterator[T | None]:
    """The items of `produce()`, run on a thread named `name`; None whenever none is ready yet."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        """Queues `item` unless dlt stopped reading; whether it was queued."""
        while not stop.is_set():
            try:
                items.put(item, timeout=_PUT_RETRY_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in produce():
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:  # raised again in dlt's thread
            hand_over(_Failed(exc))

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = items.get_nowait()
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
