"""Customers of a generated account: who signs up (`new_customer`) and the books closed once a customer's
story is told (`close_books`: invoice numbers, `delinquent` flips).

Shared by `generator` (random customers), `patterns` (the named billing patterns) and `mutations` (later
sign-ups); it imports none of them, so imports run one way.
"""

from __future__ import annotations

import time

from orchestration.simulator.generate.world import World
from orchestration.simulator.ids import random_chars
from orchestration.simulator.records import CustomerRec, InvoiceRec, PaymentMethodRec

_FIRST_NAMES = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Hedy",
    "Tim",
    "Radia",
    "Guido",
    "Sophie",
    "Yukihiro",
    "Anita",
    "Bjarne",
    "Katherine",
    "John",
    "Lovelace",
    "Mary",
    "Claude",
    "Jean",
    "Shafi",
    "Leslie",
    "Donald",
    "Niklaus",
    "Carol",
    "Vint",
)
_LAST_NAMES = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Perlman",
    "van Rossum",
    "Wilson",
    "Matsumoto",
    "Borg",
    "Stroustrup",
    "Johnson",
    "McCarthy",
    "Keller",
    "Shannon",
    "Bartik",
    "Goldwasser",
    "Lamport",
    "Knuth",
    "Wirth",
    "Shaw",
    "Cerf",
    "Nakamura",
)
# (country, weight, city, state, postal code format)
_COUNTRIES = (
    ("US", 55, "San Francisco", "CA", "94{:03d}"),
    ("GB", 8, "London", None, "EC{:d}A 1BB"),
    ("CA", 6, "Toronto", "ON", "M5V {:d}A1"),
    ("DE", 9, "Berlin", None, "10{:03d}"),
    ("FR", 7, "Paris", None, "75{:03d}"),
    ("JP", 5, "Tokyo", None, "100-{:04d}"),
    ("AU", 5, "Sydney", "NSW", "2{:03d}"),
    ("NL", 5, "Amsterdam", None, "10{:02d} AB"),
)
_CARDS = (("visa", 60, "4"), ("mastercard", 30, "5"), ("amex", 10, "3"))


def new_customer(world: World, created: int) -> CustomerRec:
    rng, ids = world.rng, world.ids
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    customer_id = ids.new("cus", created)
    country, _, city, state, postal = rng.choices(_COUNTRIES, weights=[c[1] for c in _COUNTRIES])[0]
    address = None
    if rng.random() < 0.7:
        address = {
            "city": city,
            "country": country,
            "line1": f"{rng.randint(1, 999)} {rng.choice(('Market', 'High', 'Main', 'Station'))} Street",
            "line2": None,
            "postal_code": postal.format(rng.randint(1, 99)),
            "state": state,
        }
    elif country in ("DE", "FR", "JP"):
        # Currency follows the billing country; without an address the customer pays in USD.
        country = "US"
    brand, _, digit = rng.choices(_CARDS, weights=[c[1] for c in _CARDS])[0]
    method = PaymentMethodRec(
        id=ids.new("pm", created),
        created=created,
        customer_id=customer_id,
        brand=brand,
        last4=f"{rng.randint(0, 9999):04d}" if rng.random() < 0.8 else {"4": "4242", "5": "4444"}.get(digit, "0005"),
        exp_month=rng.randint(1, 12),
        exp_year=time.gmtime(created).tm_year + rng.randint(2, 5),
        fingerprint=random_chars(rng, 16),
        funding=rng.choice(("credit", "credit", "debit")),
        country=country,
    )
    return CustomerRec(
        id=customer_id,
        created=created,
        name=f"{first} {last}",
        email=f"{first}.{last}.{rng.randint(1, 9999)}@example.com".lower().replace(" ", ""),
        phone=f"+1555{rng.randint(0, 9999999):07d}" if rng.random() < 0.4 else None,
        address=address,
        invoice_prefix=f"{rng.getrandbits(32):08X}",
        payment_method=method,
    )


def close_books(world: World, customer: CustomerRec, invoices: list[InvoiceRec]) -> None:
    """Per customer, once its story is told: invoice numbers, and `delinquent` flips with their events."""
    finalized = sorted(
        (inv for inv in invoices if inv.finalized_at is not None),
        key=lambda inv: (inv.finalized_at, inv.created, inv.id),
    )
    for sequence, invoice in enumerate(finalized, start=1):
        invoice.number = f"{customer.invoice_prefix}-{sequence:04d}"
    customer.finalizations.sort()
    changes: list[tuple[int, bool]] = []
    for moment, delinquent in sorted(customer.delinquency):
        if (changes[-1][1] if changes else False) != delinquent:
            changes.append((moment, delinquent))
            world.emit(moment, "customer.updated", "customer", customer)
    customer.delinquency = changes
