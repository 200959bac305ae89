"""The HTTP side of the OAuth flows: the authorize pages and the token and deauthorize endpoints.

Paths, all on the simulator's one host (it plays connect.stripe.com, marketplace.stripe.com and
api.stripe.com at once):
- Connect: `GET /oauth/authorize`, `POST /oauth/authorize/sign-in`, `POST /oauth/authorize/decision`,
  `POST /oauth/token`, `POST /oauth/deauthorize`;
- Stripe App: `GET /oauth/v2/authorize`, `POST /oauth/v2/authorize/sign-in`,
  `POST /oauth/v2/authorize/decision`, `POST /v1/oauth/token`.

The connect.stripe.com endpoints authenticate the platform with its secret key as Bearer (or Basic)
credentials or as the `client_secret` form field, and answer every error in OAuth's shape
(`{"error", "error_description"}`). `/v1/oauth/token` is on the API host, which authenticates before
anything else: a missing or unknown key gets the API's 401 body, errors of the grant OAuth's shape.
None of these requests go through the traffic conditions (latency, rate limits, faults).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from orchestration.simulator.errors import (
    OAuthError,
    StripeError,
    oauth_invalid_request,
    oauth_no_credentials,
    oauth_no_such_key,
    oauth_unsupported_grant_type,
)
from orchestration.simulator.oauth.pages import authorize_page, error_page, sign_in_page
from orchestration.simulator.oauth.provider import (
    AuthorizationRequest,
    AuthorizeRefusedError,
    Flow,
    OAuthProvider,
    SignInRefusedError,
)

AUTHORIZE_PATHS = {Flow.CONNECT: "/oauth/authorize", Flow.APP: "/oauth/v2/authorize"}
Handler = Callable[[Request], Awaitable[Response]]


def oauth_routes(provider: OAuthProvider) -> list[Route]:
    """The routes to mount ahead of the API's catch-all route."""
    endpoints = _Endpoints(provider)
    routes = [
        Route("/oauth/token", endpoints.connect_token, methods=["POST"]),
        Route("/oauth/deauthorize", endpoints.deauthorize, methods=["POST"]),
        Route("/v1/oauth/token", endpoints.app_token, methods=["POST"]),
    ]
    for flow, path in AUTHORIZE_PATHS.items():
        routes += [
            Route(path, endpoints.authorize_handler(flow), methods=["GET"]),
            Route(f"{path}/sign-in", endpoints.sign_in_handler(flow), methods=["POST"]),
            Route(f"{path}/decision", endpoints.decision_handler(flow), methods=["POST"]),
        ]
    return routes


class _Endpoints:
    def __init__(self, provider: OAuthProvider) -> None:
        self.provider = provider
        self.registry = provider.registry

    # The pages.

    def authorize_handler(self, flow: Flow) -> Handler:
        async def authorize(request: Request) -> Response:
            try:
                pending = self.provider.start(flow, request.query_params)
            except AuthorizeRefusedError as refused:
                return error_page(refused.error, refused.description)
            return self._sign_in_page(pending)

        return authorize

    def sign_in_handler(self, flow: Flow) -> Handler:
        async def sign_in(request: Request) -> Response:
            form = await request.form()
            email = _field(form, "email")
            try:
                pending = self.provider.sign_in(flow, _field(form, "authorization"), email, _field(form, "password"))
            except AuthorizeRefusedError as refused:
                return error_page(refused.error, refused.description)
            except SignInRefusedError as refused:
                return self._sign_in_page(refused.request, refused.message, email, status=400)
            accounts = self.provider.account_names(pending.accounts)
            return authorize_page(
                pending, self.provider.client_name(flow), f"{AUTHORIZE_PATHS[flow]}/decision", accounts
            )

        return sign_in

    def decision_handler(self, flow: Flow) -> Handler:
        async def decision(request: Request) -> Response:
            form = await request.form()
            choice = _field(form, "decision")
            if choice not in ("allow", "deny"):
                return error_page("invalid_request", "Choose to authorize or deny access.")
            try:
                url = self.provider.decide(
                    flow, _field(form, "authorization"), choice == "allow", _field(form, "account") or None
                )
            except AuthorizeRefusedError as refused:
                return error_page(refused.error, refused.description)
            # 302, not Starlette's default 307: the browser must GET the redirect URI, not re-POST the form.
            return RedirectResponse(url, status_code=302)

        return decision

    def _sign_in_page(
        self, pending: AuthorizationRequest, error: str | None = None, email: str = "", status: int = 200
    ) -> Response:
        flow = pending.flow
        return sign_in_page(
            pending,
            self.provider.client_name(flow),
            f"{AUTHORIZE_PATHS[flow]}/sign-in",
            sorted(self.provider.login_emails),
            error,
            email,
            status,
        )

    # The JSON endpoints.

    async def connect_token(self, request: Request) -> Response:
        form = await request.form()
        try:
            owner_id = self._platform_credentials(request, form)
            return JSONResponse(_grant(self.provider, Flow.CONNECT, owner_id, form))
        except OAuthError as error:
            return JSONResponse(error.body(), status_code=error.status)

    async def deauthorize(self, request: Request) -> Response:
        form = await request.form()
        try:
            owner_id = self._platform_credentials(request, form)
            body = self.provider.deauthorize_endpoint(
                owner_id, _field(form, "client_id"), _field(form, "stripe_user_id")
            )
            return JSONResponse(body)
        except OAuthError as error:
            return JSONResponse(error.body(), status_code=error.status)

    async def app_token(self, request: Request) -> Response:
        try:
            _, owner, _ = self.registry.authenticate(request.headers)
        except StripeError as error:
            request_id = request.scope.get("state", {}).get("request_id")
            return JSONResponse(error.body(request_id), status_code=error.status)
        form = await request.form()
        try:
            return JSONResponse(_grant(self.provider, Flow.APP, owner.account_id, form))
        except OAuthError as error:
            return JSONResponse(error.body(), status_code=error.status)

    def _platform_credentials(self, request: Request, form: FormData) -> str:
        """The account whose secret key the request presents, in its header or as `client_secret`."""
        key = self.registry.presented_key(request.headers) or _field(form, "client_secret")
        if not key:
            raise oauth_no_credentials()
        owner_id = self.registry.key_owner(key)
        if owner_id is None:
            raise oauth_no_such_key(key)
        return owner_id


def _grant(provider: OAuthProvider, flow: Flow, owner_id: str, form: FormData) -> dict[str, Any]:
    grant_type = _field(form, "grant_type")
    if not grant_type:
        raise oauth_invalid_request("No grant type specified")
    if grant_type == "authorization_code":
        return provider.exchange_code(flow, owner_id, _field(form, "code"))
    if grant_type == "refresh_token":
        return provider.refresh(flow, owner_id, _field(form, "refresh_token"))
    raise oauth_unsupported_grant_type(grant_type)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
