"""Latency, rate limits, injected faults, dropped, truncated and slow connections, and request counters."""

from __future__ import annotations

import contextlib
import http.client
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
import stripe

from orchestration.simulator import SimulatedAccount, SimulatorOptions, SimulatorServer, generate_account
from tests.simulator.sim_support import API_KEY, NOW, sdk_client

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
RATE_LIMIT_BODY = {
    "error": {
        "code": "rate_limit",
        "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
        "message": "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
        "type": "invalid_request_error",
    }
}
API_ERROR_BODY = {"error": {"message": "An unknown error occurred", "type": "api_error"}}


@pytest.fixture(scope="module")
def accounts() -> tuple[SimulatedAccount, SimulatedAccount]:
    return generate_account(seed=41, customers=12, now=NOW), generate_account(
        seed=42, customers=6, now=NOW, patterns=False
    )


@pytest.fixture
def served(accounts) -> Iterator[SimulatorServer]:
    """A fresh server per test (options and counters are per server) over the two accounts."""
    with SimulatorServer(list(accounts)) as server:
        yield server


def get(server: SimulatorServer, path: str, **params: object) -> requests.Response:
    return requests.get(f"{server.base_url}{path}", params=params, headers=HEADERS, timeout=10)


def test_latency_delays_each_response_but_not_the_others(served: SimulatorServer):
    served.configure(latency_ms=100)
    clients = 100
    start = threading.Barrier(clients)
    statuses: list[int] = []

    def one() -> None:
        start.wait()
        statuses.append(get(served, "/v1/customers", limit=1).status_code)

    began = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    single_started = time.perf_counter()
    get(served, "/v1/customers", limit=1)
    single = time.perf_counter() - single_started

    assert statuses == [200] * clients
    assert single >= 0.1
    # In sequence the 100 requests would take 10 s; in flight together they take about one latency
    # (plus the client threads' own start-up, which a loaded machine slows down).
    assert elapsed < 5, f"{clients} concurrent requests took {elapsed:.2f}s"


def test_rate_limit_answers_stripes_429_per_account(served: SimulatorServer, accounts):
    platform, connected = accounts
    served.configure(rate_limit_per_second=0.001, rate_limit_burst=3)  # three requests, then no refill

    answers = [get(served, "/v1/customers") for _ in range(5)]
    other = requests.get(
        f"{served.base_url}/v1/customers", headers={**HEADERS, "Stripe-Account": connected.account_id}, timeout=10
    )
    stats = served.stats(platform.account_id)

    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[-1].json() == RATE_LIMIT_BODY
    assert "Retry-After" not in answers[-1].headers and answers[-1].headers["Request-Id"].startswith("req_")
    assert other.status_code == 200  # another account's bucket is its own
    assert (stats.requests, stats.rate_limited, stats.served) == (5, 2, 3)
    assert stats.paths == {"/v1/customers": 5}
    assert served.stats(connected.account_id).requests == 1 and served.stats_total().requests == 6


def test_the_sdk_raises_rate_limit_error(served: SimulatorServer):
    served.configure(rate_limit_per_second=0.001, rate_limit_burst=1)
    client = sdk_client(served.base_url)
    client.v1.customers.list()

    with pytest.raises(stripe.RateLimitError) as raised:
        client.v1.customers.list()
    assert raised.value.http_status == 429 and raised.value.error.code == "rate_limit"


def test_storm_forces_429s_then_ends(served: SimulatorServer, accounts):
    served.rate_limit_storm(requests=3)
    by_count = [get(served, "/v1/charges").status_code for _ in range(4)]
    served.rate_limit_storm(seconds=0.3)
    during = get(served, "/v1/charges").status_code
    time.sleep(0.35)
    after = get(served, "/v1/charges").status_code

    assert by_count == [429, 429, 429, 200]
    assert (during, after) == (429, 200)
    assert served.stats(accounts[0].account_id).rate_limited == 4


def test_faults_are_stripes_500_and_repeatable_per_seed(accounts):
    def failing(seed: int) -> list[int]:
        options = SimulatorOptions(fault_rate=0.3, fault_seed=seed)
        with SimulatorServer(list(accounts), options=options) as server:
            return [limit for limit in range(1, 41) if get(server, "/v1/customers", limit=limit).status_code == 500]

    with SimulatorServer(list(accounts), options=SimulatorOptions(fault_rate=1.0)) as server:
        body = get(server, "/v1/customers").json()
        faults = server.stats(accounts[0].account_id).faults

    first, again, other = failing(1), failing(1), failing(2)
    assert body == API_ERROR_BODY and faults == 1
    assert 4 <= len(first) <= 24 and first == again
    assert other != first


def test_a_retried_request_draws_its_fault_afresh(accounts):
    options = SimulatorOptions(fault_rate=0.5, fault_seed=3)
    with SimulatorServer(list(accounts), options=options) as server:
        statuses = [get(server, "/v1/customers").status_code for _ in range(12)]

    assert set(statuses) == {200, 500}


def test_dropped_connection_is_an_api_connection_error_the_sdk_retries(
    served: SimulatorServer, accounts, caplog: pytest.LogCaptureFixture
):
    served.configure(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        get(served, "/v1/customers")
    with pytest.raises(stripe.APIConnectionError) as raised:
        sdk_client(served.base_url).v1.customers.list()
    assert raised.value.should_retry is True

    served.configure(drop_rate=0.5, fault_seed=5)
    retrying = sdk_client(served.base_url, max_network_retries=8)
    with caplog.at_level(logging.WARNING, logger="uvicorn"):
        pages = [retrying.v1.customers.list(params={"limit": limit}) for limit in (1, 2, 3)]
    stats = served.stats(accounts[0].account_id)

    assert [len(page.data) for page in pages] == [1, 2, 3]
    assert stats.dropped >= 3 and stats.served == 3
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")], "uvicorn complained about a drop"


def test_random_429s_come_at_their_rate_whatever_the_bucket(accounts):
    def limited(seed: int) -> list[int]:
        options = SimulatorOptions(rate_limit_rate=0.3, fault_seed=seed)
        with SimulatorServer(list(accounts), options=options) as server:
            answers = [get(server, "/v1/customers", limit=limit) for limit in range(1, 41)]
            refused = [a for a in answers if a.status_code == 429]
            assert {a.status_code for a in answers} == {200, 429}
            assert all(a.json() == RATE_LIMIT_BODY and a.headers["Request-Id"].startswith("req_") for a in refused)
            stats = server.stats(accounts[0].account_id)
            assert (stats.rate_limited, stats.served, stats.faults) == (len(refused), 40 - len(refused), 0)
            return [limit for limit, a in zip(range(1, 41), answers, strict=True) if a.status_code == 429]

    first = limited(1)
    assert 4 <= len(first) <= 24 and first == limited(1)
    assert limited(2) != first


def test_faults_answer_the_configured_statuses_with_api_error_bodies(accounts):
    def statuses(seed: int) -> tuple[list[int], Counter[int]]:
        options = SimulatorOptions(fault_rate=1.0, fault_statuses=(500, 502, 503), fault_seed=seed)
        with SimulatorServer(list(accounts), options=options) as server:
            answers = [get(server, "/v1/customers", limit=limit) for limit in range(1, 31)]
            assert all(a.json() == API_ERROR_BODY and a.headers["Request-Id"].startswith("req_") for a in answers)
            stats = server.stats(accounts[0].account_id)
            assert stats.faults == 30 and stats.served == 0
            return [a.status_code for a in answers], stats.fault_statuses

    first, counted = statuses(1)
    assert set(first) == {500, 502, 503}
    assert counted == Counter(first)
    assert statuses(1)[0] == first and statuses(2)[0] != first


def test_the_sdk_raises_api_error_for_any_fault_status(served: SimulatorServer):
    served.configure(fault_rate=1.0, fault_statuses=(503,))

    with pytest.raises(stripe.APIError) as raised:
        sdk_client(served.base_url).v1.customers.list()
    assert raised.value.http_status == 503
    assert served.stats_total().fault_statuses == {503: 1}


def test_a_truncated_body_is_an_incomplete_read_never_a_short_page(
    served: SimulatorServer, accounts, caplog: pytest.LogCaptureFixture
):
    served.configure(truncate_rate=1.0)
    with caplog.at_level(logging.WARNING, logger="uvicorn"):
        connection = http.client.HTTPConnection(served.host, served.port, timeout=10)
        connection.request("GET", "/v1/customers?limit=5", headers=HEADERS)
        answer = connection.getresponse()
        length = int(answer.headers["Content-Length"])
        with pytest.raises(http.client.IncompleteRead) as incomplete:
            answer.read()
        connection.close()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            get(served, "/v1/customers")
        with pytest.raises(stripe.APIConnectionError) as raised:
            sdk_client(served.base_url).v1.customers.list()
    stats = served.stats(accounts[0].account_id)

    assert answer.status == 200 and answer.headers["Request-Id"].startswith("req_")
    assert 0 < len(incomplete.value.partial) < length
    # The SDK raises, but unlike for a dropped connection it does not offer to retry: the caller must.
    assert raised.value.should_retry is False
    assert (stats.requests, stats.truncated, stats.served, stats.dropped) == (3, 3, 0, 0)
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")], "uvicorn complained about a cut"


def test_one_draw_shares_the_requests_among_the_ways_to_fail(accounts):
    options = SimulatorOptions(drop_rate=0.25, truncate_rate=0.25, fault_rate=0.25, rate_limit_rate=0.25, fault_seed=4)
    with SimulatorServer(list(accounts), options=options) as server:
        for limit in range(1, 41):
            with contextlib.suppress(requests.RequestException):  # a drop or a cut
                get(server, "/v1/customers", limit=limit)
        stats = server.stats(accounts[0].account_id)

    counts = (stats.dropped, stats.truncated, stats.faults, stats.rate_limited)
    assert sum(counts) == stats.requests == 40 and stats.served == 0
    assert all(count >= 3 for count in counts), counts


def test_slow_requests_wait_slow_ms_more(served: SimulatorServer, accounts):
    served.configure(slow_rate=1.0, slow_ms=300)
    began = time.perf_counter()
    slowed = get(served, "/v1/customers", limit=1)
    slow = time.perf_counter() - began
    served.configure(slow_rate=0.0)
    began = time.perf_counter()
    get(served, "/v1/customers", limit=1)
    fast = time.perf_counter() - began
    stats = served.stats(accounts[0].account_id)

    assert slowed.status_code == 200 and slow >= 0.3
    assert fast < 0.3
    assert (stats.slowed, stats.served) == (1, 2)


def test_options_are_validated_and_only_traffic_options_change_at_runtime(served: SimulatorServer):
    invalid = [
        {"fault_rate": 0.7, "drop_rate": 0.5},
        {"drop_rate": 0.3, "truncate_rate": 0.3, "fault_rate": 0.3, "rate_limit_rate": 0.2},
        {"rate_limit_rate": 1.5},
        {"truncate_rate": -0.1},
        {"slow_rate": 1.01},
        {"fault_rate": math.nan},
        {"slow_ms": -1},
        {"fault_statuses": ()},
        {"fault_statuses": (500, 404)},
    ]
    for options in invalid:
        with pytest.raises(ValueError, match="must"):  # every refusal says what the option must be
            SimulatorOptions(**options)
    with pytest.raises(ValueError, match="must add up to at most 1"):
        served.configure(rate_limit_rate=0.6, fault_rate=0.6)
    with pytest.raises(ValueError, match="cannot change while serving"):
        served.configure(api_version="2020-08-27")

    assert served.configure(latency_ms=5).latency_ms == 5 == served.options.latency_ms
    assert served.options.rate_limit_rate == 0
    changed = served.configure(
        rate_limit_rate=0.1, fault_statuses=[502, 503], truncate_rate=0.2, slow_rate=0.5, slow_ms=10
    )
    assert changed.fault_statuses == (502, 503) and changed.slow_rate == 0.5 and changed.truncate_rate == 0.2
    assert SimulatorOptions(drop_rate=0.1, truncate_rate=0.2, fault_rate=0.3, rate_limit_rate=0.4, slow_rate=1)


def test_refused_requests_are_counted_for_the_account_they_named(served: SimulatorServer, accounts):
    requests.get(f"{served.base_url}/v1/customers", headers={"Authorization": "Bearer sk_test_wrong"}, timeout=10)
    requests.get(
        f"{served.base_url}/v1/invoices/in_x/lines",
        headers={**HEADERS, "Stripe-Account": "acct_1NotServed000000"},
        timeout=10,
    )

    assert served.stats("acct_1NotServed000000").rejected == 1
    assert served.stats("acct_1NotServed000000").paths == {"/v1/invoices/{id}/lines": 1}
    assert served.stats_total().rejected == 2 and served.stats_total().served == 0
    served.reset_stats()
    assert served.stats_total().requests == 0
