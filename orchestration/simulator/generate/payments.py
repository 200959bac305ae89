"""Collecting invoices by card: payment intents, charge attempts, fees, refunds and disputes."""

from __future__ import annotations

from orchestration.simulator.currencies import THREE_DECIMAL_CURRENCIES, ZERO_DECIMAL_CURRENCIES
from orchestration.simulator.generate.world import World
from orchestration.simulator.records import (
    BalanceRec,
    ChargeRec,
    CustomerRec,
    DisputeRec,
    InvoiceRec,
    PaymentIntentRec,
    RefundRec,
)
from orchestration.simulator.timeline import DAY, next_midnight_after

ACCOUNT_CURRENCY = "usd"
# Major units of USD per major unit of the charge currency (Stripe's `exchange_rate` convention).
_TO_USD = {"eur": 1.08, "jpy": 0.0067, "kwd": 3.25}
_DECLINES = (
    ("card_declined", "Your card was declined."),
    ("insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "Your card has expired."),
    ("incorrect_cvc", "Your card's security code is incorrect."),
)
DECLINE_MESSAGES = dict(_DECLINES)
DISPUTE_FEE = 1500
REFUND_RATE = 0.02
DISPUTE_RATE = 0.006


def in_account_currency(amount: int, currency: str) -> tuple[int, float | None]:
    """`amount` (smallest unit of `currency`) converted to USD cents, and the exchange rate used."""
    if currency == ACCOUNT_CURRENCY:
        return amount, None
    rate = _TO_USD[currency]
    cents_per_unit = 100 if currency in ZERO_DECIMAL_CURRENCIES else 0.1 if currency in THREE_DECIMAL_CURRENCIES else 1
    return round(amount * rate * cents_per_unit), rate


class Payments:
    """Creates the payment side of invoices in a `World`, emitting the events Stripe would."""

    def __init__(self, world: World) -> None:
        self.world = world

    def collect(
        self,
        invoice: InvoiceRec,
        customer: CustomerRec,
        attempt_times: list[int],
        failures: int,
        description: str,
    ) -> int | None:
        """Attempts to charge `invoice` at `attempt_times`; the first `failures` attempts are declined.

        Attempts after `now` stay scheduled (they set `next_payment_attempt`). Returns when the invoice
        was paid, or None if it is not (yet) paid.
        """
        world = self.world
        invoice.retry_times = attempt_times
        if not world.happened(attempt_times[0]):
            return None
        intent = PaymentIntentRec(
            id=world.ids.new("pi", attempt_times[0]),
            created=attempt_times[0],
            amount=invoice.total,
            currency=invoice.currency,
            customer_id=customer.id,
            payment_method_id=customer.payment_method.id,
            description=description,
            invoice_payment_id=world.ids.new("inpay", attempt_times[0]),
        )
        invoice.payment_intent = intent
        world.payment_intents.append(intent)
        world.emit(intent.created, "payment_intent.created", "payment_intent", intent)
        for attempt, moment in enumerate(attempt_times):
            if not world.happened(moment):
                return None
            declined = attempt < failures
            charge = self.charge(intent, moment, declined)
            if declined:
                world.emit(moment, "charge.failed", "charge", charge)
                world.emit(moment, "payment_intent.payment_failed", "payment_intent", intent)
                world.emit(moment, "invoice.payment_failed", "invoice", invoice)
                continue
            invoice.paid_at = moment
            world.emit(moment, "charge.succeeded", "charge", charge)
            world.emit(moment, "payment_intent.succeeded", "payment_intent", intent)
            world.emit(moment, "invoice_payment.paid", "invoice_payment", invoice)
            world.emit(moment, "invoice.paid", "invoice", invoice)
            world.emit(moment, "invoice.payment_succeeded", "invoice", invoice)
            self._after_success(charge)
            return moment
        return None

    def cancel_intent(self, intent: PaymentIntentRec, moment: int) -> None:
        """The intent of a voided invoice is canceled with it."""
        intent.canceled_at = moment
        self.world.emit(moment, "payment_intent.canceled", "payment_intent", intent)

    def refund(self, charge: ChargeRec, moment: int, amount: int, reason: str | None) -> RefundRec:
        world = self.world
        refund_id = world.ids.new("re", moment)
        usd, rate = in_account_currency(amount, charge.currency)
        balance = BalanceRec(
            id=world.ids.new("txn", moment),
            created=moment,
            amount=-usd,
            fee=0,
            fee_description=None,
            exchange_rate=rate,
            type="refund",
            reporting_category="refund",
            source_id=refund_id,
            description="REFUND FOR CHARGE (" + charge.description + ")",
            available_on=moment,
        )
        refund = RefundRec(refund_id, moment, amount, charge, reason, balance)
        charge.refunds.append(refund)
        world.emit(moment, "refund.created", "refund", refund)
        world.emit(moment, "charge.refunded", "charge", charge)
        return refund

    def charge(self, intent: PaymentIntentRec, moment: int, declined: bool) -> ChargeRec:
        """One attempt to charge `intent` (its events are the caller's to emit)."""
        world = self.world
        charge_id = world.ids.new("ch", moment)
        failure_code = world.rng.choice(_DECLINES)[0] if declined else None
        balance = None if declined else self._charge_balance(charge_id, intent, moment)
        charge = ChargeRec(
            id=charge_id,
            created=moment,
            amount=intent.amount,
            currency=intent.currency,
            customer_id=intent.customer_id,
            payment_intent_id=intent.id,
            payment_method_id=intent.payment_method_id,
            description=intent.description,
            failure_code=failure_code,
            balance=balance,
        )
        intent.charges.append(charge)
        world.charges.append(charge)
        return charge

    def _charge_balance(self, charge_id: str, intent: PaymentIntentRec, moment: int) -> BalanceRec:
        usd, rate = in_account_currency(intent.amount, intent.currency)
        fee = round(usd * (0.029 if rate is None else 0.044)) + 30
        return BalanceRec(
            id=self.world.ids.new("txn", moment),
            created=moment,
            amount=usd,
            fee=fee,
            fee_description="Stripe processing fees",
            exchange_rate=rate,
            type="charge",
            reporting_category="charge",
            source_id=charge_id,
            description=intent.description,
            available_on=next_midnight_after(moment, 2),
        )

    def _after_success(self, charge: ChargeRec) -> None:
        """A small share of payments is later refunded by support or disputed by the cardholder."""
        rng = self.world.rng
        draw = rng.random()
        if draw < REFUND_RATE:
            moment = charge.created + rng.randint(1, 20) * DAY + rng.randint(0, DAY)
            full = rng.random() < 0.6
            amount = charge.amount if full else max(1, round(charge.amount * rng.uniform(0.2, 0.7)))
            if self.world.happened(moment):
                self.refund(charge, moment, amount, rng.choice(("requested_by_customer", "duplicate", None)))
        elif draw < REFUND_RATE + DISPUTE_RATE:
            self.dispute(charge, charge.created + rng.randint(7, 60) * DAY + rng.randint(0, DAY))

    def dispute(self, charge: ChargeRec, moment: int) -> None:
        """The cardholder disputes `charge` at `moment`; the dispute closes, won or lost, weeks later."""
        world, rng = self.world, self.world.rng
        closes_at = moment + rng.randint(30, 75) * DAY
        won = rng.random() < 0.4
        if not world.happened(moment):
            return
        dispute_id = world.ids.new("dp", moment)
        usd, rate = in_account_currency(charge.amount, charge.currency)
        balances = [self._dispute_balance(dispute_id, moment, -usd, DISPUTE_FEE, rate, "dispute")]
        closed = world.happened(closes_at)
        if closed and won:
            balances.append(self._dispute_balance(dispute_id, closes_at, usd, -DISPUTE_FEE, rate, "dispute_reversal"))
        dispute = DisputeRec(
            id=dispute_id,
            created=moment,
            amount=charge.amount,
            charge=charge,
            reason=rng.choice(("fraudulent", "product_not_received", "subscription_canceled", "general")),
            closed_at=closes_at if closed else None,
            won=won if closed else None,
            balances=balances,
        )
        charge.dispute = dispute
        world.emit(moment, "charge.dispute.created", "dispute", dispute)
        world.emit(dispute.evidence_submitted_at, "charge.dispute.updated", "dispute", dispute)
        if closed:
            world.emit(closes_at, "charge.dispute.closed", "dispute", dispute)

    def _dispute_balance(
        self, dispute_id: str, moment: int, amount: int, fee: int, rate: float | None, category: str
    ) -> BalanceRec:
        return BalanceRec(
            id=self.world.ids.new("txn", moment),
            created=moment,
            amount=amount,
            fee=fee,
            fee_description="Dispute fee",
            exchange_rate=rate,
            type="adjustment",
            reporting_category=category,
            source_id=dispute_id,
            description="Chargeback withdrawal" if amount < 0 else "Chargeback reversal",
            available_on=next_midnight_after(moment, 0),
        )
