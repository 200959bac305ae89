"""What one sync shares: the settings, a reader per account, the thread pool, the report and the sync's clock."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property

from orchestration.ingest.client import StripeReader
from orchestration.ingest.http import StripeHTTP
from orchestration.ingest.memory import PeriodicTrim, tune_malloc
from orchestration.ingest.rate_limit import RateBudget
from orchestration.settings import Settings, StripeCredential
from orchestration.sync_report import SyncReport


@dataclass
class SyncContext:
    """What one sync shares: the settings, a reader per account, the thread pool and the report."""

    settings: Settings
    credentials: tuple[StripeCredential, ...] | None = None
    """The accounts to read; None: those of the settings (STRIPE_API_KEY / STRIPE_ACCOUNT_IDS)."""
    full_refresh: bool = False
    """Reload every object in full whatever its cursor (the daily reconciliation): picks up what no event
    reports, and marks deleted the rows Stripe no longer lists."""
    report: SyncReport = field(default_factory=SyncReport)
    synced_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the sync started; each row's `synced_at` is when it was read, on the same clock."""
    _started: float = field(default_factory=time.monotonic, repr=False)
    _trim: PeriodicTrim | None = field(default=None, init=False, repr=False)

    def read_time(self) -> datetime:
        """Now, on the sync's clock: a row read later in the sync carries a later synced_at, so when one
        load holds an object twice (listed as new, then re-fetched after a change) the merge keeps the later."""
        return self.synced_at + timedelta(seconds=time.monotonic() - self._started)

    @property
    def now(self) -> int:
        """The sync's clock in unix seconds, against which cursors are aged."""
        return int(self.synced_at.timestamp())

    @cached_property
    def readers(self) -> tuple[StripeReader, ...]:
        """A reader per account; those spending the same budget (`Settings.budget_key`: every account a
        platform key reads, by default) share one, so together they stay under the key owner's limits."""
        settings = self.settings
        credentials = self.credentials if self.credentials is not None else settings.require_credentials()
        budgets: dict[str, RateBudget] = {}
        readers = []
        for credential in credentials:
            key = settings.budget_key(credential)
            if key not in budgets:
                # A run of one account may be one of several at once (Postgres), each with a share of the key's.
                alone = len(credentials) == 1
                budgets[key] = RateBudget(
                    settings.rate_limit_for(credential, one_account_run=alone),
                    settings.endpoint_rate_limit_for(credential, one_account_run=alone),
                )
            readers.append(
                StripeReader(
                    settings.stripe_api_base,
                    credential,
                    budget=budgets[key],
                    max_network_retries=settings.max_network_retries,
                    http=self.http,
                )
            )
        return tuple(readers)

    @cached_property
    def http(self) -> StripeHTTP:
        """The connections of every reader: a thread keeps its connection whichever account it reads next; one
        per thread of the executor, and one for the thread that reads each list's first page."""
        return StripeHTTP(self.settings.stripe_api_base, connections=self.settings.concurrency + 1)

    @cached_property
    def executor(self) -> ThreadPoolExecutor:
        tune_malloc()  # before the pool's threads allocate
        # The memory the pool's threads free goes back to the system as the sync goes, not only as it ends.
        self._trim = PeriodicTrim()
        return ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="stripe")

    def for_reader(self, reader: StripeReader) -> SyncContext:
        """The share of this sync that reads one account (a load of its own: pipeline.py): that account's
        reader, with this sync's thread pool, report and clock. Closed with this sync, not by itself."""
        share = replace(self)
        share.__dict__["readers"] = (reader,)
        share.__dict__["executor"] = self.executor
        return share

    def close(self) -> None:
        if "executor" in self.__dict__:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self._trim is not None:
            self._trim.stop()
            self._trim = None
        for reader in self.__dict__.get("readers", ()):
            self.report.traffic[reader.account_id_or_key] = reader.stats.as_dict()
        if "http" in self.__dict__:
            self.http.close()

    def __enter__(self) -> SyncContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
