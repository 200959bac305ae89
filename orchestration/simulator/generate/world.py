"""Shared state of one account's generation: randomness, clock, catalog, and everything recorded so far."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from orchestration.simulator.generate.catalog import Catalog
from orchestration.simulator.ids import IdFactory
from orchestration.simulator.records import (
    ChargeRec,
    CreditNoteRec,
    CustomerRec,
    InvoiceItemRec,
    InvoiceRec,
    PaymentIntentRec,
    PayoutRec,
    SubscriptionRec,
)
from orchestration.simulator.timeline import EVENT_RETENTION

CHANGE_EVENTS = frozenset({"charge.refunded", "payment_method.detached"})
"""Events besides `*.updated` that announce a change to their object, with its previous values."""


def announces_change(event_type: str) -> bool:
    """Whether events of `event_type` carry `data.previous_attributes`, as Stripe's do."""
    return event_type.endswith(".updated") or event_type in CHANGE_EVENTS


def previous_attributes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """`data.previous_attributes` of an event announcing that API object `before` became `after`.

    As Stripe sends it: the previous value of exactly the top-level fields that changed, each whole as it
    was rendered (a subscription's `items` as the whole previous list object, `{"object": "list", "data":
    [...], ...}`); None for a field `before` did not have. Empty when nothing changed.
    """
    return {key: before.get(key) for key in dict.fromkeys([*after, *before]) if before.get(key) != after.get(key)}


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event to render once the story is complete: `kind` names the renderer of `record` at `created`."""

    created: int
    sequence: int
    type: str
    kind: str
    record: object
    from_api_request: bool


@dataclass
class World:
    rng: random.Random
    ids: IdFactory
    catalog: Catalog
    now: int
    account_id: str
    customers: list[CustomerRec] = field(default_factory=list)
    subscriptions: list[SubscriptionRec] = field(default_factory=list)
    invoices: list[InvoiceRec] = field(default_factory=list)
    invoice_items: list[InvoiceItemRec] = field(default_factory=list)
    payment_intents: list[PaymentIntentRec] = field(default_factory=list)
    charges: list[ChargeRec] = field(default_factory=list)
    credit_notes: list[CreditNoteRec] = field(default_factory=list)
    payouts: list[PayoutRec] = field(default_factory=list)
    coupon_redemptions: dict[str, int] = field(default_factory=dict)
    events: list[PendingEvent] = field(default_factory=list)

    @property
    def events_since(self) -> int:
        return self.now - EVENT_RETENTION

    def happened(self, moment: int) -> bool:
        """Whether `moment` is not in the future: facts after `now` are never recorded."""
        return moment <= self.now

    def emit(self, created: int, type_: str, kind: str, record: object, from_api_request: bool = False) -> None:
        """Records that event `type_` about `record` happened at `created`, if Stripe still keeps it."""
        if self.events_since <= created <= self.now:
            self.events.append(PendingEvent(created, len(self.events), type_, kind, record, from_api_request))
