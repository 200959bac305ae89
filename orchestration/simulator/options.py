"""`SimulatorOptions`: how the server behaves beyond the data it serves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.middleware import Middleware

from orchestration.simulator.templates import API_VERSION


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
    fault_rate: float = 0.0
    """Fraction of requests answered with Stripe's 500 `api_error` (which the SDK retries)."""
    drop_rate: float = 0.0
    """Fraction of requests whose connection is closed without a response (the SDK's APIConnectionError)."""
    fault_seed: int = 0
    """Which requests fail is a function of this seed and the request (its account, path, query, and how
    often the same request came before), so a run is repeatable however its requests interleave."""

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if self.rate_limit_per_second is not None and self.rate_limit_per_second <= 0:
            raise ValueError("rate_limit_per_second must be positive (None disables rate limiting)")
        if self.rate_limit_burst is not None and self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")
        if not (0 <= self.fault_rate <= 1 and 0 <= self.drop_rate <= 1 and self.fault_rate + self.drop_rate <= 1):
            raise ValueError("fault_rate and drop_rate must be fractions adding up to at most 1")


@dataclass(frozen=True)
class OAuthOptions:
    """The Stripe side of the two OAuth flows (`oauth.py`): who the platform and its app are, how long
    codes and tokens live, where users may be sent back to. `SimulatorServer.oauth.configure` changes
    them while serving; new lifetimes apply to codes and tokens issued afterwards."""

    connect_client_id: str = "ca_simulator_connect"
    """The platform's Connect `client_id` (`/oauth/authorize`, `/oauth/deauthorize`)."""
    app_client_id: str = "ca_simulator_app"
    """The Stripe App's `client_id` (`/oauth/v2/authorize`). The app belongs to the platform: any secret key
    of the platform account is the app's secret key at `/v1/oauth/token`."""
    platform_name: str | None = None
    """Shown on the Connect pages; None: the platform account's business name."""
    app_name: str = "Stripe Warehouse"
    """Shown on the app's install pages."""
    code_ttl_seconds: float = 300.0
    """How long an authorization code can be exchanged (Stripe: 5 minutes)."""
    access_token_ttl_seconds: float = 3600.0
    """How long a Stripe App access token works (Stripe: 1 hour). Connect access tokens do not expire."""
    redirect_uris: tuple[str, ...] = ()
    """The redirect URIs users may be sent back to, matched exactly; the first is the default when the
    authorize link names none. Empty: any http(s) URL on 127.0.0.1, localhost or [::1], and no default."""
    connected_at_start: bool = True
    """Whether the platform reaches every other account from the start (its key plus `Stripe-Account`),
    as if each had connected already. False: only accounts connected through `/oauth/authorize` are."""

    def __post_init__(self) -> None:
        if self.code_ttl_seconds <= 0 or self.access_token_ttl_seconds <= 0:
            raise ValueError("code_ttl_seconds and access_token_ttl_seconds must be positive")
        if not self.connect_client_id or not self.app_client_id or self.connect_client_id == self.app_client_id:
            raise ValueError("connect_client_id and app_client_id must be set and differ")
