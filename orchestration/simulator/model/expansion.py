"""The expansions the simulator honours: fields Stripe shows only, or only in full, when asked.

`expand[]=tiers` on a price (or plan) adds its `tiers`, which Stripe leaves out otherwise;
`expand[]=discounts` on a subscription, invoice, invoice line or subscription item replaces the
`discounts` ids with the `discount` objects, and `expand[]=items.data.discounts` on a subscription (or
`lines.data.discounts` on an invoice) does the same in each of its embedded items (lines). In a list the
same expansions are asked for with a `data.` prefix
(`expand[]=data.tiers`, `expand[]=data.items.data.discounts`). Other expansions are accepted and ignored.

Ended discounts (a `once` coupon after its first invoice, a `repeating` one after its months) are gone from
the subscription but still expand from the invoices and lines they discounted, as on Stripe: "Use
`expand[]=discounts` to expand each discount" (https://docs.stripe.com/api/invoices/object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

EXPANDABLE: dict[str, frozenset[str]] = {
    "prices": frozenset({"tiers"}),
    "plans": frozenset({"tiers"}),
    "subscriptions": frozenset({"discounts", "items.data.discounts"}),
    "subscription_items": frozenset({"discounts"}),
    "invoices": frozenset({"discounts", "lines.data.discounts"}),
    "invoice_line_items": frozenset({"discounts"}),
}
"""Per list, the fields the simulator expands."""

Lookup = Callable[[str, str], dict[str, Any] | None]
"""(list name, id) → the stored object, or None."""
HiddenLookup = Callable[[str, str], dict[str, Any]]
"""(list name, id) → the object's hidden fields (`ListSpec.hidden_fields`)."""


def requested(name: str, expand: Iterable[str], in_list: bool) -> frozenset[str]:
    """The fields of `name` objects to expand for `expand` (`data.tiers` in a list, `tiers` on retrieve)."""
    expandable = EXPANDABLE.get(name)
    if not expandable:
        return frozenset()
    prefix = "data." if in_list else ""
    return frozenset(
        field for value in expand if value.startswith(prefix) and (field := value.removeprefix(prefix)) in expandable
    )


def expanded(
    name: str, obj: dict[str, Any], fields: frozenset[str], lookup: Lookup, hidden: HiddenLookup
) -> dict[str, Any] | None:
    """`obj` with `fields` expanded, or None when expanding changes nothing (so its cached JSON serves)."""
    changes: dict[str, Any] = {}
    if "tiers" in fields and "tiers" in (extra := hidden(name, obj["id"])):
        changes["tiers"] = extra["tiers"]
    if "discounts" in fields and obj.get("discounts"):
        changes["discounts"] = _discount_objects(obj["discounts"], lookup)
    for embedded in ("items", "lines"):
        field = f"{embedded}.data.discounts"
        if field in fields and any(child.get("discounts") for child in obj[embedded]["data"]):
            children = [
                {**child, "discounts": _discount_objects(child["discounts"], lookup)}
                if child.get("discounts")
                else child
                for child in obj[embedded]["data"]
            ]
            changes[embedded] = {**obj[embedded], "data": children}
    return {**obj, **changes} if changes else None


def _discount_objects(discounts: list[Any], lookup: Lookup) -> list[Any]:
    # A discount the account does not hold (a plain API dump) stays an id, as if not expandable.
    return [
        lookup("discounts", discount) or discount if isinstance(discount, str) else discount for discount in discounts
    ]
