"""Every billing pattern of the simulator's catalogue, simulator → HTTP → dlt → dbt, against its own truth.

Two connected accounts of one platform hold every pattern of `orchestration.simulator.generate.patterns.PATTERNS`
(plus a few random customers). They share their plan, price and coupon ids, with different amounts: the second
is the first with every catalogue amount scaled. The ingester reads both over HTTP as it reads Stripe (the
connected accounts through `Stripe-Account`), dbt builds the MRR models with `mrr_as_of` at the accounts' clock,
and each pattern's customer-months must equal `expected_customer_mrr`, which the simulator computes from each
subscription's state timeline (status, items, prices, discounts with their start and end), never from the
invoices and events the models read. Movements and `mrr_monthly` must follow exactly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.pipeline import sync_accounts
from orchestration.settings import Settings
from orchestration.simulator import SimulatedAccount, SimulatorServer, generate_account
from orchestration.simulator.generate.patterns import PATTERNS
from orchestration.simulator.truth import expected_customer_mrr, expected_movements
from tests.transform.dbt_runner import run_dbt

NOW = 1773755100  # 2026-03-17 13:45:00 UTC: mid-month, so the current month is evaluated at `now`
CENT = 0.005
PLATFORM_KEY = "sk_test_patterns_platform_000"
SEED = 31
PRICE_SCALE = 1.5

CustomerMonth = tuple[str, str, date]


@pytest.fixture(scope="module")
def accounts() -> tuple[SimulatedAccount, SimulatedAccount]:
    first = generate_account(seed=SEED, customers=12, now=NOW, account_id="acct_patterns0000001")
    second = generate_account(
        seed=SEED, customers=12, now=NOW, account_id="acct_patterns0000002", price_scale=PRICE_SCALE
    )
    return first, second


@pytest.fixture(scope="module")
def warehouse(accounts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("mrr_patterns")
    platform = generate_account(seed=1, customers=2, now=NOW, account_id="acct_patternsplatform", patterns=False)
    with SimulatorServer([platform, *accounts], api_keys={PLATFORM_KEY: platform.account_id}) as server:
        settings = Settings.from_env(
            {
                "STRIPE_API_BASE": server.base_url,
                "STRIPE_API_KEY": PLATFORM_KEY,
                "STRIPE_ACCOUNT_IDS": ",".join(account.account_id for account in accounts),
                "STRIPE_REQUESTS_PER_SECOND": "1000",
                "DATA_DIR": str(run_dir / "data"),
                "DUCKDB_PATH": str(run_dir / "warehouse.duckdb"),
            }
        )
        report = sync_accounts(settings, now=NOW)
    assert report.failures == {}
    run_dbt(
        run_dir,
        run_dir / "target",
        "build",
        "--select",
        "+analytics__customer_mrr_monthly +analytics__mrr_monthly",
        "--indirect-selection",
        "cautious",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps({"mrr_as_of": NOW}),
    )
    return run_dir / "warehouse.duckdb"


def _query(database: Path, sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql, list(params)).fetchall()


def _months(database: Path, account: SimulatedAccount) -> tuple[dict[CustomerMonth, float], dict[CustomerMonth, str]]:
    rows = _query(
        database,
        "select customer_id, currency, month, mrr, movement from analytics.customer_mrr_monthly where account_id = ?",
        account.account_id,
    )
    return (
        {(customer, currency, month): float(mrr) for customer, currency, month, mrr, _ in rows},
        {(customer, currency, month): movement for customer, currency, month, _, movement in rows},
    )


def test_every_pattern_is_in_both_accounts(accounts):
    for account in accounts:
        assert set(account.patterns) == set(PATTERNS)
        assert all(account.patterns[name] for name in PATTERNS)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_pattern_mrr_equals_its_truth_to_the_cent(pattern, accounts, warehouse):
    for account in accounts:
        customers = set(account.patterns[pattern])
        truth = expected_customer_mrr(account, NOW)
        expected = {key: mrr for key, mrr in truth.items() if key[0] in customers}
        mrr, movements = _months(warehouse, account)
        actual = {key: value for key, value in mrr.items() if key[0] in customers}
        wrong = {
            key: (expected.get(key), actual.get(key))
            for key in expected.keys() | actual.keys()
            if key not in expected or key not in actual or abs(expected[key] - actual[key]) >= CENT
        }
        assert wrong == {}, f"{pattern} in {account.account_id}: (expected, actual) per customer-month"
        # Movements by mrr.md's rules over the customer's whole history (new, reactivation, churn...).
        expected_moves = expected_movements(truth)
        assert {key: movements.get(key) for key in expected} == {key: expected_moves[key] for key in expected}


def test_mrr_monthly_ties_out_with_the_truth_in_each_account(accounts, warehouse):
    for account in accounts:
        totals: dict[tuple[str, date], float] = defaultdict(float)
        for (_, currency, month), mrr in expected_customer_mrr(account, NOW).items():
            totals[(currency, month)] += mrr
        rows = _query(
            warehouse,
            """
            select currency, month, mrr, new_mrr, reactivation_mrr, expansion_mrr, contraction_mrr, churned_mrr,
                   net_new_mrr
            from analytics.mrr_monthly where account_id = ? order by currency, month
            """,
            account.account_id,
        )
        assert {(currency, month) for currency, month, *_ in rows} >= {key for key, total in totals.items() if total}
        previous: dict[str, float] = {}
        for currency, month, mrr, new, reactivation, expansion, contraction, churned, net_new in rows:
            assert abs(float(mrr) - totals.get((currency, month), 0.0)) < CENT, (account.account_id, currency, month)
            assert net_new == new + reactivation + expansion - contraction - churned
            assert abs(float(net_new) - (float(mrr) - previous.get(currency, 0.0))) < 1e-9
            previous[currency] = float(mrr)


def test_the_same_ids_with_other_amounts_stay_apart(accounts, warehouse):
    first, second = accounts
    # The accounts share their plan and coupon ids: a join that ignored the account would mix their amounts.
    ids = {
        account.account_id: {obj["id"] for name in ("plans", "coupons") for obj in account.objects[name]}
        for account in accounts
    }
    assert ids[first.account_id] == ids[second.account_id]
    totals = {
        account_id: float(total)
        for account_id, total in _query(
            warehouse,
            "select account_id, sum(mrr) from analytics.customer_mrr_monthly where currency = 'usd' group by 1",
        )
    }
    assert totals[second.account_id] > totals[first.account_id] * 1.2
