"""Stripe's per-endpoint rate limits, on top of the account-wide one, and whose budget a Connect request spends.

https://docs.stripe.com/rate-limits: "API endpoints have a default limit of 25 requests per second"; each named
operation is its own endpoint, retrieves of different ids share one, and they "also count against global limits".
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests

from orchestration.simulator import SimulatedAccount, SimulatorOptions, SimulatorServer, generate_account
from tests.simulator.sim_support import API_KEY, NOW

HEADERS = {"Authorization": f"Bearer {API_KEY}"}
NO_REFILL = 0.001  # a bucket that holds its burst and gets nothing back during a test


@pytest.fixture(scope="module")
def accounts() -> tuple[SimulatedAccount, SimulatedAccount]:
    """The platform (whose key is API_KEY) and a connected account."""
    return generate_account(seed=43, customers=6, now=NOW), generate_account(
        seed=44, customers=4, now=NOW, patterns=False
    )


@pytest.fixture
def served(accounts) -> Iterator[SimulatorServer]:
    with SimulatorServer(list(accounts)) as server:
        yield server


def get(server: SimulatorServer, path: str, session: requests.Session | None = None, **headers: str) -> int:
    return (session or requests).get(f"{server.base_url}{path}", headers={**HEADERS, **headers}, timeout=10).status_code


def test_a_burst_beyond_an_endpoints_limit_is_refused_but_its_rate_spread_out_is_served(served, accounts):
    served.configure(rate_limit_per_second=100, endpoint_rate_limit_per_second=25)
    clients = 30
    start = threading.Barrier(clients)
    statuses: Counter[int] = Counter()

    def one() -> None:
        with requests.Session() as session:
            start.wait()
            statuses[get(served, "/v1/customers", session)] += 1

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    burst = served.stats(accounts[0].account_id)

    served.configure(rate_limit_per_second=100, endpoint_rate_limit_per_second=25)  # full buckets again
    served.reset_stats()
    spread = []
    with requests.Session() as session:
        for _ in range(50):  # two seconds at 25 a second
            spread.append(get(served, "/v1/customers", session))
            time.sleep(1 / 25)

    # The bucket holds one second's worth (25); the burst's own ~0.1 s refills at most a few more.
    assert statuses[200] >= 25 and 1 <= statuses[429] <= 5, statuses
    assert burst.rate_limited_by == {"endpoint": statuses[429]}, "refused by the endpoint's limit, not the account's"
    assert spread == [200] * 50
    assert served.stats(accounts[0].account_id).rate_limited == 0


def test_each_named_operation_is_an_endpoint_and_retrieves_of_any_id_share_one(served, accounts):
    served.configure(endpoint_rate_limit_per_second=NO_REFILL, endpoint_rate_limit_burst=3)
    customers = [c["id"] for c in accounts[0].listable("customers")][:4]

    listed = [get(served, "/v1/customers") for _ in range(4)]
    retrieved = [get(served, f"/v1/customers/{customer}") for customer in customers]
    other_list = get(served, "/v1/charges")
    stats = served.stats(accounts[0].account_id)

    assert listed == [200, 200, 200, 429]
    assert retrieved == [200, 200, 200, 429]  # four ids, one endpoint: `GET /v1/customers/{id}`
    assert other_list == 200
    assert stats.rate_limited_by == {"endpoint": 2}


def test_an_endpoints_request_also_spends_the_accounts_budget_and_a_refused_one_spends_nothing(served, accounts):
    served.configure(
        rate_limit_per_second=NO_REFILL,
        rate_limit_burst=4,
        endpoint_rate_limit_per_second=NO_REFILL,
        endpoint_rate_limit_burst=2,
    )

    customers = [get(served, "/v1/customers") for _ in range(3)]  # the third is the endpoint's to refuse
    charges = [get(served, "/v1/charges") for _ in range(2)]  # the global bucket's last two tokens
    invoices = get(served, "/v1/invoices")  # an endpoint with tokens left, in an account without
    stats = served.stats(accounts[0].account_id)

    assert customers == [200, 200, 429]
    assert charges == [200, 200]
    assert invoices == 429
    assert stats.rate_limited_by == {"endpoint": 1, "global": 1} and stats.rate_limited == 2


@pytest.mark.parametrize(
    ("spends", "after_its_own_two", "after_two_connect"),
    [
        # The connected account's budget only: its own requests spent it; the platform's is untouched.
        ("connected", [429], [200]),
        # The key owner's only: the connected account's own requests are no matter; two of the platform's are.
        ("platform", [200], [429]),
        # Both: refused when either is spent.
        ("both", [429], [429]),
    ],
)
def test_a_connect_request_spends_the_budget_the_option_names(accounts, spends, after_its_own_two, after_two_connect):
    platform, connected = accounts
    keys = {API_KEY: platform.account_id, "sk_test_connected_own_key": connected.account_id}
    as_connected = {"Stripe-Account": connected.account_id}
    with SimulatorServer(list(accounts), api_keys=keys) as server:
        server.configure(rate_limit_per_second=NO_REFILL, rate_limit_burst=2, connect_rate_limit=spends)
        # The connected account's own key spends its own budget, whatever the option.
        own = [get(server, "/v1/customers", Authorization="Bearer sk_test_connected_own_key") for _ in range(2)]
        first = [get(server, "/v1/customers", **as_connected)]

        server.configure(rate_limit_per_second=NO_REFILL, rate_limit_burst=2, connect_rate_limit=spends)  # refilled
        connect = [get(server, "/v1/customers", **as_connected) for _ in range(2)]
        second = [get(server, "/v1/customers")]  # the platform's own request

    assert own == [200, 200] and connect == [200, 200]
    assert (first, second) == (after_its_own_two, after_two_connect)


def test_endpoint_limit_options_are_validated_and_change_at_runtime(served):
    with pytest.raises(ValueError, match="endpoint_rate_limit_per_second must be positive"):
        SimulatorOptions(endpoint_rate_limit_per_second=0)
    with pytest.raises(ValueError, match="endpoint_rate_limit_burst must be at least 1"):
        SimulatorOptions(endpoint_rate_limit_burst=0)
    with pytest.raises(ValueError, match="connect_rate_limit='key'"):
        SimulatorOptions(connect_rate_limit="key")

    changed = served.configure(endpoint_rate_limit_per_second=25, connect_rate_limit="both")

    assert (changed.endpoint_rate_limit_per_second, changed.connect_rate_limit) == (25, "both")
    assert SimulatorOptions().endpoint_rate_limit_per_second is None, "off unless asked: Stripe's is the benchmark's"
