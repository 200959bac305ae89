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
- zero-decimal currencies (JPY): https://docs.stripe.com/currencies#zero-decimal, three-decimal (KWD):
  https://docs.stripe.com/currencies#three-decimal; one currency at a time per customer's subscriptions:
  https://docs.stripe.com/invoicing/multi-currency-customers;
- package (`transform_quantity`) and tiered prices: https://docs.stripe.com/products-prices/pricing-models,
  https://docs.stripe.com/api/prices/object#price_object-transform_quantity; metered items:
  https://docs.stripe.com/billing/subscriptions/usage-based; archived prices kept by their subscriptions:
  https://docs.stripe.com/products-prices/manage-prices#archive-price;
- subscription schedules: https://docs.stripe.com/billing/subscriptions/subscription-schedules; paused
  payment collection: https://docs.stripe.com/billing/subscriptions/pause-payment; customer deletion:
  https://docs.stripe.com/api/customers/delete.

Each docstring names the page its behaviour follows where it adds one.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from orchestration.simulator.generate.catalog import CatalogPrice
from orchestration.simulator.generate.customers import close_books, new_customer
from orchestration.simulator.generate.payments import Payments
from orchestration.simulator.generate.story import RETRY_OFFSETS, Action, CustomerStory, Script, SubscriptionStory
from orchestration.simulator.generate.world import World
from orchestration.simulator.records import CustomerRec
from orchestration.simulator.timeline import DAY, HOUR, add_months

ALL = len(RETRY_OFFSETS)
"""Failed attempts that exhaust a renewal's retries."""


def month_start(now: int, months: int) -> int:
    """Midnight UTC on the first day of the month `months` months from `now`'s (negative: earlier)."""
    moment = datetime.fromtimestamp(now, UTC)
    index = moment.year * 12 + moment.month - 1 + months
    return calendar.timegm((index // 12, index % 12 + 1, 1, 0, 0, 0))


def tenth_at_noon(now: int, months: int) -> int:
    """Noon UTC on the 10th of the month `months` months from `now`'s: when most patterns' stories start."""
    return month_start(now, months) + 9 * DAY + 12 * HOUR


class _Teller:
    """Tells the patterns' stories into a world; keeps which customers each pattern made."""

    def __init__(self, world: World, payments: Payments) -> None:
        self.world = world
        self.payments = payments
        self.patterns: dict[str, list[str]] = {}
        self._name = ""
        """The pattern being told, whose customers `customer` records."""

    def tell(self, name: str, story: Callable[[_Teller, int], None]) -> None:
        """Tells pattern `name` (`story`) into the world, at its `now`."""
        self._name = name
        story(self, self.world.now)

    def customer(self, created: int) -> CustomerStory:
        world = self.world
        customer: CustomerRec = new_customer(world, created)
        customer.address = None  # a plain customer: the pattern, not its country, chooses its currency
        world.customers.append(customer)
        world.emit(created, "customer.created", "customer", customer, from_api_request=True)
        world.emit(created, "payment_method.attached", "payment_method", customer.payment_method)
        self.patterns.setdefault(self._name, []).append(customer.id)
        return CustomerStory(world, self.payments, customer)

    def subscribe(
        self, owner: CustomerStory, start: int, plan: Sequence[tuple[str, int | None]], script: Script | None = None
    ) -> SubscriptionStory:
        prices = self.world.catalog.prices
        items: list[tuple[CatalogPrice, int | None]] = [(prices[key], quantity) for key, quantity in plan]
        story = SubscriptionStory(owner, start, items, script or Script())
        if self.world.happened(start):
            story.run()
        return story

    def price(self, key: str) -> CatalogPrice:
        return self.world.catalog.prices[key]

    def delete_customer(self, owner: CustomerStory, moment: int) -> None:
        """`DELETE /v1/customers/{id}` at `moment` (its subscriptions must be canceled then, as Stripe does):
        the customer is deleted and its card detached (https://docs.stripe.com/api/customers/delete)."""
        customer = owner.customer
        customer.deleted_at = moment
        self.world.emit(moment, "payment_method.detached", "payment_method", customer.payment_method)
        self.world.emit(moment, "customer.deleted", "customer", customer, from_api_request=True)


def _subscribe_with_coupons(
    t: _Teller, now: int, coupons: tuple[tuple[str, int | None], ...], plan: list[tuple[str, int | None]]
) -> SubscriptionStory:
    """A new customer subscribing to `plan` with `coupons` (see `Script.coupons`) on the 10th four months ago."""
    start = tenth_at_noon(now, -4)
    return t.subscribe(t.customer(start - HOUR), start, plan, Script(coupons=coupons))


def once_percent(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with 25OFF (25 % off, once), from the 10th four months ago."""
    _subscribe_with_coupons(t, now, (("25OFF", None),), [("pro_month", 1)])


def once_amount(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with WELCOME20 ($20 off, once), from the 10th four months ago."""
    _subscribe_with_coupons(t, now, (("WELCOME20", None),), [("pro_month", 1)])


def repeating_ended(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with 50OFF3M (50 % off for 3 months), from the 10th eight months ago."""
    start = tenth_at_noon(now, -8)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(coupons=(("50OFF3M", None),)))


def forever(t: _Teller, now: int) -> None:
    """Team monthly, 3 seats ($12 each), with FOREVER10 (10 % off forever), from the 10th four months ago."""
    _subscribe_with_coupons(t, now, (("FOREVER10", None),), [("team_month", 3)])


def item_level(t: _Teller, now: int) -> None:
    """Pro ($49) + Priority Support ($99) monthly; item discounts: 25OFF (once) on Pro, FOREVER10 then
    SAVE5X6 ($5 off for 6 months) on Support. From the 10th four months ago."""
    _subscribe_with_coupons(
        t,
        now,
        (("25OFF", 0), ("FOREVER10", 1), ("SAVE5X6", 1)),
        [("pro_month", 1), ("support_month", 1)],
    )


def several_discounts(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with FOREVER10 and 50OFF3M on the subscription at once (they compound: 55 % off),
    from the 10th four months ago."""
    _subscribe_with_coupons(t, now, (("FOREVER10", None), ("50OFF3M", None)), [("pro_month", 1)])


def repeating_amount_ended(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with SAVE5X6 ($5 off for 6 months) on the subscription, from the 10th eight months
    ago: $44 for six months, then $49."""
    start = tenth_at_noon(now, -8)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(coupons=(("SAVE5X6", None),)))


def forever_amount(t: _Teller, now: int) -> None:
    """Pro monthly ($49) with 5OFFFOREVER ($5 off forever) on the subscription, from the 10th four months ago."""
    _subscribe_with_coupons(t, now, (("5OFFFOREVER", None),), [("pro_month", 1)])


def item_level_amounts_and_repeating(t: _Teller, now: int) -> None:
    """Pro ($49) + Priority Support ($99) monthly from the 10th eight months ago; item discounts: 50OFF3M (50 %
    for 3 months) on Pro, WELCOME20 ($20 once) then 5OFFFOREVER ($5 forever) on Support."""
    start = tenth_at_noon(now, -8)
    coupons = (("50OFF3M", 0), ("WELCOME20", 1), ("5OFFFOREVER", 1))
    plan = [("pro_month", 1), ("support_month", 1)]
    t.subscribe(t.customer(start - HOUR), start, plan, Script(coupons=coupons))


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
    start = tenth_at_noon(now, -2)
    for key in ("day_pass", "starter_week", "pro_quarter", "pro_year"):
        t.subscribe(t.customer(start - HOUR), start, [(key, 1)])


def upgrade_always_invoice(t: _Teller, now: int) -> None:
    """Starter monthly ($19) from the 10th four months ago, upgraded to Pro ($49) on the 25th three months
    ago, prorations invoiced at once."""
    start = tenth_at_noon(now, -4)
    change = Action(
        month_start(now, -3) + 24 * DAY, "change", items=((0, t.price("pro_month"), 1),), proration="always_invoice"
    )
    t.subscribe(t.customer(start - HOUR), start, [("starter_month", 1)], Script(actions=[change]))


def downgrade_create_prorations(t: _Teller, now: int) -> None:
    """Team monthly, 10 seats ($12) from the 10th four months ago, down to 4 seats on the 25th three months
    ago, prorated onto the next invoice."""
    start = tenth_at_noon(now, -4)
    change = Action(month_start(now, -3) + 24 * DAY, "change", items=((0, t.price("team_month"), 4),))
    t.subscribe(t.customer(start - HOUR), start, [("team_month", 10)], Script(actions=[change]))


def cancel_now_with_refund(t: _Teller, now: int) -> None:
    """Pro monthly from the 10th four months ago, canceled on the 15th two months ago, unused time refunded."""
    start = tenth_at_noon(now, -4)
    cancel = Action(month_start(now, -2) + 14 * DAY, "cancel", refund=True)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(actions=[cancel]))


def cancel_at_period_end_ended(t: _Teller, now: int) -> None:
    """Pro monthly from the 10th four months ago, set to cancel on the 20th three months ago: ends on the
    10th two months ago."""
    start = tenth_at_noon(now, -4)
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


def trial_converts_after_retries(t: _Teller, now: int) -> None:
    """Pro monthly with a 14-day trial from the 10th three months ago; the first invoice after the trial is
    declined twice and paid at the third attempt, 8 days later: `trialing`, `active`, `past_due`, `active`
    again, converted when that invoice is paid (https://docs.stripe.com/billing/subscriptions/trials: at the
    trial's end the first period is invoiced and charged, a declined charge retried like any renewal's)."""
    start = tenth_at_noon(now, -3)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(trial_days=14, failures={1: 2}))


def trial_payment_fails(t: _Teller, now: int) -> None:
    """Pro monthly with a 14-day trial from the 10th four months ago; every attempt at the first invoice after
    the trial fails, and dunning cancels the subscription (`payment_failed`) a week after the last retry: a
    trial that never converted."""
    start = tenth_at_noon(now, -4)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(trial_days=14, failures={1: ALL}))


def trial_in_progress(t: _Teller, now: int) -> None:
    """Pro monthly with a 14-day trial started 5 days before now: still `trialing` at now."""
    start = now - 5 * DAY
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(trial_days=14))


def incomplete_expired(t: _Teller, now: int) -> None:
    """Pro monthly whose first payment fails on the 10th three months ago: `incomplete`, then expired."""
    start = tenth_at_noon(now, -3)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(first_payment_fails=True))


def zero_decimal_jpy(t: _Teller, now: int) -> None:
    """Pro monthly in JPY (¥7,500) from the 10th three months ago."""
    start = tenth_at_noon(now, -3)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month_jpy", 1)])


def churn_then_reactivation(t: _Teller, now: int) -> None:
    """Pro monthly from the 10th six months ago, canceled on the 20th five months ago; a new one from the
    10th two months ago."""
    start = tenth_at_noon(now, -6)
    owner = t.customer(start - HOUR)
    t.subscribe(owner, start, [("pro_month", 1)], Script(actions=[Action(month_start(now, -5) + 19 * DAY, "cancel")]))
    t.subscribe(owner, tenth_at_noon(now, -2), [("pro_month", 1)])


def subscribed_and_canceled_in_one_month(t: _Teller, now: int) -> None:
    """Pro monthly from the 3rd three months ago, canceled on the 20th of that month."""
    start = month_start(now, -3) + 2 * DAY + 12 * HOUR
    cancel = Action(month_start(now, -3) + 19 * DAY, "cancel")
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(actions=[cancel]))


def package_pricing(t: _Teller, now: int) -> None:
    """Team seats in packs of 10 ($50 a pack, `transform_quantity` divide_by 10, round up), 23 seats: 3 packs,
    from the 10th two months ago (https://docs.stripe.com/products-prices/pricing-models#package-pricing)."""
    start = tenth_at_noon(now, -2)
    t.subscribe(t.customer(start - HOUR), start, [("team_pack_month", 23)])


def graduated_tiers_flat(t: _Teller, now: int) -> None:
    """Team graduated (seats 1-5 at $15 plus a $20 flat fee, 6-20 at $12, then $9), 12 seats, from the 10th
    two months ago (https://docs.stripe.com/products-prices/pricing-models#tiered-pricing)."""
    start = tenth_at_noon(now, -2)
    t.subscribe(t.customer(start - HOUR), start, [("team_month_graduated", 12)])


def volume_tiers_flat(t: _Teller, now: int) -> None:
    """Storage by volume (up to 10 TB $5 + $10 flat, up to 50 TB $4 + $20 flat, then $3 + $50 flat), 30 TB,
    from the 10th two months ago (https://docs.stripe.com/products-prices/pricing-models#tiered-pricing)."""
    start = tenth_at_noon(now, -2)
    t.subscribe(t.customer(start - HOUR), start, [("storage_month_volume", 30)])


def licensed_and_metered(t: _Teller, now: int) -> None:
    """Pro monthly ($49, licensed) and API calls (metered, billed in arrears on usage) on one subscription,
    from the 10th three months ago (https://docs.stripe.com/billing/subscriptions/usage-based)."""
    start = tenth_at_noon(now, -3)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1), ("api_calls_metered", None)])


def quantity_change_without_proration(t: _Teller, now: int) -> None:
    """Team monthly, 5 seats ($12) from the 10th four months ago, 8 seats from the 1st of now's month with
    `proration_behavior=none`: no proration, the next invoice bills 8 seats
    (https://docs.stripe.com/billing/subscriptions/prorations#disable-prorations).

    The change is recent on purpose: without a proration line, only its `customer.subscription.updated`
    event dates it, and Stripe keeps events for 30 days; an older one is invisible until the next invoice."""
    start = tenth_at_noon(now, -4)
    change = Action(month_start(now, 0) + 12 * HOUR, "change", items=((0, t.price("team_month"), 8),), proration="none")
    t.subscribe(t.customer(start - HOUR), start, [("team_month", 5)], Script(actions=[change]))


def two_subscriptions_same_month(t: _Teller, now: int) -> None:
    """One customer, two subscriptions from the 10th five months ago: Pro ($49) canceled on the 20th two
    months ago, and Team (2 seats, $12) grown to 6 seats on the 12th of that month: the customer moves from
    $73 to $72, a contraction, not a churn."""
    start = tenth_at_noon(now, -5)
    owner = t.customer(start - HOUR)
    cancel = Action(month_start(now, -2) + 19 * DAY, "cancel")
    grow = Action(month_start(now, -2) + 11 * DAY, "change", items=((0, t.price("team_month"), 6),))
    t.subscribe(owner, start, [("pro_month", 1)], Script(actions=[cancel]))
    t.subscribe(owner, start, [("team_month", 2)], Script(actions=[grow]))


def three_decimal_kwd(t: _Teller, now: int) -> None:
    """Pro monthly in KWD (15.000 KWD: 15000 fils, a three-decimal currency) from the 10th two months ago
    (https://docs.stripe.com/currencies#three-decimal)."""
    start = tenth_at_noon(now, -2)
    t.subscribe(t.customer(start - HOUR), start, [("pro_month_kwd", 1)])


def two_currencies_in_turn(t: _Teller, now: int) -> None:
    """Pro monthly in USD ($49) from the 10th five months ago, canceled on the 15th three months ago; then Pro
    in EUR (€45) from the 20th of that month. A customer cannot have two active subscriptions in different
    currencies: the first must be canceled before one in another currency is created
    (https://docs.stripe.com/invoicing/multi-currency-customers); its default `currency` stays USD."""
    start = tenth_at_noon(now, -5)
    owner = t.customer(start - HOUR)
    t.subscribe(owner, start, [("pro_month", 1)], Script(actions=[Action(month_start(now, -3) + 14 * DAY, "cancel")]))
    t.subscribe(owner, month_start(now, -3) + 19 * DAY, [("pro_month_eur", 1)])


def deleted_customer(t: _Teller, now: int) -> None:
    """Pro monthly from the 10th three months ago; the customer is deleted 10 days before now, which cancels
    its subscription at once (https://docs.stripe.com/api/customers/delete): `/v1/customers` no longer lists
    it, retrieving it answers a deleted stub, its subscription and invoices stay."""
    start = tenth_at_noon(now, -3)
    owner = t.customer(start - HOUR)
    deleted = now - 10 * DAY
    t.subscribe(owner, start, [("pro_month", 1)], Script(actions=[Action(deleted, "cancel")]))
    t.delete_customer(owner, deleted)


def grandfathered_price(t: _Teller, now: int) -> None:
    """Starter monthly v1 ($15), subscribed 40 days before the price was archived (`active: false`); the
    subscription keeps it (https://docs.stripe.com/products-prices/manage-prices#archive-price)."""
    price = t.price("starter_month_v1")
    assert price.retired_at is not None
    start = price.retired_at - 40 * DAY + 12 * HOUR
    t.subscribe(t.customer(start - HOUR), start, [("starter_month_v1", 1)])


def schedule_price_change(t: _Teller, now: int) -> None:
    """A subscription schedule: Starter monthly ($19) for two periods from the 10th four months ago, then a
    second phase on Pro ($49) from the 10th two months ago (`subscription.schedule` set; the items change at
    the phase start, announced by `customer.subscription.updated`;
    https://docs.stripe.com/billing/subscriptions/subscription-schedules)."""
    start = tenth_at_noon(now, -4)
    script = Script(phases=((2, ((0, t.price("pro_month"), 1),)),))
    t.subscribe(t.customer(start - HOUR), start, [("starter_month", 1)], script)


def pause_collection(t: _Teller, now: int) -> None:
    """Pro monthly ($49) from the 10th four months ago, payment collection paused on the 1st two months ago,
    one customer per `pause_collection.behavior` (keep_as_draft, void, mark_uncollectible): the status stays
    `active`, invoices keep being made but are not collected
    (https://docs.stripe.com/billing/subscriptions/pause-payment); it counts towards MRR (status active)."""
    start = tenth_at_noon(now, -4)
    for behavior in ("keep_as_draft", "void", "mark_uncollectible"):
        pause = Action(month_start(now, -2) + 12 * HOUR, "pause_collection", behavior=behavior)
        t.subscribe(t.customer(start - HOUR), start, [("pro_month", 1)], Script(actions=[pause]))


PATTERNS: dict[str, Callable[[_Teller, int], None]] = {
    fn.__name__: fn
    for fn in (
        once_percent,
        once_amount,
        repeating_ended,
        forever,
        repeating_amount_ended,
        forever_amount,
        item_level,
        item_level_amounts_and_repeating,
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
        trial_converts_after_retries,
        trial_payment_fails,
        trial_in_progress,
        incomplete_expired,
        zero_decimal_jpy,
        churn_then_reactivation,
        subscribed_and_canceled_in_one_month,
        package_pricing,
        graduated_tiers_flat,
        volume_tiers_flat,
        licensed_and_metered,
        quantity_change_without_proration,
        two_subscriptions_same_month,
        three_decimal_kwd,
        two_currencies_in_turn,
        deleted_customer,
        grandfathered_price,
        schedule_price_change,
        pause_collection,
    )
}
"""Every pattern by name, in the order they are told."""


def add_patterns(world: World, payments: Payments) -> dict[str, list[str]]:
    """Tells every pattern into `world` (after its random customers); pattern name → its customer ids."""
    teller = _Teller(world, payments)
    for name, tell in PATTERNS.items():
        first_customer, first_invoice = len(world.customers), len(world.invoices)
        teller.tell(name, tell)
        for customer in world.customers[first_customer:]:
            close_books(world, customer, [i for i in world.invoices[first_invoice:] if i.customer_id == customer.id])
    return teller.patterns
