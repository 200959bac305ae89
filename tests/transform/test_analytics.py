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

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import yaml

from orchestration.settings import Settings
from orchestration.simulator.currencies import exponent
from orchestration.simulator.truth import expected_customer_mrr
from orchestration.transform.mrr_report import mrr_metadata
from tests.transform.analytics_build import (
    ACCOUNT_A,
    ACCOUNT_B,
    ANALYTICS_TABLES,
    B_ACCOUNT_LOADED_AT,
    GUEST_AMOUNT,
    GUEST_FEE,
    LAG_TABLES,
    NOW,
    PROJECT_ROOT,
    SYNCED_AT,
    day_of,
    query,
)


def test_build_passes_every_model_and_test_but_the_lag_checks(warehouse, account):
    database, statuses = warehouse
    # An exposure builds nothing: dbt reports it as no-op.
    others = {
        node: s
        for node, (s, _) in statuses.items()
        if s not in ("success", "pass") and not (node.startswith("exposure.") and s == "no-op")
    }
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


def _minor_unit(amount: Decimal, currency: str) -> Decimal:
    """An amount in major units rounded half away from zero to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_UP)


def test_arr_and_arpa_are_rounded_to_the_minor_unit_and_mrr_keeps_six_decimals(warehouse, account):
    """ARR is 12 × MRR and ARPA MRR per customer, from the simulator's prices, to the cent (whole yen, fils).

    Months before the simulated clock's are complete whatever instant the build evaluates the current month at.
    """
    database, _ = warehouse
    truth = expected_customer_mrr(account, NOW)
    current = day_of(NOW).replace(day=1)
    totals: dict[tuple[str, date], list[Decimal]] = defaultdict(list)
    for (_, currency, month), mrr in truth.items():
        if month < current and mrr > 0:
            # The models round each monthly price to 6 decimals, once.
            totals[(currency, month)].append(Decimal(mrr).quantize(Decimal("0.000001")))
    expected = {
        key: (_minor_unit(12 * sum(mrrs), key[0]), _minor_unit(sum(mrrs) / len(mrrs), key[0]))
        for key, mrrs in totals.items()
    }
    assert {currency for currency, _ in expected} >= {"usd", "jpy", "kwd"}
    # Some months' 12 × MRR is not a whole number of minor units: the rounding is needed there.
    assert any(12 * sum(totals[key]) != arr for key, (arr, _) in expected.items())

    for account_id in (ACCOUNT_A, ACCOUNT_B):
        rows = query(
            database,
            "select currency, month, mrr, arr, arpa from analytics.mrr_monthly where account_id = ? and month < ?",
            account_id,
            current,
        )
        actual = {(currency, month): (arr, arpa) for currency, month, _, arr, arpa in rows if arpa is not None}
        assert actual == expected
        for currency, month, mrr, arr, _ in rows:
            # MRR itself is not rounded to the minor unit: its 6 decimals sum up exactly.
            assert abs(12 * mrr - arr) < Decimal(1).scaleb(-exponent(currency)), (currency, month)
    mrr_decimals = query(database, "select count(*) from analytics.mrr_monthly where mrr <> round(mrr, 2)")
    assert mrr_decimals[0][0] > 0


def test_mrr_marts_say_which_month_is_partial_and_as_of_when(warehouse):
    database, _ = warehouse
    for table in ("mrr_monthly", "customer_mrr_monthly"):
        rows = query(
            database,
            f"""
            select account_id, min(as_of_at), max(as_of_at), max(month),
                   count(distinct case when is_partial_month then month end),
                   min(case when is_partial_month then month end)
            from analytics.{table} group by 1 order by 1
            """,
        )
        assert [r[0] for r in rows] == [ACCOUNT_A, ACCOUNT_B]
        for _, first_as_of, last_as_of, last_month, partial_months, partial_month in rows:
            # One instant for the whole account: the build's mrr_as_of, the instant of the load.
            assert first_as_of == last_as_of == SYNCED_AT.replace(tzinfo=None)
            # The month of that instant is the last one, and the only one partial.
            assert last_month == partial_month == last_as_of.date().replace(day=1)
            assert partial_months == 1
    columns = query(
        database,
        """
        select table_name, list(column_name order by ordinal_position)[-2:] from information_schema.columns
        where table_schema = 'analytics' and table_name in ('mrr_monthly', 'customer_mrr_monthly') group by 1
        """,
    )
    assert dict(columns) == {t: ["is_partial_month", "as_of_at"] for t in ("mrr_monthly", "customer_mrr_monthly")}


def test_invoice_lines_carry_unit_amount_in_both_units_and_their_names(warehouse, account):
    database, _ = warehouse
    products = {p["id"]: p["name"] for p in account.objects["products"]}
    prices = {p["id"]: p["nickname"] for p in account.objects["prices"]}
    expected = {}
    for line in account.objects["invoice_line_items"]:
        details = line["pricing"]["price_details"]
        unit = line["pricing"]["unit_amount_decimal"]
        expected[line["id"]] = (
            Decimal(unit) if unit is not None else None,
            products.get(details["product"]),
            prices.get(details["price"]),
        )
    rows = query(
        database,
        """
        select line_item_id, currency, unit_amount, unit_amount_decimal, product_name, price_nickname
        from analytics.invoice_line_items where account_id = ?
        """,
        ACCOUNT_A,
    )
    assert {i: (unit, product, price) for i, _, unit, _, product, price in rows} == expected
    fractional = [unit for _, _, unit, _, _, _ in rows if unit is not None and unit != unit.to_integral_value()]
    assert fractional, "the simulated account should have lines priced in fractions of a cent"
    for _, currency, unit, unit_decimal, _, _ in rows:
        if unit is not None:
            # unit_amount is in minor units (as Stripe's unit_amount_decimal), unit_amount_decimal in major units.
            assert abs(unit_decimal * 10 ** exponent(currency) - unit) < Decimal("0.000001") * 10 ** exponent(currency)


def test_subscriptions_name_their_products_and_plans(warehouse, account):
    database, _ = warehouse
    products = {p["id"]: p["name"] for p in account.objects["products"]}
    items: dict[str, list[dict]] = defaultdict(list)
    for item in account.objects["subscription_items"]:
        items[item["subscription"]].append(item)
    expected = {}
    for subscription in account.objects["subscriptions"]:
        own = items[subscription["id"]]
        product_ids = {item["price"]["product"] for item in own}
        expected[subscription["id"]] = (
            product_ids.pop() if len(product_ids) == 1 else None,
            ", ".join(sorted({products[item["price"]["product"]] for item in own})) or None,
            ", ".join(sorted({item["price"]["nickname"] for item in own if item["price"]["nickname"]})) or None,
            len(own),
        )
    assert any(n > 1 for *_, n in expected.values()), "the simulated account should have add-ons"
    for account_id in (ACCOUNT_A, ACCOUNT_B):
        rows = query(
            database,
            """
            select subscription_id, product_id, product_name, price_nickname, item_count
            from analytics.subscriptions where account_id = ?
            """,
            account_id,
        )
        assert {s: tuple(values) for s, *values in rows} == expected


MONEY_COLUMN = re.compile(
    r"amount|total|paid|refund|discount|tax|fee|net|mrr|arr|arpa|balance|volume|adjustment|payout"
)
"""Names of money columns (amounts, sums, MRR figures) among the bigint and numeric ones; NOT_MONEY: counts, rates."""
NOT_MONEY = re.compile(r"(^|_)(count|customers|payments|disputes|refunds|rate|retention|retention_12m)$|feedback")


def _docs_blocks() -> dict[str, str]:
    blocks = {}
    for path in (PROJECT_ROOT / "dbt_project" / "models").rglob("*.md"):
        for name, text in re.findall(r"{%\s*docs\s+(\w+)\s*%}(.*?){%\s*enddocs\s*%}", path.read_text(), re.S):
            blocks[name] = text
    return blocks


def test_every_money_column_of_the_analytics_marts_says_its_unit():
    """The units rule is stated once (docs block money_units); each money column's description names its unit."""
    blocks = _docs_blocks()
    assert "minor unit" in blocks["money_units"] and "major units" in blocks["money_units"]

    def rendered(description: str) -> str:
        return re.sub(r"""{{\s*doc\(["'](\w+)["']\)\s*}}""", lambda m: blocks[m.group(1)], description)

    unstated, money = [], 0
    for path in (PROJECT_ROOT / "dbt_project" / "models" / "marts" / "analytics").glob("_analytics__*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            uses_money = False
            for column in model["columns"]:
                name, data_type = column["name"], column.get("data_type", "")
                if not (data_type == "bigint" or data_type.startswith("numeric")):
                    continue
                if not MONEY_COLUMN.search(name) or NOT_MONEY.search(name):
                    continue
                money, uses_money = money + 1, True
                text = rendered(column.get("description", ""))
                if "minor unit" not in text and "major unit" not in text:
                    unstated.append(f"{model['name']}.{name}")
            if uses_money:
                assert "money_units" in model["description"], model["name"]
    assert money > 50
    assert unstated == []


def test_the_mrr_report_shows_money_rounded_to_the_minor_unit(warehouse, tmp_path):
    database, _ = warehouse
    settings = Settings.from_env({"DUCKDB_PATH": str(database), "DATA_DIR": str(tmp_path)})
    metadata = mrr_metadata(settings)
    records = [r.data for r in metadata["mrr_last_24_months"].value.records]
    totals = {
        (str(month)[:7], currency): mrr
        for month, currency, mrr in query(
            database, "select month, currency, sum(mrr) from analytics.mrr_monthly group by 1, 2"
        )
    }
    assert {r["currency"] for r in records} >= {"usd", "jpy", "kwd"}
    for record in records:
        total = totals[(record["month"], record["currency"])]
        assert Decimal(str(record["mrr"])) == _minor_unit(total, record["currency"])
        assert Decimal(str(record["arr"])) == _minor_unit(12 * total, record["currency"])
    assert [r["is_partial_month"] for r in records].count(True) == len({r["currency"] for r in records})
    chart = metadata["mrr_chart"].value
    # The chart prints each currency's own decimals: 2 for usd, none for jpy, 3 for kwd.
    for currency, pattern in (("USD", r"[\d,]+\.\d\d"), ("JPY", r"[\d,]+"), ("KWD", r"[\d,]+\.\d\d\d")):
        section = chart.split(f"**MRR, {currency}**")[1].split("**MRR,")[0]
        amounts = [line.split(" | ")[1] for line in section.splitlines() if line.startswith("| 20")]
        assert amounts and all(re.fullmatch(pattern, amount) for amount in amounts), (currency, amounts)
    assert "(to date)" in chart


def test_no_column_analysts_read_is_a_128_bit_integer_or_a_wide_decimal(warehouse):
    """DuckDB sums bigints into HUGEINT and numeric(28, 6) into DECIMAL(38, 6), which BI drivers choke on."""
    database, _ = warehouse
    rows = query(
        database,
        """
        select table_schema || '.' || table_name || '.' || column_name, data_type from information_schema.columns
        where table_schema in ('analytics', 'stripe', 'monitoring')
        """,
    )
    assert len(rows) > 500
    allowed = {"VARCHAR", "BIGINT", "BOOLEAN", "TIMESTAMP", "DATE", "DECIMAL(28,6)", "DECIMAL(28,12)"}
    assert {column: data_type for column, data_type in rows if data_type not in allowed} == {}
