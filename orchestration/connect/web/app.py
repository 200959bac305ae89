"""The admin web app: the Connections page, adding, re-authenticating and disconnecting Stripe accounts.

Every page but the login form needs the admin's session. Only a POST carrying the session's CSRF token
changes anything: GET and HEAD never do, other methods are refused. A body over MAX_BODY_BYTES is refused
before it is read. The page answers its configured host (ADMIN_BASE_URL) and the loopback names only, and
builds no URL from the Host header. Messages shown are the app's own, never text from a request; secrets are
accepted (a pasted key) but never rendered. Calls to Stripe run in the thread pool, so a slow answer does not
stall the other requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestration.connect.accounts import unavailable_accounts
from orchestration.connect.auth import CSRF_FIELD, LoginThrottledError, Sessions, install_admin
from orchestration.connect.display import utc_minute
from orchestration.connect.encryption import derived_key
from orchestration.connect.flows import ATTEMPT_TTL_SECONDS, ConnectError, Connector
from orchestration.connect.restricted_key import key_warning
from orchestration.connect.store import ConnectionStore, Method, Status
from orchestration.settings import ConfigurationError, ConnectSettings, Secret, Settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
STATIC_PREFIX = "/static/"
CALLBACK_PATH = "/connections/oauth/callback"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Bodies are small forms (a key is ~110 characters): anything bigger is refused before it is read.
MAX_BODY_BYTES = 64 * 1024
MAX_FIELD_BYTES = 8 * 1024
MAX_FORM_FIELDS = 20
MAX_PENDING_FLOWS = 5
"""OAuth flows under way at once in one browser session (tabs); beyond, the oldest is forgotten."""
# Where Stripe may take the browser while it signs the admin in, beside the configured OAuth pages: CSP's
# form-action is enforced on every redirect that follows a form (Chrome), Stripe's own included.
STRIPE_SIGN_IN_ORIGIN = "https://dashboard.stripe.com"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000"


class HideQueryStrings(logging.Filter):
    """Cuts the query off the paths in uvicorn's access log: Stripe's callback carries the authorization code."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            client, method, path, *rest = record.args
            record.args = (client, method, str(path).split("?", 1)[0], *rest)
        return True


def hide_query_strings_in_access_log() -> None:
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideQueryStrings) for f in access_log.filters):
        access_log.addFilter(HideQueryStrings())


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    cookie_secure: bool = False,
    base_url: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Starlette:
    """`cookie_secure`: the session cookie is sent over HTTPS only (ADMIN_COOKIE_SECURE; see `stripe-warehouse
    web`); it is anyway on a request that came over HTTPS (a TLS proxy on 127.0.0.1 saying so with
    `X-Forwarded-Proto`, which uvicorn trusts from the loopback addresses only).

    `base_url`: the page's public address, which Stripe's redirect URI is built on and whose host is the only
    one answered besides the loopback names; default ADMIN_BASE_URL, else http://127.0.0.1:<the port served>.
    `sleep`: how the login throttle waits (tests pass one that does not)."""
    store = ConnectionStore(settings.connect)
    install_admin(settings.connect, store)
    connector = Connector(settings, store, clock)
    sessions = Sessions(settings.connect, store, clock, sleep)
    base = (base_url or settings.connect.admin_base_url or "").rstrip("/") or None
    pages = Pages(settings, connector, sessions, base, clock)
    routes = [
        Route("/", lambda _: RedirectResponse("/connections", 303)),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/connections", pages.connections),
        Route("/connections/new", pages.new_source),
        Route("/connections/new/stripe", pages.new_stripe),
        Route("/connections/oauth/start", pages.oauth_start, methods=["POST"]),
        Route(CALLBACK_PATH, pages.oauth_callback),
        Route("/connections/keys", pages.add_key, methods=["POST"]),
        Route("/connections/{account_id}/reauthenticate", pages.reauthenticate, methods=["POST"]),
        Route("/connections/{account_id}/disconnect", pages.disconnect, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    hosts = LOOPBACK_HOSTS | ({urlsplit(base).hostname or ""} if base else set())
    middleware = [
        Middleware(SecurityHeaders, policy=content_security_policy(settings.connect)),
        Middleware(KnownHosts, hosts=hosts),
        Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
        Middleware(
            SessionCookie,  # type: ignore[arg-type]  # Starlette's protocol types `app` looser than ASGIApp
            always_secure=cookie_secure,
            secret_key=derived_key(settings.connect, "admin session cookie"),
            session_cookie="stripe_warehouse_admin",
            max_age=None,  # a browser session's cookie; the server ends the session after session_minutes
            same_site="lax",  # the redirect back from Stripe is a cross-site top-level GET: it must carry the cookie
        ),
        Middleware(AdminOnly, sessions=sessions),
    ]
    return Starlette(routes=routes, middleware=middleware)


def content_security_policy(settings: ConnectSettings) -> str:
    """Nothing but this site's stylesheet; forms go to this site, and on (redirected) to Stripe's OAuth pages."""
    origins = [_origin(settings.connect_base), _origin(settings.marketplace_base)]
    if any(_is_stripe(o) for o in origins):
        origins.append(STRIPE_SIGN_IN_ORIGIN)
    form_action = " ".join(["'self'", *dict.fromkeys(o for o in origins if o)])
    return f"default-src 'none'; style-src 'self'; base-uri 'none'; form-action {form_action}; frame-ancestors 'none'"


def _is_stripe(origin: str) -> bool:
    host = urlsplit(origin).hostname or ""
    return host == "stripe.com" or host.endswith(".stripe.com")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class SecurityHeaders:
    """The security headers on every answer; HSTS on those over HTTPS."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        self.headers.append((b"content-security-policy", policy.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.headers + ([(b"strict-transport-security", HSTS.encode())] if scope["scheme"] == "https" else [])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, with_headers)


class KnownHosts:
    """Answers only requests for the configured host or a loopback name (400 otherwise): a page reached under
    another name (DNS rebinding) gets nothing, and no URL is ever built from the Host header."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | set[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts if h}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "")
            try:
                parts = urlsplit(f"//{host}")
                known = parts.hostname in self.hosts and "@" not in host and (parts.port or 0) >= 0
            except ValueError:  # a port that is no number
                known = False
            if not known:
                await PlainTextResponse("Unknown host: open the page at its configured address.", 400)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


class BodyTooLargeError(Exception):
    pass


class BodyLimit:
    """Refuses (413) a request whose body is over `max_bytes`: at once when its Content-Length says so, else as
    soon as what came exceeds it (a chunked body), before the app has read more."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await PlainTextResponse("Bad Content-Length.", 400)(scope, receive, send)
                return
            if int(length) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(f"Request body over {self.max_bytes // 1024} KiB.", 413)
        response.headers["connection"] = "close"
        await response(scope, receive, send)


class SessionCookie:
    """Starlette's session middleware, its cookie Secure whenever the request came over HTTPS (or always)."""

    def __init__(self, app: ASGIApp, always_secure: bool, **options: Any) -> None:
        self.secure = SessionMiddleware(app, https_only=True, **options)
        self.plain = self.secure if always_secure else SessionMiddleware(app, https_only=False, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        over_https = scope["type"] == "http" and scope.get("scheme") == "https"
        await (self.secure if over_https else self.plain)(scope, receive, send)


class AdminOnly:
    """Nothing but the login form (and its stylesheet) is served before login; only GET, HEAD and POST are
    answered, and a POST needs the session's CSRF token (a readable form, too)."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.method not in ("GET", "HEAD", "POST"):
            await PlainTextResponse("Method not allowed.", 405, {"allow": "GET, HEAD, POST"})(scope, receive, send)
            return
        path = scope["path"]
        public = path == "/login" or path.startswith(STATIC_PREFIX)
        if not public and not self.sessions.is_admin(request):
            response: Response = (
                RedirectResponse("/login", 303)
                if request.method in ("GET", "HEAD")
                else HTMLResponse("Log in first.", 403)
            )
            await response(scope, receive, send)
            return
        if request.method == "POST":
            body = await request.body()
            try:
                form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES)
            except (HTTPException, MultiPartException, ValueError):
                await HTMLResponse("This form could not be read.", 400)(scope, receive, send)
                return
            token = form.get(CSRF_FIELD)
            if not self.sessions.csrf_valid(request, token if isinstance(token, str) else None):
                log.warning("Refused a form without a valid CSRF token: %r", path)  # %r: no line of its own
                refusal = HTMLResponse("This form expired or did not come from this site: reload and try again.", 403)
                await refusal(scope, receive, send)
                return

            async def replay() -> dict[str, Any]:  # the endpoint reads the body this check consumed
                return {"type": "http.request", "body": body, "more_body": False}

            receive = replay
        await self.app(scope, receive, send)


class Pages:
    def __init__(
        self,
        settings: Settings,
        connector: Connector,
        sessions: Sessions,
        base_url: str | None,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.connector = connector
        self.store = connector.store
        self.sessions = sessions
        self.base_url = base_url
        self.clock = clock
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.filters["timestamp"] = utc_minute

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        context |= {
            "csrf_field": CSRF_FIELD,
            "csrf_token": Sessions.csrf_token(request),
            "logged_in": self.sessions.is_admin(request),
            "flash": request.session.pop("flash", None),
        }
        return self.templates.TemplateResponse(request, template, context, status_code=status_code)

    # Login.

    async def login(self, request: Request) -> Response:
        if request.method != "POST":
            return self.render(request, "login.html")
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        try:
            if await self.sessions.log_in(request, username, password):
                return RedirectResponse("/connections", 303)
        except LoginThrottledError as exc:
            log.warning("A refused admin login: too many under way at once from one address")
            return self.render(request, "login.html", 429, error=str(exc))
        log.warning("A failed admin login")
        return self.render(request, "login.html", 401, error="Wrong username or password.")

    async def logout(self, request: Request) -> Response:
        self.sessions.log_out(request)
        return RedirectResponse("/login", 303)

    # Connections.

    async def connections(self, request: Request) -> Response:
        return self.render(
            request,
            "connections.html",
            connections=self.store.connections(),
            unavailable=unavailable_accounts(self.settings),
            Status=Status,
        )

    async def new_source(self, request: Request) -> Response:
        return self.render(request, "new_source.html")

    async def new_stripe(self, request: Request) -> Response:
        # The account whose key is replaced, from the Re-authenticate button; a link's text is never shown.
        account = self.store.find(request.query_params.get("account", ""))
        return self.render(
            request,
            "new_stripe.html",
            methods=self.connector.oauth_methods(),
            Method=Method,
            account_id=account.account_id if account else "",
        )

    async def oauth_start(self, request: Request) -> Response:
        form = await request.form()
        try:
            method = Method(str(form.get("method")))
            started = self.connector.start(method, self._callback_url(request))
        except (ValueError, ConfigurationError) as exc:
            return self._back(request, f"Cannot connect this way: {exc}")
        self._remember_flow(request, started.state)
        return RedirectResponse(started.url, 303)

    async def oauth_callback(self, request: Request) -> Response:
        query = request.query_params
        state = query.get("state", "")
        # The answer must come back to the browser that asked: a state from elsewhere is refused unspent, and
        # leaves this browser's flows under way untouched.
        if not self._take_flow(request, state):
            return self._back(
                request,
                "This answer from Stripe does not belong to a connection started in this browser. Nothing was "
                "saved: start again with Add a data source.",
            )
        try:
            connection = await run_in_threadpool(
                self.connector.finish, state, query.get("code"), query.get("error"), query.get("error_description")
            )
        except ConnectError as exc:
            return self._back(request, str(exc))
        name = f" ({connection.business_name})" if connection.business_name else ""
        return self._back(request, f"Successfully connected {connection.account_id}{name}.", "success")

    async def add_key(self, request: Request) -> Response:
        form = await request.form()
        key = Secret(str(form.get("api_key", "")).strip())
        expected = str(form.get("account", "")).strip() or None
        notes: list[str] = []
        try:
            connection = await run_in_threadpool(self.connector.add_key, key, expected, notes=notes)
        except ConnectError as exc:
            request.session["flash"] = {"kind": "error", "text": str(exc)}
            known = expected if expected and self.store.find(expected) else None
            query = f"?{urlencode({'account': known})}" if known else ""
            return RedirectResponse(f"/connections/new/stripe{query}", 303)
        text = " ".join([f"Successfully connected {connection.account_id} with a restricted key.", *notes])
        if warning := key_warning(key):
            return self._back(request, f"{text} {warning}", "info")
        return self._back(request, text, "success")

    async def reauthenticate(self, request: Request) -> Response:
        connection = self.store.find(request.path_params["account_id"])
        if connection is None:
            return self._back(request, "That account is not connected.")
        account_id = connection.account_id
        if connection.method is Method.RESTRICTED_KEY:
            request.session["flash"] = {"kind": "info", "text": f"Paste a new key for {account_id}."}
            return RedirectResponse(f"/connections/new/stripe?{urlencode({'account': account_id})}", 303)
        try:
            started = self.connector.start(connection.method, self._callback_url(request), account_id)
        except ConfigurationError as exc:
            return self._back(request, f"Cannot re-authenticate {account_id}: {exc}")
        self._remember_flow(request, started.state)
        return RedirectResponse(started.url, 303)

    async def disconnect(self, request: Request) -> Response:
        connection = self.store.find(request.path_params["account_id"])
        if connection is None:
            return self._back(request, "That account is not connected.")
        if request.method != "POST":  # GET and HEAD only ask; the POST of the confirmation form acts
            return self.render(request, "disconnect.html", connection=connection)
        try:
            message = await run_in_threadpool(self.connector.disconnect, connection.account_id)
            return self._back(request, message, "success")
        except ConnectError as exc:
            return self._back(request, str(exc))

    def _back(self, request: Request, text: str, kind: str = "error") -> Response:
        request.session["flash"] = {"kind": kind, "text": text}
        return RedirectResponse("/connections", 303)

    # OAuth flows under way in this browser: one entry per flow started (tabs side by side), each taken once.

    def _callback_url(self, request: Request) -> str:
        """Stripe's redirect URI: on the configured address, else the port this server listens on (from the
        socket, never from a header)."""
        if self.base_url:
            return self.base_url + CALLBACK_PATH
        server = request.scope.get("server")
        port = f":{server[1]}" if server and server[1] else ""
        return f"http://127.0.0.1{port}{CALLBACK_PATH}"

    def _remember_flow(self, request: Request, state: str) -> None:
        now = self.clock()
        flows = {k: v for k, v in request.session.get("oauth", {}).items() if v > now}
        flows[_digest(state)] = now + ATTEMPT_TTL_SECONDS
        request.session["oauth"] = dict(sorted(flows.items(), key=lambda kv: kv[1])[-MAX_PENDING_FLOWS:])

    def _take_flow(self, request: Request, state: str) -> bool:
        """Whether `state` is of a flow this browser started and has not finished, which it then is."""
        flows = dict(request.session.get("oauth", {}))
        expires = flows.pop(_digest(state), None) if state else None
        if expires is None:
            return False
        request.session["oauth"] = flows
        return expires > self.clock()


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()[:32]
