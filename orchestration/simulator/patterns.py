"""A named catalogue of billing patterns: scripted customer stories every generated account can include.

Each pattern is a deterministic story (one customer, one or a few subscriptions) with fixed dates relative to
the account's `now`, built on the records and `story` machinery with a `Script` instead of random draws, so
that its MRR can be computed by hand from its prices and coupons (the tests in
`tests/simulator/test_simulator_patterns.py` do). `add_patterns(world, payments)` tells every story of
`PATTERNS` and returns pattern name → the customer ids it created (`SimulatedAccount.patterns`).

The Stripe behaviour each follows:
- coupons `once` (first invoice only), `repeating` (that many months), `forever`, on the subscription or on
  an item, several at once: https://docs.stripe.com/billing/subscriptions/coupons, item discounts before
  subscription discounts: https://docs.stripe.com/api/subscriptions/object#subscription_object-discounts;
- dunning: `past_due` while Smart Retries run, then `canceled` or `unpaid` per the account's settings
  (https://docs.stripe.com/billing/revenue-recovery/smart-retries); an unpaid subscription keeps its invoice
  open and makes draft invoices each period (https://docs.stripe.com/billing/subscriptions/overview);
- intervals and `interval_count`: https://docs.stripe.com/api/prices/object#price_object-recurring;
- prorations `create_prorations`, `always_invoice`: https://docs.stripe.com/billing/subscriptions/prorations;
- cancellations (now, at period end) and refunds by credit note: https://docs.stripe.com/billing/subscriptions/cancel,
  https://docs.stripe.com/invoicing/dashboard/credit-notes;
- trials: https://docs.stripe.com/billing/subscriptions/trials; `incomplete` → `incomplete_expired` after 23
  hours: https://docs.stripe.com/api/subscriptions/object#subscription_object-status;
- zero-decimal currencies (JPY): https://docs.stripe.com/currencies#zero-decimal.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime

from orchestration.simulator.catalog import CatalogPrice
from orchestration.simulator.customers import close_books, new_customer
from orchestration.simulator.payments import Payments
from orchestration.simulator.records import CustomerRec
from orchestration.simulator.story import Action, CustomerStory, Script, SubscriptionStory
from orchestration.simulator.timeline import DAY, HOUR, add_months
from orchestration.simulator.world import World

ALL = 4
"""Failed attempts that exhaust a renewal's retries (`story.RETRY_OFFSETS`)."""


def month_start(now: int, months: int) -> int:
    """Midnight UTC on the first day of the month `months` months from `now`'s (negative: earlier)."""
    moment = datetime.fromtimestamp(now, UTC)
    index = moment.year * 12 + moment.month - 1 + months
    return calendar.timegm((index // 12, index % 12 + 1, 1, 0, 0, 0))


class _Teller:
    """Tells the patterns' stories into a world; keeps which customers each pattern made."""

    def __init__(self, world: World, payments: Payments) -> None:
        self.world = world
        self.payments = payments
        self.patterns: dict[str, list[str]] = {}
        self.name = ""

    def customer(self, created: int) -> CustomerStory:
        world = self.world
        customer: CustomerRec = new_customer(world, created)
        customer.address = None  # a plain customer: the pattern, not its country, chooses its currency
        world.customers.append(customer)
        world.emit(created, "customer.created", "customer", customer, from_api_request=True)
        world.emit(created, "payment_method.attached", "payment_method", customer.payment_method)
        self.patterns.setdefault(self.name, []).append(customer.id)
        return CustomerStory(world, self.payments, customer)

    def subscribe(
        self, owner: CustomerStory, start: int, plan: list[tuple[str, int | None]], script: Script | None = None
    ) -> SubscriptionStory:
        prices = self.world.catalog.prices
        items: list[tuple[CatalogPrice, int | None]] = [(prices[key], quantity) for key, quantity in plan]
        story = SubscriptionStory(owner, start, items, script or Script())
        if self.world.happened(start):
            story.run()
        return story

    def price(self, key: str) -> CatalogPrice:
        return self.world.catalog.prices[key]


def _coupon(t: _Teller, now: int, coupons: tuple[tuple[str, int | None], ...], plan: list[tuple[str, int | None]]):
    start = month_start(now, -4) + 9 * DAY + 12 * HOUR
    t.subscribe(t.customer(start - HOUR), start, plan, Script(coupons=coupons))


def once_percent(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with 25OFF (25 % off, once), from the 10th four months ago."""
    _coupon(t, now, (("25OFF", None),), [("pro_month", 1)])


def once_amount(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with WELCOME20 ($20 off, once), from the 10th four months ago."""
    _coupon(t, now, (("WELCOME20", None),), [("pro_month", 1)])


def repeating_ended(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with 50OFF3M (50 % off for 3 months), from the 10th eight months ago."""
    start = month_start(now, -8) + 9 * DAY + 12 * HOUR
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(coupons=(("50OFF3M", None),)))


def forever(t: _Teller, now: int) -> None:
    """Team monthly, 3 seats ($12 each), with FOREVER10 (10 % off forever), from the 10th four months ago."""
    _coupon(t, now, (("FOREVER10", None),), [("team_month", 3)])


def item_level(t: _Teller, now: int) -> None:
    """Pro ($49) + Priority Support ($99) monthly; item discounts: 25OFF (once) on Pro, FOREVER10 then
    SAVE5X6 ($5 off for 6 months) on Support. From the 10th four months ago."""
    _coupon(
        t,
        now,
        (("25OFF", 0), ("FOREVER10", 1), ("SAVE5X6", 1)),
        [("pro_month", 1), ("support_month", 1)],
    )


def several_discounts(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with FOREVER10 and 50OFF3M on the subscription at once (they compound: 55 % off),
    from the 10th four months ago."""
    _coupon(t, now, (("FOREVER10", None), ("50OFF3M", None)), [("pro_month", 1)])


def _dunning(t: _Teller, renewal: int, end: str, actions: list[Action] | None = None) -> None:
    """Pro monthly ($49) started two months before `renewal`, whose second renewal fails every retry."""
    start = add_months(renewal, -2)
    script = Script(failures={2: ALL}, dunning_end=end, actions=actions or [])
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], script)


def dunning_unpaid_old(t: _Teller, now: int) -> None:
    """Marked unpaid about four months ago (second renewal on the 5th five months ago, last retry +15 days)."""
    _dunning(t, month_start(now, -5) + 4 * DAY + 12 * HOUR, "unpaid")


def dunning_unpaid_recent(t: _Teller, now: int) -> None:
    """Marked unpaid ten days before now (second renewal 25 days before now, last retry 15 days later)."""
    _dunning(t, now - 25 * DAY, "unpaid")


def dunning_unpaid_paid_late(t: _Teller, now: int) -> None:
    """Unpaid about four months ago, then the customer pays the open invoice on the 20th three months ago."""
    _dunning(
        t,
        month_start(now, -5) + 4 * DAY + 12 * HOUR,
        "unpaid",
        [Action(month_start(now, -3) + 19 * DAY + 12 * HOUR, "pay_late")],
    )


def dunning_unpaid_then_canceled(t: _Teller, now: int) -> None:
    """Unpaid about four months ago, canceled on the 20th two months ago."""
    _dunning(
        t, month_start(now, -5) + 4 * DAY + 12 * HOUR, "unpaid", [Action(month_start(now, -2) + 19 * DAY, "cancel")]
    )


def dunning_canceled_old(t: _Teller, now: int) -> None:
    """Canceled by dunning about four months ago (a week after the last failed retry)."""
    _dunning(t, month_start(now, -5) + 4 * DAY + 12 * HOUR, "canceled")


def dunning_canceled_recent(t: _Teller, now: int) -> None:
    """Canceled by dunning within the last 30 days (second renewal 27 days before now: canceled 5 days ago)."""
    _dunning(t, now - 27 * DAY, "canceled")


def past_due_recovered(t: _Teller, now: int) -> None:
    """Pro monthly from the 5th five months ago; the second renewal succeeds at its third attempt."""
    start = month_start(now, -5) + 4 * DAY + 12 * HOUR
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(failures={2: 2}))


def past_due_at_now(t: _Teller, now: int) -> None:
    """Pro monthly whose latest renewal, 5 days before now, is still being retried: `past_due` at now."""
    _dunning(t, now - 5 * DAY, "canceled")


def intervals(t: _Teller, now: int) -> None:
    """One customer per interval, each from the 10th two months ago: day pass ($3/day), starter weekly
    ($5/week), pro quarterly ($139 / 3 months), pro yearly ($490/year)."""
    start = month_start(now, -2) + 9 * DAY + 12 * HOUR
    for key in ("day_pass", "starter_week", "pro_quarter", "pro_year"):
        t.subscribe(t.customer(start - HOUR), start, [(key, 1)])


def upgrade_always_invoice(t: _Teller, now: int) -> None:
    """Starter monthly ($19) from the 10th four months ago, upgraded to Pro ($49) on the 25th three months
    ago, prorations invoiced at once."""
    start = month_start(now, -4) + 9 * DAY + 12 * HOUR
    change = Action(month_start(now, -3) + 24 * DAY, "change", items=((0, t.price("pro_month"), 1),))
    change.proration = "always_invoice"
    t.subscribe(t.customer(start - HOUR), start, [("starter_month", 1)], Script(actions=[change]))


def downgrade_create_prorations(t: _Teller, now: int) -> None:
    """Team monthly, 10 seats ($12) from the 10th four months ago, down to 4 seats on the 25th three months
    ago, prorated onto the next invoice."""
    start = month_start(now, -4) + 9 * DAY + 12 * HOUR
    change = Action(month_start(now, -3) + 24 * DAY, "change", items=((0, t.price("team_month"), 4),))
    t.subscribe(t.customer(start - HOUR), start, [("team_month", 10)], Script(actions=[change]))


def cancel_now_with_refund(t: _Teller, now: int) -> None:
    """Pro monthly from the 10th four months ago, canceled on the 15th two months ago, unused time refunded."""
    start = month_start(now, -4) + 9 * DAY + 12 * HOUR
    cancel = Action(month_start(now, -2) + 14 * DAY, "cancel", refund=True)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(actions=[cancel]))


def cancel_at_period_end_ended(t: _Teller, now: int) -> None:
    """Pro monthly from the 10th four months ago, set to cancel on the 20th three months ago: ends on the
    10th two months ago."""
    start = month_start(now, -4) + 9 * DAY + 12 * HOUR
    action = Action(month_start(now, -3) + 19 * DAY, "cancel_at_period_end")
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(actions=[action]))


def cancel_at_period_end_pending(t: _Teller, now: int) -> None:
    """Pro monthly from 20 days before now, set to cancel at period end 2 days before now."""
    start = now - 20 * DAY
    action = Action(now - 2 * DAY, "cancel_at_period_end")
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(actions=[action]))


def trial_converts_across_month_end(t: _Teller, now: int) -> None:
    """Pro monthly with a 14-day trial from the 25th four months ago: paid from the 8th or 9th after."""
    start = month_start(now, -4) + 24 * DAY + 12 * HOUR
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(trial_days=14))


def trial_canceled(t: _Teller, now: int) -> None:
    """Pro monthly with a 14-day trial from the 3rd three months ago, canceled on day 5 of the trial."""
    start = month_start(now, -3) + 2 * DAY + 12 * HOUR
    t.subscribe(
        t.customer(start - HOUR), start, [("pro_month", 1)], Script(trial_days=14, leave_trial_at=start + 5 * DAY)
    )


def incomplete_expired(t: _Teller, now: int) -> None:
    """Pro monthly whose first payment fails on the 10th three months ago: `incomplete`, then expired."""
    start = month_start(now, -3) + 9 * DAY + 12 * HOUR
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(first_payment_fails=True))


def zero_decimal_jpy(t: _Teller, now: int) -> None:
    """Pro monthly in JPY (¥7,500) from the 10th three months ago."""
    start = month_start(now, -3) + 9 * DAY + 12 * HOUR
    t.subscribe(t.customer(start - HOUR), start, [("pro_month_jpy", 1)])


def churn_then_reactivation(t: _Teller, now: int) -> None:
    """Pro monthly from the 10th six months ago, canceled on the 20th five months ago; a new one from the
    10th two months ago."""
    start = month_start(now, -6) + 9 * DAY + 12 * HOUR
    owner = t.customer(start - HOUR)
    t.subscribe(owner, start, [("pro_month", 1)], Script(actions=[Action(month_start(now, -5) + 19 * DAY, "cancel")]))
    t.subscribe(owner, month_start(now, -2) + 9 * DAY + 12 * HOUR, [("pro_month", 1)])


def subscribed_and_canceled_in_one_month(t: _Teller, now: int) -> None:
    """Pro monthly from the 3rd three months ago, canceled on the 20th of that month."""
    start = month_start(now, -3) + 2 * DAY + 12 * HOUR
    cancel = Action(month_start(now, -3) + 19 * DAY, "cancel")
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(actions=[cancel]))


PATTERNS: dict[str, Callable[[_Teller, int], None]] = {
    fn.__name__: fn
    for fn in (
        once_percent,
        once_amount,
        repeating_ended,
        forever,
        item_level,
        several_discounts,
        dunning_unpaid_old,
        dunning_unpaid_recent,
        dunning_unpaid_paid_late,
        dunning_unpaid_then_canceled,
        dunning_canceled_old,
        dunning_canceled_recent,
        past_due_recovered,
        past_due_at_now,
        intervals,
        upgrade_always_invoice,
        downgrade_create_prorations,
        cancel_now_with_refund,
        cancel_at_period_end_ended,
        cancel_at_period_end_pending,
        trial_converts_across_month_end,
        trial_canceled,
        incomplete_expired,
        zero_decimal_jpy,
        churn_then_reactivation,
        subscribed_and_canceled_in_one_month,
    )
}
"""Every pattern by name, in the order they are told."""


def add_patterns(world: World, payments: Payments) -> dict[str, list[str]]:
    """Tells every pattern into `world` (after its random customers); pattern name → its customer ids."""
    teller = _Teller(world, payments)
    for name, tell in PATTERNS.items():
        teller.name = name
        first_customer, first_invoice = len(world.customers), len(world.invoices)
        tell(teller, world.now)
        for customer in world.customers[first_customer:]:
            close_books(world, customer, [i for i in world.invoices[first_invoice:] if i.customer_id == customer.id])
    return teller.patterns
