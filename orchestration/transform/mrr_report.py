"""What the UI shows on `analytics/mrr_monthly` after a build: the MRR of the last 24 months as a table and
a chart, and the latest month's MRR per currency as numbers Dagster plots across materializations."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

from orchestration.settings import Settings
from orchestration.warehouse.reads import fetch_rows

MONTHS = 24
BAR_WIDTH = 30

# Summed over accounts: MRR is per currency, never added across currencies.
_MRR_SQL = """
    select month, currency, sum(mrr) as mrr, sum(customers) as customers, sum(net_new_mrr) as net_new_mrr
    from analytics.mrr_monthly
    group by month, currency
    order by month, currency
"""


def mrr_metadata(settings: Settings) -> dict[str, Any]:
    _, rows = fetch_rows(settings, _MRR_SQL)
    months = sorted({row[0] for row in rows})[-MONTHS:]
    recent = [row for row in rows if row[0] in set(months)]
    metadata: dict[str, Any] = {
        "mrr_last_24_months": MetadataValue.table(
            records=[
                TableRecord(
                    {
                        "month": str(month)[:7],
                        "currency": currency,
                        "mrr": float(mrr or 0),
                        "customers": int(customers or 0),
                        "net_new_mrr": float(net_new or 0),
                    }
                )
                for month, currency, mrr, customers, net_new in recent
            ],
            schema=TableSchema(
                columns=[
                    TableColumn("month", "string", description="Calendar month"),
                    TableColumn("currency", "string"),
                    TableColumn("mrr", "float", description="MRR in major units, all accounts"),
                    TableColumn("customers", "int", description="Customers with MRR"),
                    TableColumn("net_new_mrr", "float", description="Change of MRR from the month before"),
                ]
            ),
        ),
        "mrr_chart": MetadataValue.md(_bar_chart(recent)),
    }
    if months:
        for _, currency, mrr, _, _ in (row for row in recent if row[0] == months[-1]):
            # A number per currency: Dagster plots numeric metadata over the asset's materializations.
            metadata[f"mrr_{currency.lower()}"] = MetadataValue.float(float(mrr or 0))
        metadata["mrr_latest_month"] = MetadataValue.text(str(months[-1])[:7])
    return metadata


def _bar_chart(rows: list[tuple[Any, ...]]) -> str:
    """A Markdown bar chart per currency: the UI renders Markdown metadata, not chart specs."""
    by_currency: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for month, currency, mrr, _, _ in rows:
        by_currency[currency].append((str(month)[:7], Decimal(mrr or 0)))
    if not by_currency:
        return "No MRR yet: no subscription with a licensed price."
    parts = []
    for currency, series in sorted(by_currency.items()):
        top = max((mrr for _, mrr in series), default=Decimal(0)) or Decimal(1)
        lines = [f"**MRR, {currency.upper()}**", "", "| month | MRR | |", "|---|---:|---|"]
        for month, mrr in series:
            bar = "█" * round(BAR_WIDTH * float(mrr / top)) if mrr > 0 else ""
            lines.append(f"| {month} | {mrr:,.2f} | {bar} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
