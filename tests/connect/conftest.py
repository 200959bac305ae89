"""A simulator playing Stripe's OAuth side for a platform and three accounts that may connect to it, and the
settings of an installation pointed at it with a private data folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from orchestration.connect import auth
from orchestration.settings import Settings
from orchestration.simulator import SimulatedAccount, SimulatorServer, generate_account
from orchestration.simulator.oauth.options import OAuthOptions
from orchestration.simulator.oauth.provider import login_email
from tests.connect.connect_support import ADMIN_PASSWORD, NOW, PLATFORM_KEY, RESTRICTED_KEY, WebServer


@pytest.fixture(scope="session")
def accounts() -> dict[str, SimulatedAccount]:
    """The platform and three accounts, each with its own sign-in email."""
    return {
        "platform": generate_account(seed=60, customers=2, now=NOW, account_id="acct_1PlatformConnect0"),
        "first": generate_account(seed=61, customers=4, now=NOW, account_id="acct_1FirstConnected00"),
        "second": generate_account(seed=62, customers=3, now=NOW, account_id="acct_1SecondConnected0"),
        "third": generate_account(seed=64, customers=3, now=NOW, account_id="acct_1ThirdConnected00"),
    }


@pytest.fixture
def sim(accounts) -> Iterator[SimulatorServer]:
    keys = {PLATFORM_KEY: accounts["platform"].account_id, RESTRICTED_KEY: accounts["third"].account_id}
    # Only accounts that authorize the platform are connected to it, as on Stripe.
    oauth = OAuthOptions(connected_at_start=False)
    with SimulatorServer(list(accounts.values()), api_keys=keys, oauth=oauth) as server:
        yield server


@pytest.fixture
def email(accounts) -> Callable[[str], str]:
    return lambda name: login_email(accounts[name])


@pytest.fixture
def make_settings(tmp_path, sim) -> Callable[..., Settings]:
    def make(**env: str) -> Settings:
        return Settings.from_env(
            {
                "STRIPE_API_BASE": sim.base_url,
                "STRIPE_CONNECT_BASE": sim.base_url,
                "STRIPE_MARKETPLACE_BASE": sim.base_url,
                "STRIPE_CONNECT_CLIENT_ID": sim.oauth.connect_client_id,
                "STRIPE_APP_CLIENT_ID": sim.oauth.app_client_id,
                "STRIPE_PLATFORM_KEY": PLATFORM_KEY,
                "DATA_DIR": str(tmp_path / "data"),
                "STRIPE_REQUESTS_PER_SECOND": "1000",
                "ADMIN_PASSWORD": ADMIN_PASSWORD,
                **env,
            }
        )

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
def web(settings) -> Iterator[WebServer]:
    from orchestration.connect.web.app import create_app

    with WebServer(create_app(settings)) as server:
        yield server


@pytest.fixture(autouse=True)
def cheap_scrypt(request, monkeypatch) -> None:
    """Admin passwords hashed at scrypt N=2^14, an eighth of the default's time, unless the test asks for
    `real_scrypt`: a login or a start of the web app costs no more than a few tens of milliseconds."""
    if "real_scrypt" not in request.fixturenames:
        monkeypatch.setattr(auth, "SCRYPT_N", 2**14)


@pytest.fixture
def real_scrypt() -> None:
    """The test hashes at the default cost (see cheap_scrypt)."""
