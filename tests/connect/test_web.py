"""The admin web app over HTTP: nothing without login, CSRF on every form, sessions that expire."""

from __future__ import annotations

import re

import pytest
import requests
from connect_support import ADMIN_PASSWORD, WebServer

from orchestration.connect.store import ConnectionStore
from orchestration.connect.web.app import create_app

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
