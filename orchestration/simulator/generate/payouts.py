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
    its balance carries over to the next day.
    """
    if not balances:
        return
    pending = sorted(balances, key=lambda balance: (balance.available_on, balance.id))
    moment = next_midnight_after(pending[0].available_on, 0) + 6 * HOUR  # Stripe pays out in the morning
    position, funds = 0, 0
    while world.happened(moment):
        while position < len(pending) and pending[position].available_on <= moment:
            funds += pending[position].amount - pending[position].fee
            position += 1
        if funds > 0:
            _payout(world, moment, funds)
            funds = 0
        moment += PAYOUT_INTERVAL


def _payout(world: World, moment: int, amount: int) -> None:
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
    payout = PayoutRec(payout_id, moment, amount, next_midnight_after(moment, TRANSIT_DAYS), balance)
    world.payouts.append(payout)
    world.emit(moment, "payout.created", "payout", payout)
    if world.happened(payout.arrival_date):
        world.emit(payout.arrival_date, "payout.paid", "payout", payout)
