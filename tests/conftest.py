"""Shared fixtures: a generated Stripe account served by the simulator, a private data folder, and the
account's partition synced once for the session."""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.simulator import SimulatorServer, generate_account

E2E_API_KEY = "sk_test_e2e_0123456789"
# The session's simulator has no rate limit, and a test-mode key would otherwise keep under the sandbox's 25
# requests/s: a quarter of a minute per full sync of its account, spent by every end-to-end run. The rate
# limits are tested against simulators that enforce them (tests/ingest/test_rate_limits.py).
UNLIMITED_SIMULATOR_RATE = "1000"


@pytest.fixture(scope="session")
def simulated_account():
    return generate_account(seed=7, customers=60)


@pytest.fixture(scope="session")
def simulator(simulated_account):
    with SimulatorServer([simulated_account], api_keys={E2E_API_KEY: simulated_account.account_id}) as server:
        yield server


# A folder in memory, where the machine has one with room to spare (Linux's /dev/shm); else none.
MEMORY_TMP = Path("/dev/shm")
MEMORY_TMP_MIN_FREE = 2 * 1024**3


def memory_tmp_dir(fallback: Path):
    """A folder of the test's own in memory, removed afterwards; `fallback` where memory cannot take it.

    For a warehouse and a Dagster instance written on every event: test data needs no durability, and on a
    disk each of a run's thousand-odd events of the instance's SQLite waits for its sync (seconds per run).
    Like the tests' Postgres (fsync off), nothing else differs.
    """
    try:
        usable = os.access(MEMORY_TMP, os.W_OK) and shutil.disk_usage(MEMORY_TMP).free >= MEMORY_TMP_MIN_FREE
    except OSError:
        usable = False
    if not usable:
        yield fallback
        return
    path = Path(tempfile.mkdtemp(prefix="stripe-warehouse-test-", dir=MEMORY_TMP))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fast_tmp_path(tmp_path):
    """Like tmp_path, in memory where the machine allows (memory_tmp_dir)."""
    yield from memory_tmp_dir(tmp_path)


@pytest.fixture
def pipeline_env(fast_tmp_path, monkeypatch, simulator):
    """The environment `stripe-warehouse run` reads, pointed at the simulator and a temporary warehouse."""
    monkeypatch.setenv("DATA_DIR", str(fast_tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(fast_tmp_path / "dagster_home"))
    monkeypatch.setenv("STRIPE_API_BASE", simulator.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", E2E_API_KEY)
    monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED_SIMULATOR_RATE)
    for name in ("DUCKDB_PATH", "STRIPE_ACCOUNT_IDS", "WAREHOUSE", "DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    return fast_tmp_path / "data"


def prime_dbt_target_path(target_path: Path, env: dict[str, str] | None = None) -> None:
    """Parses the dbt project into `target_path`, for the runs that follow with DBT_TARGET_PATH=target_path.

    dagster-dbt gives each dbt step a folder under DBT_TARGET_PATH and copies the partial_parse.msgpack it
    finds there into it. Without one that matches the run's profile (its warehouse path), every step parses
    the whole project again (about 15 s each here); parsed once beforehand, under the environment the run
    will have (`env` over os.environ), the steps re-parse nothing. The manifest is the same either way.
    """
    from orchestration.settings import PROJECT_ROOT
    from orchestration.transform.project import DBT_EXECUTABLE

    target_path.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [DBT_EXECUTABLE, "parse", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)],
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            **(env or {}),
            "DBT_TARGET_PATH": str(target_path),
            "DBT_LOG_PATH": str(target_path / "logs"),
        },
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-5000:]
    assert (target_path / "partial_parse.msgpack").exists()


@pytest.fixture(scope="session")
def prime_dbt():
    """prime_dbt_target_path, for the tests of `stripe-warehouse run` (a fixture: conftest is no module to import)."""
    return prime_dbt_target_path


@dataclass(frozen=True)
class PartitionRun:
    result: object
    """The ExecuteInProcessResult of the sync job for the account's partition."""
    data_dir: Path
    """The DATA_DIR it ran in: the DuckDB warehouse and dlt's pipeline state. Tests that write to it (a second
    run, a broken table) work on a copy, so every reader sees the warehouse as that run left it."""


@pytest.fixture(scope="session")
def session_fast_tmp_path(tmp_path_factory):
    """A session's folder in memory where the machine allows (memory_tmp_dir)."""
    yield from memory_tmp_dir(tmp_path_factory.mktemp("session"))


@pytest.fixture(scope="session")
def partition_run(session_fast_tmp_path, simulator, simulated_account):
    """The sync job's run for the simulated account's partition in a fresh DuckDB warehouse, as the accounts
    sensor requests it for a new account: ingestion, dbt build, every check. The whole graph takes a minute
    or more, so it runs once: tests/automation/test_materialize.py checks what it reported, and
    tests/test_end_to_end.py runs `stripe-warehouse run` on a copy of its warehouse, as a second sync."""
    from dagster import DagsterInstance

    from orchestration.automation.partitions import STRIPE_ACCOUNTS
    from orchestration.definitions import SYNC_JOB_NAME, defs

    account = simulated_account.account_id
    data_dir = session_fast_tmp_path / "partition_run" / "data"
    with DagsterInstance.ephemeral() as instance:
        # The environment of the run only: a session fixture must leave none behind for the other tests.
        with pytest.MonkeyPatch.context() as monkeypatch:
            monkeypatch.setenv("DATA_DIR", str(data_dir))
            monkeypatch.setenv("DUCKDB_PATH", str(data_dir / "warehouse.duckdb"))
            monkeypatch.setenv("STRIPE_API_BASE", simulator.base_url)
            monkeypatch.setenv("STRIPE_API_KEY", E2E_API_KEY)
            monkeypatch.setenv("STRIPE_REQUESTS_PER_SECOND", UNLIMITED_SIMULATOR_RATE)
            for name in ("STRIPE_ACCOUNT_IDS", "WAREHOUSE", "DBT_TARGET"):
                monkeypatch.delenv(name, raising=False)
            dbt_target = session_fast_tmp_path / "partition_run" / "dbt_target"
            prime_dbt_target_path(dbt_target)
            monkeypatch.setenv("DBT_TARGET_PATH", str(dbt_target))
            instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [account])
            result = defs.resolve_job_def(SYNC_JOB_NAME).execute_in_process(
                instance=instance, partition_key=account, raise_on_error=False
            )
        yield PartitionRun(result=result, data_dir=data_dir)


# A real PostgreSQL server (scripts/postgres.sh installs and starts it), for the tests of WAREHOUSE=postgres.
# If it cannot be had, the tests that ask for it fail with the script's output: they never skip.
@pytest.fixture(scope="session")
def postgres_server():
    from tests.postgres import PostgresUnavailable, running_postgres

    yield from _service_or_fail(running_postgres, PostgresUnavailable, "no PostgreSQL server for the tests")


@pytest.fixture
def postgres_database(postgres_server, request):
    """A fresh, empty database on the session's server, dropped after the test; its PostgresParams."""
    params = postgres_server.create_database(request.node.name)
    yield params
    postgres_server.drop_database(params.database)


# A real headless Chromium (Debian's package, installed by scripts/chromium.sh) driven by Playwright.
# Like Postgres, a browser that cannot be had fails the tests that ask for it: they never skip.
@pytest.fixture(scope="session")
def chromium():
    from tests.browser import ChromiumUnavailable, launched_chromium

    yield from _service_or_fail(launched_chromium, ChromiumUnavailable, "no Chromium for the browser tests")


@pytest.fixture
def page(chromium):
    """A fresh browser context (its own cookies) and page, closed after the test."""
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _service_or_fail(start, unavailable: type[Exception], what: str):
    """Yields what the context manager `start()` gives; a service that cannot be had fails the test with
    its reason (outside the `except`, so pytest does not chain the traceback)."""
    failure = None
    try:
        with start() as service:
            yield service
    except unavailable as exc:
        failure = str(exc)
    if failure:
        pytest.fail(f"{what}: {failure}", pytrace=False)
