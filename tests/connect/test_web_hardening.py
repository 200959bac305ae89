"""The admin web app against the findings of issue #13: no state change but by a POST with the session's CSRF
token, a login throttle nobody else can lock the admin out with, bounded request bodies, no request text
echoed as a message or into a log line, the public address taken from configuration, and the rest."""

from __future__ import annotations

import asyncio
import base64

import requests
from connect_support import (
    RESTRICTED_KEY,
    authorize_at_simulator,
    csrf_of,
    logged_in,
)

from orchestration.connect.flows import Connector
from orchestration.connect.store import ConnectionStore, Method
from orchestration.settings import Secret

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
