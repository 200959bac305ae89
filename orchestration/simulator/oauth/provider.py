"""The Stripe side of OAuth: authorize requests, sign-in, authorization codes, tokens and revocation.

Two flows share it, both authorized by the platform (the first served account) or by its app:
- classic Connect OAuth (`Flow.CONNECT`): the user opens `/oauth/authorize`, signs in and allows access;
  from then on the platform's key plus `Stripe-Account` reaches the account. The code the user brings back
  is exchanged at `POST /oauth/token` (platform key) for a non-expiring `sk_test_…` access token and a
  refresh token; `POST /oauth/deauthorize` ends the connection and every token of it.
- Stripe Apps OAuth 2.0 (`Flow.APP`): the install link `/oauth/v2/authorize`, then `POST /v1/oauth/token`
  (the app's secret key, which is any secret key of the platform) gives a `rk_test_…` access token that
  lives `access_token_ttl_seconds` and a refresh token that is replaced on every refresh. Installing the
  app does not connect the account: only the app's tokens reach it.

Every allowed authorization is a `Grant`; its code and tokens die with it. A grant is revoked when the
account is deauthorized (through the endpoint, or `deauthorize` as if the user disconnected from their
dashboard), and when its code is redeemed a second time: Stripe then revokes every token issued with it.

This module holds the state and rules; `routes` speaks HTTP and `pages` renders the HTML. The
server's event loop and a test thread both call in, so the state is guarded by one lock.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from orchestration.simulator.errors import (
    expired_api_key,
    mask_key,
    oauth_invalid_client,
    oauth_invalid_grant,
    oauth_invalid_request,
    oauth_not_connected,
)
from orchestration.simulator.ids import BASE62, base62
from orchestration.simulator.oauth.options import OAuthOptions

if TYPE_CHECKING:
    from orchestration.simulator.model.account import SimulatedAccount
    from orchestration.simulator.model.registry import AccountRegistry

__all__ = [
    "AuthorizationRequest",
    "AuthorizeRefusedError",
    "Flow",
    "Grant",
    "OAuthProvider",
    "SignInRefusedError",
    "login_email",
    "publishable_key",
]

log = logging.getLogger(__name__)

CONNECT_SCOPES = ("read_only", "read_write")
APP_SCOPE = "stripe_apps"
"""The scope Stripe reports for every app token: what the app may do is set by its manifest instead."""
REQUEST_TTL_SECONDS = 3600.0
"""How long a user may take between opening the authorize link and allowing or denying it."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DENIED_DESCRIPTION = "The user denied your request"


class Flow(Enum):
    CONNECT = "connect"
    """Classic Connect OAuth (connect.stripe.com)."""
    APP = "app"
    """Stripe Apps OAuth 2.0 (marketplace.stripe.com install link, api.stripe.com tokens)."""


@dataclass(eq=False)
class Grant:
    """One authorization a user allowed: the flow, the account, and whether it still holds."""

    flow: Flow
    account_id: str
    scope: str
    revoked: bool = False


@dataclass(eq=False)
class _Code:
    grant: Grant
    expires_at: float
    redeemed: bool = False


@dataclass(eq=False)
class _AccessToken:
    grant: Grant
    expires_at: float | None
    """None: a Connect token, which lives until its grant is revoked."""


@dataclass(eq=False)
class AuthorizationRequest:
    """An authorize link being answered, from its page to the user's decision (ids are unguessable)."""

    id: str
    flow: Flow
    redirect_uri: str
    state: str | None
    scope: str
    expires_at: float
    accounts: tuple[str, ...] = ()
    """The signed-in user's accounts, among which they pick the one to authorize; empty before sign-in."""


class AuthorizeRefusedError(Exception):
    """The authorize link (or a later step of it) is invalid: Stripe shows an error page, sends nobody back."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class SignInRefusedError(Exception):
    """The sign-in form was not accepted; the page is shown again with `message`."""

    def __init__(self, request: AuthorizationRequest, message: str) -> None:
        super().__init__(message)
        self.request = request
        self.message = message


def login_email(account: SimulatedAccount) -> str:
    """The email a user signs in with to authorize `account`: the account's own `email`, or, for an account
    without one (a plain API dump), one derived from its id."""
    email = account.account.get("email") or f"{account.account_id.lower()}@simulator.example"
    return email.strip().lower()


def business_name(account: SimulatedAccount) -> str:
    profile = account.account.get("business_profile") or {}
    dashboard = (account.account.get("settings") or {}).get("dashboard") or {}
    return profile.get("name") or dashboard.get("display_name") or account.account_id


class OAuthProvider:
    """OAuth state of one simulator: pending authorize requests, codes, tokens and grants.

    Sign-in accepts the `login_email` of any account but the platform, with any non-empty password; a user
    whose email several accounts share picks one of them on the authorization page.
    """

    def __init__(self, registry: AccountRegistry, options: OAuthOptions) -> None:
        self.registry = registry
        self.options = options
        self._lock = threading.Lock()
        self._requests: dict[str, AuthorizationRequest] = {}
        self._codes: dict[str, _Code] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._refresh_tokens: dict[str, Grant] = {}
        self._grants: list[Grant] = []
        self.send_expires_in = False
        """Whether an app token response says `expires_in` (Stripe's does not document it; clients then assume
        an hour): set it to let a client with a short `access_token_ttl_seconds` know the real lifetime."""
        self.login_emails: dict[str, tuple[str, ...]] = {}
        """Sign-in email → the accounts it opens (every served account but the platform)."""
        for account in registry.accounts.values():
            if account is not registry.platform:
                email = login_email(account)
                self.login_emails[email] = (*self.login_emails.get(email, ()), account.account_id)
        if not options.connected_at_start:
            for account_id in registry.accounts:
                if account_id != registry.platform.account_id:
                    registry.disconnect(account_id)

    # Who is asking.

    @property
    def connect_client_id(self) -> str:
        return self.options.connect_client_id

    @property
    def app_client_id(self) -> str:
        return self.options.app_client_id

    @property
    def platform_name(self) -> str:
        return self.options.platform_name or business_name(self.registry.platform)

    def client_name(self, flow: Flow) -> str:
        return self.platform_name if flow is Flow.CONNECT else self.options.app_name

    def account_names(self, account_ids: tuple[str, ...]) -> list[tuple[str, str]]:
        """(id, business name) of each account, for the user to pick from."""
        return [(account_id, business_name(self.registry.accounts[account_id])) for account_id in account_ids]

    def configure(self, **changes: Any) -> OAuthOptions:
        """Changes names, lifetimes or redirect URIs while serving (`connected_at_start` is read at start only);
        new lifetimes apply to codes and tokens issued afterwards."""
        if "connected_at_start" in changes:
            raise ValueError("connected_at_start is read when the server is created; it cannot change while serving")
        with self._lock:
            self.options = replace(self.options, **changes)
            return self.options

    # The authorize pages.

    def start(self, flow: Flow, params: Mapping[str, str]) -> AuthorizationRequest:
        """Checks an authorize link's parameters and opens a request for the user to answer."""
        client_id = params.get("client_id", "")
        if not client_id:
            raise AuthorizeRefusedError("invalid_request", "Missing required param: client_id.")
        expected = self.connect_client_id if flow is Flow.CONNECT else self.app_client_id
        if client_id != expected:
            raise AuthorizeRefusedError(
                "invalid_client", f"No application matches the supplied client identifier: {client_id}"
            )
        redirect_uri = self._redirect_uri(params.get("redirect_uri"))
        scope = APP_SCOPE
        if flow is Flow.CONNECT:
            response_type = params.get("response_type")
            if not response_type:
                raise AuthorizeRefusedError("invalid_request", "Missing required param: response_type.")
            if response_type != "code":
                raise AuthorizeRefusedError("unsupported_response_type", f"Unsupported response type: {response_type}")
            scope = params.get("scope") or "read_only"
            if scope not in CONNECT_SCOPES:
                raise AuthorizeRefusedError(
                    "invalid_scope", f"Invalid scope: {scope}. Valid scopes are read_only and read_write."
                )
        now = time.monotonic()
        request = AuthorizationRequest(
            id="oauthreq_" + _random(24),
            flow=flow,
            redirect_uri=redirect_uri,
            state=params.get("state"),
            scope=scope,
            expires_at=now + REQUEST_TTL_SECONDS,
        )
        with self._lock:
            for stale in [key for key, pending in self._requests.items() if pending.expires_at <= now]:
                del self._requests[stale]
            self._requests[request.id] = request
        return request

    def sign_in(self, flow: Flow, request_id: str, email: str, password: str) -> AuthorizationRequest:
        """Signs the user in for a pending request: any non-empty password opens the accounts of `email`."""
        with self._lock:
            request = self._pending(flow, request_id)
            if not email.strip():
                raise SignInRefusedError(request, "Enter your email address.")
            if not password:
                raise SignInRefusedError(request, "Enter your password.")
            accounts = self.login_emails.get(email.strip().lower(), ())
            if not accounts:
                raise SignInRefusedError(request, "There is no Stripe account with that email address.")
            request.accounts = accounts
            return request

    def decide(self, flow: Flow, request_id: str, allow: bool, account_id: str | None = None) -> str:
        """The URL the user is sent back to once they allow (with a code) or deny (with an error) access."""
        with self._lock:
            request = self._pending(flow, request_id)
            if not request.accounts:
                raise AuthorizeRefusedError("invalid_request", "Sign in to your Stripe account first.")
            account_id = account_id or request.accounts[0]
            if allow and account_id not in request.accounts:
                raise AuthorizeRefusedError("invalid_request", f"You cannot authorize account {account_id}.")
            del self._requests[request_id]  # one answer per request
            if not allow:
                return _with_query(
                    request.redirect_uri,
                    {"error": "access_denied", "error_description": DENIED_DESCRIPTION, "state": request.state},
                )
            grant = Grant(flow, account_id, request.scope)
            self._grants.append(grant)
            code = "ac_" + _random(32)
            self._codes[code] = _Code(grant, time.monotonic() + self.options.code_ttl_seconds)
        if flow is Flow.CONNECT:
            # Stripe connects the account when the user allows it; the code only fetches the credentials.
            self.registry.connect(account_id)
        log.info("OAuth (%s): %s authorized %s", flow.value, account_id, self.client_name(flow))
        query = {"scope": grant.scope, "code": code} if flow is Flow.CONNECT else {"code": code}
        return _with_query(request.redirect_uri, {**query, "state": request.state})

    def pending(self, flow: Flow, request_id: str) -> AuthorizationRequest:
        with self._lock:
            return self._pending(flow, request_id)

    def _pending(self, flow: Flow, request_id: str) -> AuthorizationRequest:
        request = self._requests.get(request_id)
        if request is None or request.flow is not flow or request.expires_at <= time.monotonic():
            raise AuthorizeRefusedError(
                "invalid_request", "This authorization link has expired or was already used. Start again."
            )
        return request

    def _redirect_uri(self, given: str | None) -> str:
        allowed = self.options.redirect_uris
        if not given:
            if allowed:
                return allowed[0]
            raise AuthorizeRefusedError("invalid_request", "Missing required param: redirect_uri.")
        if allowed:
            ok = given in allowed
        else:
            parts = urlsplit(given)
            ok = parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_HOSTS
        if not ok:
            raise AuthorizeRefusedError(
                "invalid_redirect_uri",
                f"Invalid redirect URI '{given}'. Ensure this uri exactly matches one of the uris specified in "
                "your application settings.",
            )
        return given

    # The token endpoints.

    def exchange_code(self, flow: Flow, owner_id: str, code: str) -> dict[str, Any]:
        """Tokens for an authorization code, which works once, for the platform only, before it expires."""
        if not code:
            raise oauth_invalid_request("No authorization code provided")
        with self._lock:
            entry = self._codes.get(code)
            # A code whose account was deauthorized before it was redeemed is gone.
            if entry is None or (entry.grant.revoked and not entry.redeemed):
                raise oauth_invalid_grant(f"Authorization code does not exist: {code}")
            if entry.grant.flow is not flow or owner_id != self.registry.platform.account_id:
                raise oauth_invalid_grant("Authorization code provided does not belong to you")
            if entry.redeemed:
                entry.grant.revoked = True
                raise oauth_invalid_grant(
                    "This authorization code has already been used. All tokens issued with this code have been revoked."
                )
            if time.monotonic() >= entry.expires_at:
                raise oauth_invalid_grant("Authorization code expired")
            entry.redeemed = True
            return self._issue(entry.grant)

    def refresh(self, flow: Flow, owner_id: str, refresh_token: str) -> dict[str, Any]:
        """A new access token; an app's refresh token is replaced by a new one, a Connect one stays."""
        if not refresh_token:
            raise oauth_invalid_request("No refresh token provided")
        with self._lock:
            grant = self._refresh_tokens.get(refresh_token)
            if grant is None or grant.flow is not flow or grant.revoked:
                raise oauth_invalid_grant(f"Refresh token does not exist: {mask_key(refresh_token)}")
            if owner_id != self.registry.platform.account_id:
                raise oauth_invalid_grant("Refresh token provided does not belong to you")
            if flow is Flow.APP:
                del self._refresh_tokens[refresh_token]
                return self._issue(grant)
            return self._issue(grant, refresh_token)

    def _issue(self, grant: Grant, refresh_token: str | None = None) -> dict[str, Any]:
        """Stripe's token response for `grant` (its keys in Stripe's order); the lock is held."""
        if grant.flow is Flow.CONNECT:
            access_token, expires_at = "sk_test_" + _random(48), None
        else:
            access_token, expires_at = (
                "rk_test_" + _random(48),
                time.monotonic() + self.options.access_token_ttl_seconds,
            )
        self._access_tokens[access_token] = _AccessToken(grant, expires_at)
        if refresh_token is None:
            refresh_token = "rt_" + _random(48)
            self._refresh_tokens[refresh_token] = grant
        response = {
            "access_token": access_token,
            "livemode": False,
            "refresh_token": refresh_token,
            "scope": grant.scope,
            "stripe_publishable_key": publishable_key(grant.account_id),
            "stripe_user_id": grant.account_id,
            "token_type": "bearer",
        }
        if grant.flow is Flow.APP and self.send_expires_in:
            response["expires_in"] = self.options.access_token_ttl_seconds
        return response

    def deauthorize_endpoint(self, owner_id: str, client_id: str, account_id: str) -> dict[str, str]:
        """`POST /oauth/deauthorize`: the platform disconnects a connected account."""
        if not client_id:
            raise oauth_invalid_request("Missing required param: client_id.")
        if not account_id:
            raise oauth_invalid_request("Missing required param: stripe_user_id.")
        if client_id != self.connect_client_id:
            raise oauth_invalid_client(f"No application matches the supplied client identifier: {client_id}")
        if owner_id != self.registry.platform.account_id or not self.registry.is_connected(account_id):
            raise oauth_not_connected(account_id)
        self.deauthorize(account_id, app=False)
        return {"stripe_user_id": account_id}

    # Access with the tokens, and test controls.

    def account_for(self, key: str) -> str | None:
        """The account an OAuth access token opens; None if `key` is no access token. Raises Stripe's 401 for
        a token that expired or whose grant was revoked."""
        with self._lock:
            token = self._access_tokens.get(key)
            if token is None:
                return None
            if token.grant.revoked:
                raise expired_api_key(key, revoked=True)
            if token.expires_at is not None and time.monotonic() >= token.expires_at:
                raise expired_api_key(key)
            return token.grant.account_id

    def deauthorize(self, account_id: str, *, connect: bool = True, app: bool = True) -> None:
        """Ends the account's authorizations as if its user revoked them from their dashboard: `connect`
        disconnects it from the platform and kills its Connect tokens, `app` uninstalls the app (its tokens)."""
        if account_id not in self.registry.accounts or account_id == self.registry.platform.account_id:
            raise KeyError(f"{account_id} is not an account the platform can connect")
        flows = {flow for flow, chosen in ((Flow.CONNECT, connect), (Flow.APP, app)) if chosen}
        with self._lock:
            for grant in self._grants:
                if grant.account_id == account_id and grant.flow in flows:
                    grant.revoked = True
        if connect:
            self.registry.disconnect(account_id)
        log.info("OAuth: %s deauthorized (%s)", account_id, ", ".join(sorted(flow.value for flow in flows)))

    def expire_access_tokens(self) -> None:
        """Makes every app access token issued so far expire now (Connect tokens never expire)."""
        now = time.monotonic()
        with self._lock:
            for token in self._access_tokens.values():
                if token.expires_at is not None:
                    token.expires_at = min(token.expires_at, now)


def publishable_key(account_id: str) -> str:
    """The account's test publishable key, derived from its id so it is the same in every token response."""
    digest = int.from_bytes(hashlib.sha256(account_id.encode()).digest()[:24], "big")
    return "pk_test_" + base62(digest, 32)[-32:]


def _random(count: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(count))


def _with_query(url: str, params: dict[str, str | None]) -> str:
    """`url` with `params` (those not None) added to its query, URL-encoded."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))
