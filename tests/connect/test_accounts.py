"""The accounts a sync reads from the store, Stripe App token refresh, and what a sync writes back."""

from __future__ import annotations

import logging
import threading

import pytest
import stripe
from connect_support import PLATFORM_KEY, RESTRICTED_KEY, authorize_at_simulator

from orchestration.connect.accounts import (
    REFRESH_MARGIN_SECONDS,
    connected_account_ids,
    record_sync_outcome,
    require_accounts,
    stripe_credentials,
)
from orchestration.connect.flows import Connector
from orchestration.connect.oauth import AppOAuth, OAuthError
from orchestration.connect.store import ConnectionStore, Method, Status
from orchestration.ingest.report import SyncReport
from orchestration.settings import ConfigurationError, Secret


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
    with pytest.raises(ConfigurationError, match="STRIPE_API_KEY.*stripe-warehouse web"):
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
        except Exception as exc:  # noqa: BLE001 (reported below)
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
    rejected.fail(account_id, "Expired API Key provided", needs_reauth=True)

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
