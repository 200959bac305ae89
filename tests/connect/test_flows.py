"""Connecting through OAuth (against the simulator's authorize pages, driven without a browser) and with a
pasted key: what is stored on success, and that every failure stores nothing."""

from __future__ import annotations

import logging

import pytest
from starlette.middleware import Middleware
from starlette.responses import JSONResponse

from orchestration.connect.flows import ATTEMPT_TTL_SECONDS, ConnectError, Connector
from orchestration.connect.store import ConnectionStore, Method, Status
from orchestration.settings import Secret
from orchestration.simulator import SimulatorServer
from orchestration.simulator.oauth.options import OAuthOptions
from orchestration.simulator.serve.options import SimulatorOptions
from orchestration.stripe_objects import STRIPE_OBJECTS
from tests.connect.connect_support import PLATFORM_KEY, RESTRICTED_KEY, authorize_at_simulator

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

    with pytest.raises(ConnectError, match="Access was denied"):
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

    with pytest.raises(ConnectError, match="already been used") as raised:
        connector.finish(second.state, answer["code"])
    assert answer["code"] not in str(raised.value)
    assert connector.store.connections() == []


def test_a_forged_or_replayed_state_stores_nothing(settings, email):
    connector = Connector(settings)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(started.url, email("first"))

    with pytest.raises(ConnectError, match="does not belong"):
        connector.finish("forged-state", answer["code"])
    connector.finish(answer["state"], answer["code"])
    connector.store.delete(connector.store.connections()[0].account_id)
    with pytest.raises(ConnectError, match="does not belong"):  # a state is good for one answer
        connector.finish(answer["state"], answer["code"])
    assert connector.store.connections() == []


def test_an_expired_attempt_stores_nothing(settings, email):
    clock = Clock()
    connector = Connector(settings, clock=clock)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(started.url, email("first"))
    clock.now += ATTEMPT_TTL_SECONDS + 1

    with pytest.raises(ConnectError, match="expired"):
        connector.finish(answer["state"], answer["code"])
    assert connector.store.connections() == []


def test_a_restricted_key_is_checked_with_a_test_call_before_it_is_saved(settings, accounts, sim):
    connector = Connector(settings)
    with pytest.raises(ConnectError, match=r"Invalid API Key provided: rk_test_\*+0099"):
        connector.add_key(Secret("rk_test_not_a_real_key_0099"))
    with pytest.raises(ConnectError, match="publishable keys cannot read data"):
        connector.add_key(Secret("pk_test_abcdefghijkl"))
    assert connector.store.connections() == []
    requests_before = sim.stats(accounts["third"].account_id).requests

    connection = connector.add_key(Secret(RESTRICTED_KEY))

    # The account, then one page of every list a sync reads.
    assert sim.stats(accounts["third"].account_id).requests == requests_before + 1 + len(STRIPE_OBJECTS)
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


def _connected(connector: Connector, method: Method, email: str, expected: str | None = None):
    started = connector.start(method, REDIRECT_URI, expected)
    answer = authorize_at_simulator(started.url, email)
    return connector.finish(answer["state"], answer["code"])


@pytest.mark.parametrize("method", [Method.CONNECT_OAUTH, Method.STRIPE_APP])
def test_re_authenticating_as_another_account_is_refused_and_stores_nothing(settings, accounts, email, method):
    connector = Connector(settings)
    first, second = accounts["first"].account_id, accounts["second"].account_id
    before = _connected(connector, method, email("first"))

    with pytest.raises(ConnectError) as refused:
        _connected(connector, method, email("second"), expected=first)

    assert str(refused.value).startswith(
        f"You signed in to {second} at Stripe, but were re-authenticating {first}. Nothing was saved"
    )
    assert connector.store.get(first) == before  # its tokens untouched
    assert [c.account_id for c in connector.store.connections()] == [first]
    again = _connected(connector, method, email("first"), expected=first)  # the right account is welcome
    assert again.account_id == first and again.credential_version == before.credential_version + 1


def test_a_pasted_key_of_another_account_does_not_replace_the_key_being_re_authenticated(settings, accounts, email):
    connector = Connector(settings)
    first, third = accounts["first"].account_id, accounts["third"].account_id
    _connected(connector, Method.CONNECT_OAUTH, email("first"))

    mismatch = f"The key you pasted is of {third}, but you were re-authenticating {first}"
    with pytest.raises(ConnectError, match=mismatch):
        connector.add_key(Secret(RESTRICTED_KEY), expected_account_id=first)
    assert [c.account_id for c in connector.store.connections()] == [first]


class DenyListsToKey:
    """Answers Stripe's 403 for a restricted key lacking a permission, on the given list endpoints."""

    def __init__(self, app, key: str, denied: dict[str, str]) -> None:
        self.app, self.key, self.denied = app, key, denied

    async def __call__(self, scope, receive, send) -> None:
        headers = dict(scope.get("headers") or [])
        permission = self.denied.get(scope.get("path", ""))
        if scope["type"] == "http" and permission and headers.get(b"authorization") == f"Bearer {self.key}".encode():
            message = (
                "The provided key 'rk_test_***0003' does not have the required permissions for this endpoint on "
                f"account 'acct_x'. Having the '{permission}' permission would allow this request to continue."
            )
            await JSONResponse({"error": {"type": "invalid_request_error", "message": message}}, 403)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def test_a_key_that_cannot_read_every_list_is_refused_naming_the_permissions(make_settings, accounts):
    denied = {"/v1/invoices": "rak_invoice_read", "/v1/subscriptions": "rak_subscription_read"}
    middleware = [Middleware(DenyListsToKey, key=RESTRICTED_KEY, denied=denied)]
    keys = {PLATFORM_KEY: accounts["platform"].account_id, RESTRICTED_KEY: accounts["third"].account_id}
    with SimulatorServer(
        list(accounts.values()), api_keys=keys, options=SimulatorOptions(middleware=middleware), oauth=OAuthOptions()
    ) as limited:
        connector = Connector(make_settings(STRIPE_API_BASE=limited.base_url))
        with pytest.raises(ConnectError) as refused:
            connector.add_key(Secret(RESTRICTED_KEY))

    message = str(refused.value)
    assert "/v1/invoices (rak_invoice_read)" in message and "/v1/subscriptions (rak_subscription_read)" in message
    assert "/v1/customers" not in message and RESTRICTED_KEY not in message
    assert connector.store.connections() == []


def test_a_full_secret_key_is_saved_with_a_warning(settings, accounts, caplog):
    with caplog.at_level(logging.WARNING):
        connection = Connector(settings).add_key(Secret(PLATFORM_KEY))

    assert connection.account_id == accounts["platform"].account_id
    assert "full secret key" in caplog.text and "restricted key" in caplog.text and PLATFORM_KEY not in caplog.text


def test_disconnecting_after_the_connect_settings_were_removed_still_deletes(settings, make_settings, email):
    connection = _connected(Connector(settings), Method.CONNECT_OAUTH, email("first"))
    unconfigured = Connector(make_settings(STRIPE_CONNECT_CLIENT_ID=""))

    message = unconfigured.disconnect(connection.account_id)

    assert "Stripe was not asked to revoke" in message and "STRIPE_CONNECT_CLIENT_ID" in message
    assert "Stripe Dashboard" in message and ConnectionStore(settings.connect).connections() == []


def test_disconnecting_an_account_stripe_no_longer_connects_says_so(settings, email, sim):
    connection = _connected(Connector(settings), Method.CONNECT_OAUTH, email("first"))
    sim.deauthorize(connection.account_id)  # its owner disconnected the platform first

    message = Connector(settings).disconnect(connection.account_id)

    assert "Stripe reports the platform is no longer connected" in message
    assert ConnectionStore(settings.connect).connections() == []


def test_disconnecting_a_stripe_app_and_a_restricted_key(settings, accounts, email):
    connector = Connector(settings)
    app = _connected(connector, Method.STRIPE_APP, email("second"))
    key = connector.add_key(Secret(RESTRICTED_KEY))

    app_message = connector.disconnect(app.account_id)
    key_message = connector.disconnect(key.account_id)

    assert app_message.startswith(f"Disconnected {app.account_id}; its data stays in the warehouse.")
    assert "uninstall it in the account's Stripe Dashboard" in app_message
    assert "delete it in the account's Stripe Dashboard" in key_message
    assert connector.store.connections() == []
    with pytest.raises(ConnectError, match="is not connected"):
        connector.disconnect(key.account_id)
