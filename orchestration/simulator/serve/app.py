"""The Starlette app: Stripe's authentication, account selection, routes and response conventions.

Request flow: `StripeHeaders` (outermost) gives every response a `Request-Id` and the `Stripe-Version`
header; then any `SimulatorOptions.middleware`; then the endpoint, which waits out the configured
latency, authenticates the key (a secret key, or an OAuth access token), picks the account
(`Stripe-Account` header for a platform key, if the account is connected), lets `Traffic` rate-limit,
fail, drop, cut off or slow down the request, and serves it from the account's store as JSON bytes. The
OAuth pages and token endpoints (`oauth_routes`) are routed ahead of the API.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestration.simulator.account import SimulatedAccount
from orchestration.simulator.errors import (
    StripeError,
    api_error,
    invalid_api_key,
    no_access_to_account,
    no_api_key,
    no_such,
    rate_limited,
    revoked_api_key,
    unrecognized_url,
)
from orchestration.simulator.ids import BASE62
from orchestration.simulator.listing import LIST_SPECS, parse_expand, parse_query
from orchestration.simulator.oauth import OAuthProvider
from orchestration.simulator.oauth_routes import oauth_routes
from orchestration.simulator.options import OAuthOptions, SimulatorOptions
from orchestration.simulator.store import Collection
from orchestration.simulator.traffic import Traffic, Verdict

__all__ = ["DEFAULT_API_KEY", "OAuthOptions", "SimulatorOptions", "create_app", "error_response"]

DEFAULT_API_KEY = "sk_test_simulator"
log = logging.getLogger(__name__)


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


def error_response(error: StripeError, scope: Scope) -> Response:
    """Stripe's error body for `error`, carrying the request's id (for middleware answering early)."""
    return json_response(error.status, error.body(scope.get("state", {}).get("request_id")))


class DroppedConnection(Response):
    """Not a response: closes the connection, so the client sees it fail mid-request."""

    def __init__(self, traffic: Traffic) -> None:
        super().__init__()
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.traffic.drop(scope)


class TruncatedResponse(Response):
    """`response` cut off: its status, headers and full `Content-Length`, then half its body, then the
    connection closes. The length is the point: it lets the client tell a cut-off answer from a short
    one, as a real client must when a connection breaks mid-transfer."""

    def __init__(self, response: Response, traffic: Traffic) -> None:
        super().__init__()
        self.response = response
        self.traffic = traffic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytes(self.response.body)
        await send(
            {"type": "http.response.start", "status": self.response.status_code, "headers": self.response.raw_headers}
        )
        # At least one byte short: a JSON body is never empty.
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await self.traffic.drop(scope)


class StripeHeaders:
    """Stamps `Request-Id` and `Stripe-Version` on every response, errors included."""

    def __init__(self, app: ASGIApp, default_version: str) -> None:
        self.app = app
        self.default_version = default_version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + "".join(secrets.choice(BASE62) for _ in range(14))
        scope.setdefault("state", {})["request_id"] = request_id
        requested = dict(scope["headers"]).get(b"stripe-version", b"").decode("latin-1")
        version = requested or self.default_version

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Request-Id"] = request_id
                headers["Stripe-Version"] = version
            await send(message)

        await self.app(scope, receive, stamped)


class AccountRegistry:
    """Which key opens which account; the first account is the platform the others are connected to
    (all of them unless disconnected: see `OAuthOptions.connected_at_start` and Connect deauthorization)."""

    def __init__(self, accounts: Sequence[SimulatedAccount], api_keys: dict[str, str] | None) -> None:
        self.revoked: set[str] = set()
        """Accounts whose access ended: their keys are rolled, the platform's access is revoked."""
        self.disconnected: set[str] = set()
        """Accounts not connected to the platform (never authorized it, or deauthorized it): the platform's
        key cannot act on them, their own keys still work."""
        self.revoke_countdown: dict[str, int] = {}
        """Accounts to revoke after that many more requests reading them (`revoke_after`)."""
        self.access_tokens: Callable[[str], str | None] = lambda key: None
        """The account an OAuth access token opens (None: not a token); set by the app to its
        `OAuthProvider.account_for`, which raises Stripe's 401 for an expired or revoked token."""
        self._lock = threading.Lock()
        """Guards `connected` against a test thread revoking an account while the server lists them."""
        if not accounts:
            raise ValueError("the simulator needs at least one account to serve")
        self.accounts = {account.account_id: account for account in accounts}
        self.platform = accounts[0]
        self.api_keys = api_keys if api_keys is not None else {DEFAULT_API_KEY: self.platform.account_id}
        unknown = set(self.api_keys.values()) - self.accounts.keys()
        if unknown:
            raise ValueError(f"api_keys name accounts that are not served: {sorted(unknown)}")
        connected = [account.account for account in accounts[1:]]
        self.connected = Collection(LIST_SPECS["accounts"], connected)

    def authenticate(self, headers: Headers) -> tuple[str, SimulatedAccount, SimulatedAccount]:
        """(key, the key's own account, the account the request acts on)."""
        key = _api_key(headers.get("authorization", ""))
        if not key:
            raise no_api_key()
        if self.revoke_countdown:
            self._count_down(headers.get("stripe-account") or self.api_keys.get(key))
        owner_id = self.api_keys.get(key) or self.access_tokens(key)
        if owner_id is None:
            raise invalid_api_key(key)
        if owner_id in self.revoked:
            raise revoked_api_key(key)
        owner = self.accounts[owner_id]
        target_id = headers.get("stripe-account")
        if not target_id or target_id == owner_id:
            return key, owner, owner
        if owner is not self.platform or not self.is_connected(target_id):
            raise no_access_to_account(key, target_id)
        return key, owner, self.accounts[target_id]

    def key_owner(self, key: str) -> str | None:
        """The account whose secret key `key` is (OAuth tokens are not), unless its keys were rolled."""
        owner_id = self.api_keys.get(key)
        return None if owner_id is None or owner_id in self.revoked else owner_id

    def is_connected(self, account_id: str) -> bool:
        """Whether the platform's key may act on `account_id` with `Stripe-Account`."""
        return (
            account_id in self.accounts
            and account_id != self.platform.account_id
            and account_id not in self.revoked
            and account_id not in self.disconnected
        )

    def revoke(self, account_id: str) -> None:
        """Ends access to `account_id`: its keys stop working, the platform loses it from `/v1/accounts`."""
        self._known(account_id)
        with self._lock:
            self.revoked.add(account_id)
            self._relist(account_id)

    def revoke_after(self, account_id: str, requests: int) -> None:
        """Serves `requests` more requests reading `account_id`, then revokes it: access ending mid-sync."""
        self._known(account_id)
        with self._lock:
            self.revoke_countdown[account_id] = requests

    def _count_down(self, account_id: str | None) -> None:
        with self._lock:
            left = self.revoke_countdown.get(account_id) if account_id else None
            if left is None:
                return
            if left > 0:
                self.revoke_countdown[account_id] = left - 1
                return
            del self.revoke_countdown[account_id]
            self.revoked.add(account_id)
            self._relist(account_id)

    def restore(self, account_id: str) -> None:
        """Undoes `revoke` (not a disconnection: that takes a new authorization)."""
        self._known(account_id)
        with self._lock:
            self.revoked.discard(account_id)
            self._relist(account_id)

    def connect(self, account_id: str) -> None:
        """Connects `account_id` to the platform, as a Connect OAuth authorization does."""
        self._known(account_id)
        with self._lock:
            self.disconnected.discard(account_id)
            self._relist(account_id)

    def disconnect(self, account_id: str) -> None:
        """Disconnects `account_id` from the platform, as a Connect deauthorization does."""
        self._known(account_id)
        with self._lock:
            self.disconnected.add(account_id)
            self._relist(account_id)

    def _relist(self, account_id: str) -> None:
        """Lists the account in the platform's `/v1/accounts` exactly when the platform reaches it."""
        listed = account_id in self.connected.objects
        if self.is_connected(account_id) and not listed:
            self.connected.put(self.accounts[account_id].account)
        elif listed and not self.is_connected(account_id):
            self.connected.delete(account_id)

    def connected_page(self, params: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], bool]:
        """A page of the platform's connected accounts (`/v1/accounts`)."""
        with self._lock:
            return self.connected.page(parse_query(self.connected.spec, params))

    def _known(self, account_id: str) -> None:
        if account_id not in self.accounts:
            raise KeyError(f"the simulator does not serve account {account_id}")

    def named_account(self, headers: Headers) -> str | None:
        """The account a request means to read, as far as its headers say (to count refused requests)."""
        key = _api_key(headers.get("authorization", ""))
        return headers.get("stripe-account") or self.api_keys.get(key)

    @staticmethod
    def presented_key(headers: Headers) -> str:
        """The key of the request's `Authorization` header, Bearer or Basic; empty if none."""
        return _api_key(headers.get("authorization", ""))


def _api_key(authorization: str) -> str:
    """The secret key of a `Bearer <key>` or `Basic base64(<key>:)` header (Stripe accepts both)."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return ""


def create_app(
    accounts: Sequence[SimulatedAccount],
    api_keys: dict[str, str] | None = None,
    options: SimulatorOptions | None = None,
    oauth: OAuthOptions | None = None,
) -> Starlette:
    """The simulator's ASGI app serving `accounts` (the first one is the platform), with the Stripe side of
    the Connect and Stripe Apps OAuth flows (`oauth_routes`).

    `app.state.traffic` (`Traffic`), `app.state.registry` (`AccountRegistry`) and `app.state.oauth`
    (`OAuthProvider`) let the runner change traffic conditions, read counters, revoke access and control
    OAuth grants while serving.
    """
    options = options or SimulatorOptions()
    registry = AccountRegistry(accounts, api_keys)
    provider = OAuthProvider(registry, oauth or OAuthOptions())
    registry.access_tokens = provider.account_for
    traffic = Traffic(options)

    async def endpoint(request: Request) -> Response:
        latency = traffic.options.latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)  # on the event loop: other requests go on meanwhile
        path = request.url.path
        try:
            # Stripe authenticates before it routes: a bad key is a 401 whatever the URL.
            _, owner, account = registry.authenticate(request.headers)
        except StripeError as error:
            traffic.reject(registry.named_account(request.headers), path)
            return error_response(error, request.scope)
        admission = traffic.admit(account.account_id, request.method, path, request.scope["query_string"])
        if admission.delay:
            await asyncio.sleep(admission.delay)
        verdict = admission.verdict
        if verdict is Verdict.RATE_LIMIT:
            return error_response(rate_limited(), request.scope)
        if verdict is Verdict.FAULT:
            return error_response(api_error(admission.status or 500), request.scope)
        if verdict is Verdict.DROP:
            return DroppedConnection(traffic)
        response = serve(request, owner, account)
        return TruncatedResponse(response, traffic) if verdict is Verdict.TRUNCATE else response

    def serve(request: Request, owner: SimulatedAccount, account: SimulatedAccount) -> Response:
        try:
            return Response(_dispatch(request, registry, owner, account), media_type="application/json")
        except StripeError as error:
            return error_response(error, request.scope)
        except Exception:  # a simulator bug: answer like Stripe's 500 so the SDK raises APIError
            log.exception("simulator failed on %s %s", request.method, request.url)
            return error_response(api_error(), request.scope)

    app = Starlette(
        routes=[
            *oauth_routes(provider),
            Route("/{path:path}", endpoint, methods=["GET", "POST", "DELETE", "PUT", "PATCH"]),
        ],
        middleware=[Middleware(StripeHeaders, default_version=options.api_version), *options.middleware],
    )
    app.state.traffic = traffic
    app.state.registry = registry
    app.state.oauth = provider
    return app


def _dispatch(request: Request, registry: AccountRegistry, owner: SimulatedAccount, account: SimulatedAccount) -> bytes:
    """The JSON body of a GET the key may make on `account`."""
    path = request.url.path.rstrip("/")
    parts = path.split("/")[1:]
    if request.method != "GET" or len(parts) < 2 or parts[0] != "v1":
        raise unrecognized_url(request.method, path)
    params = request.query_params.multi_items()
    name, rest = parts[1], parts[2:]
    if name == "account" and not rest:
        parse_expand(params)
        return _json(account.account)
    if name == "accounts":
        return _json(_accounts(registry, owner, account, rest, params))
    spec = LIST_SPECS.get(name)
    if spec is None or not spec.routable:
        raise unrecognized_url(request.method, path)
    store = account.store
    if not rest:
        return store.list_json(name, params)
    if len(rest) == 1:
        return store.retrieve_json(name, rest[0], parse_expand(params))
    if len(rest) == 2 and name in ("invoices", "credit_notes") and rest[1] == "lines":
        return store.lines_json(name, rest[0], params)
    if len(rest) == 2 and name == "charges" and rest[1] == "refunds":
        store.retrieve("charges", rest[0])
        return _json({**store.list("refunds", [*params, ("charge", rest[0])]), "url": path})
    raise unrecognized_url(request.method, path)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _accounts(
    registry: AccountRegistry,
    owner: SimulatedAccount,
    account: SimulatedAccount,
    rest: list[str],
    params: list[tuple[str, str]],
) -> dict[str, Any]:
    """`/v1/accounts` lists the platform's connected accounts; `/v1/accounts/<id>` retrieves one
    (or the key's own account)."""
    platform = owner is registry.platform and account is owner
    if not rest:
        if not platform:
            return {"object": "list", "data": [], "has_more": False, "url": "/v1/accounts"}
        data, has_more = registry.connected_page(params)
        return {"object": "list", "data": data, "has_more": has_more, "url": "/v1/accounts"}
    parse_expand(params)
    target = registry.accounts.get(rest[0])
    visible = target is not None and (target is account or (platform and registry.is_connected(target.account_id)))
    if len(rest) == 1 and visible:
        return target.account
    raise no_such("account", rest[0], "account")
