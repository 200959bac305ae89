"""The credentials store: secrets encrypted at rest, the key kept private, one writer at a time."""

from __future__ import annotations

import stat
import threading
import time

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
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        ConnectionStore(other.connect).get("acct_1Stored0000000001")
    assert [c.account_id for c in ConnectionStore(other.connect).connections()] == ["acct_1Stored0000000001"]


def test_listing_needs_no_file_and_no_key(settings):
    store = ConnectionStore(settings.connect)
    assert store.connections() == []
    assert not settings.connect.db_path.exists() and not settings.connect.key_path.exists()


def test_locked_serialises_writers_across_threads(settings):
    store = ConnectionStore(settings.connect)
    store.save(_connection())
    inside, overlaps = [], []

    def hold() -> None:
        with ConnectionStore(settings.connect).locked("acct_1Stored0000000001") as locked:
            overlaps.append(bool(inside))
            inside.append(1)
            time.sleep(0.2)
            locked.mark_needs_reauth("why")
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert overlaps == [False, False, False]
    assert store.connections()[0].status is Status.NEEDS_REAUTH
