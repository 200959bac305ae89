"""The admin's experience in a real headless Chromium against the simulator: log in, add a Stripe account,
authorize it at "Stripe", see it connected and synced; the ways it can go wrong; disconnecting; a Stripe
App's tokens refreshed; a revoked account failing alone; and no secret anywhere it should not be."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from orchestration.connect.accounts import record_sync_outcome, stripe_credentials
from orchestration.connect.store import ConnectionStore, Status
from tests.connect.connect_support import (
    ADMIN_PASSWORD,
    PLATFORM_KEY,
    RESTRICTED_KEY,
    account_ids_in_warehouse,
    secrets_found,
    sync,
)


class Admin:
    """The admin's hands on the Connections page; remembers every page it saw and every callback URL."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.pages_seen: list[str] = []
        self.callbacks: list[str] = []
        page.on("request", lambda r: self.callbacks.append(r.url) if "/oauth/callback" in r.url else None)
        page.on("load", lambda p: self.pages_seen.append(p.content()))

    def log_in(self) -> None:
        self.page.goto(f"{self.base_url}/connections")
        expect(self.page).to_have_url(f"{self.base_url}/login")
        self.page.get_by_label("Username").fill("admin")
        self.page.get_by_label("Password").fill(ADMIN_PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        expect(self.page.get_by_role("heading", name="Connections")).to_be_visible()

    def open_stripe_choices(self) -> None:
        self.page.get_by_role("link", name="Add a data source").click()
        self.page.get_by_role("link", name=re.compile("^Stripe")).click()

    def add_stripe(self, button: str = "Connect with Stripe") -> None:
        self.open_stripe_choices()
        self.page.get_by_role("button", name=button).click()

    def sign_in_at_stripe(self, email: str) -> None:
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill("any password will do")
        self.page.get_by_role("button", name="Sign in").click()

    def authorize(self, allow: bool = True) -> None:
        self.page.get_by_role("button", name="Authorize access" if allow else "Deny").click()

    def connect(self, email: str, button: str = "Connect with Stripe") -> None:
        self.add_stripe(button)
        self.sign_in_at_stripe(email)
        self.authorize()
        expect(self.banner).to_contain_text("Successfully connected")

    @property
    def banner(self):
        return self.page.locator(".banner")

    def row(self, account_id: str):
        return self.page.locator(f'tr[data-account="{account_id}"]')


@pytest.fixture
def admin(page: Page, web) -> Admin:
    admin = Admin(page, web.base_url)
    admin.log_in()
    return admin


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log line of the test, uvicorn's access log included."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_connect_with_stripe_sync_then_disconnect(admin, settings, accounts, email, sim, logs):
    first = accounts["first"]
    expect(admin.page.get_by_text("No Stripe account is connected yet")).to_be_visible()

    admin.connect(email("first"))

    expect(admin.banner).to_have_text(
        f"Successfully connected {first.account_id} ({first.account['business_profile']['name']})."
    )
    row = admin.row(first.account_id)
    for cell in (first.account_id, first.account["business_profile"]["name"], "test", "Connect OAuth", "Active"):
        expect(row).to_contain_text(cell)
    expect(row.locator("td").nth(5)).to_have_text("—")  # not synced yet

    report = sync(settings, stripe_credentials(settings))
    record_sync_outcome(settings, report)

    assert report.failures == {}
    assert account_ids_in_warehouse(settings.duckdb_path) == {first.account_id: len(first.objects["customers"])}
    admin.page.reload()
    expect(admin.row(first.account_id).locator("td").nth(5)).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    assert any("GET /connections/oauth/callback " in line for line in logs)  # the access log ran, without query
    assert not any(re.search(r"[?&]code=", line) for line in logs)

    # Disconnecting revokes the platform's access at Stripe and deletes the credentials; the data stays.
    admin.row(first.account_id).get_by_role("link", name="Disconnect").click()
    expect(admin.page.get_by_role("heading")).to_have_text(f"Disconnect {first.account_id}?")
    admin.page.get_by_role("button", name="Disconnect").click()

    expect(admin.banner).to_contain_text(f"Disconnected {first.account_id}; its data stays in the warehouse.")
    expect(admin.banner).to_contain_text("Stripe revoked the platform's access")
    expect(admin.page.locator("tbody tr")).to_have_count(0)
    assert ConnectionStore(settings.connect).connections() == [] and stripe_credentials(settings) == ()
    assert not sim.app.state.registry.is_connected(first.account_id)  # deauthorized at Stripe
    assert account_ids_in_warehouse(settings.duckdb_path) == {first.account_id: len(first.objects["customers"])}


def test_a_denial_stores_nothing(admin, settings, email):
    admin.add_stripe()
    admin.sign_in_at_stripe(email("first"))
    admin.authorize(allow=False)

    expect(admin.banner).to_have_text("Access was denied at Stripe, so nothing was connected.")
    expect(admin.page.locator("tbody tr")).to_have_count(0)
    assert ConnectionStore(settings.connect).connections() == []


def test_a_reused_code_stores_nothing(admin, settings, accounts, email):
    admin.connect(email("first"))
    (used_callback,) = admin.callbacks
    used_code = parse_qs(urlsplit(used_callback).query)["code"][0]
    ConnectionStore(settings.connect).delete(accounts["first"].account_id)
    # A new attempt (a fresh, valid state), answered with the code already spent.
    admin.add_stripe()
    state = parse_qs(urlsplit(admin.page.url).query)["state"][0]
    admin.page.goto(f"{admin.base_url}/connections/oauth/callback?code={used_code}&state={state}")

    expect(admin.banner).to_contain_text("Stripe refused the authorization code")
    expect(admin.banner).to_contain_text("already been used")
    expect(admin.banner).not_to_contain_text(used_code)
    assert ConnectionStore(settings.connect).connections() == []


def test_a_forged_state_stores_nothing(admin, settings, email):
    admin.add_stripe()  # an attempt is under way: its state is in the session
    admin.sign_in_at_stripe(email("first"))
    admin.page.goto(f"{admin.base_url}/connections/oauth/callback?code=ac_forged0000000000000&state=forged")

    expect(admin.banner).to_contain_text("does not belong to a connection started in this browser")
    assert ConnectionStore(settings.connect).connections() == []
    admin.page.goto(f"{admin.base_url}/connections/oauth/callback?code=ac_forged0000000000000")
    expect(admin.banner).to_contain_text("Nothing was saved")


def test_anonymous_visitors_see_only_the_login_form(page: Page, web, settings):
    for path in ("/connections", "/connections/new/stripe", "/connections/oauth/callback?code=ac_x&state=y"):
        page.goto(web.base_url + path)
        expect(page).to_have_url(f"{web.base_url}/login")
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        expect(page.get_by_role("table")).to_have_count(0)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")


def test_a_stripe_app_token_is_refreshed_and_rotated_before_a_sync(admin, settings, accounts, email, sim):
    second = accounts["second"].account_id
    admin.connect(email("second"), button="Install the Stripe App")
    expect(admin.row(second)).to_contain_text("Stripe App")
    store = ConnectionStore(settings.connect)
    before = store.get(second)
    sim.expire_access_tokens()  # an hour later, as far as Stripe is concerned

    credentials = stripe_credentials(settings, clock=lambda: before.expires_at)
    report = sync(settings, credentials)

    after = store.get(second)
    assert after.tokens.api_key != before.tokens.api_key and after.tokens.refresh_token != before.tokens.refresh_token
    assert report.failures == {}
    assert account_ids_in_warehouse(settings.duckdb_path) == {second: len(accounts["second"].objects["customers"])}


def test_a_revoked_account_fails_alone_and_no_secret_leaks(admin, settings, accounts, email, sim, logs):
    first, second, third = (accounts[n].account_id for n in ("first", "second", "third"))
    admin.connect(email("first"))
    admin.connect(email("second"), button="Install the Stripe App")
    admin.open_stripe_choices()  # …and the third with a pasted key, a wrong one first
    admin.page.get_by_label("Restricted key").fill("rk_test_wrong_key_000000000000")
    admin.page.get_by_role("button", name="Check and save the key").click()
    expect(admin.banner).to_have_text(re.compile(r"The key was not saved: Invalid API Key provided: rk_test_\*+0000"))
    admin.page.get_by_label("Restricted key").fill(RESTRICTED_KEY)
    admin.page.get_by_role("button", name="Check and save the key").click()
    expect(admin.banner).to_have_text(f"Successfully connected {third} with a restricted key.")
    stored_secrets = ConnectionStore(settings.connect).get(second).tokens
    sim.deauthorize(first)  # the first account's owner disconnects the platform from their dashboard

    report = sync(settings, stripe_credentials(settings))
    record_sync_outcome(settings, report)

    assert set(report.failures) == {first} and report.needs_reauth == {first}
    assert "Reconnect it on the Connections page: stripe-warehouse web → Re-authenticate" in report.failures[first]
    assert set(account_ids_in_warehouse(settings.duckdb_path)) == {second, third}
    admin.page.reload()
    expect(admin.row(first)).to_contain_text("Needs re-authentication")
    expect(admin.row(first)).to_contain_text("Connections page")
    expect(admin.row(second)).to_contain_text("Active")

    # Re-authenticating brings it back.
    admin.row(first).get_by_role("button", name="Re-authenticate").click()
    admin.sign_in_at_stripe(email("first"))
    admin.authorize()
    expect(admin.banner).to_contain_text(f"Successfully connected {first}")
    expect(admin.row(first)).to_contain_text("Active")
    assert {c.account_id for c in stripe_credentials(settings)} == {first, second, third}

    codes = [parse_qs(urlsplit(url).query)["code"][0] for url in admin.callbacks]
    secrets = [PLATFORM_KEY, RESTRICTED_KEY, stored_secrets.api_key.value, stored_secrets.refresh_token.value, *codes]
    assert len(codes) == 3 and all(secrets)
    assert (
        secrets_found(
            secrets,
            files=[settings.data_dir],
            texts=[*logs, *admin.pages_seen, repr(report), *report.failures.values()],
            duckdb_path=settings.duckdb_path,
        )
        == []
    )
    assert len(logs) > 10 and len(admin.pages_seen) > 10  # the scan had something to read
    assert ConnectionStore(settings.connect).get(third).status is Status.ACTIVE
