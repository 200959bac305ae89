"""How times and Stripe's strings are shown, alike on the Connections page and in `stripe-warehouse connections`."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

# Bidirectional marks, embeddings, overrides and isolates: they reorder what a terminal shows after them.
_BIDI = frozenset(chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def utc_minute(at: float | None, missing: str = "—") -> str:
    """`at` (unix seconds) to the minute in UTC, or `missing` when there is none."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC") if at else missing


def printable(text: object) -> str:
    """`text` safe to print on a terminal, for what Stripe (a business name, an error) or the store says.

    Control characters (C0 and C1: ANSI escape sequences, carriage returns, line breaks, bells, NULs), line and
    paragraph separators and bidirectional overrides are shown escaped (`\\x1b`, `\\u202e`), never acted on: a
    name cannot clear the screen, forge a line or reorder what follows it."""
    return "".join(_escaped(ch) if _acts_on_terminal(ch) else ch for ch in str(text))


def _acts_on_terminal(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
