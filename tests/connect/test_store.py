"""The credentials store: secrets encrypted at rest, the key kept private, one writer at a time."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet

from orchestration.connect.store import Connection, ConnectionStore, Method, Status, Tokens
from orchestration.settings import ConfigurationError, Secret

API_KEY = "rk_test_StoredSecretValue0123456789"
REFRESH_TOKEN = "rt_RefreshSecretValue0123456789"


def _connection(account_id: str = "acct_1Stored0000000001") -> Connection:
    return Connection(
        account_id=account_id,
        method=Method.STRIPE_APP,
        livemode=False,
        connected_at=1_790_000_000,
        business_name="Stored Ltd",
        expires_at=1_790_003_600,
        tokens=Tokens(api_key=Secret(API_KEY), refresh_token=Secret(REFRESH_TOKEN)),
    )


def test_secrets_are_encrypted_in_the_database_file_and_read_back(settings):
    store = ConnectionStore(settings.connect)
    store.save(_connection())

    raw = settings.connect.db_path.read_bytes()
    assert b"acct_1Stored0000000001" in raw  # the file is the one written…
    assert API_KEY.encode() not in raw and REFRESH_TOKEN.encode() not in raw  # …without the secrets in clear
    assert b"StoredSecretValue" not in raw and b"RefreshSecretValue" not in raw
    read = store.get("acct_1Stored0000000001")
    assert read.tokens.api_key.value == API_KEY and read.tokens.refresh_token.value == REFRESH_TOKEN
    assert API_KEY not in repr(read) and REFRESH_TOKEN not in repr(read)
    (listed,) = store.connections()
    assert listed.tokens == Tokens()  # listing never decrypts


def test_the_generated_key_file_and_the_database_are_readable_by_their_owner_only(settings):
    ConnectionStore(settings.connect).save(_connection())

    assert stat.S_IMODE(settings.connect.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.connect.db_path.stat().st_mode) == 0o600
    key = settings.connect.key_path.read_text().strip()
    Fernet(key.encode())  # a valid Fernet key, generated once:
    ConnectionStore(settings.connect).save(_connection("acct_1Stored0000000002"))
    assert settings.connect.key_path.read_text().strip() == key


def test_a_key_file_others_can_read_is_refused(settings):
    settings.connect.key_path.parent.mkdir(parents=True)
    settings.connect.key_path.write_text(Fernet.generate_key().decode())
    settings.connect.key_path.chmod(0o644)

    with pytest.raises(ConfigurationError, match="chmod 600"):
        ConnectionStore(settings.connect).save(_connection())


def test_a_key_from_the_environment_is_used_and_a_changed_key_is_reported(make_settings):
    first = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    ConnectionStore(first.connect).save(_connection())
    assert not first.connect.key_path.exists()

    other = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not the key that encrypted"):
        ConnectionStore(other.connect).get("acct_1Stored0000000001")
    assert [c.account_id for c in ConnectionStore(other.connect).connections()] == ["acct_1Stored0000000001"]


def test_listing_needs_no_file_and_no_key(settings):
    store = ConnectionStore(settings.connect)
    assert store.connections() == []
    assert not settings.connect.db_path.exists() and not settings.connect.key_path.exists()


def test_the_refresh_lease_serialises_holders_but_not_the_database(settings):
    store = ConnectionStore(settings.connect)
    store.save(_connection())
    inside, overlaps, writes = [], [], []

    def hold() -> None:
        with ConnectionStore(settings.connect).refresh_lease("acct_1Stored0000000001") as held:
            assert held
            overlaps.append(bool(inside))
            inside.append(1)
            started = time.monotonic()
            store.mark_synced({"acct_1Stored0000000001"}, 1)  # the database stays writable under the lease
            writes.append(time.monotonic() - started)
            time.sleep(0.1)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert overlaps == [False, False, False] and max(writes) < 1
    with store.refresh_lease("acct_1Stored0000000001"), store.refresh_lease("acct_1Other", wait_seconds=0) as other:
        assert other  # one account's lease does not hold up another's
    late_comer = ConnectionStore(settings.connect)
    with store.refresh_lease("acct_1Stored0000000001"), late_comer.refresh_lease("acct_1Stored0000000001", 0.1) as late:
        assert late is False


def test_a_store_of_the_first_release_gains_the_new_columns(settings):
    settings.connect.db_path.parent.mkdir(parents=True)
    old = sqlite3.connect(settings.connect.db_path)
    old.executescript(
        """
        create table connections (account_id text primary key, method text not null, livemode integer not null,
            business_name text not null default '', scope text not null default '', connected_at integer not null,
            last_synced_at integer, status text not null, status_reason text not null default '',
            expires_at integer, secrets blob);
        create table oauth_attempts (state_hash text primary key, method text not null, started_at real not null);
        create table admin (username text primary key, password_hash text not null);
        insert into connections values ('acct_1Old', 'restricted_key', 0, 'Old Ltd', '', 1, null, 'active', '',
            null, null);
        insert into admin values ('admin', 'scrypt$hash');
        """
    )
    old.commit()
    old.close()
    settings.connect.db_path.chmod(0o600)  # as the first release created it

    store = ConnectionStore(settings.connect)

    assert store.find("acct_1Old").credential_version == 1
    assert store.admin("admin").session_epoch == 0
    store.save(_connection())
    assert store.find("acct_1Stored0000000001").tokens == Tokens()
    assert store.get("acct_1Stored0000000001").tokens.api_key.value == API_KEY


def test_marking_is_conditional_on_the_credential_version(settings):
    store = ConnectionStore(settings.connect)
    store.save(replace(_connection(), credential_version=2))

    assert not store.mark_needs_reauth("acct_1Stored0000000001", "stale verdict", credential_version=1)
    assert store.find("acct_1Stored0000000001").status is Status.ACTIVE
    assert store.mark_needs_reauth("acct_1Stored0000000001", "current verdict", credential_version=2)
    assert store.find("acct_1Stored0000000001").status is Status.NEEDS_REAUTH
