"""The named billing patterns (`orchestration.simulator.generate.patterns`): their objects over the API, and their
MRR from `expected_customer_mrr` against values worked out by hand from the patterns' prices and coupons."""

from __future__ import annotations

import pytest

from orchestration.simulator import SimulatedAccount, generate_account
from orchestration.simulator.generate.patterns import PATTERNS
from tests.simulator.sim_support import PATTERNS_NOW, mrr_value, pattern_month

NOW = PATTERNS_NOW


def _value(pattern_account, pattern_mrr, pattern: str, months: int, currency: str = "usd") -> float | None:
    (customer,) = pattern_account.patterns[pattern]
    return mrr_value(pattern_mrr, customer, months, currency)


# Pattern → (months from now's month, MRR at that month's end) worked out from the catalogue:
# pro $49/month, team $12/seat, support $99; 25OFF 25 % once, WELCOME20 $20 once, 50OFF3M 50 % × 3 months,
# FOREVER10 10 % forever, SAVE5X6 $5 × 6 months. Percentages compound (item level first).
HAND = {
    "once_percent": [(-4, 36.75), (-3, 49.0)],  # 49 × 0.75 for the first period only
    "once_amount": [(-4, 29.0), (-3, 49.0)],  # 49 − 20, first period only
    "repeating_ended": [(-8, 24.5), (-6, 24.5), (-5, 49.0)],  # from the 10th: 3 months at half price
    "forever": [(-4, 32.4), (0, 32.4)],  # 3 × 12 × 0.9
    "item_level": [(-4, 120.85), (-3, 133.1)],  # 49 × 0.75 + (99 × 0.9 − 5), then 49 + 84.10
    "several_discounts": [(-4, 22.05), (-2, 22.05), (-1, 44.1)],  # 49 × 0.9 × 0.5, then 49 × 0.9
    # $5 off a month for six months from the 10th eight months ago: the 6th month is -3, from -2 none.
    "repeating_amount_ended": [(-8, 44.0), (-3, 44.0), (-2, 49.0), (0, 49.0)],
    "forever_amount": [(-4, 44.0), (0, 44.0)],
    # Pro at 50 % for 3 months (ends on the 10th of -5); Support less $20 once, less $5 for ever.
    "item_level_amounts_and_repeating": [(-8, 24.5 + 74), (-7, 24.5 + 94), (-6, 24.5 + 94), (-5, 49 + 94), (0, 143.0)],
    "dunning_unpaid_old": [(-6, 49.0), (-5, 0.0)],  # unpaid at the last retry, the 20th five months ago
    "dunning_unpaid_recent": [(-1, 49.0), (0, 0.0)],  # unpaid 10 days before now
    "dunning_unpaid_paid_late": [(-5, 0.0), (-3, 49.0)],
    "dunning_unpaid_then_canceled": [(-6, 49.0), (-5, 0.0)],
    "dunning_canceled_old": [(-6, 49.0), (-5, 0.0)],
    "dunning_canceled_recent": [(-1, 49.0), (0, 0.0)],
    "past_due_recovered": [(-4, 49.0), (0, 49.0)],
    "past_due_at_now": [(0, 49.0)],  # past_due counts
    "upgrade_always_invoice": [(-4, 19.0), (-3, 49.0)],
    "downgrade_create_prorations": [(-4, 120.0), (-3, 48.0)],
    "cancel_now_with_refund": [(-3, 49.0), (-2, 0.0)],
    "cancel_at_period_end_ended": [(-3, 49.0), (-2, 0.0)],  # counts until it ends
    "cancel_at_period_end_pending": [(-1, 49.0), (0, 49.0)],
    "trial_converts_across_month_end": [(-4, None), (-3, 49.0)],  # trialing at the first month's end
    "trial_canceled": [(-3, None)],
    "incomplete_expired": [(-3, None)],
    "churn_then_reactivation": [(-6, 49.0), (-5, 0.0), (-4, None), (-2, 49.0)],
    "subscribed_and_canceled_in_one_month": [(-3, None)],
}


def test_every_pattern_is_generated_and_named(pattern_account: SimulatedAccount):
    assert set(pattern_account.patterns) == set(PATTERNS)
    customers = {c["id"] for c in pattern_account.objects["customers"]} | set(
        pattern_account.store.collection("customers").deleted
    )
    assert all(ids and set(ids) <= customers for ids in pattern_account.patterns.values())
    assert not generate_account(seed=27, customers=5, now=NOW, patterns=False).patterns


@pytest.mark.parametrize("pattern", sorted(HAND))
def test_pattern_mrr_matches_the_hand_computed_values(pattern_account, pattern_mrr, pattern):
    for months, expected in HAND[pattern]:
        assert _value(pattern_account, pattern_mrr, pattern, months) == expected, (pattern, months)


def test_intervals_and_zero_decimal(pattern_account, pattern_mrr):
    by_price = {}
    for customer in pattern_account.patterns["intervals"]:
        (sub,) = pattern_account.store.select("subscriptions", [("customer", customer), ("status", "all")])
        key = sub["items"]["data"][0]["price"]["lookup_key"]
        by_price[key] = round(pattern_mrr[(customer, "usd", pattern_month(0))], 2)
    # $3 × 365/12, $5 × 52/12, $139 / 3, $490 / 12
    assert by_price == {"day_pass": 91.25, "starter_week": 21.67, "pro_quarter": 46.33, "pro_year": 40.83}
    assert _value(pattern_account, pattern_mrr, "zero_decimal_jpy", -1, "jpy") == 7500.0  # ¥7,500: no minor units


def _subscription(pattern_account, pattern):
    (customer,) = pattern_account.patterns[pattern]
    return pattern_account.store.select("subscriptions", [("customer", customer), ("status", "all")])


def _invoices(pattern_account, pattern):
    (customer,) = pattern_account.patterns[pattern]
    return sorted(pattern_account.store.select("invoices", [("customer", customer)]), key=lambda i: i["created"])


def test_once_coupon_discounts_the_first_invoice_only(pattern_account):
    (sub,) = _subscription(pattern_account, "once_percent")
    invoices = _invoices(pattern_account, "once_percent")
    assert sub["discounts"] == []
    assert [bool(i["discounts"]) for i in invoices] == [True] + [False] * (len(invoices) - 1)
    assert invoices[0]["total"] == 3675 and all(i["total"] == 4900 for i in invoices[1:])
    (expanded,) = pattern_account.store.retrieve("invoices", invoices[0]["id"], ["discounts"])["discounts"]
    assert expanded["object"] == "discount" and expanded["source"]["coupon"] == "25OFF"


def test_item_level_and_several_discounts_on_objects(pattern_account):
    (sub,) = _subscription(pattern_account, "item_level")
    pro, support = sub["items"]["data"]
    assert sub["discounts"] == [] and pro["discounts"] == []  # the once on Pro is spent
    assert len(support["discounts"]) == 2
    first = _invoices(pattern_account, "item_level")[0]
    assert first["discounts"] == []  # no subscription-level discount
    lines = pattern_account.store.invoice_lines(first["id"], [("limit", "10")])["data"]
    amounts = {line["pricing"]["price_details"]["price"]: line for line in lines}
    pro_line, support_line = (amounts[item["price"]["id"]] for item in (pro, support))
    assert [a["amount"] for a in pro_line["discount_amounts"]] == [1225]  # 25 % of 4900
    assert [a["amount"] for a in support_line["discount_amounts"]] == [990, 500]  # 10 %, then $5
    assert len(support_line["discounts"]) == 2 and len(pro_line["discounts"]) == 1
    assert first["total"] == 4900 + 9900 - 1225 - 990 - 500
    assert sum(t["amount"] for t in first["total_discount_amounts"]) == 1225 + 990 + 500
    discounts = {d["id"]: d for d in pattern_account.objects["discounts"]}
    assert {discounts[d]["subscription_item"] for d in support["discounts"]} == {support["id"]}

    (several,) = _subscription(pattern_account, "several_discounts")
    assert len(several["discounts"]) == 1  # 50OFF3M ended, FOREVER10 remains
    first = _invoices(pattern_account, "several_discounts")[0]
    assert len(first["discounts"]) == 2 and first["total"] == 2205  # 4900 × 0.9 × 0.5


@pytest.mark.parametrize("pattern", ["dunning_unpaid_old", "dunning_unpaid_recent"])
def test_unpaid_keeps_its_invoice_open_and_drafts_the_next_ones(pattern_account, pattern):
    (sub,) = _subscription(pattern_account, pattern)
    assert sub["status"] == "unpaid"
    invoices = _invoices(pattern_account, pattern)
    failed = [i for i in invoices if i["status"] == "open"]
    assert len(failed) == 1 and failed[0]["next_payment_attempt"] is None and failed[0]["attempt_count"] == 4
    later = [i for i in invoices if i["created"] > failed[0]["created"]]
    assert all(i["status"] == "draft" and not i["auto_advance"] for i in later)
    if pattern == "dunning_unpaid_old":
        assert len(later) >= 3  # one per period since


def test_dunning_canceled_and_past_due_statuses(pattern_account):
    assert [s["status"] for s in _subscription(pattern_account, "dunning_canceled_recent")] == ["canceled"]
    assert [s["status"] for s in _subscription(pattern_account, "past_due_at_now")] == ["past_due"]
    assert [s["status"] for s in _subscription(pattern_account, "incomplete_expired")] == ["incomplete_expired"]
    (refunded,) = _subscription(pattern_account, "cancel_now_with_refund")
    notes = [n for n in pattern_account.objects["credit_notes"] if n["customer"] == refunded["customer"]]
    assert len(notes) == 1 and 0 < notes[0]["amount"] < 4900


def test_scripted_cancellations_give_no_feedback(pattern_account):
    """A script cancels without the customer saying why: `cancellation_details.feedback` stays None."""
    customers = {customer for ids in pattern_account.patterns.values() for customer in ids}
    canceled = [
        sub
        for sub in pattern_account.objects["subscriptions"]
        if sub["customer"] in customers and sub["canceled_at"] is not None
    ]
    assert len(canceled) > 5
    assert all(sub["cancellation_details"]["feedback"] is None for sub in canceled)
