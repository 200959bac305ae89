"""Calendar arithmetic in unix seconds, the way Stripe bills: anchored months, UTC."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

HOUR = 3600
DAY = 86400
EVENT_RETENTION = 30 * DAY
"""Stripe keeps events for 30 days; older ones cannot be listed or retrieved."""


def add_months(anchor: int, months: int) -> int:
    """`anchor` moved by whole calendar months, clamping the day like Stripe (Jan 31 + 1 month = Feb 28).

    Periods are always computed from the billing cycle anchor rather than from the previous period end,
    so a subscription anchored on the 31st returns to the 31st after a short month.
    """
    moment = datetime.fromtimestamp(anchor, UTC)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def period_end(anchor: int, interval: str, interval_count: int, index: int) -> int:
    """End of the `index`-th (0-based) billing period of a subscription anchored at `anchor`."""
    if interval in ("day", "week"):
        return anchor + (7 if interval == "week" else 1) * DAY * interval_count * (index + 1)
    months_per_interval = 12 if interval == "year" else 1
    return add_months(anchor, months_per_interval * interval_count * (index + 1))


def next_midnight_after(moment: int, days: int) -> int:
    """Midnight UTC `days` days after `moment`: when a payment's funds become available."""
    return (moment // DAY + days) * DAY


def short_date(moment: int) -> str:
    """`12 Mar 2025`, the date format of Stripe's proration line descriptions."""
    return datetime.fromtimestamp(moment, UTC).strftime("%d %b %Y").lstrip("0")
