"""The command line: `connections list|add-key|remove|rotate-key`, `connect` (a local OAuth flow), and `run`'s
check."""

from __future__ import annotations

import io
import re
import socket
import threading
import time
import unicodedata
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from orchestration.cli import main
from orchestration.connect.flows import ConnectError, Connector
from orchestration.connect.local_flow import connect_locally
from orchestration.connect.store import ConnectionStore, Method
from orchestration.settings import Settings
from tests.connect.connect_support import PLATFORM_KEY, RESTRICTED_KEY, redirect_from_simulator


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
        except ConnectError as exc:
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

    with pytest.raises(ConnectError, match="No answer from Stripe"):
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
        with pytest.raises(ConnectError, match=f"Cannot listen on 127.0.0.1:{port}.*--port"):
            connect_locally(Connector(settings), Method.CONNECT_OAUTH, port=port, open_browser=False, show=print)


# What Stripe controls never reaches the terminal raw.

EVIL_NAME = "Evil\x1b[2J\x1b]0;pwned\x07 Ltd\r\nacct_1Forged0000000000 live\u202etxt.exe\x9b31m\x00\u2028end"


def _controls(text: str) -> set[str]:
    """The characters of `text` a terminal would act on, line breaks between printed lines aside."""
    bidi = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
    return {ch for ch in text if ch != "\n" and (unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in bidi)}


def test_names_from_stripe_and_the_store_reach_the_terminal_without_control_characters(
    cli_env, monkeypatch, capsys, accounts
):
    third = accounts["third"].account_id
    monkeypatch.setitem(accounts["third"].account["business_profile"], "name", EVIL_NAME)
    monkeypatch.setattr("sys.stdin", io.StringIO(RESTRICTED_KEY + "\n"))

    assert main(["connections", "add-key"]) == 0
    added = capsys.readouterr().out
    assert added.count("\n") == 1 and _controls(added) == set() and added.startswith(f"Connected {third} Evil")

    settings = Settings.from_env()
    ConnectionStore(settings.connect).set_status_reason(third, "Stripe said:\x1b[31m revoked\r\n\x1b[1A forged")
    assert main(["connections", "list"]) == 0
    listed = capsys.readouterr().out
    assert _controls(listed) == set()
    assert listed.count("\n") == 3  # the header, the connection, its note: nothing forged a line
    assert "\\x1b[2J" in listed and "\\u202e" in listed  # shown escaped, so the admin sees what was there

    forged = ConnectionStore(settings.connect).find(third)
    monkeypatch.setattr(
        "orchestration.connect.local_flow.connect_locally", lambda *args, **kwargs: replace(forged, account_id=third)
    )
    assert main(["connect", "--no-browser", "--port", "0"]) == 0
    connected = capsys.readouterr().out
    assert connected.count("\n") == 1 and _controls(connected) == set() and "Successfully connected" in connected


# The `connect` command's callback catcher.


def test_connect_survives_stray_requests_and_waits_for_stripes_answer(settings, accounts, email):
    thread, shown, result = _start_local_flow(settings, Method.CONNECT_OAUTH)
    callback = redirect_from_simulator(shown[1], email("first"))
    base = callback.split("/callback")[0]
    silent = socket.create_connection(("127.0.0.1", urlsplit(base).port))
    try:  # a browser's speculative connection that never sends a request
        strays = [
            requests.get(f"{base}/favicon.ico", timeout=5),
            requests.head(callback, timeout=5),
            requests.get(f"{base}/callback", timeout=5),
            requests.get(f"{base}/callback?state=forged&code=ac_forged", timeout=5),
            requests.get(f"{base}/callback?error=access_denied", timeout=5),
            requests.post(callback, timeout=5),
        ]
        assert all(stray.status_code >= 400 for stray in strays), [s.status_code for s in strays]
        assert not result and thread.is_alive()  # still waiting

        assert "close this tab" in requests.get(callback, timeout=10).text
    finally:
        silent.close()
    thread.join(timeout=10)

    assert result["connection"].account_id == accounts["first"].account_id


# The key: checked before anything is asked of Stripe, rotated, never needed to remove.


def test_commands_that_store_a_secret_refuse_an_invalid_key_before_asking_stripe(cli_env, monkeypatch, capsys, sim):
    from orchestration.connect import local_flow

    monkeypatch.setenv("CONNECTIONS_SECRET_KEY", "not-a-valid-key")
    monkeypatch.setenv("STRIPE_APP_CLIENT_ID", sim.oauth.app_client_id)
    monkeypatch.setattr(local_flow, "ATTEMPT_TTL_SECONDS", 0.01)
    monkeypatch.setattr("sys.stdin", io.StringIO(RESTRICTED_KEY + "\n"))
    sim.reset_stats()

    assert main(["connections", "add-key"]) == 2
    assert main(["connect", "--app", "--no-browser", "--port", "0"]) == 2

    errors = capsys.readouterr().err
    assert errors.count("CONNECTIONS_SECRET_KEY is not a valid key") == 2 and "not-a-valid-key" not in errors
    assert sim.stats_total().requests == 0


def test_rotate_key_reseals_the_stored_secrets_with_a_new_key_file(cli_env, monkeypatch, capsys, accounts):
    monkeypatch.setattr("sys.stdin", io.StringIO(RESTRICTED_KEY + "\n"))
    assert main(["connections", "add-key"]) == 0
    settings = Settings.from_env()
    old_key = settings.connect.key_path.read_text()
    capsys.readouterr()

    assert main(["connections", "rotate-key"]) == 0

    out = capsys.readouterr().out
    new_key = settings.connect.key_path.read_text()
    assert new_key != old_key and new_key.strip() not in out and old_key.strip() not in out
    assert "Re-encrypted 1 stored secret" in out and str(settings.connect.key_path) in out
    stored = ConnectionStore(settings.connect).get(accounts["third"].account_id)
    assert stored.tokens.api_key.value == RESTRICTED_KEY


def test_rotate_key_prints_the_key_to_set_when_it_comes_from_the_environment(cli_env, monkeypatch, capsys, caplog):
    old_key = Fernet.generate_key().decode()
    monkeypatch.setenv("CONNECTIONS_SECRET_KEY", old_key)
    monkeypatch.setattr("sys.stdin", io.StringIO(RESTRICTED_KEY + "\n"))
    assert main(["connections", "add-key"]) == 0
    capsys.readouterr()

    assert main(["connections", "rotate-key"]) == 0

    out = capsys.readouterr().out
    (new_key,) = re.findall(r"^CONNECTIONS_SECRET_KEY=(\S+)$", out, re.MULTILINE)
    Fernet(new_key.encode())
    assert old_key not in out and new_key not in caplog.text
    assert not Settings.from_env().connect.key_path.exists()
    monkeypatch.setenv("CONNECTIONS_SECRET_KEY", new_key)
    assert main(["connections", "list"]) == 0
    store = ConnectionStore(Settings.from_env().connect)
    (connection,) = store.connections()
    assert store.get(connection.account_id).tokens.api_key.value == RESTRICTED_KEY


def test_remove_works_with_a_wrong_key(cli_env, monkeypatch, capsys, accounts):
    monkeypatch.setattr("sys.stdin", io.StringIO(RESTRICTED_KEY + "\n"))
    assert main(["connections", "add-key"]) == 0
    monkeypatch.setenv("CONNECTIONS_SECRET_KEY", Fernet.generate_key().decode())  # not the key that sealed it

    assert main(["connections", "remove", accounts["third"].account_id]) == 0

    assert "its data stays in the warehouse" in capsys.readouterr().out
    assert ConnectionStore(Settings.from_env().connect).connections() == []
