"""The billing marts (trials, dunning, churn reasons, refunds and disputes by month) against the simulator's objects.

Every expected figure is worked out here in Python from `account.objects` (subscriptions with their trial dates,
status and cancellation_details; invoices, their invoice payments and charges; refunds; disputes) or from the
simulator's MRR truth, never from the warehouse's tables. The named patterns pin what the random customers may
not show: a trial converting after two declines (`trial_converts_after_retries`), one whose first payment never
succeeds (`trial_payment_fails`), one still running (`trial_in_progress`), a renewal recovered at its third
attempt (`past_due_recovered`), dunning ending in a cancellation or in `unpaid`. Account B holds the very same
objects plus a guest charge: its figures must equal A's (but the guest charge's month of gross volume).
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.simulator import SimulatedAccount
from orchestration.simulator.generate.story import RETRY_OFFSETS
from orchestration.simulator.timeline import DAY, HOUR
from orchestration.simulator.truth import expected_customer_mrr
from tests.transform.analytics_build import ACCOUNT_A, ACCOUNT_B, GUEST_AMOUNT, NOW, SYNCED_AT, query

Obj = dict[str, Any]
SINGULAR_TESTS = (
    "refunds_monthly_reconciles_to_refunds",
    "disputes_monthly_reconciles_to_disputes",
    "dunning_within_renewal_invoices",
    "churned_mrr_split_adds_up",
    "trials_monthly_counts_every_trial",
)


def month_of(epoch: int) -> date:
    moment = datetime.fromtimestamp(epoch, UTC)
    return date(moment.year, moment.month, 1)


def month_end(month: date) -> int:
    """The last second of `month`, as unix seconds."""
    year, number = (month.year + 1, 1) if month.month == 12 else (month.year, month.month + 1)
    return calendar.timegm((year, number, 1, 0, 0, 0)) - 1


def at(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def rows_by(database: Path, sql: str, account_id: str, key: Iterable[str]) -> dict[Any, dict[str, Any]]:
    """The rows of `sql` (with one ? for the account id) as dicts, by the values of columns `key`."""
    with duckdb.connect(str(database), read_only=True) as connection:
        cursor = connection.execute(sql, (account_id,))
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    key = tuple(key)
    return {tuple(row[k] for k in key) if len(key) > 1 else row[key[0]]: row for row in rows}


def without_account(rows: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {k: {c: v for c, v in row.items() if c != "account_id"} for k, row in rows.items()}


def subscription_of(invoice: Obj) -> str | None:
    parent = invoice.get("parent") or {}
    return (parent.get("subscription_details") or {}).get("subscription")


def only(account: SimulatedAccount, pattern: str) -> Obj:
    """The one subscription of pattern `pattern`'s one customer."""
    (customer,) = account.patterns[pattern]
    (subscription,) = [s for s in account.objects["subscriptions"] if s["customer"] == customer]
    return subscription


# ---------------------------------------------------------------------------------------------------------------
# What the objects say.


def expected_trials(account: SimulatedAccount) -> dict[str, dict[str, Any]]:
    """subscription id → outcome, converted_at, trial_ended_at of every subscription with a trial."""
    paid_after: dict[str, list[int]] = defaultdict(list)
    subscriptions = {s["id"]: s for s in account.objects["subscriptions"]}
    for invoice in account.objects["invoices"]:
        sub = subscriptions.get(subscription_of(invoice) or "")
        if sub is None or sub["trial_end"] is None or invoice["status"] != "paid":
            continue
        if invoice["created"] >= sub["trial_end"]:
            paid_after[sub["id"]].append(invoice["status_transitions"]["paid_at"])
    trials = {}
    for sub in subscriptions.values():
        if sub["trial_start"] is None:
            continue
        converted = min(paid_after[sub["id"]], default=None)
        if converted is not None:
            outcome = "converted"
        elif sub["ended_at"] is not None:
            outcome = "canceled"
        elif sub["status"] == "trialing":
            outcome = "in_trial"
        else:
            outcome = "awaiting_payment"
        if sub["ended_at"] is not None and sub["ended_at"] < sub["trial_end"]:
            ended = sub["ended_at"]
        elif sub["status"] == "trialing":
            ended = None
        else:
            ended = sub["trial_end"]
        trials[sub["id"]] = {
            "outcome": outcome,
            "converted_at": converted,
            "trial_ended_at": ended,
            "trial_start": sub["trial_start"],
            "trial_end": sub["trial_end"],
            "ended_at": sub["ended_at"],
        }
    return trials


def renewal_attempts(account: SimulatedAccount) -> dict[str, list[Obj]]:
    """Renewal invoice id → its charges in time order (through its invoice payments' payment intents)."""
    renewals = {i["id"] for i in account.objects["invoices"] if i["billing_reason"] == "subscription_cycle"}
    intents: dict[str, str] = {}
    for payment in account.listable("invoice_payments"):
        if payment["invoice"] in renewals:
            intents[payment["payment"]["payment_intent"]] = payment["invoice"]
    attempts: dict[str, list[Obj]] = defaultdict(list)
    for charge in account.objects["charges"]:
        if charge["payment_intent"] in intents:
            attempts[intents[charge["payment_intent"]]].append(charge)
    return {invoice: sorted(charges, key=lambda c: (c["created"], c["id"])) for invoice, charges in attempts.items()}


def expected_dunning(account: SimulatedAccount) -> dict[str, dict[str, Any]]:
    """Invoice id → the dunning facts of every renewal whose first charge failed."""
    subscriptions = {s["id"]: s for s in account.objects["subscriptions"]}
    invoices = {i["id"]: i for i in account.objects["invoices"]}
    dunning = {}
    for invoice_id, charges in renewal_attempts(account).items():
        if charges[0]["status"] != "failed":
            continue
        invoice = invoices[invoice_id]
        sub = subscriptions[subscription_of(invoice) or ""]
        status = invoice["status"]
        if status == "paid":
            outcome = "recovered"
        elif sub["ended_at"] is not None:
            outcome = "subscription_canceled"
        elif status in ("uncollectible", "void"):
            outcome = status
        else:
            outcome = "open"
        paid = invoice["status_transitions"]["paid_at"] if status == "paid" else None
        dunning[invoice_id] = {
            "outcome": outcome,
            "currency": invoice["currency"],
            "subscription": sub["id"],
            "first_failed_at": charges[0]["created"],
            "failed_attempts": sum(1 for c in charges if c["status"] == "failed"),
            "recovered_at": paid,
            "amount_due": invoice["amount_due"],
            "amount_paid": invoice["amount_paid"],
        }
    return dunning


def expected_churn(account: SimulatedAccount) -> dict[str, dict[str, Any]]:
    """Subscription id → churn type and facts of every subscription that ended canceled."""
    owed_at_end = {
        d["subscription"] for d in expected_dunning(account).values() if d["outcome"] == "subscription_canceled"
    }
    churn = {}
    for sub in account.objects["subscriptions"]:
        if sub["status"] != "canceled" or sub["ended_at"] is None:
            continue
        reason = sub["cancellation_details"]["reason"]
        if reason == "cancellation_requested":
            kind = "voluntary"
        elif reason == "payment_failed" or (reason is None and sub["id"] in owed_at_end):
            kind = "involuntary"
        else:
            kind = "other"
        churn[sub["id"]] = {
            "churn_type": kind,
            "currency": sub["currency"],
            "month": month_of(sub["ended_at"]),
            "feedback": sub["cancellation_details"]["feedback"],
            "comment": sub["cancellation_details"]["comment"],
            "is_trial_cancellation": sub["trial_end"] is not None and sub["ended_at"] <= sub["trial_end"],
            "customer": sub["customer"],
            "ended_at": sub["ended_at"],
        }
    return churn


def charge_months(account: SimulatedAccount) -> dict[tuple[str, date], tuple[int, int]]:
    """(currency, month) → (successful charges, what they captured)."""
    months: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0])
    for charge in account.objects["charges"]:
        if charge["status"] == "succeeded":
            figures = months[(charge["currency"], month_of(charge["created"]))]
            figures[0] += 1
            figures[1] += charge["amount_captured"]
    return {key: (count, amount) for key, (count, amount) in months.items()}


# ---------------------------------------------------------------------------------------------------------------
# The build.


def test_billing_marts_and_their_reconciliations_pass(warehouse):
    _, statuses = warehouse
    for name in ("trials", "trials_monthly", "dunning_invoices", "dunning_monthly", "subscription_churn"):
        assert statuses[f"model.stripe_warehouse.analytics__{name}"][0] == "success"
    for name in ("churn_reasons_monthly", "refunds_monthly", "disputes_monthly"):
        assert statuses[f"model.stripe_warehouse.analytics__{name}"][0] == "success"
    for name in SINGULAR_TESTS:
        assert statuses[f"test.stripe_warehouse.{name}"] == ("pass", 0), name


# ---------------------------------------------------------------------------------------------------------------
# Trials.


def test_trials_one_row_per_trial_with_its_outcome(warehouse, account):
    database, _ = warehouse
    expected = expected_trials(account)
    assert {t["outcome"] for t in expected.values()} >= {"converted", "canceled", "in_trial"}
    rows = rows_by(database, "select * from analytics.trials where account_id = ?", ACCOUNT_A, ["subscription_id"])
    assert set(rows) == set(expected)
    for sub_id, trial in expected.items():
        row = rows[sub_id]
        assert row["outcome"] == trial["outcome"], sub_id
        assert row["is_converted"] == (trial["outcome"] == "converted")
        assert row["converted_at"] == at(trial["converted_at"]), sub_id
        assert row["trial_ended_at"] == at(trial["trial_ended_at"]), sub_id
        if trial["converted_at"] is not None:
            days = Decimal(trial["converted_at"] - trial["trial_start"]) / DAY
            assert abs(row["days_to_convert"] - days) < Decimal("0.000001")
        else:
            assert row["days_to_convert"] is None
    assert without_account(rows) == without_account(
        rows_by(database, "select * from analytics.trials where account_id = ?", ACCOUNT_B, ["subscription_id"])
    )


def test_trial_patterns(warehouse, account):
    """By hand from the patterns: the first charge after a trial comes an hour and a second after its end (the
    invoice is finalized an hour after it is made); a retried one converts 8 days later, at its third attempt."""
    database, _ = warehouse

    def trial(pattern: str) -> dict[str, Any]:
        sub = only(account, pattern)
        rows = rows_by(database, "select * from analytics.trials where account_id = ?", ACCOUNT_A, ["subscription_id"])
        return {**rows[sub["id"]], "sub": sub}

    first_charge = HOUR + 1
    converts = trial("trial_converts_across_month_end")
    assert converts["outcome"] == "converted"
    assert converts["converted_at"] == at(converts["sub"]["trial_end"] + first_charge)
    assert converts["days_to_convert"] == round(Decimal(14 * DAY + first_charge) / DAY, 6)

    retried = trial("trial_converts_after_retries")
    assert retried["outcome"] == "converted"
    assert retried["converted_at"] == at(retried["sub"]["trial_end"] + first_charge + RETRY_OFFSETS[2])
    assert retried["days_to_convert"] == round(Decimal(22 * DAY + first_charge) / DAY, 6)

    failed = trial("trial_payment_fails")
    assert (failed["outcome"], failed["cancellation_reason"], failed["status"]) == (
        "canceled",
        "payment_failed",
        "canceled",
    )
    assert failed["trial_ended_at"] == at(failed["sub"]["trial_end"])

    left = trial("trial_canceled")
    assert left["outcome"] == "canceled" and left["trial_ended_at"] == at(left["sub"]["trial_start"] + 5 * DAY)

    running = trial("trial_in_progress")
    assert (running["outcome"], running["status"], running["trial_ended_at"]) == ("in_trial", "trialing", None)


def test_trials_monthly_counts_each_trial_in_its_months(warehouse, account):
    database, _ = warehouse
    trials = expected_trials(account).values()
    started, ended, converted, canceled, cohort_converted = Counter(), Counter(), Counter(), Counter(), Counter()
    days: dict[date, list[Decimal]] = defaultdict(list)
    for t in trials:
        started[month_of(t["trial_start"])] += 1
        if t["trial_ended_at"] is not None:
            ended[month_of(t["trial_ended_at"])] += 1
            cohort_converted[month_of(t["trial_ended_at"])] += t["outcome"] == "converted"
        if t["outcome"] == "converted":
            converted[month_of(t["converted_at"])] += 1
            days[month_of(t["converted_at"])].append(Decimal(t["converted_at"] - t["trial_start"]) / DAY)
        if t["outcome"] == "canceled":
            canceled[month_of(t["ended_at"])] += 1
    rows = rows_by(database, "select * from analytics.trials_monthly where account_id = ?", ACCOUNT_A, ["month"])
    months = sorted(rows)
    first = min(month_of(t["trial_start"]) for t in trials)
    assert months[0] == first and months[-1] >= month_of(NOW)
    assert len(months) == len(set(months))
    for month in months:
        row = rows[month]
        # The month not over at the build's as-of instant (the load) counts the trials running then.
        instant = min(month_end(month), int(SYNCED_AT.timestamp()))
        active = sum(1 for t in trials if t["trial_start"] <= instant < (t["trial_ended_at"] or t["trial_end"]))
        assert (
            row["trials_started"],
            row["trials_ended"],
            row["trials_converted"],
            row["trials_canceled"],
            row["trials_active_at_month_end"],
            row["ended_trials_converted"],
        ) == (started[month], ended[month], converted[month], canceled[month], active, cohort_converted[month]), month
        rate = None if not ended[month] else round(Decimal(cohort_converted[month]) / ended[month], 6)
        assert row["conversion_rate"] == rate, month
        if days[month]:
            assert abs(row["avg_days_to_convert"] - sum(days[month]) / len(days[month])) < Decimal("0.000002")
            ordered = sorted(days[month])
            middle = len(ordered) // 2
            median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
            assert abs(row["median_days_to_convert"] - median) < Decimal("0.000002")
        else:
            assert row["avg_days_to_convert"] is None and row["median_days_to_convert"] is None
    assert sum(started.values()) == len(trials) and sum(r["trials_started"] for r in rows.values()) == len(trials)
    # The pattern still in trial at now is in trial at the end of the month before.
    running = expected_trials(account)[only(account, "trial_in_progress")["id"]]
    assert rows[month_of(running["trial_start"])]["trials_active_at_month_end"] >= 1
    assert without_account(rows) == without_account(
        rows_by(database, "select * from analytics.trials_monthly where account_id = ?", ACCOUNT_B, ["month"])
    )


# ---------------------------------------------------------------------------------------------------------------
# Dunning.


def test_dunning_invoices_are_the_renewals_whose_first_attempt_failed(warehouse, account):
    database, _ = warehouse
    expected = expected_dunning(account)
    assert {d["outcome"] for d in expected.values()} >= {"recovered", "subscription_canceled", "open"}
    rows = rows_by(database, "select * from analytics.dunning_invoices where account_id = ?", ACCOUNT_A, ["invoice_id"])
    assert set(rows) == set(expected)
    for invoice_id, facts in expected.items():
        row = rows[invoice_id]
        assert row["outcome"] == facts["outcome"], invoice_id
        assert row["first_failed_at"] == at(facts["first_failed_at"])
        assert row["failed_attempts"] == facts["failed_attempts"]
        assert row["recovered_at"] == at(facts["recovered_at"])
        assert (row["amount_due"], row["amount_paid"]) == (facts["amount_due"], facts["amount_paid"])
        if facts["recovered_at"] is not None:
            hours = Decimal(facts["recovered_at"] - facts["first_failed_at"]) / HOUR
            assert abs(row["hours_to_recover"] - hours) < Decimal("0.000001")
    assert without_account(rows) == without_account(
        rows_by(database, "select * from analytics.dunning_invoices where account_id = ?", ACCOUNT_B, ["invoice_id"])
    )


@pytest.mark.parametrize(
    ("pattern", "outcome", "failed", "recovered_after"),
    [
        ("past_due_recovered", "recovered", 2, RETRY_OFFSETS[2]),
        ("trial_converts_after_retries", "recovered", 2, RETRY_OFFSETS[2]),
        ("dunning_canceled_old", "subscription_canceled", 4, None),
        ("trial_payment_fails", "subscription_canceled", 4, None),
        ("dunning_unpaid_recent", "open", 4, None),
        ("past_due_at_now", "open", 2, None),
    ],
)
def test_dunning_patterns(warehouse, account, pattern, outcome, failed, recovered_after):
    """The scripted dunning stories by hand: past_due_at_now's renewal, 5 days old, has failed twice (at once and
    3 days later), its next retry 8 days after the first."""
    database, _ = warehouse
    sub = only(account, pattern)
    rows = query(
        database,
        """select outcome, failed_attempts, hours_to_recover, next_payment_attempt_at, first_failed_at
        from analytics.dunning_invoices where account_id = ? and subscription_id = ?""",
        ACCOUNT_A,
        sub["id"],
    )
    assert len(rows) == 1
    got_outcome, got_failed, hours, next_attempt, first_failed = rows[0]
    assert (got_outcome, got_failed) == (outcome, failed)
    assert hours == (None if recovered_after is None else Decimal(recovered_after) / HOUR)
    if pattern == "past_due_at_now":
        assert next_attempt == first_failed + timedelta(seconds=RETRY_OFFSETS[2])


def test_dunning_monthly_is_the_cohort_of_first_failures(warehouse, account):
    database, _ = warehouse
    cohorts: dict[tuple[str, date], Counter] = defaultdict(Counter)
    for facts in expected_dunning(account).values():
        cohort = cohorts[(facts["currency"], month_of(facts["first_failed_at"]))]
        cohort["failed_renewals"] += 1
        cohort[f"{facts['outcome']}_renewals"] += 1
        cohort["failed_amount"] += facts["amount_due"]
        cohort["recovered_amount"] += facts["amount_paid"] if facts["outcome"] == "recovered" else 0
    rows = rows_by(
        database, "select * from analytics.dunning_monthly where account_id = ?", ACCOUNT_A, ["currency", "month"]
    )
    assert set(rows) == set(cohorts)
    for key, cohort in cohorts.items():
        row = rows[key]
        for column in ("failed_renewals", "failed_amount", "recovered_amount"):
            assert row[column] == cohort[column], (key, column)
        for outcome in ("recovered", "subscription_canceled", "uncollectible", "void", "open"):
            assert row[f"{outcome}_renewals"] == cohort[f"{outcome}_renewals"], (key, outcome)
        assert row["recovery_rate"] == round(Decimal(cohort["recovered_renewals"]) / cohort["failed_renewals"], 6)
    assert without_account(rows) == without_account(
        rows_by(
            database, "select * from analytics.dunning_monthly where account_id = ?", ACCOUNT_B, ["currency", "month"]
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# Churn reasons.


def test_subscription_churn_types_from_cancellation_details(warehouse, account):
    database, _ = warehouse
    expected = expected_churn(account)
    assert {c["churn_type"] for c in expected.values()} == {"voluntary", "involuntary", "other"}
    rows = rows_by(
        database, "select * from analytics.subscription_churn where account_id = ?", ACCOUNT_A, ["subscription_id"]
    )
    assert set(rows) == set(expected)
    for sub_id, facts in expected.items():
        row = rows[sub_id]
        assert row["churn_type"] == facts["churn_type"], sub_id
        assert row["churn_month"] == facts["month"]
        assert row["is_trial_cancellation"] == facts["is_trial_cancellation"], sub_id
        assert (row["cancellation_feedback"], row["cancellation_comment"]) == (facts["feedback"], facts["comment"])
    assert without_account(rows) == without_account(
        rows_by(
            database, "select * from analytics.subscription_churn where account_id = ?", ACCOUNT_B, ["subscription_id"]
        )
    )


def test_mrr_before_churn_is_the_truth_at_the_last_month_end(warehouse, account):
    """For every churned subscription whose customer has no other: the customer's true MRR (the simulator's truth,
    per customer and currency) at the last month end before the subscription ended; 0 when it never had MRR."""
    database, _ = warehouse
    truth = expected_customer_mrr(account, NOW)
    per_customer = Counter(s["customer"] for s in account.objects["subscriptions"])
    rows = rows_by(
        database, "select * from analytics.subscription_churn where account_id = ?", ACCOUNT_A, ["subscription_id"]
    )
    checked = 0
    for sub_id, facts in expected_churn(account).items():
        if per_customer[facts["customer"]] != 1:
            continue
        months = [
            month
            for (customer, currency, month), mrr in truth.items()
            if customer == facts["customer"]
            and currency == facts["currency"]
            and mrr > 0
            and month_end(month) < facts["ended_at"]
        ]
        mrr = truth[(facts["customer"], facts["currency"], max(months))] if months else 0.0
        assert abs(float(rows[sub_id]["mrr_before_churn"]) - mrr) < 0.005, sub_id
        assert rows[sub_id]["last_mrr_month"] == (max(months) if months else None), sub_id
        checked += 1
    assert checked >= 20
    by_hand = {
        "cancel_now_with_refund": 49,
        "dunning_canceled_old": 49,
        "trial_payment_fails": 49,  # past_due from its trial's end counts, as mrr.md says
        "subscribed_and_canceled_in_one_month": 0,
        "trial_canceled": 0,
    }
    for pattern, mrr in by_hand.items():
        assert rows[only(account, pattern)["id"]]["mrr_before_churn"] == mrr, pattern


def test_churn_reasons_monthly_counts_by_type_and_feedback(warehouse, account):
    database, _ = warehouse
    months: dict[tuple[str, date], Counter] = defaultdict(Counter)
    for facts in expected_churn(account).values():
        if facts["is_trial_cancellation"]:
            continue
        month = months[(facts["currency"], facts["month"])]
        month["churned_subscriptions"] += 1
        month[f"{facts['churn_type']}_churned_subscriptions"] += 1
        month["subscriptions_with_feedback"] += facts["feedback"] is not None
        month["subscriptions_with_comment"] += facts["comment"] is not None
        if facts["feedback"] is not None:
            month[f"feedback_{facts['feedback']}"] += 1
    rows = rows_by(
        database, "select * from analytics.churn_reasons_monthly where account_id = ?", ACCOUNT_A, ["currency", "month"]
    )
    assert set(rows) == set(months)
    for key, counts in months.items():
        for column, value in rows[key].items():
            if column.endswith("_subscriptions") or column.startswith(("feedback_", "subscriptions_with")):
                assert value == counts[column], (key, column)
    assert sum(r["subscriptions_with_feedback"] for r in rows.values()) > 0
    assert without_account(rows) == without_account(
        rows_by(
            database,
            "select * from analytics.churn_reasons_monthly where account_id = ?",
            ACCOUNT_B,
            ["currency", "month"],
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# Refunds and disputes.


def test_refunds_monthly_by_the_refunds_own_month(warehouse, account):
    database, _ = warehouse
    volume = charge_months(account)
    refunds: dict[tuple[str, date, str], list[int]] = defaultdict(lambda: [0, 0])
    for refund in account.objects["refunds"]:
        assert refund["status"] == "succeeded"
        figures = refunds[(refund["currency"], month_of(refund["created"]), refund["reason"] or "unspecified")]
        figures[0] += 1
        figures[1] += refund["amount"]
    # At least one refund lands in a later month than its charge: the month is the refund's own.
    charges = {c["id"]: c for c in account.objects["charges"]}
    assert any(month_of(r["created"]) != month_of(charges[r["charge"]]["created"]) for r in account.objects["refunds"])
    rows = rows_by(
        database,
        "select * from analytics.refunds_monthly where account_id = ?",
        ACCOUNT_A,
        ["currency", "month", "reason"],
    )
    assert set(rows) == set(refunds)
    for (currency, month, reason), (count, amount) in refunds.items():
        row = rows[(currency, month, reason)]
        gross = volume.get((currency, month), (0, 0))[1]
        assert (row["refunds"], row["refunded_amount"], row["failed_refunds"]) == (count, amount, 0)
        assert row["gross_volume"] == gross
        assert row["refund_rate"] == (round(Decimal(amount) / gross, 6) if gross else None)
    b_rows = rows_by(
        database,
        "select * from analytics.refunds_monthly where account_id = ?",
        ACCOUNT_B,
        ["currency", "month", "reason"],
    )
    assert set(b_rows) == set(rows)
    for key, row in rows.items():
        assert b_rows[key]["refunded_amount"] == row["refunded_amount"]
        assert b_rows[key]["gross_volume"] - row["gross_volume"] in (0, GUEST_AMOUNT)


def test_disputes_monthly_by_the_disputes_own_month(warehouse, account):
    database, _ = warehouse
    volume = charge_months(account)
    disputes: dict[tuple[str, date, str], Counter] = defaultdict(Counter)
    for dispute in account.objects["disputes"]:
        figures = disputes[(dispute["currency"], month_of(dispute["created"]), dispute["reason"])]
        figures["disputes"] += 1
        figures["disputed_amount"] += dispute["amount"]
        status = dispute["status"]
        figures[f"{status}_disputes"] += 1
        if status in ("won", "lost"):
            figures[f"{status}_amount"] += dispute["amount"]
    assert {s for d in account.objects["disputes"] for s in [d["status"]]} >= {"lost", "needs_response", "under_review"}
    rows = rows_by(
        database,
        "select * from analytics.disputes_monthly where account_id = ?",
        ACCOUNT_A,
        ["currency", "month", "reason"],
    )
    assert set(rows) == set(disputes)
    for (currency, month, reason), figures in disputes.items():
        row = rows[(currency, month, reason)]
        for column in (
            "disputes",
            "disputed_amount",
            "needs_response_disputes",
            "under_review_disputes",
            "won_disputes",
            "lost_disputes",
            "won_amount",
            "lost_amount",
        ):
            assert row[column] == figures[column], (currency, month, reason, column)
        charges, _ = volume.get((currency, month), (0, 0))
        assert row["successful_charges"] == charges
        assert row["dispute_rate"] == (round(Decimal(figures["disputes"]) / charges, 6) if charges else None)
    b_rows = rows_by(
        database,
        "select * from analytics.disputes_monthly where account_id = ?",
        ACCOUNT_B,
        ["currency", "month", "reason"],
    )
    assert set(b_rows) == set(rows)
    for key, row in rows.items():
        assert b_rows[key]["disputed_amount"] == row["disputed_amount"]
        assert b_rows[key]["lost_amount"] == row["lost_amount"]
        assert b_rows[key]["successful_charges"] - row["successful_charges"] in (0, 1)  # the guest charge
