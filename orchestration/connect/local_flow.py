"""`stripe-warehouse connect`: an OAuth flow from the terminal. It opens the browser on Stripe's authorize page
and catches the redirect back on a server on 127.0.0.1 that lives until that answer comes, so no web app
needs to run.

Only a GET of the callback carrying this flow's `state` is the answer: anything else (a browser's
`/favicon.ico`, a HEAD, a callback without or with another state, a connection that never sends a request)
is answered or dropped on its own thread and the server keeps waiting."""

from __future__ import annotations

import hmac
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from orchestration.connect.flows import ATTEMPT_TTL_SECONDS, ConnectError, Connector
from orchestration.connect.store import Connection, Method

CALLBACK_PATH = "/callback"
# Stripe sends the browser back only to a redirect URI registered in advance, port included: a fixed port.
DEFAULT_PORT = 8765
# A connection that sends no request within this long is dropped (a browser's speculative connection).
REQUEST_TIMEOUT_SECONDS = 10


def redirect_uri_for(port: int) -> str:
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}"


def connect_locally(
    connector: Connector,
    method: Method,
    *,
    port: int = DEFAULT_PORT,
    open_browser: bool = True,
    show: Callable[[str], None] = print,
) -> Connection:
    """Runs one OAuth flow to its end; raises ConnectError (nothing stored) on a denial, a bad code or a timeout."""
    answer: dict[str, str] = {}
    answered = threading.Event()
    expected: dict[str, str] = {}  # the flow's state, once it is started
    taken = threading.Lock()

    class Callback(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_SECONDS

        def do_GET(self) -> None:  # http.server's name
            url = urlsplit(self.path)
            if url.path != CALLBACK_PATH:
                self.send_error(404)
                return
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            state = expected.get("state")
            if state is None or not hmac.compare_digest(query.get("state", "").encode(), state.encode()):
                self.send_error(400, "Not the answer to the connection under way: it is still waiting for Stripe")
                return
            with taken:
                if answered.is_set():  # the answer came already (a reload of the tab)
                    self.send_error(409, "Stripe's answer was already received")
                    return
                answer.update(query)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"Stripe answered: you can close this tab and return to the terminal.\n")
                answered.set()

        def log_message(self, format: str, *args: object) -> None:  # http.server's signature
            pass  # the request line carries the authorization code: keep it out of the terminal

    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Callback)
    except OSError as exc:
        raise ConnectError(
            f"Cannot listen on 127.0.0.1:{port} for Stripe's answer ({exc.strerror}): free the port, or pass "
            "--port with another port registered as a redirect URI."
        ) from None
    thread = threading.Thread(target=server.serve_forever, name="oauth-callback", daemon=True)
    thread.start()
    try:
        redirect_uri = redirect_uri_for(server.server_port)
        started = connector.start(method, redirect_uri)
        expected["state"] = started.state
        show(
            f"Open this link to connect a Stripe account (waiting for Stripe's answer on {redirect_uri}, which "
            "must be registered as a redirect URI of the Connect platform or the Stripe App):"
        )
        show(started.url)
        if open_browser:
            webbrowser.open(started.url)
        if not answered.wait(ATTEMPT_TTL_SECONDS):
            raise ConnectError(f"No answer from Stripe within {ATTEMPT_TTL_SECONDS // 60} minutes; nothing was saved.")
    finally:
        server.shutdown()
        server.server_close()
    return connector.finish(started.state, answer.get("code"), answer.get("error"), answer.get("error_description"))
