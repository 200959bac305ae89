"""The local SQLite database of connected Stripe accounts, their secrets encrypted at rest.

Besides the connections it keeps the OAuth attempts under way (their `state`, to check the callback
against) and the admin's password hash. Every call opens its own SQLite connection, so the store is safe to
use from any thread or process; `locked()` serialises a read-modify-write of one connection across all of
them (a Stripe App's refresh token rotates: two refreshes at once would lose the connection).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

from orchestration.connect.encryption import SecretBox, secret_box
from orchestration.settings import ConnectSettings, Secret

BUSY_TIMEOUT_SECONDS = 60

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
    expires_at integer,
    secrets blob
);
create table if not exists oauth_attempts (
    state_hash text primary key,
    method text not null,
    started_at real not null
);
create table if not exists admin (
    username text primary key,
    password_hash text not null
);
"""


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
    expires_at: int | None = None
    """When a Stripe App's access token expires (unix seconds)."""
    tokens: Tokens = field(default_factory=Tokens)
    """Empty when read without secrets (`ConnectionStore.connections()`)."""


@dataclass(frozen=True)
class OAuthAttempt:
    method: Method
    started_at: float


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

    def get(self, account_id: str) -> Connection | None:
        """One connection with its secrets decrypted."""
        if not self.exists():
            return None
        with self._db() as db:
            row = db.execute("select * from connections where account_id = ?", (account_id,)).fetchone()
        return self._connection(row, with_secrets=True) if row else None

    def save(self, connection: Connection) -> None:
        """Adds the connection, or replaces the one of the same account (a re-authentication)."""
        with self._db() as db:
            self._write(db, connection)

    def delete(self, account_id: str) -> bool:
        with self._db() as db:
            return db.execute("delete from connections where account_id = ?", (account_id,)).rowcount > 0

    def mark_needs_reauth(self, account_id: str, reason: str) -> None:
        with self._db() as db:
            db.execute(
                "update connections set status = ?, status_reason = ? where account_id = ?",
                (Status.NEEDS_REAUTH.value, reason, account_id),
            )

    def mark_synced(self, account_ids: set[str], at: int) -> None:
        with self._db() as db:
            db.executemany(
                "update connections set last_synced_at = ? where account_id = ?", [(at, a) for a in account_ids]
            )

    @contextmanager
    def locked(self, account_id: str) -> Iterator[LockedConnection | None]:
        """The connection, locked against every other writer until the block ends; None if it is gone.

        SQLite's `begin immediate` takes the database's write lock, across threads and processes alike: a
        second refresh of the same account waits here, then finds the tokens the first one saved.
        """
        with self._db() as db:
            db.execute("begin immediate")
            row = db.execute("select * from connections where account_id = ?", (account_id,)).fetchone()
            yield LockedConnection(self, db, self._connection(row, with_secrets=True)) if row else None

    # OAuth attempts: the `state` sent to Stripe, kept hashed until its callback comes back once.

    def start_attempt(self, state: str, method: Method, started_at: float) -> None:
        with self._db() as db:
            db.execute("insert into oauth_attempts values (?, ?, ?)", (_hash(state), method.value, started_at))

    def take_attempt(self, state: str) -> OAuthAttempt | None:
        """The attempt `state` names, removed so its callback is accepted at most once."""
        if not self.exists():
            return None
        with self._db() as db:
            row = db.execute("delete from oauth_attempts where state_hash = ? returning *", (_hash(state),)).fetchone()
        return OAuthAttempt(Method(row["method"]), row["started_at"]) if row else None

    def forget_attempts_before(self, cutoff: float) -> None:
        with self._db() as db:
            db.execute("delete from oauth_attempts where started_at < ?", (cutoff,))

    # The admin.

    def admin_password_hash(self, username: str) -> str | None:
        if not self.exists():
            return None
        with self._db() as db:
            row = db.execute("select password_hash from admin where username = ?", (username,)).fetchone()
        return row["password_hash"] if row else None

    def set_admin_password_hash(self, username: str, password_hash: str) -> None:
        with self._db() as db:
            db.execute("delete from admin")  # one admin
            db.execute("insert into admin values (?, ?)", (username, password_hash))

    # SQLite.

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self._create_private_file()
        # isolation_level=None: transactions only where asked (`locked`); every other statement commits itself.
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.executescript(SCHEMA)
            yield db
            if db.in_transaction:
                db.execute("commit")
        finally:
            if db.in_transaction:
                db.execute("rollback")
            db.close()

    def _create_private_file(self) -> None:
        if self.path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Secrets are encrypted, but which accounts are connected is nobody else's business either.
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))

    def _write(self, db: sqlite3.Connection, connection: Connection) -> None:
        tokens = {
            name: getattr(connection.tokens, name).value
            for name in ("api_key", "refresh_token")
            if getattr(connection.tokens, name) is not None
        }
        db.execute(
            "insert or replace into connections values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                self._box.seal(json.dumps(tokens).encode()) if tokens else None,
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
        )


@dataclass
class LockedConnection:
    """A connection read under the store's write lock; `save` and `mark_needs_reauth` write under it."""

    store: ConnectionStore
    db: sqlite3.Connection
    connection: Connection

    def save(self, connection: Connection) -> None:
        self.store._write(self.db, connection)  # noqa: SLF001
        self.connection = connection

    def mark_needs_reauth(self, reason: str) -> None:
        self.save(replace(self.connection, status=Status.NEEDS_REAUTH, status_reason=reason))


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
