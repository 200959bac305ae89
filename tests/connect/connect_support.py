"""Helpers of the connect tests: the web app in a background thread, the simulator's authorize pages driven
without a browser, a sync of given credentials, and a search for secrets in files and the warehouse."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import duckdb
import requests
import uvicorn

from orchestration.connect.web.app import hide_query_strings_in_access_log
from orchestration.ingest.context import SyncContext
from orchestration.ingest.pipeline import stripe_pipeline
from orchestration.ingest.source import stripe_source
from orchestration.settings import Settings, StripeCredential
from orchestration.sync_report import SyncReport

NOW = 1_790_000_000
PLATFORM_KEY = "sk_test_platform_connect_0001"
RESTRICTED_KEY = "rk_test_restricted_third_0003"
ADMIN_PASSWORD = "correct horse battery"


class WebServer:
    """An ASGI app served by uvicorn from a background thread on a free port (as SimulatorServer does)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WebServer:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        # Access log on, as `stripe-warehouse web` serves it: the tests search its lines for secrets.
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="info", lifespan="off"))
        hide_query_strings_in_access_log()
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            assert time.monotonic() < deadline, "the web app did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=15)


def authorize_at_simulator(url: str, email: str, *, allow: bool = True, account_id: str | None = None) -> dict:
    """Answers a simulator authorize link as a user would (sign in, then allow or deny) and returns the query
    Stripe sends the browser back with (`code`/`state` or `error`), without following the redirect."""
    location = redirect_from_simulator(url, email, allow=allow, account_id=account_id)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def redirect_from_simulator(url: str, email: str, *, allow: bool = True, account_id: str | None = None) -> str:
    """The redirect URI, with its query, Stripe sends the browser back to after the user's answer."""
    with requests.Session() as browser:
        page = browser.get(url, timeout=10)
        assert page.status_code == 200, page.text
        authorization = _hidden(page.text, "authorization")
        sign_in = browser.post(
            urljoin(url, _form_action(page.text)),
            data={"authorization": authorization, "email": email, "password": "anything"},
            timeout=10,
        )
        assert sign_in.status_code == 200, sign_in.text
        decision = {"authorization": authorization, "decision": "allow" if allow else "deny"}
        if account_id:
            decision["account"] = account_id
        answer = browser.post(
            urljoin(url, _form_action(sign_in.text)), data=decision, timeout=10, allow_redirects=False
        )
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', html).group(1)


def _form_action(html: str) -> str:
    return re.search(r'<form method="post" action="([^"]+)"', html).group(1)


def sync(settings: Settings, credentials: tuple[StripeCredential, ...]) -> SyncReport:
    """One sync of exactly `credentials` into the settings' warehouse, as the ingestion asset runs it."""
    context = SyncContext(settings, credentials=credentials)
    with context:
        stripe_pipeline(settings).run(stripe_source(context))
    return context.report


def account_ids_in_warehouse(duckdb_path: Path, table: str = "customers") -> dict[str, int]:
    with duckdb.connect(str(duckdb_path), read_only=True) as db:
        rows = db.sql(f"select account_id, count(*) from stripe_raw.{table} group by 1").fetchall()
    return dict(rows)


def secrets_found(secrets: list[str], *, files: list[Path] = (), texts: list[str] = (), duckdb_path=None) -> list:
    """Every (secret's last 6 characters, where) of a secret found in the files, texts or warehouse rows."""
    found = []
    haystacks: list[tuple[str, bytes]] = [(f"text {i}", t.encode()) for i, t in enumerate(texts)]
    for root in files:
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            haystacks.append((str(path), path.read_bytes()))
    if duckdb_path is not None:
        haystacks += [(f"warehouse {name}", text.encode()) for name, text in warehouse_text(duckdb_path)]
    for secret in secrets:
        for where, data in haystacks:
            if secret.encode() in data:
                found.append((secret[-6:], where))
    return found


def warehouse_text(duckdb_path: Path) -> list[tuple[str, str]]:
    """Every table of the warehouse as text, dlt's compressed pipeline state decompressed."""
    out = []
    with duckdb.connect(str(duckdb_path), read_only=True) as db:
        tables = db.sql("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            rows = db.sql(f'select * from "{schema}"."{table}"').fetchall()
            out.append((f"{schema}.{table}", repr(rows)))
            if table == "_dlt_pipeline_state":
                for (state,) in db.sql(f'select state from "{schema}"."{table}"').fetchall():
                    out.append((f"{schema}.{table} (decompressed)", repr(_decompress(state))))
    return out


def _decompress(state: str) -> Any:
    from dlt.common.versioned_state import decompress_state

    return decompress_state(state)


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def logged_in(base_url: str, password: str = ADMIN_PASSWORD, **headers: str) -> requests.Session:
    """A browser session of the admin, logged in (each request sending `headers`)."""
    session = requests.Session()
    session.headers.update(headers)
    token = csrf_of(session.get(f"{base_url}/login", timeout=10).text)
    answer = session.post(
        f"{base_url}/login", data={"username": "admin", "password": password, "csrf_token": token}, timeout=30
    )
    assert answer.status_code == 200 and answer.url.endswith("/connections"), answer.text
    return session
