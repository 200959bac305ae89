"""Reading one Stripe account over HTTP with the official SDK.

The SDK does the HTTP, authentication, API-version pinning, `Stripe-Account` and retries of 5xx and
dropped connections; this module adds what it leaves out: a rate limit, backing off on 429 (which the SDK
does not retry and Stripe sends without Retry-After), fast JSON, and errors that name the account and
the fix. Any other 4xx fails loudly: a swallowed 400/403/404 is how connectors silently lose records.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import stripe

from orchestration.ingest.rate_limit import TokenBucket
from orchestration.settings import STRIPE_API_VERSION, StripeCredential

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Stripe's maximum
MAX_BACKOFF_SECONDS = 8.0


class StripeReadError(Exception):
    """Stripe refused a read; the message says which account, what Stripe said, and what to do."""


class StripeAuthError(StripeReadError):
    """Stripe rejected the credential itself (401, or 403 for a revoked connection): reconnecting is the fix."""


class StripeNotFound(StripeReadError):
    """A retrieve of an id Stripe no longer has (a deleted coupon, plan, product, …)."""


@dataclass
class RequestStats:
    requests: int = 0
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, *, rate_limited: bool = False) -> None:
        with self._lock:
            self.requests += 1
            self.rate_limited += rate_limited


class StripeReader:
    """Reads one Stripe account; safe to share between threads."""

    def __init__(
        self,
        api_base: str,
        credential: StripeCredential,
        *,
        requests_per_second: float,
        max_network_retries: int = 5,
        rate_limit_patience: float = 300.0,
    ) -> None:
        self._credential = credential
        self._client = stripe.StripeClient(
            credential.api_key.value,
            stripe_account=credential.stripe_account,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
        )
        self._bucket = TokenBucket(requests_per_second)
        self._rate_limit_patience = rate_limit_patience
        self._account: dict[str, Any] | None = None
        self.stats = RequestStats()

    @property
    def account(self) -> dict[str, Any]:
        """The account object (`GET /v1/account`, read through `Stripe-Account` for a connected one)."""
        if self._account is None:
            self._account = self.get("/v1/account")
        return self._account

    @property
    def account_id(self) -> str:
        """The `acct_...` id the rows are tagged with."""
        return self._credential.known_account_id or str(self.account["id"])

    @property
    def account_id_or_key(self) -> str:
        """A label for logs and reports that needs no request: the account id if known, else the masked key."""
        if self._credential.known_account_id:
            return self._credential.known_account_id
        if self._account:
            return str(self._account["id"])
        return f"key {self._credential.api_key.masked()}"

    def list_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every object of a list endpoint, one page (≤ 100 objects) at a time, newest first."""
        query: dict[str, Any] = {"limit": PAGE_SIZE, **(params or {})}
        while True:
            page = self.get(path, query)
            objects = page["data"]
            yield objects
            if not page.get("has_more") or not objects:
                return
            query["starting_after"] = objects[-1]["id"]

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GET, rate limited, with 429s backed off; raises StripeReadError for anything else."""
        give_up = time.monotonic() + self._rate_limit_patience
        attempt = 0
        while True:
            self._bucket.acquire()
            try:
                body, status, headers = self._client._requestor.request_raw(  # noqa: SLF001
                    "get", path, params=params or {}, base_address="api", api_mode="V1"
                )
            except stripe.StripeError as exc:  # connection errors, after the SDK's own retries
                raise self._read_error(path, f"no response: {exc.user_message or exc}") from None
            self.stats.count(rate_limited=status == 429)
            if status < 300:
                return orjson.loads(body)
            if status != 429:
                self._raise_for(path, body, status, headers)
            if time.monotonic() > give_up:
                raise self._read_error(path, "still rate limited after backing off; lower STRIPE_REQUESTS_PER_SECOND")
            # Exponential backoff with full jitter: Stripe sends no Retry-After.
            time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.1 * 2**attempt)))
            attempt += 1

    def _raise_for(self, path: str, body: Any, status: int, headers: Any) -> None:
        # A credential that knows its account id is a stored connection: re-authenticating it is the fix.
        reconnect = "Reconnect it on the Connections page: stripe-warehouse web → Re-authenticate."
        stored = self._credential.account_id is not None
        try:
            # The SDK turns Stripe's error body into its typed exception, as for any SDK call.
            self._client._requestor._interpret_response(body, status, headers, api_mode="V1")  # noqa: SLF001
        except stripe.AuthenticationError as exc:
            raise StripeAuthError(
                self._message(
                    path,
                    f"{exc.user_message} "
                    + (reconnect if stored else "Check the API key (STRIPE_API_KEY) or reconnect the account."),
                )
            ) from None
        except stripe.PermissionError as exc:
            raise StripeAuthError(
                self._message(
                    path,
                    f"{exc.user_message} "
                    + (reconnect if stored else "Grant the key read access, or reconnect the account."),
                )
            ) from None
        except stripe.InvalidRequestError as exc:
            if status == 404:
                raise StripeNotFound(self._message(path, f"HTTP 404: {exc.user_message}")) from None
            raise self._read_error(path, f"HTTP {status}: {exc.user_message}") from None
        except stripe.StripeError as exc:
            raise self._read_error(path, f"HTTP {status}: {exc.user_message or exc}") from None
        raise self._read_error(path, f"HTTP {status}")

    def _read_error(self, path: str, reason: str) -> StripeReadError:
        return StripeReadError(self._message(path, reason))

    def _message(self, path: str, reason: str) -> str:
        who = self._credential.known_account_id or (
            self._account["id"] if self._account else f"the account of key {self._credential.api_key.masked()}"
        )
        return f"Stripe refused GET {path} for {who}: {reason}"
