"""Stripe-looking object ids, deterministic for a seeded random generator.

Stripe ids are `<prefix>_<body>`. Objects created through the payments and billing APIs carry a body
like `1PgafmB7WZ01zgkW6dKueIc5`: a version digit, a time-ordered fragment, a fragment of the owning
account's id, and random characters. Older-style objects (customers, products, subscription items) carry
14 random characters. Reproducing both keeps ids recognisable in the warehouse and in logs.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Prefixes whose ids embed the creation time and the account; the rest get 14 random characters.
_TIMED_PREFIXES = frozenset(
    {
        "price",
        "sub",
        "sub_sched",
        "in",
        "il",
        "ii",
        "ch",
        "pi",
        "re",
        "txn",
        "dp",
        "evt",
        "di",
        "pm",
        "inpay",
        "po",
        "cn",
        "cnli",
    }
)


def base62(number: int, width: int) -> str:
    """`number` in base 62, left-padded with zeros to `width` characters."""
    chars = []
    while number:
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(reversed(chars)).rjust(width, "0")


# Byte → base-62 character; the slight bias towards the first 8 characters does not matter for ids.
_BYTE_TO_BASE62 = "".join(BASE62[value % 62] for value in range(256)).encode("ascii")


def random_chars(rng: random.Random, count: int) -> str:
    return rng.randbytes(count).translate(_BYTE_TO_BASE62).decode("ascii")


@lru_cache(maxsize=4096)
def _time_fragment(created: int) -> str:
    """Five time-ordered characters; cached because an invoice, its lines and its charge share a second."""
    return base62(created, 6)[-5:]


def account_fragment(account_id: str) -> str:
    """The 10 characters of an `acct_1PgafTB7WZ01zgkW` id that Stripe repeats inside the account's ids."""
    return account_id.removeprefix("acct_")[-10:].rjust(10, "0")


def bank_account_id(account_id: str) -> str:
    """The id of the bank account an account's payouts go to, derived from the account's id."""
    body = base62(int.from_bytes(hashlib.sha256(account_id.encode()).digest()[:8], "big"), 11)
    return "ba_1" + body[-5:] + account_fragment(account_id) + body[:8]


def new_account_id(rng: random.Random, created: int) -> str:
    return "acct_1" + base62(created, 6)[-5:] + random_chars(rng, 10)


class IdFactory:
    """Unique ids for one account; remembers what it handed out so no two objects ever share an id."""

    def __init__(self, rng: random.Random, account_id: str) -> None:
        self._rng = rng
        self._fragment = account_fragment(account_id)
        self._issued: set[str] = set()

    def new(self, prefix: str, created: int) -> str:
        """A fresh id for an object of `prefix` created at unix time `created`."""
        while True:
            if prefix in _TIMED_PREFIXES:
                body = "1" + _time_fragment(created) + self._fragment + random_chars(self._rng, 8)
            else:
                body = random_chars(self._rng, 14)
            candidate = f"{prefix}_{body}"
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def new_sequenced(self, prefix: str, created: int, sequence: int) -> str:
        """An id whose order among ids of the same `created` second follows `sequence`.

        Lists break ties on `created` by id, so events emitted in the same second (invoice.created,
        invoice.finalized, invoice.paid of a new subscription) come back in the order they happened.
        """
        candidate = (
            f"{prefix}_1{_time_fragment(created)}{self._fragment}{base62(sequence, 5)}{random_chars(self._rng, 3)}"
        )
        self._issued.add(candidate)
        return candidate
