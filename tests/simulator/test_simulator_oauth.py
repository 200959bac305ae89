"""The Stripe side of Connect OAuth and Stripe Apps OAuth: the pages a user goes through, the codes and
tokens a platform gets, and how revocation and expiry end its access."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stripe

from orchestration.simulator import OAuthOptions, SimulatedAccount, SimulatorServer, generate_account
from tests.simulator.sim_support import NOW, sdk_client

PLATFORM_KEY = "sk_test_platform_0000abcd"
CONNECTED_KEY = "sk_test_connected_000wxyz"
CALLBACK = "http://127.0.0.1:8765/stripe/callback"
STATE = "csrf token/with spaces&symbols=é"
"""Sent back verbatim: it must survive URL-encoding both ways."""
TOKEN_FIELDS = {
    "access_token",
    "livemode",
    "refresh_token",
    "scope",
    "stripe_publishable_key",
    "stripe_user_id",
    "token_type",
}
"""The fields of a token answer, from Connect's and from Stripe Apps' token endpoint alike."""


@dataclass
class Sim:
    server: SimulatorServer
    platform: SimulatedAccount
    first: SimulatedAccount
    second: SimulatedAccount

    @property
    def base(self) -> str:
        return self.server.base_url


def _serve(oauth: OAuthOptions | None = None) -> Iterator[Sim]:
    platform = generate_account(seed=61, customers=3, now=NOW, patterns=False)
    first = generate_account(seed=62, customers=4, now=NOW, patterns=False)
    second = generate_account(seed=63, customers=5, now=NOW, patterns=False)
    keys = {PLATFORM_KEY: platform.account_id, CONNECTED_KEY: first.account_id}
    with SimulatorServer([platform, first, second], api_keys=keys, oauth=oauth) as server:
        yield Sim(server, platform, first, second)


@pytest.fixture
def sim() -> Iterator[Sim]:
    yield from _serve()


# Driving the pages as a browser would: read each form, post it, stop at the redirect.


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's form."""
    action = re.search(r'<form method="post" action="([^"]+)"', html)
    assert action, html
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return action.group(1), hidden


def _sign_in(sim: Sim, path: str, params: dict[str, str], email: str) -> tuple[requests.Session, str]:
    """Opens the authorize link and signs in; returns the session and the authorization page."""
    session = requests.Session()
    page = session.get(sim.base + path, params=params, timeout=10)
    assert page.status_code == 200, page.text
    assert 'name="email"' in page.text and 'name="password"' in page.text and ">Sign in</button>" in page.text
    action, hidden = _form(page.text)
    consent = session.post(sim.base + action, data={**hidden, "email": email, "password": "hunter2"}, timeout=10)
    assert consent.status_code == 200, consent.text
    assert ">Authorize access</button>" in consent.text and ">Deny</button>" in consent.text
    return session, consent.text


def _decide(sim: Sim, session: requests.Session, consent: str, decision: str, **fields: str) -> dict[str, list[str]]:
    """Presses a button of the authorization page; returns the query of the redirect, which is not fetched."""
    action, hidden = _form(consent)
    with session:
        answer = session.post(
            sim.base + action, data={**hidden, **fields, "decision": decision}, allow_redirects=False, timeout=10
        )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return parse_qs(location.query)


def _connect_params(sim: Sim, **changes: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": sim.server.oauth.connect_client_id,
        "scope": "read_only",
        "state": STATE,
        "redirect_uri": CALLBACK,
    }
    return {**params, **changes}


def _app_params(sim: Sim) -> dict[str, str]:
    return {"client_id": sim.server.oauth.app_client_id, "redirect_uri": CALLBACK, "state": STATE}


def _connect_code(sim: Sim, account: SimulatedAccount) -> str:
    session, consent = _sign_in(sim, "/oauth/authorize", _connect_params(sim), account.account["email"])
    return _decide(sim, session, consent, "allow")["code"][0]


def _app_code(sim: Sim, account: SimulatedAccount) -> str:
    session, consent = _sign_in(sim, "/oauth/v2/authorize", _app_params(sim), account.account["email"])
    return _decide(sim, session, consent, "allow")["code"][0]


def _platform_sdk(sim: Sim) -> stripe.StripeClient:
    """The platform's SDK client, with the simulator as connect.stripe.com too."""
    return stripe.StripeClient(
        PLATFORM_KEY,
        client_id=sim.server.oauth.connect_client_id,
        base_addresses={"api": sim.base, "connect": sim.base},
        max_network_retries=0,
    )


def _app_token(sim: Sim, key: str = PLATFORM_KEY, **form: str) -> requests.Response:
    return requests.post(f"{sim.base}/v1/oauth/token", data=form, auth=(key, ""), timeout=10)


def _connect_token(sim: Sim, headers: dict[str, str] | None = None, **form: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {PLATFORM_KEY}"} if headers is None else headers
    return requests.post(f"{sim.base}/oauth/token", data=form, headers=headers, timeout=10)


def _get(sim: Sim, path: str, key: str, account: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}", **({"Stripe-Account": account} if account else {})}
    return requests.get(sim.base + path, headers=headers, timeout=10)


# Classic Connect OAuth.


def test_connect_pages_then_code_exchange_give_the_accounts_tokens(sim: Sim):
    session, consent = _sign_in(sim, "/oauth/authorize", _connect_params(sim), sim.first.account["email"])
    platform_name = sim.platform.account["business_profile"]["name"]
    query = _decide(sim, session, consent, "allow")
    token = _platform_sdk(sim).oauth.token(params={"grant_type": "authorization_code", "code": query["code"][0]})

    assert f"<title>Connect to {platform_name} | Stripe</title>" in consent
    assert sim.first.account_id in consent
    assert query["state"] == [STATE] and query["scope"] == ["read_only"] and query["code"][0].startswith("ac_")
    assert set(token.to_dict()) == TOKEN_FIELDS
    assert token.stripe_user_id == sim.first.account_id
    assert (token.token_type, token.livemode, token.scope) == ("bearer", False, "read_only")
    assert token.access_token.startswith("sk_test_") and token.stripe_publishable_key.startswith("pk_test_")
    reader = sdk_client(sim.base, token.access_token)
    assert reader.v1.accounts.retrieve_current().id == sim.first.account_id
    assert len(reader.v1.customers.list(params={"limit": 100}).data) == 4


def test_the_state_is_echoed_url_encoded(sim: Sim):
    session, consent = _sign_in(sim, "/oauth/authorize", _connect_params(sim), sim.first.account["email"])
    action, hidden = _form(consent)
    with session:
        answer = session.post(
            sim.base + action, data={**hidden, "decision": "allow"}, allow_redirects=False, timeout=10
        )

    assert answer.headers["location"].endswith("&state=csrf+token%2Fwith+spaces%26symbols%3D%C3%A9")


def test_a_code_works_once_and_its_reuse_revokes_the_tokens_it_gave(sim: Sim):
    code = _connect_code(sim, sim.first)
    platform = _platform_sdk(sim)
    token = platform.oauth.token(params={"grant_type": "authorization_code", "code": code})

    with pytest.raises(stripe.oauth_error.InvalidGrantError) as raised:
        platform.oauth.token(params={"grant_type": "authorization_code", "code": code})
    assert raised.value.http_status == 400
    assert raised.value.json_body == {
        "error": "invalid_grant",
        "error_description": "This authorization code has already been used. All tokens issued with this code "
        "have been revoked.",
    }
    with pytest.raises(stripe.AuthenticationError) as revoked:
        sdk_client(sim.base, token.access_token).v1.customers.list()
    assert revoked.value.error.code == "api_key_expired"
    assert revoked.value.user_message.endswith(". Platform access may have been revoked.")
    assert token.access_token not in (revoked.value.http_body or "")


def test_an_unknown_code_is_invalid_grant_in_stripes_words(sim: Sim):
    response = _connect_token(sim, grant_type="authorization_code", code="ac_DoesNotExist")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Authorization code does not exist: ac_DoesNotExist",
    }


def test_a_code_expires():
    for sim in _serve(OAuthOptions(code_ttl_seconds=0.3)):
        code = _connect_code(sim, sim.first)
        time.sleep(0.4)
        response = _connect_token(sim, grant_type="authorization_code", code=code)

        assert response.status_code == 400
        assert response.json() == {"error": "invalid_grant", "error_description": "Authorization code expired"}


def test_the_token_endpoint_authenticates_the_platform(sim: Sim):
    code = _connect_code(sim, sim.first)
    missing = _connect_token(sim, headers={}, grant_type="authorization_code", code=code)
    unknown = _connect_token(
        sim, headers={"Authorization": "Bearer sk_test_NotAKey000000009876"}, grant_type="authorization_code", code=code
    )
    not_the_platform = _connect_token(
        sim, headers={"Authorization": f"Bearer {CONNECTED_KEY}"}, grant_type="authorization_code", code=code
    )
    as_client_secret = _connect_token(
        sim, headers={}, grant_type="authorization_code", code=code, client_secret=PLATFORM_KEY
    )

    assert missing.status_code == 401 and missing.json()["error"] == "invalid_client"
    assert missing.json()["error_description"].startswith("No authentication credentials were provided.")
    assert unknown.status_code == 401
    assert unknown.json() == {
        "error": "invalid_client",
        "error_description": "No such API key: sk_test_***************9876",
    }
    assert not_the_platform.status_code == 400
    assert not_the_platform.json() == {
        "error": "invalid_grant",
        "error_description": "Authorization code provided does not belong to you",
    }
    assert as_client_secret.status_code == 200 and as_client_secret.json()["stripe_user_id"] == sim.first.account_id


def test_bad_grant_types_are_refused(sim: Sim):
    missing = _connect_token(sim, code="ac_x")
    unsupported = _connect_token(sim, grant_type="password")

    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    assert unsupported.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Unsupported grant type: password",
    }


def test_a_connect_refresh_token_gives_a_new_access_token(sim: Sim):
    first = _connect_token(sim, grant_type="authorization_code", code=_connect_code(sim, sim.first)).json()
    refreshed = _connect_token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()

    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["stripe_user_id"] == sim.first.account_id
    assert _get(sim, "/v1/account", refreshed["access_token"]).json()["id"] == sim.first.account_id


def test_deny_sends_the_user_back_with_access_denied(sim: Sim):
    session, consent = _sign_in(sim, "/oauth/authorize", _connect_params(sim, state="xyz"), sim.first.account["email"])
    action, hidden = _form(consent)
    with session:
        answer = session.post(sim.base + action, data={**hidden, "decision": "deny"}, allow_redirects=False, timeout=10)

    assert answer.status_code == 302
    assert answer.headers["location"] == (
        f"{CALLBACK}?error=access_denied&error_description=The+user+denied+your+request&state=xyz"
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"client_id": "ca_SomebodyElse"}, "invalid_client"),
        ({"client_id": ""}, "invalid_request"),
        ({"redirect_uri": ""}, "invalid_request"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_redirect_uri"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_a_bad_authorize_link_shows_an_error_page_and_sends_nobody_back(sim: Sim, changes, error):
    response = requests.get(
        f"{sim.base}/oauth/authorize", params=_connect_params(sim, **changes), allow_redirects=False, timeout=10
    )

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert f'<code id="error">{error}</code>' in response.text
    assert "location" not in response.headers


def test_sign_in_needs_a_known_email_and_a_password(sim: Sim):
    with requests.Session() as session:
        page = session.get(f"{sim.base}/oauth/authorize", params=_connect_params(sim), timeout=10)
        action, hidden = _form(page.text)
        email = sim.first.account["email"]
        unknown = session.post(sim.base + action, data={**hidden, "email": "who@nowhere.example", "password": "x"})
        no_password = session.post(sim.base + action, data={**hidden, "email": email, "password": ""})
        the_platform = session.post(
            sim.base + action, data={**hidden, "email": sim.platform.account["email"], "password": "x"}
        )

    assert unknown.status_code == 400 and "There is no Stripe account with that email address." in unknown.text
    assert no_password.status_code == 400 and "Enter your password." in no_password.text
    assert the_platform.status_code == 400  # the platform cannot connect to itself
    assert ">Authorize access</button>" not in unknown.text + no_password.text + the_platform.text


def test_a_user_with_several_accounts_picks_the_one_to_connect():
    platform = generate_account(seed=61, customers=3, now=NOW, patterns=False)
    first = generate_account(seed=62, customers=4, now=NOW, patterns=False)
    second = generate_account(seed=63, customers=5, now=NOW, patterns=False)
    second.account = {**second.account, "email": first.account["email"]}
    with SimulatorServer([platform, first, second], api_keys={PLATFORM_KEY: platform.account_id}) as server:
        sim = Sim(server, platform, first, second)
        session, consent = _sign_in(sim, "/oauth/authorize", _connect_params(sim), first.account["email"])
        query = _decide(sim, session, consent, "allow", account=second.account_id)
        token = _connect_token(sim, grant_type="authorization_code", code=query["code"][0]).json()

    assert '<select id="account" name="account">' in consent
    assert first.account_id in consent and second.account_id in consent
    assert token["stripe_user_id"] == second.account_id


def test_deauthorize_ends_the_platforms_access_to_that_account_only(sim: Sim):
    platform = _platform_sdk(sim)
    token = platform.oauth.token(params={"grant_type": "authorization_code", "code": _connect_code(sim, sim.first)})
    answer = platform.oauth.deauthorize(params={"stripe_user_id": sim.first.account_id})
    acting = _get(sim, "/v1/customers", PLATFORM_KEY, sim.first.account_id)

    assert answer.to_dict() == {"stripe_user_id": sim.first.account_id}
    assert acting.status_code == 403
    assert acting.json()["error"]["code"] == "account_invalid"
    assert acting.json()["error"]["message"] == (
        "The provided key 'sk_test_*************abcd' does not have access to account "
        f"'{sim.first.account_id}' (or that account does not exist). Application access may have been revoked."
    )
    assert _get(sim, "/v1/customers", token.access_token).status_code == 401
    assert len(_get(sim, "/v1/customers", PLATFORM_KEY, sim.second.account_id).json()["data"]) == 5
    assert [a["id"] for a in _get(sim, "/v1/accounts", PLATFORM_KEY).json()["data"]] == [sim.second.account_id]
    assert len(_get(sim, "/v1/customers", CONNECTED_KEY).json()["data"]) == 4  # its own key still works
    with pytest.raises(stripe.oauth_error.InvalidClientError) as again:
        platform.oauth.deauthorize(params={"stripe_user_id": sim.first.account_id})
    assert again.value.http_status == 401
    assert again.value.json_body == {
        "error": "invalid_client",
        "error_description": f"This application is not connected to stripe account {sim.first.account_id}, "
        "or that account does not exist.",
    }


def test_connecting_again_after_a_deauthorization_gives_access_back(sim: Sim):
    sim.server.deauthorize(sim.first.account_id)
    assert _get(sim, "/v1/customers", PLATFORM_KEY, sim.first.account_id).status_code == 403

    _connect_code(sim, sim.first)

    assert len(_get(sim, "/v1/customers", PLATFORM_KEY, sim.first.account_id).json()["data"]) == 4


def test_without_connected_at_start_only_authorized_accounts_are_reachable():
    for sim in _serve(OAuthOptions(connected_at_start=False)):
        before = _get(sim, "/v1/customers", PLATFORM_KEY, sim.first.account_id)
        listed_before = _get(sim, "/v1/accounts", PLATFORM_KEY).json()["data"]
        _connect_code(sim, sim.first)

        assert before.status_code == 403 and listed_before == []
        assert len(_get(sim, "/v1/customers", PLATFORM_KEY, sim.first.account_id).json()["data"]) == 4
        assert _get(sim, "/v1/customers", PLATFORM_KEY, sim.second.account_id).status_code == 403


# Stripe Apps OAuth 2.0.


def test_app_install_then_code_exchange_give_a_token_for_that_account_only(sim: Sim):
    session, consent = _sign_in(sim, "/oauth/v2/authorize", _app_params(sim), sim.second.account["email"])
    query = _decide(sim, session, consent, "allow")
    response = _app_token(sim, grant_type="authorization_code", code=query["code"][0])
    body = response.json()

    assert "<title>Install Stripe Warehouse | Stripe</title>" in consent
    assert query["state"] == [STATE] and "scope" not in query
    assert response.status_code == 200
    # Stripe's answer has no expires_in: the one-hour lifetime is documented, not returned.
    assert set(body) == TOKEN_FIELDS
    assert (body["stripe_user_id"], body["scope"], body["token_type"]) == (
        sim.second.account_id,
        "stripe_apps",
        "bearer",
    )
    assert body["access_token"].startswith("rk_test_") and body["refresh_token"].startswith("rt_")
    reader = sdk_client(sim.base, body["access_token"])
    assert len(reader.v1.customers.list(params={"limit": 100}).data) == 5
    assert _get(sim, "/v1/customers", body["access_token"], sim.first.account_id).status_code == 403


def test_an_app_code_is_single_use_and_belongs_to_its_flow(sim: Sim):
    code = _app_code(sim, sim.first)
    at_connect = _connect_token(sim, grant_type="authorization_code", code=code)
    first = _app_token(sim, grant_type="authorization_code", code=code)
    again = _app_token(sim, grant_type="authorization_code", code=code)

    assert at_connect.json()["error_description"] == "Authorization code provided does not belong to you"
    assert first.status_code == 200
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_the_app_token_endpoint_authenticates_like_the_api(sim: Sim):
    code = _app_code(sim, sim.first)
    missing = requests.post(f"{sim.base}/v1/oauth/token", data={"grant_type": "authorization_code", "code": code})
    not_the_developer = _app_token(sim, CONNECTED_KEY, grant_type="authorization_code", code=code)

    assert missing.status_code == 401 and missing.json()["error"]["message"].startswith(
        "You did not provide an API key."
    )
    assert not_the_developer.json() == {
        "error": "invalid_grant",
        "error_description": "Authorization code provided does not belong to you",
    }
    assert _app_token(sim, grant_type="authorization_code", code=code).status_code == 200


def test_refreshing_rotates_the_refresh_token(sim: Sim):
    first = _app_token(sim, grant_type="authorization_code", code=_app_code(sim, sim.first)).json()
    second = _app_token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    stale = _app_token(sim, grant_type="refresh_token", refresh_token=first["refresh_token"])
    third = _app_token(sim, grant_type="refresh_token", refresh_token=second["refresh_token"])

    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["stripe_user_id"] == sim.first.account_id
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert first["refresh_token"] not in stale.text
    assert third.status_code == 200
    assert _get(sim, "/v1/account", second["access_token"]).json()["id"] == sim.first.account_id


def test_an_app_access_token_expires_and_a_refresh_brings_access_back():
    for sim in _serve(OAuthOptions(access_token_ttl_seconds=1.0)):
        tokens = _app_token(sim, grant_type="authorization_code", code=_app_code(sim, sim.first)).json()
        fresh = _get(sim, "/v1/customers", tokens["access_token"])
        time.sleep(1.1)
        expired = _get(sim, "/v1/customers", tokens["access_token"])
        renewed = _app_token(sim, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()

        assert fresh.status_code == 200
        assert expired.status_code == 401
        error = expired.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "api_key_expired")
        assert re.fullmatch(r"Expired API Key provided: rk_test_\*+[A-Za-z0-9]{4}", error["message"])
        assert tokens["access_token"] not in expired.text
        assert _get(sim, "/v1/customers", renewed["access_token"]).status_code == 200


def test_expire_access_tokens_expires_the_issued_ones_now(sim: Sim):
    tokens = _app_token(sim, grant_type="authorization_code", code=_app_code(sim, sim.first)).json()
    sim.server.expire_access_tokens()

    with pytest.raises(stripe.AuthenticationError) as raised:
        sdk_client(sim.base, tokens["access_token"]).v1.customers.list()
    assert raised.value.error.code == "api_key_expired"


def test_uninstalling_the_app_revokes_its_tokens_but_not_the_connection(sim: Sim):
    tokens = _app_token(sim, grant_type="authorization_code", code=_app_code(sim, sim.first)).json()
    sim.server.deauthorize(sim.first.account_id, connect=False)
    refused = _get(sim, "/v1/customers", tokens["access_token"])
    refresh = _app_token(sim, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    assert refused.status_code == 401
    assert refused.json()["error"]["message"].endswith("Platform access may have been revoked.")
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert _get(sim, "/v1/customers", PLATFORM_KEY, sim.first.account_id).status_code == 200


def test_revoking_an_account_still_works_with_oauth(sim: Sim):
    tokens = _app_token(sim, grant_type="authorization_code", code=_app_code(sim, sim.first)).json()
    sim.server.revoke(sim.first.account_id)
    revoked = _get(sim, "/v1/customers", tokens["access_token"])
    sim.server.restore(sim.first.account_id)

    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "api_key_invalid"
    assert _get(sim, "/v1/customers", tokens["access_token"]).status_code == 200
    assert _get(sim, "/v1/customers", PLATFORM_KEY, sim.first.account_id).status_code == 200


def test_no_code_or_token_reaches_the_simulators_logs(sim: Sim, caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.DEBUG, logger="orchestration.simulator"):
        code = _connect_code(sim, sim.first)
        tokens = _connect_token(sim, grant_type="authorization_code", code=code).json()
        sim.server.deauthorize(sim.first.account_id)
    logged = "\n".join(record.getMessage() for record in caplog.records)

    assert sim.first.account_id in logged  # the flow is logged...
    for secret in (code, tokens["access_token"], tokens["refresh_token"], PLATFORM_KEY):
        assert secret not in logged  # ...without its secrets
