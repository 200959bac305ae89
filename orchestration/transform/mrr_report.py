"""What the UI shows on `analytics/mrr_monthly` after a build: the MRR of the last 24 months as a table and
a chart, and the latest month's MRR per currency as numbers Dagster plots across materializations.

Money is shown as money: MRR, ARR and the change of MRR rounded to the currency's minor unit (cents for usd,
whole yen for jpy), as analytics.mrr_monthly gives ARR. The table keeps MRR's 6 decimals so that sums tie
out; 12 x 438.833333 is 5,265.999996 there, 5,266.00 here.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.warehouse.reads import fetch_rows

MONTHS = 24
BAR_WIDTH = 30
CURRENCY_EXPONENTS = PROJECT_ROOT / "dbt_project" / "seeds" / "currency_exponents.csv"
DEFAULT_EXPONENT = 2
"""Decimals of a currency the seed does not list, as the models' to_major_units assumes."""

# Summed over accounts: MRR is per currency, never added across currencies. A month is partial (its figures
# as of the build, still moving) when it is partial for any account.
_MRR_SQL = """
    select month, currency, sum(mrr) as mrr, sum(customers) as customers, sum(net_new_mrr) as net_new_mrr,
        max(case when is_partial_month then 1 else 0 end) as is_partial_month
    from analytics.mrr_monthly
    group by month, currency
    order by month, currency
"""


@cache
def currency_exponents() -> dict[str, int]:
    """Decimals per currency (lower case), from the seed the models convert amounts with."""
    with CURRENCY_EXPONENTS.open(newline="") as seed:
        return {row["currency"]: int(row["exponent"]) for row in csv.DictReader(seed)}


def to_minor_unit(amount: Any, currency: str) -> Decimal:
    """A major-unit amount rounded half away from zero to the currency's minor unit, as the models round."""
    decimals = currency_exponents().get(currency.lower(), DEFAULT_EXPONENT)
    return Decimal(amount or 0).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def mrr_metadata(settings: Settings) -> dict[str, Any]:
    _, rows = fetch_rows(settings, _MRR_SQL)
    months = sorted({row[0] for row in rows})[-MONTHS:]
    recent = [
        (month, currency, Decimal(mrr or 0), int(customers or 0), Decimal(net_new or 0), bool(partial))
        for month, currency, mrr, customers, net_new, partial in rows
        if month in set(months)
    ]
    metadata: dict[str, Any] = {
        "mrr_last_24_months": MetadataValue.table(
            records=[
                TableRecord(
                    {
                        "month": str(month)[:7],
                        "currency": currency,
                        "mrr": float(to_minor_unit(mrr, currency)),
                        "arr": float(to_minor_unit(12 * mrr, currency)),
                        "customers": customers,
                        "net_new_mrr": float(to_minor_unit(net_new, currency)),
                        "is_partial_month": partial,
                    }
                )
                for month, currency, mrr, customers, net_new, partial in recent
            ],
            schema=TableSchema(
                columns=[
                    TableColumn("month", "string", description="Calendar month"),
                    TableColumn("currency", "string"),
                    TableColumn("mrr", "float", description="MRR in major units, all accounts, to the minor unit"),
                    TableColumn("arr", "float", description="12 × MRR in major units, to the minor unit"),
                    TableColumn("customers", "int", description="Customers with MRR"),
                    TableColumn("net_new_mrr", "float", description="Change of MRR from the month before"),
                    TableColumn("is_partial_month", "bool", description="The current month, as of the build"),
                ]
            ),
        ),
        "mrr_chart": MetadataValue.md(_bar_chart(recent)),
    }
    if months:
        for _, currency, mrr, *_ in (row for row in recent if row[0] == months[-1]):
            # A number per currency: Dagster plots numeric metadata over the asset's materializations.
            metadata[f"mrr_{currency.lower()}"] = MetadataValue.float(float(to_minor_unit(mrr, currency)))
        metadata["mrr_latest_month"] = MetadataValue.text(str(months[-1])[:7])
    return metadata


def _bar_chart(rows: list[tuple[Any, str, Decimal, int, Decimal, bool]]) -> str:
    """A Markdown bar chart per currency: the UI renders Markdown metadata, not chart specs."""
    by_currency: dict[str, list[tuple[str, Decimal, bool]]] = defaultdict(list)
    for month, currency, mrr, _, _, partial in rows:
        by_currency[currency].append((str(month)[:7], to_minor_unit(mrr, currency), partial))
    if not by_currency:
        return "No MRR yet: no subscription with a licensed price."
    parts = []
    for currency, series in sorted(by_currency.items()):
        top = max((mrr for _, mrr, _ in series), default=Decimal(0)) or Decimal(1)
        lines = [f"**MRR, {currency.upper()}**", "", "| month | MRR | |", "|---|---:|---|"]
        for month, mrr, partial in series:
            bar = "█" * round(BAR_WIDTH * float(mrr / top)) if mrr > 0 else ""
            label = f"{month} (to date)" if partial else month
            lines.append(f"| {label} | {mrr:,} | {bar} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
