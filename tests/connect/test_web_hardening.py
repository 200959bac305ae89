"""The admin web app against the findings of issue #13: no state change but by a POST with the session's CSRF
token, a login throttle nobody else can lock the admin out with, bounded request bodies, no request text
echoed as a message or into a log line, the public address taken from configuration, and the rest."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from orchestration.connect import auth, cli, flows
from orchestration.connect.flows import Connector
from orchestration.connect.restricted_key import KeyRefusedError
from orchestration.connect.store import ConnectionStore, Method
from orchestration.connect.web.app import create_app
from orchestration.settings import ConfigurationError, Secret
from tests.connect.connect_support import (
    ADMIN_PASSWORD,
    RESTRICTED_KEY,
    WebServer,
    authorize_at_simulator,
    csrf_of,
    logged_in,
)

REDIRECT_URI = "http://127.0.0.1:9/callback"


class Clock:
    now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list):
    """Stands in for asyncio.sleep in the login throttle: records each delay instead of waiting it out."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(0)


def _login(session: requests.Session, base_url: str, username: str, password: str) -> requests.Response:
    token = csrf_of(session.get(f"{base_url}/login", timeout=10).text)
    data = {"username": username, "password": password, "csrf_token": token}
    return session.post(f"{base_url}/login", data=data, allow_redirects=False, timeout=60)


def _from(address: str) -> requests.Session:
    """A browser at `address`, as the TLS proxy on 127.0.0.1 reports it (X-Forwarded-For)."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = address
    return session


def _connect_oauth(settings, email: str) -> str:
    connector = Connector(settings)
    started = connector.start(Method.CONNECT_OAUTH, REDIRECT_URI)
    answer = authorize_at_simulator(started.url, email)
    return connector.finish(answer["state"], answer["code"]).account_id


def _start(session: requests.Session, base_url: str, method: str = "connect_oauth") -> str:
    token = csrf_of(session.get(f"{base_url}/connections/new/stripe", timeout=10).text)
    answer = session.post(
        f"{base_url}/connections/oauth/start",
        data={"csrf_token": token, "method": method},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def _session_cookie(response: requests.Response) -> str:
    """The decoded payload of the signed session cookie the response sets."""
    value = response.cookies["stripe_warehouse_admin"]
    return base64.b64decode(value.split(".")[0] + "==").decode()


# High: a HEAD request disconnected an account.


def test_no_request_but_a_post_with_the_sessions_csrf_token_changes_anything(web, settings, accounts, email, sim):
    first = _connect_oauth(settings, email("first"))
    third = Connector(settings).add_key(Secret(RESTRICTED_KEY)).account_id
    store = ConnectionStore(settings.connect)
    session = logged_in(web.base_url)
    token = csrf_of(session.get(f"{web.base_url}/connections", timeout=10).text)

    def state() -> tuple:
        return store.connections(), store.admin("admin").session_epoch, sim.app.state.registry.is_connected(first)

    before = state()
    routes = ["/", "/login", "/logout", "/connections", "/connections/new", "/connections/new/stripe"]
    routes += ["/connections/oauth/start", "/connections/oauth/callback?state=x&code=y", "/connections/keys"]
    routes += [f"/connections/{a}/{action}" for a in (first, third) for action in ("reauthenticate", "disconnect")]
    routes += ["/static/style.css"]
    form = {"method": "connect_oauth", "api_key": RESTRICTED_KEY, "account": third}
    tried = [("POST", {}), ("POST", {"csrf_token": "forged"})]
    tried += [(m, {"csrf_token": token}) for m in ("GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")]
    for route in routes:
        for method, extra in tried:
            answer = session.request(
                method, web.base_url + route, data={**form, **extra}, allow_redirects=False, timeout=30
            )
            assert answer.status_code < 500, (method, route, answer.status_code)
            assert state() == before, (method, route)
    assert session.get(f"{web.base_url}/connections", allow_redirects=False, timeout=10).status_code == 200


# Medium: anyone could lock the admin out; parallel guesses skipped the throttle; scrypt below OWASP's cost.


def test_failed_logins_of_others_and_head_requests_do_not_lock_the_admin_out(web):
    anonymous = _from("203.0.113.7")
    for _ in range(10):
        assert anonymous.head(f"{web.base_url}/login", timeout=10).status_code == 200
    for n in range(auth.FREE_LOGIN_FAILURES + 1):
        assert _login(anonymous, web.base_url, "mallory", f"guess {n}").status_code == 401

    logged_in(web.base_url)  # from 127.0.0.1, at once


def test_failures_on_the_admins_name_slow_logins_down_but_never_refuse_the_right_password(make_settings):
    sleeps = Sleeps()
    with WebServer(create_app(make_settings(), clock=Clock(), sleep=sleeps)) as server:
        failures = 12
        for n in range(failures):  # from as many addresses, so only the user name's count adds up
            assert _login(_from(f"198.51.100.{n}"), server.base_url, "admin", f"guess {n}").status_code == 401
        expected = [auth.login_delay(n) for n in range(failures)]
        assert sleeps == [d for d in expected if d] and expected[:5] == [0] * 5 and expected[-1] > expected[5]

        right = _login(_from("192.0.2.1"), server.base_url, "admin", ADMIN_PASSWORD)

        assert (right.status_code, right.headers["location"]) == (303, "/connections")
        assert sleeps[-1] == auth.login_delay(failures) <= auth.MAX_LOGIN_DELAY_SECONDS <= 30
        sleeps.clear()  # a success starts the count again
        assert _login(_from("198.51.100.1"), server.base_url, "admin", "guess").status_code == 401
        assert sleeps == []


def _count_concurrent_hashes(monkeypatch) -> dict[str, int]:
    seen = {"now": 0, "max": 0, "calls": 0}
    lock = threading.Lock()
    scrypt = hashlib.scrypt

    def counted(*args, **kwargs):
        with lock:
            seen["now"] += 1
            seen["calls"] += 1
            seen["max"] = max(seen["max"], seen["now"])
        try:
            return scrypt(*args, **kwargs)
        finally:
            with lock:
                seen["now"] -= 1

    monkeypatch.setattr(auth.hashlib, "scrypt", counted)
    return seen


def _in_parallel(base_url: str, logins: list[tuple[str, str, str]]) -> list[int]:
    """(address, username, password) logins sent at once, each from its own session; their status codes."""
    prepared = []
    for address, username, password in logins:
        session = _from(address)
        token = csrf_of(session.get(f"{base_url}/login", timeout=10).text)
        prepared.append((session, {"username": username, "password": password, "csrf_token": token}))
    with ThreadPoolExecutor(len(prepared)) as pool:
        answers = pool.map(
            lambda p: p[0].post(f"{base_url}/login", data=p[1], allow_redirects=False, timeout=120), prepared
        )
        return [a.status_code for a in answers]


def test_parallel_guesses_are_hashed_a_few_at_a_time(web, monkeypatch):
    seen = _count_concurrent_hashes(monkeypatch)
    guesses = [(f"198.51.100.{n}", f"user{n}", f"guess {n}") for n in range(16)]

    assert _in_parallel(web.base_url, guesses) == [401] * 16

    assert seen["calls"] >= 16 and seen["max"] <= getattr(auth, "MAX_CONCURRENT_HASHES", 2)


def test_parallel_guesses_are_each_counted_before_any_is_checked(make_settings, monkeypatch):
    seen = _count_concurrent_hashes(monkeypatch)
    sleeps = Sleeps()
    with WebServer(create_app(make_settings(), clock=Clock(), sleep=sleeps)) as server:
        guesses = [(f"198.51.100.{n}", "admin", f"guess {n}") for n in range(30)]

        assert _in_parallel(server.base_url, guesses) == [401] * 30

    # Each guess saw the ones before it, however close together they came: 25 of them waited, longer and longer.
    assert sorted(sleeps) == sorted(d for d in map(auth.login_delay, range(30)) if d)
    assert seen["max"] <= auth.MAX_CONCURRENT_HASHES


def test_unlock_clears_the_login_throttle(make_settings, monkeypatch, capsys):
    settings = make_settings()
    sleeps = Sleeps()
    with WebServer(create_app(settings, clock=Clock(), sleep=sleeps)) as server:
        for n in range(auth.FREE_LOGIN_FAILURES + 2):
            _login(requests.Session(), server.base_url, "admin", f"guess {n}")
        assert len(sleeps) == 2
        monkeypatch.setattr(cli, "_settings", lambda: settings)

        assert cli._web(argparse.Namespace(host="127.0.0.1", port=8000, set_password=False, unlock=True)) == 0

        assert "unlocked" in capsys.readouterr().out.lower()
        _login(requests.Session(), server.base_url, "admin", "guess")
        assert len(sleeps) == 2  # no wait: the count started again


def test_passwords_are_hashed_at_owasps_cost_and_older_hashes_upgraded_at_login(make_settings, real_scrypt):
    assert (auth.SCRYPT_N, auth.SCRYPT_R, auth.SCRYPT_P) == (2**17, 8, 1)
    assert auth.hash_password("a long password").split("$")[1:4] == ["131072", "8", "1"]
    settings = make_settings(ADMIN_PASSWORD="")
    salt = os.urandom(16)
    digest = hashlib.scrypt(ADMIN_PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    old = "$".join(["scrypt", "16384", "8", "1", base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])
    store = ConnectionStore(settings.connect)
    store.set_admin_password_hash("admin", old)

    with WebServer(create_app(settings)) as server:
        session = logged_in(server.base_url)

        assert store.admin_password_hash("admin").startswith("scrypt$131072$8$1$")
        assert session.get(f"{server.base_url}/connections", allow_redirects=False, timeout=10).status_code == 200


# Medium: unbounded request bodies; malformed forms answered 500.


def _raw_answer(port: int, head: str, chunks: Iterable[bytes] = ()) -> str:
    """The status line the server answers a hand-made request with (within 10 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head.encode())
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:  # the server answered and closed while the body was still being sent
            pass
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    return answer.split(b"\r\n", 1)[0].decode()


def test_request_bodies_over_the_limit_are_refused_before_they_are_read(web):
    admin = logged_in(web.base_url)
    cookie = "; ".join(f"{name}={value}" for name, value in admin.cookies.items())
    for path, headers in (("/login", ""), ("/static/style.css", ""), ("/connections/keys", f"Cookie: {cookie}\r\n")):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n{headers}"
        )
        # 200 MB announced: refused at once, without waiting for (or reading) a byte of it.
        assert " 413 " in _raw_answer(web.port, head + "Content-Length: 209715200\r\n\r\n"), path
        # A chunked body carries no length: refused once what came exceeds the limit.
        chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
        assert " 413 " in _raw_answer(web.port, head + "Transfer-Encoding: chunked\r\n\r\n", [chunk] * 16), path


def test_malformed_forms_are_answered_400(web):
    session = requests.Session()
    token = csrf_of(session.get(f"{web.base_url}/login", timeout=10).text)
    url = f"{web.base_url}/login"
    huge_field = urlencode({"csrf_token": token, "username": "admin", "password": "a" * 40_000})
    many_fields = urlencode({"csrf_token": token, **{f"f{n}": "1" for n in range(1001)}})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = {
        "huge field": session.post(url, data=huge_field, headers=form, timeout=10),
        "1001 fields": session.post(url, data=many_fields, headers=form, timeout=10),
        "no boundary": session.post(url, data=b"x", headers={"Content-Type": "multipart/form-data"}, timeout=10),
        "a file": session.post(url, data={"csrf_token": token}, files={"f": ("f.txt", b"x")}, timeout=10),
    }
    assert {what: a.status_code for what, a in answers.items()} == dict.fromkeys(answers, 400)


# Low: a pasted key echoed, and a pasted key leaving an OAuth grant in place.


def test_a_pasted_key_is_echoed_neither_on_the_page_nor_in_the_cookie(web):
    session = logged_in(web.base_url)
    token = csrf_of(session.get(f"{web.base_url}/connections/new/stripe", timeout=10).text)
    key = "rk_test_secretpart\nmoresecret1234"

    refused = session.post(
        f"{web.base_url}/connections/keys", data={"csrf_token": token, "api_key": key}, allow_redirects=False
    )
    page = session.get(web.base_url + refused.headers["location"], timeout=10).text

    assert "The key was not saved" in page
    for where in (page, _session_cookie(refused)):
        assert "secretpart" not in where and "moresecret" not in where


def test_stripes_message_is_masked_even_when_it_quotes_the_whole_key(settings, monkeypatch):
    def echoing(api_base, key):
        raise KeyRefusedError(f"Invalid API Key provided: {key.value} ({key.value!r})")

    monkeypatch.setattr(flows, "check_key", echoing)
    for key in ("rk_test_abcdefgh12345678", "rk_test_secretpart\nmoresecret1234", "rk_test_a b\tc\r\nd_efghij99"):
        with pytest.raises(flows.ConnectError) as refused:
            Connector(settings).add_key(Secret(key))
        text = str(refused.value)
        fragments = [f for f in key.replace("\\", " ").split() if len(f) > 4]
        assert not [f for f in fragments if f in text], text


def test_pasting_a_key_over_a_connect_oauth_connection_revokes_the_old_grant(web, settings, accounts, email, sim):
    third = _connect_oauth(settings, email("third"))
    assert sim.app.state.registry.is_connected(third)
    session = logged_in(web.base_url)
    token = csrf_of(session.get(f"{web.base_url}/connections/new/stripe?account={third}", timeout=10).text)

    page = session.post(
        f"{web.base_url}/connections/keys", data={"csrf_token": token, "api_key": RESTRICTED_KEY, "account": third}
    ).text

    assert f"Successfully connected {third} with a restricted key" in page and "revoked" in page
    assert not sim.app.state.registry.is_connected(third)
    assert ConnectionStore(settings.connect).find(third).method is Method.RESTRICTED_KEY


# Low: request text shown as a message; flows cancelled across tabs.


def test_text_from_a_link_never_becomes_a_message_on_the_page(web):
    session = logged_in(web.base_url)
    links = [
        "/connections/Your%20account%20was%20hacked%2C%20call%20555-0100/disconnect",
        "/connections/Your%20account%20was%20hacked/reauthenticate",
        "/connections/new/stripe?account=Your+account+was+hacked",
    ]
    for link in links:
        token = csrf_of(session.get(f"{web.base_url}/connections", timeout=10).text)
        if link.endswith("reauthenticate"):
            page = session.post(web.base_url + link, data={"csrf_token": token}, timeout=10).text
        else:
            page = session.get(web.base_url + link, timeout=10).text
        assert "hacked" not in page, link


def test_a_cross_site_callback_does_not_cancel_a_connection_under_way(web, settings, accounts, email):
    session = logged_in(web.base_url)
    url = _start(session, web.base_url)
    for forged in ("", "?state=forged&code=ac_forged", "?error=access_denied"):  # links on another site
        session.get(f"{web.base_url}/connections/oauth/callback{forged}", timeout=10)

    answer = authorize_at_simulator(url, email("first"))
    page = session.get(f"{web.base_url}/connections/oauth/callback?{urlencode(answer)}", timeout=10).text

    assert f"Successfully connected {accounts['first'].account_id}" in page


def test_two_connections_started_side_by_side_both_finish_each_once(web, settings, accounts, email):
    session = logged_in(web.base_url)
    first_tab, second_tab = _start(session, web.base_url), _start(session, web.base_url, "stripe_app")
    first = authorize_at_simulator(first_tab, email("first"))
    second = authorize_at_simulator(second_tab, email("second"))

    pages = [
        session.get(f"{web.base_url}/connections/oauth/callback?{urlencode(a)}", timeout=10).text
        for a in (second, first)
    ]

    assert f"Successfully connected {accounts['second'].account_id}" in pages[0]
    assert f"Successfully connected {accounts['first'].account_id}" in pages[1]
    again = session.get(f"{web.base_url}/connections/oauth/callback?{urlencode(first)}", timeout=10).text
    assert "does not belong to a connection started in this browser" in again


# Low: log forging.


def test_a_refused_path_is_logged_on_one_line(web, caplog):
    session = logged_in(web.base_url)
    caplog.set_level(logging.INFO)
    forged = "/connections/acct_x%0AWARNING%20Disconnected%20acct_1Real%0D/disconnect"

    assert session.post(web.base_url + forged, data={}, timeout=10).status_code == 403

    refused = [r.getMessage() for r in caplog.records if "CSRF" in r.getMessage()]
    assert refused and not [m for m in refused if "\n" in m or "\r" in m]


# Low: the Host header trusted; the cookie behind a TLS proxy; HSTS; the CSP.


def test_other_hosts_are_refused_and_links_use_the_configured_address(make_settings, web):
    for host in ("evil.example", "evil.example:80", "127.0.0.1.evil.example"):
        answer = requests.get(f"{web.base_url}/login", headers={"Host": host}, timeout=10)
        assert answer.status_code == 400, host
    page = requests.get(f"{web.base_url}/login", headers={"Host": f"localhost:{web.port}"}, timeout=10).text
    assert 'href="/static/style.css"' in page and "localhost" not in page
    session = logged_in(web.base_url, Host=f"localhost:{web.port}")
    redirect_uri = parse_qs(urlsplit(_start(session, web.base_url)).query)["redirect_uri"][0]
    assert redirect_uri == f"{web.base_url}/connections/oauth/callback"  # the port served, never the Host header

    settings = make_settings(ADMIN_BASE_URL="https://admin.example.com/")
    with WebServer(create_app(settings)) as server:
        assert requests.get(f"{server.base_url}/login", headers={"Host": "evil.example"}, timeout=10).status_code == 400
        session = logged_in(server.base_url, Host="admin.example.com")
        redirect_uri = parse_qs(urlsplit(_start(session, server.base_url)).query)["redirect_uri"][0]
    assert redirect_uri == "https://admin.example.com/connections/oauth/callback"
    wrong_values = ("admin.example.com", "ftp://admin.example.com", "https://admin.example.com/admin", "https://")
    for wrong in (*wrong_values, "https://admin.example.com:https", "https://user@admin.example.com"):
        with pytest.raises(ConfigurationError, match="ADMIN_BASE_URL"):
            make_settings(ADMIN_BASE_URL=wrong)


def test_behind_a_tls_proxy_the_cookie_is_secure_and_hsts_is_sent(web):
    proxied = requests.get(f"{web.base_url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    plain = requests.get(f"{web.base_url}/login", timeout=10)

    assert "; secure" in proxied.headers["set-cookie"].lower()
    assert proxied.headers["strict-transport-security"].startswith("max-age=")
    assert "; secure" not in plain.headers["set-cookie"].lower() and "strict-transport-security" not in plain.headers
    for answer in (proxied, plain):  # a session cookie: gone when the browser closes
        assert "max-age" not in answer.headers["set-cookie"].lower()
        assert "expires" not in answer.headers["set-cookie"].lower()


def test_the_web_command_trusts_proxy_headers_from_loopback_only(settings, monkeypatch, capsys):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app, **kwargs))
    monkeypatch.setattr(cli, "_settings", lambda: settings)
    monkeypatch.delenv("ADMIN_COOKIE_SECURE", raising=False)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own setting: not what the admin page trusts

    assert cli._web(argparse.Namespace(host="127.0.0.1", port=8123, set_password=False, unlock=False)) == 0

    assert served["proxy_headers"] is True
    assert sorted(str(served["forwarded_allow_ips"]).replace(" ", "").split(",")) == ["127.0.0.1", "::1"]
    assert "http://127.0.0.1:8123/connections" in capsys.readouterr().out
    with pytest.raises(ConfigurationError, match="ADMIN_BASE_URL"):  # reached from elsewhere: through the proxy
        cli._web(argparse.Namespace(host="0.0.0.0", port=8123, set_password=False, unlock=False))


def test_the_csp_forbids_base_and_lets_forms_go_to_this_site_and_stripes_oauth_pages_only(make_settings, web, sim):
    policy = requests.get(f"{web.base_url}/login", timeout=10).headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"][0] == "'self'" and sim.base_url in directives["form-action"]

    stripe = make_settings(
        STRIPE_CONNECT_BASE="https://connect.stripe.com", STRIPE_MARKETPLACE_BASE="https://marketplace.stripe.com"
    )
    with WebServer(create_app(stripe)) as server:
        policy = requests.get(f"{server.base_url}/login", timeout=10).headers["content-security-policy"]
    assert "https://connect.stripe.com" in policy and "https://marketplace.stripe.com" in policy
    assert sim.base_url not in policy.split("form-action", 1)[1].split(";")[0]
