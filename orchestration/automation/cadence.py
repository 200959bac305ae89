"""When the pipeline runs by itself, from the settings: the schedules' crons and the on/off switch.

| variable | default | meaning |
|---|---|---|
| `STRIPE_SYNC_CRON` | `0 * * * *` | incremental sync of every account, then the dbt build |
| `STRIPE_RECONCILE_CRON` | `30 3 * * *` | full reload of every account, then the dbt build |
| `STRIPE_SCHEDULES` | `on` | `off`: the schedules and the accounts sensor start stopped (the UI can still start them) |
| `STRIPE_SYNC_PARALLELISM` | `4` on Postgres | account syncs at once, a run each (concurrency.py); DuckDB: 1 |
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dagster import DefaultScheduleStatus, DefaultSensorStatus
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string

from orchestration.automation.concurrency import sync_parallelism
from orchestration.settings import ConfigurationError, Settings

DEFAULT_SYNC_CRON = "0 * * * *"
DEFAULT_RECONCILE_CRON = "30 3 * * *"


@dataclass(frozen=True)
class Automation:
    sync_cron: str
    reconcile_cron: str
    enabled: bool
    parallelism: int = 1
    """Account syncs at once; above 1, each account syncs in a run of its own (schedules.py)."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Automation:
        return cls.from_settings(Settings.from_env(env))

    @classmethod
    def from_settings(cls, settings: Settings) -> Automation:
        env = settings.schedules
        switch = env.get("STRIPE_SCHEDULES", "on").strip().lower()
        if switch not in ("on", "off"):
            raise ConfigurationError(f"STRIPE_SCHEDULES={switch!r}: set it to 'on' (default) or 'off'.")
        return cls(
            sync_cron=_cron(env, "STRIPE_SYNC_CRON", DEFAULT_SYNC_CRON),
            reconcile_cron=_cron(env, "STRIPE_RECONCILE_CRON", DEFAULT_RECONCILE_CRON),
            enabled=switch == "on",
            parallelism=sync_parallelism(settings),
        )

    @property
    def schedule_status(self) -> DefaultScheduleStatus:
        return DefaultScheduleStatus.RUNNING if self.enabled else DefaultScheduleStatus.STOPPED

    @property
    def sensor_status(self) -> DefaultSensorStatus:
        return DefaultSensorStatus.RUNNING if self.enabled else DefaultSensorStatus.STOPPED

    @property
    def sync_interval(self) -> timedelta:
        """The longest gap between two ticks of the sync schedule (over a week of ticks: crons can be uneven)."""
        ticks = cron_string_iterator(datetime(2026, 1, 5, tzinfo=UTC).timestamp(), self.sync_cron, "UTC")
        times = [next(ticks) for _ in range(24 * 7 + 1)]
        return max(later - earlier for earlier, later in itertools.pairwise(times))


def _cron(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if not is_valid_cron_string(value):
        raise ConfigurationError(f"{name}={value!r} is not a cron expression (e.g. {default!r}).")
    return value
