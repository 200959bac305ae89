"""How times are shown, alike on the Connections page and in `stripe-warehouse connections list`."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_minute(at: float | None, missing: str = "—") -> str:
    """`at` (unix seconds) to the minute in UTC, or `missing` when there is none."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC") if at else missing
