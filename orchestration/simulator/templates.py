"""Stripe's sample objects, used as the template of every generated object.

`stripe_samples.json` is the subset of the `fixtures3.json` of Stripe's OpenAPI repository (MIT, see
LICENSE-stripe-openapi) for the types the simulator serves; it is vendored so the simulator runs without
the shared folder. Every generated object starts from its type's sample, so it has exactly the keys and
nesting the real API returns at the pinned version.

Objects are built by `build(kind, **fields)`: a shallow copy of the cleaned sample with the given
top-level fields replaced. Nested values that are not replaced are *shared* between objects, which keeps
a 20,000-customer account in memory and fast to generate. Consequently generated objects must be treated
as immutable values: to change one, build a new dict (`{**obj, "status": ...}`), never mutate nested
values in place.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SAMPLES_PATH = Path(__file__).with_name("stripe_samples.json")
API_VERSION = "2026-10-28.endive"
"""The API version whose shapes the samples (and so the simulator) follow; the ingester pins it too."""

# Keys that real responses carry inside a nested object although the sample omits them (the samples
# leave out optional sub-objects). Shape checks allow exactly these on top of the sample's keys.
EXTRA_NESTED_KEYS: dict[tuple[str, str], frozenset[str]] = {
    ("line_item", "pricing"): frozenset({"price_details"}),
    ("invoiceitem", "pricing"): frozenset({"price_details"}),
    ("invoice_payment", "payment"): frozenset({"payment_intent"}),
    ("payment_intent", "last_payment_error"): frozenset({"code", "decline_code", "message"}),
}

# Top-level keys real responses leave out in some cases although the sample has them.
OMITTED_KEYS: dict[str, frozenset[str]] = {
    "subscription_item": frozenset({"quantity"}),  # absent on items of metered prices
}

# Sample values that are placeholders (fake `obj_123` ids, sub-objects of features the simulator does not
# model): replaced by what the real API returns for an account that does not use the feature.
_CLEANUPS: dict[str, dict[str, Any]] = {
    "customer": {"discount": None, "shipping": None, "address": None},
    "product": {"package_dimensions": None, "shippable": None, "type": "service", "images": []},
    "price": {"custom_unit_amount": None, "transform_quantity": None},
    "plan": {"transform_usage": None},
    "coupon": {"duration_in_months": None, "redeem_by": None, "currency": None},
    "subscription": {
        "automatic_tax": {"enabled": False, "liability": None, "disabled_reason": None},
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic", "flexible": None},
        "billing_schedules": [],
        "managed_payments": {"enabled": False},
        "next_pending_invoice_item_invoice": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_update": None,
        "transfer_data": None,
    },
    "subscription_item": {"billing_thresholds": None},
    "invoice": {
        "amount_overpaid": 0,
        "automatic_tax": {
            "enabled": False,
            "liability": None,
            "status": None,
            "disabled_reason": None,
            "provider": None,
        },
        "customer_shipping": None,
        "from_invoice": None,
        "last_finalization_error": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "shipping_cost": None,
        "shipping_details": None,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
    },
    "line_item": {"pretax_credit_amounts": [], "taxes": []},
    "invoiceitem": {"quantity_decimal": None},
    "charge": {"source": None, "transfer_data": None, "shipping": None},
    "payment_intent": {
        "amount_details": {"tip": {}},
        "automatic_payment_methods": None,
        "canceled_at": None,
        "last_payment_error": None,
        "managed_payments": {"enabled": False},
        "next_action": None,
        "payment_method_configuration_details": None,
        "processing": None,
        "shipping": None,
        "transfer_data": None,
    },
    "payment_method": {"metadata": {}},
    "dispute": {"enhanced_eligibility_types": []},
    "credit_note_line_item": {"tax_rates": []},
    "credit_note": {"amount_shipping": 0, "discount_amount": 0, "memo": None, "out_of_band_amount": None},
}


@cache
def samples() -> dict[str, dict[str, Any]]:
    """Stripe's sample object of each vendored type, keyed by object type (`customer`, `line_item`)."""
    return json.loads(SAMPLES_PATH.read_text())["resources"]


@cache
def _base(kind: str) -> dict[str, Any]:
    return {**samples()[kind], **_CLEANUPS.get(kind, {})}


def build(kind: str, **fields: Any) -> dict[str, Any]:
    """A new `kind` object: the cleaned sample with `fields` replacing its top-level values.

    Fields must be keys of the sample (tests check every generated object's shape against it); the
    check is not repeated here because this is the generator's hottest function.
    """
    obj = dict(_base(kind))
    obj.update(fields)
    return obj
