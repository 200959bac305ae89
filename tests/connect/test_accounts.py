"""The accounts a sync reads from the store, Stripe App token refresh, and what a sync writes back."""

from __future__ import annotations

import logging
import multiprocessing
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import requests
import stripe
from cryptography.fernet import Fernet

from orchestration.connect.accounts import (
    REFRESH_MARGIN_SECONDS,
    connected_account_ids,
    record_sync_outcome,
    require_accounts,
    stripe_credentials,
    unavailable_accounts,
)
from orchestration.connect.flows import Connector
from orchestration.connect.oauth import AppOAuth, OAuthError
from orchestration.connect.store import Connection, ConnectionStore, Method, Status
from orchestration.ingest.accounts import credentials_for
from orchestration.ingest.client import StripeReader
from orchestration.settings import ConfigurationError, Secret
from orchestration.sync_report import SyncReport
from tests.connect.connect_support import (
    PLATFORM_KEY,
    RESTRICTED_KEY,
    account_ids_in_warehouse,
    authorize_at_simulator,
    sync,
)
from tests.connect.in_another_process import app_token


def _connect(settings, method: Method, email: str, clock=None):
    connector = Connector(settings, clock=clock) if clock else Connector(settings)
    started = connector.start(method, "http://127.0.0.1:9/callback")
    answer = authorize_at_simulator(started.url, email)
    return connector.finish(answer["state"], answer["code"])


def _reads(api_base: str, credential) -> str:
    client = stripe.StripeClient(
        credential.api_key.value, stripe_account=credential.stripe_account, base_addresses={"api": api_base}
    )
    return client.v1.accounts.retrieve_current().id


def test_no_store_means_no_accounts_and_a_clear_error(settings):
    assert connected_account_ids(settings) == []
    assert stripe_credentials(settings) == ()
    with pytest.raises(ConfigurationError, match=r"STRIPE_API_KEY.*stripe-warehouse web"):
        require_accounts(settings)
    assert not settings.connect.db_path.exists()


def test_each_way_of_connecting_gives_a_credential_that_reads_its_account(settings, accounts, email, sim):
    _connect(settings, Method.CONNECT_OAUTH, email("first"))
    _connect(settings, Method.STRIPE_APP, email("second"))
    Connector(settings).add_key(Secret(RESTRICTED_KEY))
    ids = {name: accounts[name].account_id for name in ("first", "second", "third")}

    credentials = {c.account_id: c for c in stripe_credentials(settings)}

    assert connected_account_ids(settings) == sorted(ids.values())
    require_accounts(settings)  # no STRIPE_API_KEY, but active connections: `run` may go on
    assert sorted(credentials) == sorted(ids.values())
    first = credentials[ids["first"]]
    assert (first.api_key.value, first.stripe_account) == (PLATFORM_KEY, ids["first"])
    assert credentials[ids["third"]].api_key.value == RESTRICTED_KEY
    assert credentials[ids["second"]].stripe_account is None
    for account_id, credential in credentials.items():
        assert _reads(sim.base_url, credential) == account_id
    (only,) = stripe_credentials(settings, [ids["second"]])
    assert only.account_id == ids["second"]


def test_environment_accounts_come_first_and_are_not_doubled(make_settings, accounts, email):
    first = accounts["first"].account_id
    settings = make_settings(STRIPE_API_KEY=PLATFORM_KEY, STRIPE_ACCOUNT_IDS=first)
    _connect(settings, Method.CONNECT_OAUTH, email("first"))
    Connector(settings).add_key(Secret(RESTRICTED_KEY))

    credentials = stripe_credentials(settings)

    assert [c.known_account_id for c in credentials] == [first, accounts["third"].account_id]
    assert credentials[0].account_id is None  # the environment's, not the store's


def test_needs_reauth_connections_are_left_out_but_still_listed(settings, accounts, email):
    _connect(settings, Method.CONNECT_OAUTH, email("first"))
    ConnectionStore(settings.connect).mark_needs_reauth(accounts["first"].account_id, "revoked")

    assert stripe_credentials(settings) == ()
    assert connected_account_ids(settings) == [accounts["first"].account_id]
    with pytest.raises(ConfigurationError):
        require_accounts(settings)


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_an_expiring_app_token_is_refreshed_and_the_refresh_token_rotates(settings, accounts, email, sim):
    clock = Clock()
    connection = _connect(settings, Method.STRIPE_APP, email("second"), clock)
    store = ConnectionStore(settings.connect)
    before = store.get(connection.account_id)
    (unchanged,) = stripe_credentials(settings, clock=clock)
    assert unchanged.api_key == before.tokens.api_key  # far from expiry: no refresh

    clock.now = before.expires_at - REFRESH_MARGIN_SECONDS + 1
    sim.expire_access_tokens()
    (credential,) = stripe_credentials(settings, clock=clock)

    after = store.get(connection.account_id)
    assert credential.api_key == after.tokens.api_key != before.tokens.api_key
    assert after.tokens.refresh_token != before.tokens.refresh_token
    assert after.expires_at > before.expires_at
    assert _reads(sim.base_url, credential) == connection.account_id
    with pytest.raises(stripe.AuthenticationError):  # the old access token expired
        _reads(sim.base_url, unchanged)
    with pytest.raises(OAuthError, match="invalid_grant"):  # the old refresh token was spent
        AppOAuth(settings.connect, settings.stripe_api_base).refresh(before.tokens.refresh_token)


def test_concurrent_syncs_refresh_once(settings, email):
    clock = Clock()
    connection = _connect(settings, Method.STRIPE_APP, email("second"), clock)
    clock.now = connection.expires_at  # expired: everyone wants a refresh
    results, errors = [], []

    def credentials() -> None:
        try:
            results.append(stripe_credentials(settings, clock=clock))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=credentials) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({result[0].api_key.value for result in results}) == 1  # one refresh, shared
    stored = ConnectionStore(settings.connect).get(connection.account_id)
    assert stored.status is Status.ACTIVE and stored.tokens.api_key == results[0][0].api_key


def test_a_rejected_refresh_marks_the_connection_and_leaves_it_out(settings, accounts, email, sim, caplog):
    clock = Clock()
    connection = _connect(settings, Method.STRIPE_APP, email("second"), clock)
    Connector(settings).add_key(Secret(RESTRICTED_KEY))
    secret = ConnectionStore(settings.connect).get(connection.account_id).tokens
    sim.deauthorize(connection.account_id)  # the user uninstalled the app
    clock.now = connection.expires_at

    with caplog.at_level(logging.INFO):
        credentials = stripe_credentials(settings, clock=clock)

    assert [c.account_id for c in credentials] == [accounts["third"].account_id]
    stored = ConnectionStore(settings.connect).connections()
    assert {c.account_id: c.status for c in stored}[connection.account_id] is Status.NEEDS_REAUTH
    reason = next(c.status_reason for c in stored if c.account_id == connection.account_id)
    assert "Connections page" in reason and "invalid_grant" in reason
    assert connection.account_id in caplog.text and "Re-authenticate" in caplog.text
    for value in (secret.api_key.value, secret.refresh_token.value):
        assert value not in caplog.text and value not in reason


def test_record_sync_outcome_marks_rejections_and_successes(settings, accounts, email):
    clock = Clock()
    _connect(settings, Method.CONNECT_OAUTH, email("first"))
    Connector(settings).add_key(Secret(RESTRICTED_KEY))
    first, third = accounts["first"].account_id, accounts["third"].account_id
    report = SyncReport()
    for account in (first, third, "acct_not_stored"):
        report.start("customers", account, "full")
    report.fail(
        first,
        "Stripe refused GET /v1/customers for it: revoked. Reconnect it on the Connections page.",
        needs_reauth=True,
    )

    record_sync_outcome(settings, report, clock=clock)

    stored = {c.account_id: c for c in ConnectionStore(settings.connect).connections()}
    assert stored[first].status is Status.NEEDS_REAUTH and "Connections page" in stored[first].status_reason
    assert stored[first].last_synced_at is None
    assert stored[third].status is Status.ACTIVE and stored[third].last_synced_at == int(clock.now)
    assert "acct_not_stored" not in stored


def test_a_rejected_app_token_is_refreshed_rather_than_marked_while_its_refresh_token_works(settings, email, sim):
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    account_id = connection.account_id
    sim.expire_access_tokens()  # Stripe ended the token before the hour we were told
    rejected = SyncReport()
    rejected.fail(
        account_id, f"Stripe refused GET /v1/customers for {account_id}: HTTP 401: Expired API Key", needs_reauth=True
    )

    record_sync_outcome(settings, rejected)

    (credential,) = stripe_credentials(settings)
    assert ConnectionStore(settings.connect).connections()[0].status is Status.ACTIVE
    assert credential.api_key != connection.tokens.api_key and _reads(sim.base_url, credential) == account_id

    sim.deauthorize(account_id)  # now the app is uninstalled: the refresh is refused too
    record_sync_outcome(settings, rejected)
    (stored,) = ConnectionStore(settings.connect).connections()
    assert stored.status is Status.NEEDS_REAUTH and "Connections page" in stored.status_reason


def test_a_refused_app_secret_key_does_not_blame_the_connection(settings, make_settings, email, caplog):
    clock = Clock()
    connection = _connect(settings, Method.STRIPE_APP, email("second"), clock)
    misconfigured = make_settings(STRIPE_APP_SECRET_KEY="sk_test_rolled_app_key_0000")
    clock.now = connection.expires_at + 1

    assert stripe_credentials(misconfigured, clock=clock) == ()

    assert ConnectionStore(settings.connect).connections()[0].status is Status.ACTIVE
    assert "Could not refresh the access token of " + connection.account_id in caplog.text
    assert "sk_test_rolled_app_key_0000" not in caplog.text


# A Stripe App's token during a sync, refreshes across threads and processes, and the verdicts of a sync.


def test_a_sync_outlasting_the_access_token_refreshes_it_and_loads_all(settings, accounts, email, sim):
    # Stripe does not say `expires_in`: the client believes in an hour, the token dies mid-sync, and the
    # reader refreshes it on the 401 and retries the request.
    sim.oauth.configure(access_token_ttl_seconds=0.6)
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    sim.configure(latency_ms=40)  # the sync takes several token lifetimes
    started = time.monotonic()

    report = sync(settings, stripe_credentials(settings))

    assert time.monotonic() - started > 1.8
    assert report.failures == {} and report.needs_reauth == set()
    second = accounts["second"]
    for table in ("customers", "subscriptions", "invoices"):
        expected = {connection.account_id: len(second.objects[table])}
        assert account_ids_in_warehouse(settings.duckdb_path, table) == expected, table
    stored = ConnectionStore(settings.connect).get(connection.account_id)
    assert stored.status is Status.ACTIVE and stored.tokens.refresh_token != connection.tokens.refresh_token
    assert sim.stats_total().rejected > 0  # the token did die under the sync


def test_a_token_whose_expiry_is_known_is_refreshed_before_it_dies(settings, email, sim, monkeypatch):
    sim.oauth.configure(access_token_ttl_seconds=0.5)
    sim.oauth.send_expires_in = True
    _connect(settings, Method.STRIPE_APP, email("second"))
    (credential,) = stripe_credentials(settings)
    refreshes = []
    real_refresh = AppOAuth.refresh
    monkeypatch.setattr(AppOAuth, "refresh", lambda self, token: refreshes.append(1) or real_refresh(self, token))
    reader = StripeReader(settings.stripe_api_base, credential, requests_per_second=1000)

    deadline = time.monotonic() + 1.6
    while time.monotonic() < deadline:
        assert reader.get("/v1/customers", {"limit": 1})["data"]
        time.sleep(0.02)

    assert 2 <= len(refreshes) <= 8  # several lifetimes, each token replaced before Stripe refused it
    assert sim.stats_total().rejected == 0


def test_many_reader_threads_meeting_an_expired_token_refresh_it_once(settings, email, sim):
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    (credential,) = stripe_credentials(settings)
    calls = []

    def counted(stale):
        calls.append(stale)
        return credential.refresh(stale)

    reader = StripeReader(settings.stripe_api_base, replace(credential, refresh=counted), requests_per_second=1000)
    sim.expire_access_tokens()
    sim.configure(latency_ms=50)  # the threads' requests overlap
    with ThreadPoolExecutor(8) as pool:
        pages = list(pool.map(lambda _: reader.get("/v1/customers", {"limit": 1}), range(16)))

    assert len(calls) == 1 and all(page["data"] for page in pages)
    assert ConnectionStore(settings.connect).get(connection.account_id).tokens.api_key != credential.api_key


def test_a_refresh_holds_no_database_lock_while_stripe_answers(settings, email, monkeypatch):
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    real_refresh = AppOAuth.refresh
    database_writable = []

    def refresh_and_probe(self, refresh_token):
        probe = sqlite3.connect(settings.connect.db_path, timeout=0.2, isolation_level=None)
        try:
            probe.execute("begin immediate")  # fails with "database is locked" if the refresh holds the lock
            probe.execute("rollback")
            database_writable.append(True)
        except sqlite3.OperationalError:
            database_writable.append(False)
        finally:
            probe.close()
        return real_refresh(self, refresh_token)

    monkeypatch.setattr(AppOAuth, "refresh", refresh_and_probe)
    (credential,) = stripe_credentials(settings, clock=lambda: connection.expires_at)

    assert database_writable == [True]
    assert credential.api_key != connection.tokens.api_key


def test_processes_refreshing_at_once_refresh_once(settings, email):
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(3), spawn.Queue()
    children = [
        spawn.Process(target=app_token, args=(settings, connection.expires_at, barrier, results)) for _ in range(3)
    ]
    for child in children:
        child.start()
    tokens = [results.get(timeout=90) for _ in children]
    for child in children:
        child.join(timeout=30)

    stored = ConnectionStore(settings.connect).get(connection.account_id)
    assert stored.status is Status.ACTIVE, stored.status_reason  # a second refresh would have spent a dead token
    assert set(tokens) == {stored.tokens.api_key.value} and stored.tokens.api_key != connection.tokens.api_key


def test_a_lost_refresh_answer_is_noted_and_named_when_the_next_refresh_fails(settings, email, sim, monkeypatch):
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    real_post = requests.post

    def post_then_lose_the_answer(url, *args, **kwargs):
        real_post(url, *args, **kwargs)  # Stripe rotates the refresh token…
        raise requests.ReadTimeout("read timed out")  # …and its answer never arrives

    monkeypatch.setattr("orchestration.connect.oauth.requests.post", post_then_lose_the_answer)
    assert stripe_credentials(settings, clock=lambda: connection.expires_at + 1) == ()
    (noted,) = ConnectionStore(settings.connect).connections()
    assert noted.status is Status.ACTIVE and "refresh answer was lost" in noted.status_reason

    monkeypatch.setattr("orchestration.connect.oauth.requests.post", real_post)
    assert stripe_credentials(settings, clock=lambda: connection.expires_at + 1) == ()
    (marked,) = ConnectionStore(settings.connect).connections()
    assert marked.status is Status.NEEDS_REAUTH
    assert "invalid_grant" in marked.status_reason and "earlier refresh answer was lost" in marked.status_reason


def test_a_refresh_that_never_reached_stripe_leaves_no_note(settings, make_settings, email):
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    with socket.socket() as closed:  # a port nothing listens on: the request is never sent
        closed.bind(("127.0.0.1", 0))
        unreachable = make_settings(STRIPE_API_BASE=f"http://127.0.0.1:{closed.getsockname()[1]}")

        assert stripe_credentials(unreachable, clock=lambda: connection.expires_at + 1) == ()

    (stored,) = ConnectionStore(settings.connect).connections()
    assert stored.status is Status.ACTIVE and stored.status_reason == ""


def test_a_rejection_does_not_undo_a_re_authentication_made_during_the_sync(settings, accounts, email):
    first = accounts["first"].account_id
    _connect(settings, Method.CONNECT_OAUTH, email("first"))
    used = stripe_credentials(settings)  # the sync starts with these…
    _connect(settings, Method.CONNECT_OAUTH, email("first"))  # …the admin re-authenticates meanwhile…
    report = SyncReport()
    report.fail(first, "Stripe refused GET /v1/customers: HTTP 403: revoked. Reconnect it.", needs_reauth=True)

    record_sync_outcome(settings, report, credentials=used)  # …and the sync's verdict arrives

    (kept,) = ConnectionStore(settings.connect).connections()
    assert kept.status is Status.ACTIVE and kept.credential_version == 2
    record_sync_outcome(settings, report, credentials=stripe_credentials(settings))  # a verdict on the new one
    assert ConnectionStore(settings.connect).connections()[0].status is Status.NEEDS_REAUTH


def test_a_403_marks_a_stripe_app_connection_without_refreshing_it(settings, email):
    connection = _connect(settings, Method.STRIPE_APP, email("second"))
    account_id = connection.account_id
    refused = SyncReport()
    refused.fail(
        account_id,
        f"Stripe refused GET /v1/invoices for {account_id}: HTTP 403: The app lacks invoice_read. Reconnect it.",
        needs_reauth=True,
    )

    record_sync_outcome(settings, refused, credentials=stripe_credentials(settings))

    store = ConnectionStore(settings.connect)
    (stored,) = store.connections()
    assert stored.status is Status.NEEDS_REAUTH and "invoice_read" in stored.status_reason
    assert store.get(account_id).tokens == connection.tokens  # no refresh was spent on it


def test_a_connection_of_the_other_mode_than_the_platform_key_is_left_out_with_the_fix(settings, accounts, caplog):
    live = accounts["first"].account_id
    ConnectionStore(settings.connect).save(
        Connection(account_id=live, method=Method.CONNECT_OAUTH, livemode=True, connected_at=1_790_000_000)
    )

    with caplog.at_level(logging.ERROR):
        assert stripe_credentials(settings) == ()

    (reason,) = unavailable_accounts(settings).values()
    assert "live mode" in reason and "STRIPE_PLATFORM_KEY" in reason and "sk_live_" in reason
    assert reason in caplog.text


# A connection whose secret cannot be decrypted fails alone.


def test_an_unreadable_connection_fails_alone_and_says_how_to_fix_it(settings, accounts, email, caplog):
    first, second, third = (accounts[name].account_id for name in ("first", "second", "third"))
    _connect(settings, Method.CONNECT_OAUTH, email("first"))
    _connect(settings, Method.STRIPE_APP, email("second"))
    Connector(settings).add_key(Secret(RESTRICTED_KEY))
    with sqlite3.connect(settings.connect.db_path) as db:  # one secret damaged
        db.execute("update connections set secrets = ? where account_id = ?", (b"gAAAAAdamaged", third))

    for wanted in (None, [first, second, third]):
        credentials, missing = credentials_for(settings, wanted)
        assert sorted(c.account_id for c in credentials) == [first, second]
        assert list(missing) == [third]
        assert third in missing[third] and "re-authenticate" in missing[third]
    assert third in caplog.text


def test_a_wrong_key_file_fails_the_connections_it_sealed_and_names_the_file(settings, accounts, email):
    first, second, third = (accounts[name].account_id for name in ("first", "second", "third"))
    _connect(settings, Method.CONNECT_OAUTH, email("first"))
    _connect(settings, Method.STRIPE_APP, email("second"))
    Connector(settings).add_key(Secret(RESTRICTED_KEY))
    settings.connect.key_path.write_text(Fernet.generate_key().decode())  # someone replaced the key file

    credentials, missing = credentials_for(settings, None)

    assert [c.account_id for c in credentials] == [first]  # read with the platform's key: no secret needed
    assert sorted(missing) == [second, third]
    for reason in missing.values():
        assert str(settings.connect.key_path) in reason and "rotate-key" in reason
        assert RESTRICTED_KEY not in reason
