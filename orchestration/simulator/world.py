"""Shared state of one account's generation: randomness, clock, catalog, and everything recorded so far."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from orchestration.simulator.catalog import Catalog
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
