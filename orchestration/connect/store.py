"""The local SQLite database of connected Stripe accounts, their secrets encrypted at rest.

Besides the connections it keeps the OAuth attempts under way (their `state`, to check the callback
against) and the admin's login (password hash, session epoch, failed logins). Every call opens its own
SQLite connection, so the store is safe to use from any thread or process. `refresh_lease()` lets one caller
at a time, across threads and processes, refresh an account's tokens (a Stripe App's refresh token rotates:
two refreshes at once would lose the connection) without holding SQLite's database-wide write lock while
Stripe answers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from orchestration.connect.encryption import SecretBox, secret_box
from orchestration.settings import ConnectSettings, Secret

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
    session_epoch integer not null default 0,
    failed_logins integer not null default 0,
    locked_until real not null default 0
);
"""
# Columns newer than the first release, added to an older file when it is opened.
ADDED_COLUMNS = (
    ("connections", "credential_version", "integer not null default 1"),
    ("oauth_attempts", "expected_account_id", "text"),
    ("admin", "session_epoch", "integer not null default 0"),
    ("admin", "failed_logins", "integer not null default 0"),
    ("admin", "locked_until", "real not null default 0"),
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
    failed_logins: int
    locked_until: float


class ConnectionStore:
    def __init__(self, settings: ConnectSettings) -> None:
        self.settings = settings
        self.path = settings.db_path

    @cached_property
    def _box(self) -> SecretBox:
        # Only reading or writing a secret needs the key: listing accounts works without it.
        return secret_box(self.settings)

    def exists(self) -> bool:
        return self.path.exists()

    # Connections.

    def connections(self) -> list[Connection]:
        """Every connection, by account id, without its secrets."""
        if not self.exists():
            return []
        with self._db() as db:
            rows = db.execute("select * from connections order by account_id").fetchall()
        return [self._connection(row, with_secrets=False) for row in rows]

    def find(self, account_id: str) -> Connection | None:
        """One connection without its secrets (no key needed), or None."""
        return self._read(account_id, with_secrets=False)

    def get(self, account_id: str) -> Connection | None:
        """One connection with its secrets decrypted."""
        return self._read(account_id, with_secrets=True)

    def save(self, connection: Connection) -> None:
        """Adds the connection, or replaces the one of the same account (a re-authentication)."""
        with self._db() as db:
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
            cursor = db.execute(
                "update connections set secrets = ?, expires_at = ?, status_reason = '' "
                "where account_id = ? and credential_version = ? and status = ?",
                (self._seal(tokens), expires_at, account_id, credential_version, Status.ACTIVE.value),
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
        return AdminRecord(row["password_hash"], row["session_epoch"], row["failed_logins"], row["locked_until"])

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

    def record_login_failure(self, username: str, lock_for: Callable[[int], float], now: float) -> None:
        """Counts a failed login; `lock_for(failures)` says for how long logins are then refused (0: not)."""
        with self._db() as db:
            db.execute("begin immediate")
            row = db.execute("select failed_logins from admin where username = ?", (username,)).fetchone()
            if row is not None:
                failures = row["failed_logins"] + 1
                db.execute(
                    "update admin set failed_logins = ?, locked_until = ? where username = ?",
                    (failures, now + lock_for(failures), username),
                )

    def reset_login_failures(self, username: str) -> None:
        with self._db() as db:
            db.execute("update admin set failed_logins = 0, locked_until = 0 where username = ?", (username,))

    # SQLite.

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self._create_private_file()
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

    def _read(self, account_id: str, *, with_secrets: bool) -> Connection | None:
        if not self.exists():
            return None
        with self._db() as db:
            row = db.execute("select * from connections where account_id = ?", (account_id,)).fetchone()
        return self._connection(row, with_secrets=with_secrets) if row else None

    def _seal(self, tokens: Tokens) -> bytes | None:
        values = {
            name: getattr(tokens, name).value
            for name in ("api_key", "refresh_token")
            if getattr(tokens, name) is not None
        }
        return self._box.seal(json.dumps(values).encode()) if values else None

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
                self._seal(connection.tokens),
                connection.credential_version,
            ),
        )

    def _connection(self, row: sqlite3.Row, *, with_secrets: bool) -> Connection:
        tokens = Tokens()
        if with_secrets and row["secrets"] is not None:
            values = json.loads(self._box.open(row["secrets"]))
            tokens = Tokens(**{name: Secret(value) for name, value in values.items()})
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
