"""Shared fixtures: a generated Stripe account served by the simulator, and a private data folder."""

import pytest

from orchestration.simulator import SimulatorServer, generate_account

E2E_API_KEY = "sk_test_e2e_0123456789"


@pytest.fixture(scope="session")
def simulated_account():
    return generate_account(seed=7, customers=60)


@pytest.fixture(scope="session")
def simulator(simulated_account):
    with SimulatorServer([simulated_account], api_keys={E2E_API_KEY: simulated_account.account_id}) as server:
        yield server


@pytest.fixture
def pipeline_env(tmp_path, monkeypatch, simulator):
    """The environment `stripe-warehouse run` reads, pointed at the simulator and a temporary warehouse."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("STRIPE_API_BASE", simulator.base_url)
    monkeypatch.setenv("STRIPE_API_KEY", E2E_API_KEY)
    for name in ("DUCKDB_PATH", "STRIPE_ACCOUNT_IDS", "WAREHOUSE", "DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "data"


# A real PostgreSQL server (scripts/postgres.sh installs and starts it), for the tests of WAREHOUSE=postgres.
# If it cannot be had, the tests that ask for it fail with the script's output: they never skip.
@pytest.fixture(scope="session")
def postgres_server():
    from postgres import PostgresUnavailable, running_postgres

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
    from browser import ChromiumUnavailable, launched_chromium

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
