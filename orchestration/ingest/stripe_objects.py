"""The Stripe objects the ingester loads, and how each is listed.

One entry per raw table in schema `stripe_raw`. The list parameters encode Stripe's default filters that
would otherwise hide rows: subscriptions omit canceled ones unless `status=all`, and the `active` filter
of prices, plans and products is read both ways so no default can drop inactive objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StripeObject:
    table: str
    """Raw table name and dlt resource name, after the list endpoint (`customers`)."""
    list_path: str
    """List endpoint, relative to the API base."""
    description: str
    passes: tuple[dict[str, str], ...] = field(default=({},))
    """Extra list parameters per pass; the union of the passes is every object of the type."""


BOTH_ACTIVE_STATES = ({"active": "true"}, {"active": "false"})

STRIPE_OBJECTS: tuple[StripeObject, ...] = (
    StripeObject("customers", "/v1/customers", "Stripe customers (the buyers of the account)."),
    StripeObject("charges", "/v1/charges", "Charges: attempts to move money from a payment method."),
    StripeObject("coupons", "/v1/coupons", "Coupons: discount definitions applied to customers and subscriptions."),
    StripeObject("invoices", "/v1/invoices", "Invoices, with their first embedded lines."),
    StripeObject("plans", "/v1/plans", "Plans: the legacy view of recurring prices.", passes=BOTH_ACTIVE_STATES),
    StripeObject(
        "subscriptions",
        "/v1/subscriptions",
        "Subscriptions in every status, canceled included.",
        passes=({"status": "all"},),
    ),
    StripeObject("events", "/v1/events", "Events of the last 30 days (Stripe keeps no older ones)."),
)


def stripe_object(table: str) -> StripeObject:
    for obj in STRIPE_OBJECTS:
        if obj.table == table:
            return obj
    raise KeyError(f"unknown Stripe object {table!r}; known: {', '.join(o.table for o in STRIPE_OBJECTS)}")
