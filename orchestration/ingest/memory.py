"""Keeping a sync's resident memory near what it actually holds.

A sync parses pages on two dozen threads and hands Arrow tables to dlt; freed memory then stays with the
allocators, not the process's needs: glibc gives each thread its own arena (up to eight per core), whose
free lists fill with the page strings of that thread, and neither glibc nor Arrow's pool return freed memory
to the system on their own. Measured on a 160k-object full sync: peak RSS 560 MB with the defaults, of which
Arrow held ~90 MB and Python objects ~100 MB at the time.
"""

from __future__ import annotations

import ctypes
import gc
import logging

import pyarrow as pa

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # glibc's mallopt parameter
MALLOC_ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl): their allocators return memory differently
        return None


def cap_malloc_arenas() -> None:
    """Lets threads started from now on share MALLOC_ARENAS glibc arenas instead of one each.

    The sync's threads spend their time waiting on Stripe, so they rarely contend for an arena.
    """
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def release_freed_memory() -> None:
    """Returns what Python, Arrow and glibc have freed to the system, e.g. once an object's read is done."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
