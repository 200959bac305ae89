"""The analytics build, shared by every test file that reads the marts: one dbt build per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.simulator import SimulatedAccount
from tests.transform.analytics_build import (
    NodeStatuses,
    analytics_account,
    build_analytics_warehouse,
    latest_sale_created,
)


@pytest.fixture(scope="session")
def account() -> SimulatedAccount:
    return analytics_account()


@pytest.fixture(scope="session")
def guest_created(account: SimulatedAccount) -> int:
    return latest_sale_created(account)


@pytest.fixture(scope="session")
def warehouse(
    tmp_path_factory: pytest.TempPathFactory, account: SimulatedAccount, guest_created: int
) -> tuple[Path, NodeStatuses]:
    """The DuckDB file after `dbt build` of the two accounts (see analytics_build), and every node's status."""
    return build_analytics_warehouse(tmp_path_factory.mktemp("analytics"), account, guest_created)
