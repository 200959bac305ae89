"""The accounts a sync reads: those of the environment plus every active stored connection, and what a sync
tells the store afterwards (who needs re-authentication, who synced when)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from orchestration.connect.encryption import SecretsUnreadableError
from orchestration.connect.oauth import AppOAuth, OAuthError, OAuthUnavailableError
from orchestration.connect.restricted_key import is_live
from orchestration.connect.store import Connection, ConnectionStore, Method, Status, Tokens
from orchestration.settings import ConfigurationError, Secret, Settings, StripeCredential
from orchestration.sync_report import SyncReport

log = logging.getLogger(__name__)

# At a sync's start a Stripe App's access token is refreshed when it expires within this long; during the
# sync the reader refreshes it again as it nears expiry (its `refresh` hook).
REFRESH_MARGIN_SECONDS = 600
REAUTHENTICATE = "reconnect it on the Connections page (stripe-warehouse web → Re-authenticate)"
LOST_REFRESH_NOTE = (
    "A token refresh answer was lost (Stripe may have rotated the refresh token without us hearing the new "
    "one); if the next refresh fails, re-authenticate."
)


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
    already among them. Stripe App tokens about to expire are refreshed first, and their credentials carry a
    hook that refreshes them during the sync; a refresh Stripe rejects marks the connection for
    re-authentication and leaves it out. `unavailable_accounts` says why an active connection was left out;
    `credentials_and_unreadable` also says which were left out because their secret cannot be decrypted.
    """
    return credentials_and_unreadable(settings, account_ids, clock=clock)[0]


def credentials_and_unreadable(
    settings: Settings, account_ids: Collection[str] | None = None, *, clock: Callable[[], float] = time.time
) -> tuple[tuple[StripeCredential, ...], dict[str, str]]:
    """`stripe_credentials`, and the active stored connections whose secret cannot be decrypted (a missing,
    invalid or wrong key, a damaged secret), each with why and the fix: each fails alone, the others sync."""
    wanted = set(account_ids) if account_ids is not None else None
    from_env = [c for c in settings.stripe_credentials if wanted is None or c.known_account_id in wanted]
    known = {c.known_account_id for c in from_env}
    store = ConnectionStore(settings.connect)
    stored, unreadable = [], {}
    for connection in store.connections():
        if connection.status is not Status.ACTIVE or connection.account_id in known:
            continue
        if wanted is not None and connection.account_id not in wanted:
            continue
        try:
            credential = _credential(settings, store, connection, clock)
        except SecretsUnreadableError as exc:
            unreadable[connection.account_id] = f"its stored credential cannot be decrypted: {exc}"
            log.error("Not syncing Stripe account %s: %s", connection.account_id, exc)
            continue
        if credential is not None:
            stored.append(credential)
    return (*from_env, *stored), unreadable


def unavailable_accounts(settings: Settings, account_ids: Collection[str] | None = None) -> dict[str, str]:
    """Active connections `stripe_credentials` leaves out whatever Stripe says, and why (naming the fix);
    no network, no secret read."""
    reasons = {}
    for connection in ConnectionStore(settings.connect).connections():
        if connection.status is Status.ACTIVE and (account_ids is None or connection.account_id in account_ids):
            reason = _unreadable(settings, connection)
            if reason:
                reasons[connection.account_id] = reason
    return reasons


def reasons_not_synced(settings: Settings, account_ids: Collection[str]) -> dict[str, str]:
    """Why each of `account_ids` that has a stored connection cannot be synced now, naming the fix;
    no network, no secret read. Accounts not in the store are left out."""
    reasons = unavailable_accounts(settings, account_ids)
    if not settings.connect.db_path.exists():
        return reasons
    store = ConnectionStore(settings.connect)
    for account_id in account_ids:
        connection = store.find(account_id)
        if connection is not None and connection.status is Status.NEEDS_REAUTH:
            reasons[account_id] = (
                f"its connection needs re-authentication ({connection.status_reason or 'Stripe rejected it'}): "
                f"{REAUTHENTICATE}."
            )
    return reasons


def record_sync_outcome(
    settings: Settings,
    report: SyncReport,
    *,
    credentials: Collection[StripeCredential] | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Marks the stored accounts Stripe rejected for re-authentication, and the others synced now.

    `credentials`, the ones the sync read with, tie each verdict to the credential version it concerns: a
    connection re-authenticated while the sync ran is left alone. Without them every rejection counts.
    """
    store = ConnectionStore(settings.connect)
    connections = {c.account_id: c for c in store.connections()}
    used = {c.account_id: c for c in credentials or () if c.account_id is not None}
    for account_id in sorted(report.needs_reauth & connections.keys()):
        connection = connections[account_id]
        version = used[account_id].credential_version if account_id in used else None
        if version is not None and version != connection.credential_version:
            log.info("%s was re-authenticated during the sync: its new credential is kept", account_id)
            continue
        reason = report.failures.get(account_id, "Stripe rejected the credential.")
        # A 401 of a Stripe App's token (expired earlier than announced, or a refresh that could not reach
        # Stripe) is cured by a refresh, which marks the connection itself if Stripe refuses it. A 403 is
        # a permission the app lost: only the admin can give it back.
        if connection.method is Method.STRIPE_APP and "HTTP 401" in reason:
            stale = used[account_id].api_key if account_id in used else None
            try:
                _fresh_app_token(settings, store, account_id, clock, stale=stale, force=stale is None)
            except SecretsUnreadableError as exc:  # the key changed since the sync began: the next sync says so
                log.error("Could not refresh the access token of %s: %s", account_id, exc)
            continue
        if store.mark_needs_reauth(account_id, reason, version):
            log.error("Stripe account %s needs re-authentication: %s", account_id, reason)
    synced = {account_id for _, account_id in report.progress} - report.failures.keys() - report.needs_reauth
    if synced & connections.keys():
        store.mark_synced(synced & connections.keys(), int(clock()))


def _unreadable(settings: Settings, connection: Connection) -> str | None:
    if connection.method is not Method.CONNECT_OAUTH:
        return None
    platform_key = settings.connect.platform_key
    if platform_key is None:
        return (
            f"{connection.account_id} is read with the platform's key, and STRIPE_PLATFORM_KEY is not set: set it "
            "to the platform's secret key."
        )
    if is_live(platform_key) != connection.livemode:
        mode, key_mode = ("live", "test") if connection.livemode else ("test", "live")
        return (
            f"{connection.account_id} was connected in {mode} mode, but STRIPE_PLATFORM_KEY is a {key_mode}-mode "
            f"key, which cannot read it: set STRIPE_PLATFORM_KEY to the platform's {mode} secret key (sk_{mode}_…), "
            f"or connect the account again in {key_mode} mode."
        )
    return None


def _credential(
    settings: Settings, store: ConnectionStore, connection: Connection, clock: Callable[[], float]
) -> StripeCredential | None:
    account_id = connection.account_id
    version = connection.credential_version
    if connection.method is Method.CONNECT_OAUTH:
        reason = _unreadable(settings, connection)
        if reason:
            log.error("Not syncing a connected account: %s", reason)
            return None
        assert settings.connect.platform_key is not None
        return StripeCredential(
            api_key=settings.connect.platform_key,
            stripe_account=account_id,
            account_id=account_id,
            credential_version=version,
        )
    if connection.method is Method.STRIPE_APP:
        fresh = _fresh_app_token(settings, store, account_id, clock)
        return _app_credential(settings, fresh, clock) if fresh and fresh.tokens.api_key else None
    secret = store.get(account_id)
    if secret is None or secret.tokens.api_key is None:  # disconnected meanwhile
        return None
    return StripeCredential(api_key=secret.tokens.api_key, account_id=account_id, credential_version=version)


def _app_credential(settings: Settings, connection: Connection, clock: Callable[[], float]) -> StripeCredential:
    def refresh(stale: Secret) -> StripeCredential | None:
        # Called from a sync's reader threads: each call opens the store anew, as the store wants.
        fresh = _fresh_app_token(settings, ConnectionStore(settings.connect), connection.account_id, clock, stale=stale)
        return _app_credential(settings, fresh, clock) if fresh and fresh.tokens.api_key else None

    assert connection.tokens.api_key is not None  # the callers check
    return StripeCredential(
        api_key=connection.tokens.api_key,
        account_id=connection.account_id,
        expires_at=connection.expires_at,
        credential_version=connection.credential_version,
        refresh=refresh,
    )


def _fresh_app_token(
    settings: Settings,
    store: ConnectionStore,
    account_id: str,
    clock: Callable[[], float],
    *,
    stale: Secret | None = None,
    force: bool = False,
) -> Connection | None:
    """The Stripe App connection with a usable access token, refreshed first if needed; None if the account
    cannot be read.

    A refresh is needed when the token expires within REFRESH_MARGIN_SECONDS, when `force`d, or when the
    caller's token `stale` (about to expire, or refused with 401) is still the stored one: if it is not,
    another thread or process refreshed it meanwhile and its token is the answer.

    Refresh tokens rotate, so one refresh at a time: the account's lease is held from the read to the write;
    the database is locked only for the short read and write, never while Stripe answers.
    """
    with store.refresh_lease(account_id) as leased:
        connection = store.get(account_id)
        if connection is None or connection.status is not Status.ACTIVE or connection.method is not Method.STRIPE_APP:
            return None
        now = clock()
        if not leased:
            log.error("Another refresh of %s's token has been running for too long; not refreshing it", account_id)
            return connection if stale is None or connection.tokens.api_key != stale else None
        if stale is not None:
            needed = connection.tokens.api_key == stale
        else:
            expiring = connection.expires_at is not None and connection.expires_at - now <= REFRESH_MARGIN_SECONDS
            needed = force or expiring
        if not needed:
            return connection
        return _refresh(settings, store, connection, clock, hopeless=stale is not None or force)


def _refresh(
    settings: Settings, store: ConnectionStore, connection: Connection, clock: Callable[[], float], *, hopeless: bool
) -> Connection | None:
    """`hopeless`: the current token is known to be refused, so a failed refresh leaves nothing to read with."""
    account_id, version = connection.account_id, connection.credential_version
    now = clock()
    if connection.tokens.refresh_token is None:
        _needs_reauth(store, connection, "The Stripe App connection has no refresh token")
        return None
    try:
        grant = AppOAuth(settings.connect, settings.stripe_api_base, clock).refresh(connection.tokens.refresh_token)
    except OAuthError as exc:
        if exc.code == "invalid_grant":  # the refresh token is dead: only the admin can bring it back
            why = f"Stripe refused to refresh the Stripe App's access token: {exc}"
            if connection.status_reason == LOST_REFRESH_NOTE:
                why += " (an earlier refresh answer was lost: Stripe had rotated the refresh token then)"
            _needs_reauth(store, connection, why)
            return None
        problem: Exception = exc  # the app's own key or configuration was refused: not the connection's fault
    except OAuthUnavailableError as exc:
        if exc.answer_lost:
            store.set_status_reason(account_id, LOST_REFRESH_NOTE, version)
        problem = exc
    except ConfigurationError as exc:
        problem = exc
    else:
        tokens = Tokens(api_key=grant.access_token, refresh_token=grant.refresh_token)
        saved = store.update_tokens(account_id, version, tokens, grant.expires_at)
        if saved is None:
            # Re-authenticated (or marked, or removed) while Stripe answered: what is stored now wins.
            log.warning("%s changed while its token was refreshed; the stored credential is kept", account_id)
            current = store.get(account_id)
            return current if current is not None and current.status is Status.ACTIVE else None
        log.info("Refreshed the Stripe App access token of %s", account_id)
        return saved
    still_valid = connection.expires_at is not None and connection.expires_at > now and not hopeless
    log.error(
        "Could not refresh the access token of %s (%s); %s",
        account_id, problem, "using the current one" if still_valid else "skipping the account this time",
    )  # fmt: skip
    return connection if still_valid else None


def _needs_reauth(store: ConnectionStore, connection: Connection, why: str) -> None:
    reason = f"{why}. Stripe account {connection.account_id} needs re-authentication: {REAUTHENTICATE}."
    if store.mark_needs_reauth(connection.account_id, reason, connection.credential_version):
        log.error("%s", reason)
