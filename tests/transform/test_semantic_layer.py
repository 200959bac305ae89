"""The semantic layer (dbt_project/models/semantic): MetricFlow's `mf` on the shared analytics build.

Its metrics are views of the marts, so the marts are their reference (the marts themselves are checked against the
simulator's ground truth in test_mrr_end_to_end and test_item_mrr): `mf query --metrics mrr --group-by
metric_time__month,currency,product`, summed over the products, must give analytics.mrr_monthly summed over the
accounts, to the last decimal; and by year every MRR metric must add up as its kind: MRR and customers at each
account's last month of the year, not the sum of its months (they are semi-additive), starting levels at its
first, movements summed. mf runs as an analyst runs it, in its own process, on a copy of the warehouse. Each run
costs about 10-15 s on a busy machine (it imports dbt and MetricFlow and checks the profile with `dbt debug`
before it reads the semantic manifest), hence three runs only.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.settings import PROJECT_ROOT
from tests.transform.analytics_build import query

MF = Path(sys.executable).with_name("mf")
# mrr comes from the subscription items' rows: by product, summed over the products, it must still be the mart.
MRR_GROUP_BY = "metric_time__month,currency,product"


@pytest.fixture(scope="module")
def mf_project(warehouse, tmp_path_factory) -> Path:
    """A folder mf takes for the dbt project: mf reads `<project>/target/semantic_manifest.json` (not the project's
    target-path), which the shared build wrote beside its warehouse, and runs on a copy of that warehouse (named
    alike: the DuckDB catalog, which the manifest names, is the file's name)."""
    database, _ = warehouse
    project = tmp_path_factory.mktemp("semantic")
    shutil.copy(database, project / "warehouse.duckdb")
    (project / "dbt_project.yml").symlink_to(PROJECT_ROOT / "dbt_project.yml")
    (project / "target").mkdir()
    shutil.copy(database.parent / "target" / "semantic_manifest.json", project / "target")
    return project


def mf(project: Path, *args: str) -> str:
    completed = subprocess.run(
        [str(MF), *args],
        cwd=project,
        env={
            **os.environ,
            "DBT_PROFILES_DIR": str(PROJECT_ROOT),
            "WAREHOUSE": "duckdb",
            "DUCKDB_PATH": str(project / "warehouse.duckdb"),
            "DBT_LOG_PATH": str(project / "logs"),
        },
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-5000:]
    return completed.stdout


def mf_query(project: Path, metrics: str, group_by: str) -> list[dict[str, str]]:
    output = project / f"by_{group_by.replace(',', '_')}.csv"
    mf(project, "query", "--metrics", metrics, "--group-by", group_by, "--csv", str(output), "--quiet")
    with output.open() as rows:
        return list(csv.DictReader(rows))


LEVELS = ("mrr", "customers")
STARTING_LEVELS = ("starting_mrr", "starting_customers")
FLOWS = (
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "new_customers",
    "reactivated_customers",
    "churned_customers",
)
RATES = {
    "arpa": ("mrr", "customers"),
    "customer_churn_rate": ("churned_customers", "starting_customers"),
    "gross_mrr_churn_rate": ("gross_churned_mrr", "starting_mrr"),
    "net_mrr_retention": ("retained_mrr", "starting_mrr"),
}


def mart_rows(database: Path) -> list[dict]:
    columns = ("account_id", "month", "currency", *LEVELS, *STARTING_LEVELS, *FLOWS)
    rows = query(database, f"select {', '.join(columns)} from analytics.mrr_monthly")
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_the_semantic_models_and_metrics_are_valid_and_run_on_the_warehouse(mf_project):
    # Besides the semantic checks, the warehouse checks run every dimension, entity, measure and metric's query.
    output = mf(mf_project, "validate-configs")
    assert "Successfully validated metrics against data warehouse" in output, output
    assert "ERRORS: 0, FUTURE_ERRORS: 0, WARNINGS: 0" in output, output


def test_monthly_mrr_by_product_adds_up_to_the_mart(warehouse, mf_project):
    database, _ = warehouse
    actual: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    products: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in mf_query(mf_project, "mrr", MRR_GROUP_BY):
        actual[(row["metric_time__month"][:10], row["currency"])] += Decimal(row["mrr"])
        products[(row["metric_time__month"][:10], row["currency"])].add(row["product"])
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in mart_rows(database):
        expected[(row["month"].isoformat(), row["currency"])] += row["mrr"]
    # The mart has a row at zero for a month without any customer's row; mf has no row for it.
    assert dict(actual) == {key: mrr for key, mrr in expected.items() if mrr or key in actual}
    # Both accounts' rows, several currencies, years of months: the comparison means something.
    assert len({currency for _, currency in actual}) >= 2
    assert len(actual) >= 24
    # Months whose MRR is split between products, keyed per account (account_id|product_id): the sum is a sum.
    assert max(len(names) for names in products.values()) >= 4
    assert all(product.count("|") == 1 for names in products.values() for product in names)


def test_every_mrr_metric_by_year_adds_up_as_its_kind(warehouse, mf_project):
    """By year: levels at each account's last month of the year, starting levels at its first, flows summed over
    the months, rates from those; every figure from the mart's columns summed over the accounts."""
    database, _ = warehouse
    rows = mart_rows(database)
    months: dict[tuple[str, int], list[date]] = defaultdict(list)
    for row in rows:
        months[(row["account_id"], row["month"].year)].append(row["month"])
    expected: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    summed_mrr: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        year_months = months[(row["account_id"], row["month"].year)]
        figures = expected[(row["month"].year, row["currency"])]
        summed_mrr[(row["month"].year, row["currency"])] += row["mrr"]
        for flow in FLOWS:
            figures[flow] += row[flow]
        if row["month"] == max(year_months):
            for level in LEVELS:
                figures[level] += row[level]
        if row["month"] == min(year_months):
            for level in STARTING_LEVELS:
                figures[level] += row[level]
    for figures in expected.values():
        figures["gross_churned_mrr"] = figures["churned_mrr"] + figures["contraction_mrr"]
        figures["retained_mrr"] = (
            figures["starting_mrr"] + figures["expansion_mrr"] - figures["contraction_mrr"] - figures["churned_mrr"]
        )

    metrics = [*LEVELS, *STARTING_LEVELS, *FLOWS, *RATES]
    actual = {
        (int(row["metric_time__year"][:4]), row["currency"]): row
        for row in mf_query(mf_project, ",".join(metrics), "metric_time__year,currency")
    }
    assert set(actual) == {key for key, figures in expected.items() if any(figures.values()) or key in actual}
    for key, row in actual.items():
        figures = expected[key]
        # A currency without any row in an account's first (or last) month of the year has no value there: null.
        assert {m: Decimal(row[m] or 0) for m in (*LEVELS, *STARTING_LEVELS, *FLOWS)} == {
            m: figures[m] for m in (*LEVELS, *STARTING_LEVELS, *FLOWS)
        }, key
        for rate, (numerator, denominator) in RATES.items():
            if figures[denominator] == 0:
                assert row[rate] == "", (key, rate)
            else:
                assert float(row[rate]) == pytest.approx(float(figures[numerator] / figures[denominator])), (key, rate)
    # Summing the months would give another MRR: the check tells a level from a flow.
    assert any(summed_mrr[key] != Decimal(row["mrr"]) for key, row in actual.items())
    assert any(Decimal(actual[key]["churned_customers"]) > 0 for key in actual)
