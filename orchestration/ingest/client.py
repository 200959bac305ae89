"""Reading one Stripe account over HTTP, with the official SDK's headers and error handling.

The SDK builds each credential's headers (authentication, API-version pinning, `Stripe-Account`) and turns
Stripe's error bodies into its typed exceptions; the requests themselves go through a lean keep-alive client
(http.py) that sends the same GET for a fraction of the SDK's CPU. This module adds a rate limit, fast JSON,
errors that name the account and the fix, and every retry, so each fault is counted: 429s back off (Stripe
sends no Retry-After), 5xx answers and connections lost before or during an answer are retried a few times.
The SDK would not retry a connection dropped in the middle of a body (requests' `ChunkedEncodingError`), and
its own retries would hide how many faults a sync met. Any other 4xx fails loudly: a swallowed 400/403/404
is how connectors silently lose records.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import stripe

from orchestration.ingest.http import ConnectionFault, StripeHTTP, request_headers
from orchestration.ingest.lazy_json import parse_lazily
from orchestration.ingest.rate_limit import RateBudget
from orchestration.settings import STRIPE_API_VERSION, Secret, StripeCredential

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Stripe's maximum
MAX_BACKOFF_SECONDS = 8.0
FIRST_RETRY_SECONDS = 0.5  # the SDK's own first delay for a 5xx or a lost connection
OWN_CONNECTIONS = 10  # of a reader not given a sync's shared pool: requests' default pool size


class StripeReadError(Exception):
    """Stripe refused a read; the message says which account, what Stripe said, and what to do."""


class StripeAuthError(StripeReadError):
    """Stripe rejected the credential itself (401, or 403 for a revoked connection): reconnecting is the fix."""


class StripeNotFoundError(StripeReadError):
    """A retrieve of an id Stripe no longer has (a deleted coupon, plan, product, …)."""


@dataclass
class RequestStats:
    """The requests a reader sent and the faults they met; each fault was retried (or failed the read)."""

    requests: int = 0
    rate_limited: int = 0
    """Answered 429."""
    server_errors: int = 0
    """Answered 5xx."""
    connection_errors: int = 0
    """No complete answer: the connection failed, was closed before an answer or in the middle of its body."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str | None = None) -> None:
        """One request; `outcome` names the fault it met, if any (a field of this class)."""
        with self._lock:
            self.requests += 1
            if outcome is not None:
                setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "rate_limited": self.rate_limited,
                "server_errors": self.server_errors,
                "connection_errors": self.connection_errors,
            }


class StripeReader:
    """Reads one Stripe account; safe to share between threads."""

    # A token that expires (a Stripe App's) is refreshed this long before it does, at most, or a fifth of its
    # remaining life when the reader got it, whichever is shorter: reads never meet the expiry.
    REFRESH_MARGIN_SECONDS = 60.0
    # After a refresh that gave nothing, how long reads go on with the old token before asking again.
    REFRESH_RETRY_SECONDS = 5.0

    def __init__(
        self,
        api_base: str,
        credential: StripeCredential,
        *,
        requests_per_second: float | None = None,
        endpoint_requests_per_second: float | None = None,
        budget: RateBudget | None = None,
        max_network_retries: int = 5,
        rate_limit_patience: float = 300.0,
        http: StripeHTTP | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`http`: the connections to send through, shared by the readers of one sync so that a thread keeps its
        connection whichever account it reads next; None: a pool of this reader's own."""
        if http is not None and http.api_base != api_base:
            raise ValueError(f"the reader of {api_base} was given the connections of {http.api_base}")
        self._api_base = api_base
        self._http = http or StripeHTTP(api_base, connections=OWN_CONNECTIONS)
        self._max_network_retries = max_network_retries
        self._clock = clock
        # (credential, its SDK client, its request headers, when to refresh it): replaced whole, so a thread
        # reads a consistent set.
        self._auth = self._authenticated(credential)
        # One refresh at a time: the threads that find the token stale wait, then read with the new one.
        self._refresh_lock = threading.Lock()
        # The requests this reader may send: its own budget, or one it shares with the other readers spending
        # the same key owner's (Settings.budget_key).
        if budget is None:
            if requests_per_second is None:
                raise ValueError("a reader needs requests_per_second or a shared budget")
            budget = RateBudget(requests_per_second, endpoint_requests_per_second)
        self.budget = budget
        self._rate_limit_patience = rate_limit_patience
        self._account: dict[str, Any] | None = None
        self._account_lock = threading.Lock()
        self.stats = RequestStats()

    @property
    def _credential(self) -> StripeCredential:
        return self._auth[0]

    @property
    def _client(self) -> stripe.StripeClient:
        return self._auth[1]

    def _authenticated(
        self, credential: StripeCredential
    ) -> tuple[StripeCredential, stripe.StripeClient, dict[str, str], float]:
        client = stripe.StripeClient(
            credential.api_key.value,
            stripe_account=credential.stripe_account,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": self._api_base},
            max_network_retries=0,  # `get` retries, counting each fault
        )
        refresh_at = float("inf")
        if credential.refresh is not None and credential.expires_at is not None:
            margin = min(self.REFRESH_MARGIN_SECONDS, max(0.0, credential.expires_at - self._clock()) / 5)
            refresh_at = credential.expires_at - margin
        return credential, client, request_headers(client), refresh_at

    def _current(self) -> tuple[StripeCredential, dict[str, str]]:
        """The credential to read with and its request headers, refreshed first if it is about to expire."""
        credential, _, headers, refresh_at = self._auth
        if self._clock() >= refresh_at:
            self._refreshed(credential.api_key)
            credential, _, headers, _ = self._auth
        return credential, headers

    def _refreshed(self, stale: Secret) -> bool:
        """Whether a credential other than the one with token `stale` is now in use (refreshed here, or by
        another thread meanwhile)."""
        with self._refresh_lock:
            credential = self._auth[0]
            if credential.api_key != stale:
                return True
            if credential.refresh is None:
                return False
            try:
                fresh = credential.refresh(stale)
            except Exception:  # the hook's failure is logged; the read then reports Stripe's answer
                log.exception("Refreshing the credential of %s failed", self.account_id_or_key)
                fresh = None
            if fresh is None or fresh.api_key == stale:
                # Nothing better for now: read on with the old token, and ask again a little later.
                self._auth = (*self._auth[:3], self._clock() + self.REFRESH_RETRY_SECONDS)
                return False
            self._auth = self._authenticated(fresh)
            return True

    @property
    def account(self) -> dict[str, Any]:
        """The account object (`GET /v1/account`, read through `Stripe-Account` for a connected one)."""
        if self._account is None:
            with self._account_lock:  # the objects are read on threads of their own: one request, not one each
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
            page = self.get(path, query, lazy=True)
            objects = list(page["data"])
            yield objects
            if not page.get("has_more") or not objects:
                return
            query["starting_after"] = objects[-1]["id"]

    def get(self, path: str, params: dict[str, Any] | None = None, *, lazy: bool = False) -> Any:
        """One GET, rate limited, with its faults retried; raises StripeReadError for anything else.

        The answer as dicts, or `lazy`: parsed by simdjson, its fields read on demand (list pages)."""
        give_up = time.monotonic() + self._rate_limit_patience
        rate_limits = failures = 0
        refreshed = False
        while True:
            self.budget.acquire(path)
            credential, sent_headers = self._current()
            try:
                # The body as bytes to parse lazily, and every fault left to this loop to retry and count.
                body, status, headers = self._http.get(path, params, sent_headers)
            except ConnectionFault as exc:
                failures = self._retry_fault("connection_errors", failures, path, str(exc))
                continue
            if status < 300:
                try:
                    answer = parse_lazily(body) if lazy else orjson.loads(body)
                except ValueError:
                    # Only a body cut short gets here unnoticed by the HTTP client (a connection closed without
                    # Content-Length): read again, never taken for a short page.
                    failures = self._retry_fault("connection_errors", failures, path, "an incomplete JSON body")
                    continue
                self.stats.count()
                return answer
            if status >= 500:
                failures = self._retry_fault("server_errors", failures, path, f"HTTP {status}", body, status, headers)
                continue
            self.stats.count("rate_limited" if status == 429 else None)
            # A token that expired (earlier than announced, or while the request waited) is refreshed and the
            # request retried once; a second 401 is the credential's.
            if status == 401 and not refreshed and credential.refresh is not None:
                refreshed = True
                if self._refreshed(credential.api_key):
                    continue
            if status != 429:
                self._raise_for(path, body, status, headers)
            if time.monotonic() > give_up:
                raise self._read_error(path, "still rate limited after backing off; lower STRIPE_REQUESTS_PER_SECOND")
            # Exponential backoff with full jitter: Stripe sends no Retry-After.
            time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.1 * 2**rate_limits)))
            rate_limits += 1

    def _retry_fault(self, fault: str, failures: int, path: str, reason: str, *answer: Any) -> int:
        """Counts a transient fault and waits before the next attempt, or raises once they are used up; the
        consecutive failures so far, this one included."""
        self.stats.count(fault)
        failures += 1
        if failures > self._max_network_retries:
            if answer:  # Stripe's error body says more than the status alone
                self._raise_for(path, *answer)
            raise self._read_error(path, f"no response after {failures} attempts: {reason}")
        # Half to all of the SDK's exponential delay: the jitter spreads the retries of concurrent reads.
        delay = min(MAX_BACKOFF_SECONDS, FIRST_RETRY_SECONDS * 2 ** (failures - 1))
        time.sleep(random.uniform(delay / 2, delay))
        return failures

    def _raise_for(self, path: str, body: Any, status: int, headers: Any) -> None:
        # A credential that knows its account id is a stored connection: re-authenticating it is the fix.
        reconnect = "Reconnect it on the Connections page: stripe-warehouse web → Re-authenticate."
        stored = self._credential.account_id is not None
        try:
            # The SDK turns Stripe's error body into its typed exception, as for any SDK call.
            self._client._requestor._interpret_response(body, status, headers, api_mode="V1")
        except stripe.AuthenticationError as exc:
            # "HTTP 401"/"HTTP 403" tell the store's verdict apart: a 401 of a Stripe App token is worth a
            # refresh, a 403 only the admin can mend.
            raise StripeAuthError(
                self._message(
                    path,
                    f"HTTP {status}: {exc.user_message} "
                    + (reconnect if stored else "Check the API key (STRIPE_API_KEY) or reconnect the account."),
                )
            ) from None
        except stripe.PermissionError as exc:
            raise StripeAuthError(
                self._message(
                    path,
                    f"HTTP {status}: {exc.user_message} "
                    + (reconnect if stored else "Grant the key read access, or reconnect the account."),
                )
            ) from None
        except stripe.InvalidRequestError as exc:
            if status == 404:
                raise StripeNotFoundError(self._message(path, f"HTTP 404: {exc.user_message}")) from None
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
