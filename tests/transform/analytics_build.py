"""The analytics build the transform tests share: a simulated account loaded twice, built once per session.

Account A is a generated account; account B holds the very same objects (same ids) under another account id,
plus a guest charge without a customer. Every per-account figure of B must therefore equal A's (plus the guest
charge): a join or a window without account_id would double them. B's account object was also loaded days
after its other tables, so the data-lag checks flag B, and only B, in the same build.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import orjson

from orchestration.simulator import SimulatedAccount, generate_account
from orchestration.simulator.templates import build
from tests.transform.dbt_runner import run_dbt
from tests.transform.raw_warehouse import StripeObjects, simulated_raw_objects, write_raw_tables

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOW = 1780272000  # 2026-06-01 00:00:00 UTC: the simulated accounts' clock
SYNCED_AT = datetime.fromtimestamp(NOW + 600, UTC)
# B's account object is loaded this much later than its tables. With the project's thresholds (warn 72 h,
# error 168 h) that puts events (newest minutes before the load) at warn and charges and invoices (newest about
# 14 h before it) at error.
B_ACCOUNT_LOADED_AT = SYNCED_AT + timedelta(hours=160)
ACCOUNT_A = "acct_1AnalyticsAaaaaA"
ACCOUNT_B = "acct_1AnalyticsBbbbbB"
GUEST_CHARGE = "ch_guest"
GUEST_AMOUNT, GUEST_FEE = 5000, 175

LAG_TABLES = ("charges", "invoices", "subscriptions", "events")
ANALYTICS_TABLES = (
    "payments",
    "invoices",
    "invoice_line_items",
    "customers",
    "customer_revenue",
    "subscriptions",
    "daily_overview",
    "customer_mrr_monthly",
    "mrr_monthly",
    "mrr_monthly_reporting",
    "revenue_monthly_reporting",
    "balance_transactions",
    "payout_items",
    "payouts",
    "customer_segments",
    "subscription_segments",
    "product_segments",
    "price_segments",
    "trials",
    "trials_monthly",
    "dunning_invoices",
    "dunning_monthly",
    "subscription_churn",
    "churn_reasons_monthly",
    "refunds_monthly",
    "disputes_monthly",
    "subscription_item_mrr_monthly",
    "customer_cohorts",
    "revenue_retention_monthly",
    "customer_lifecycle",
)


def add_guest_charge(objects: StripeObjects, account_id: str, created: int) -> None:
    """A one-off card payment without a customer, and its balance transaction."""
    txn = f"txn_{GUEST_CHARGE}"
    charge = build(
        "charge",
        id=GUEST_CHARGE,
        customer=None,
        invoice=None,
        payment_intent=None,
        amount=GUEST_AMOUNT,
        amount_captured=GUEST_AMOUNT,
        amount_refunded=0,
        currency="usd",
        balance_transaction=txn,
        created=created,
    )
    balance = build(
        "balance_transaction",
        id=txn,
        source=GUEST_CHARGE,
        type="charge",
        reporting_category="charge",
        currency="usd",
        amount=GUEST_AMOUNT,
        fee=GUEST_FEE,
        net=GUEST_AMOUNT - GUEST_FEE,
        exchange_rate=None,
        created=created,
        available_on=created + 2 * 86400,
    )
    objects["charges"][account_id].append(charge)
    objects["balance_transactions"][account_id].append(balance)


def analytics_account() -> SimulatedAccount:
    """Account A: a generated account of 80 customers on the simulated clock NOW."""
    return generate_account(seed=7, customers=80, now=NOW, account_id=ACCOUNT_A)


def latest_sale_created(account: SimulatedAccount) -> int:
    """The guest charge is made with the account's latest sale, so that its day has sales of both accounts."""
    return max(b["created"] for b in account.objects["balance_transactions"] if b["type"] == "charge")


NodeStatuses = dict[str, tuple[str, int | None]]
"""Each dbt node's status and failures (the rows a test returned), by unique id."""


def build_analytics_warehouse(
    run_dir: Path, account: SimulatedAccount, guest_created: int
) -> tuple[Path, NodeStatuses]:
    """The DuckDB file after `dbt build`, and the status of every node."""
    objects = simulated_raw_objects(account, [ACCOUNT_A, ACCOUNT_B])
    add_guest_charge(objects, ACCOUNT_B, guest_created)
    database = run_dir / "warehouse.duckdb"
    write_raw_tables(database, objects, SYNCED_AT)
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "update stripe_raw.accounts set synced_at = ? where account_id = ?", (B_ACCOUNT_LOADED_AT, ACCOUNT_B)
        )
    # MRR as of the load, as a production build right after its sync: the simulated accounts stop at NOW, and a
    # month after it would be an extrapolation of states Stripe has not reached yet.
    # The build fails, as it should: the data-lag error test fails on account B.
    as_of = json.dumps({"mrr_as_of": int(SYNCED_AT.timestamp())})
    return database, dbt_statuses(run_dir, "build", "--vars", as_of, expect_success=False)


def dbt_statuses(run_dir: Path, *args: str, expect_success: bool = True) -> NodeStatuses:
    """Runs dbt on run_dir/warehouse.duckdb; each node's status and failures (the rows a test returned)."""
    target = run_dir / "target"
    # DuckDB runs many small statements faster side by side than the profile's two threads. The unit tests pin
    # the models' logic on fixed inputs, whatever the data: test_dbt_build's full build runs them.
    run_dbt(
        run_dir,
        target,
        *args,
        "--exclude-resource-type",
        "unit_test",
        "--threads",
        "8",
        expect_success=expect_success,
    )
    results = orjson.loads((target / "run_results.json").read_bytes())["results"]
    return {r["unique_id"]: (r["status"], r["failures"]) for r in results}


def query(database: Path, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql, params).fetchall()


def day_of(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()
