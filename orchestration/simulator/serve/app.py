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
import json
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestration.simulator.errors import (
    StripeError,
    api_error,
    no_such,
    rate_limited,
    unrecognized_url,
)
from orchestration.simulator.ids import BASE62
from orchestration.simulator.model.account import SimulatedAccount
from orchestration.simulator.model.listing import LIST_SPECS, parse_expand
from orchestration.simulator.model.registry import DEFAULT_API_KEY, AccountRegistry
from orchestration.simulator.oauth.options import OAuthOptions
from orchestration.simulator.oauth.provider import OAuthProvider
from orchestration.simulator.oauth.routes import oauth_routes
from orchestration.simulator.serve.options import SimulatorOptions
from orchestration.simulator.serve.traffic import Traffic, Verdict

__all__ = ["DEFAULT_API_KEY", "OAuthOptions", "SimulatorOptions", "create_app", "error_response"]

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
        admission = traffic.admit(
            account.account_id, request.method, path, request.scope["query_string"], key_owner=owner.account_id
        )
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
        assert target is not None, "visible implies found"
        return target.account
    raise no_such("account", rest[0], "account")
