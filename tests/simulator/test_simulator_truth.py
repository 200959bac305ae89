"""`truth`'s discount windows on hand-made subscription histories: a `forever` discount counts until a version
no longer carries it; `once` and `repeating` ones keep their own windows though Stripe removes them as they end."""

from __future__ import annotations

from orchestration.simulator.records import DiscountRec, ItemState, SubscriptionVersion
from orchestration.simulator.timeline import DAY, add_months
from orchestration.simulator.truth import _discounts_in_effect

START = 1_700_000_000
COUPONS = {
    "FOREVER10": {"id": "FOREVER10", "duration": "forever", "percent_off": 10.0},
    "50OFF3M": {"id": "50OFF3M", "duration": "repeating", "duration_in_months": 3, "percent_off": 50.0},
    "25OFF": {"id": "25OFF", "duration": "once", "percent_off": 25.0},
}


def _version(at: int, discounts: tuple[DiscountRec, ...], period: int = 0) -> SubscriptionVersion:
    starts = add_months(START, period)
    item = ItemState("si_1", "price_1", 1, START)
    return SubscriptionVersion(at, "active", (item,), discounts, starts, add_months(START, period + 1))


def _discount(coupon: str, end: int | None = None) -> DiscountRec:
    return DiscountRec(f"di_{coupon}", coupon, "cus_1", "sub_1", START, end)


def _in_effect(versions: list[SubscriptionVersion], instant: int) -> set[str]:
    return {d.coupon_id for d in _discounts_in_effect(versions, instant, COUPONS, "all")}


def test_a_forever_discount_removed_early_stops_counting_when_it_leaves():
    forever = _discount("FOREVER10")
    removed = START + 40 * DAY
    versions = [_version(START, (forever,)), _version(add_months(START, 1), (forever,), 1), _version(removed, (), 1)]
    assert _in_effect(versions, removed - 1) == {"FOREVER10"}
    assert _in_effect(versions, removed) == set()
    assert _in_effect(versions, add_months(START, 5)) == set()
    assert _in_effect(versions[:2], add_months(START, 5)) == {"FOREVER10"}  # still carried: counts on


def test_once_and_repeating_discounts_keep_their_windows_after_stripe_removes_them():
    repeating, once = _discount("50OFF3M", add_months(START, 3)), _discount("25OFF")
    spent = START + 3600
    versions = [
        _version(START, (repeating, once)),
        _version(spent, (repeating,)),  # the once coupon spent by the first invoice
        _version(add_months(START, 1), (repeating,), 1),
        _version(add_months(START, 3), (), 3),  # the repeating coupon ended
    ]
    assert _in_effect(versions, spent + DAY) == {"50OFF3M", "25OFF"}  # the first period
    assert _in_effect(versions, add_months(START, 1) + DAY) == {"50OFF3M"}
    assert _in_effect(versions, add_months(START, 3) - 1) == {"50OFF3M"}
    assert _in_effect(versions, add_months(START, 3)) == set()
