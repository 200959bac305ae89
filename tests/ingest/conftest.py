"""Fixtures for syncing simulator accounts into a temporary DuckDB without Dagster."""

import pytest

from orchestration.ingest import client
from orchestration.settings import Settings
from tests.ingest.warehouse_state import PLATFORM_KEY


@pytest.fixture
def sync_settings(tmp_path):
    def make(base_url: str, api_key: str = PLATFORM_KEY, **env: str) -> Settings:
        return Settings.from_env(
            {
                "STRIPE_API_BASE": base_url,
                "STRIPE_API_KEY": api_key,
                "DATA_DIR": str(tmp_path / "data"),
                "STRIPE_REQUESTS_PER_SECOND": "1000",
                **env,
            }
        )

    return make


@pytest.fixture
def quick_retries(monkeypatch):
    """Retries after milliseconds, not Stripe's seconds: a test of what is retried and counted need not wait
    out the back-off (at a 50 % fault rate, the real delays cost a small list a minute and a half)."""
    monkeypatch.setattr(client, "FIRST_RETRY_SECONDS", 0.005)
    monkeypatch.setattr(client, "MAX_BACKOFF_SECONDS", 0.05)
