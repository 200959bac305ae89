"""Staying under Stripe's rate limits: a budget of requests per second, account-wide and per endpoint.

Stripe (https://docs.stripe.com/rate-limits) limits requests per second per account: 100 in live mode, 25 in
a sandbox. Besides, "API endpoints have a default limit of 25 requests per second", each named operation its
own endpoint (`GET /v1/charges` and `GET /v1/charges/{id}` are two; retrieves of different ids share one),
and those "also count against global limits". Staying just under both is cheaper than meeting 429s, which
Stripe sends without a Retry-After.

A `RateBudget` is one account-wide token bucket plus one bucket per endpoint; a request waits until both of
its buckets hold a token, then takes one from each. Readers that spend the same budget share one
`RateBudget` (every account a platform key reads, by default: `Settings.budget_key`).

Each thread also tallies what it waited for tokens (`thread_tally`), so the page scheduler (fetch.py) can tell
a request's own time from its wait, and keep in flight only as many requests of one endpoint as its budget
lets through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


def endpoint(method: str, path: str) -> str:
    """The endpoint a request counts against: `GET /v1/invoices/in_123/lines` → `GET /v1/invoices/{id}/lines`.

    Stripe counts every named operation separately; the id of the object it acts on does not name it."""
    parts = path.split("?", 1)[0].rstrip("/").split("/")
    if len(parts) > 3 and parts[1] == "v1":
        parts[3] = "{id}"
    return f"{method.upper()} {'/'.join(parts)}"


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up: a tenth of a second's worth by default, so a
    client never bursts above its rate by more than a few requests."""

    def __init__(
        self, rate_per_second: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate_per_second
        self._capacity = burst if burst is not None else max(1.0, rate_per_second / 10)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Blocks until one request may be sent."""
        while True:
            with self._lock:
                wait = self.wait(self._clock())
                if wait <= 0:
                    self.take()
                    return
            time.sleep(wait)

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: now); the caller holds whatever lock guards the bucket."""
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        # A hair under one token counts as one: waiting out (1 - tokens) / rate refills to 1 only up to a
        # rounding error, and a wait of 1e-17 s would not move the clock.
        return 0.0 if self._tokens >= 1 - 1e-9 else (1 - self._tokens) / self.rate

    def take(self) -> None:
        self._tokens -= 1


@dataclass
class Tally:
    """What one thread's requests waited for tokens, since the thread started; read it twice and subtract."""

    requests: int = 0
    waited: float = 0.0
    endpoint_rate: float | None = None
    """The endpoint rate of the thread's latest request's budget; None: no per-endpoint limit."""


_tallies = threading.local()


def thread_tally() -> Tally:
    """The calling thread's tally (its own object, updated in place by each `RateBudget.acquire`)."""
    tally = getattr(_tallies, "tally", None)
    if tally is None:
        tally = _tallies.tally = Tally()
    return tally


class RateBudget:
    """Requests per second one key owner (or one account) may send: an account-wide bucket and one bucket per
    endpoint. Safe to share between threads and readers."""

    def __init__(
        self,
        requests_per_second: float,
        endpoint_requests_per_second: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if endpoint_requests_per_second is not None and endpoint_requests_per_second <= 0:
            raise ValueError("endpoint_requests_per_second must be positive (None: no per-endpoint limit)")
        self.requests_per_second = requests_per_second
        self.endpoint_requests_per_second = endpoint_requests_per_second
        self._global = TokenBucket(requests_per_second, clock=clock)
        self._endpoints: dict[str, TokenBucket] = {}
        self._clock = clock
        self._sleep = sleep
        # One lock for every bucket: a request takes its two tokens at once, or neither.
        self._lock = threading.Lock()

    def acquire(self, path: str, method: str = "GET") -> None:
        """Blocks until a request to `path` may be sent, then spends its tokens."""
        name = endpoint(method, path) if self.endpoint_requests_per_second is not None else None
        started = self._clock()
        while True:
            with self._lock:
                now = self._clock()
                own = self._endpoint_bucket(name) if name is not None else None
                wait = max(self._global.wait(now), own.wait(now) if own is not None else 0.0)
                if wait <= 0:
                    self._global.take()
                    if own is not None:
                        own.take()
                    break
            self._sleep(wait)
        tally = thread_tally()
        tally.requests += 1
        tally.waited += now - started
        tally.endpoint_rate = self.endpoint_requests_per_second

    def _endpoint_bucket(self, name: str) -> TokenBucket:
        bucket = self._endpoints.get(name)
        if bucket is None:
            assert self.endpoint_requests_per_second is not None, "only with a per-endpoint limit"
            bucket = self._endpoints[name] = TokenBucket(self.endpoint_requests_per_second, clock=self._clock)
        return bucket
