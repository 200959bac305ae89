import threading
import time

import pytest

from orchestration.ingest.read_ahead import read_ahead


def test_items_come_in_order_with_none_while_the_producer_waits():
    release = threading.Event()

    def produce():
        yield 1
        release.wait(5)
        yield 2

    items = read_ahead(produce, name="test-order")
    seen = []
    for item in items:
        if item is None:
            release.set()  # the consumer went on while the producer waited: dlt visits the other objects
            seen.append(None)
            continue
        seen.append(item)
    assert [i for i in seen if i is not None] == [1, 2]
    assert None in seen


def test_a_producer_failure_is_raised_in_the_consumer():
    def produce():
        yield "page"
        raise ValueError("Stripe refused GET /v1/charges")

    items = (i for i in read_ahead(produce, name="test-failure") if i is not None)
    assert next(items) == "page"
    with pytest.raises(ValueError, match="refused"):
        next(items)


def test_the_producer_stops_when_the_consumer_does():
    produced = []

    def produce():
        for n in range(1000):
            produced.append(n)
            yield n

    items = read_ahead(produce, name="test-stop", depth=1)
    assert next(i for i in items if i is not None) == 0
    items.close()
    time.sleep(0.5)
    stopped_at = len(produced)
    time.sleep(0.3)
    assert len(produced) == stopped_at < 10  # no more than the queue's depth and the item in hand
    assert not any(t.name == "test-stop" and t.is_alive() for t in threading.enumerate())
