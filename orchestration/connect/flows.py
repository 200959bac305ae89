"""Connecting, re-authenticating and disconnecting accounts: what the web page and the command line share.

An OAuth attempt starts with a random `state` kept (hashed) in the store and ends when Stripe's callback
brings it back, once, within ATTEMPT_TTL_SECONDS. Any failure (a denial, an unknown or reused code, a
`state` the store does not know or that is too old) stores nothing and raises ConnectError with a message
for the admin.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import stripe

from orchestration.connect.oauth import AppOAuth, ConnectOAuth, Grant, OAuthError, OAuthUnavailableError, mask_secrets
from orchestration.connect.restricted_key import KeyRefusedError, account_details, check_key, is_live, key_warning
from orchestration.connect.store import Connection, ConnectionStore, Method, Tokens
from orchestration.settings import ConfigurationError, Secret, Settings

log = logging.getLogger(__name__)

ATTEMPT_TTL_SECONDS = 600
# What a Stripe key is made of: anything else (a line break, a space) is refused before it is sent anywhere.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_]*")


class ConnectError(Exception):
    """Connecting did not work; the message says why and what to do, and nothing was stored."""


@dataclass(frozen=True)
class Started:
    url: str
    """Where to send the admin's browser."""
    state: str


class Connector:
    def __init__(
        self, settings: Settings, store: ConnectionStore | None = None, clock: Callable[[], float] = time.time
    ):
        self.settings = settings
        self.store = store or ConnectionStore(settings.connect)
        self.clock = clock

    def oauth_methods(self) -> list[Method]:
        """The OAuth ways to connect this installation is configured for."""
        connect = self.settings.connect
        offered = []
        if connect.connect_client_id and connect.platform_key:
            offered.append(Method.CONNECT_OAUTH)
        if connect.app_client_id and connect.app_secret_key:
            offered.append(Method.STRIPE_APP)
        return offered

    def start(self, method: Method, redirect_uri: str, expected_account_id: str | None = None) -> Started:
        """A new OAuth attempt; `expected_account_id` when re-authenticating that account, which Stripe's
        answer must then be for."""
        state = secrets.token_urlsafe(32)
        url = self._oauth(method).authorize_url(state, redirect_uri)
        self.store.forget_attempts_before(self.clock() - ATTEMPT_TTL_SECONDS)
        self.store.start_attempt(state, method, self.clock(), expected_account_id)
        return Started(url, state)

    def finish(
        self, state: str, code: str | None, error: str | None = None, error_description: str | None = None
    ) -> Connection:
        """The connection Stripe's callback grants, saved; raises ConnectError with nothing saved."""
        attempt = self.store.take_attempt(state) if state else None
        if attempt is None:
            raise ConnectError(
                "This answer from Stripe does not belong to a connection started here (its state is unknown or "
                "was already used). Nothing was saved: start again with Add a data source."
            )
        if self.clock() - attempt.started_at > ATTEMPT_TTL_SECONDS:
            raise ConnectError(
                f"The connection attempt expired (over {ATTEMPT_TTL_SECONDS // 60} minutes passed). Nothing was "
                "saved: start again with Add a data source."
            )
        if error:
            if error == "access_denied":
                raise ConnectError("Access was denied at Stripe, so nothing was connected.")
            raise ConnectError(f"Stripe did not connect the account: {mask_secrets(error_description or error)}.")
        if not code:
            raise ConnectError("Stripe's answer carried no authorization code. Nothing was saved.")
        try:
            grant = self._oauth(attempt.method).exchange(code)
        except OAuthError as exc:
            raise ConnectError(
                f"Stripe refused the authorization code: {exc.description or exc.code}. It may have been used "
                "already or have expired. Nothing was saved: start again with Add a data source."
            ) from None
        except OAuthUnavailableError as exc:
            raise ConnectError(f"Stripe could not be reached to finish connecting ({exc}). Try again.") from None
        _require_account(attempt.expected_account_id, grant.account_id)
        connection = self._save(self._connection(attempt.method, grant))
        log.info("Connected Stripe account %s (%s)", connection.account_id, connection.method.label)
        return connection

    def add_key(
        self, key: Secret, expected_account_id: str | None = None, *, notes: list[str] | None = None
    ) -> Connection:
        """Checks the key with test calls, then saves it; raises ConnectError with Stripe's message (the key
        masked in it). A key replacing a Connect OAuth connection revokes the platform's grant at Stripe.

        `expected_account_id`: the account whose key this replaces; a key of another account is refused.
        `notes`: gets what else was done, for the admin (the old grant revoked, or why not)."""
        if not _KEY_SHAPE.fullmatch(key.value):
            raise ConnectError(
                "The key was not saved: a Stripe key is letters, digits and underscores only, and this one holds "
                "spaces, line breaks or other characters. Copy the key again and paste it alone."
            )
        try:
            details = check_key(self.settings.stripe_api_base, key)
        except KeyRefusedError as exc:
            raise ConnectError(f"The key was not saved: {_masked(str(exc), key)}") from None
        _require_account(expected_account_id, details.account_id, pasted=True)
        if warning := key_warning(key):
            log.warning("Stripe account %s: %s", details.account_id, warning)
        connection = Connection(
            account_id=details.account_id,
            method=Method.RESTRICTED_KEY,
            livemode=is_live(key),
            connected_at=int(self.clock()),
            business_name=details.business_name,
            tokens=Tokens(api_key=key),
        )
        previous = self.store.find(details.account_id)
        connection = self._save(connection)
        log.info("Connected Stripe account %s (restricted key %s)", connection.account_id, key.masked())
        note = ""
        if previous is not None and previous.method is Method.CONNECT_OAUTH:  # the key replaces the grant
            note = self._deauthorize(connection.account_id).strip()
        elif previous is not None and previous.method is Method.STRIPE_APP:
            note = "To revoke the Stripe App's access as well, uninstall it in the account's Stripe Dashboard."
        if note:
            log.info("Stripe account %s: %s", connection.account_id, note)
            if notes is not None:
                notes.append(note)
        return connection

    def disconnect(self, account_id: str) -> str:
        """Revokes access at Stripe where the method allows, deletes the credentials; says what it did.

        The account's data stays in the warehouse."""
        connection = self.store.find(account_id)  # no secret is needed: a wrong key must not stop it
        if connection is None:
            raise ConnectError(f"{account_id} is not connected.")
        note = ""
        if connection.method is Method.CONNECT_OAUTH:
            note = self._deauthorize(account_id)
        elif connection.method is Method.STRIPE_APP:
            note = " To revoke the app's access as well, uninstall it in the account's Stripe Dashboard."
        else:
            note = " To revoke the key as well, delete it in the account's Stripe Dashboard (Developers → API keys)."
        self.store.delete(account_id)
        log.info("Disconnected Stripe account %s", account_id)
        return f"Disconnected {account_id}; its data stays in the warehouse.{note}"

    def _deauthorize(self, account_id: str) -> str:
        """What became of the platform's access to the account, for the disconnect message."""
        dashboard = "revoke it in the Stripe Dashboard (Settings → Connected accounts) if it still matters."
        try:
            ConnectOAuth(self.settings.connect).deauthorize(account_id)
        except ConfigurationError as exc:  # Connect OAuth was set up once, and no longer is
            return f" Stripe was not asked to revoke the platform's access ({exc}); {dashboard}"
        except OAuthError as exc:
            if exc.code == "invalid_client":  # Stripe no longer knows the connection: nothing left to revoke
                return f" Stripe reports the platform is no longer connected to {account_id} ({exc})."
            return f" Stripe refused to revoke the platform's access ({exc}); {dashboard}"
        except OAuthUnavailableError as exc:
            return f" Stripe could not be reached to revoke the platform's access ({exc}); {dashboard}"
        return " Stripe revoked the platform's access."

    def _save(self, connection: Connection) -> Connection:
        """Saves a new connection, or the new credentials of a re-authenticated one (its sync history kept, its
        credential version moved on so verdicts on the old credential no longer apply)."""
        with self.store.refresh_lease(connection.account_id):  # not while a refresh of the old tokens runs
            previous = self.store.find(connection.account_id)
            if previous is not None:
                connection = replace(
                    connection,
                    last_synced_at=previous.last_synced_at,
                    credential_version=previous.credential_version + 1,
                )
            self.store.save(connection)
        return connection

    def _oauth(self, method: Method) -> ConnectOAuth | AppOAuth:
        if method is Method.CONNECT_OAUTH:
            return ConnectOAuth(self.settings.connect)
        if method is Method.STRIPE_APP:
            return AppOAuth(self.settings.connect, self.settings.stripe_api_base, self.clock)
        raise ValueError(f"{method} is not an OAuth method")

    def _connection(self, method: Method, grant: Grant) -> Connection:
        return Connection(
            account_id=grant.account_id,
            method=method,
            livemode=grant.livemode,
            connected_at=int(self.clock()),
            business_name=self._business_name(method, grant),
            scope=grant.scope,
            expires_at=grant.expires_at,
            tokens=Tokens(api_key=grant.access_token, refresh_token=grant.refresh_token)
            if method is Method.STRIPE_APP
            else Tokens(),
        )

    def _business_name(self, method: Method, grant: Grant) -> str:
        """Shown in the table only: a failure to read it leaves it blank rather than failing the connection."""
        try:
            if method is Method.STRIPE_APP and grant.access_token:
                return account_details(self.settings.stripe_api_base, grant.access_token).business_name
            platform_key = self.settings.connect.platform_key
            if platform_key:
                return account_details(self.settings.stripe_api_base, platform_key, grant.account_id).business_name
        except stripe.StripeError as exc:
            log.warning("Could not read the business name of %s: %s", grant.account_id, exc.user_message)
        return ""


def _masked(text: str, key: Secret) -> str:
    """`text` with the key masked, whatever Stripe (or the HTTP library) did to it: the key itself, its repr,
    and each of its pieces between spaces, line breaks or other characters, then anything key-shaped."""
    text = text.replace(key.value, key.masked()).replace(repr(key.value)[1:-1], key.masked())
    for piece in sorted(set(re.split(r"[^A-Za-z0-9_]+", key.value)), key=len, reverse=True):
        if len(piece) >= 4:
            text = text.replace(piece, "****")
    return mask_secrets(text)


def _require_account(expected: str | None, granted: str, *, pasted: bool = False) -> None:
    """A re-authentication must bring back the account it was for: another's credential would silently
    replace nothing and connect an account nobody asked for."""
    if expected is None or granted == expected:
        return
    what = f"The key you pasted is of {granted}, but you" if pasted else f"You signed in to {granted} at Stripe, but"
    raise ConnectError(
        f"{what} were re-authenticating {expected}. Nothing was saved: re-authenticate {expected} again "
        f"with {'a key of that account' if pasted else 'that account'} (or add {granted} as a new data source)."
    )
