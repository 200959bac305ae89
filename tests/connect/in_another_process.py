"""What a child process runs in the cross-process tests: kept apart from connect_support, whose imports
(dlt, DuckDB, uvicorn) would make each spawned process start slowly."""

from __future__ import annotations

import time
from typing import Any

from orchestration.settings import Settings


def app_token(settings: Settings, now: float, barrier: Any, results: Any) -> None:
    """Puts the Stripe App token `stripe_credentials` gives at `now` on `results`, once every child is ready
    (`barrier`), with a slow token endpoint: without single-flight, their refreshes would overlap."""
    from orchestration.connect.accounts import stripe_credentials
    from orchestration.connect.oauth import AppOAuth

    refresh = AppOAuth.refresh

    def slow_refresh(self: AppOAuth, token: Any) -> Any:
        time.sleep(0.3)
        return refresh(self, token)

    AppOAuth.refresh = slow_refresh  # type: ignore[method-assign]
    barrier.wait(timeout=60)
    try:
        (credential,) = stripe_credentials(settings, clock=lambda: now)
        results.put(credential.api_key.value)
    except Exception as exc:
        results.put(f"failed: {exc!r}")
