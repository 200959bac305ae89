"""Fixtures of the orchestration tests: a Dagster instance and an environment without any account."""

import pytest
from dagster import instance_for_test


@pytest.fixture
def instance():
    """A throwaway instance on disk (schedule contexts need one they can reopen)."""
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def no_accounts_env(tmp_path, monkeypatch):
    """No key and an empty connections store; the Stripe API unreachable, so any request would fail."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    for name in ("STRIPE_API_KEY", "STRIPE_ACCOUNT_IDS", "STRIPE_PLATFORM_KEY", "CONNECTIONS_DB", "DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"
