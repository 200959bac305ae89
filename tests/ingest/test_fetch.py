"""Concurrent page chains: every page exactly once, errors surface, and no deadlock on a shared pool."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestration.ingest.fetch import QUEUE_PAGES, run_chains


def pages(name, count):
    for i in range(count):
        yield [{"id": f"{name}_{i}"}]


@pytest.mark.timeout(30)
def test_interleaved_consumers_share_a_small_pool_without_deadlock():
    # dlt visits resources in turn: while one consumer is suspended, its chains must not hold the pool.
    with ThreadPoolExecutor(2) as executor:
        first = run_chains(executor, [pages(f"a{c}", 3 * QUEUE_PAGES) for c in range(4)])
        second = run_chains(executor, [pages(f"b{c}", 3 * QUEUE_PAGES) for c in range(4)])
        seen = []
        for a, b in zip(first, second, strict=True):
            seen += a + b
    ids = [o["id"] for o in seen]
    assert len(ids) == len(set(ids)) == 2 * 4 * 3 * QUEUE_PAGES


def test_an_error_in_one_chain_stops_the_read():
    def broken():
        yield [{"id": "ok"}]
        raise RuntimeError("Stripe said no")

    with ThreadPoolExecutor(2) as executor, pytest.raises(RuntimeError, match="Stripe said no"):
        list(run_chains(executor, [broken(), pages("x", 50)]))
