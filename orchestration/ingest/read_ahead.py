"""Each object's read on a thread of its own, so that one object waiting on Stripe does not stall the others.

dlt pulls the objects' batches in turn, on one thread: with a plain generator, the object whose turn it is holds
that thread until its next batch is read. Under Stripe's limit of 25 requests a second per endpoint, that wait
is long (a payouts page's hundred balance-transaction lists alone take four seconds), and meanwhile every
other object, its few pages read ahead, stands still: a full sync ran at about one endpoint's rate.

`read_ahead` starts a producer on a thread and hands its items to dlt as they are ready; while none is, it
yields None, which dlt takes for "nothing yet" and goes on to the next object (it waits a little once every
object said so: dlt's own `extract.futures_poll_interval`). At most `depth` items wait for dlt, so memory stays
bounded; a read that must go on while dlt loads something else (`source.TailReads`) has no bound. Items come in
the producer's order; an exception in the producer is raised in dlt's thread; when dlt stops reading (an error
elsewhere) or the read is closed, the producer stops at its next item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()
_PUT_RETRY_SECONDS = 0.1


class ReadAhead(Generic[T]):
    """The items of a producer running on a thread of its own, from the moment this is made; None whenever
    none is ready yet."""

    def __init__(self, produce: Callable[[], Iterator[T]], *, name: str, depth: int | None = 1) -> None:
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth or 0)  # 0: no bound
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(produce,), name=name, daemon=True)
        self._thread.start()

    def _hand_over(self, item: object) -> bool:
        """Queues `item` unless the reading stopped; whether it was queued."""
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=_PUT_RETRY_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, produce: Callable[[], Iterator[T]]) -> None:
        try:
            for item in produce():
                if not self._hand_over(item):
                    return
            self._hand_over(_END)
        except BaseException as exc:  # raised again in dlt's thread
            self._hand_over(_Failed(exc))

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T | None:
        if self._ended:
            raise StopIteration
        try:
            item = self._items.get_nowait()
        except queue.Empty:
            return None
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, _Failed):
            self.close()
            raise item.exc
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stops the producer at its next item."""
        self._ended = True
        self._stop.set()


def read_ahead(produce: Callable[[], Iterator[T]], *, name: str, depth: int | None = 1) -> ReadAhead[T]:
    """The items of `produce()`, run on a thread named `name` from now on; None whenever none is ready yet."""
    return ReadAhead(produce, name=name, depth=depth)


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
