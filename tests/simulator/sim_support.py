"""Constants and helpers shared by the simulator tests (a plain module: `conftest` is ambiguous as a name)."""

from __future__ import annotations

import stripe

from orchestration.simulator.templates import API_VERSION

NOW = 1_780_000_000
PATTERNS_NOW = 1773755100
"""The clock of the pattern tests' account: 2026-03-17 13:45 UTC, mid-month, so the current month is evaluated
at now."""
"""A fixed clock, so every run sees the same account."""
API_KEY = "sk_test_simulator"


def sdk_client(base_url: str, api_key: str = API_KEY, **options: object) -> stripe.StripeClient:
    """An SDK client configured like the ingester's, without retries unless asked (failures show at once)."""
    options = {"max_network_retries": 0, **options}
    return stripe.StripeClient(api_key, base_addresses={"api": base_url}, stripe_version=API_VERSION, **options)
