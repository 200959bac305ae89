"""Reading who an account is: the test call that checks a pasted key before it is saved, and the business name
shown for a new connection."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast

import stripe

from orchestration.settings import STRIPE_API_VERSION, Secret
from orchestration.stripe_objects import STRIPE_OBJECTS

KEY_PREFIXES = ("rk_live_", "rk_test_", "sk_live_", "sk_test_")


class KeyRefusedError(Exception):
    """The key cannot read the account; the message is Stripe's (which masks the key) or says what to paste."""


@dataclass(frozen=True)
class AccountDetails:
    account_id: str
    business_name: str


def check_key(api_base: str, key: Secret) -> AccountDetails:
    """`GET /v1/account` with the key, then one `limit=1` list of every object the ingester reads: a key that
    passes can sync. Raises KeyRefusedError naming what the key may not read."""
    if not key.value.startswith(KEY_PREFIXES):
        raise KeyRefusedError(
            "Paste a restricted key (rk_live_… or rk_test_…) or a secret key (sk_…); publishable keys cannot read data."
        )
    try:
        details = account_details(api_base, key)
    except stripe.StripeError as exc:
        raise KeyRefusedError(exc.user_message or f"Stripe refused the key (HTTP {exc.http_status}).") from None
    try:
        missing = missing_permissions(api_base, key)
    except stripe.StripeError as exc:
        raise KeyRefusedError(
            f"Stripe could not be asked whether the key can read the data: {exc.user_message}"
        ) from None
    if missing:
        raise KeyRefusedError(
            f"The key cannot read everything a sync reads; it lacks read access to: {', '.join(missing)}. Edit the "
            "key in the Stripe Dashboard (Developers → API keys) to give it Read access to these, then paste it again."
        )
    return details


def key_warning(key: Secret) -> str | None:
    """Advice about a key that works but should not be kept: a full secret key can write and move money."""
    if key.value.startswith("sk_"):
        return (
            "This is a full secret key (sk_…), which can also change data and move money. A restricted key "
            "(rk_…) with Read access is enough: create one in the Stripe Dashboard (Developers → API keys) and "
            "re-authenticate the account with it."
        )
    return None


def missing_permissions(api_base: str, key: Secret) -> list[str]:
    """The list endpoints the ingester reads that the key may not (403), each with the permission Stripe names."""
    # Raw requests: a 403 is an answer here, not a failure.
    requestor = _client(api_base, key)._requestor
    missing = []
    probes = {obj.list_path: obj.passes[0] for obj in STRIPE_OBJECTS}
    for path, params in probes.items():
        body, status, _ = requestor.request_raw(
            "get", path, params={"limit": 1, **params}, base_address="api", api_mode="V1"
        )
        if status == 403:
            message = str((_json(cast("str | bytes", body)).get("error") or {}).get("message", ""))
            permission = re.search(r"'(rak_[a-z_]+)'", message)
            missing.append(f"{path} ({permission.group(1)})" if permission else path)
        elif status >= 400 and status != 404:
            raise KeyRefusedError(f"Stripe answered HTTP {status} to a test read of {path}; try again later.")
    return missing


def account_details(api_base: str, key: Secret, stripe_account: str | None = None) -> AccountDetails:
    """The account the key opens (or `stripe_account`, for a platform's key); raises stripe.StripeError."""
    account = _client(api_base, key, stripe_account).v1.accounts.retrieve_current().to_dict()
    profile = account.get("business_profile") or {}
    dashboard = (account.get("settings") or {}).get("dashboard") or {}
    name = profile.get("name") or dashboard.get("display_name") or account.get("email") or ""
    return AccountDetails(account_id=account["id"], business_name=name)


def _client(api_base: str, key: Secret, stripe_account: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(
        key.value,
        stripe_account=stripe_account,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": api_base},
        max_network_retries=2,
    )


def _json(body: str | bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def is_live(key: Secret) -> bool:
    return "_live_" in key.value
