"""Configuration read from the environment, in one place.

Nothing here touches the network or the warehouse: Dagster loads the definitions with no secrets set, and
each run reads the settings afresh, so a changed environment needs no restart.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# The Stripe API version the ingester pins on every request and the dbt models are written for.
STRIPE_API_VERSION = "2026-10-28.endive"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message names the variable to fix."""


@dataclass(frozen=True)
class Secret:
    """A credential that never shows itself in logs, reprs, exceptions or Dagster metadata."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"Secret({self.masked()})"

    def masked(self) -> str:
        prefix = self.value.split("_", 2)
        kind = "_".join(prefix[:2]) if len(prefix) > 2 else "key"
        return f"{kind}_****{self.value[-4:]}" if len(self.value) > 8 else "****"


@dataclass(frozen=True)
class StripeCredential:
    """How to read one Stripe account: its own key, or a platform key plus `Stripe-Account`."""

    api_key: Secret
    # Set when a platform key reads a connected account (`Stripe-Account: acct_...`).
    stripe_account: str | None = None
    # The account's id when known without a request (a stored connection); else read from `GET /v1/account`.
    account_id: str | None = None
    # When `api_key` stops working (unix seconds): a Stripe App's access token; None: it does not expire.
    expires_at: float | None = field(default=None, compare=False)
    # The stored connection's credential version: a verdict on this key must not hit a newer re-authentication.
    credential_version: int | None = field(default=None, compare=False)
    # Given the token that went stale (expiring, or refused with 401), the credential to read with now; None
    # when there is none (the connection needs re-authentication). Only tokens that expire have it.
    refresh: Callable[[Secret], StripeCredential | None] | None = field(default=None, compare=False, repr=False)

    @property
    def known_account_id(self) -> str | None:
        return self.stripe_account or self.account_id


@dataclass(frozen=True)
class ConnectSettings:
    """Connecting Stripe accounts (orchestration/connect): OAuth apps, the credentials store, the admin login."""

    connect_base: str
    """Classic Connect OAuth (`/oauth/authorize`, `/oauth/token`, `/oauth/deauthorize`)."""
    marketplace_base: str
    """Where a Stripe App is installed (`/oauth/v2/authorize`)."""
    connect_client_id: str | None
    """The Connect platform's `ca_...` client id; without it "Connect with Stripe" is not offered."""
    app_client_id: str | None
    """The Stripe App's `ca_...` client id; without it "Install the Stripe App" is not offered."""
    platform_key: Secret | None
    """The platform's secret key: exchanges Connect codes, deauthorizes, reads Connect accounts."""
    app_secret_key: Secret | None
    """The Stripe App's secret key (the key of the account that owns the app): exchanges and refreshes tokens."""
    db_path: Path
    key_path: Path
    """Where the key encrypting the stored secrets is generated, unless `secret_key` is set."""
    # Not even the masked tail of these two shows in a repr: they are no Stripe keys, whose tails identify them.
    secret_key: Secret | None = field(repr=False)
    admin_username: str
    admin_password: Secret | None = field(repr=False)
    """When set, (re)sets the admin password at each start of the web app; only its hash is stored."""
    session_minutes: int
    admin_base_url: str | None = None
    """ADMIN_BASE_URL: the admin page's public address (`https://admin.example.com`), which the OAuth
    redirect URI is built on and the only host besides the loopback names the page answers to; None: the
    `web` command's `http://127.0.0.1:<port>`."""


@dataclass(frozen=True)
class PostgresSettings:
    """The Postgres warehouse (WAREHOUSE=postgres): POSTGRES_HOST, _PORT, _USER, _PASSWORD and _DB."""

    host: str = "localhost"
    port: int = 5432
    user: str = "postgres"
    password: Secret = Secret("")
    """Empty: none sent (trust or .pgpass authentication)."""
    database: str = "stripe_warehouse"


DEFAULT_POSTGRES_PARALLELISM = 4

SCHEDULE_VARIABLES = ("STRIPE_SYNC_CRON", "STRIPE_RECONCILE_CRON", "STRIPE_SCHEDULES")


@dataclass(frozen=True)
class Settings:
    stripe_api_base: str
    stripe_credentials: tuple[StripeCredential, ...]
    warehouse: str
    data_dir: Path
    """Where local state lives: the DuckDB file by default and dlt's pipeline working folders."""
    duckdb_path: Path
    duckdb_memory_limit: str
    """DuckDB's memory cap while loading (it spills to disk beyond it)."""
    postgres: PostgresSettings
    max_network_retries: int
    requests_per_second: float | None
    """STRIPE_REQUESTS_PER_SECOND, per budget (`rate_limit_budget`); None: Stripe's documented limit for the
    key's mode, with headroom (`rate_limit_for`)."""
    concurrency: int
    """Requests in flight at once, across objects and accounts."""
    connect: ConnectSettings
    warehouse_wait_seconds: float = 3600.0
    """How long `stripe-warehouse run` waits for another live run to release the warehouse before failing."""
    duckdb_lock_wait_seconds: float = 120.0
    """How long a step waits for another process (a duckdb shell, a BI tool) to close the DuckDB file before
    failing; DuckDB admits one writing process per file, and no reader beside a writer."""
    dagster_home: Path | None = None
    """DAGSTER_HOME: Dagster's run history, shared by `run`, `demo` and `ui`; None: the data folder's
    `dagster_home` (`dagster_home_path`)."""
    dbt_target_path: Path | None = None
    """DBT_TARGET_PATH (relative: to the project, as dbt reads it): dbt's prepared parse, under which each dbt
    step gets a folder of its own; None: the project's (orchestration/transform/project.py)."""
    sync_parallelism: int | None = None
    """STRIPE_SYNC_PARALLELISM: how many account syncs run at once as Dagster runs on Postgres; None: the
    default (orchestration/automation/concurrency.py). DuckDB takes one writer whatever it says."""
    schedules: dict[str, str] = field(default_factory=dict)
    """STRIPE_SYNC_CRON, STRIPE_RECONCILE_CRON and STRIPE_SCHEDULES as set (absent: their defaults), checked
    and read by orchestration/automation/cadence.py, which knows crons."""
    endpoint_requests_per_second: float | None = None
    """STRIPE_ENDPOINT_REQUESTS_PER_SECOND: requests per second to each API endpoint, per budget; None: derived
    from the account-wide rate (`endpoint_rate_limit_for`)."""
    rate_limit_budget: str = "key"
    """STRIPE_RATE_LIMIT_BUDGET: `key` (every account read with one key shares one budget: a platform key
    reading its connected accounts spends the platform's) or `account` (each account read has its own)."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        warehouse = env.get("WAREHOUSE", "duckdb").strip().lower()
        if warehouse not in ("duckdb", "postgres"):
            raise ConfigurationError(
                f"WAREHOUSE={warehouse!r} is not supported: set WAREHOUSE to 'duckdb' (default) or 'postgres'."
            )
        # dbt's target follows WAREHOUSE (profiles.yml); an older DBT_TARGET naming another warehouse would have
        # dbt build where nothing was loaded.
        dbt_target = env.get("DBT_TARGET", "").strip().lower()
        if dbt_target and dbt_target != warehouse:
            raise ConfigurationError(
                f"DBT_TARGET={dbt_target!r} but WAREHOUSE={warehouse!r}: dbt would build where nothing was loaded. "
                "Unset DBT_TARGET: dbt's target follows WAREHOUSE."
            )
        data_dir = Path(env.get("DATA_DIR", "data")).absolute()
        duckdb_path = Path(env.get("DUCKDB_PATH", str(data_dir / "warehouse.duckdb"))).absolute()
        return cls(
            stripe_api_base=env.get("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/"),
            stripe_credentials=_credentials_from_env(env),
            warehouse=warehouse,
            data_dir=data_dir,
            duckdb_path=duckdb_path,
            duckdb_memory_limit=env.get("DUCKDB_MEMORY_LIMIT", "128MB"),
            postgres=_postgres_settings(env),
            max_network_retries=int(env.get("STRIPE_MAX_NETWORK_RETRIES", "5")),
            requests_per_second=_rate(env, "STRIPE_REQUESTS_PER_SECOND", "90"),
            endpoint_requests_per_second=_rate(env, "STRIPE_ENDPOINT_REQUESTS_PER_SECOND", "22"),
            rate_limit_budget=_choice(env, "STRIPE_RATE_LIMIT_BUDGET", RATE_LIMIT_BUDGETS),
            concurrency=int(env.get("STRIPE_CONCURRENCY", "24")),
            connect=_connect_settings(env, data_dir),
            warehouse_wait_seconds=_seconds(env, "STRIPE_WAREHOUSE_WAIT_SECONDS", 3600.0),
            duckdb_lock_wait_seconds=_seconds(env, "DUCKDB_LOCK_WAIT_SECONDS", 120.0),
            dagster_home=Path(env["DAGSTER_HOME"]).absolute() if env.get("DAGSTER_HOME") else None,
            dbt_target_path=PROJECT_ROOT / env["DBT_TARGET_PATH"] if env.get("DBT_TARGET_PATH") else None,
            sync_parallelism=_positive_int(env, "STRIPE_SYNC_PARALLELISM"),
            schedules={name: env[name] for name in SCHEDULE_VARIABLES if env.get(name, "").strip()},
        )

    @property
    def dagster_home_path(self) -> Path:
        return self.dagster_home or self.data_dir / "dagster_home"

    @property
    def account_syncs_at_once(self) -> int:
        """How many account syncs run at once, each in a Dagster run of its own: STRIPE_SYNC_PARALLELISM
        (default 4) on Postgres; 1 on DuckDB, which one process writes at a time."""
        if self.warehouse != "postgres":
            return 1
        return self.sync_parallelism or DEFAULT_POSTGRES_PARALLELISM

    def rate_limit_for(self, credential: StripeCredential, *, one_account_run: bool = False) -> float:
        """Requests per second the budget of `credential` allows, across every endpoint.

        `one_account_run`: the sync reads this account alone, as the parallel runs of a Postgres warehouse do
        (`_runs_sharing`)."""
        # Stripe allows 100 requests/s in live mode and 25 in test mode, per account
        # (https://docs.stripe.com/rate-limits): a tenth less, for Stripe's clock and the platform's traffic.
        rate = self.requests_per_second or self._key_owner_rate(credential)
        return rate / self._runs_sharing(credential, one_account_run)

    def endpoint_rate_limit_for(self, credential: StripeCredential, *, one_account_run: bool = False) -> float:
        """Requests per second the budget of `credential` allows to any one endpoint.

        Stripe's default is 25 per endpoint (https://docs.stripe.com/rate-limits), a quarter of the live
        account-wide 100: 22 leaves the same headroom as 90 does. Where Stripe raised an account's limit
        (STRIPE_REQUESTS_PER_SECOND above 100), the endpoints are taken as raised alike, 22% of it. Split like
        the account-wide rate between parallel runs (`_runs_sharing`): four runs each reading their account's
        payouts at the endpoint's whole rate sent the platform four times it."""
        rate = self.endpoint_requests_per_second or max(
            22.0, 0.22 * (self.requests_per_second or self._key_owner_rate(credential))
        )
        return rate / self._runs_sharing(credential, one_account_run)

    @staticmethod
    def _key_owner_rate(credential: StripeCredential) -> float:
        return 90.0 if "_live_" in credential.api_key.value else 22.0

    def _runs_sharing(self, credential: StripeCredential, one_account_run: bool) -> int:
        """How many runs share the budget of `credential`: a platform key's budget (STRIPE_RATE_LIMIT_BUDGET=key)
        is split between the runs that may read its connected accounts at once, since a budget lives in one
        process and the runs do not see each other's."""
        if one_account_run and credential.stripe_account and self.rate_limit_budget == "key":
            return self.account_syncs_at_once
        return 1

    def budget_key(self, credential: StripeCredential) -> str:
        """Which rate budget `credential` spends; readers with the same key share one (context.py).

        Stripe counts its limits per account, and a platform key's requests for its connected accounts
        (`Stripe-Account`) share the platform's own traffic's limit: by default (`key`) every account read with
        one key shares that key's budget, and the platform's other traffic is the headroom below Stripe's
        limit. `account` gives each account read its own budget."""
        if self.rate_limit_budget == "account" and credential.known_account_id:
            return f"account:{credential.known_account_id}"
        return f"key:{hashlib.sha256(credential.api_key.value.encode()).hexdigest()[:16]}"

    def require_credentials(self) -> tuple[StripeCredential, ...]:
        if not self.stripe_credentials:
            raise ConfigurationError(
                "No Stripe account is configured: set STRIPE_API_KEY to a secret (sk_...) or restricted "
                "(rk_...) key of the account to load."
            )
        return self.stripe_credentials


def _postgres_settings(env: dict[str, str]) -> PostgresSettings:
    port = env.get("POSTGRES_PORT", "").strip() or "5432"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"POSTGRES_PORT={port!r} is not a port number: set it to e.g. 5432, or unset it.")
    return PostgresSettings(
        host=env.get("POSTGRES_HOST", "localhost"),
        port=int(port),
        user=env.get("POSTGRES_USER", "postgres"),
        password=Secret(env.get("POSTGRES_PASSWORD", "")),
        database=env.get("POSTGRES_DB", "stripe_warehouse"),
    )


def _positive_int(env: dict[str, str], name: str) -> int | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(f"{name}={value!r} is not a positive whole number: set it to e.g. 4, or unset it.")
    return int(value)


RATE_LIMIT_BUDGETS = ("key", "account")


def _rate(env: dict[str, str], name: str, example: str) -> float | None:
    """A positive number of requests per second, or None when unset (the default applies)."""
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not rate > 0 or rate == float("inf"):  # NaN is not > 0
        raise ConfigurationError(
            f"{name}={value!r} is not a number of requests per second: set it to e.g. {example}, or unset it."
        )
    return rate


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset)."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigurationError(
            f"{name}={env[name]!r} is not supported: set it to {' or '.join(repr(c) for c in choices)}, or unset it."
        )
    return value


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    try:
        seconds = float(value) if value else default
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise ConfigurationError(f"{name}={value!r} is not a number of seconds: set it to e.g. 600, or unset it.")
    return seconds


def _credentials_from_env(env: dict[str, str]) -> tuple[StripeCredential, ...]:
    key = env.get("STRIPE_API_KEY", "").strip()
    if not key:
        return ()
    if not key.startswith(("sk_", "rk_")):
        raise ConfigurationError(
            "STRIPE_API_KEY must be a secret key (sk_live_/sk_test_) or a restricted key (rk_live_/rk_test_); "
            "publishable keys (pk_) cannot read data."
        )
    # STRIPE_ACCOUNT_IDS: connected accounts a platform key reads, comma-separated (Stripe Connect).
    connected = [a.strip() for a in env.get("STRIPE_ACCOUNT_IDS", "").split(",") if a.strip()]
    if not connected:
        return (StripeCredential(api_key=Secret(key)),)
    return tuple(StripeCredential(api_key=Secret(key), stripe_account=acct) for acct in connected)


def _connect_settings(env: dict[str, str], data_dir: Path) -> ConnectSettings:
    def secret(name: str, default: str = "") -> Secret | None:
        value = env.get(name, "").strip() or default
        return Secret(value) if value else None

    # The platform is usually the account whose key STRIPE_API_KEY already holds.
    platform_key = secret("STRIPE_PLATFORM_KEY", env.get("STRIPE_API_KEY", "").strip())
    return ConnectSettings(
        connect_base=env.get("STRIPE_CONNECT_BASE", "https://connect.stripe.com").rstrip("/"),
        marketplace_base=env.get("STRIPE_MARKETPLACE_BASE", "https://marketplace.stripe.com").rstrip("/"),
        connect_client_id=env.get("STRIPE_CONNECT_CLIENT_ID", "").strip() or None,
        app_client_id=env.get("STRIPE_APP_CLIENT_ID", "").strip() or None,
        platform_key=platform_key,
        # A Stripe App's secret key is the secret key of the account that owns the app: by default the platform's.
        app_secret_key=secret("STRIPE_APP_SECRET_KEY") or platform_key,
        db_path=Path(env.get("CONNECTIONS_DB", str(data_dir / "connections.sqlite3"))).absolute(),
        key_path=data_dir / "connections.key",
        secret_key=secret("CONNECTIONS_SECRET_KEY"),
        admin_username=env.get("ADMIN_USERNAME", "admin").strip() or "admin",
        admin_password=secret("ADMIN_PASSWORD"),
        session_minutes=int(env.get("ADMIN_SESSION_MINUTES", "480")),
        admin_base_url=_base_url(env, "ADMIN_BASE_URL"),
    )


def _base_url(env: dict[str, str], name: str) -> str | None:
    """An http(s) origin, without a trailing slash: a scheme and a host, nothing after them."""
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a port that is no number
        valid = False
    if not valid or parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigurationError(
            f"{name}={value!r} is not the address the admin page is reached at: set it to e.g. "
            "https://admin.example.com (a scheme and a host, no path), or unset it."
        )
    return f"{parts.scheme}://{parts.netloc}"
