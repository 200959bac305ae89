"""The true MRR of a generated account, and what its payouts paid out, from the generator's own history.

The warehouse has to reconstruct subscription history from invoice lines and subscription dates; the
generator knows it: `SimulatedAccount.subscription_history` holds every version of every subscription (status,
items, discounts, billing period, from its `at`). `expected_customer_mrr` applies the project's MRR definition
(the dbt docs block `mrr_definition`, from `mrr.md`) to that history, with the account's own prices and coupons:

- a month's figure is the value at the month's last second, or at `as_of` for the current month;
- a subscription counts while its status is `active` or `past_due` (not after `ended_at`);
- licensed recurring prices only; per-unit `unit_amount × quantity` (× whole packages of
  `transform_quantity.divide_by` units, rounded as it says, for package prices), tiered `graduated`/`volume` arithmetic
  with flat amounts; normalised to a month (day × 365/12, week × 52/12, month, year ÷ 12, ÷ interval_count);
- discounts: `forever` from their start until a version no longer carries them, `repeating` until their
  `end`, `once` for the first billing period starting at or after their start (after any trial);
  percent_off on the value, amount_off normalised like the price, in the coupon's currency only; never
  below zero. Item-level discounts reduce their item first, then the subscription-level ones the items'
  total, each discount applying to what the ones before it left (two percent_off discounts compound), in
  the order of the `discounts` arrays: Stripe's "Subscription item discounts are applied before
  subscription discounts" (https://docs.stripe.com/api/subscriptions/object), the rule `generate.story` bills
  invoices by;
- major units (zero-decimal and three-decimal currencies handled).

`expected_item_mrr` breaks the same figures down by subscription item, at the grain of
`subscription_item_mrr_monthly`: the subscription-level discounts are shared out between the items in
proportion to what each is worth after its own discounts, so the items add up to their subscription.

`expected_payout_items` is the truth of payout reconciliation likewise: which balance transactions each payout
paid out, as the generator decided it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from orchestration.simulator.currencies import exponent
from orchestration.simulator.model.account import SimulatedAccount
from orchestration.simulator.records import DiscountRec, SubscriptionVersion
from orchestration.simulator.timeline import add_months

COUNTED_STATUSES = frozenset({"active", "past_due"})
MONTHS_PER_INTERVAL = {"day": 12 / 365, "week": 12 / 52, "month": 1.0, "year": 12.0}
"""How many months one interval lasts: an amount per interval divided by this is per month."""

CustomerMonth = tuple[str, str, date]
"""(customer id, currency, first day of the month)."""
MOVEMENT_TOLERANCE = 1e-6
"""Below this, two months' truths differ by float noise of their sums, not by a change."""
ItemMonth = tuple[str, date]
"""(subscription item id, first day of the month)."""


@dataclass(frozen=True, slots=True)
class ItemValue:
    """What one subscription item was worth at one instant, in major units of its subscription's currency."""

    item_id: str
    price_id: str
    contract_mrr: float
    """Its price times its quantity, normalised to a month, before any discount."""
    mrr: float
    """After its own discounts and its share of its subscription's."""


@dataclass(frozen=True, slots=True)
class ExpectedItemMonth:
    """A row of `subscription_item_mrr_monthly` as the ground truth has it."""

    customer_id: str
    currency: str
    subscription_id: str
    price_id: str
    """The item's price at the month's instant; in a churn month in which the item no longer counts, its last."""
    mrr: float
    contract_mrr: float


def expected_customer_mrr(
    account: SimulatedAccount, as_of: int, discounts: str = "all", timezone: str = "UTC"
) -> dict[CustomerMonth, float]:
    """The true MRR (major units) per customer, currency and month, at the grain of `customer_mrr_monthly`.

    A key for every month in which the customer has MRR, and for each month in which it falls to zero after
    a month with MRR (the churn month, value 0.0); months at zero after that have no key. Months run from
    the account's first subscription to the month of `as_of` (unix seconds), whose figure is the value at
    `as_of`. `discounts` is the dbt var `mrr_discounts`: `all`, `forever_only` or `none`; `timezone` the var
    `stripe_reporting_timezone`, whose calendar months these are.
    """
    if discounts not in ("all", "forever_only", "none"):
        raise ValueError(f"discounts must be all, forever_only or none, not {discounts!r}")
    history = account.subscription_history
    if not history:
        raise ValueError("the account has no subscription history: only generated accounts can be checked")
    prices = _with_hidden(account, "prices")
    coupons = {coupon["id"]: coupon for coupon in account.objects.get("coupons", [])}
    subscriptions = {sub["id"]: sub for sub in account.objects["subscriptions"]}

    # In time order: a payment retried past the next period's start (daily and weekly plans) is recorded
    # after that period's versions. Stable, so versions of one instant keep their order.
    history = {sub_id: sorted(versions, key=lambda version: version.at) for sub_id, versions in history.items()}
    first = min(versions[0].at for versions in history.values() if versions)
    values: dict[tuple[str, str], dict[date, float]] = defaultdict(dict)
    for month, instant in evaluation_instants(first, as_of, timezone):
        for subscription_id, versions in history.items():
            subscription = subscriptions[subscription_id]
            currency = subscription["currency"].lower()
            mrr = _subscription_mrr(versions, instant, currency, prices, coupons, discounts)
            if mrr is not None:
                key = (subscription["customer"], currency)
                values[key][month] = values[key].get(month, 0.0) + mrr

    expected: dict[CustomerMonth, float] = {}
    months = [month for month, _ in evaluation_instants(first, as_of, timezone)]
    for (customer_id, currency), by_month in values.items():
        previous = 0.0
        for month in months:
            mrr = by_month.get(month, 0.0)
            if mrr > 0 or previous > 0:
                expected[(customer_id, currency, month)] = mrr
            previous = mrr
    return expected


def expected_movements(expected: dict[CustomerMonth, float]) -> dict[CustomerMonth, str]:
    """The movement of every customer-month of `expected` (`expected_customer_mrr`), by mrr.md's rules in
    mrr.md's order: new, reactivation, churn, expansion, contraction, unchanged."""
    movements = {}
    had_mrr: set[tuple[str, str]] = set()
    for customer, currency, month in sorted(expected, key=lambda key: (key[0], key[1], key[2])):
        before = _previous_month(month)
        previous, current = expected.get((customer, currency, before), 0.0), expected[(customer, currency, month)]
        if previous == 0 and current > 0:
            movement = "reactivation" if (customer, currency) in had_mrr else "new"
        elif previous > 0 and current == 0:
            movement = "churn"
        elif abs(current - previous) < MOVEMENT_TOLERANCE:
            movement = "unchanged"
        else:
            movement = "expansion" if current > previous else "contraction"
        if current > 0:
            had_mrr.add((customer, currency))
        movements[(customer, currency, month)] = movement
    return movements


def expected_item_mrr(
    account: SimulatedAccount, as_of: int, discounts: str = "all"
) -> dict[ItemMonth, ExpectedItemMonth]:
    """The true MRR (major units) per subscription item and month, at the grain of `subscription_item_mrr_monthly`.

    A key for every month in which the item has MRR, for the month it falls to zero after a month with MRR (its
    churn month, at 0, on its last price when it no longer counts), and for every month in which it counts at
    zero (a discount taking all of it) while its customer has a key in `expected_customer_mrr`, so that the
    items of a customer-month add up to it, contract value included. The subscription's discounts are shared
    out in proportion to each item's value after its own discounts. Arguments as `expected_customer_mrr`.
    """
    customer_months = expected_customer_mrr(account, as_of, discounts)
    history = {
        sub_id: sorted(versions, key=lambda version: version.at)
        for sub_id, versions in account.subscription_history.items()
    }
    prices = _with_hidden(account, "prices")
    coupons = {coupon["id"]: coupon for coupon in account.objects.get("coupons", [])}
    subscriptions = {sub["id"]: sub for sub in account.objects["subscriptions"]}
    first = min(versions[0].at for versions in history.values() if versions)

    counted: dict[ItemMonth, ExpectedItemMonth] = {}
    for month, instant in evaluation_instants(first, as_of):
        for subscription_id, versions in history.items():
            subscription = subscriptions[subscription_id]
            currency = subscription["currency"].lower()
            for item in _subscription_items(versions, instant, currency, prices, coupons, discounts) or []:
                counted[(item.item_id, month)] = ExpectedItemMonth(
                    subscription["customer"], currency, subscription_id, item.price_id, item.mrr, item.contract_mrr
                )

    expected: dict[ItemMonth, ExpectedItemMonth] = {}
    months = [month for month, _ in evaluation_instants(first, as_of)]
    for item_id in {item_id for item_id, _ in counted}:
        last: ExpectedItemMonth | None = None
        for month in months:
            current = counted.get((item_id, month))
            had_mrr = last is not None and last.mrr > 0
            if current is not None and (
                current.mrr > 0 or had_mrr or (current.customer_id, current.currency, month) in customer_months
            ):
                expected[(item_id, month)] = current
            elif current is None and had_mrr and last is not None:
                expected[(item_id, month)] = ExpectedItemMonth(
                    last.customer_id, last.currency, last.subscription_id, last.price_id, 0.0, 0.0
                )
            last = current
    return expected


def _previous_month(month: date) -> date:
    """The first day of the month before `month` (a first day)."""
    return (month - timedelta(days=1)).replace(day=1)


def evaluation_instants(first: int, as_of: int, timezone: str = "UTC") -> Iterable[tuple[date, int]]:
    """(month, instant) from the month of `first` to that of `as_of`: each month's last second, or `as_of`.

    Months are calendar months of `timezone` (an IANA name): a month's last second is 23:59:59 on its last
    day there, whatever the offset that day (daylight saving time included).
    """
    zone = ZoneInfo(timezone)
    moment = datetime.fromtimestamp(first, zone)
    year, month = moment.year, moment.month
    last = datetime.fromtimestamp(as_of, zone)
    while (year, month) <= (last.year, last.month):
        next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        month_end = int(datetime(next_year, next_month, 1, tzinfo=zone).timestamp()) - 1
        yield date(year, month, 1), min(month_end, as_of)
        year, month = next_year, next_month


def _subscription_mrr(
    versions: list[SubscriptionVersion],
    instant: int,
    currency: str,
    prices: dict[str, dict[str, Any]],
    coupons: dict[str, dict[str, Any]],
    discounts: str,
) -> float | None:
    """The subscription's MRR at `instant`; None when it does not count then."""
    valued = _valued_items(versions, instant, currency, prices, coupons, discounts)
    return None if valued is None else valued[1]


def _subscription_items(
    versions: list[SubscriptionVersion],
    instant: int,
    currency: str,
    prices: dict[str, dict[str, Any]],
    coupons: dict[str, dict[str, Any]],
    discounts: str,
) -> list[ItemValue] | None:
    """The subscription's licensed items at `instant`, each with its share of the subscription's MRR: its value
    after its own discounts × (the subscription's MRR ÷ the items' total after their own discounts). None when
    the subscription does not count then."""
    valued = _valued_items(versions, instant, currency, prices, coupons, discounts)
    if valued is None:
        return None
    items, mrr = valued
    total = sum(after_own for _, _, _, after_own in items)
    return [
        ItemValue(item_id, price_id, contract, after_own * mrr / total if total > 0 else 0.0)
        for item_id, price_id, contract, after_own in items
    ]


def _valued_items(
    versions: list[SubscriptionVersion],
    instant: int,
    currency: str,
    prices: dict[str, dict[str, Any]],
    coupons: dict[str, dict[str, Any]],
    discounts: str,
) -> tuple[list[tuple[str, str, float, float]], float] | None:
    """At `instant`: each licensed item as (id, price id, contract value, value after its own discounts), and
    the subscription's MRR (the items' total after the subscription-level discounts); None when the
    subscription does not count then."""
    state = _state_at(versions, instant)
    if state is None or state.status not in COUNTED_STATUSES:
        return None
    # An ended subscription never counts again, whatever is recorded after (a late payment of an old invoice).
    if any(version.ended_at is not None and version.ended_at <= instant for version in versions):
        return None
    licensed = [
        (item.id, item.price_id, prices[item.price_id], item.quantity)
        for item in state.items
        if item.quantity is not None and _is_licensed(prices[item.price_id])
    ]
    if not licensed:
        return None
    in_effect = _discounts_in_effect(versions, instant, coupons, discounts)
    items = []
    value = 0.0
    for item_id, price_id, price, quantity in licensed:
        contract = _monthly(_amount(price, quantity), price, currency)
        item_value = contract
        for discount in in_effect:
            if discount.subscription_item == item_id:
                item_value = _discounted(item_value, coupons[discount.coupon_id], price, currency)
        items.append((item_id, price_id, contract, item_value))
        value += item_value
    for discount in in_effect:
        if discount.subscription_item is None:
            value = _discounted(value, coupons[discount.coupon_id], licensed[0][2], currency)
    return items, value


def _discounted(value: float, coupon: dict[str, Any], price: dict[str, Any], currency: str) -> float:
    """`value` (monthly, major units) after one coupon: percent_off of it, or amount_off normalised like
    `price` (in the coupon's currency only); never below zero."""
    if coupon.get("percent_off") is not None:
        return value * (100 - min(float(coupon["percent_off"]), 100.0)) / 100
    if coupon.get("amount_off") is not None and (coupon.get("currency") or "").lower() == currency:
        return max(0.0, value - _monthly(coupon["amount_off"], price, currency))
    return value


def _state_at(versions: list[SubscriptionVersion], instant: int) -> SubscriptionVersion | None:
    state = None
    for version in versions:
        if version.at > instant:
            break
        state = version
    return state


def _discounts_in_effect(
    versions: list[SubscriptionVersion], instant: int, coupons: dict[str, dict[str, Any]], discounts: str
) -> list[DiscountRec]:
    """The subscription's discounts whose window (by coupon duration) holds `instant`, in the order applied."""
    if discounts == "none":
        return []
    found = {discount.id: discount for version in versions for discount in version.discounts}
    in_effect = []
    for discount in found.values():
        coupon = coupons[discount.coupon_id]
        duration = coupon["duration"]
        if discounts == "forever_only" and duration != "forever":
            continue
        window: tuple[int, int | None] | None
        if duration == "once":
            window = _first_billing_period(versions, discount.start)
        elif duration == "repeating":
            end = discount.end if discount.end is not None else add_months(discount.start, coupon["duration_in_months"])
            window = (discount.start, end)
        else:
            window = (discount.start, _removed_at(versions, discount.id))
        if window is not None and window[0] <= instant and (window[1] is None or instant < window[1]):
            in_effect.append(discount)
    return in_effect


def _removed_at(versions: list[SubscriptionVersion], discount_id: str) -> int | None:
    """When the first version after those carrying discount `discount_id` no longer carries it (a `forever`
    discount deleted from its subscription: https://docs.stripe.com/api/discounts/subscription_discount_delete);
    None while the last version still does. `once` and `repeating` discounts keep their own windows: Stripe
    removes them as they end, which must not cut them."""
    carried = False
    for version in versions:
        if any(discount.id == discount_id for discount in version.discounts):
            carried = True
        elif carried:
            return version.at
    return None


def _first_billing_period(versions: list[SubscriptionVersion], start: int) -> tuple[int, int] | None:
    """The first billing period starting at or after `start`, trials aside: what a `once` coupon covers
    ("Once: applies to the first invoice only", https://docs.stripe.com/billing/subscriptions/coupons)."""
    for version in versions:
        if version.status == "trialing" or version.current_period_start < start:
            continue
        return version.current_period_start, version.current_period_end
    return None


def _is_licensed(price: dict[str, Any]) -> bool:
    recurring = price.get("recurring")
    return recurring is not None and (recurring.get("usage_type") or "licensed") == "licensed"


def _amount(price: dict[str, Any], quantity: int) -> float:
    """What `quantity` units cost per billing interval, in minor units."""
    if price.get("billing_scheme") != "tiered":
        unit = price.get("unit_amount_decimal")
        transform = price.get("transform_quantity")
        if transform and transform.get("divide_by"):
            # Per package: the quantity divided by `divide_by`, rounded `up` or `down`
            # (https://docs.stripe.com/api/prices/object#price_object-transform_quantity).
            packages, left = divmod(quantity, int(transform["divide_by"]))
            quantity = packages + (1 if left and transform.get("round") == "up" else 0)
        return float(unit if unit is not None else price.get("unit_amount") or 0) * quantity
    tiers = sorted(price["tiers"], key=lambda tier: (tier["up_to"] is None, tier["up_to"] or 0))
    if price.get("tiers_mode") == "volume":
        floor = 0
        for tier in tiers:
            if (quantity > floor or floor == 0) and (tier["up_to"] is None or quantity <= tier["up_to"]):
                return quantity * _tier_unit(tier) + _tier_flat(tier)
            floor = tier["up_to"] or floor
        return 0.0
    total, floor = 0.0, 0
    for tier in tiers:
        if quantity <= floor:
            break
        ceiling = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
        total += (ceiling - floor) * _tier_unit(tier) + _tier_flat(tier)
        floor = ceiling
    return total


def _tier_unit(tier: dict[str, Any]) -> float:
    unit = tier.get("unit_amount_decimal")
    return float(unit if unit is not None else tier.get("unit_amount") or 0)


def _tier_flat(tier: dict[str, Any]) -> float:
    flat = tier.get("flat_amount_decimal")
    return float(flat if flat is not None else tier.get("flat_amount") or 0)


def _monthly(amount: float, price: dict[str, Any], currency: str) -> float:
    """An amount per billing interval of `price` (minor units) as a monthly amount in major units."""
    recurring = price["recurring"]
    months = MONTHS_PER_INTERVAL[recurring["interval"]] * (recurring.get("interval_count") or 1)
    return amount / months / 10 ** exponent(currency)


def _with_hidden(account: SimulatedAccount, name: str) -> dict[str, dict[str, Any]]:
    """The objects of list `name` by id, with the fields the API shows only on expansion (a price's tiers)."""
    hidden = account.hidden_fields.get(name, {})
    return {obj["id"]: {**obj, **hidden.get(obj["id"], {})} for obj in account.objects.get(name, [])}


def expected_payout_items(account: SimulatedAccount) -> dict[str, set[str]]:
    """Per payout, the ids of the balance transactions it paid out, its own excluded: the generator's record of
    which balances were available when it paid out (`PayoutRec.paid_out`, kept as each balance transaction's
    hidden `payout`), not what a client lists."""
    payouts = account.objects.get("payouts", [])
    items: dict[str, set[str]] = {payout["id"]: set() for payout in payouts}
    own = {payout["balance_transaction"] for payout in payouts}
    for balance_id, fields in account.hidden_fields.get("balance_transactions", {}).items():
        if "payout" in fields and balance_id not in own:
            items[fields["payout"]].add(balance_id)
    return items
