"""The admin's login: a scrypt-hashed password, signed sessions that expire, a CSRF token for every form, and
a throttle on password guesses that never locks the admin out.

The throttle counts failed logins per client address and per user name, in a small SQLite file of its own
beside the connections database (`stripe-warehouse web --unlock` empties it). A login is counted as a failure
before its password is checked, in one transaction, so guesses sent at once each see the ones before them;
past FREE_LOGIN_FAILURES, each waits longer before it is checked, at most MAX_LOGIN_DELAY_SECONDS; a success
clears its address's and its name's counts. Nothing is ever refused for its count alone: the right password
gets in, at worst after the longest delay. What is refused (429) is a crowd: more than
MAX_ATTEMPTS_IN_FLIGHT logins under way at once from one address. Scrypt runs MAX_CONCURRENT_HASHES at a time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from orchestration.connect.store import AdminRecord, ConnectionStore
from orchestration.settings import ConfigurationError, ConnectSettings, Secret

# scrypt at OWASP's minimum, N=2^17, r=8, p=1: 128 MiB and a few hundred milliseconds per guess.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_PASSWORD_LENGTH = 10
CSRF_FIELD = "csrf_token"
FREE_LOGIN_FAILURES = 5
MAX_LOGIN_DELAY_SECONDS = 30.0
"""The longest a login waits before its password is checked, however many failures came before it."""
FAILURES_FORGOTTEN_AFTER_SECONDS = 15 * 60
"""A count (of an address or a user name) starts again this long after its last failure."""
MAX_CONCURRENT_HASHES = 2
MAX_ATTEMPTS_IN_FLIGHT = 3
"""Per client address."""
MAX_THROTTLE_ROWS = 10_000
"""The throttle forgets the oldest counts beyond this many (addresses and names)."""


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, 32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    return hmac.compare_digest(computed, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash is weaker than what hash_password makes now (it is replaced at the next login)."""
    try:
        scheme, n, r, p, *_ = stored.split("$")
        return scheme != "scrypt" or (int(n), int(r), int(p)) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    except ValueError:
        return True


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # scrypt needs 128·r·(N + p) bytes, over OpenSSL's default cap of 32 MiB at N=2^17.
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def set_admin_password(store: ConnectionStore, username: str, password: Secret) -> None:
    if len(password.value) < MIN_PASSWORD_LENGTH:
        raise ConfigurationError(f"The admin password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    store.set_admin_password_hash(username, hash_password(password.value))


def install_admin(settings: ConnectSettings, store: ConnectionStore) -> None:
    """ADMIN_PASSWORD, when set, is the admin's password: its hash replaces the stored one at each start."""
    if settings.admin_password is not None:
        set_admin_password(store, settings.admin_username, settings.admin_password)
    elif store.admin_password_hash(settings.admin_username) is None:
        raise ConfigurationError(
            "No admin password is set: run `stripe-warehouse web --set-password` once, or set ADMIN_PASSWORD."
        )


class LoginThrottledError(Exception):
    """Too many logins under way at once from one address: this one was refused unchecked."""


def login_delay(failures: int) -> float:
    """How long a login waits before its password is checked, after `failures` failed ones (of its address or
    its user name, whichever has more): nothing for the first FREE_LOGIN_FAILURES, then a second, doubling up
    to MAX_LOGIN_DELAY_SECONDS. Slow for a guesser, a nuisance at worst for an admin who mistyped."""
    if failures < FREE_LOGIN_FAILURES:
        return 0.0
    return float(min(MAX_LOGIN_DELAY_SECONDS, 2 ** min(failures - FREE_LOGIN_FAILURES, 16)))


def throttle_path(settings: ConnectSettings) -> Path:
    return settings.db_path.with_name(f"{settings.db_path.stem}.logins{settings.db_path.suffix or '.sqlite3'}")


class LoginThrottle:
    """The failed-login counts, per client address and per user name (both kept hashed), in their own file."""

    def __init__(self, settings: ConnectSettings, clock: Callable[[], float] = time.time) -> None:
        self.path = throttle_path(settings)
        self.clock = clock

    def begin(self, address: str, username: str) -> float:
        """Counts a login as failed before it is checked (`succeeded` takes it back); the seconds it must wait
        first, from the counts before it."""
        now = self.clock()
        keys = _keys(address, username)
        with self._db() as db:
            db.execute("begin immediate")
            db.execute("delete from failures where last_at < ?", (now - FAILURES_FORGOTTEN_AFTER_SECONDS,))
            counts = [db.execute("select count from failures where key = ?", (k,)).fetchone() for k in keys]
            before = max((row[0] for row in counts if row), default=0)
            db.executemany(
                "insert into failures (key, count, last_at) values (?, 1, ?) "
                "on conflict (key) do update set count = count + 1, last_at = excluded.last_at",
                [(k, now) for k in keys],
            )
            db.execute(
                "delete from failures where key in (select key from failures order by last_at desc limit -1 offset ?)",
                (MAX_THROTTLE_ROWS,),
            )
        return login_delay(before)

    def succeeded(self, address: str, username: str) -> None:
        with self._db() as db:
            db.executemany("delete from failures where key = ?", [(k,) for k in _keys(address, username)])

    def clear(self) -> int:
        """Forgets every count (`stripe-warehouse web --unlock`); how many there were."""
        if not self.path.exists():
            return 0
        with self._db() as db:
            return db.execute("delete from failures").rowcount

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # addresses are nobody else's business
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("create table if not exists failures (key text primary key, count integer, last_at real)")
            yield db
            if db.in_transaction:
                db.execute("commit")
        finally:
            if db.in_transaction:
                db.execute("rollback")
            db.close()


def _keys(address: str, username: str) -> list[str]:
    return [_key("address", address), _key("username", username)]


def _key(kind: str, value: str) -> str:
    # Hashed: what a guesser typed as a user name is kept nowhere.
    return f"{kind}:{hashlib.sha256(value.strip().casefold().encode()).hexdigest()[:32]}"


class Sessions:
    """Who is logged in, kept in Starlette's signed session cookie.

    A session lasts `minutes` from login whatever the activity, and ends early when the password changes or
    the admin logs out: the cookie carries the admin's session epoch, which logging out moves on, so a copy
    of the cookie taken before is worthless.
    """

    def __init__(
        self,
        settings: ConnectSettings,
        store: ConnectionStore,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.username = settings.admin_username
        self.lifetime = settings.session_minutes * 60
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.throttle = LoginThrottle(settings, clock)
        self._hashing = asyncio.Semaphore(MAX_CONCURRENT_HASHES)
        self._in_flight: Counter[str] = Counter()

    async def log_in(self, request: Request, username: str, password: str) -> bool:
        """Checks the password, after the throttle's delay; raises LoginThrottledError while too many logins from the
        same address are under way."""
        address = request.client.host if request.client else ""
        if self._in_flight[address] >= MAX_ATTEMPTS_IN_FLIGHT:
            raise LoginThrottledError("Too many logins at once from your address: wait for them, then try again.")
        self._in_flight[address] += 1
        try:
            delay = await run_in_threadpool(self.throttle.begin, address, username)
            if delay:
                await self.sleep(delay)
            async with self._hashing:
                admin = await run_in_threadpool(self._check, username, password)
            if admin is None:
                return False
            await run_in_threadpool(self.throttle.succeeded, address, username)
        finally:
            self._in_flight[address] -= 1
            if self._in_flight[address] <= 0:
                del self._in_flight[address]
        request.session.clear()  # a fresh session (and CSRF token) at login: no fixation
        request.session.update(
            {
                "admin": self.username,
                "since": self.clock(),
                "password": _fingerprint(admin.password_hash),
                "epoch": admin.session_epoch,
                "csrf": _token(),
            }
        )
        return True

    def _check(self, username: str, password: str) -> AdminRecord | None:
        """The admin's record if these are the admin's name and password (its hash renewed if weaker than
        today's), else None. The password is hashed whatever the name, so a failure takes as long either way."""
        admin = self.store.admin(self.username)
        stored = admin.password_hash if admin else hash_password("")
        valid = verify_password(password, stored)
        if not (valid and admin is not None and hmac.compare_digest(username.encode(), self.username.encode())):
            return None
        if needs_rehash(stored):
            self.store.set_admin_password_hash(self.username, hash_password(password))
            admin = self.store.admin(self.username)
        return admin

    def log_out(self, request: Request) -> None:
        if self.is_admin(request):
            self.store.end_admin_sessions(self.username)
        request.session.clear()

    def is_admin(self, request: Request) -> bool:
        session = request.session
        if session.get("admin") != self.username or self.clock() - session.get("since", 0) > self.lifetime:
            return False
        admin = self.store.admin(self.username)
        return (
            admin is not None
            and session.get("epoch") == admin.session_epoch
            and hmac.compare_digest(session.get("password", ""), _fingerprint(admin.password_hash))
        )

    @staticmethod
    def csrf_token(request: Request) -> str:
        """The session's CSRF token (anonymous sessions get one too: the login form is protected as well)."""
        if "csrf" not in request.session:
            request.session["csrf"] = _token()
        return request.session["csrf"]

    @staticmethod
    def csrf_valid(request: Request, submitted: str | None) -> bool:
        expected = str(request.session.get("csrf") or "")
        return bool(expected and submitted) and hmac.compare_digest(str(submitted).encode(), expected.encode())


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _token() -> str:
    return secrets.token_urlsafe(32)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
