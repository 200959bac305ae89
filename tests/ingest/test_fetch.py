"""Concurrent page chains: every page exactly once, errors surface, and no deadlock on a shared pool."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestration.ingest.fetch import PAGES_AHEAD, run_chains


def pages(name, count):
    for i in range(count):
        yield [{"id": f"{name}_{i}"}]


@pytest.mark.timeout(30)
def test_interleaved_consumers_share_a_small_pool_without_deadlock():
    # dlt visits resources in turn: while one consumer is suspended, its chains must not hold the pool.
    with ThreadPoolExecutor(2) as executor:
        first = run_chains(executor, [pages(f"a{c}", 3 * PAGES_AHEAD) for c in range(4)])
        second = run_chains(executor, [pages(f"b{c}", 3 * PAGES_AHEAD) for c in range(4)])
        seen = []
        for a, b in zip(first, second, strict=True):
            seen += a + b
    ids = [o["id"] for o in seen]
    assert len(ids) == len(set(ids)) == 2 * 4 * 3 * PAGES_AHEAD


def test_an_error_in_one_chain_stops_the_read():
    def broken():
        yield [{"id": "ok"}]
        raise RuntimeError("Stripe said no")

    with ThreadPoolExecutor(2) as executor, pytest.raises(RuntimeError, match="Stripe said no"):
        list(run_chains(executor, [broken(), pages("x", 50)]))


def test_pages_fetched_ahead_of_the_consumer_are_bounded_whatever_the_number_of_chains():
    # Memory per list must not grow with its slices: 40 chains, yet only PAGES_AHEAD pages ahead.
    started = 0

    def counted(name, count):
        nonlocal started
        for i in range(count):
            started += 1
            yield [{"id": f"{name}_{i}"}]

    with ThreadPoolExecutor(8) as executor:
        taken = 0
        for _ in run_chains(executor, [counted(f"c{c}", 3) for c in range(40)]):
            taken += 1
            time.sleep(0.002)  # a slow consumer: the pool would run far ahead if nothing held it back
            assert started - taken <= PAGES_AHEAD
    assert taken == 120
