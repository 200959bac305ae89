"""How many decimals each currency's amounts have: Stripe's lists, shared by the catalogue, payments and truth.

Amounts are integers in the currency's minor unit (https://docs.stripe.com/currencies#minor-units): cents for
most currencies, whole units for zero-decimal ones, thousandths for three-decimal ones.
"""

from __future__ import annotations

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
"""Amounts in whole units (https://docs.stripe.com/currencies#zero-decimal)."""
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
"""Amounts in 1/1000 of the unit (https://docs.stripe.com/currencies#three-decimal); Stripe wants their last
digit 0 (amounts divisible by 10)."""


def exponent(currency: str) -> int:
    """Decimals of `currency` (lowercase ISO code): an amount divided by 10 ** this is in major units."""
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 3 if currency in THREE_DECIMAL_CURRENCIES else 2
