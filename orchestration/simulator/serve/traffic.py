"""What happens to a request before the account's data answers it: rate limits, injected faults, counters.

`Traffic` decides, for each authenticated request, whether it is served, answered 429 (the account's
token bucket or the endpoint's is empty, a forced storm is on, or at random), answered a 5xx `api_error`, dropped before
any answer, or cut off in the middle of its body; and whether it is slowed down. It counts every request
per account, so tests and benchmarks can assert how a sync behaved. Every random decision is a hash of
the seed and the request (not a shared random generator), so which requests fail does not depend on how
concurrent requests happen to interleave. It runs on the server's event loop; its lock only guards
against a test thread reading counters or changing options meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from starlette.types import Scope

from orchestration.simulator.serve.options import SimulatorOptions

RUNTIME_OPTIONS = frozenset(
    {
        "latency_ms",
        "rate_limit_per_second",
        "rate_limit_burst",
        "endpoint_rate_limit_per_second",
        "endpoint_rate_limit_burst",
        "connect_rate_limit",
        "rate_limit_rate",
        "fault_rate",
        "fault_statuses",
        "drop_rate",
        "truncate_rate",
        "fault_seed",
        "slow_rate",
        "slow_ms",
    }
)
"""The options `Traffic.configure` may change while the server runs (the others shape the app)."""


class Verdict(Enum):
    SERVE = "serve"
    RATE_LIMIT = "rate_limit"
    FAULT = "fault"
    DROP = "drop"
    TRUNCATE = "truncate"


@dataclass(frozen=True)
class Admission:
    """How the app is to answer a request: `verdict`, with `status` for a fault, after waiting `delay`."""

    verdict: Verdict
    status: int | None = None
    """The fault's HTTP status (among `SimulatorOptions.fault_statuses`); None unless `verdict` is FAULT."""
    delay: float = 0.0
    """Seconds to wait before answering (a slowed request), on top of the configured latency."""


@dataclass
class TrafficStats:
    """Requests one account received (or all of them, for `stats_total`)."""

    requests: int = 0
    """Every request, whatever its answer."""
    rate_limited: int = 0
    """Answered 429: by a token bucket, a storm, or `rate_limit_rate`."""
    rate_limited_by: Counter[str] = field(default_factory=Counter)
    """The 429s per cause: `global` (an account's bucket: `rate_limit_per_second`), `endpoint` (an
    endpoint's bucket: `endpoint_rate_limit_per_second`), `storm`, `random` (`rate_limit_rate`)."""
    faults: int = 0
    """Answered with an injected server error, whatever its status."""
    fault_statuses: Counter[int] = field(default_factory=Counter)
    """The injected server errors per status: {500: 3, 503: 1}."""
    dropped: int = 0
    """Connection closed without an answer."""
    truncated: int = 0
    """Connection closed in the middle of the answer's body: the client got no usable answer."""
    slowed: int = 0
    """Held back `slow_ms` before their answer; also counted as whatever that answer was."""
    rejected: int = 0
    """Refused by authentication: bad key, revoked access (counted for the account the request named)."""
    paths: Counter[str] = field(default_factory=Counter)
    """Requests per route, ids replaced by `{id}`: `/v1/invoices/{id}/lines`."""

    @property
    def served(self) -> int:
        """Requests the API answered (successfully or with a request error)."""
        return self.requests - self.rate_limited - self.faults - self.dropped - self.truncated - self.rejected

    def copy(self) -> TrafficStats:
        return replace(
            self,
            rate_limited_by=Counter(self.rate_limited_by),
            fault_statuses=Counter(self.fault_statuses),
            paths=Counter(self.paths),
        )

    def add(self, other: TrafficStats) -> None:
        self.requests += other.requests
        self.rate_limited += other.rate_limited
        self.rate_limited_by.update(other.rate_limited_by)
        self.faults += other.faults
        self.fault_statuses.update(other.fault_statuses)
        self.dropped += other.dropped
        self.truncated += other.truncated
        self.slowed += other.slowed
        self.rejected += other.rejected
        self.paths.update(other.paths)


class _Bucket:
    """A token bucket: `rate` tokens a second, at most `size` saved up."""

    def __init__(self, rate: float, size: float, now: float) -> None:
        self.rate = rate
        self.size = size
        self.tokens = size
        self.updated = now

    def has_token(self, now: float) -> bool:
        self.tokens = min(self.size, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return self.tokens >= 1


class Traffic:
    """The server's traffic conditions and counters; see the module docstring."""

    def __init__(self, options: SimulatorOptions) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}
        """Per (account, None) for the account's limit, per (account, endpoint) for an endpoint's."""
        self._seen: Counter[tuple[str, str, str, bytes]] = Counter()
        """How often each (account, method, path, query) came: a retry draws its fate afresh."""
        self._storm_requests = 0
        self._storm_until = 0.0
        self._stats: dict[str | None, TrafficStats] = {}
        self.dropper: Callable[[Scope], None] | None = None
        """Closes a request's connection; installed by the uvicorn runner, which owns the sockets."""

    @property
    def options(self) -> SimulatorOptions:
        return self._options

    def configure(self, **changes: Any) -> SimulatorOptions:
        """Changes runtime options (`RUNTIME_OPTIONS`); a new rate limit starts with full buckets."""
        unknown = changes.keys() - RUNTIME_OPTIONS
        if unknown:
            raise ValueError(f"options that cannot change while serving: {sorted(unknown)}")
        with self._lock:
            self._options = replace(self._options, **changes)
            self._buckets.clear()
            return self._options

    def storm(self, requests: int | None = None, seconds: float | None = None) -> None:
        """Answers 429 to the next `requests` requests, and/or to every request for `seconds`."""
        with self._lock:
            if requests is not None:
                self._storm_requests = requests
            if seconds is not None:
                self._storm_until = time.monotonic() + seconds

    def admit(self, account_id: str, method: str, path: str, query: bytes, key_owner: str | None = None) -> Admission:
        """The fate of a request reading `account_id`, counted; `key_owner` is the account whose key sent it,
        when another (a platform's key reading a connected account: `SimulatorOptions.connect_rate_limit`)."""
        options = self._options
        with self._lock:
            stats = self._account(account_id)
            stats.requests += 1
            stats.paths[route(path)] += 1
            spenders = [account_id]
            if key_owner is not None and key_owner != account_id:
                spenders = {"connected": [account_id], "platform": [key_owner], "both": [account_id, key_owner]}[
                    options.connect_rate_limit
                ]
            cause = self._rate_limited(spenders, f"{method} {route(path)}", options)
            if cause is not None:
                stats.rate_limited += 1
                stats.rate_limited_by[cause] += 1
                return Admission(Verdict.RATE_LIMIT)
            failing = options.drop_rate + options.truncate_rate + options.fault_rate + options.rate_limit_rate
            if not failing and not options.slow_rate:
                return Admission(Verdict.SERVE)
            request = (account_id, method, path, query)
            occurrence = self._seen[request]
            self._seen[request] = occurrence + 1
            seed = options.fault_seed
            delay = 0.0
            if options.slow_rate and _draw(seed, request, occurrence, salt="slow") < options.slow_rate:
                stats.slowed += 1
                delay = options.slow_ms / 1000
            # Drops first, as they always were: without truncations and random 429s, a seed drops and
            # fails the very requests it did before those existed.
            draw = _draw(seed, request, occurrence)
            bound = options.drop_rate
            if draw < bound:
                stats.dropped += 1
                return Admission(Verdict.DROP, delay=delay)
            bound += options.truncate_rate
            if draw < bound:
                stats.truncated += 1
                return Admission(Verdict.TRUNCATE, delay=delay)
            bound += options.fault_rate
            if draw < bound:
                statuses = options.fault_statuses
                status = statuses[int(_draw(seed, request, occurrence, salt="status") * len(statuses))]
                stats.faults += 1
                stats.fault_statuses[status] += 1
                return Admission(Verdict.FAULT, status=status, delay=delay)
            if draw < bound + options.rate_limit_rate:
                stats.rate_limited += 1
                stats.rate_limited_by["random"] += 1
                return Admission(Verdict.RATE_LIMIT, delay=delay)
            return Admission(Verdict.SERVE, delay=delay)

    def reject(self, account_id: str | None, path: str) -> None:
        """Counts a request authentication refused; `account_id` is the account it named, if any."""
        with self._lock:
            stats = self._account(account_id)
            stats.requests += 1
            stats.rejected += 1
            stats.paths[route(path)] += 1

    async def drop(self, scope: Scope) -> None:
        """Closes the request's connection without answering."""
        if self.dropper is None:
            raise RuntimeError("dropping connections needs the uvicorn runner (SimulatorServer or serve)")
        self.dropper(scope)
        # Let the event loop deliver the connection loss to uvicorn before the app returns, so uvicorn
        # does not try to answer the request with a 500 of its own.
        await asyncio.sleep(0)

    def stats(self, account_id: str) -> TrafficStats:
        """A snapshot of the counters of `account_id`."""
        with self._lock:
            return self._stats.get(account_id, TrafficStats()).copy()

    def stats_total(self) -> TrafficStats:
        """A snapshot of the counters summed over every account, unauthenticated requests included."""
        total = TrafficStats()
        with self._lock:
            for stats in self._stats.values():
                total.add(stats)
        return total

    def reset_stats(self) -> None:
        with self._lock:
            self._stats.clear()

    def _account(self, account_id: str | None) -> TrafficStats:
        stats = self._stats.get(account_id)
        if stats is None:
            stats = self._stats[account_id] = TrafficStats()
        return stats

    def _rate_limited(self, accounts: list[str], endpoint: str, options: SimulatorOptions) -> str | None:
        """Why the request is refused (`TrafficStats.rate_limited_by`), or None: then it has taken a token
        from each bucket it spends, the account's and the endpoint's of each of `accounts`. A refused
        request takes none, so what it would have spent stays for the requests that pass."""
        now = time.monotonic()
        if self._storm_requests > 0:
            self._storm_requests -= 1
            return "storm"
        if now < self._storm_until:
            return "storm"
        limits = [
            (None, "global", options.rate_limit_per_second, options.rate_limit_burst),
            (endpoint, "endpoint", options.endpoint_rate_limit_per_second, options.endpoint_rate_limit_burst),
        ]
        spent = []
        for account_id in accounts:
            for scope, cause, rate, burst in limits:
                if rate is None:
                    continue
                bucket = self._buckets.get((account_id, scope))
                if bucket is None:
                    size = burst if burst is not None else max(1.0, rate)
                    bucket = self._buckets[account_id, scope] = _Bucket(rate, size, now)
                if not bucket.has_token(now):
                    return cause
                spent.append(bucket)
        for bucket in spent:
            bucket.tokens -= 1
        return None


def _draw(seed: int, request: tuple[str, str, str, bytes], occurrence: int, salt: str = "") -> float:
    """A number in [0, 1) fixed by the seed, the request, how often it came before, and `salt`: each salt
    gives a draw independent of the others, so a slowed request is no likelier to fail, say."""
    account_id, method, path, query = request
    salted = f"{salt}|" if salt else ""  # the unsalted draw is the one seeds were always drawn with
    text = f"{seed}|{salted}{account_id}|{method}|{path}|{occurrence}|".encode() + query
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2**64


def route(path: str) -> str:
    """`/v1/invoices/in_123/lines` → `/v1/invoices/{id}/lines`: counts per endpoint, not per object."""
    parts = path.rstrip("/").split("/")
    if len(parts) > 3 and parts[1] == "v1":
        parts[3] = "{id}"
    return "/".join(parts)
