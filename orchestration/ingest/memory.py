"""Keeping a sync's resident memory near what it actually holds.

A sync parses pages on two dozen threads and hands Arrow tables to dlt; freed memory then stays with the
allocators, not the process's needs: glibc gives each thread its own arena (up to eight per core), whose
free lists fill with the pages of that thread, raises its threshold for giving large blocks their own
mappings as they are freed (so page-sized buffers end up in the arenas too), and neither glibc nor Arrow's
pool return freed memory to the system on their own. Measured on a 160k-object full sync, extract phase:
peak RSS 585 MB with the defaults, 390 MB with the settings here, while Arrow held ~35-90 MB and Python
objects ~100 MB at the peak.

Arrow's own default pool (mimalloc in pyarrow's wheels) keeps a heap per thread that allocates: once each
object was read on a thread of its own, twenty such heaps held ~100 MB the sync no longer used, though Arrow
itself held ~30 MB (3,750-customer full sync at Stripe's limits: peak RSS 474 MB with mimalloc, 370 MB with the
system allocator tuned as below, and 7% less time and CPU). Arrow chooses its pool once, when pyarrow is first
imported, so the choice is made in this package's `__init__`; `pa.set_memory_pool` later would reach only
the allocations made from Python, not those of Arrow's C++ (the Parquet writer's), and gave 407 MB.
"""

from __future__ import annotations

import ctypes
import gc
import threading
from functools import cache

import pyarrow as pa

_M_ARENA_MAX = -8  # glibc's mallopt parameters
_M_MMAP_THRESHOLD = -3
MALLOC_ARENAS = 2
MMAP_THRESHOLD = 256 * 1024
TRIM_EVERY_SECONDS = 1.0
TRIM_THREAD_NAME = "malloc-trim"


@cache  # loaded once, not at every release
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl): their allocators return memory differently
        return None


def tune_malloc() -> None:
    """Lets threads started from now on share MALLOC_ARENAS glibc arenas instead of one each, gives every
    block from MMAP_THRESHOLD up (a page's body, its parse) a mapping of its own, returned when freed. Arrow
    allocates from this same allocator (ARROW_DEFAULT_MEMORY_POOL, set as this package is imported).

    The sync's threads spend their time waiting on Stripe, so they rarely contend for an arena.
    """
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_freed_memory() -> None:
    """Returns what Python, Arrow and glibc have freed to the system, e.g. once an object's read is done."""
    # The young generations only: a read's garbage cycles are recent, and a full collection walks every object
    # the process holds (dlt's, the imported modules'): 1.2 s of a 12 CPU-s sync at one per object, for no
    # measurable memory (peak RSS within 20 MB either way, 71k-object sync).
    gc.collect(1)
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


class PeriodicTrim:
    """Hands the memory glibc's arenas hold free back to the system every TRIM_EVERY_SECONDS, on a thread of
    its own, until `stop`.

    A page freed in the middle of an arena stays resident until a trim (glibc gives back only the top of a
    heap by itself), and `release_freed_memory` trims only as an object's read ends: with twenty objects read
    at once for tens of seconds, 50-100 MB of the arenas were free but resident at the peak of a 7,500-customer
    full sync, which peaked at 405-418 MB. Trimmed every second, it peaked at 368-378 MB; a trim takes about
    10 ms of CPU (BENCHMARKS.md).
    """

    def __init__(self) -> None:
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        libc = _libc()
        if libc is not None:
            self._thread = threading.Thread(
                target=self._run, args=(libc, TRIM_EVERY_SECONDS), name=TRIM_THREAD_NAME, daemon=True
            )
            self._thread.start()

    def _run(self, libc: ctypes.CDLL, every: float) -> None:
        while not self._stopped.wait(every):
            libc.malloc_trim(0)  # ctypes lets go of the GIL for the call

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
