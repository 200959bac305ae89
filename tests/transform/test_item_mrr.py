"""analytics.subscription_item_mrr_monthly, MRR by subscription item, price and product, against the ground truth.

The shared analytics build (two accounts holding the same objects) is compared with `expected_item_mrr`, which
breaks the simulator's own subscription history (never seen by the warehouse) down by item: each item's price
at each month's instant, its value, and its share of its subscription's discounts. The build does not fix
`mrr_as_of`, so the current month is evaluated at the time of the run, after the accounts' clock: only the
months that ended before the clock (NOW) are compared with the truth.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from orchestration.simulator import SimulatedAccount
from orchestration.simulator.truth import (
    ExpectedItemMonth,
    ItemMonth,
    expected_customer_mrr,
    expected_item_mrr,
    expected_movements,
)
from tests.transform.analytics_build import ACCOUNT_A, ACCOUNT_B, NOW, query

CENT = 0.005
CLOCK_MONTH = datetime.fromtimestamp(NOW, UTC).date().replace(day=1)
"""The month of the accounts' clock: the build evaluates it (and later months) at the time of the run."""


@pytest.fixture(scope="module")
def expected(account: SimulatedAccount) -> dict[ItemMonth, ExpectedItemMonth]:
    """The true item rows of the months that ended before the clock."""
    return {key: row for key, row in expected_item_mrr(account, NOW).items() if key[1] < CLOCK_MONTH}


def _item_rows(database, account_id: str) -> dict[ItemMonth, tuple]:
    rows = query(
        database,
        """
        select subscription_item_id, month, customer_id, currency, subscription_id, price_id, product_id, mrr,
               contract_mrr, movement
        from analytics.subscription_item_mrr_monthly
        where account_id = ? and month < ?
        """,
        account_id,
        CLOCK_MONTH,
    )
    return {(row[0], row[1]): row[2:] for row in rows}


@pytest.mark.parametrize("account_id", [ACCOUNT_A, ACCOUNT_B])
def test_every_item_month_matches_the_ground_truth(warehouse, expected, account_id):
    """Same rows (months with MRR, churn months, months at zero under a full discount), same price at the
    month's instant, same MRR and contract value to the cent, in both accounts."""
    database, _ = warehouse
    actual = _item_rows(database, account_id)
    assert sorted(set(expected) - set(actual))[:10] == []
    assert sorted(set(actual) - set(expected))[:10] == []
    wrong = {
        key: (truth, actual[key])
        for key, truth in expected.items()
        if actual[key][:4] != (truth.customer_id, truth.currency, truth.subscription_id, truth.price_id)
        or abs(float(actual[key][5]) - truth.mrr) >= CENT
        or abs(float(actual[key][6]) - truth.contract_mrr) >= CENT
    }
    assert list(wrong.items())[:10] == []
    # Rich enough to mean something: several items per subscription, plan changes on the same item.
    assert len(expected) > 500
    prices_per_item: dict[str, set[str]] = defaultdict(set)
    for (item_id, _), row in expected.items():
        prices_per_item[item_id].add(row.price_id)
    assert any(len(prices) > 1 for prices in prices_per_item.values())


def test_mrr_per_product_matches_the_ground_truth(warehouse, account, expected):
    """Per product, currency and month, the item rows' MRR is the truth's for the items on that product's prices."""
    database, _ = warehouse
    product_of = {price["id"]: price["product"] for price in account.objects["prices"]}
    truth: dict[tuple[str, str, date], float] = defaultdict(float)
    for (_, month), row in expected.items():
        truth[(product_of[row.price_id], row.currency, month)] += row.mrr
    rows = query(
        database,
        """
        select product_id, currency, month, sum(mrr)
        from analytics.subscription_item_mrr_monthly
        where account_id = ? and month < ?
        group by product_id, currency, month
        """,
        ACCOUNT_A,
        CLOCK_MONTH,
    )
    actual = {(product, currency, month): float(mrr) for product, currency, month, mrr in rows}
    assert set(actual) == set(truth)
    assert {key: (truth[key], actual[key]) for key in truth if abs(truth[key] - actual[key]) >= CENT} == {}
    assert len({product for product, _, _ in truth}) >= 3


def test_item_movements_follow_the_ground_truth(warehouse, expected):
    """new, reactivation, churn, expansion, contraction, unchanged: the customer's rules applied to each item."""
    database, _ = warehouse
    by_item = {(row.subscription_id, item_id, month): row.mrr for (item_id, month), row in expected.items()}
    truth = expected_movements(by_item)
    actual = {(key[0], key[1]): row[7] for key, row in _item_rows(database, ACCOUNT_A).items()}
    mismatched = {
        (item_id, month): (movement, actual.get((item_id, month)))
        for (_, item_id, month), movement in truth.items()
        if actual.get((item_id, month)) != movement
    }
    assert mismatched == {}
    assert {"new", "expansion", "contraction", "churn", "unchanged"} <= set(truth.values())


def test_items_add_up_to_customer_mrr_exactly(warehouse):
    """Per account, customer, currency and month, in every month up to the current one: the item rows' mrr,
    contract_mrr and previous_mrr sum to customer_mrr_monthly's to the last decimal, and each side has the
    other's rows (a customer's churn row has its items' churn rows)."""
    database, _ = warehouse
    items = query(
        database,
        """
        select account_id, customer_id, currency, month, sum(mrr), sum(contract_mrr), sum(previous_mrr), count(*)
        from analytics.subscription_item_mrr_monthly
        group by account_id, customer_id, currency, month
        """,
    )
    customers = query(
        database,
        """
        select account_id, customer_id, currency, month, mrr, contract_mrr, previous_mrr
        from analytics.customer_mrr_monthly
        """,
    )
    item_sums = {tuple(row[:4]): tuple(row[4:7]) for row in items}
    customer_sums = {tuple(row[:4]): tuple(row[4:]) for row in customers}
    assert set(item_sums) == set(customer_sums)
    assert {key: (sums, customer_sums[key]) for key, sums in item_sums.items() if sums != customer_sums[key]} == {}
    assert all(isinstance(value, Decimal) for sums in item_sums.values() for value in sums)
    # Churn rows on both sides, and customers with several items in a month.
    assert any(mrr == 0 for mrr, _, _ in customer_sums.values())
    assert any(count > 1 for *_, count in items)


def test_the_truth_items_add_up_to_the_truth_customers(account):
    """The ground truth's own breakdown adds up: its item rows sum to `expected_customer_mrr` per customer-month,
    so the comparisons above check the allocation, not a second definition of MRR."""
    customers = expected_customer_mrr(account, NOW)
    sums: dict[tuple[str, str, date], float] = defaultdict(float)
    for (_, month), row in expected_item_mrr(account, NOW).items():
        sums[(row.customer_id, row.currency, month)] += row.mrr
    assert set(sums) == set(customers)
    assert {key: (sums[key], mrr) for key, mrr in customers.items() if abs(sums[key] - mrr) > 1e-6} == {}
