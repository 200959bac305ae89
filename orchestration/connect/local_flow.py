"""`stripe-warehouse connect`: an OAuth flow from the terminal. It opens the browser on Stripe's authorize page
and catches the redirect back on a one-shot server on 127.0.0.1, so no web app needs to run."""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

from orchestration.connect.flows import ATTEMPT_TTL_SECONDS, ConnectFailed, Connector
from orchestration.connect.store import Connection, Method

CALLBACK_PATH = "/callback"
# Stripe sends the browser back only to a redirect URI registered in advance, port included: a fixed port.
DEFAULT_PORT = 8765


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
    """Runs one OAuth flow to its end; raises ConnectFailed (nothing stored) on a denial, a bad code or a timeout."""
    answer: dict[str, str] = {}
    answered = threading.Event()

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            if url.path != CALLBACK_PATH:
                self.send_error(404)
                return
            answer.update({k: v[0] for k, v in parse_qs(url.query).items()})
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Stripe answered: you can close this tab and return to the terminal.\n")
            answered.set()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # the request line carries the authorization code: keep it out of the terminal

    try:
        server = HTTPServer(("127.0.0.1", port), Callback)
    except OSError as exc:
        raise ConnectFailed(
            f"Cannot listen on 127.0.0.1:{port} for Stripe's answer ({exc.strerror}): free the port, or pass "
            "--port with another port registered as a redirect URI."
        ) from None
    thread = threading.Thread(target=server.serve_forever, name="oauth-callback", daemon=True)
    thread.start()
    try:
        redirect_uri = redirect_uri_for(server.server_port)
        started = connector.start(method, redirect_uri)
        show(
            f"Open this link to connect a Stripe account (waiting for Stripe's answer on {redirect_uri}, which "
            "must be registered as a redirect URI of the Connect platform or the Stripe App):"
        )
        show(started.url)
        if open_browser:
            webbrowser.open(started.url)
        if not answered.wait(ATTEMPT_TTL_SECONDS):
            raise ConnectFailed(f"No answer from Stripe within {ATTEMPT_TTL_SECONDS // 60} minutes; nothing was saved.")
    finally:
        server.shutdown()
        server.server_close()
    if answer.get("state") != started.state:
        raise ConnectFailed("Stripe's answer carried another state than this flow's: nothing was saved.")
    return connector.finish(started.state, answer.get("code"), answer.get("error"), answer.get("error_description"))
