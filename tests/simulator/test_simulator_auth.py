"""Authentication, response headers and Connect account selection, as Stripe does them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import stripe

from orchestration.simulator import SimulatedAccount, SimulatorServer, generate_account
from orchestration.simulator.templates import API_VERSION
from tests.simulator.sim_support import API_KEY, NOW, sdk_client


def test_missing_key_is_401_with_stripes_body(server: SimulatorServer):
    response = requests.get(f"{server.base_url}/v1/customers", timeout=10)
    error = response.json()["error"]

    assert response.status_code == 401
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")
    assert response.headers["Request-Id"].startswith("req_")


def test_wrong_key_raises_authentication_error_without_echoing_the_key(server: SimulatorServer):
    wrong = "sk_test_51HxAbCdEfGhIjKlMnOpQrStUv9876"
    with pytest.raises(stripe.AuthenticationError) as raised:
        sdk_client(server.base_url, wrong).v1.customers.list()

    assert raised.value.http_status == 401
    assert wrong not in raised.value.user_message
    assert raised.value.user_message == "Invalid API Key provided: sk_test_" + "*" * 26 + "9876"
    assert wrong not in (raised.value.http_body or "")


def test_basic_auth_with_the_key_as_username_works(server: SimulatorServer, account: SimulatedAccount):
    response = requests.get(f"{server.base_url}/v1/account", auth=(API_KEY, ""), timeout=10)

    assert response.status_code == 200
    assert response.json()["id"] == account.account_id


def test_every_response_has_a_request_id_and_stripe_version(server: SimulatorServer):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    default = requests.get(f"{server.base_url}/v1/customers", headers=headers, timeout=10)
    pinned = requests.get(
        f"{server.base_url}/v1/customers/cus_nope", headers={**headers, "Stripe-Version": "2024-06-20"}, timeout=10
    )

    assert default.headers["Stripe-Version"] == API_VERSION
    assert pinned.status_code == 404 and pinned.headers["Stripe-Version"] == "2024-06-20"
    assert pinned.headers["Request-Id"] in pinned.json()["error"]["request_log_url"]
    assert default.headers["Request-Id"] != pinned.headers["Request-Id"]


def test_unrecognized_url_is_404(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.raw_request("get", "/v1/teleporters")

    assert raised.value.http_status == 404
    assert "Unrecognized request URL (GET: /v1/teleporters)" in (raised.value.user_message or "")


def test_account_endpoint_returns_the_keys_account(client: stripe.StripeClient, account: SimulatedAccount):
    body = json.loads(client.raw_request("get", "/v1/account").body)

    assert body == account.account
    assert body["object"] == "account" and body["id"].startswith("acct_")


@pytest.fixture(scope="module")
def connect() -> Iterator[tuple[SimulatorServer, SimulatedAccount, SimulatedAccount]]:
    platform = generate_account(seed=21, customers=5, now=NOW, patterns=False)
    connected = generate_account(seed=22, customers=8, now=NOW, patterns=False)
    keys = {"sk_test_platform": platform.account_id, "rk_test_connected": connected.account_id}
    with SimulatorServer([platform, connected], api_keys=keys) as server:
        yield server, platform, connected


def test_platform_key_reads_a_connected_account(connect):
    server, platform, connected = connect
    own = sdk_client(server.base_url, "sk_test_platform")
    acting = sdk_client(server.base_url, "sk_test_platform", stripe_account=connected.account_id)

    assert len(own.v1.customers.list(params={"limit": 100}).data) == platform.expected_count("customers")
    assert len(acting.v1.customers.list(params={"limit": 100}).data) == 8
    assert json.loads(acting.raw_request("get", "/v1/account").body)["id"] == connected.account_id
    assert json.loads(own.raw_request("get", f"/v1/accounts/{connected.account_id}").body) == connected.account
    assert [a.id for a in own.v1.accounts.list().data] == [connected.account_id]


def test_connected_key_cannot_act_on_the_platform(connect):
    server, platform, _connected = connect
    restricted = sdk_client(server.base_url, "rk_test_connected", stripe_account=platform.account_id)
    unknown = sdk_client(server.base_url, "sk_test_platform", stripe_account="acct_1NotConnected00")

    with pytest.raises(stripe.PermissionError) as raised:
        restricted.v1.customers.list()
    with pytest.raises(stripe.PermissionError):
        unknown.v1.customers.list()
    assert platform.account_id in (raised.value.user_message or "")
    assert "rk_test_connected" not in (raised.value.user_message or "")
    assert len(sdk_client(server.base_url, "rk_test_connected").v1.customers.list(params={"limit": 100}).data) == 8
