"""Days and months in the reporting time zone (var stripe_reporting_timezone) instead of UTC.

In the shared variant build (variant_build), every model is rebuilt with New York's time zone: customer MRR must
then equal the ground truth evaluated at New York's month ends (daylight saving time included), and each day's
gross volume the sales of that New York day, both computed in Python from the simulator's objects.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orchestration.simulator.truth import expected_customer_mrr
from tests.transform.analytics_build import ACCOUNT_A, NOW, query
from tests.transform.dbt_runner import run_dbt
from tests.transform.variant_build import ZONE


@pytest.fixture(scope="module")
def new_york(variant) -> Path:
    run_dir, _ = variant
    return run_dir / "warehouse.duckdb"


def test_customer_mrr_follows_the_zones_month_ends(new_york, account):
    expected = expected_customer_mrr(account, NOW, timezone=ZONE)
    # The zone matters for this account: otherwise the test could not tell the two apart.
    assert expected != expected_customer_mrr(account, NOW)
    rows = query(
        new_york,
        "select customer_id, currency, month, mrr from analytics.customer_mrr_monthly where account_id = ?",
        ACCOUNT_A,
    )
    actual = {(customer, currency, month): mrr for customer, currency, month, mrr in rows}
    assert set(actual) == set(expected)
    assert {key: round(Decimal(value), 2) for key, value in actual.items()} == {
        key: round(Decimal(value), 2) for key, value in expected.items()
    }
    # NOW is the last minutes of May 31 in New York: no June row, although it is June in UTC.
    assert max(month for _, _, month in actual) == date(2026, 5, 1)


def test_daily_gross_volume_is_the_zones_day(new_york, account):
    zone = ZoneInfo(ZONE)
    expected: Counter[tuple[str, date]] = Counter()
    for balance in account.objects["balance_transactions"]:
        if balance["type"] in ("charge", "payment"):
            expected[(balance["currency"], datetime.fromtimestamp(balance["created"], zone).date())] += balance[
                "amount"
            ]
    in_utc: Counter[tuple[str, date]] = Counter()
    for balance in account.objects["balance_transactions"]:
        if balance["type"] in ("charge", "payment"):
            in_utc[(balance["currency"], datetime.fromtimestamp(balance["created"], ZoneInfo("UTC")).date())] += (
                balance["amount"]
            )
    assert expected != in_utc
    rows = query(
        new_york,
        "select currency, date, gross_volume from analytics.daily_overview where account_id = ? and gross_volume <> 0",
        ACCOUNT_A,
    )
    assert {(currency, day): volume for currency, day, volume in rows} == dict(expected)


def test_a_zone_name_with_a_quote_is_refused_naming_the_fix(new_york):
    with pytest.raises(AssertionError) as failure:
        run_dbt(
            new_york.parent,
            new_york.parent / "target_bad_zone",
            "compile",
            "--select",
            "int_stripe__mrr_months",
            "--vars",
            json.dumps({"stripe_reporting_timezone": "Europe/Paris'"}),
        )
    assert "stripe_reporting_timezone must be an IANA time zone name" in str(failure.value)
