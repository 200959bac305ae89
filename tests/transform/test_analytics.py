"""Builds the analytics marts on a simulated Stripe account loaded twice, and checks them against its objects.

Account A is a generated account; account B holds the very same objects (same ids) under another account id,
plus a guest charge without a customer. Every per-account figure of B must therefore equal A's (plus the guest
charge): a join or a window without account_id would double them, which is how multi-account totals went wrong
elsewhere (fivetran/dbt_stripe#155). The expected numbers are computed here in Python from the simulator's
objects, not from SQL.

B's account object was also loaded days after its other tables, as when a sync reaches the account but its
tables stop loading: the data-lag checks must flag B, and only B, in the same build.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import yaml

from tests.transform.analytics_build import (
    ACCOUNT_A,
    ACCOUNT_B,
    ANALYTICS_TABLES,
    B_ACCOUNT_LOADED_AT,
    GUEST_AMOUNT,
    GUEST_FEE,
    LAG_TABLES,
    PROJECT_ROOT,
    SYNCED_AT,
    day_of,
    query,
)


def test_build_passes_every_model_and_test_but_the_lag_checks(warehouse, account):
    database, statuses = warehouse
    others = {node: s for node, (s, _) in statuses.items() if s not in ("success", "pass")}
    # A customer deleted before the first sync is never listed by Stripe, while its subscriptions, invoices and
    # charges still name it: the relationship tests to customers warn (their severity), and nothing else.
    orphans = {node: s for node, s in others.items() if "relationships_per_account" in node and "customer_id" in node}
    assert set(orphans.values()) == {"warn"}
    assert {node: s for node, s in others.items() if node not in orphans} == {
        "test.stripe_warehouse.stripe_data_lag_within_warn_threshold": "warn",
        "test.stripe_warehouse.stripe_data_lag_within_error_threshold": "fail",
    }
    unlisted = query(
        database,
        """
        select distinct customer_id from stripe.subscriptions where account_id = ?
            and customer_id not in (select customer_id from stripe.customers where account_id = ?)
        """,
        ACCOUNT_A,
        ACCOUNT_A,
    )
    assert {customer for (customer,) in unlisted} == set(account.patterns["deleted_customer"])
    analytics = [node for node in statuses if node.startswith("model.") and ".analytics__" in node]
    assert len(analytics) == len(ANALYTICS_TABLES)
    assert any(node.startswith("test.") and "payments_reconcile" in node for node in statuses)
    assert any(node.startswith("test.") and "stripe_data_lag_within_error" in node for node in statuses)


def test_every_table_in_schema_analytics_under_its_plain_name(warehouse):
    database, _ = warehouse
    rows = query(database, "select table_name from information_schema.tables where table_schema = 'analytics'")
    assert set(ANALYTICS_TABLES) <= {name for (name,) in rows}


def test_payments_one_row_per_charge_and_fees_from_balance(warehouse, account):
    database, _ = warehouse
    charges = account.objects["charges"]
    counts = dict(query(database, "select account_id, count(*) from analytics.payments group by 1"))
    assert counts == {ACCOUNT_A: len(charges), ACCOUNT_B: len(charges) + 1}

    balances = {b["id"]: b for b in account.objects["balance_transactions"]}
    fees = Counter()
    for charge in charges:
        if charge["balance_transaction"]:
            fees[balances[charge["balance_transaction"]]["currency"]] += balances[charge["balance_transaction"]]["fee"]
    rows = query(
        database,
        "select settlement_currency, sum(fee) from analytics.payments where account_id = ? group by 1",
        ACCOUNT_A,
    )
    assert {c: n for c, n in rows if c is not None} == dict(fees)

    # Settled in its own currency, a payment settled exactly what it captured.
    unconverted = sum(
        1
        for c in charges
        if c["balance_transaction"] and balances[c["balance_transaction"]]["currency"] == c["currency"]
    )
    rows = query(
        database,
        """
        select count(*), count(case when amount_settled = amount_captured then 1 end) from analytics.payments
        where account_id = ? and settlement_currency = currency
    """,
        ACCOUNT_A,
    )
    assert rows == [(unconverted, unconverted)]

    statuses = Counter(c["status"] for c in charges)
    rows = query(database, "select status, count(*) from analytics.payments where account_id = ? group by 1", ACCOUNT_A)
    assert dict(rows) == dict(statuses)


def test_payments_find_their_invoice_through_invoice_payments(warehouse, account):
    """A charge names no invoice since 2025-03-31: the invoice payment of its payment intent does.

    With stripe.invoice_payments loaded, that holds for every payment, not only those of the events kept.
    """
    database, _ = warehouse
    invoice_payments = account.listable("invoice_payments")
    assert invoice_payments, "the simulated account should have invoice payments"
    invoice_of_intent: dict[str, str] = {}
    # The paid invoice payment of a payment intent wins over the others, then the default one.
    for payment in sorted(invoice_payments, key=lambda p: (p["status"] == "paid", bool(p["is_default"]))):
        invoice_of_intent[payment["payment"]["payment_intent"]] = payment["invoice"]
    subscription_of_invoice = {
        i["id"]: (i["parent"] or {}).get("subscription_details", {}).get("subscription")
        for i in account.objects["invoices"]
    }
    expected = {
        c["id"]: (
            invoice_of_intent[c["payment_intent"]],
            subscription_of_invoice[invoice_of_intent[c["payment_intent"]]],
        )
        for c in account.objects["charges"]
        if c["payment_intent"] in invoice_of_intent
    }
    rows = query(
        database,
        """
        select charge_id, invoice_id, subscription_id from analytics.payments
        where account_id = ? and invoice_id is not null
    """,
        ACCOUNT_A,
    )
    assert {charge: (invoice, sub) for charge, invoice, sub in rows} == expected

    # Every succeeded payment of a subscription invoice has its invoice, however old it is (the events kept
    # reach back 30 days only).
    subscription_invoices = {i for i, sub in subscription_of_invoice.items() if sub is not None}
    paid_intents = {p["payment"]["payment_intent"] for p in invoice_payments if p["invoice"] in subscription_invoices}
    succeeded = {c["id"] for c in account.objects["charges"] if c["status"] == "succeeded"}
    subscription_payments = {c["id"] for c in account.objects["charges"] if c["payment_intent"] in paid_intents}
    assert succeeded & subscription_payments, "the simulated account should have paid subscription invoices"
    linked = {charge for charge, _, sub in rows if sub is not None}
    assert succeeded & subscription_payments <= linked
    oldest_event = min(e["created"] for e in account.objects["events"])
    assert any(
        c["created"] < oldest_event for c in account.objects["charges"] if c["id"] in succeeded & subscription_payments
    ), "some linked payments should be older than the events kept"


def test_daily_gross_volume_is_the_days_sales(warehouse, account, guest_created):
    database, _ = warehouse
    day = day_of(guest_created)
    currency = "usd"  # the account's balance currency, whatever the currencies its charges were made in
    sales = [
        b
        for b in account.objects["balance_transactions"]
        if b["type"] in ("charge", "payment") and b["currency"] == currency and day_of(b["created"]) == day
    ]
    assert sales, "the chosen day should have sales"
    rows = query(
        database,
        """
        select account_id, gross_volume, fees, successful_payments from analytics.daily_overview
        where currency = ? and date = ? order by account_id
    """,
        currency,
        day,
    )
    gross, fees = sum(b["amount"] for b in sales), sum(b["fee"] for b in sales)
    assert rows == [
        (ACCOUNT_A, gross, fees, len(sales)),
        (ACCOUNT_B, gross + GUEST_AMOUNT, fees + GUEST_FEE, len(sales) + 1),
    ]


def test_daily_overview_totals_stay_per_account_and_tie_to_the_balance(warehouse, account):
    database, _ = warehouse
    balances = account.objects["balance_transactions"]
    gross = sum(b["amount"] for b in balances if b["type"] in ("charge", "payment"))
    refunds = -sum(b["amount"] for b in balances if b["type"] in ("refund", "payment_refund"))
    payouts = -sum(b["amount"] for b in balances if b["type"].startswith("payout"))
    net = sum(b["net"] for b in balances if not b["type"].startswith("payout"))
    failed = sum(1 for c in account.objects["charges"] if c["status"] == "failed")
    disputes = len(account.objects["disputes"])
    customers = len(account.objects["customers"])
    rows = query(
        database,
        """
        select account_id, sum(gross_volume), sum(refunds), sum(payouts), sum(net_volume),
               sum(failed_payments), sum(disputes), sum(new_customers)
        from analytics.daily_overview group by 1 order by 1
    """,
    )
    assert rows == [
        (ACCOUNT_A, gross, refunds, payouts, net, failed, disputes, customers),
        (
            ACCOUNT_B,
            gross + GUEST_AMOUNT,
            refunds,
            payouts,
            net + GUEST_AMOUNT - GUEST_FEE,
            failed,
            disputes,
            customers,
        ),
    ]


def test_daily_overview_has_every_day_up_to_the_last_load(warehouse):
    database, _ = warehouse
    rows = query(
        database,
        """
        select account_id, currency, count(*), min(date), max(date), count(distinct date)
        from analytics.daily_overview group by 1, 2
    """,
    )
    assert {account_id for account_id, *_ in rows} == {ACCOUNT_A, ACCOUNT_B}
    for account_id, _, n, first, last, distinct in rows:
        assert n == distinct == (last - first).days + 1
        assert last == (SYNCED_AT if account_id == ACCOUNT_A else B_ACCOUNT_LOADED_AT).date()


def test_customers_keep_the_never_charged_and_sum_per_currency(warehouse, account):
    database, _ = warehouse
    charges = account.objects["charges"]
    charged = {c["customer"] for c in charges}
    never_charged = [c["id"] for c in account.objects["customers"] if c["id"] not in charged]
    assert never_charged, "the simulated account should have customers who never paid"
    rows = query(
        database,
        """
        select customer_id, total_paid, payment_currency_count, first_payment_at from analytics.customers
        where account_id = ? and customer_id in (select unnest(?))
    """,
        ACCOUNT_A,
        never_charged,
    )
    assert sorted(rows) == sorted((c, 0, 0, None) for c in never_charged)

    paid: dict[tuple[str, str], int] = Counter()
    for c in charges:
        if c["status"] == "succeeded":
            paid[(c["customer"], c["currency"])] += c["amount_captured"]
    revenue = query(
        database,
        """
        select customer_id, currency, total_paid from analytics.customer_revenue
        where account_id = ? and total_paid > 0
    """,
        ACCOUNT_A,
    )
    assert {(c, cur): n for c, cur, n in revenue} == dict(paid)
    currencies = Counter(customer for customer, _ in paid)
    rows = dict(
        query(database, "select customer_id, total_paid from analytics.customers where account_id = ?", ACCOUNT_A)
    )
    # A customer deleted before the first sync keeps its revenue above, but has no customers row: Stripe no
    # longer lists it.
    listed = {c["id"] for c in account.objects["customers"]}
    for (customer, _), total in paid.items():
        assert customer in rows or customer not in listed
        if customer in rows:
            assert rows[customer] == (total if currencies[customer] == 1 else None)


def test_payments_without_a_customer_are_kept(warehouse):
    database, _ = warehouse
    assert query(
        database,
        "select account_id, currency, total_paid, successful_payment_count from analytics.customer_revenue "
        "where customer_id is null",
    ) == [(ACCOUNT_B, "usd", GUEST_AMOUNT, 1)]
    # customer_revenue adds up to payments, account by account.
    rows = query(
        database,
        """
        select p.account_id, p.paid, r.paid from (
            select account_id, sum(amount_captured) as paid from analytics.payments
            where status = 'succeeded' group by 1
        ) as p
        join (select account_id, sum(total_paid) as paid from analytics.customer_revenue group by 1) as r
            on r.account_id = p.account_id
    """,
    )
    assert len(rows) == 2 and all(p == r for _, p, r in rows)


def test_invoices_and_subscriptions(warehouse, account):
    database, _ = warehouse
    invoices = account.objects["invoices"]
    lines = Counter(line["invoice"] for line in account.objects["invoice_line_items"])
    rows = query(
        database,
        "select invoice_id, line_item_count, days_to_pay from analytics.invoices where account_id = ?",
        ACCOUNT_A,
    )
    assert {i: n for i, n, _ in rows} == {i["id"]: lines[i["id"]] for i in invoices}
    for invoice_id, _, days in rows:
        invoice = next(i for i in invoices if i["id"] == invoice_id)
        paid_at = invoice["status_transitions"]["paid_at"]
        if paid_at is None:
            assert days is None
        else:
            issued = invoice["status_transitions"]["finalized_at"] or invoice["created"]
            assert abs(days - Decimal(paid_at - issued) / 86400) < Decimal("0.0001")

    totals: dict[str, int] = Counter()
    counts: dict[str, int] = Counter()
    for invoice in invoices:
        subscription = ((invoice["parent"] or {}).get("subscription_details") or {}).get("subscription")
        if subscription:
            totals[subscription] += invoice["amount_paid"]
            counts[subscription] += 1
    rows = query(
        database,
        "select subscription_id, invoice_count, total_paid from analytics.subscriptions where account_id = ?",
        ACCOUNT_A,
    )
    assert len(rows) == len(account.objects["subscriptions"])
    assert {s: (n, t) for s, n, t in rows} == {
        s["id"]: (counts[s["id"]], totals[s["id"]]) for s in account.objects["subscriptions"]
    }


def test_current_mrr_of_customers_is_that_of_their_subscriptions(warehouse):
    database, _ = warehouse
    rows = query(
        database,
        """
        select account_id, currency, sum(current_mrr) from analytics.subscriptions
        where current_mrr <> 0 group by 1, 2
        except
        select account_id, mrr_currency, sum(current_mrr) from analytics.customers
        where mrr_currency is not null group by 1, 2
    """,
    )
    assert rows == []
    assert query(database, "select count(*) from analytics.subscriptions where current_mrr > 0")[0][0] > 0


def _lag_thresholds() -> dict[str, tuple[float, float]]:
    """The project's warn and error hours per key table (dbt_project.yml vars)."""
    variables = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    per_table = variables["stripe_data_lag_table_hours"]
    default = {"warn": variables["stripe_data_lag_warn_hours"], "error": variables["stripe_data_lag_error_hours"]}
    return {t: (per_table.get(t, default)["warn"], per_table.get(t, default)["error"]) for t in LAG_TABLES}


def test_data_lag_flags_the_account_whose_tables_stopped_loading(warehouse, account):
    database, statuses = warehouse
    thresholds = _lag_thresholds()
    expected = {}
    for account_id, loaded_at in ((ACCOUNT_A, SYNCED_AT), (ACCOUNT_B, B_ACCOUNT_LOADED_AT)):
        for table in LAG_TABLES:
            lag = (loaded_at.timestamp() - max(o["created"] for o in account.objects[table])) / 3600
            warn, error = thresholds[table]
            status = "ok" if lag <= warn else "warn" if lag <= error else "error"
            expected[account_id, table] = (status, loaded_at.replace(tzinfo=None))
    rows = query(database, "select account_id, table_name, status, last_loaded_at from monitoring.stripe_data_lag")
    assert {(a, t): (s, loaded) for a, t, s, loaded in rows} == expected
    # A is fresh; B has a table in each state the checks act on.
    assert {s for (a, _), (s, _) in expected.items() if a == ACCOUNT_A} == {"ok"}
    assert {"warn", "error"} <= {s for (a, _), (s, _) in expected.items() if a == ACCOUNT_B}

    flagged = [s for (a, _), (s, _) in expected.items() if a == ACCOUNT_B and s != "ok"]
    warn_test = statuses["test.stripe_warehouse.stripe_data_lag_within_warn_threshold"]
    error_test = statuses["test.stripe_warehouse.stripe_data_lag_within_error_threshold"]
    assert warn_test == ("warn", len(flagged))
    assert error_test == ("fail", flagged.count("error"))


def test_data_lag_newest_object_per_table(warehouse, account):
    database, _ = warehouse
    newest = query(
        database,
        "select newest_created_at from monitoring.stripe_data_lag where account_id = ? and table_name = 'charges'",
        ACCOUNT_A,
    )
    assert newest == [
        (datetime.fromtimestamp(max(c["created"] for c in account.objects["charges"]), UTC).replace(tzinfo=None),)
    ]
