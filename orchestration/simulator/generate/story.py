"""What happens to one customer over the years: subscriptions, invoices, payments, one-off services.

Each story advances billing period by period from the subscription's start to `now`, deciding at random
(from the world's seeded generator) whether the period is paid, retried, abandoned, and whether the
customer upgrades, downgrades, changes seats or cancels. Every decision is recorded with its time, and
every change emits the event Stripe would have sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from random import Random
from typing import Any

from orchestration.simulator.generate.catalog import CatalogPrice, price_phrase
from orchestration.simulator.generate.payments import Payments
from orchestration.simulator.generate.world import World
from orchestration.simulator.records import (
    ChargeRec,
    CreditNoteRec,
    CustomerRec,
    DiscountRec,
    InvoiceItemRec,
    InvoiceRec,
    ItemState,
    LineRec,
    SubscriptionRec,
    SubscriptionVersion,
)
from orchestration.simulator.timeline import DAY, HOUR, add_months, period_end, short_date

TRIAL_DAYS = 14
RETRY_OFFSETS = (0, 3 * DAY, 8 * DAY, 15 * DAY)
"""Smart-retry schedule of a renewal invoice, from its first attempt."""
SHORT_INTERVALS = ("day", "week")
"""Daily and weekly subscriptions are bought for a few periods, not for years."""
MAX_USAGE = 20_000
"""Most units a metered item records in a period."""
DUNNING_GRACE = 7 * DAY
"""After the last failed retry, the subscription is canceled and the invoice marked uncollectible."""
INCOMPLETE_EXPIRY = 23 * HOUR
"""A subscription whose first payment fails expires (and its invoice is voided) after 23 hours."""
FINALIZE_DELAY = HOUR
"""Renewal invoices stay draft for an hour before Stripe finalizes them and charges the card."""

# Plans new subscribers pick, per currency: (weight, price keys of the subscription's items).
_USD_PLANS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (22, ("starter_month",)),
    (8, ("starter_year",)),
    (18, ("pro_month",)),
    (7, ("pro_year",)),
    (6, ("pro_quarter",)),
    (5, ("pro_month", "support_month")),
    (14, ("team_month",)),
    (5, ("team_month", "support_month")),
    (6, ("team_year",)),
    (5, ("team_month_graduated",)),
    (4, ("pro_month", "storage_month_volume")),
    (4, ("pro_month", "api_calls_metered")),
    (3, ("starter_week",)),
    (2, ("day_pass",)),
)
_EUR_PLANS = ((3, ("starter_month_eur",)), (2, ("pro_month_eur",)))
_JPY_PLANS = ((1, ("pro_month_jpy",)),)
_FEEDBACK = ("too_expensive", "missing_features", "switched_service", "unused", "other", None)


class CustomerStory:
    """Generates everything that happens to `customer`, from its creation to the world's `now`."""

    def __init__(self, world: World, payments: Payments, customer: CustomerRec) -> None:
        self.world = world
        self.rng = world.rng
        self.payments = payments
        self.customer = customer

    def run(self) -> None:
        world, rng, customer = self.world, self.rng, self.customer
        world.emit(customer.created, "customer.created", "customer", customer, from_api_request=True)
        world.emit(customer.created, "payment_method.attached", "payment_method", customer.payment_method)
        if rng.random() < 0.8:
            delay = rng.randint(0, 3 * DAY) if rng.random() < 0.3 else 0
            start = customer.created + delay
            if world.happened(start):
                SubscriptionStory(self, start, self.pick_plan(start)).run()
            if rng.random() < 0.06:
                second_start = start + rng.randint(30, 400) * DAY
                plan = self.pick_plan(second_start)
                if world.happened(second_start) and plan[0][0].currency == customer.currency:
                    SubscriptionStory(self, second_start, plan).run()
        # Sales sells onboarding packages, lately to most new customers (so some are still drafts).
        age = world.now - customer.created
        recent = age < 10 * DAY
        if rng.random() < (0.5 if recent else 0.07) and customer.currency in (None, "usd"):
            self._services_invoice(customer.created + rng.randint(HOUR, max(HOUR, min(20 * DAY, age))))

    def set_currency(self, currency: str, moment: int) -> None:
        """A customer's currency is fixed by its first subscription or invoice."""
        if self.customer.currency is None:
            self.customer.currency = currency
            self.customer.currency_set_at = moment
            if moment > self.customer.created:
                self.world.emit(moment, "customer.updated", "customer", self.customer)

    def pick_plan(self, moment: int) -> list[tuple[CatalogPrice, int | None]]:
        """Items (price, quantity) of a new subscription: what is on sale for the customer's currency."""
        rng, prices = self.rng, self.world.catalog.prices
        country = (self.customer.address or {}).get("country")
        currency = self.customer.currency or {"DE": "eur", "FR": "eur", "JP": "jpy"}.get(str(country), "usd")
        menu = {"usd": _USD_PLANS, "eur": _EUR_PLANS, "jpy": _JPY_PLANS}[currency]
        if currency == "usd" and prices["basic_month"].sellable(moment):
            menu = ((12, ("basic_month",)), *menu)
        keys = rng.choices([keys for _, keys in menu], weights=[weight for weight, _ in menu])[0]
        items = []
        for key in keys:
            price = prices[key]
            if not price.sellable(moment):
                price = prices["starter_month_v1"] if key == "starter_month" else price
            if not price.sellable(moment):
                continue
            items.append((price, _quantity(rng, price)))
        return items or [(prices["pro_month"], 1)]

    def _services_invoice(self, created: int) -> None:
        """A one-off invoice for onboarding and consulting, drafted by sales and sent for payment."""
        world, rng, customer = self.world, self.rng, self.customer
        if not world.happened(created):
            return
        self.set_currency("usd", created)
        invoice = InvoiceRec(
            id=world.ids.new("in", created),
            customer_id=customer.id,
            subscription_id=None,
            currency="usd",
            created=created,
            billing_reason="manual",
            collection_method="send_invoice",
            period_start=created,
            period_end=created,
            lines=[],
            description="Onboarding and consulting services",
            days_until_due=30,
        )
        prices = world.catalog.prices
        sessions = [("onboarding", 1, "Onboarding package")] if rng.random() < 0.5 else []
        for session in range(rng.randint(1, 14)):
            hours = rng.randint(1, 4)
            day = created - (session + 1) * 2 * DAY
            sessions.append(("consulting_hour", hours, f"Consulting session ({hours} h) on {short_date(day)}"))
        for key, quantity, description in sessions:
            price = prices[key]
            assert price.unit_amount is not None, "services are priced per unit, not in tiers"
            item_id = world.ids.new("ii", created)
            line = LineRec(
                id=world.ids.new("il", created),
                description=description,
                price_id=price.id,
                quantity=quantity,
                amount=price.unit_amount * quantity,
                period_start=created,
                period_end=created,
                invoice_item_id=item_id,
            )
            invoice.lines.append(line)
            item = InvoiceItemRec(item_id, created, customer.id, line, "usd", invoice.id, created)
            world.invoice_items.append(item)
            world.emit(created, "invoiceitem.created", "invoiceitem", item, from_api_request=True)
        world.invoices.append(invoice)
        world.emit(created, "invoice.created", "invoice", invoice, from_api_request=True)

        finalized = created + rng.randint(0, 6) * DAY + rng.randint(HOUR, 8 * HOUR)
        if not world.happened(finalized):
            return
        self.finalize(invoice, finalized)
        world.emit(finalized, "invoice.sent", "invoice", invoice, from_api_request=True)
        due = finalized + 30 * DAY
        fate = rng.random()
        if fate < 0.75:
            paid = finalized + rng.randint(1, 28) * DAY
            failures = 1 if rng.random() < 0.1 else 0
            attempts = [paid + HOUR * attempt for attempt in range(failures + 1)]
            if world.happened(paid) and self.collect(invoice, attempts, failures, "Payment for Invoice") is not None:
                self._maybe_credit_in_full(invoice, paid + rng.randint(1, 20) * DAY)
        elif fate < 0.85:
            voided = finalized + rng.randint(1, 10) * DAY
            if world.happened(voided):
                self.void(invoice, voided)
        else:
            if world.happened(due):
                self.set_delinquent(due, True)
            self.mark_uncollectible(invoice, due + 30 * DAY)

    def _maybe_credit_in_full(self, invoice: InvoiceRec, moment: int) -> None:
        """Some paid services are disputed by the client and credited back line by line."""
        intent = invoice.payment_intent
        if self.rng.random() >= 0.12 or intent is None or not self.world.happened(moment):
            return
        charge = intent.charges[-1]
        if charge.succeeded and not charge.refunds and charge.dispute is None:
            self.credit(invoice, charge, moment, charge.amount, reason="order_change")

    # Invoice life-cycle steps shared by subscriptions and one-off invoices.

    def credit(
        self, invoice: InvoiceRec, charge: ChargeRec, moment: int, amount: int, reason: str = "requested_by_customer"
    ) -> None:
        """A credit note on a paid invoice refunding `amount` of its charge, spread over its lines."""
        world = self.world
        refund = self.payments.refund(charge, moment, amount, "requested_by_customer")
        lines = [line for line in invoice.lines if line.amount - line.discount_amount > 0]
        payable = sum(line.amount - line.discount_amount for line in lines)
        shares = [amount * (line.amount - line.discount_amount) // payable for line in lines]
        shares[-1] += amount - sum(shares)  # the last line takes the rounding
        note = CreditNoteRec(
            id=world.ids.new("cn", moment),
            created=moment,
            invoice=invoice,
            lines=[(world.ids.new("cnli", moment), line, share) for line, share in zip(lines, shares, strict=True)],
            refund=refund,
            reason=reason,
            sequence=len(invoice.credit_notes) + 1,
        )
        invoice.credit_notes.append(note)
        world.credit_notes.append(note)
        world.emit(moment, "credit_note.created", "credit_note", note, from_api_request=True)
        world.emit(moment, "invoice.updated", "invoice", invoice)

    def finalize(self, invoice: InvoiceRec, moment: int) -> None:
        invoice.finalized_at = moment
        self.customer.finalizations.append(moment)
        self.world.emit(moment, "invoice.finalized", "invoice", invoice)

    def collect(self, invoice: InvoiceRec, attempts: list[int], failures: int, description: str) -> int | None:
        """Charges the invoice (or settles it at once when nothing is due); returns when it was paid."""
        if invoice.total == 0:
            invoice.paid_at = attempts[0]
            self.world.emit(attempts[0], "invoice.paid", "invoice", invoice)
            self.world.emit(attempts[0], "invoice.payment_succeeded", "invoice", invoice)
            return attempts[0]
        paid = self.payments.collect(invoice, self.customer, attempts, failures, description)
        for moment in attempts[:failures]:
            if self.world.happened(moment):
                self.set_delinquent(moment, True)
        if paid is not None and failures:
            self.set_delinquent(paid, False)
        return paid

    def void(self, invoice: InvoiceRec, moment: int) -> None:
        invoice.voided_at = moment
        if invoice.payment_intent is not None:
            self.payments.cancel_intent(invoice.payment_intent, moment)
        self.world.emit(moment, "invoice.voided", "invoice", invoice)
        self.set_delinquent(moment, False)

    def mark_uncollectible(self, invoice: InvoiceRec, moment: int) -> None:
        if self.world.happened(moment):
            invoice.uncollectible_at = moment
            self.world.emit(moment, "invoice.marked_uncollectible", "invoice", invoice)
            self.set_delinquent(moment, False)

    def set_delinquent(self, moment: int, delinquent: bool) -> None:
        self.customer.delinquency.append((moment, delinquent))


def _quantity(rng: Random, price: CatalogPrice) -> int | None:
    """Seats for team plans, terabytes for storage, none for metered prices (usage decides)."""
    if price.metered:
        return None
    if price.product_key == "team":
        return rng.randint(2, 25)
    if price.product_key == "storage":
        return rng.randint(1, 60)
    return 1


@dataclass
class Action:
    """A scripted change during a subscription's life (see `Script`), at `at`.

    `kind`: `cancel` (now; `refund` the unused part of the last payment), `cancel_at_period_end`,
    `change` (`items`: (item index or None for a new item, price, quantity) replacing the items, billed per
    `proration`: `create_prorations`, `always_invoice` or `none`), `pay_late` (an unpaid subscription's open
    invoice is paid), `pause_collection` (payment collection paused with `behavior`).
    """

    at: int
    kind: str
    items: tuple[tuple[int | None, CatalogPrice, int | None], ...] = ()
    proration: str = "create_prorations"
    refund: bool = False
    behavior: str | None = None


@dataclass
class Script:
    """A subscription whose story is given instead of drawn (the named patterns of `patterns`).

    Scripted: the trial, whether the first payment fails, leaving the trial, failed attempts per renewal and
    how dunning ends, the coupons, the changes (`actions`) and schedule phases; no random cancellation, plan
    change happens, and a cancellation gives no feedback. Still drawn from the world's generator: ids, the
    metered items' usage, and what `payments` draws (a decline's code, whether a paid charge is later
    refunded by support or disputed)."""

    trial_days: int | None = None
    first_payment_fails: bool = False
    leave_trial_at: int | None = None
    failures: dict[int, int] = field(default_factory=dict)
    """Failed attempts per renewal (the period's index, 1 for the first renewal); 4 exhausts the retries."""
    dunning_end: str = "canceled"
    """What Stripe does once every retry failed: `canceled`, or `unpaid` ("mark the subscription as unpaid")."""
    coupons: tuple[tuple[str, int | None], ...] = ()
    """Discounts at creation: (coupon id, item index or None for subscription-level)."""
    actions: list[Action] = field(default_factory=list)
    phases: tuple[tuple[int, tuple[tuple[int | None, CatalogPrice, int | None], ...]], ...] = ()
    """A subscription schedule's later phases: (index of the billing period the phase starts with, its items
    as `Action.items`). Set, the subscription is created by a schedule (`subscription.schedule`)."""


class SubscriptionStory:
    """One subscription from creation to cancellation or `now`."""

    def __init__(
        self,
        owner: CustomerStory,
        start: int,
        plan: list[tuple[CatalogPrice, int | None]],
        script: Script | None = None,
    ) -> None:
        self.owner = owner
        self.world = owner.world
        self.rng = owner.rng
        self.customer = owner.customer
        self.script = script
        world = self.world
        self.prices = {price.id: price for price, _ in plan}
        self.interval = plan[0][0]
        if script is None:
            trial = self.rng.random() < 0.3
            self.first_payment_fails = not trial and self.rng.random() < 0.03
            trial_end = start + TRIAL_DAYS * DAY if trial else None
        else:
            self.first_payment_fails = script.first_payment_fails
            trial_end = start + script.trial_days * DAY if script.trial_days else None
            trial = trial_end is not None
        self.sub = SubscriptionRec(
            id=world.ids.new("sub", start),
            customer_id=self.customer.id,
            created=start,
            currency=plan[0][0].currency,
            trial_start=start if trial else None,
            trial_end=trial_end,
            billing_cycle_anchor=trial_end or start,
            schedule_id=world.ids.new("sub_sched", start) if script is not None and script.phases else None,
        )
        self.items = tuple(ItemState(world.ids.new("si", start), price.id, quantity, start) for price, quantity in plan)
        self.pending: list[InvoiceItemRec] = []
        """Proration invoice items waiting for the next invoice."""
        self.previous_lines: dict[str, LineRec] = {}
        """Last regular line of each item: what a proration credit refunds."""
        self.last_invoice: InvoiceRec | None = None
        interval = self.interval.interval or "month"
        self.max_periods = self.rng.randint(2, 12) if interval in SHORT_INTERVALS and script is None else None
        """Daily and weekly subscribers leave after this many periods."""
        self.initial_discounts: tuple[DiscountRec, ...] | None = None
        """Set before `run` to start with these discounts instead of a random coupon (scripted stories)."""
        if script is not None:
            self.initial_discounts = tuple(self.new_discount(start, coupon, item) for coupon, item in script.coupons)
        self.period_index = 0
        self.open_unpaid: InvoiceRec | None = None
        """The renewal invoice left open when the subscription became unpaid."""
        self.unpaid_drafts: list[InvoiceRec] = []

    # State changes.

    @property
    def state(self) -> SubscriptionVersion:
        return self.sub.versions[-1]

    def change(self, moment: int, event: str, by_customer: bool = False, **changes: Any) -> None:
        """Appends a version of the subscription and emits `event` for it.

        `by_customer` marks changes made through the API (cancellations, plan changes) rather than by
        Stripe's billing engine: their events carry the id of the request. Discounts that ended before
        `moment` are removed first, at their ends; those ending at `moment` itself leave with this change
        (the objects of one second are one version, announced by one event).
        """
        self._expire_discounts(moment)
        ending = tuple(d for d in self.state.discounts if d.end == moment)
        for discount in ending:
            self.world.emit(moment, "customer.discount.deleted", "discount", discount)
        if ending and "discounts" not in changes:
            changes = {"discounts": tuple(d for d in self.state.discounts if d not in ending), **changes}
        self.sub.versions.append(replace(self.state, at=moment, **changes))
        self.world.emit(moment, event, "subscription", self.sub, from_api_request=by_customer)

    def _expire_discounts(self, until: int) -> None:
        """Removes every discount that ended before `until`, each at its `end`.

        Stripe: a coupon lasting "multiple months" applies for that many months
        (https://docs.stripe.com/billing/subscriptions/coupons), then the discount is deleted from the
        subscription (`customer.discount.deleted` and `customer.subscription.updated`,
        https://docs.stripe.com/api/events/types), whether or not anything else happens to it then.
        """
        ends = sorted({d.end for d in self.state.discounts if d.end is not None and d.end < until})
        for end in ends:
            self._remove_discounts(end, ())

    def _remove_discounts(self, moment: int, removed: tuple[DiscountRec, ...]) -> None:
        """Removes `removed` at `moment`, with the discounts ending then (after those that ended before)."""
        self._expire_discounts(moment)
        removed = (*removed, *(d for d in self.state.discounts if d.end == moment and d not in removed))
        kept = tuple(d for d in self.state.discounts if d not in removed)
        self.sub.versions.append(replace(self.state, at=moment, discounts=kept))
        for discount in removed:
            self.world.emit(moment, "customer.discount.deleted", "discount", discount)
        self.world.emit(moment, "customer.subscription.updated", "subscription", self.sub)

    # The story.

    def run(self) -> None:
        world, sub = self.world, self.sub
        start = sub.created
        world.subscriptions.append(sub)
        self.owner.set_currency(sub.currency, start)
        discounts = self.initial_discounts
        if discounts is None:
            discount = self._maybe_discount(start)
            discounts = (discount,) if discount else ()
        first_end = sub.trial_end or period_end(
            start, self.interval.interval or "month", self.interval.interval_count, 0
        )
        sub.versions.append(
            SubscriptionVersion(
                at=start,
                status="trialing" if sub.trial_end else "incomplete" if self.first_payment_fails else "active",
                items=self.items,
                discounts=discounts,
                current_period_start=start,
                current_period_end=first_end,
            )
        )
        world.emit(start, "customer.subscription.created", "subscription", sub, from_api_request=True)
        for each in discounts:
            world.emit(start, "customer.discount.created", "discount", each)
        if sub.trial_end is None or self._trial(start, sub.trial_end):
            self._periods()
        if self.state.ended_at is None:
            # The story stops at `now`: discounts that ended since the last change are gone by now.
            self._expire_discounts(world.now + 1)

    def _trial(self, start: int, trial_end: int) -> bool:
        """The $0 trial invoice and the trial itself; False if the customer left during the trial."""
        invoice = self._invoice(
            start,
            "subscription_create",
            start,
            start,
            [
                self._line(item, start, trial_end, amount=0, description=f"Trial period for {self._name(item)}")
                for item in self.items
                if item.quantity is not None
            ],
        )
        self._settle(invoice, first=True)
        warning = trial_end - 3 * DAY
        if self.script is not None:
            leave = self.script.leave_trial_at
        else:
            leave = start + self.rng.randint(DAY, (TRIAL_DAYS - 1) * DAY) if self.rng.random() < 0.18 else None
        if leave is None or leave > warning:
            self.world.emit(warning, "customer.subscription.trial_will_end", "subscription", self.sub)
        if leave is not None and self.world.happened(leave):
            self._cancel_now(leave, "cancellation_requested")
            return False
        return self.world.happened(trial_end)

    def _periods(self) -> None:
        world, sub = self.world, self.sub
        anchor, price = sub.billing_cycle_anchor, self.interval
        interval, count = price.interval or "month", price.interval_count
        index = 0
        previous_start = sub.trial_start or anchor
        while True:
            starts = anchor if index == 0 else period_end(anchor, interval, count, index - 1)
            ends = period_end(anchor, interval, count, index)
            first = index == 0 and sub.trial_end is None
            self.period_index = index + (0 if sub.trial_end is None else 1)
            if not first:
                self.change(
                    starts,
                    "customer.subscription.updated",
                    status="unpaid" if self.state.status == "unpaid" else "active",
                    current_period_start=starts,
                    current_period_end=ends,
                    **self._phase_items(index, starts),
                )
            invoice = self._period_invoice(starts, ends, previous_start, first)
            if not self._settle(invoice, first):
                return
            if not self._mid_period(starts, ends):
                return
            # Discounts ending within the period leave at their end (one ending with it, with the renewal).
            self._expire_discounts(min(ends, world.now + 1))
            if not world.happened(ends):
                return
            if self.max_periods is not None and index + 1 >= self.max_periods:
                self.change(ends, "customer.subscription.deleted", status="canceled", canceled_at=ends, ended_at=ends)
                return
            previous_start, index = starts, index + 1

    def _phase_items(self, index: int, starts: int) -> dict[str, Any]:
        """The items of the schedule phase starting with billing period `index` (at `starts`), if one does.

        A schedule moves to its next phase at the end of the previous one, here at a period's end: the new
        items are billed in full from that period on, with no proration
        (https://docs.stripe.com/billing/subscriptions/subscription-schedules)."""
        phases = dict(self.script.phases) if self.script is not None else {}
        if index not in phases:
            return {}
        self.items = self._replaced_items(starts, phases[index])
        return {"items": self.items}

    def _replaced_items(
        self, moment: int, targets: tuple[tuple[int | None, CatalogPrice, int | None], ...]
    ) -> tuple[ItemState, ...]:
        """The items after `targets` (see `Action.items`) replace them at `moment`: an index keeps its item's
        id with the new price and quantity, None adds an item."""
        items = []
        for index, price, quantity in targets:
            self.prices[price.id] = price
            if index is not None:
                items.append(replace(self.items[index], price_id=price.id, quantity=quantity))
            else:
                items.append(ItemState(self.world.ids.new("si", moment), price.id, quantity, moment))
        return tuple(items)

    def _period_invoice(self, starts: int, ends: int, previous_start: int, first: bool) -> InvoiceRec:
        lines = [item.line for item in self.pending]
        for item in self.items:
            if item.quantity is None:
                # Metered: billed in arrears, for the usage of the period that just ended.
                if not first:
                    usage = self.rng.randint(0, MAX_USAGE)
                    lines.append(self._line(item, previous_start, starts, quantity=usage))
                continue
            line = self._line(item, starts, ends)
            self.previous_lines[item.id] = line
            lines.append(line)
        reason = "subscription_create" if first else "subscription_cycle"
        period = (starts, starts) if first else (previous_start, starts)
        invoice = self._invoice(starts, reason, *period, lines)
        for pending in self.pending:
            pending.invoice_id, pending.invoiced_at = invoice.id, starts
        self.pending = []
        return invoice

    def _settle(self, invoice: InvoiceRec, first: bool, update: bool = False) -> bool:
        """Finalizes and collects `invoice`; False when non-payment ends the subscription.

        `update`: the invoice of a change billed at once (`always_invoice`), finalized and charged
        within the request like a new subscription's, and paid."""
        world, rng = self.world, self.rng
        if self.state.pause_collection is not None and not first:
            return self._paused(invoice)
        if self.state.status == "unpaid" and not first:
            # "For unpaid subscriptions, the latest invoice remains open but payments aren't attempted.
            # Invoices continue to be generated each billing cycle and remain in draft state."
            # (https://docs.stripe.com/billing/subscriptions/overview, "Unpaid")
            invoice.auto_advance = False
            self.unpaid_drafts.append(invoice)
            return True
        # A new subscription's invoice is finalized and charged within the request that creates it.
        finalized = invoice.created + (0 if first else FINALIZE_DELAY)
        if not world.happened(finalized):
            return True
        self.owner.finalize(invoice, finalized)
        charge_at = finalized + (0 if first else 1)
        if update:
            failures, attempts = 0, [charge_at]
        elif first:
            failures = int(self.first_payment_fails)
            attempts = [charge_at]
        elif self.script is not None:
            failures = self.script.failures.get(self.period_index, 0)
            attempts = [charge_at + offset for offset in RETRY_OFFSETS]
        else:
            draw = rng.random()
            failures = 0 if draw < 0.93 else (rng.randint(1, 3) if draw < 0.975 else len(RETRY_OFFSETS))
            attempts = [charge_at + offset for offset in RETRY_OFFSETS]
        if invoice.total == 0:
            failures = 0  # nothing to charge (a 100% discount): no payment to decline, never past due
        description = "Subscription creation" if first else "Subscription update"
        unpaid = self.script is not None and self.script.dunning_end == "unpaid" and failures >= len(RETRY_OFFSETS)
        late = [a.at for a in self.script.actions if a.kind == "pay_late"] if unpaid and self.script else []
        # A late payment of the open invoice is its last charge; it is no scheduled retry.
        paid = self.owner.collect(invoice, attempts + late[:1], failures, description)
        invoice.retry_times = attempts
        applied = {discount_id for line in invoice.lines for discount_id, _ in line.discount_amounts}
        spent = tuple(
            d for d in self.state.discounts if d.id in applied and world.catalog.coupons[d.coupon_id].duration == "once"
        )
        # A `once` discount is used up by the first invoice it discounts, whatever that invoice's total
        # (an amount_off larger than the subtotal leaves $0 to pay, and the discount is still spent):
        # "Once: applies to the first invoice only" (https://docs.stripe.com/billing/subscriptions/coupons).
        # A new subscription's goes the second after the request that created it, so the creation event
        # still shows it and an update removes it.
        removed = finalized + 1 if first else finalized
        if spent and world.happened(removed):
            self._remove_discounts(removed, spent)
        if failures == 0:
            return True
        if first:
            self._expire_incomplete(invoice, charge_at)
            return False
        if world.happened(charge_at):
            self.change(charge_at, "customer.subscription.updated", status="past_due")
        if paid is not None and paid <= attempts[-1]:
            self.change(paid, "customer.subscription.updated", status="active")
            return True
        if unpaid:
            # Stripe's setting "mark the subscription as unpaid" once every retry failed: the subscription
            # turns `unpaid` at the last failed retry, its invoice stays open with no next payment attempt
            # (https://docs.stripe.com/billing/revenue-recovery/smart-retries, https://docs.stripe.com/api/subscriptions/object#subscription_object-status).
            if world.happened(attempts[-1]):
                self.change(attempts[-1], "customer.subscription.updated", status="unpaid")
                self.open_unpaid = invoice
            return True
        gives_up = attempts[-1] + DUNNING_GRACE
        if not world.happened(gives_up):
            return True
        self.owner.mark_uncollectible(invoice, gives_up)
        self._cancel_now(gives_up, "payment_failed")
        return False

    def _paused(self, invoice: InvoiceRec) -> bool:
        """An invoice made while payment collection is paused: never charged. Per `pause_collection.behavior`,
        kept as a draft (`auto_advance` false), or finalized and at once voided or marked uncollectible
        (https://docs.stripe.com/billing/subscriptions/pause-payment). The subscription stays as it is."""
        behavior = self.state.pause_collection
        if behavior == "keep_as_draft":
            invoice.auto_advance = False
            return True
        finalized = invoice.created + FINALIZE_DELAY
        if not self.world.happened(finalized):
            return True
        self.owner.finalize(invoice, finalized)
        if behavior == "void":
            self.owner.void(invoice, finalized)
        else:
            self.owner.mark_uncollectible(invoice, finalized)
        return True

    def _expire_incomplete(self, invoice: InvoiceRec, failed_at: int) -> None:
        """First payment declined: the subscription stays incomplete for 23 hours, then expires."""
        expires = failed_at + INCOMPLETE_EXPIRY
        if self.world.happened(expires):
            self.owner.void(invoice, expires)
            self.change(expires, "customer.subscription.updated", status="incomplete_expired", ended_at=expires)

    def _mid_period(self, starts: int, ends: int) -> bool:
        """Whatever the customer does during the period; False if the subscription ended."""
        if self.script is not None:
            return self._scripted(starts, ends)
        rng, world = self.rng, self.world
        months = (ends - starts) / (30 * DAY)
        draw = rng.random()
        # After whatever already happened this period (a payment recovered after retries, say).
        earliest = max(starts + DAY, self.state.at + HOUR)
        moment = rng.randint(earliest, max(earliest, ends - DAY))
        if not world.happened(moment) or moment >= ends or self.state.status == "past_due":
            return True
        if draw < 0.012 * months:
            self._cancel_now(moment, "cancellation_requested")
            self._maybe_refund_last_payment(moment)
            return False
        if draw < 0.012 * months + min(0.3, 0.025 * months):
            return self._cancel_at_period_end(moment, ends, rng.choice(_FEEDBACK))
        if draw < 0.012 * months + min(0.3, 0.025 * months) + 0.05:
            self._change_plan(moment, ends)
        return True

    def _scripted(self, starts: int, ends: int) -> bool:
        """The script's actions that fall in this period, in order; False if the subscription ended."""
        assert self.script is not None
        for action in self.script.actions:
            if not starts <= action.at < ends or not self.world.happened(action.at):
                continue
            if action.kind == "cancel":
                self._cancel_now(action.at, "cancellation_requested")
                if action.refund:
                    self._refund_unused(action.at)
                return False
            if action.kind == "cancel_at_period_end":
                if not self._cancel_at_period_end(action.at, ends, None):
                    return False
            elif action.kind == "change":
                self._change_items(action.at, ends, action.items, action.proration)
            elif action.kind == "pay_late" and self.state.status == "unpaid":
                self._recover_unpaid(action.at)
            elif action.kind == "pause_collection":
                assert action.behavior is not None, "pause_collection needs a behavior"
                self.change(action.at, "customer.subscription.updated", True, pause_collection=action.behavior)
        return True

    def _cancel_at_period_end(self, moment: int, ends: int, feedback: str | None) -> bool:
        """Set at `moment` to cancel when the period ends at `ends`, and canceled then if that has happened
        (https://docs.stripe.com/billing/subscriptions/cancel); False when it has ended."""
        self.change(
            moment,
            "customer.subscription.updated",
            True,
            cancel_at_period_end=True,
            cancel_at=ends,
            canceled_at=moment,
            cancellation_reason="cancellation_requested",
            cancellation_feedback=feedback,
        )
        if self.world.happened(ends):
            self.change(ends, "customer.subscription.deleted", status="canceled", ended_at=ends)
            return False
        return True

    def _recover_unpaid(self, moment: int) -> None:
        """The customer pays the open invoice (charged when it was collected): the subscription is active
        again, and the drafts made meanwhile are finalized and paid, as Stripe's guide to reactivating an
        unpaid subscription says (https://docs.stripe.com/billing/subscriptions/overview, "Unpaid")."""
        self.change(moment, "customer.subscription.updated", True, status="active")
        for draft in self.unpaid_drafts:
            draft.auto_advance = True
            self.owner.finalize(draft, moment + 1)
            self.owner.collect(draft, [moment + 2], 0, "Subscription update")
        self.unpaid_drafts = []

    def _refund_unused(self, moment: int) -> None:
        """A credit note refunding the unused part of the last paid invoice (an immediate cancellation), unless
        its charge failed, was disputed or already refunded."""
        invoice = self.last_invoice
        intent = invoice.payment_intent if invoice is not None else None
        charge = intent.charges[-1] if intent is not None and intent.charges else None
        if invoice is None or charge is None or not charge.succeeded or charge.dispute is not None or charge.refunds:
            return
        used = (moment - invoice.created) / max(1, self.state.current_period_end - invoice.created)
        self.owner.credit(invoice, charge, moment, max(1, round(charge.amount * (1 - min(used, 1.0)))))

    def new_discount(self, moment: int, coupon_id: str, item_index: int | None) -> DiscountRec:
        """A discount of `coupon_id` on the subscription, or on its item `item_index`."""
        world = self.world
        coupon = world.catalog.coupons[coupon_id]
        world.coupon_redemptions[coupon_id] = world.coupon_redemptions.get(coupon_id, 0) + 1
        end = add_months(moment, coupon.duration_in_months or 0) if coupon.duration == "repeating" else None
        item = None if item_index is None else self.items[item_index].id
        return DiscountRec(world.ids.new("di", moment), coupon_id, self.customer.id, self.sub.id, moment, end, item)

    def _change_items(
        self, moment: int, ends: int, targets: tuple[tuple[int | None, CatalogPrice, int | None], ...], proration: str
    ) -> None:
        """Items replaced mid-period (https://docs.stripe.com/billing/subscriptions/prorations): with
        `create_prorations` the unused time is credited and the remaining time charged on the next invoice;
        `always_invoice` invoices those prorations at once; `none` changes the price from the next period."""
        remaining = self._remaining(moment, ends)
        new_items = self._replaced_items(moment, targets)
        when = short_date(moment)
        for (index, _, _), item in zip(targets, new_items, strict=True):
            old = self.items[index] if index is not None else None
            if proration == "none" or item.quantity is None or old == item:
                continue
            if old is not None and old.quantity is not None:
                credited = self.previous_lines.get(old.id)
                credit = -round(self._price(old).amount(old.quantity) * remaining)
                self._prorate(
                    moment,
                    ends,
                    old,
                    credit,
                    f"Unused time on {self._name(old)} after {when}",
                    (self.sub.invoice_ids[-1], credited.id) if credited else None,
                )
            debit = round(self._price(item).amount(item.quantity) * remaining)
            self._prorate(moment, ends, item, debit, f"Remaining time on {self._name(item)} after {when}")
        self.items = new_items
        self.change(moment, "customer.subscription.updated", True, items=self.items)
        if proration == "always_invoice" and self.pending:
            invoice = self._invoice(moment, "subscription_update", moment, moment, [p.line for p in self.pending])
            for pending in self.pending:
                pending.invoice_id, pending.invoiced_at = invoice.id, moment
            self.pending = []
            self._settle(invoice, first=True, update=True)

    def _cancel_now(self, moment: int, reason: str) -> None:
        """Canceled at once. A customer's own cancellation says why at random (`cancellation_details.feedback`),
        but for a scripted story's, which gives none."""
        asked = reason != "payment_failed" and self.script is None
        self.change(
            moment,
            "customer.subscription.deleted",
            reason != "payment_failed",
            status="canceled",
            canceled_at=moment,
            ended_at=moment,
            cancellation_reason=reason,
            cancellation_feedback=self.rng.choice(_FEEDBACK) if asked else None,
        )

    def _maybe_refund_last_payment(self, moment: int) -> None:
        """Support sometimes refunds the unused part of the period to a customer who cancels."""
        if self.rng.random() < 0.3:
            self._refund_unused(moment)

    def _change_plan(self, moment: int, ends: int) -> None:
        """An upgrade, downgrade or seat change mid-period, prorated onto the next invoice."""
        rng, prices = self.rng, self.world.catalog.prices
        item = self.items[0]
        assert item.quantity is not None, "the first item is the plan's licensed base price, never a metered one"
        price = self.world.catalog.price_by_id(item.price_id)
        quantity = item.quantity
        if price.product_key == "team":
            quantity = max(1, (item.quantity + 1) // 2, item.quantity + rng.choice((-3, -2, -1, 1, 2, 3, 5)))
            target = price
        else:
            options = price.upgrades if rng.random() < 0.7 else price.downgrades
            sellable = [prices[key] for key in options if prices[key].sellable(moment)]
            if not sellable:
                return
            target = sellable[0]
        if target is price and quantity == item.quantity:
            return
        # No change that would leave the next invoice (prorations and the next period) at nothing or less.
        remaining = self._remaining(moment, ends)
        credit = -round(price.amount(item.quantity) * remaining)
        debit = round(target.amount(quantity) * remaining)
        next_full = sum(self._price(i).amount(i.quantity) for i in self.items[1:] if i.quantity is not None)
        if next_full + target.amount(quantity) + credit + debit <= 0:
            return
        others = tuple((index, self._price(other), other.quantity) for index, other in enumerate(self.items) if index)
        self._change_items(moment, ends, ((0, target, quantity), *others), "create_prorations")

    def _remaining(self, moment: int, ends: int) -> float:
        """The share of the current period left at `moment`, the period ending at `ends`."""
        return (ends - moment) / max(1, ends - self.state.current_period_start)

    def _prorate(
        self,
        moment: int,
        ends: int,
        item: ItemState,
        amount: int,
        description: str,
        credited: tuple[str, str] | None = None,
    ) -> None:
        world = self.world
        line = self._line(item, moment, ends, amount=amount, description=description)
        line.invoice_item_id = world.ids.new("ii", moment)
        line.proration, line.credited = True, credited
        pending = InvoiceItemRec(line.invoice_item_id, moment, self.customer.id, line, self.sub.currency)
        self.pending.append(pending)
        world.invoice_items.append(pending)
        world.emit(moment, "invoiceitem.created", "invoiceitem", pending)

    def _maybe_discount(self, moment: int) -> DiscountRec | None:
        rng, world = self.rng, self.world
        if rng.random() >= 0.18:
            return None
        coupons = [
            c for c in world.catalog.coupons.values() if not c.pattern_only and c.redeemable(moment, self.sub.currency)
        ]
        if not coupons:
            return None
        return self.new_discount(moment, rng.choice(coupons).id, None)

    # Building blocks.

    def _price(self, item: ItemState) -> CatalogPrice:
        return self.prices[item.price_id]

    def _name(self, item: ItemState) -> str:
        return self.world.catalog.products[self._price(item).product_key].name

    def _line(
        self,
        item: ItemState,
        starts: int,
        ends: int,
        amount: int | None = None,
        description: str | None = None,
        quantity: int | None = None,
    ) -> LineRec:
        """A line for `item` over `starts`..`ends`; `quantity` is the usage of a metered item."""
        price = self._price(item)
        units = item.quantity if quantity is None else quantity
        assert units is not None, "metered items get lines only for their usage"
        if description is None:
            description = f"{units} × {self._name(item)} ({price_phrase(price)})"
        return LineRec(
            id=self.world.ids.new("il", starts),
            description=description,
            price_id=price.id,
            quantity=units,
            amount=price.amount(units) if amount is None else amount,
            period_start=starts,
            period_end=ends,
            subscription_id=self.sub.id,
            subscription_item_id=item.id,
        )

    def _invoice(
        self, created: int, reason: str, period_start: int, period_end_: int, lines: list[LineRec]
    ) -> InvoiceRec:
        world = self.world
        invoice = InvoiceRec(
            id=world.ids.new("in", created),
            customer_id=self.customer.id,
            subscription_id=self.sub.id,
            currency=self.sub.currency,
            created=created,
            billing_reason=reason,
            collection_method="charge_automatically",
            period_start=period_start,
            period_end=period_end_,
            lines=lines,
        )
        self._apply_discount(invoice)
        world.invoices.append(invoice)
        self.last_invoice = invoice
        self.sub.invoice_ids.append(invoice.id)
        self.sub.invoice_times.append(created)
        world.emit(created, "invoice.created", "invoice", invoice)
        return invoice

    def _apply_discount(self, invoice: InvoiceRec) -> None:
        """The subscription's discounts on the invoice lines (`discounts`, `discount_amounts`).

        Stripe: "Subscription item discounts are applied before subscription discounts"
        (https://docs.stripe.com/api/subscriptions/object#subscription_object-discounts) and "Line item
        discounts are applied before invoice discounts" (https://docs.stripe.com/api/invoices/object#invoice_object-discounts).
        Discounts apply one after the other, in that order and then in the order of the `discounts` array,
        each to what the ones before it left: two `percent_off` discounts compound (20 % then 10 % take 28 %).
        `truth` values MRR by the same rule.
        """
        discounts = self.state.discounts
        if not discounts or invoice.subtotal <= 0:
            return
        coupons = self.world.catalog.coupons
        left = {line.id: line.amount for line in invoice.lines}
        used: set[str] = set()
        for line in invoice.lines:
            own = [
                d
                for d in discounts
                if d.subscription_item is not None and d.subscription_item == line.subscription_item_id
            ]
            line.item_discounts = tuple(d.id for d in own)
            for discount in own:
                coupon = coupons[discount.coupon_id]
                if coupon.percent_off is not None:
                    amount = round(left[line.id] * coupon.percent_off / 100)
                elif discount.id in used or left[line.id] <= 0:
                    continue  # an amount off an item is taken once per invoice, from its first charge
                else:
                    amount = min(coupon.amount_off or 0, left[line.id])
                    used.add(discount.id)
                line.discount_amounts.append((discount.id, amount))
                left[line.id] -= amount
        for discount in discounts:
            if discount.subscription_item is not None:
                continue
            invoice.discounts.append(discount)
            coupon = coupons[discount.coupon_id]
            if coupon.percent_off is not None:
                shares = {line.id: round(left[line.id] * coupon.percent_off / 100) for line in invoice.lines}
            else:
                positive = [line for line in invoice.lines if left[line.id] > 0]
                base = sum(left[line.id] for line in positive)
                budget = min(coupon.amount_off or 0, base)
                shares = {line.id: 0 for line in invoice.lines}
                for line in positive[:-1]:
                    shares[line.id] = budget * left[line.id] // base
                if positive:
                    shares[positive[-1].id] = budget - sum(shares[line.id] for line in positive[:-1])
            for line in invoice.lines:
                line.discount_amounts.append((discount.id, shares[line.id]))
                left[line.id] -= shares[line.id]
