"""Connecting through OAuth (against the simulator's authorize pages, driven without a browser) and with a
pasted key: what is stored on success, and that every failure stores nothing."""

from __future__ import annotations

import pytest
from connect_support import RESTRICTED_KEY, authorize_at_simulator

from orchestration.connect.flows import ATTEMPT_TTL_SECONDS, ConnectFailed, Connector
from orchestration.connect.store import Method, Status
from orchestration.settings import Secret

REDIRECT_URI = "http://127.0.0.1:9/callback"


class Clock:
    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_connect_oauth_stores_the_account_and_no_token(settings, accounts, email):
    connector = Connector(settings)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    assert "scope=read_only" in started.url and f"client_id={settings.connect.connect_client_id}" in started.url
    answer = authorize_at_simulator(started.url, email("first"))

    connection = connector.finish(answer["state"], answer["code"])

    first = accounts["first"]
    assert (connection.account_id, connection.method, connection.livemode) == (
        first.account_id,
        Method.CONNECT_OAUTH,
        False,
    )
    assert connection.scope == "read_only" and connection.status is Status.ACTIVE
    assert connection.business_name == first.account["business_profile"]["name"]
    stored = connector.store.get(first.account_id)
    assert stored.tokens.api_key is None and stored.tokens.refresh_token is None  # the platform key reads it


def test_stripe_app_stores_rotating_tokens_encrypted(settings, accounts, email):
    connector = Connector(settings)
    started = connector.start(Method.STRIPE_APP, REDIRECT_URI)
    assert started.url.startswith(f"{settings.connect.marketplace_base}/oauth/v2/authorize?")
    answer = authorize_at_simulator(started.url, email("second"))

    connection = connector.finish(answer["state"], answer["code"])

    stored = connector.store.get(accounts["second"].account_id)
    assert stored.method is Method.STRIPE_APP and stored.expires_at is not None
    assert stored.tokens.api_key.value.startswith("rk_test_") and stored.tokens.refresh_token.value.startswith("rt_")
    raw = settings.connect.db_path.read_bytes()
    assert stored.tokens.api_key.value.encode() not in raw and stored.tokens.refresh_token.value.encode() not in raw
    assert connection.business_name == accounts["second"].account["business_profile"]["name"]


def test_a_denial_stores_nothing(settings, email):
    connector = Connector(settings)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(started.url, email("first"), allow=False)
    assert answer["error"] == "access_denied"

    with pytest.raises(ConnectFailed, match="Access was denied"):
        connector.finish(answer["state"], None, answer["error"], answer.get("error_description"))
    assert connector.store.connections() == []


def test_a_reused_code_stores_nothing(settings, email, accounts):
    connector = Connector(settings)
    first = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(first.url, email("first"))
    connector.finish(answer["state"], answer["code"])
    connector.store.delete(accounts["first"].account_id)
    # The same code brought back with a new, valid state: Stripe refuses a code's second use.
    second = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)

    with pytest.raises(ConnectFailed, match="already been used") as raised:
        connector.finish(second.state, answer["code"])
    assert answer["code"] not in str(raised.value)
    assert connector.store.connections() == []


def test_a_forged_or_replayed_state_stores_nothing(settings, email):
    connector = Connector(settings)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(started.url, email("first"))

    with pytest.raises(ConnectFailed, match="does not belong"):
        connector.finish("forged-state", answer["code"])
    connector.finish(answer["state"], answer["code"])
    connector.store.delete(connector.store.connections()[0].account_id)
    with pytest.raises(ConnectFailed, match="does not belong"):  # a state is good for one answer
        connector.finish(answer["state"], answer["code"])
    assert connector.store.connections() == []


def test_an_expired_attempt_stores_nothing(settings, email):
    clock = Clock()
    connector = Connector(settings, clock=clock)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(started.url, email("first"))
    clock.now += ATTEMPT_TTL_SECONDS + 1

    with pytest.raises(ConnectFailed, match="expired"):
        connector.finish(answer["state"], answer["code"])
    assert connector.store.connections() == []


def test_a_restricted_key_is_checked_with_a_test_call_before_it_is_saved(settings, accounts, sim):
    connector = Connector(settings)
    with pytest.raises(ConnectFailed, match=r"Invalid API Key provided: rk_test_\*+0099"):
        connector.add_key(Secret("rk_test_not_a_real_key_0099"))
    with pytest.raises(ConnectFailed, match="publishable keys cannot read data"):
        connector.add_key(Secret("pk_test_abcdefghijkl"))
    assert connector.store.connections() == []
    requests_before = sim.stats(accounts["third"].account_id).requests

    connection = connector.add_key(Secret(RESTRICTED_KEY))

    assert sim.stats(accounts["third"].account_id).requests == requests_before + 1  # the test call
    assert (connection.account_id, connection.method) == (accounts["third"].account_id, Method.RESTRICTED_KEY)
    assert connector.store.get(connection.account_id).tokens.api_key.value == RESTRICTED_KEY


def test_disconnecting_a_connect_account_deauthorizes_it_at_stripe(settings, accounts, email, sim):
    import stripe

    connector = Connector(settings)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(started.url, email("first"))
    connector.finish(answer["state"], answer["code"])
    first = accounts["first"].account_id

    message = connector.disconnect(first)

    assert "revoked" in message and "data stays in the warehouse" in message
    assert connector.store.connections() == []
    platform = stripe.StripeClient(settings.connect.platform_key.value, base_addresses={"api": sim.base_url})
    with pytest.raises(stripe.PermissionError):
        platform.v1.customers.list(options={"stripe_account": first})
