"""Reading Stripe's list endpoints over HTTP with the official SDK.

The SDK does the HTTP, authentication, API-version pinning and retries of 5xx and dropped connections;
this module adds what it leaves out: paging, backing off on 429 (which the SDK does not retry and Stripe
sends without Retry-After), and errors that name the account and the fix.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import stripe

from orchestration.settings import STRIPE_API_VERSION, StripeCredential

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Stripe's maximum


class StripeReadError(Exception):
    """Stripe refused a read; the message says which account, what Stripe said, and what to do."""


class StripeReader:
    """Reads one Stripe account."""

    def __init__(
        self,
        api_base: str,
        credential: StripeCredential,
        *,
        max_network_retries: int = 5,
        max_rate_limit_retries: int = 8,
    ) -> None:
        self._credential = credential
        self._client = stripe.StripeClient(
            credential.api_key.value,
            stripe_account=credential.stripe_account,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
        )
        self._max_rate_limit_retries = max_rate_limit_retries
        self._account_id = credential.stripe_account

    @property
    def account_id(self) -> str:
        """The `acct_...` id the rows are tagged with: the connected account, or the key's own account."""
        if self._account_id is None:
            self._account_id = str(self._get("/v1/account", {})["id"])
        return self._account_id

    def list_pages(self, path: str, params: dict[str, str] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yields every object of a list endpoint, one page (≤ 100 objects) at a time, newest first."""
        query: dict[str, Any] = {"limit": PAGE_SIZE, **(params or {})}
        while True:
            page = self._get(path, query)
            objects = page["data"]
            if objects:
                yield objects
            if not page.get("has_more") or not objects:
                return
            query["starting_after"] = objects[-1]["id"]

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self._max_rate_limit_retries + 1):
            try:
                response = self._client.raw_request("get", path, **params)
                return json.loads(response.body)
            except stripe.RateLimitError:
                if attempt == self._max_rate_limit_retries:
                    raise self._read_error(path, "still rate limited after backing off") from None
                # Exponential backoff with full jitter: Stripe sends no Retry-After.
                time.sleep(random.uniform(0, min(30.0, 0.5 * 2**attempt)))
            except stripe.AuthenticationError as exc:
                raise self._read_error(
                    path, f"{exc.user_message} Check the API key (STRIPE_API_KEY) or reconnect the account."
                ) from None
            except stripe.PermissionError as exc:
                raise self._read_error(
                    path,
                    f"{exc.user_message} The key lacks read access: grant it, or reconnect the account.",
                ) from None
            except stripe.StripeError as exc:
                status = f"HTTP {exc.http_status}" if exc.http_status else "no response"
                raise self._read_error(path, f"{status}: {exc.user_message or exc}") from None
        raise AssertionError("unreachable")

    def _read_error(self, path: str, reason: str) -> StripeReadError:
        who = self._account_id or f"the account of key {self._credential.api_key.masked()}"
        return StripeReadError(f"Stripe refused GET {path} for {who}: {reason}")
