"""What a sync did, per object and account: for the logs, the Dagster metadata and failing loudly."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class ObjectProgress:
    table: str
    account_id: str
    mode: str = "full"
    """`full` (first sync or 30-day fallback) or `incremental`."""
    rows: int = 0
    pages: int = 0
    deleted: int = 0
    refetched: int = 0
    child_rows: int = 0
    """Rows of its child tables (invoice lines, subscription items, …) read with it."""
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    cursor: int | None = None
    """Newest `created` loaded; with the events cursor, where the next sync starts."""


@dataclass
class SyncReport:
    progress: dict[tuple[str, str], ObjectProgress] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    """Account id → why its sync failed; the other accounts go on."""
    needs_reauth: set[str] = field(default_factory=set)
    """Accounts whose credential Stripe rejected (revoked, expired, wrong key): reconnecting is the fix."""
    traffic: dict[str, dict[str, int]] = field(default_factory=dict)
    """Account → its requests and the faults they met (`RequestStats.as_dict`): rate_limited, server_errors,
    connection_errors."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, table: str, account_id: str, mode: str) -> ObjectProgress:
        with self._lock:
            progress = self.progress[(table, account_id)] = ObjectProgress(table, account_id, mode)
            return progress

    def fail(self, account_id: str, reason: str, *, needs_reauth: bool = False) -> None:
        with self._lock:
            self.failures.setdefault(account_id, reason)
            if needs_reauth:
                self.needs_reauth.add(account_id)

    def for_table(self, table: str) -> list[ObjectProgress]:
        return [p for (t, _), p in self.progress.items() if t == table]

    def requests(self) -> int:
        return sum(counts["requests"] for counts in self.traffic.values())

    def faults(self) -> dict[str, int]:
        """Faults met over every account, by kind; each was retried, or failed its account's sync."""
        kinds = ("rate_limited", "server_errors", "connection_errors")
        return {kind: sum(counts.get(kind, 0) for counts in self.traffic.values()) for kind in kinds}

    def traffic_summary(self) -> str:
        faults = self.faults()
        return (
            f"{self.requests()} Stripe requests; retried {faults['rate_limited']} rate-limited (429), "
            f"{faults['server_errors']} server errors (5xx) and {faults['connection_errors']} lost connections"
        )
