"""The master key of the credentials store: never silently replaced, checked before use, validated at start,
rotated in one transaction; the key file created safely and the database kept private."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from cryptography.fernet import Fernet

from orchestration.connect.encryption import derived_key
from orchestration.connect.store import Connection, ConnectionStore, Method, Status, Tokens
from orchestration.settings import ConfigurationError, Secret

APP = "acct_1AppConnection0001"
KEY = "acct_1KeyConnection0002"
OAUTH = "acct_1OAuthConnection03"
SECRETS = {
    APP: ("ek_test_AppAccessToken0123456789", "rt_AppRefreshToken0123456789"),
    KEY: ("rk_test_PastedKeyValue0123456789", None),
}


def _save_all(store: ConnectionStore) -> None:
    """A Stripe App and a restricted key (both with sealed secrets), and a Connect OAuth connection (none)."""
    for account_id, (api_key, refresh_token) in SECRETS.items():
        store.save(
            Connection(
                account_id=account_id,
                method=Method.STRIPE_APP if refresh_token else Method.RESTRICTED_KEY,
                livemode=False,
                connected_at=1_790_000_000,
                tokens=Tokens(Secret(api_key), Secret(refresh_token) if refresh_token else None),
            )
        )
    store.save(Connection(account_id=OAUTH, method=Method.CONNECT_OAUTH, livemode=False, connected_at=1_790_000_000))


def _assert_every_secret_reads(store: ConnectionStore) -> None:
    for account_id, (api_key, refresh_token) in SECRETS.items():
        tokens = store.get(account_id).tokens
        assert tokens.api_key.value == api_key
        assert (tokens.refresh_token.value if tokens.refresh_token else None) == refresh_token
    assert store.get(OAUTH).tokens == Tokens()


def _no_decryption(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("a secret was decrypted")

    monkeypatch.setattr(Fernet, "decrypt", refuse)


# A deleted key file.


def test_a_deleted_key_file_is_never_replaced_while_secrets_are_sealed_with_it(settings):
    store = ConnectionStore(settings.connect)
    _save_all(store)
    key_path = settings.connect.key_path
    key_path.unlink()

    for attempt in (
        lambda: ConnectionStore(settings.connect).get(KEY),
        lambda: ConnectionStore(settings.connect).save(
            Connection(KEY, Method.RESTRICTED_KEY, False, 1, tokens=Tokens(Secret("rk_test_another_0000000")))
        ),
        lambda: ConnectionStore(settings.connect).check_key(),
        lambda: derived_key(settings.connect, "admin session cookie"),  # the web app's start
    ):
        with pytest.raises(ConfigurationError) as error:
            attempt()
        message = str(error.value)
        assert str(key_path) in message and "is missing" in message
        assert "restore it" in message and "rotate-key" in message and "CONNECTIONS_SECRET_KEY" in message
        assert not key_path.exists()  # no new key: the stored secrets stay readable once the file is back

    # What needs no key still works: the list, a removal.
    assert [c.account_id for c in ConnectionStore(settings.connect).connections()] == [APP, KEY, OAUTH]
    assert ConnectionStore(settings.connect).get(OAUTH).tokens == Tokens()
    assert ConnectionStore(settings.connect).delete(OAUTH)
    assert not key_path.exists()


def test_a_store_without_sealed_secrets_gets_a_key_generated(settings):
    store = ConnectionStore(settings.connect)
    store.save(Connection(account_id=OAUTH, method=Method.CONNECT_OAUTH, livemode=False, connected_at=1))
    assert not settings.connect.key_path.exists()  # nothing sealed, no key needed yet

    store.check_key()

    assert stat.S_IMODE(settings.connect.key_path.stat().st_mode) == 0o600
    Fernet(settings.connect.key_path.read_bytes().strip())


# An invalid key.


@pytest.mark.parametrize(
    "value",
    [
        "not-a-key",
        Fernet.generate_key().decode()[:-2] + "==",  # the right length, 31 bytes
        Fernet.generate_key().decode().replace("=", "") + "!=",
        "Zm9vYmFy" * 5 + "YQ==",  # valid base64, 31 bytes
    ],
    ids=["short", "31 bytes", "not base64", "31 bytes of base64"],
)
def test_an_invalid_key_in_the_environment_is_refused_at_start_naming_the_setting(make_settings, value):
    settings = make_settings(CONNECTIONS_SECRET_KEY=value)

    for start in (
        lambda: derived_key(settings.connect, "admin session cookie"),
        lambda: ConnectionStore(settings.connect).check_key(),
    ):
        with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not a valid key") as error:
            start()
        assert value not in str(error.value)  # never echoed
        assert "rotate-key" in str(error.value) or "Fernet.generate_key" in str(error.value)


def test_an_invalid_key_file_is_refused_naming_the_file(settings):
    key_path = settings.connect.key_path
    key_path.parent.mkdir(parents=True)
    key_path.write_text("0123456789abcdef0123456789abcdef\n")  # a hex key of another tool
    key_path.chmod(0o600)

    with pytest.raises(ConfigurationError) as error:
        derived_key(settings.connect, "admin session cookie")

    assert f"{key_path} does not hold a valid key" in str(error.value)
    assert "0123456789abcdef" not in str(error.value)


# A wrong key.


def test_a_wrong_key_in_the_environment_is_named_before_anything_is_decrypted(make_settings, monkeypatch):
    right = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    _save_all(ConnectionStore(right.connect))
    wrong = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    _no_decryption(monkeypatch)

    store = ConnectionStore(wrong.connect)
    with pytest.raises(ConfigurationError) as error:
        store.check_key()
    message = str(error.value)
    assert "CONNECTIONS_SECRET_KEY is not the key that encrypted" in message
    assert str(right.connect.db_path) in message and "rotate-key" in message
    with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not the key"):
        derived_key(wrong.connect, "admin session cookie")
    with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not the key"):
        store.get(KEY)


def test_a_wrong_key_never_seals_a_new_secret(make_settings):
    right = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    _save_all(ConnectionStore(right.connect))
    wrong = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    another = Connection(
        "acct_1Another000000004", Method.RESTRICTED_KEY, False, 1, tokens=Tokens(Secret("rk_test_another_0000000"))
    )

    with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not the key"):
        ConnectionStore(wrong.connect).save(another)

    assert ConnectionStore(right.connect).find(another.account_id) is None
    _assert_every_secret_reads(ConnectionStore(right.connect))


def test_a_replaced_key_file_is_named(settings):
    _save_all(ConnectionStore(settings.connect))
    key_path = settings.connect.key_path
    key_path.write_text(Fernet.generate_key().decode())

    with pytest.raises(ConfigurationError) as error:
        ConnectionStore(settings.connect).get(APP)

    assert f"The key file {key_path} is not the key that encrypted" in str(error.value)


def test_a_store_sealed_before_key_checks_existed_is_checked_by_decrypting_one_secret(make_settings):
    right = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    _save_all(ConnectionStore(right.connect))
    with sqlite3.connect(right.connect.db_path) as db:  # as an older release left it: no key check stored
        db.execute("delete from store_meta")
    wrong = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())

    with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not the key"):
        ConnectionStore(wrong.connect).check_key()
    ConnectionStore(right.connect).check_key()
    _assert_every_secret_reads(ConnectionStore(right.connect))
    with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not the key"):
        ConnectionStore(wrong.connect).check_key()  # now told by the check recorded meanwhile


def test_removing_and_listing_need_no_decryption(make_settings, monkeypatch):
    right = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    _save_all(ConnectionStore(right.connect))
    wrong = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    _no_decryption(monkeypatch)
    store = ConnectionStore(wrong.connect)

    assert [c.account_id for c in store.connections()] == [APP, KEY, OAUTH]
    assert store.find(KEY).method is Method.RESTRICTED_KEY
    assert store.delete(KEY) and store.delete(OAUTH)
    assert [c.account_id for c in store.connections()] == [APP]


# The files.


def test_the_key_file_is_created_exclusively_and_through_no_link(settings, tmp_path):
    key_path = settings.connect.key_path
    key_path.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("someone else's file\n")
    # A link planted where the draft of the key used to be written (`.connections.key.<pid>`):
    (key_path.parent / f".{key_path.name}.{os.getpid()}").symlink_to(elsewhere)

    _save_all(ConnectionStore(settings.connect))

    assert elsewhere.read_text() == "someone else's file\n"
    assert not key_path.is_symlink() and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    Fernet(key_path.read_bytes().strip())


def test_a_link_in_place_of_the_key_file_is_refused(settings, tmp_path):
    key_path = settings.connect.key_path
    key_path.parent.mkdir(parents=True)
    key_path.symlink_to(tmp_path / "nowhere")

    with pytest.raises(ConfigurationError, match=f"{key_path} is a symbolic link"):
        _save_all(ConnectionStore(settings.connect))

    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660], ids=oct)
def test_a_database_others_can_read_is_refused(settings, mode):
    store = ConnectionStore(settings.connect)
    _save_all(store)
    settings.connect.db_path.chmod(mode)

    with pytest.raises(ConfigurationError) as error:
        ConnectionStore(settings.connect).connections()

    assert f"chmod 600 {settings.connect.db_path}" in str(error.value)
    assert f"mode {mode:o}" in str(error.value)


# Rotation.


def test_rotation_reseals_every_secret_with_a_new_key_file(settings):
    store = ConnectionStore(settings.connect)
    _save_all(store)
    key_path = settings.connect.key_path
    old_key = key_path.read_text().strip()
    sealed_before = _sealed(settings)

    rotation = ConnectionStore(settings.connect).rotate_key()

    assert rotation.resealed == 2 and rotation.forgotten == () and rotation.new_key is None
    new_key = key_path.read_text().strip()
    assert new_key != old_key and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in key_path.parent.iterdir() if "key" in p.name) == [key_path.name]  # no backup left
    after = _sealed(settings)
    assert after.keys() == sealed_before.keys() and all(after[a] != sealed_before[a] for a in after)
    _assert_every_secret_reads(ConnectionStore(settings.connect))
    _assert_every_secret_reads(store)  # a store opened before the rotation follows the new key file
    for account_id in (APP, KEY):
        assert Fernet(new_key.encode()).decrypt(after[account_id])
    with pytest.raises(Exception):  # noqa: B017, PT011 (any failure: the old key opens nothing)
        Fernet(old_key.encode()).decrypt(after[APP])


def test_rotation_with_the_key_in_the_environment_returns_the_key_to_set(make_settings):
    old = make_settings(CONNECTIONS_SECRET_KEY=Fernet.generate_key().decode())
    _save_all(ConnectionStore(old.connect))

    rotation = ConnectionStore(old.connect).rotate_key()

    assert rotation.resealed == 2 and rotation.new_key is not None
    assert not old.connect.key_path.exists()  # the environment's key is not written anywhere
    new = make_settings(CONNECTIONS_SECRET_KEY=rotation.new_key.value)
    _assert_every_secret_reads(ConnectionStore(new.connect))
    with pytest.raises(ConfigurationError, match="CONNECTIONS_SECRET_KEY is not the key"):
        ConnectionStore(old.connect).get(KEY)


def test_a_rotation_that_fails_midway_changes_nothing(settings, monkeypatch):
    _save_all(ConnectionStore(settings.connect))
    key_path = settings.connect.key_path
    old_key = key_path.read_text()
    sealed_before = _sealed(settings)
    real_encrypt = Fernet.encrypt
    calls = []

    def fail_on_the_second(self, data):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_encrypt(self, data)

    monkeypatch.setattr(Fernet, "encrypt", fail_on_the_second)
    with pytest.raises(OSError, match="disk full"):
        ConnectionStore(settings.connect).rotate_key()
    monkeypatch.setattr(Fernet, "encrypt", real_encrypt)

    assert key_path.read_text() == old_key and _sealed(settings) == sealed_before
    assert sorted(p.name for p in key_path.parent.iterdir() if "key" in p.name) == [key_path.name]
    _assert_every_secret_reads(ConnectionStore(settings.connect))


def test_a_rotation_interrupted_after_its_transaction_is_finished(settings, monkeypatch):
    _save_all(ConnectionStore(settings.connect))
    key_path = settings.connect.key_path
    old_key = key_path.read_text()
    real_replace = os.replace

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt  # killed between the committed transaction and the new key file's rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        ConnectionStore(settings.connect).rotate_key()
    monkeypatch.setattr(os, "replace", real_replace)
    assert key_path.read_text() == old_key  # the old key file is still in place…

    _assert_every_secret_reads(ConnectionStore(settings.connect))  # …yet the secrets read, with the new key
    ConnectionStore(settings.connect).rotate_key()  # and another rotation finishes the first, then rotates
    _assert_every_secret_reads(ConnectionStore(settings.connect))
    assert sorted(p.name for p in key_path.parent.iterdir() if "key" in p.name) == [key_path.name]


def test_a_lost_key_is_recovered_from_by_forgetting_what_it_sealed(settings):
    _save_all(ConnectionStore(settings.connect))
    settings.connect.key_path.unlink()

    with pytest.raises(ConfigurationError, match="is missing"):
        ConnectionStore(settings.connect).rotate_key()
    rotation = ConnectionStore(settings.connect).rotate_key(forget_unreadable=True)

    assert rotation.resealed == 0 and rotation.forgotten == (APP, KEY)
    store = ConnectionStore(settings.connect)
    store.check_key()
    for account_id in (APP, KEY):
        connection = store.get(account_id)
        assert connection.tokens == Tokens() and connection.status is Status.NEEDS_REAUTH
        assert "re-authenticate" in connection.status_reason.lower()
    assert store.get(OAUTH).status is Status.ACTIVE  # it had no secret: it is untouched


def test_a_damaged_secret_is_named_with_its_account_and_the_fix(settings):
    _save_all(ConnectionStore(settings.connect))
    with sqlite3.connect(settings.connect.db_path) as db:
        db.execute("update connections set secrets = ? where account_id = ?", (b"gAAAAAdamaged", KEY))

    with pytest.raises(ConfigurationError) as error:
        ConnectionStore(settings.connect).get(KEY)

    assert KEY in str(error.value) and "re-authenticate" in str(error.value)
    assert ConnectionStore(settings.connect).get(APP).tokens.api_key.value == SECRETS[APP][0]

    key_before, sealed_before = settings.connect.key_path.read_text(), _sealed(settings)
    with pytest.raises(ConfigurationError, match=KEY):  # a rotation would lose it: refused, nothing changed
        ConnectionStore(settings.connect).rotate_key()
    assert settings.connect.key_path.read_text() == key_before and _sealed(settings) == sealed_before

    rotation = ConnectionStore(settings.connect).rotate_key(forget_unreadable=True)
    assert rotation.resealed == 1 and rotation.forgotten == (KEY,)
    assert ConnectionStore(settings.connect).get(APP).tokens.api_key.value == SECRETS[APP][0]
    assert ConnectionStore(settings.connect).find(KEY).status is Status.NEEDS_REAUTH


def _sealed(settings) -> dict[str, bytes]:
    with sqlite3.connect(settings.connect.db_path) as db:
        return dict(db.execute("select account_id, secrets from connections where secrets is not null").fetchall())
