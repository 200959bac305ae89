"""Running the simulator: in a background thread for tests and the demo, or in the foreground for the CLI.

Both runners serve with uvicorn on its default event loop and HTTP parser (uvloop and httptools when
installed). Every endpoint is async and never blocks, so latency is waited out concurrently: hundreds of
requests can be in flight at once, with no thread pool to run out of. The runners also give the app a
way to drop a connection (uvicorn does not hand the ASGI app its socket).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import Scope

from orchestration.simulator.model.account import SimulatedAccount
from orchestration.simulator.oauth.options import OAuthOptions
from orchestration.simulator.oauth.provider import OAuthProvider
from orchestration.simulator.serve.app import create_app
from orchestration.simulator.serve.options import SimulatorOptions
from orchestration.simulator.serve.traffic import TrafficStats

__all__ = ["OAuthOptions", "SimulatorOptions", "SimulatorServer", "TrafficStats", "serve"]

STARTUP_TIMEOUT = 15.0


class SimulatorServer:
    """The simulator on a local port, served by uvicorn from a background thread.

    `accounts[0]` is the platform: its keys may act on the other accounts with `Stripe-Account` (on every
    one from the start, unless `OAuthOptions(connected_at_start=False)`; not on a deauthorized one).
    `api_keys` maps secret keys to the account id they open (default: `sk_test_simulator` for the
    first account). `port=0` picks a free port; `base_url` is known once `start()` returns, which is
    when the server accepts connections. Use as a context manager, or call `start()`/`stop()`.

    While it runs, a test can change latency, rate limits and faults (`configure`: random 429s, 5xx
    errors, connections dropped before an answer or cut off in its middle, slow answers), force a storm of
    429s (`rate_limit_storm`), revoke an account's access (`revoke`/`restore`, or `revoke_after` some
    requests), and read how many requests each account received (`stats`, `stats_total`).

    It also plays Stripe's side of Connect OAuth and Stripe Apps OAuth (`oauth`, configured by `oauth=`
    `OAuthOptions`): its client ids, test controls (`oauth.configure`, `expire_access_tokens`), and
    `deauthorize`, as when a user disconnects the platform or uninstalls its app from their dashboard.
    """

    def __init__(
        self,
        accounts: Sequence[SimulatedAccount],
        api_keys: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        options: SimulatorOptions | None = None,
        oauth: OAuthOptions | None = None,
    ) -> None:
        self.accounts = list(accounts)
        self.app = create_app(self.accounts, api_keys, options, oauth)
        self._traffic = self.app.state.traffic
        self._registry = self.app.state.registry
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        if self._server is not None:
            return self
        # Binding here, not in uvicorn, makes port 0 resolve before start() returns.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        self._traffic.dropper = _dropper(server)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="stripe-simulator", daemon=True
        )
        self._server = server
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the simulator failed to start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STARTUP_TIMEOUT)
        self._server = self._thread = None

    # Conditions and counters.

    @property
    def options(self) -> SimulatorOptions:
        """The options in force (`configure` replaces them)."""
        return self._traffic.options

    def configure(self, **changes: Any) -> SimulatorOptions:
        """Changes latency, rate limit or fault options (`RUNTIME_OPTIONS`) while serving:
        `configure(fault_rate=0.1, fault_statuses=(500, 503), truncate_rate=0.05)`."""
        return self._traffic.configure(**changes)

    def rate_limit_storm(self, requests: int | None = None, seconds: float | None = None) -> None:
        """Answers 429 to the next `requests` requests, and/or to every request for `seconds`."""
        self._traffic.storm(requests, seconds)

    def revoke(self, account_id: str) -> None:
        """Ends access to an account, as when a connected account disconnects or its key is rolled:
        its own keys get 401 `api_key_invalid`, the platform's key 403 `account_invalid` for it."""
        self._registry.revoke(account_id)

    def revoke_after(self, account_id: str, requests: int) -> None:
        """Serves `requests` more requests reading the account, then revokes it as `revoke` does: access
        that ends in the middle of a sync."""
        self._registry.revoke_after(account_id, requests)

    def restore(self, account_id: str) -> None:
        self._registry.restore(account_id)

    # OAuth.

    @property
    def oauth(self) -> OAuthProvider:
        """The OAuth side: `connect_client_id`, `app_client_id`, `login_emails`, `configure(...)`."""
        return self.app.state.oauth

    def deauthorize(self, account_id: str, *, connect: bool = True, app: bool = True) -> None:
        """As if the account's user revoked access from their dashboard: `connect` disconnects it from the
        platform (its key plus `Stripe-Account` gets 403 `account_invalid`, Connect tokens 401), `app`
        uninstalls the app (its tokens get 401). Its own keys keep working."""
        self.oauth.deauthorize(account_id, connect=connect, app=app)

    def expire_access_tokens(self) -> None:
        """Makes every Stripe App access token issued so far expire now (401 `api_key_expired`)."""
        self.oauth.expire_access_tokens()

    def stats(self, account_id: str) -> TrafficStats:
        """What requests reading `account_id` the server received, and how it answered them."""
        return self._traffic.stats(account_id)

    def stats_total(self) -> TrafficStats:
        return self._traffic.stats_total()

    def reset_stats(self) -> None:
        self._traffic.reset_stats()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    host: str,
    port: int,
    accounts: Sequence[SimulatedAccount],
    api_keys: dict[str, str] | None = None,
    options: SimulatorOptions | None = None,
    oauth: OAuthOptions | None = None,
) -> None:
    """Serves `accounts` on `host:port` until interrupted (Ctrl-C); for `stripe-warehouse simulate`."""
    app = create_app(list(accounts), api_keys, options, oauth)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="off"))
    app.state.traffic.dropper = _dropper(server)
    server.run()


def _dropper(server: uvicorn.Server) -> Callable[[Scope], None]:
    """Closes the connection a request came on. uvicorn keeps its open connections (protocol objects,
    each with its peer address and transport) in `server_state`; the request's scope names its peer."""

    def drop(scope: Scope) -> None:
        client = scope.get("client")
        for protocol in list(server.server_state.connections):
            if getattr(protocol, "client", None) == client:
                protocol.transport.abort()
                return
        raise RuntimeError(f"no open connection from {client} to drop")

    return drop
