"""`SimulatorOptions`: how the server behaves beyond the data it serves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.middleware import Middleware

from orchestration.simulator.templates import API_VERSION

CONNECT_RATE_LIMITS = ("connected", "platform", "both")
"""`SimulatorOptions.connect_rate_limit`: whose budget a Connect request spends."""


@dataclass(frozen=True)
class SimulatorOptions:
    """Server behaviour beyond the data it serves; all but `api_version` and `middleware` can be changed
    while the server runs (`SimulatorServer.configure`)."""

    api_version: str = API_VERSION
    """`Stripe-Version` answered when a request does not send one."""
    middleware: Sequence[Middleware] = field(default_factory=tuple)
    """Extra Starlette middleware, run inside the Request-Id/Stripe-Version stamping and before auth."""
    latency_ms: float = 0.0
    """Delay before every response; requests wait concurrently, so it slows each one, not the server."""
    rate_limit_per_second: float | None = None
    """Requests per second each Stripe account may receive (the key's own account or the one named by
    `Stripe-Account`), as a token bucket; beyond it Stripe's 429 `rate_limit`. None: unlimited."""
    rate_limit_burst: int | None = None
    """The bucket's size, the most requests accepted at once after a quiet spell; None: one second's worth."""
    endpoint_rate_limit_per_second: float | None = None
    """Requests per second each endpoint of each account may receive, on top of `rate_limit_per_second`, as a
    token bucket per (account, endpoint); beyond it Stripe's 429 `rate_limit`. Stripe's default is 25: "API
    endpoints have a default limit of 25 requests per second", each named operation its own endpoint
    (`GET /v1/charges` and `GET /v1/charges/{id}` are two; retrieves of different ids share one), and they
    "also count against global limits" (https://docs.stripe.com/rate-limits). A request is admitted only if
    every bucket it spends has a token, and then takes one from each. None: no per-endpoint limit."""
    endpoint_rate_limit_burst: int | None = None
    """Each endpoint bucket's size; None: one second's worth."""
    connect_rate_limit: str = "connected"
    """Whose buckets a platform key's request with `Stripe-Account` spends: `connected` (the connected
    account's, the account the request reads), `platform` (the key owner's), or `both`. Stripe measures its
    limits "per Stripe account" and does not say which account that is for a Connect request, so the
    benchmarks and the Connect tests use `both`: the platform's own traffic and every account it reads with
    its key then share the platform's budget, the strictest reading."""
    rate_limit_rate: float = 0.0
    """Fraction of requests answered Stripe's 429 `rate_limit` at random, whatever the token bucket holds:
    Stripe's limiter also refuses requests well under the documented rate (load shedding, lock contention),
    so a client cannot rely on staying under a rate to never see a 429."""
    fault_rate: float = 0.0
    """Fraction of requests answered with a server error: Stripe's `api_error` body, with a status drawn
    among `fault_statuses` (the SDK retries them all)."""
    fault_statuses: tuple[int, ...] = (500,)
    """The 5xx statuses a fault is answered with, drawn evenly: (500, 502, 503) mimics both Stripe's own
    failures and those of the proxies in front of it."""
    drop_rate: float = 0.0
    """Fraction of requests whose connection is closed without a response (the SDK's APIConnectionError)."""
    truncate_rate: float = 0.0
    """Fraction of requests whose response is cut off: status, headers and a correct `Content-Length`, then
    part of the body, then the connection closes. A client must see an incomplete read (the SDK's
    APIConnectionError), not a short page it would take for a whole one."""
    fault_seed: int = 0
    """Which requests fail, and how, is a function of this seed and the request (its account, path, query,
    and how often the same request came before), so a run is repeatable however its requests interleave.
    One draw per request splits [0, 1) among dropped, truncated, faulted and randomly rate-limited, so their
    rates add up to at most 1; the fault's status and slowness have draws of their own."""
    slow_rate: float = 0.0
    """Fraction of requests (past the token bucket, whatever else befalls them) that wait `slow_ms` more
    before their answer, as when Stripe has a slow moment: slow enough to trip a client's read timeout."""
    slow_ms: float = 2000.0
    """How much longer a slowed request waits, on top of `latency_ms`."""

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.slow_ms < 0:
            raise ValueError("latency_ms and slow_ms must not be negative")
        if self.rate_limit_per_second is not None and self.rate_limit_per_second <= 0:
            raise ValueError("rate_limit_per_second must be positive (None disables rate limiting)")
        if self.endpoint_rate_limit_per_second is not None and self.endpoint_rate_limit_per_second <= 0:
            raise ValueError("endpoint_rate_limit_per_second must be positive (None disables the per-endpoint limit)")
        for name in ("rate_limit_burst", "endpoint_rate_limit_burst"):
            burst = getattr(self, name)
            if burst is not None and burst < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.connect_rate_limit not in CONNECT_RATE_LIMITS:
            raise ValueError(
                f"connect_rate_limit={self.connect_rate_limit!r}: must be one of {', '.join(CONNECT_RATE_LIMITS)}"
            )
        rates = {
            "drop_rate": self.drop_rate,
            "truncate_rate": self.truncate_rate,
            "fault_rate": self.fault_rate,
            "rate_limit_rate": self.rate_limit_rate,
            "slow_rate": self.slow_rate,
        }
        outside = [name for name, rate in rates.items() if not 0 <= rate <= 1]  # NaN is outside too
        if outside:
            raise ValueError(f"{', '.join(outside)} must be fractions between 0 and 1")
        if sum(rate for name, rate in rates.items() if name != "slow_rate") > 1 + 1e-9:
            raise ValueError("drop_rate, truncate_rate, fault_rate and rate_limit_rate must add up to at most 1")
        # A list would do as well, but the options are frozen and compared: keep them hashable.
        object.__setattr__(self, "fault_statuses", tuple(self.fault_statuses))
        if not self.fault_statuses or not all(
            isinstance(status, int) and 500 <= status <= 599 for status in self.fault_statuses
        ):
            raise ValueError("fault_statuses must be one or more 5xx statuses")
