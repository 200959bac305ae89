"""The generator's own record of what happened, from which API objects are rendered.

Records hold every fact with its timestamp (when an invoice was finalized, paid, voided; when a charge
was refunded), so the same record renders the object as it is now and as it was at any earlier moment:
the final object served by list endpoints and the `data.object` of each event come from one source and
cannot disagree.

`SubscriptionVersion` lists are also the ground truth of each subscription's history (price, quantity,
status, discounts over time) that MRR checks compare the warehouse against.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property


@dataclass(frozen=True, slots=True)
class ItemState:
    """One subscription item at some moment: which price, how many units."""

    id: str
    price_id: str
    quantity: int | None
    """None for an item on a metered price: its usage, not a quantity, is billed."""
    created: int


@dataclass(frozen=True, slots=True)
class DiscountRec:
    """A coupon applied to a subscription (`di_...`), or to one of its items (`subscription_item` set).

    Stripe's `discounts` arrays: `subscription.discounts` lists the subscription-level ones,
    `subscription_item.discounts` those of that item (https://docs.stripe.com/api/discounts/object).
    """

    id: str
    coupon_id: str
    customer_id: str
    subscription_id: str
    start: int
    end: int | None
    """When a `repeating` discount stops applying; None for `once` and `forever`."""
    subscription_item: str | None = None
    """The item an item-level discount applies to; None for a subscription-level discount."""


@dataclass(frozen=True, slots=True)
class SubscriptionVersion:
    """The state of a subscription from `at` until the next version's `at`."""

    at: int
    status: str
    items: tuple[ItemState, ...]
    discounts: tuple[DiscountRec, ...]
    """Every discount on the subscription then, subscription-level and item-level, in the order applied."""
    current_period_start: int
    current_period_end: int
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    cancellation_reason: str | None = None
    cancellation_feedback: str | None = None
    pause_collection: str | None = None
    """`pause_collection.behavior` while payment collection is paused (`keep_as_draft`, `void`,
    `mark_uncollectible`); the status stays as it is (https://docs.stripe.com/billing/subscriptions/pause-payment)."""


@dataclass
class SubscriptionRec:
    id: str
    customer_id: str
    created: int
    currency: str
    trial_start: int | None
    trial_end: int | None
    billing_cycle_anchor: int
    schedule_id: str | None = None
    """The subscription schedule (`sub_sched_...`) managing the subscription: `subscription.schedule`."""
    versions: list[SubscriptionVersion] = field(default_factory=list)
    invoice_ids: list[str] = field(default_factory=list)
    invoice_times: list[int] = field(default_factory=list)
    """Creation times of `invoice_ids`, ascending: `latest_invoice` at any moment is a bisect away."""

    def state_at(self, at: int) -> SubscriptionVersion:
        index = bisect_right([version.at for version in self.versions], at) - 1
        return self.versions[max(index, 0)]

    def latest_invoice_at(self, at: int) -> str | None:
        index = bisect_right(self.invoice_times, at) - 1
        return self.invoice_ids[index] if index >= 0 else None


@dataclass(frozen=True, slots=True)
class BalanceRec:
    """A balance transaction, always in the account's currency (USD)."""

    id: str
    created: int
    amount: int
    fee: int
    fee_description: str | None
    exchange_rate: float | None
    type: str
    reporting_category: str
    source_id: str
    description: str | None
    available_on: int


@dataclass
class RefundRec:
    id: str
    created: int
    amount: int
    charge: ChargeRec
    reason: str | None
    balance: BalanceRec


@dataclass
class DisputeRec:
    id: str
    created: int
    amount: int
    charge: ChargeRec
    reason: str
    closed_at: int | None
    won: bool | None
    balances: list[BalanceRec]
    """Funds withdrawn at creation, and reinstated when won."""

    @property
    def evidence_submitted_at(self) -> int:
        """The merchant answers every dispute two weeks in."""
        return self.created + 14 * 86400

    def status_at(self, at: int) -> str:
        if self.closed_at is not None and self.closed_at <= at:
            return "won" if self.won else "lost"
        return "needs_response" if at < self.evidence_submitted_at else "under_review"


@dataclass
class ChargeRec:
    id: str
    created: int
    amount: int
    currency: str
    customer_id: str
    payment_intent_id: str
    payment_method_id: str
    description: str
    failure_code: str | None
    balance: BalanceRec | None
    refunds: list[RefundRec] = field(default_factory=list)
    dispute: DisputeRec | None = None

    @property
    def succeeded(self) -> bool:
        return self.failure_code is None


@dataclass
class PaymentIntentRec:
    id: str
    created: int
    amount: int
    currency: str
    customer_id: str
    payment_method_id: str
    description: str
    invoice_payment_id: str
    """The `inpay_...` object linking the intent to its invoice (basil has no `payment_intent.invoice`)."""
    charges: list[ChargeRec] = field(default_factory=list)
    canceled_at: int | None = None


@dataclass
class LineRec:
    """One invoice line; `amount` is before discounts, `discount_amounts` what each discount took from it.

    `item_discounts` are the ids of its item's own discounts (`line.discounts`); `discount_amounts` holds
    (discount id, amount) for every discount that reduced the line, item-level first, then its share of the
    invoice-level ones (`line.discount_amounts`).
    """

    id: str
    description: str
    price_id: str
    quantity: int
    amount: int
    period_start: int
    period_end: int
    subscription_id: str | None = None
    subscription_item_id: str | None = None
    invoice_item_id: str | None = None
    proration: bool = False
    credited: tuple[str, str] | None = None
    """(invoice id, line id) of the line a proration credit refunds."""
    item_discounts: tuple[str, ...] = ()
    discount_amounts: list[tuple[str, int]] = field(default_factory=list)

    @property
    def discount_amount(self) -> int:
        return sum(amount for _, amount in self.discount_amounts)


@dataclass
class InvoiceItemRec:
    """A pending or invoiced invoice item (`ii_...`): a proration, or a one-off service charge."""

    id: str
    date: int
    customer_id: str
    line: LineRec
    currency: str
    invoice_id: str | None = None
    invoiced_at: int | None = None


@dataclass
class InvoiceRec:
    id: str
    customer_id: str
    subscription_id: str | None
    currency: str
    created: int
    billing_reason: str
    collection_method: str
    period_start: int
    period_end: int
    lines: list[LineRec]
    discounts: list[DiscountRec] = field(default_factory=list)
    """The subscription-level discounts applied (`invoice.discounts`); item-level ones are on the lines."""
    description: str | None = None
    days_until_due: int | None = None
    finalized_at: int | None = None
    paid_at: int | None = None
    voided_at: int | None = None
    uncollectible_at: int | None = None
    number: str | None = None
    payment_intent: PaymentIntentRec | None = None
    auto_advance: bool = True
    """False for the drafts an `unpaid` subscription keeps making: Stripe leaves them as drafts."""
    retry_times: list[int] = field(default_factory=list)
    """Times of payment attempts (made or still scheduled): `next_payment_attempt` while open."""
    credit_notes: list[CreditNoteRec] = field(default_factory=list)

    # Cached: an invoice's lines and discounts are settled before anything reads its totals.
    @cached_property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @cached_property
    def discount_total(self) -> int:
        return sum(line.discount_amount for line in self.lines)

    @cached_property
    def total(self) -> int:
        return self.subtotal - self.discount_total

    def status_at(self, at: int) -> str:
        for status, moment in (
            ("void", self.voided_at),
            ("uncollectible", self.uncollectible_at),
            ("paid", self.paid_at),
            ("open", self.finalized_at),
        ):
            if moment is not None and moment <= at:
                return status
        return "draft"


@dataclass
class CreditNoteRec:
    """A credit note on a paid invoice, refunding part of its charge (`post_payment`)."""

    id: str
    created: int
    invoice: InvoiceRec
    lines: list[tuple[str, LineRec, int]]
    """(credit note line id, invoice line credited, amount credited)."""
    refund: RefundRec
    reason: str
    sequence: int
    """1 for the invoice's first credit note: its number is the invoice's with `-CN-01`."""

    @property
    def amount(self) -> int:
        return sum(amount for _, _, amount in self.lines)


@dataclass(frozen=True, slots=True)
class PayoutRec:
    """An automatic payout of the funds that became available since the previous one."""

    id: str
    created: int
    amount: int
    arrival_date: int
    balance: BalanceRec
    """The payout's own balance transaction (type `payout`, amount `-amount`)."""
    paid_out: tuple[str, ...] = ()
    """The balance transactions it paid out (its own excluded), whose nets sum to `amount`: what
    `GET /v1/balance_transactions?payout=<id>` lists besides the payout's own."""


@dataclass(frozen=True, slots=True)
class PaymentMethodRec:
    id: str
    created: int
    customer_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    funding: str
    country: str


@dataclass
class CustomerRec:
    id: str
    created: int
    name: str
    email: str
    phone: str | None
    address: dict[str, str | None] | None
    invoice_prefix: str
    payment_method: PaymentMethodRec
    currency: str | None = None
    currency_set_at: int | None = None
    delinquency: list[tuple[int, bool]] = field(default_factory=list)
    """(time, delinquent) changes, ascending: a failed payment sets it, a paid/closed invoice clears it."""
    finalizations: list[int] = field(default_factory=list)
    """Finalization times of the customer's invoices, ascending (numbers the invoices)."""
    deleted_at: int | None = None
    """When the customer was deleted (`DELETE /v1/customers/{id}`): no longer listed, retrieved as a stub."""

    def delinquent_at(self, at: int) -> bool:
        index = bisect_right([moment for moment, _ in self.delinquency], at) - 1
        return self.delinquency[index][1] if index >= 0 else False

    def currency_at(self, at: int) -> str | None:
        return self.currency if self.currency_set_at is not None and self.currency_set_at <= at else None
