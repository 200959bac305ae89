"""analytics.<object>_segments: country, email domain and mode per customer, and metadata pivoted by a var.

Country and domain are checked against the simulator's customers and charges; metadata in the shared variant
build (variant_build), a copy of the shared warehouse whose raw customers and products are given metadata,
rebuilt with the var set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transform.analytics_build import ACCOUNT_A, query
from tests.transform.dbt_runner import run_dbt


def test_country_is_the_billing_address_else_the_latest_card(warehouse, account):
    database, _ = warehouse
    latest_card: dict[str, tuple[int, str]] = {}
    for charge in account.objects["charges"]:
        country = ((charge.get("payment_method_details") or {}).get("card") or {}).get("country")
        if charge["status"] == "succeeded" and charge.get("customer") and country:
            seen = latest_card.get(charge["customer"])
            if seen is None or (charge["created"], charge["id"]) > seen[:2]:
                latest_card[charge["customer"]] = (charge["created"], charge["id"], country)  # type: ignore[assignment]
    expected = {}
    for customer in account.objects["customers"]:
        address = (customer.get("address") or {}).get("country")
        card = latest_card.get(customer["id"])
        country = address or (card[2] if card else None)  # type: ignore[misc]
        source = "billing_address" if address else ("card" if card else None)
        email = customer.get("email")
        expected[customer["id"]] = (country and country.upper(), source, email.split("@")[1].lower() if email else None)
    rows = query(
        database,
        "select customer_id, country, country_source, email_domain from analytics.customer_segments"
        " where account_id = ?",
        ACCOUNT_A,
    )
    assert {customer: (country, source, domain) for customer, country, source, domain in rows} == expected
    # Both sources occur, or the fallback is untested.
    assert {source for _, source, _ in expected.values()} >= {"billing_address", "card"}


@pytest.fixture(scope="module")
def with_metadata(variant) -> tuple[Path, dict[str, dict[str, str]]]:
    """The variant build (variant_build), whose raw customers and a product carry metadata, built with the var."""
    return variant


def test_metadata_keys_become_typed_columns(with_metadata):
    run_dir, metadata = with_metadata
    database = run_dir / "warehouse.duckdb"
    types = dict(
        query(
            database,
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'analytics' and table_name = 'customer_segments'",
        )
    )
    assert (types["metadata_segment"], types["metadata_seats"], types["metadata_renewal_date"]) == (
        "VARCHAR",
        "BIGINT",
        "DATE",
    )
    rows = {
        row[0]: row[1:]
        for row in query(
            database,
            "select customer_id, metadata_segment, metadata_seats, cast(metadata_renewal_date as varchar)"
            " from analytics.customer_segments where account_id = ?",
            ACCOUNT_A,
        )
    }
    first, second, third = list(metadata)[:3]
    assert rows[first] == ("enterprise", 250, "2026-09-30")
    assert rows[second] == (None, 3, None)
    assert rows[third] == (None, None, None)
    assert sum(1 for values in rows.values() if any(v is not None for v in values)) == 2
    product = list(metadata)[3]
    tiers = query(database, "select account_id, product_id, metadata_tier from analytics.product_segments")
    assert {(account_id, product_id) for account_id, product_id, tier in tiers if tier} == {(ACCOUNT_A, product)}


def test_a_wrong_metadata_var_names_the_fix(with_metadata):
    run_dir, _ = with_metadata
    with pytest.raises(AssertionError) as failure:
        run_dbt(
            run_dir,
            run_dir / "target_bad_metadata",
            "compile",
            "--select",
            "analytics__customer_segments",
            "--vars",
            "{stripe_metadata_keys: {customer: {seats: money}}}",
        )
    assert "stripe_metadata_keys.customer.seats has type 'money'" in str(failure.value)
    assert "Fix the var" in str(failure.value)
