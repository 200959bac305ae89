"""The admin's login: a scrypt-hashed password, signed sessions that expire, and a CSRF token for every form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable

from starlette.requests import Request

from orchestration.connect.store import ConnectionStore
from orchestration.settings import ConfigurationError, ConnectSettings, Secret

# scrypt at N=2^14, r=8, p=1: ~16 MB and tens of milliseconds per guess.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10
CSRF_FIELD = "csrf_token"
FREE_LOGIN_FAILURES = 5
MAX_LOCKOUT_SECONDS = 15 * 60


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    computed = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(computed, expected)


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


class LoginThrottled(Exception):
    """Too many failed logins in a row: logins are refused for `seconds` more, whatever the password."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Too many failed logins: try again in {max(1, round(seconds / 60))} minute(s).")
        self.seconds = seconds


def lockout_seconds(failures: int) -> float:
    """After FREE_LOGIN_FAILURES failures in a row, logins are refused for a minute, doubling with each further
    failure up to MAX_LOCKOUT_SECONDS: slow enough for a guesser, short enough for an admin who mistyped."""
    if failures < FREE_LOGIN_FAILURES:
        return 0.0
    return float(min(MAX_LOCKOUT_SECONDS, 60 * 2 ** (failures - FREE_LOGIN_FAILURES)))


class Sessions:
    """Who is logged in, kept in Starlette's signed session cookie.

    A session lasts `minutes` from login whatever the activity, and ends early when the password changes or
    the admin logs out: the cookie carries the admin's session epoch, which logging out moves on, so a copy
    of the cookie taken before is worthless.
    """

    def __init__(
        self, settings: ConnectSettings, store: ConnectionStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.username = settings.admin_username
        self.lifetime = settings.session_minutes * 60
        self.store = store
        self.clock = clock

    def log_in(self, request: Request, username: str, password: str) -> bool:
        """Raises LoginThrottled while logins are refused after failures."""
        admin = self.store.admin(self.username)
        now = self.clock()
        if admin is not None and admin.locked_until > now:
            raise LoginThrottled(admin.locked_until - now)
        stored = admin.password_hash if admin else None
        # The hash is computed even for a wrong username, so a failure takes as long either way.
        valid = verify_password(password, stored or hash_password("")) and stored is not None
        if not (valid and hmac.compare_digest(username.encode(), self.username.encode())):
            self.store.record_login_failure(self.username, lockout_seconds, now)
            return False
        assert admin is not None and stored is not None
        self.store.reset_login_failures(self.username)
        request.session.clear()  # a fresh session (and CSRF token) at login: no fixation
        request.session.update(
            {
                "admin": self.username,
                "since": now,
                "password": _fingerprint(stored),
                "epoch": admin.session_epoch,
                "csrf": _token(),
            }
        )
        return True

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
        expected = request.session.get("csrf")
        return bool(expected and submitted) and hmac.compare_digest(str(submitted).encode(), expected.encode())


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _token() -> str:
    return secrets.token_urlsafe(32)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
