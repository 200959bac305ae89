"""`GET /v1/balance_transactions?payout=…`: what each automatic payout paid out, and the payout's own transaction."""

from __future__ import annotations

import stripe

from orchestration.simulator import SimulatedAccount, dump_account_to_dir, generate_account, load_account_from_dir
from orchestration.simulator.truth import expected_payout_items
from tests.simulator.sim_support import NOW


def _listed(client: stripe.StripeClient, payout_id: str, **params: object) -> list[stripe.BalanceTransaction]:
    return list(
        client.v1.balance_transactions.list(params={"payout": payout_id, "limit": 100, **params}).auto_paging_iter()
    )


def _available_between(account: SimulatedAccount) -> dict[str, set[str]]:
    """Per payout, the balance transactions (payouts' own excluded) that became available after the previous
    payout was made and by the time this one was: what a daily automatic payout pays out, funds a day could not
    pay out (refunds, disputes) carried over to the next one."""
    balances = [b for b in account.objects["balance_transactions"] if b["type"] != "payout"]
    expected, previous = {}, None
    for payout in sorted(account.objects["payouts"], key=lambda p: p["created"]):
        expected[payout["id"]] = {
            b["id"]
            for b in balances
            if (previous is None or b["available_on"] > previous) and b["available_on"] <= payout["created"]
        }
        previous = payout["created"]
    return expected


def test_each_automatic_payout_lists_what_became_available_since_the_previous_one(
    client: stripe.StripeClient, account: SimulatedAccount
):
    payouts = account.objects["payouts"]
    assert len(payouts) > 100 and all(p["automatic"] for p in payouts)
    expected = _available_between(account)
    assert expected == expected_payout_items(account)  # the generator's record, kept as the truth
    paid_out: set[str] = set()
    for payout in payouts:
        listed = _listed(client, payout["id"])
        own = [b for b in listed if b.id == payout["balance_transaction"]]
        # The payout's own transaction is listed too, as on Stripe (https://github.com/airbytehq/airbyte/pull/46499).
        assert len(own) == 1 and own[0].type == "payout" and own[0].amount == -payout["amount"]
        items = {b.id: b for b in listed if b.id != payout["balance_transaction"]}
        assert set(items) == expected[payout["id"]], payout["id"]
        assert sum(b.net for b in items.values()) == payout["amount"]
        assert not paid_out & set(items), "a balance transaction paid out twice"
        paid_out |= set(items)
    # Nothing in a balance transaction names its payout: only the filter does.
    assert all("payout" not in b for b in client.v1.balance_transactions.list(params={"limit": 100}).data)


def test_the_payout_filter_combines_with_the_others(client: stripe.StripeClient, account: SimulatedAccount):
    payout = max(account.objects["payouts"], key=lambda p: len(expected_payout_items(account)[p["id"]]))
    charges = _listed(client, payout["id"], type="charge")
    assert charges and {b.id for b in charges} == {
        b
        for b in expected_payout_items(account)[payout["id"]]
        if account.get("balance_transactions", b)["type"] == "charge"
    }
    assert _listed(client, "po_unknown") == []


def test_membership_survives_a_dump_and_a_changed_transaction(tmp_path):
    account = generate_account(seed=4, customers=12, now=NOW)
    payout = account.objects["payouts"][-3]
    expected = expected_payout_items(account)
    dump_account_to_dir(account, tmp_path)
    loaded = load_account_from_dir(tmp_path)
    assert expected_payout_items(loaded) == expected
    members = {b["id"] for b in loaded.listable("balance_transactions", payout=payout["id"])}
    assert members == expected[payout["id"]] | {payout["balance_transaction"]}
    assert all("payout" not in b for b in loaded.objects["balance_transactions"])

    # A transaction put again without its hidden payout keeps it; put with another payout, it moves there.
    moved = sorted(expected[payout["id"]])[0]
    other = account.objects["payouts"][-4]["id"]
    store = loaded.store
    store.put("balance_transactions", {**loaded.get("balance_transactions", moved), "description": "changed"})
    assert moved in {b["id"] for b in loaded.listable("balance_transactions", payout=payout["id"])}
    store.put("balance_transactions", {**loaded.get("balance_transactions", moved), "payout": other})
    assert moved not in {b["id"] for b in loaded.listable("balance_transactions", payout=payout["id"])}
    assert moved in {b["id"] for b in loaded.listable("balance_transactions", payout=other)}
    assert "payout" not in loaded.get("balance_transactions", moved)
