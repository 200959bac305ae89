"""The cohort, revenue retention and lifecycle marts against the simulator's ground truth.

Every expected figure comes from `expected_customer_mrr` (the MRR the generator's own subscription history gives,
which the warehouse never sees) and from the simulator's charges and refunds, computed here in Python; nothing is
read back from the tables the marts are built on. The shared build (conftest's `warehouse`) holds the account
twice, as A and B, so B's rows must equal A's.

The build sets no `mrr_as_of`: its current month is evaluated at the time of the run. The truth is evaluated at
the very same instant, read from the month spine's last evaluation instant (the build's clock, not its data).
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from orchestration.simulator import SimulatedAccount
from orchestration.simulator.currencies import exponent
from orchestration.simulator.truth import CustomerMonth, evaluation_instants, expected_customer_mrr
from tests.transform.analytics_build import ACCOUNT_A, ACCOUNT_B, NodeStatuses, query

CENT = 0.005
RATE = 1e-5
"""Ratios of the warehouse's 6-decimal MRR against the truth's floats."""
SIX = Decimal("0.000001")


def _month_offset(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _close_money(actual: Decimal | None, expected: float | None, places: int, tolerance: float) -> bool:
    """Rounded to the currency's minor unit, and within `tolerance` of the truth."""
    if actual is None or expected is None:
        return actual is None and expected is None
    return actual == _round(actual, places) and abs(float(actual) - expected) <= tolerance


@pytest.fixture(scope="module")
def as_of(warehouse: tuple[Path, NodeStatuses]) -> int:
    database, _ = warehouse
    ((evaluated_at,),) = query(database, "select max(evaluated_at) from stripe_intermediate.int_stripe__mrr_months")
    return calendar.timegm(evaluated_at.timetuple())


@pytest.fixture(scope="module")
def truth(account: SimulatedAccount, as_of: int) -> dict[CustomerMonth, float]:
    return expected_customer_mrr(account, as_of)


@pytest.fixture(scope="module")
def months(account: SimulatedAccount, as_of: int) -> dict[str, list[date]]:
    """Each currency's months, from its first subscription to the current month (analytics.mrr_monthly's)."""
    first: dict[str, int] = {}
    for sub in account.objects["subscriptions"]:
        currency = sub["currency"].lower()
        first[currency] = min(first.get(currency, sub["start_date"]), sub["start_date"])
    return {currency: [month for month, _ in evaluation_instants(start, as_of)] for currency, start in first.items()}


def _by_customer(truth: dict[CustomerMonth, float]) -> dict[tuple[str, str], dict[date, float]]:
    series: dict[tuple[str, str], dict[date, float]] = defaultdict(dict)
    for (customer, currency, month), mrr in truth.items():
        series[(customer, currency)][month] = mrr
    return series


def test_the_cohort_dbt_tests_ran_and_passed(warehouse):
    _, statuses = warehouse
    singular = {
        "assert_cohort_month_retains_every_customer",
        "assert_cohorts_retained_mrr_is_mrr_monthly",
        "assert_revenue_retention_within_bounds",
    }
    assert {name: statuses.get(f"test.stripe_warehouse.{name}") for name in singular} == dict.fromkeys(
        singular, ("pass", 0)
    )


def test_cohort_sizes_and_retention_follow_the_ground_truth(warehouse, truth, months):
    database, _ = warehouse
    expected: dict[tuple[str, date, date], tuple[int, float, int, float]] = {}
    members: dict[tuple[str, date], list[dict[date, float]]] = defaultdict(list)
    for (_, currency), series in _by_customer(truth).items():
        cohort = min(month for month, mrr in series.items() if mrr > 0)
        members[(currency, cohort)].append(series)
    for (currency, cohort), series_list in members.items():
        starting = sum(series[cohort] for series in series_list)
        for month in months[currency]:
            if month < cohort:
                continue
            retained = [series[month] for series in series_list if series.get(month, 0.0) > 0]
            expected[(currency, cohort, month)] = (len(series_list), starting, len(retained), sum(retained))

    rows = query(
        database,
        """
        select account_id, currency, cohort_month, month, months_since_cohort, cohort_customers,
            cohort_starting_mrr, retained_customers, retained_mrr, logo_retention_rate, mrr_retention_rate
        from analytics.customer_cohorts
        """,
    )
    by_account: dict[str, dict[tuple[str, date, date], tuple]] = defaultdict(dict)
    for account_id, currency, cohort, month, *figures in rows:
        by_account[account_id][(currency, cohort, month)] = tuple(figures)
    actual = by_account[ACCOUNT_A]
    assert set(actual) == set(expected)
    wrong = {}
    for key, (customers, starting, retained, retained_mrr) in expected.items():
        since, got_customers, got_starting, got_retained, got_mrr, logo, mrr_rate = actual[key]
        currency, cohort, month = key
        if (
            since != (month.year - cohort.year) * 12 + month.month - cohort.month
            or (got_customers, got_retained) != (customers, retained)
            or abs(float(got_starting) - starting) >= CENT
            or abs(float(got_mrr) - retained_mrr) >= CENT
            or abs(float(logo) - retained / customers) > RATE
            or abs(float(mrr_rate) - retained_mrr / starting) > RATE
        ):
            wrong[key] = (expected[key], actual[key])
    assert wrong == {}
    assert by_account[ACCOUNT_B] == actual
    # Rich enough to mean something: cohorts in every currency, some of them shrinking, some customers returning.
    assert {currency for currency, _, _ in expected} == {"usd", "eur", "jpy", "kwd"}
    assert any(retained < customers for customers, _, retained, _ in expected.values())
    assert any(
        values[2] > expected[(currency, cohort, _month_offset(month, -1))][2]
        for (currency, cohort, month), values in expected.items()
        if month > cohort
    )


@pytest.fixture(scope="module")
def retention_rows(warehouse: tuple[Path, NodeStatuses]) -> dict[str, dict[tuple[str, date], tuple]]:
    """analytics.revenue_retention_monthly per account, by (currency, month)."""
    database, _ = warehouse
    rows = query(
        database,
        """
        select account_id, currency, month, base_customers, base_mrr, net_revenue_retention_12m,
            gross_revenue_retention_12m, customers, arpa, avg_customer_churn_rate_12m, churn_rate_months, ltv
        from analytics.revenue_retention_monthly
        """,
    )
    by_account: dict[str, dict[tuple[str, date], tuple]] = defaultdict(dict)
    for account_id, currency, month, *figures in rows:
        by_account[account_id][(currency, month)] = tuple(figures)
    return by_account


def _currency_series(truth: dict[CustomerMonth, float], currency: str) -> list[dict[date, float]]:
    return [values for (_, cur), values in _by_customer(truth).items() if cur == currency]


def test_twelve_month_nrr_and_grr_follow_the_ground_truth(retention_rows, truth, months):
    actual = retention_rows[ACCOUNT_A]
    assert set(actual) == {(currency, month) for currency, spine in months.items() for month in spine}
    wrong = {}
    with_base = 0
    for currency, spine in months.items():
        customers = _currency_series(truth, currency)
        for month in spine:
            # The customers with MRR 12 months before, and what they have now; null without 12 months of history.
            year_ago = _month_offset(month, -12)
            base = [(values[year_ago], values.get(month, 0.0)) for values in customers if values.get(year_ago, 0) > 0]
            then = sum(before for before, _ in base)
            expected: tuple = (None, None, None, None)
            if year_ago >= spine[0]:
                nrr = sum(now for _, now in base) / then if then else None
                grr = sum(min(before, now) for before, now in base) / then if then else None
                expected = (len(base), then, nrr, grr)
                with_base += 1 if then else 0
            got = actual[(currency, month)][:4]
            close = [
                (e is None) == (a is None) and (e is None or abs(float(a) - e) <= (CENT if i < 2 else RATE))
                for i, (e, a) in enumerate(zip(expected, got, strict=True))
            ]
            if not all(close):
                wrong[(currency, month)] = (expected, got)
    assert wrong == {}
    assert retention_rows[ACCOUNT_B] == actual
    # Years of history: NRR and GRR were compared in many months.
    assert with_base >= 12


def test_arpa_churn_and_ltv_follow_the_ground_truth(retention_rows, truth, months):
    actual = retention_rows[ACCOUNT_A]
    wrong = {}
    for currency, spine in months.items():
        customers = _currency_series(truth, currency)
        places = exponent(currency)
        unit = 10.0**-places
        rates: list[Decimal | None] = []
        for month in spine:
            # The month's customer churn rate, their mean over the 12 months ending with it, ARPA, LTV = ARPA ÷ mean.
            previous = _month_offset(month, -1)
            starting = [values for values in customers if values.get(previous, 0) > 0]
            churned = sum(1 for values in starting if values.get(month, 0) == 0)
            rates.append(_round(Decimal(churned) / len(starting), 6) if starting else None)
            window = [rate for rate in rates[-12:] if rate is not None]
            paying = [values[month] for values in customers if values.get(month, 0) > 0]
            arpa = sum(paying) / len(paying) if paying else None
            mean = sum(window, Decimal(0)) / len(window) if window else None
            ltv = arpa / float(mean) if arpa is not None and mean else None
            expected = (len(paying), arpa, _round(mean, 6) if mean is not None else None, len(window), ltv)
            got_customers, got_arpa, got_mean, got_months, got_ltv = actual[(currency, month)][4:]
            if (
                (got_customers, got_mean, got_months) != (expected[0], expected[2], expected[3])
                or not _close_money(got_arpa, arpa, places, unit)
                # LTV divides by a rate of a few percent: the truth's float MRR moves it by a few millionths.
                or not _close_money(got_ltv, ltv, places, max(unit, 1e-5 * (ltv or 0)))
            ):
                wrong[(currency, month)] = (expected, actual[(currency, month)][4:])
    assert wrong == {}
    assert {key: row[4:] for key, row in retention_rows[ACCOUNT_B].items()} == {
        key: row[4:] for key, row in actual.items()
    }
    assert any(row[-1] is not None for row in actual.values())


def test_customer_lifecycle_follows_the_ground_truth(warehouse, account, truth, months):
    database, _ = warehouse
    current = max(max(spine) for spine in months.values())
    series = _by_customer(truth)
    active: dict[str, set[date]] = defaultdict(set)
    for (customer, _), values in series.items():
        active[customer] |= {month for month, mrr in values.items() if mrr > 0}
    # The currency of the customer's MRR in its latest month with MRR (the largest MRR if several).
    latest_currency = {}
    for customer in active:
        latest = max(active[customer])
        candidates = [(-values.get(latest, 0.0), key[1]) for key, values in series.items() if key[0] == customer]
        latest_currency[customer] = min(candidates)[1]

    refunded: Counter[str] = Counter()
    for refund in account.objects.get("refunds", []):
        if refund["status"] in ("pending", "succeeded"):
            refunded[refund["charge"]] += refund["amount"]
    paid: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    first_paid: dict[str, int] = {}
    first_currency: dict[str, str] = {}
    for charge in sorted(account.objects["charges"], key=lambda c: (c["created"], c["currency"])):
        customer = charge["customer"]
        if charge["status"] != "succeeded" or customer is None:
            continue
        totals = paid[customer][charge["currency"]]
        totals[0] += charge["amount_captured"]
        totals[1] += refunded[charge["id"]]
        first_paid.setdefault(customer, charge["created"])
        first_currency.setdefault(customer, charge["currency"])

    expected = {}
    for customer in set(active) | set(paid):
        mrr_months = sorted(active.get(customer, set()))
        currency = latest_currency.get(customer) or first_currency[customer]
        gross, refunds = paid.get(customer, {}).get(currency, [0, 0])
        returns = [m for m in mrr_months[1:] if _month_offset(m, -1) not in active[customer]]
        expected[customer] = (
            currency,
            len(mrr_months),
            gross,
            refunds,
            gross - refunds,
            bool(mrr_months) and mrr_months[-1] == current,
            any(other != currency for other in paid.get(customer, {})),
            mrr_months[0] if mrr_months else None,
            mrr_months[-1] if mrr_months else None,
            _month_offset(mrr_months[-1], 1) if mrr_months and mrr_months[-1] < current else None,
            max(returns) if returns else None,
            datetime.fromtimestamp(first_paid[customer], UTC).replace(tzinfo=None) if customer in first_paid else None,
        )
    rows = query(
        database,
        """
        select account_id, customer_id, currency, tenure_months, lifetime_paid, lifetime_refunded, lifetime_revenue,
            is_active, has_revenue_in_other_currencies, first_mrr_month, last_mrr_month, churned_month,
            reactivated_month,
            first_paid_at, lifetime_revenue_decimal
        from analytics.customer_lifecycle
        """,
    )
    by_account: dict[str, dict[str, tuple]] = defaultdict(dict)
    for account_id, customer, *figures, revenue_decimal in rows:
        by_account[account_id][customer] = tuple(figures)
        assert revenue_decimal * 10 ** exponent(figures[0]) == figures[4]
    assert by_account[ACCOUNT_A] == expected
    assert by_account[ACCOUNT_B] == expected
    # The account has the cases that matter: churned, returned, refunded, paid without MRR, paid in two currencies.
    values = list(expected.values())
    assert any(v[9] for v in values) and any(v[10] for v in values) and any(v[3] for v in values)
    assert any(v[1] == 0 for v in values) and any(v[6] for v in values)
