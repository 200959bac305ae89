"""`OAuthOptions`: the Stripe side of the two OAuth flows, as the simulator plays it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OAuthOptions:
    """The Stripe side of the two OAuth flows (`provider`): who the platform and its app are, how long
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
