"""The admin web app over HTTP: nothing without login, CSRF on every form, sessions that expire."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import requests

from orchestration.connect.auth import FREE_LOGIN_FAILURES, MAX_LOGIN_DELAY_SECONDS, login_delay
from orchestration.connect.flows import Connector
from orchestration.connect.store import Connection, ConnectionStore, Method
from orchestration.connect.web.app import create_app
from orchestration.settings import Secret
from tests.connect.connect_support import ADMIN_PASSWORD, RESTRICTED_KEY, WebServer, authorize_at_simulator

PAGES = [
    "/",
    "/connections",
    "/connections/new",
    "/connections/new/stripe",
    "/connections/oauth/callback?code=x&state=y",
    "/connections/acct_1/disconnect",
]
FORMS = [
    "/logout",
    "/connections/oauth/start",
    "/connections/keys",
    "/connections/acct_1/reauthenticate",
    "/connections/acct_1/disconnect",
]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _logged_in(base_url: str, password: str = ADMIN_PASSWORD) -> requests.Session:
    session = requests.Session()
    token = _csrf(session.get(f"{base_url}/login", timeout=10).text)
    answer = session.post(
        f"{base_url}/login", data={"username": "admin", "password": password, "csrf_token": token}, timeout=10
    )
    assert answer.status_code == 200 and answer.url.endswith("/connections"), answer.text
    return session


def test_every_page_and_form_needs_the_admin(web):
    anonymous = requests.Session()
    for path in PAGES:
        answer = anonymous.get(web.base_url + path, allow_redirects=False, timeout=10)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/login"), path
    token = _csrf(anonymous.get(f"{web.base_url}/login", timeout=10).text)
    for path in FORMS:  # even with a valid CSRF token of an anonymous session
        answer = anonymous.post(web.base_url + path, data={"csrf_token": token}, allow_redirects=False, timeout=10)
        assert answer.status_code == 403, path
    shown = anonymous.get(f"{web.base_url}/connections", timeout=10)
    assert shown.url.endswith("/login") and "Log in" in shown.text and "Add a data source" not in shown.text


def test_a_wrong_password_is_refused_and_the_right_one_stored_hashed(web, settings):
    session = requests.Session()
    token = _csrf(session.get(f"{web.base_url}/login", timeout=10).text)
    wrong = session.post(
        f"{web.base_url}/login", data={"username": "admin", "password": "guess", "csrf_token": token}, timeout=10
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert session.get(f"{web.base_url}/connections", allow_redirects=False, timeout=10).status_code == 303

    page = _logged_in(web.base_url).get(f"{web.base_url}/connections", timeout=10)

    assert "Add a data source" in page.text
    stored = ConnectionStore(settings.connect).admin_password_hash("admin")
    assert stored.startswith("scrypt$") and ADMIN_PASSWORD not in stored
    assert ADMIN_PASSWORD.encode() not in settings.connect.db_path.read_bytes()


def test_forms_without_the_sessions_csrf_token_are_refused(web, settings):
    session = _logged_in(web.base_url)
    for data in ({}, {"csrf_token": "forged"}):
        answer = session.post(
            f"{web.base_url}/connections/keys", data={"api_key": "rk_test_x", **data}, allow_redirects=False, timeout=10
        )
        assert answer.status_code == 403 and "did not come from this site" in answer.text
    login = requests.post(
        f"{web.base_url}/login",
        data={"username": "admin", "password": ADMIN_PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 403  # the login form is protected too
    assert ConnectionStore(settings.connect).connections() == []


class Clock:
    now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_expires(make_settings):
    clock = Clock()
    settings = make_settings(ADMIN_SESSION_MINUTES="30")
    with WebServer(create_app(settings, clock=clock)) as server:
        session = _logged_in(server.base_url)
        clock.now += 29 * 60
        assert session.get(f"{server.base_url}/connections", allow_redirects=False, timeout=10).status_code == 200
        clock.now += 2 * 60
        expired = session.get(f"{server.base_url}/connections", allow_redirects=False, timeout=10)
    assert (expired.status_code, expired.headers["location"]) == (303, "/login")


def test_changing_the_password_ends_sessions(make_settings):
    settings = make_settings()
    with WebServer(create_app(settings)) as server:
        session = _logged_in(server.base_url)
        create_app(make_settings(ADMIN_PASSWORD="another long password"))  # a restart with a new password
        answer = session.get(f"{server.base_url}/connections", allow_redirects=False, timeout=10)
        assert answer.status_code == 303
        _logged_in(server.base_url, "another long password")


def test_the_app_will_not_start_without_an_admin_password(make_settings):
    from orchestration.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match="--set-password"):
        create_app(make_settings(ADMIN_PASSWORD=""))


def test_a_logged_in_admins_forms_without_the_csrf_token_are_refused(web, settings, email):
    session = _logged_in(web.base_url)
    Connector(settings).add_key(Secret(RESTRICTED_KEY))
    account = ConnectionStore(settings.connect).connections()[0].account_id
    forms = {
        "/logout": {},
        "/connections/oauth/start": {"method": "connect_oauth"},
        f"/connections/{account}/reauthenticate": {},
        f"/connections/{account}/disconnect": {},
    }
    for path, data in forms.items():
        answer = session.post(web.base_url + path, data=data, allow_redirects=False, timeout=10)
        assert answer.status_code == 403 and "did not come from this site" in answer.text, path

    assert [c.account_id for c in ConnectionStore(settings.connect).connections()] == [account]
    assert session.get(f"{web.base_url}/connections", allow_redirects=False, timeout=10).status_code == 200


def _start(session: requests.Session, base_url: str) -> str:
    """Starts Connect OAuth from the admin's page; the authorize URL Stripe is sent to."""
    token = _csrf(session.get(f"{base_url}/connections/new/stripe", timeout=10).text)
    answer = session.post(
        f"{base_url}/connections/oauth/start",
        data={"csrf_token": token, "method": "connect_oauth"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def _banner(page: str) -> str:
    return re.search(r'<p class="banner[^"]*"[^>]*>([^<]*)</p>', page).group(1)


def test_a_valid_state_from_another_browser_session_is_refused_unspent(web, settings, accounts, email):
    victim, attacker = _logged_in(web.base_url), _logged_in(web.base_url)
    _start(victim, web.base_url)  # the victim's attempt is under way
    answer = authorize_at_simulator(_start(attacker, web.base_url), email("second"))  # a valid, unspent state

    callback = f"{web.base_url}/connections/oauth/callback?{urlencode(answer)}"
    refused = victim.get(callback, timeout=10)  # the attacker gets the victim's browser to bring it back

    assert "does not belong to a connection started in this browser" in _banner(refused.text)
    assert ConnectionStore(settings.connect).connections() == []
    connected = attacker.get(callback, timeout=10)  # the state was not spent by the refusal
    assert f"Successfully connected {accounts['second'].account_id}" in _banner(connected.text)


def test_re_authenticating_on_the_page_as_another_account_is_refused(web, settings, accounts, email):
    first = accounts["first"].account_id
    session = _logged_in(web.base_url)
    connect = authorize_at_simulator(_start(session, web.base_url), email("first"))
    session.get(f"{web.base_url}/connections/oauth/callback?{urlencode(connect)}", timeout=10)
    token = _csrf(session.get(f"{web.base_url}/connections", timeout=10).text)
    started = session.post(
        f"{web.base_url}/connections/{first}/reauthenticate",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    answer = authorize_at_simulator(started.headers["location"], email("second"))

    page = session.get(f"{web.base_url}/connections/oauth/callback?{urlencode(answer)}", timeout=10)

    assert f"You signed in to {accounts['second'].account_id} at Stripe, but were re-authenticating {first}" in (
        _banner(page.text)
    )
    assert [c.account_id for c in ConnectionStore(settings.connect).connections()] == [first]


def test_logging_out_ends_the_session_on_the_server(web):
    session = _logged_in(web.base_url)
    stolen = requests.Session()
    stolen.cookies.update(session.cookies)  # a copy of the cookie, taken before the logout
    token = _csrf(session.get(f"{web.base_url}/connections", timeout=10).text)

    logout = session.post(f"{web.base_url}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10)

    assert logout.status_code == 303
    answer = stolen.get(f"{web.base_url}/connections", allow_redirects=False, timeout=10)
    assert (answer.status_code, answer.headers.get("location")) == (303, "/login")
    _logged_in(web.base_url)  # a new login works


def test_repeated_failed_logins_slow_the_login_down_but_never_refuse_the_right_password(make_settings):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with WebServer(create_app(make_settings(), clock=Clock(), sleep=sleep)) as server:
        session = requests.Session()

        def log_in(password: str) -> requests.Response:
            token = _csrf(session.get(f"{server.base_url}/login", timeout=10).text)
            data = {"username": "admin", "password": password, "csrf_token": token}
            return session.post(f"{server.base_url}/login", data=data, allow_redirects=False, timeout=10)

        assert [log_in(f"guess {n}").status_code for n in range(FREE_LOGIN_FAILURES)] == [401] * FREE_LOGIN_FAILURES
        assert waits == []
        assert log_in(ADMIN_PASSWORD).status_code == 303  # the right password, after a wait
        assert waits == [login_delay(FREE_LOGIN_FAILURES)] and 0 < waits[0] <= MAX_LOGIN_DELAY_SECONDS
    assert login_delay(FREE_LOGIN_FAILURES + 20) == MAX_LOGIN_DELAY_SECONDS


def test_the_session_cookie_is_secure_when_asked_and_off_the_loopback_interface(make_settings, monkeypatch):
    from orchestration.connect.cli import _cookie_secure

    with WebServer(create_app(make_settings(), cookie_secure=True)) as server:
        page = requests.get(f"{server.base_url}/login", timeout=10)
    assert "secure" in page.headers["set-cookie"].lower()
    monkeypatch.delenv("ADMIN_COOKIE_SECURE", raising=False)
    assert (_cookie_secure("127.0.0.1"), _cookie_secure("0.0.0.0")) == (False, True)
    monkeypatch.setenv("ADMIN_COOKIE_SECURE", "false")
    assert _cookie_secure("0.0.0.0") is False


def test_the_page_says_why_an_active_connection_is_not_synced(web, settings, accounts):
    ConnectionStore(settings.connect).save(
        Connection(
            account_id=accounts["first"].account_id,
            method=Method.CONNECT_OAUTH,
            livemode=True,
            connected_at=1_790_000_000,
        )
    )

    page = _logged_in(web.base_url).get(f"{web.base_url}/connections", timeout=10).text

    assert "Not synced" in page and "set STRIPE_PLATFORM_KEY to the platform&#39;s live secret key" in page
