"""In a real headless Chromium: the Dagster UI started by `stripe-warehouse ui` shows the lineage from the
ingestion assets to the marts, and a materialization launched from it succeeds against the simulator."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager, suppress

import pytest
from dagster import DagsterInstance
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from orchestration.automation.concurrency import write_instance_config
from orchestration.automation.partitions import STRIPE_ACCOUNTS
from orchestration.settings import PROJECT_ROOT
from orchestration.simulator import SimulatorServer

API_KEY = "sk_test_ui_0123456789"
LOCATION = "orchestration.definitions"
START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 300

RUNS_QUERY = "{ runsOrError { ... on Runs { results { runId status } } } }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dagster_ui(env: dict[str, str], port: int, log_path):
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(PROJECT_ROOT / ".venv/bin/stripe-warehouse"), "ui", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the webserver, daemon and code servers go with it
        )
    try:
        yield process
    finally:
        # `dagster dev` shuts its children down on SIGINT; what is left after a while is killed.
        os.killpg(process.pid, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    tail = log_path.read_text()[-3000:] if log_path else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_ui_shows_the_graph_and_materializes_an_ingestion_asset(page, fast_tmp_path, tmp_path, simulated_account):
    account = simulated_account.account_id
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The instance (SQLite, written by the webserver, the daemon and the run) and the warehouse in memory.
    home = fast_tmp_path / "dagster_home"
    home.mkdir()
    log_path = tmp_path / "ui.log"
    with SimulatorServer([simulated_account], api_keys={API_KEY: account}) as simulator:
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("DUCKDB_PATH", "STRIPE_ACCOUNT_IDS", "WAREHOUSE")},
            "DATA_DIR": str(fast_tmp_path / "data"),
            "DAGSTER_HOME": str(home),
            "STRIPE_API_BASE": simulator.base_url,
            "STRIPE_API_KEY": API_KEY,
            "DBT_TARGET": "duckdb",
            # No sensor or schedule launching runs of its own: the one run is the one launched below.
            "STRIPE_SCHEDULES": "off",
        }
        # The account's partition, as the accounts sensor adds it.
        write_instance_config(home)
        with DagsterInstance.from_config(str(home)) as instance:
            instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, [account])

        with dagster_ui(env, port, log_path):
            wait_for(lambda: responds(f"{base}/server_info"), START_TIMEOUT_S, "the Dagster UI", log_path)

            # The lineage graph upstream of a mart reaches the ingestion asset that loads its table. stripe/accounts:
            # the tables of objects with a livemode also read stripe/events (the livemode filter), whose own
            # lineage then fills the view.
            page.set_default_timeout(90_000)
            page.goto(f"{base}/assets/stripe/accounts?view=lineage&lineageScope=upstream&lineageDepth=2")
            _skip_welcome(page)
            # Its groups (layers), the staging model between, and the ingestion asset with its kinds.
            for text in ("stripe_ingest", "stripe_staging", "stg_stripe__accounts", "dlt", "Stripe"):
                page.get_by_text(text, exact=True).first.wait_for()
            page.goto(f"{base}/assets/analytics/mrr_monthly?view=lineage&lineageScope=upstream&lineageDepth=1")
            for text in ("analytics", "customer_mrr_monthly"):
                page.get_by_text(text, exact=True).first.wait_for()

            # Materialize stripe_raw/coupons for every (the one) account partition.
            page.goto(f"{base}/assets/stripe_raw/coupons")
            _skip_welcome(page)
            page.get_by_role("button", name="Materialize…").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_role("button", name="All", exact=True).click()
            dialog.get_by_text(re.compile(r"^1 partitions?$")).first.wait_for()
            # "Launch backfill", or "Launch 1 run": wording follows the selection.
            dialog.get_by_role("button", name=re.compile(r"^Launch")).click()

            def finished_runs():
                runs = graphql(base, RUNS_QUERY)["runsOrError"]["results"]
                done = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
                return done if done and len(done) == len(runs) else None

            runs = wait_for(finished_runs, RUN_TIMEOUT_S, "the materialization launched from the UI", log_path)
            assert [r["status"] for r in runs] == ["SUCCESS"], runs

            # The asset page shows what the ingestion reported.
            page.goto(f"{base}/assets/stripe_raw/coupons")
            page.get_by_text("objects_read").first.wait_for()


def _skip_welcome(page) -> None:
    """The first visit opens a community sign-up dialog over the page."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
    except PlaywrightTimeout:  # not shown: nothing to close
        return
    skip.click()
