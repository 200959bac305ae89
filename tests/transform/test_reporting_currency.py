"""The reporting currency: Stripe's monthly exchange rates and the marts converted with them, against the simulator.

The simulated account settles into USD and charges some customers in EUR, JPY and KWD; every such charge, refund
and dispute has a balance transaction with Stripe's `exchange_rate` (presented amount × rate = settled amount,
https://docs.stripe.com/api/balance_transactions/object). The expected rates are computed here from those objects
(the month's rates weighted by the amounts presented), and the expected MRR from the generator's ground truth,
never from the tables the models read. The build runs with the default reporting currency: each account's own.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from orchestration.simulator import SimulatedAccount
from orchestration.simulator.currencies import exponent
from orchestration.simulator.truth import expected_customer_mrr
from tests.transform.analytics_build import ACCOUNT_A, ACCOUNT_B, GUEST_AMOUNT, NOW, day_of, query

CENT = 0.005
RATE_TOLERANCE = Decimal("1e-9")
FIRST_UNSETTLED_MONTH = date(2026, 6, 1)
"""The month of the simulator's clock: its truth is the value at its first instant, the build's at its end (the
build runs on the real clock), so the comparison stops before it."""

Pair = tuple[str, str, date]
"""(currency_from, currency_to, first day of the month)."""


def month_of(epoch: int) -> date:
    return day_of(epoch).replace(day=1)


def stripe_monthly_rates(account: SimulatedAccount) -> dict[Pair, tuple[Decimal, date]]:
    """Per pair and month, the amount-weighted average of Stripe's rates and the last day with a conversion."""
    presented: dict[str, tuple[str, int]] = {}
    for charge in account.objects["charges"]:
        presented[charge["id"]] = (charge["currency"], charge["amount_captured"])
    for table in ("refunds", "disputes"):
        for obj in account.objects[table]:
            presented[obj["id"]] = (obj["currency"], obj["amount"])
    weighted: dict[Pair, Decimal] = defaultdict(Decimal)
    volume: dict[Pair, Decimal] = defaultdict(Decimal)
    last_day: dict[Pair, date] = {}
    for balance in account.objects["balance_transactions"]:
        source = presented.get(balance["source"])
        if balance["exchange_rate"] is None or source is None or source[0] == balance["currency"]:
            continue
        currency, amount = source
        key = (currency, balance["currency"], month_of(balance["created"]))
        amount_major = Decimal(abs(amount)) / 10 ** exponent(currency)
        weighted[key] += amount_major * Decimal(str(balance["exchange_rate"]))
        volume[key] += amount_major
        last_day[key] = max(last_day.get(key, date.min), day_of(balance["created"]))
    return {key: (weighted[key] / volume[key], last_day[key]) for key in volume}


def expected_rate(
    rates: dict[Pair, tuple[Decimal, date]], currency: str, reporting: str, month: date
) -> tuple[str, Decimal | None, date | None]:
    """rate_source, rate and rate_date by the precedence, with the seed empty as shipped."""
    if currency == reporting:
        return "same_currency", Decimal(1), None
    if (currency, reporting, month) in rates:
        return "stripe", *rates[(currency, reporting, month)]
    earlier = [m for (f, t, m) in rates if f == currency and t == reporting and m < month]
    if earlier:
        return "stripe_earlier_month", *rates[(currency, reporting, max(earlier))]
    return "missing", None, None


@pytest.fixture(scope="module")
def rates(account: SimulatedAccount) -> dict[Pair, tuple[Decimal, date]]:
    return stripe_monthly_rates(account)


@pytest.fixture(scope="module")
def truth_mrr(account: SimulatedAccount) -> dict[tuple[str, date], float]:
    """The true MRR per currency and month, for the months the build and the truth evaluate alike."""
    totals: dict[tuple[str, date], float] = defaultdict(float)
    for (_, currency, month), mrr in expected_customer_mrr(account, NOW).items():
        if month < FIRST_UNSETTLED_MONTH:
            totals[(currency, month)] += mrr
    return totals


def test_stripe_rates_are_the_amount_weighted_monthly_averages(warehouse, rates):
    database, _ = warehouse
    # The account is rich enough for this to mean something: three currencies converted, over many months.
    assert {currency for currency, _, _ in rates} == {"eur", "jpy", "kwd"}
    assert len(rates) >= 20
    rows = query(
        database,
        """
        select account_id, currency_from, currency_to, month, exchange_rate, rate_date
        from stripe_intermediate.int_stripe__exchange_rates_monthly where derivation = 'observed'
        """,
    )
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        actual = {(f, t, m): (rate, day) for a, f, t, m, rate, day in rows if a == account_id}
        assert set(actual) == set(rates)
        for key, (rate, day) in rates.items():
            assert abs(actual[key][0] - rate) < RATE_TOLERANCE, key
            assert actual[key][1] == day, key


def test_the_other_way_round_is_the_inverse(warehouse, rates):
    database, _ = warehouse
    rows = query(
        database,
        """
        select currency_from, currency_to, month, exchange_rate, rate_date
        from stripe_intermediate.int_stripe__exchange_rates_monthly
        where derivation = 'inverse' and account_id = ?
        """,
        ACCOUNT_A,
    )
    actual = {(f, t, m): (rate, day) for f, t, m, rate, day in rows}
    assert set(actual) == {(t, f, m) for f, t, m in rates}
    for (f, t, m), (rate, day) in rates.items():
        assert abs(actual[(t, f, m)][0] * rate - 1) < RATE_TOLERANCE * actual[(t, f, m)][0]
        assert actual[(t, f, m)][1] == day


def test_converted_mrr_is_the_true_mrr_times_the_months_rate(warehouse, account, rates, truth_mrr):
    database, _ = warehouse
    reporting = account.account["default_currency"]
    rows = query(
        database,
        """
        select account_id, currency, month, reporting_currency, rate_source, exchange_rate, rate_date, mrr,
               reporting_mrr, reporting_arr
        from analytics.mrr_monthly_reporting
        """,
    )
    sources = set()
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        actual = {(r[1], r[2]): r[3:] for r in rows if r[0] == account_id}
        # mrr_monthly also has the months at zero between a currency's customers, which the truth leaves out.
        assert set(truth_mrr) <= set(actual)
        for (currency, month), row in actual.items():
            reporting_currency, source, rate, day, original, converted, arr = row
            expected_source, expected, expected_day = expected_rate(rates, currency, reporting, month)
            sources.add(expected_source)
            # Every month up to the build's own has its rate (those after the simulator's clock an earlier one's).
            assert (reporting_currency, source, day) == (reporting, expected_source, expected_day), (currency, month)
            if expected is None:
                assert (rate, converted, arr) == (None, None, None)
                continue
            assert abs(rate - expected) < RATE_TOLERANCE, (currency, month)
            if month >= FIRST_UNSETTLED_MONTH:
                continue
            mrr = truth_mrr.get((currency, month), 0.0)
            assert abs(float(original) - mrr) < CENT
            assert abs(float(converted) - mrr * float(expected)) < CENT, (currency, month)
            assert abs(float(arr) - 12 * mrr * float(expected)) < 12 * CENT, (currency, month)
    # Every way a rate is found with the seed empty occurs, so each is checked above.
    assert {"same_currency", "stripe", "stripe_earlier_month"} <= sources


def test_total_mrr_across_currencies_is_a_sum_per_account_and_month(warehouse, account, rates, truth_mrr):
    # The README's query: every row of an account is in the same reporting currency.
    database, _ = warehouse
    reporting = account.account["default_currency"]
    rows = query(
        database,
        """
        select account_id, month, sum(reporting_mrr) as total_mrr
        from analytics.mrr_monthly_reporting
        where month < ?
        group by account_id, month
        """,
        FIRST_UNSETTLED_MONTH,
    )
    expected: dict[date, float] = defaultdict(float)
    for (currency, month), mrr in truth_mrr.items():
        rate = expected_rate(rates, currency, reporting, month)[1]
        expected[month] += mrr * float(rate) if rate is not None else 0.0
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        actual = {month: float(total or 0) for a, month, total in rows if a == account_id}
        assert set(expected) <= set(actual)
        wrong = {m: (expected.get(m), total) for m, total in actual.items() if abs(expected.get(m, 0) - total) >= 0.05}
        assert wrong == {}
    # Several currencies add up in the months compared, not just one.
    assert len({currency for currency, month in truth_mrr if truth_mrr[(currency, month)] > 0}) >= 3


def test_revenue_in_the_balance_currency_is_converted_at_one(warehouse, account, guest_created):
    database, _ = warehouse
    reporting = account.account["default_currency"]
    gross: dict[date, int] = defaultdict(int)
    for balance in account.objects["balance_transactions"]:
        if balance["type"] in ("charge", "payment"):
            assert balance["currency"] == reporting
            gross[month_of(balance["created"])] += balance["amount"]
    rows = query(
        database,
        """
        select account_id, currency, month, rate_source, exchange_rate, gross_volume, reporting_gross_volume,
               net_volume_decimal, reporting_net_volume
        from analytics.revenue_monthly_reporting
        """,
    )
    for account_id, guest in ((ACCOUNT_A, 0), (ACCOUNT_B, GUEST_AMOUNT)):
        expected = dict(gross)
        expected[month_of(guest_created)] += guest
        actual = {month: r for a, currency, month, *r in rows if a == account_id and currency == reporting}
        assert {m: r[2] for m, r in actual.items() if r[2]} == {m: v for m, v in expected.items() if v}
        for source, rate, volume, converted, net, converted_net in actual.values():
            assert (source, rate) == ("same_currency", 1)
            assert converted == Decimal(volume) / 100
            assert converted_net == net
