"""The analytics build, shared by every test file that reads the marts: one dbt build per session; and one
rebuild of a changed copy with the vars that reshape the marts (variant_build), shared by the files testing those."""

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
from tests.transform.variant_build import Metadata, build_variant_warehouse


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


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory, warehouse: tuple[Path, NodeStatuses]) -> tuple[Path, Metadata]:
    """The folder of the variant build (its warehouse.duckdb and target), and the metadata it added by object id."""
    run_dir = tmp_path_factory.mktemp("variant")
    return run_dir, build_variant_warehouse(warehouse[0], run_dir)
