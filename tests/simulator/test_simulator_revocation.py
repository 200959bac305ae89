"""Revoked access: a disconnected account or a rolled key fails the way Stripe fails it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import stripe

from orchestration.simulator import SimulatedAccount, SimulatorServer, generate_account
from tests.simulator.sim_support import NOW, sdk_client

PLATFORM_KEY = "sk_test_platform_0000abcd"
CONNECTED_KEY = "sk_test_connected_000wxyz"


@pytest.fixture
def connect() -> Iterator[tuple[SimulatorServer, SimulatedAccount, SimulatedAccount, SimulatedAccount]]:
    platform = generate_account(seed=51, customers=3, now=NOW, patterns=False)
    first = generate_account(seed=52, customers=4, now=NOW, patterns=False)
    second = generate_account(seed=53, customers=5, now=NOW, patterns=False)
    keys = {PLATFORM_KEY: platform.account_id, CONNECTED_KEY: first.account_id}
    with SimulatorServer([platform, first, second], api_keys=keys) as server:
        yield server, platform, first, second


def test_a_revoked_connected_account_is_403_account_invalid_for_the_platform(connect):
    server, _, first, second = connect
    server.revoke(first.account_id)
    response = requests.get(
        f"{server.base_url}/v1/customers",
        headers={"Authorization": f"Bearer {PLATFORM_KEY}", "Stripe-Account": first.account_id},
        timeout=10,
    )
    error = response.json()["error"]
    acting_on_second = sdk_client(server.base_url, PLATFORM_KEY, stripe_account=second.account_id)

    assert response.status_code == 403
    assert error["type"] == "invalid_request_error" and error["code"] == "account_invalid"
    assert error["message"] == (
        "The provided key 'sk_test_*************abcd' does not have access to account "
        f"'{first.account_id}' (or that account does not exist). Application access may have been revoked."
    )
    with pytest.raises(stripe.PermissionError):
        sdk_client(server.base_url, PLATFORM_KEY, stripe_account=first.account_id).v1.invoices.list()
    assert len(acting_on_second.v1.customers.list().data) == 5  # other accounts are unaffected
    assert [a.id for a in sdk_client(server.base_url, PLATFORM_KEY).v1.accounts.list().data] == [second.account_id]
    assert server.stats(first.account_id).rejected == 2


def test_the_accounts_own_key_is_401_api_key_invalid_like_a_rolled_key(connect):
    server, _platform, first, _ = connect
    server.revoke(first.account_id)

    with pytest.raises(stripe.AuthenticationError) as raised:
        sdk_client(server.base_url, CONNECTED_KEY).v1.customers.list()
    assert raised.value.http_status == 401
    assert raised.value.error.code == "api_key_invalid"
    assert raised.value.user_message == "Invalid API Key provided: sk_test_*************wxyz"
    assert len(sdk_client(server.base_url, PLATFORM_KEY).v1.customers.list().data) == 3


def test_restore_gives_access_back(connect):
    server, _, first, second = connect
    server.revoke(first.account_id)
    server.restore(first.account_id)

    assert len(sdk_client(server.base_url, CONNECTED_KEY).v1.customers.list().data) == 4
    listed = {a.id for a in sdk_client(server.base_url, PLATFORM_KEY).v1.accounts.list().data}
    assert listed == {first.account_id, second.account_id}
    with pytest.raises(KeyError):
        server.revoke("acct_1NotServed000000")


def test_revoke_after_serves_that_many_requests_then_revokes(connect):
    server, _, first, second = connect
    server.revoke_after(first.account_id, 2)
    on_first = sdk_client(server.base_url, PLATFORM_KEY, stripe_account=first.account_id)

    assert len(on_first.v1.customers.list().data) == 4
    assert len(sdk_client(server.base_url, CONNECTED_KEY).v1.customers.list().data) == 4  # its own key counts too
    with pytest.raises(stripe.PermissionError):
        on_first.v1.customers.list()
    with pytest.raises(stripe.AuthenticationError):
        sdk_client(server.base_url, CONNECTED_KEY).v1.customers.list()
    on_second = sdk_client(server.base_url, PLATFORM_KEY, stripe_account=second.account_id)
    assert len(on_second.v1.customers.list().data) == 5
    assert server.stats(first.account_id).rejected == 2
