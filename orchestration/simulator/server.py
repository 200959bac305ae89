"""Running the simulator: in a background thread for tests and the demo, or in the foreground for the CLI."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import uvicorn

from orchestration.simulator.account import SimulatedAccount
from orchestration.simulator.app import SimulatorOptions, create_app

__all__ = ["SimulatorOptions", "SimulatorServer", "serve"]

STARTUP_TIMEOUT = 15.0


class SimulatorServer:
    """The simulator on a local port, served by uvicorn from a background thread.

    `accounts[0]` is the platform: its keys may act on the other accounts with `Stripe-Account`.
    `api_keys` maps secret keys to the account id they open (default: `sk_test_simulator` for the
    first account). `port=0` picks a free port; `base_url` is known once `start()` returns, which is
    when the server accepts connections. Use as a context manager, or call `start()`/`stop()`.
    """

    def __init__(
        self,
        accounts: Sequence[SimulatedAccount],
        api_keys: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        options: SimulatorOptions | None = None,
    ) -> None:
        self.accounts = list(accounts)
        self.app = create_app(self.accounts, api_keys, options)
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
) -> None:
    """Serves `accounts` on `host:port` until interrupted (Ctrl-C); for `stripe-warehouse simulate`."""
    app = create_app(list(accounts), api_keys, options)
    uvicorn.run(app, host=host, port=port, log_level="info", lifespan="off")
