"""The local SQLite database of connected Stripe accounts, their secrets encrypted at rest.

Besides the connections it keeps the OAuth attempts under way (their `state`, to check the callback
against) and the admin's login (password hash, session epoch, failed logins). Every call opens its own
SQLite connection, so the store is safe to use from any thread or process. `refresh_lease()` lets one caller
at a time, across threads and processes, refresh an account's tokens (a Stripe App's refresh token rotates:
two refreshes at once would lose the connection) without holding SQLite's database-wide write lock while
Stripe answers.

Secrets are encrypted with the master key (`encryption`), whose fingerprint the store keeps: the key is
checked before any secret is encrypted or decrypted, and `rotate_key()` re-encrypts every secret with a new
key in one transaction. What needs no secret (listing, finding, removing a connection) needs no key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from stat import S_IMODE

from orchestration.connect import encryption
from orchestration.connect.encryption import KEY_SETTING, MasterKey, SecretBox, SecretsUnreadableError
from orchestration.settings import ConfigurationError, ConnectSettings, Secret

BUSY_TIMEOUT_SECONDS = 60
# Longer than a token request may take (oauth.TIMEOUT_SECONDS, twice over): a waiter that gave up sooner
# could refresh with the refresh token the lease holder is spending.
LEASE_WAIT_SECONDS = 90

SCHEMA = """
create table if not exists connections (
    account_id text primary key,
    method text not null,
    livemode integer not null,
    business_name text not null default '',
    scope text not null default '',
    connected_at integer not null,
    last_synced_at integer,
    status text not null,
    status_reason text not null default '',
    expires_at real,
    secrets blob,
    credential_version integer not null default 1
);
create table if not exists oauth_attempts (
    state_hash text primary key,
    method text not null,
    started_at real not null,
    expected_account_id text
);
create table if not exists admin (
    username text primary key,
    password_hash text not null,
    session_epoch integer not null default 0
);
create table if not exists store_meta (
    name text primary key,
    value text not null
);
"""
# Columns newer than the first release, added to a file an earlier version made when it is opened (failed-login
# counts, once kept here, now live in their own file: auth.LoginThrottle).
ADDED_COLUMNS = (
    ("connections", "credential_version", "integer not null default 1"),
    ("oauth_attempts", "expected_account_id", "text"),
    ("admin", "session_epoch", "integer not null default 0"),
)
FORGOTTEN_REASON = (
    "Its stored secret could not be decrypted (the key that encrypted it was lost) and was dropped when the key "
    "was rotated: re-authenticate it (stripe-warehouse web → Re-authenticate, or `stripe-warehouse connections "
    "add-key --account {account_id}` for a key)."
)
# An update "of the credential version the caller saw", or of any version when it passes None.
_OF_VERSION = " and (? is null or credential_version = ?)"


class Method(StrEnum):
    """How an account is connected; each reads through the same ingestion path."""

    CONNECT_OAUTH = "connect_oauth"
    """Classic Connect OAuth: the platform's key plus `Stripe-Account`."""
    STRIPE_APP = "stripe_app"
    """A Stripe App's OAuth 2.0: a short-lived access token, refreshed with a rotating refresh token."""
    RESTRICTED_KEY = "restricted_key"
    """A restricted (or secret) key the admin pasted."""

    @property
    def label(self) -> str:
        return {"connect_oauth": "Connect OAuth", "stripe_app": "Stripe App", "restricted_key": "Restricted key"}[
            self.value
        ]


class Status(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs re-authentication"


@dataclass(frozen=True)
class Tokens:
    """A connection's secrets: what is encrypted at rest."""

    api_key: Secret | None = None
    """The key requests are made with: the pasted key, or a Stripe App's access token."""
    refresh_token: Secret | None = None


@dataclass(frozen=True)
class Connection:
    account_id: str
    method: Method
    livemode: bool
    connected_at: int
    business_name: str = ""
    scope: str = ""
    last_synced_at: int | None = None
    status: Status = Status.ACTIVE
    status_reason: str = ""
    expires_at: float | None = None
    """When a Stripe App's access token expires (unix seconds)."""
    tokens: Tokens = field(default_factory=Tokens)
    """Empty when read without secrets (`ConnectionStore.connections()`)."""
    credential_version: int = 1
    """Goes up with each re-authentication (not with a token refresh): a sync's verdict on a credential is
    checked against it, so it cannot undo a re-authentication made while the sync ran."""


@dataclass(frozen=True)
class OAuthAttempt:
    method: Method
    started_at: float
    expected_account_id: str | None = None
    """The account being re-authenticated: Stripe's answer must be for it."""


@dataclass(frozen=True)
class AdminRecord:
    password_hash: str
    session_epoch: int
    """Sessions carry the epoch they were opened in; logging out moves it on, ending them all."""


@dataclass(frozen=True)
class Rotation:
    """What `rotate_key()` did."""

    resealed: int
    """Secrets re-encrypted with the new key."""
    forgotten: tuple[str, ...]
    """Accounts whose secret could not be decrypted and was dropped (`forget_unreadable`), now marked for
    re-authentication."""
    new_key: Secret | None
    """The new key when the key is CONNECTIONS_SECRET_KEY, which the admin must now set; None when it went to
    the key file."""


class ConnectionStore:
    def __init__(self, settings: ConnectSettings) -> None:
        self.settings = settings
        self.path = settings.db_path
        self._box: SecretBox | None = None
        """The key last found right, kept while the store's fingerprint still names it."""

    def exists(self) -> bool:
        return self.path.exists()

    # The key.

    def check_key(self) -> None:
        """Raises SecretsUnreadableError (a ConfigurationError naming CONNECTIONS_SECRET_KEY or the key file, and the
        fix) unless the key is valid and the one that encrypted the stored secrets. Decrypts nothing, except
        once in a store of a release that kept no fingerprint; generates the key file if there is none and
        nothing is encrypted yet."""
        self._checked_box()

    def rotate_key(self, *, forget_unreadable: bool = False) -> Rotation:
        """Re-encrypts every stored secret with a new key, in one transaction.

        With the key file, the new key is written beside it (`.new`, exclusively, mode 600) and the old one
        kept (`.old`) until the transaction commits; then the new file replaces the old one atomically. A
        rotation killed after its commit leaves the new key in `.new`, which the store reads until the next
        rotation tidies up. With CONNECTIONS_SECRET_KEY the new key is returned, for the admin to set.

        A secret that cannot be decrypted stops the rotation (nothing changes), unless `forget_unreadable`: then
        it is dropped and its connection marked for re-authentication, which also recovers from a lost key.
        """
        settings = self.settings
        in_file = settings.secret_key is None
        with self._db() as db:
            db.execute("begin immediate")  # one rotation at a time, and no secret written meanwhile
            state = encryption.seal_state(db)
            if in_file:
                encryption.recover_key_file(settings.key_path, state)
            try:
                old: SecretBox | None = self._box_for(db)
            except SecretsUnreadableError:
                if not forget_unreadable:
                    raise
                old = None
            new = SecretBox(
                encryption.stage_new_key_file(settings.key_path) if in_file else encryption.generate_key(KEY_SETTING)
            )
            try:
                resealed, forgotten = 0, []
                rows = db.execute("select account_id, secrets from connections where secrets is not null").fetchall()
                for row in rows:
                    account_id = row["account_id"]
                    try:
                        plaintext = old.open(row["secrets"], account_id) if old is not None else None
                    except SecretsUnreadableError:
                        if not forget_unreadable:
                            raise  # naming the account and the fix; nothing has changed
                        plaintext = None
                    if plaintext is not None:
                        db.execute(
                            "update connections set secrets = ? where account_id = ?", (new.seal(plaintext), account_id)
                        )
                        resealed += 1
                    else:  # old is None only when forget_unreadable
                        db.execute(
                            "update connections set secrets = null, status = ?, status_reason = ? where account_id = ?",
                            (Status.NEEDS_REAUTH.value, FORGOTTEN_REASON.format(account_id=account_id), account_id),
                        )
                        forgotten.append(account_id)
                encryption.record_fingerprint(db, new.key)
                if in_file:
                    encryption.back_up_key_file(settings.key_path)
                db.execute("commit")
            except BaseException:
                if db.in_transaction:
                    db.execute("rollback")
                if in_file:
                    encryption.discard_new_key_file(settings.key_path)
                raise
        if in_file:
            encryption.install_new_key_file(settings.key_path)
        self._box = new
        return Rotation(resealed, tuple(forgotten), None if in_file else new.key.secret)

    # Connections.

    def connections(self) -> list[Connection]:
        """Every connection, by account id, without its secrets."""
        if not self.exists():
            return []
        with self._db() as db:
            rows = db.execute("select * from connections order by account_id").fetchall()
        return [self._connection(row, Tokens()) for row in rows]

    def find(self, account_id: str) -> Connection | None:
        """One connection without its secrets (no key needed), or None."""
        return self._read(account_id)

    def get(self, account_id: str) -> Connection | None:
        """One connection with its secrets decrypted; raises SecretsUnreadableError (naming the fix) if they cannot
        be."""
        if not self.exists():
            return None
        for _ in range(2):
            with self._db() as db:
                db.execute("begin")  # the row and the fingerprint of the key that encrypted it, together
                row = db.execute("select * from connections where account_id = ?", (account_id,)).fetchone()
                sealed_with = encryption.stored_fingerprint(db)
            if row is None or row["secrets"] is None:
                return self._connection(row, Tokens()) if row else None
            box = self._checked_box()
            if sealed_with is None or box.fingerprint == sealed_with:
                break
            # The key was rotated between the two reads: read the row again, encrypted with the new key.
        values = json.loads(box.open(row["secrets"], account_id))
        return self._connection(row, Tokens(**{name: Secret(value) for name, value in values.items()}))

    def save(self, connection: Connection) -> None:
        """Adds the connection, or replaces the one of the same account (a re-authentication)."""
        with self._db() as db:
            db.execute("begin immediate")  # the key's check and the write, with no rotation between them
            self._write(db, connection)

    def delete(self, account_id: str) -> bool:
        with self._db() as db:
            return db.execute("delete from connections where account_id = ?", (account_id,)).rowcount > 0

    def mark_needs_reauth(self, account_id: str, reason: str, credential_version: int | None = None) -> bool:
        """Marks the connection; with `credential_version`, only if it was not re-authenticated since."""
        with self._db() as db:
            cursor = db.execute(
                "update connections set status = ?, status_reason = ? where account_id = ?" + _OF_VERSION,
                (Status.NEEDS_REAUTH.value, reason, account_id, credential_version, credential_version),
            )
            return cursor.rowcount > 0

    def set_status_reason(self, account_id: str, reason: str, credential_version: int | None = None) -> bool:
        """A note shown with the connection, its status unchanged."""
        with self._db() as db:
            cursor = db.execute(
                "update connections set status_reason = ? where account_id = ?" + _OF_VERSION,
                (reason, account_id, credential_version, credential_version),
            )
            return cursor.rowcount > 0

    def update_tokens(
        self, account_id: str, credential_version: int, tokens: Tokens, expires_at: float | None
    ) -> Connection | None:
        """Saves refreshed tokens (clearing the connection's note); None if the connection was re-authenticated,
        marked or removed meanwhile: what is stored then wins."""
        with self._db() as db:
            db.execute("begin immediate")
            cursor = db.execute(
                "update connections set secrets = ?, expires_at = ?, status_reason = '' "
                "where account_id = ? and credential_version = ? and status = ?",
                (self._seal(db, tokens), expires_at, account_id, credential_version, Status.ACTIVE.value),
            )
        return self.get(account_id) if cursor.rowcount else None

    def mark_synced(self, account_ids: set[str], at: int) -> None:
        with self._db() as db:
            db.executemany(
                "update connections set last_synced_at = ? where account_id = ?", [(at, a) for a in account_ids]
            )

    @contextmanager
    def refresh_lease(self, account_id: str, wait_seconds: float = LEASE_WAIT_SECONDS) -> Iterator[bool]:
        """Holds the account's refresh lease while the block runs: True, or False if it was not had in time.

        An exclusive `flock` on a file per account: it excludes other threads (each opens the file anew) and
        other processes alike, and is let go if its holder dies. No database transaction is held meanwhile.
        """
        self._create_private_file()
        folder = self.path.with_name(f".{self.path.name}.leases")
        folder.mkdir(mode=0o700, exist_ok=True)
        self._require_private_file()
        fd = os.open(folder / f"{_file_name(account_id)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            held = _flock(fd, time.monotonic() + wait_seconds)
            try:
                yield held
            finally:
                if held:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # OAuth attempts: the `state` sent to Stripe, kept hashed until its callback comes back once.

    def start_attempt(
        self, state: str, method: Method, started_at: float, expected_account_id: str | None = None
    ) -> None:
        with self._db() as db:
            db.execute(
                "insert into oauth_attempts (state_hash, method, started_at, expected_account_id) values (?, ?, ?, ?)",
                (_hash(state), method.value, started_at, expected_account_id),
            )

    def take_attempt(self, state: str) -> OAuthAttempt | None:
        """The attempt `state` names, removed so its callback is accepted at most once."""
        if not self.exists():
            return None
        with self._db() as db:
            row = db.execute("delete from oauth_attempts where state_hash = ? returning *", (_hash(state),)).fetchone()
        return OAuthAttempt(Method(row["method"]), row["started_at"], row["expected_account_id"]) if row else None

    def forget_attempts_before(self, cutoff: float) -> None:
        with self._db() as db:
            db.execute("delete from oauth_attempts where started_at < ?", (cutoff,))

    # The admin.

    def admin(self, username: str) -> AdminRecord | None:
        if not self.exists():
            return None
        with self._db() as db:
            row = db.execute("select * from admin where username = ?", (username,)).fetchone()
        if row is None:
            return None
        return AdminRecord(row["password_hash"], row["session_epoch"])

    def admin_password_hash(self, username: str) -> str | None:
        record = self.admin(username)
        return record.password_hash if record else None

    def set_admin_password_hash(self, username: str, password_hash: str) -> None:
        with self._db() as db:
            db.execute("begin immediate")
            # The epoch carries over: a session of a logged-out epoch must not come back with a new password.
            epoch = db.execute("select coalesce(max(session_epoch), 0) from admin").fetchone()[0]
            db.execute("delete from admin")  # one admin
            db.execute(
                "insert into admin (username, password_hash, session_epoch) values (?, ?, ?)",
                (username, password_hash, epoch),
            )

    def end_admin_sessions(self, username: str) -> None:
        with self._db() as db:
            db.execute("update admin set session_epoch = session_epoch + 1 where username = ?", (username,))

    # SQLite.

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self._create_private_file()
        self._require_private_file()
        # isolation_level=None: transactions only where asked; every other statement commits itself.
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            self._prepare(db)
            yield db
            if db.in_transaction:
                db.execute("commit")
        finally:
            if db.in_transaction:
                db.execute("rollback")
            db.close()

    def _prepare(self, db: sqlite3.Connection) -> None:
        if self.__dict__.get("_prepared"):
            return
        db.executescript(SCHEMA)
        for table, column, definition in ADDED_COLUMNS:
            present = {row["name"] for row in db.execute(f"pragma table_info({table})")}
            if column not in present:
                try:
                    db.execute(f"alter table {table} add column {column} {definition}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise
        self._prepared = True

    def _create_private_file(self) -> None:
        if self.path.exists():
            return
        self.__dict__.pop("_prepared", None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Secrets are encrypted, but which accounts are connected is nobody else's business either.
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))

    def _require_private_file(self) -> None:
        mode = S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"{self.path} is readable by other users (mode {mode:o}): run `chmod 600 {self.path}` (it holds the "
                "connected Stripe accounts, their encrypted credentials and the admin's password hash)."
            )

    def _read(self, account_id: str) -> Connection | None:
        if not self.exists():
            return None
        with self._db() as db:
            row = db.execute("select * from connections where account_id = ?", (account_id,)).fetchone()
        return self._connection(row, Tokens()) if row else None

    def _checked_box(self) -> SecretBox:
        """The key that encrypted the store, checked against the store's fingerprint (see `_box_for`)."""
        with self._db() as db:
            if self._box is not None and encryption.stored_fingerprint(db) == self._box.fingerprint:
                return self._box
            db.execute("begin immediate")
            return self._box_for(db)

    def _box_for(self, db: sqlite3.Connection) -> SecretBox:
        """The key that encrypted the store, in `db`'s write transaction; raises SecretsUnreadableError if the key at
        hand is invalid, missing or another. Records the key's fingerprint when the store has none yet (or
        holds no secret encrypted with the one it has)."""
        state = encryption.seal_state(db)
        if self._box is not None and state.fingerprint == self._box.fingerprint:
            return self._box
        key = encryption.master_key(self.settings, state)
        if key.fingerprint != state.fingerprint:
            if state.holds_sealed:  # a store of an older release: the key must open one of its secrets
                self._require_opens_a_secret(db, key)
            encryption.record_fingerprint(db, key)
        self._box = SecretBox(key)
        return self._box

    def _require_opens_a_secret(self, db: sqlite3.Connection, key: MasterKey) -> None:
        box = SecretBox(key)
        for row in db.execute("select secrets from connections where secrets is not null"):
            if box.opens(row["secrets"]):
                return
        raise encryption.wrong_key(key, self.settings)

    def _seal(self, db: sqlite3.Connection, tokens: Tokens) -> bytes | None:
        """`tokens` encrypted, in `db`'s write transaction (no key needed when there are none)."""
        values = {
            name: getattr(tokens, name).value
            for name in ("api_key", "refresh_token")
            if getattr(tokens, name) is not None
        }
        return self._box_for(db).seal(json.dumps(values).encode()) if values else None

    def _write(self, db: sqlite3.Connection, connection: Connection) -> None:
        db.execute(
            "insert or replace into connections (account_id, method, livemode, business_name, scope, connected_at, "
            "last_synced_at, status, status_reason, expires_at, secrets, credential_version) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                connection.account_id,
                connection.method.value,
                int(connection.livemode),
                connection.business_name,
                connection.scope,
                connection.connected_at,
                connection.last_synced_at,
                connection.status.value,
                connection.status_reason,
                connection.expires_at,
                self._seal(db, connection.tokens),
                connection.credential_version,
            ),
        )

    def _connection(self, row: sqlite3.Row, tokens: Tokens) -> Connection:
        return Connection(
            account_id=row["account_id"],
            method=Method(row["method"]),
            livemode=bool(row["livemode"]),
            connected_at=row["connected_at"],
            business_name=row["business_name"],
            scope=row["scope"],
            last_synced_at=row["last_synced_at"],
            status=Status(row["status"]),
            status_reason=row["status_reason"],
            expires_at=row["expires_at"],
            tokens=tokens,
            credential_version=row["credential_version"],
        )


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _flock(fd: int, give_up: float) -> bool:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > give_up:
                return False
            time.sleep(0.02)


def _file_name(account_id: str) -> str:
    """A file name for the account id; ids are `acct_` plus letters and digits, anything else is hashed."""
    return account_id if re.fullmatch(r"[A-Za-z0-9_]{1,64}", account_id) else _hash(account_id)
