"""Constants and helpers shared by the simulator tests (a plain module: `conftest` is ambiguous as a name)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import stripe

from orchestration.simulator.generate.patterns import month_start
from orchestration.simulator.templates import API_VERSION

NOW = 1_780_000_000
"""A fixed clock, so every run sees the same account."""
PATTERNS_NOW = 1773755100
"""The clock of the pattern tests' account: 2026-03-17 13:45 UTC, mid-month, so the current month is evaluated
at now."""
API_KEY = "sk_test_simulator"


def sdk_client(base_url: str, api_key: str = API_KEY, **options: object) -> stripe.StripeClient:
    """An SDK client configured like the ingester's, without retries unless asked (failures show at once)."""
    options = {"max_network_retries": 0, **options}
    return stripe.StripeClient(api_key, base_addresses={"api": base_url}, stripe_version=API_VERSION, **options)


def pattern_month(months: int, now: int = PATTERNS_NOW) -> date:
    """The first day (UTC, whatever the machine's time zone) of the month `months` months from `now`'s."""
    return datetime.fromtimestamp(month_start(now, months), UTC).date()


def mrr_value(mrr: dict, customer: str, months: int, currency: str = "usd") -> float | None:
    """A customer's truth (`expected_customer_mrr`) in the month `months` from `PATTERNS_NOW`'s, to a thousandth
    of the major unit; None when the month has no key."""
    value = mrr.get((customer, currency, pattern_month(months)))
    return None if value is None else round(value, 3)
