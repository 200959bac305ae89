"""Automatic payouts: every morning the funds that became available are paid out to the bank account."""

from __future__ import annotations

from orchestration.simulator.generate.world import World
from orchestration.simulator.records import BalanceRec, PayoutRec
from orchestration.simulator.timeline import DAY, HOUR, next_midnight_after

PAYOUT_INTERVAL = DAY
"""Stripe's default schedule: a payout a day of what became available since the previous one."""
TRANSIT_DAYS = 2
"""A payout reaches the bank two days after it is created (`arrival_date`)."""


def schedule_payouts(world: World, balances: list[BalanceRec]) -> None:
    """Creates the daily payouts of `balances` (every balance transaction but payouts) up to `now`.

    A day whose available funds do not add up to a positive amount (refunds, disputes) pays nothing;
    its balance carries over to the next day. Each payout records the balance transactions it paid out
    (`PayoutRec.paid_out`): those that became available since the previous payout, carried-over ones
    included, so their nets sum to its amount.
    """
    if not balances:
        return
    pending = sorted(balances, key=lambda balance: (balance.available_on, balance.id))
    moment = next_midnight_after(pending[0].available_on, 0) + 6 * HOUR  # Stripe pays out in the morning
    position, funds = 0, 0
    paid_out: list[str] = []
    while world.happened(moment):
        while position < len(pending) and pending[position].available_on <= moment:
            funds += pending[position].amount - pending[position].fee
            paid_out.append(pending[position].id)
            position += 1
        if funds > 0:
            _payout(world, moment, funds, tuple(paid_out))
            funds, paid_out = 0, []
        moment += PAYOUT_INTERVAL


def _payout(world: World, moment: int, amount: int, paid_out: tuple[str, ...]) -> None:
    payout_id = world.ids.new("po", moment)
    balance = BalanceRec(
        id=world.ids.new("txn", moment),
        created=moment,
        amount=-amount,
        fee=0,
        fee_description=None,
        exchange_rate=None,
        type="payout",
        reporting_category="payout",
        source_id=payout_id,
        description="STRIPE PAYOUT",
        available_on=moment,
    )
    payout = PayoutRec(payout_id, moment, amount, next_midnight_after(moment, TRANSIT_DAYS), balance, paid_out)
    world.payouts.append(payout)
    world.emit(moment, "payout.created", "payout", payout)
    if world.happened(payout.arrival_date):
        world.emit(payout.arrival_date, "payout.paid", "payout", payout)
        # Its reconciliation_status turns `completed` on arrival (`render.payout`): from then on the list of
        # the balance transactions it paid out is final. "Listen to the payout.reconciliation_completed
        # webhook event" (https://docs.stripe.com/payouts/reconciliation).
        world.emit(payout.arrival_date, "payout.reconciliation_completed", "payout", payout)
