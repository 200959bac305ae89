"""The accounts a sync reads: those of the environment plus every active stored connection, and what a sync
tells the store afterwards (who needs re-authentication, who synced when)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import replace

from orchestration.connect.oauth import AppOAuth, OAuthError, OAuthUnavailable
from orchestration.connect.store import Connection, ConnectionStore, Method, Status, Tokens
from orchestration.ingest.report import SyncReport
from orchestration.settings import ConfigurationError, Secret, Settings, StripeCredential

log = logging.getLogger(__name__)

# A Stripe App's access token is refreshed when it expires within this long: a sync must not outlive it.
REFRESH_MARGIN_SECONDS = 600
REAUTHENTICATE = "reconnect it on the Connections page (stripe-warehouse web → Re-authenticate)"


def connected_account_ids(settings: Settings) -> list[str]:
    """Every stored connection's account id, whatever its status; no network, no secret needed."""
    return sorted(c.account_id for c in ConnectionStore(settings.connect).connections())


def require_accounts(settings: Settings) -> None:
    """Raises ConfigurationError when there is nothing to sync: no key in the environment, no active connection."""
    if settings.stripe_credentials:
        return
    if any(c.status is Status.ACTIVE for c in ConnectionStore(settings.connect).connections()):
        return
    raise ConfigurationError(
        "No Stripe account is configured: set STRIPE_API_KEY to a secret (sk_...) or restricted (rk_...) key of "
        "the account to load, or connect accounts (stripe-warehouse web, stripe-warehouse connect, or "
        "stripe-warehouse connections add-key)."
    )


def stripe_credentials(
    settings: Settings, account_ids: Collection[str] | None = None, *, clock: Callable[[], float] = time.time
) -> tuple[StripeCredential, ...]:
    """The accounts to sync, `account_ids` only if given (one Dagster partition).

    The environment's accounts come first (STRIPE_API_KEY / STRIPE_ACCOUNT_IDS; a key whose account is not
    known without a request is kept only when no filter is given), then every active stored connection not
    already among them. Stripe App tokens about to expire are refreshed first; a refresh Stripe rejects marks
    the connection for re-authentication and leaves it out.
    """
    wanted = set(account_ids) if account_ids is not None else None
    from_env = [c for c in settings.stripe_credentials if wanted is None or c.known_account_id in wanted]
    known = {c.known_account_id for c in from_env}
    store = ConnectionStore(settings.connect)
    stored = []
    for connection in store.connections():
        if connection.status is not Status.ACTIVE or connection.account_id in known:
            continue
        if wanted is not None and connection.account_id not in wanted:
            continue
        credential = _credential(settings, store, connection, clock)
        if credential is not None:
            stored.append(credential)
    return (*from_env, *stored)


def record_sync_outcome(settings: Settings, report: SyncReport, *, clock: Callable[[], float] = time.time) -> None:
    """Marks the stored accounts Stripe rejected for re-authentication, and the others synced now."""
    store = ConnectionStore(settings.connect)
    connections = {c.account_id: c for c in store.connections()}
    stored = set(connections)
    for account_id in sorted(report.needs_reauth & stored):
        # A Stripe App's token may have expired earlier than announced: a working refresh is the cure, and the
        # next sync reads with the new token. Only a refused refresh needs the admin (and marks it itself).
        if connections[account_id].method is Method.STRIPE_APP:
            _fresh_app_token(settings, store, account_id, clock, force=True)
            continue
        store.mark_needs_reauth(account_id, report.failures.get(account_id, "Stripe rejected the credential."))
    synced = {account_id for _, account_id in report.progress} - report.failures.keys() - report.needs_reauth
    if synced & stored:
        store.mark_synced(synced & stored, int(clock()))


def _credential(
    settings: Settings, store: ConnectionStore, connection: Connection, clock: Callable[[], float]
) -> StripeCredential | None:
    account_id = connection.account_id
    if connection.method is Method.CONNECT_OAUTH:
        if settings.connect.platform_key is None:
            log.error("Skipping %s: it is read with the platform's key, and STRIPE_PLATFORM_KEY is not set", account_id)
            return None
        return StripeCredential(api_key=settings.connect.platform_key, stripe_account=account_id, account_id=account_id)
    if connection.method is Method.STRIPE_APP:
        token = _fresh_app_token(settings, store, account_id, clock)
        return StripeCredential(api_key=token, account_id=account_id) if token else None
    secret = store.get(account_id)
    if secret is None or secret.tokens.api_key is None:  # disconnected meanwhile
        return None
    return StripeCredential(api_key=secret.tokens.api_key, account_id=account_id)


def _fresh_app_token(
    settings: Settings, store: ConnectionStore, account_id: str, clock: Callable[[], float], *, force: bool = False
) -> Secret | None:
    """The Stripe App's access token, refreshed first if it expires soon (or `force`); None if the account cannot
    be read.

    Refresh tokens rotate: the read, the refresh and the write happen under the store's lock, so a second
    caller waits and then finds the fresh token instead of spending the old refresh token again.
    """
    with store.locked(account_id) as locked:
        if locked is None or locked.connection.status is not Status.ACTIVE:
            return None
        connection = locked.connection
        now = clock()
        fresh = connection.expires_at is None or connection.expires_at - now > REFRESH_MARGIN_SECONDS
        if fresh and not force:
            return connection.tokens.api_key
        if connection.tokens.refresh_token is None:
            _needs_reauth(locked, account_id, "The Stripe App connection has no refresh token")
            return None
        try:
            grant = AppOAuth(settings.connect, settings.stripe_api_base, clock).refresh(connection.tokens.refresh_token)
        except OAuthError as exc:
            if exc.code == "invalid_grant":  # the refresh token is dead: only the admin can bring it back
                _needs_reauth(locked, account_id, f"Stripe refused to refresh the Stripe App's access token: {exc}")
                return None
            problem: Exception = exc  # the app's own key or configuration was refused: not the connection's fault
        except (OAuthUnavailable, ConfigurationError) as exc:
            problem = exc
        else:
            locked.save(
                replace(
                    connection,
                    tokens=Tokens(api_key=grant.access_token, refresh_token=grant.refresh_token),
                    expires_at=grant.expires_at,
                )
            )
            log.info("Refreshed the Stripe App access token of %s", account_id)
            return grant.access_token
        still_valid = connection.expires_at is not None and connection.expires_at > now and not force
        log.error(
            "Could not refresh the access token of %s (%s); %s",
            account_id, problem, "using the current one" if still_valid else "skipping the account this time",
        )  # fmt: skip
        return connection.tokens.api_key if still_valid else None


def _needs_reauth(locked, account_id: str, why: str) -> None:
    reason = f"{why}. Stripe account {account_id} needs re-authentication: {REAUTHENTICATE}."
    locked.mark_needs_reauth(reason)
    log.error("%s", reason)
