"""The Starlette app: Stripe's authentication, account selection, routes and response conventions.

Request flow: `StripeHeaders` (outermost) gives every response a `Request-Id` and the `Stripe-Version`
header; then any `SimulatorOptions.middleware` (the place for latency, rate limits, fault injection: they
can answer with `error_response`); then the endpoint, which authenticates the key, picks the account
(`Stripe-Account` header for a platform key) and dispatches to the account's store.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestration.simulator.account import SimulatedAccount
from orchestration.simulator.errors import (
    StripeError,
    invalid_api_key,
    no_access_to_account,
    no_api_key,
    no_such,
    unknown_parameter,
    unrecognized_url,
)
from orchestration.simulator.ids import BASE62
from orchestration.simulator.listing import LIST_SPECS, parse_query
from orchestration.simulator.store import Collection
from orchestration.simulator.templates import API_VERSION

DEFAULT_API_KEY = "sk_test_simulator"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatorOptions:
    """Server behaviour beyond the data it serves."""

    api_version: str = API_VERSION
    """`Stripe-Version` answered when a request does not send one."""
    middleware: Sequence[Middleware] = field(default_factory=tuple)
    """Extra Starlette middleware, run inside the Request-Id/Stripe-Version stamping and before auth."""


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


def error_response(error: StripeError, scope: Scope) -> Response:
    """Stripe's error body for `error`, carrying the request's id (for middleware answering early)."""
    return json_response(error.status, error.body(scope.get("state", {}).get("request_id")))


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
    """Which key opens which account; the first account is the platform the others are connected to."""

    def __init__(self, accounts: Sequence[SimulatedAccount], api_keys: dict[str, str] | None) -> None:
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

    def authenticate(self, request: Request) -> tuple[str, SimulatedAccount, SimulatedAccount]:
        """(key, the key's own account, the account the request acts on)."""
        key = _api_key(request.headers.get("authorization", ""))
        if not key:
            raise no_api_key()
        owner_id = self.api_keys.get(key)
        if owner_id is None:
            raise invalid_api_key(key)
        owner = self.accounts[owner_id]
        target_id = request.headers.get("stripe-account")
        if not target_id or target_id == owner_id:
            return key, owner, owner
        if owner is not self.platform or target_id not in self.accounts:
            raise no_access_to_account(key, target_id)
        return key, owner, self.accounts[target_id]


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
) -> Starlette:
    """The simulator's ASGI app serving `accounts` (the first one is the platform)."""
    options = options or SimulatorOptions()
    registry = AccountRegistry(accounts, api_keys)

    async def endpoint(request: Request) -> Response:
        try:
            return json_response(200, _dispatch(request, registry))
        except StripeError as error:
            return error_response(error, request.scope)
        except Exception:  # a simulator bug: answer like Stripe's 500 so the SDK raises APIError
            log.exception("simulator failed on %s %s", request.method, request.url)
            return error_response(StripeError(500, "An unknown error occurred.", type_="api_error"), request.scope)

    return Starlette(
        routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "DELETE", "PUT", "PATCH"])],
        middleware=[Middleware(StripeHeaders, default_version=options.api_version), *options.middleware],
    )


def _dispatch(request: Request, registry: AccountRegistry) -> dict[str, Any]:
    path = request.url.path.rstrip("/")
    parts = path.split("/")[1:]
    # Stripe authenticates before it routes: a bad key is a 401 whatever the URL.
    _, owner, account = registry.authenticate(request)
    if request.method != "GET" or len(parts) < 2 or parts[0] != "v1":
        raise unrecognized_url(request.method, path)
    params = request.query_params.multi_items()
    name, rest = parts[1], parts[2:]
    if name == "account" and not rest:
        _no_params(params)
        return account.account
    if name == "accounts":
        return _accounts(registry, owner, account, rest, params)
    spec = LIST_SPECS.get(name)
    if spec is None or not spec.routable:
        raise unrecognized_url(request.method, path)
    store = account.store
    if not rest:
        return store.list(name, params)
    if len(rest) == 1:
        _no_params(params)
        return store.retrieve(name, rest[0])
    if len(rest) == 2 and name == "invoices" and rest[1] == "lines":
        return store.invoice_lines(rest[0], params)
    if len(rest) == 2 and name == "charges" and rest[1] == "refunds":
        store.retrieve("charges", rest[0])
        return {**store.list("refunds", [*params, ("charge", rest[0])]), "url": path}
    raise unrecognized_url(request.method, path)


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
        data, has_more = registry.connected.page(parse_query(registry.connected.spec, params))
        return {"object": "list", "data": data, "has_more": has_more, "url": "/v1/accounts"}
    _no_params(params)
    target = registry.accounts.get(rest[0])
    if len(rest) == 1 and target is not None and (target is account or platform):
        return target.account
    raise no_such("account", rest[0], "account")


def _no_params(params: list[tuple[str, str]]) -> None:
    """Retrieve endpoints take nothing but `expand`."""
    for key, _ in params:
        if not key.startswith("expand"):
            raise unknown_parameter(key)
