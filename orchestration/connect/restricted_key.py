"""Reading who an account is: the test call that checks a pasted key before it is saved, and the business name
shown for a new connection."""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from orchestration.settings import STRIPE_API_VERSION, Secret

KEY_PREFIXES = ("rk_live_", "rk_test_", "sk_live_", "sk_test_")


class KeyRefused(Exception):
    """The key cannot read the account; the message is Stripe's (which masks the key) or says what to paste."""


@dataclass(frozen=True)
class AccountDetails:
    account_id: str
    business_name: str


def check_key(api_base: str, key: Secret) -> AccountDetails:
    """`GET /v1/account` with the key: the call the ingester makes first, so a key that passes can sync."""
    if not key.value.startswith(KEY_PREFIXES):
        raise KeyRefused(
            "Paste a restricted key (rk_live_… or rk_test_…) or a secret key (sk_…); publishable keys cannot read data."
        )
    try:
        return account_details(api_base, key)
    except stripe.StripeError as exc:
        raise KeyRefused(exc.user_message or f"Stripe refused the key (HTTP {exc.http_status}).") from None


def account_details(api_base: str, key: Secret, stripe_account: str | None = None) -> AccountDetails:
    """The account the key opens (or `stripe_account`, for a platform's key); raises stripe.StripeError."""
    client = stripe.StripeClient(
        key.value,
        stripe_account=stripe_account,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": api_base},
        max_network_retries=2,
    )
    account = client.v1.accounts.retrieve_current().to_dict()
    profile = account.get("business_profile") or {}
    dashboard = (account.get("settings") or {}).get("dashboard") or {}
    name = profile.get("name") or dashboard.get("display_name") or account.get("email") or ""
    return AccountDetails(account_id=account["id"], business_name=name)


def is_live(key: Secret) -> bool:
    return "_live_" in key.value
