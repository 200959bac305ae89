"""Which Stripe accounts exist for Dagster (the partitions of the ingestion assets), and which credentials
read the accounts of a run.

An account is a partition once its id is known. Stored connections and STRIPE_ACCOUNT_IDS carry it; a lone
STRIPE_API_KEY does not, so its account is resolved with one `GET /v1/account`, by the sensor and by
`stripe-warehouse run`, never while the definitions load.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, MutableMapping

from orchestration.settings import Settings, StripeCredential

log = logging.getLogger(__name__)


def account_ids(settings: Settings, resolved_keys: MutableMapping[str, str] | None = None) -> list[str]:
    """Every account to sync, by id: stored connections, then the environment's accounts.

    `resolved_keys` caches the ids of keys whose account is not known without a request (fingerprint → id),
    so a sensor asks Stripe once per key, not once per tick. Raises StripeReadError if such a key is refused.
    """
    from orchestration.connect.accounts import connected_account_ids

    ids = set(connected_account_ids(settings))
    cache = resolved_keys if resolved_keys is not None else {}
    for credential in settings.stripe_credentials:
        ids.add(credential.known_account_id or _resolved_account_id(settings, credential, cache))
    return sorted(ids)


def credentials_for(
    settings: Settings, accounts: Collection[str] | None
) -> tuple[tuple[StripeCredential, ...], dict[str, str]]:
    """The credentials reading `accounts` (None: every account), and why any of them has none (a stored
    connection whose secret cannot be decrypted fails alone, with the reason, even when `accounts` is None)."""
    from orchestration.connect.accounts import credentials_and_unreadable, reasons_not_synced
    from orchestration.ingest.client import StripeReadError

    if accounts is None:
        return credentials_and_unreadable(settings)
    found, unreadable = credentials_and_unreadable(settings, accounts)
    credentials = list(found)
    missing = set(accounts) - {c.known_account_id for c in credentials}
    # STRIPE_API_KEY alone: its account id needs a request, and stripe_credentials leaves it out of a filter.
    for credential in settings.stripe_credentials:
        if missing and credential.known_account_id is None:
            try:
                account_id = _resolved_account_id(settings, credential, {})
            except StripeReadError as exc:
                log.error("%s", exc)
                continue
            if account_id in missing:
                credentials.append(credential)
                missing.discard(account_id)
    stored = reasons_not_synced(settings, missing)
    reasons = {
        account: unreadable.get(account)
        or stored.get(account)
        or "no credential: its connection was removed, or the key that read it is no longer set"
        for account in sorted(missing)
    }
    return tuple(credentials), reasons


def key_fingerprint(credential: StripeCredential) -> str:
    """Names a key in the sensor's cursor without revealing it."""
    return hashlib.sha256(credential.api_key.value.encode()).hexdigest()[:16]


def _resolved_account_id(settings: Settings, credential: StripeCredential, cache: MutableMapping[str, str]) -> str:
    # Imported here, as the Stripe SDK is: the definitions import this module and need neither.
    from orchestration.ingest.client import StripeReader

    fingerprint = key_fingerprint(credential)
    if fingerprint not in cache:
        reader = StripeReader(
            settings.stripe_api_base,
            credential,
            requests_per_second=settings.rate_limit_for(credential),
            endpoint_requests_per_second=settings.endpoint_rate_limit_for(credential),
            max_network_retries=settings.max_network_retries,
        )
        cache[fingerprint] = reader.account_id
    return cache[fingerprint]
