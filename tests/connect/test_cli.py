"""The command line: `connections list|add-key|remove`, `connect` (a local OAuth flow), and `run`'s check."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest
import requests
from connect_support import PLATFORM_KEY, RESTRICTED_KEY, redirect_from_simulator

from orchestration.cli import main
from orchestration.connect.flows import ConnectFailed, Connector
from orchestration.connect.local_flow import connect_locally
from orchestration.connect.store import ConnectionStore, Method


@pytest.fixture
def cli_env(monkeypatch, tmp_path, sim):
    env = {
        "STRIPE_API_BASE": sim.base_url,
        "STRIPE_CONNECT_BASE": sim.base_url,
        "STRIPE_CONNECT_CLIENT_ID": sim.oauth.connect_client_id,
        "STRIPE_PLATFORM_KEY": PLATFORM_KEY,
        "DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("STRIPE_API_KEY", "STRIPE_ACCOUNT_IDS", "CONNECTIONS_DB", "CONNECTIONS_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_add_key_list_and_remove(cli_env, monkeypatch, capsys, accounts):
    third = accounts["third"].account_id
    monkeypatch.setattr("sys.stdin", io.StringIO("rk_test_not_valid_key_4321\n"))
    assert main(["connections", "add-key"]) == 1
    assert "Invalid API Key provided: rk_test_" in capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", io.StringIO(RESTRICTED_KEY + "\n"))
    assert main(["connections", "add-key"]) == 0
    assert main(["connections", "list"]) == 0
    listed = capsys.readouterr().out
    assert third in listed and "Restricted key" in listed and "active" in listed and "never" in listed
    assert RESTRICTED_KEY not in listed

    assert main(["connections", "remove", third]) == 0
    assert "its data stays in the warehouse" in capsys.readouterr().out
    assert main(["connections", "remove", third]) == 1
    assert main(["connections", "list"]) == 0
    assert "No Stripe account is connected" in capsys.readouterr().out


def test_run_refuses_without_any_account_and_names_the_ways_to_add_one(cli_env, capsys):
    assert main(["run"]) == 2
    assert "stripe-warehouse connect" in capsys.readouterr().err


def _start_local_flow(settings, method: Method) -> tuple[threading.Thread, list[str], dict]:
    """Runs connect_locally in a thread until it has shown the URL to open: (the thread, what it showed, and
    what it ends with: `connection` or `error`)."""
    shown: list[str] = []
    result: dict = {}

    def flow() -> None:
        try:
            result["connection"] = connect_locally(
                Connector(settings), method, port=0, open_browser=False, show=shown.append
            )
        except ConnectFailed as exc:
            result["error"] = exc

    thread = threading.Thread(target=flow)
    thread.start()
    deadline = time.monotonic() + 10
    while len(shown) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    return thread, shown, result


def test_connect_catches_the_callback_locally(settings, accounts, email):
    thread, shown, result = _start_local_flow(settings, Method.CONNECT_OAUTH)
    callback = redirect_from_simulator(shown[1], email("first"))
    assert callback.startswith("http://127.0.0.1:") and "/callback?" in callback
    assert "close this tab" in requests.get(callback, timeout=10).text
    thread.join(timeout=10)

    assert result["connection"].account_id == accounts["first"].account_id
    assert [c.account_id for c in ConnectionStore(settings.connect).connections()] == [accounts["first"].account_id]


def test_connect_reports_a_denial_and_stores_nothing(settings, email):
    thread, shown, result = _start_local_flow(settings, Method.STRIPE_APP)
    requests.get(redirect_from_simulator(shown[1], email("second"), allow=False), timeout=10)
    thread.join(timeout=10)

    assert "Access was denied" in str(result["error"])
    assert ConnectionStore(settings.connect).connections() == []


def test_connect_listens_on_a_fixed_port_and_names_the_redirect_uri_to_register(settings, monkeypatch):
    import argparse

    from orchestration.connect import local_flow
    from orchestration.connect.cli import register_connect_commands

    parser = argparse.ArgumentParser()
    register_connect_commands(parser.add_subparsers())
    assert parser.parse_args(["connect"]).port == local_flow.DEFAULT_PORT == 8765
    shown: list[str] = []
    monkeypatch.setattr(local_flow, "ATTEMPT_TTL_SECONDS", 0.01)  # no answer: the flow ends at once

    with pytest.raises(ConnectFailed, match="No answer from Stripe"):
        connect_locally(Connector(settings), Method.CONNECT_OAUTH, port=0, open_browser=False, show=shown.append)

    assert "must be registered as a redirect URI" in shown[0]
    assert re.search(r"http://127\.0\.0\.1:\d+/callback", shown[0])
    assert local_flow.redirect_uri_for(8765) == "http://127.0.0.1:8765/callback"


def test_a_busy_port_is_reported_with_the_way_out(settings):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConnectFailed, match=f"Cannot listen on 127.0.0.1:{port}.*--port"):
            connect_locally(Connector(settings), Method.CONNECT_OAUTH, port=port, open_browser=False, show=print)
