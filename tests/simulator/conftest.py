"""One generated account served for the whole session, and an SDK client configured like the ingester."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

# The helpers next to the tests (shape and integrity checks) are plain modules, not a package.
sys.path.insert(0, str(Path(__file__).parent))

from orchestration.simulator import SimulatedAccount, SimulatorServer, generate_account
from orchestration.simulator.truth import expected_customer_mrr
from tests.simulator.sim_support import NOW, PATTERNS_NOW, sdk_client


@pytest.fixture(scope="session")
def account() -> SimulatedAccount:
    """Read-only: tests that mutate build their own account."""
    return generate_account(seed=11, customers=150, now=NOW)


@pytest.fixture(scope="session")
def server(account: SimulatedAccount) -> Iterator[SimulatorServer]:
    with SimulatorServer([account]) as running:
        yield running


@pytest.fixture(scope="session")
def client(server: SimulatorServer) -> stripe.StripeClient:
    return sdk_client(server.base_url)


@pytest.fixture(scope="session")
def pattern_account() -> SimulatedAccount:
    """A small account whose every billing pattern the pattern tests check (read-only)."""
    return generate_account(seed=27, customers=20, now=PATTERNS_NOW)


@pytest.fixture(scope="session")
def pattern_mrr(pattern_account: SimulatedAccount) -> dict:
    """The truth of pattern_account's MRR per customer, currency and month."""
    return expected_customer_mrr(pattern_account, PATTERNS_NOW)
