"""API objects rendered from the generator's records, as they are at a given moment.

`Renderer.render(kind, record, at)` is the single place that knows how a record looks on the wire; the
final objects use `at = now`, event payloads use the event's time. Sub-objects that do not depend on the
moment (invoice lines, a customer's card details) are rendered once and shared, see `templates`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from orchestration.simulator.generate.catalog import Catalog
from orchestration.simulator.generate.payments import ACCOUNT_CURRENCY, DECLINE_MESSAGES
from orchestration.simulator.generate.story import FINALIZE_DELAY
from orchestration.simulator.ids import bank_account_id
from orchestration.simulator.records import (
    BalanceRec,
    ChargeRec,
    CreditNoteRec,
    CustomerRec,
    DiscountRec,
    DisputeRec,
    InvoiceItemRec,
    InvoiceRec,
    ItemState,
    LineRec,
    PaymentIntentRec,
    PaymentMethodRec,
    PayoutRec,
    RefundRec,
    SubscriptionRec,
    SubscriptionVersion,
)
from orchestration.simulator.templates import build, samples
from orchestration.simulator.timeline import DAY, next_midnight_after

EMBEDDED_LINES = 10
"""Invoices and credit notes embed their first 10 lines; `/v1/<list>/{id}/lines` pages through all."""

_APPROVED = {
    "advice_code": None,
    "network_advice_code": None,
    "network_decline_code": None,
    "network_status": "approved_by_network",
    "reason": None,
    "seller_message": "Payment complete.",
    "type": "authorized",
}
_DECLINE_REASONS = {
    "card_declined": "generic_decline",
    "insufficient_funds": "insufficient_funds",
    "expired_card": "expired_card",
    "incorrect_cvc": "incorrect_cvc",
}
_DECLINED = {
    code: {
        **_APPROVED,
        "advice_code": "try_again_later" if code == "insufficient_funds" else "do_not_try_again",
        "network_status": "declined_by_network",
        "reason": reason,
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }
    for code, reason in _DECLINE_REASONS.items()
}


class Renderer:
    """Renders the records of one account; caches the moment-independent parts."""

    def __init__(
        self, catalog: Catalog, customers: dict[str, CustomerRec], account_name: str, now: int, account_id: str
    ) -> None:
        self.catalog = catalog
        self.customers = customers
        self.account_name = account_name
        self.now = now
        self.bank_account = bank_account_id(account_id)
        """The `ba_...` external account payouts go to."""
        self._lines: dict[str, list[dict[str, Any]]] = {}
        self._credit_note_lines: dict[str, list[dict[str, Any]]] = {}
        self._billing_details: dict[str, dict[str, Any]] = {}
        self._card_details: dict[str, dict[str, Any]] = {}
        self.kinds: dict[str, Callable[[Any, int], dict[str, Any]]] = {
            "customer": self.customer,
            "payment_method": self.payment_method,
            "subscription": self.subscription,
            "discount": lambda record, _at: self.discount(record),
            "invoice": self.invoice,
            "invoice_payment": self.invoice_payment,
            "invoiceitem": self.invoiceitem,
            "payment_intent": self.payment_intent,
            "charge": self.charge,
            "refund": lambda record, _at: self.refund(record),
            "dispute": self.dispute,
            "credit_note": lambda record, _at: self.credit_note(record),
            "payout": self.payout,
        }

    def render(self, kind: str, record: Any, at: int) -> dict[str, Any]:
        return self.kinds[kind](record, at)

    # Customers and their cards.

    def customer(self, customer: CustomerRec, at: int) -> dict[str, Any]:
        return build(
            "customer",
            id=customer.id,
            address=customer.address,
            created=customer.created,
            currency=customer.currency_at(at),
            delinquent=customer.delinquent_at(at),
            email=customer.email,
            invoice_prefix=customer.invoice_prefix,
            invoice_settings={
                "custom_fields": None,
                "default_payment_method": customer.payment_method.id,
                "footer": None,
                "rendering_options": None,
            },
            name=customer.name,
            next_invoice_sequence=bisect_right(customer.finalizations, at) + 1,
            phone=customer.phone,
        )

    def payment_method(self, method: PaymentMethodRec, at: int | None = None) -> dict[str, Any]:
        """The card as of `at` (default: now); a deleted customer's card is detached (`customer` null)."""
        customer = self.customers[method.customer_id]
        deleted = customer.deleted_at is not None and customer.deleted_at <= (self.now if at is None else at)
        card = {
            **samples()["payment_method"]["card"],
            "brand": method.brand,
            "country": method.country,
            "display_brand": method.brand,
            "exp_month": method.exp_month,
            "exp_year": method.exp_year,
            "fingerprint": method.fingerprint,
            "funding": method.funding,
            "generated_from": None,
            "last4": method.last4,
            "networks": {"available": [method.brand], "preferred": None},
            "wallet": None,
        }
        return build(
            "payment_method",
            id=method.id,
            billing_details=self._billing(customer),
            card=card,
            created=method.created,
            customer=None if deleted else customer.id,
        )

    def _billing(self, customer: CustomerRec) -> dict[str, Any]:
        details = self._billing_details.get(customer.id)
        if details is None:
            address = customer.address or dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
            details = {
                "address": address,
                "email": customer.email,
                "name": customer.name,
                "phone": customer.phone,
                "tax_id": None,
            }
            self._billing_details[customer.id] = details
        return details

    def _card(self, customer: CustomerRec) -> dict[str, Any]:
        details = self._card_details.get(customer.id)
        if details is None:
            method = customer.payment_method
            card = {
                **samples()["charge"]["payment_method_details"]["card"],
                "brand": method.brand,
                "country": method.country,
                "exp_month": method.exp_month,
                "exp_year": method.exp_year,
                "fingerprint": method.fingerprint,
                "funding": method.funding,
                "last4": method.last4,
                "network": method.brand,
                "overcapture": None,
                "wallet": None,
            }
            details = {"card": card, "type": "card"}
            self._card_details[customer.id] = details
        return details

    # Subscriptions.

    def subscription(self, sub: SubscriptionRec, at: int) -> dict[str, Any]:
        state = sub.state_at(at)
        return build(
            "subscription",
            id=sub.id,
            billing_cycle_anchor=sub.billing_cycle_anchor,
            cancel_at=state.cancel_at,
            canceled_at=state.canceled_at,
            cancel_at_period_end=state.cancel_at_period_end,
            cancellation_details={
                "comment": None,
                "feedback": state.cancellation_feedback,
                "reason": state.cancellation_reason,
            },
            created=sub.created,
            currency=sub.currency,
            customer=sub.customer_id,
            discounts=[discount.id for discount in state.discounts if discount.subscription_item is None],
            ended_at=state.ended_at,
            items={
                "data": [self.subscription_item(sub, item, state) for item in state.items],
                "has_more": False,
                "object": "list",
                "url": f"/v1/subscription_items?subscription={sub.id}",
            },
            latest_invoice=sub.latest_invoice_at(at),
            metadata={},
            start_date=sub.created,
            status=state.status,
            trial_end=sub.trial_end,
            trial_start=sub.trial_start,
            billing_thresholds=None,
            schedule=sub.schedule_id,
            pause_collection=None
            if state.pause_collection is None
            else {"behavior": state.pause_collection, "resumes_at": None},
        )

    def subscription_item(self, sub: SubscriptionRec, item: ItemState, state: SubscriptionVersion) -> dict[str, Any]:
        rendered = build(
            "subscription_item",
            id=item.id,
            created=item.created,
            price=self.catalog.price_objects[item.price_id],
            plan=self.catalog.plan_objects[item.price_id],
            quantity=item.quantity,
            subscription=sub.id,
            current_period_start=state.current_period_start,
            current_period_end=state.current_period_end,
            discounts=[discount.id for discount in state.discounts if discount.subscription_item == item.id],
        )
        if item.quantity is None:  # Stripe leaves `quantity` out of items on metered prices
            del rendered["quantity"]
        return rendered

    def discount(self, discount: DiscountRec) -> dict[str, Any]:
        return build(
            "discount",
            id=discount.id,
            customer=discount.customer_id,
            end=discount.end,
            start=discount.start,
            subscription=discount.subscription_id,
            subscription_item=discount.subscription_item,
            source={"coupon": discount.coupon_id, "type": "coupon"},
        )

    # Invoices.

    def invoice(self, invoice: InvoiceRec, at: int) -> dict[str, Any]:
        customer = self.customers[invoice.customer_id]
        status = invoice.status_at(at)
        finalized = None if status == "draft" else invoice.finalized_at
        intent = invoice.payment_intent
        attempts = [c for c in intent.charges if c.created <= at] if intent else []
        amount_paid = invoice.total if status == "paid" else 0
        upcoming = [moment for moment in invoice.retry_times if moment > at]
        automatic = invoice.collection_method == "charge_automatically"
        lines = self.lines(invoice)
        url = None if finalized is None else f"https://invoice.stripe.com/i/{invoice.id}"
        discount_ids = [discount.id for discount in invoice.discounts]
        totals: dict[str, int] = {}
        for line in invoice.lines:
            for discount_id, amount in line.discount_amounts:
                totals[discount_id] = totals.get(discount_id, 0) + amount
        return build(
            "invoice",
            id=invoice.id,
            account_name=self.account_name,
            amount_due=invoice.total,
            amount_paid=amount_paid,
            amount_remaining=invoice.total - amount_paid,
            attempt_count=len(attempts),
            attempted=bool(attempts) or status == "paid",
            auto_advance=invoice.auto_advance and (status == "open" or (status == "draft" and automatic)),
            automatically_finalizes_at=invoice.created + FINALIZE_DELAY
            if status == "draft" and automatic and invoice.auto_advance
            else None,
            billing_reason=invoice.billing_reason,
            collection_method=invoice.collection_method,
            created=invoice.created,
            currency=invoice.currency,
            customer=invoice.customer_id,
            customer_address=customer.address,
            customer_email=customer.email,
            customer_name=customer.name,
            customer_phone=customer.phone,
            description=invoice.description,
            discounts=discount_ids,
            due_date=finalized + invoice.days_until_due * DAY if finalized and invoice.days_until_due else None,
            effective_at=finalized,
            ending_balance=None if finalized is None else 0,
            hosted_invoice_url=url,
            invoice_pdf=None if url is None else url + "/pdf",
            lines={
                "data": lines[:EMBEDDED_LINES],
                "has_more": len(lines) > EMBEDDED_LINES,
                "object": "list",
                "url": f"/v1/invoices/{invoice.id}/lines",
            },
            next_payment_attempt=upcoming[0] if status == "open" and automatic and upcoming else None,
            number=None if finalized is None else invoice.number,
            parent=None
            if invoice.subscription_id is None
            else {
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": invoice.subscription_id},
                "type": "subscription_details",
            },
            period_end=invoice.period_end,
            period_start=invoice.period_start,
            post_payment_credit_notes_amount=sum(note.amount for note in invoice.credit_notes if note.created <= at),
            status=status,
            status_transitions={
                "finalized_at": finalized,
                "marked_uncollectible_at": _until(invoice.uncollectible_at, at),
                "paid_at": _until(invoice.paid_at, at),
                "voided_at": _until(invoice.voided_at, at),
            },
            subscription=None,
            subtotal=invoice.subtotal,
            subtotal_excluding_tax=invoice.subtotal,
            total=invoice.total,
            total_discount_amounts=[
                {"amount": amount, "discount": discount_id} for discount_id, amount in totals.items()
            ],
            total_excluding_tax=invoice.total,
            webhooks_delivered_at=invoice.created,
        )

    def lines(self, invoice: InvoiceRec) -> list[dict[str, Any]]:
        """Every line of `invoice` in order (lines never change once the invoice exists)."""
        rendered = self._lines.get(invoice.id)
        if rendered is None:
            rendered = [self.line(invoice, line) for line in invoice.lines]
            self._lines[invoice.id] = rendered
        return rendered

    def line(self, invoice: InvoiceRec, line: LineRec) -> dict[str, Any]:
        discount_amounts = [
            {"amount": amount, "discount": discount_id} for discount_id, amount in line.discount_amounts
        ]
        parent: dict[str, Any]
        if line.subscription_id is None:
            parent = {
                "invoice_item_details": {
                    "invoice_item": line.invoice_item_id,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": None,
                },
                "subscription_item_details": None,
                "type": "invoice_item_details",
            }
        else:
            credited = None
            if line.credited is not None:
                credited = {"invoice": line.credited[0], "invoice_line_items": [line.credited[1]]}
            parent = {
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": line.invoice_item_id,
                    "proration": line.proration,
                    "proration_details": {"credited_items": credited},
                    "subscription": line.subscription_id,
                    "subscription_item": line.subscription_item_id,
                },
                "type": "subscription_item_details",
            }
        return build(
            "line_item",
            id=line.id,
            amount=line.amount,
            currency=invoice.currency,
            description=line.description,
            discount_amounts=discount_amounts,
            discounts=list(line.item_discounts),
            invoice=invoice.id,
            period={"end": line.period_end, "start": line.period_start},
            quantity=line.quantity,
            subscription=line.subscription_id,
            parent=parent,
            pricing=self._pricing(line),
            subtotal=line.amount,
            quantity_decimal=str(line.quantity),
        )

    def _pricing(self, line: LineRec) -> dict[str, Any]:
        price = self.catalog.price_by_id(line.price_id)
        if line.proration or price.unit_amount is None:  # tiered: the average over the quantity billed
            unit = Decimal(line.amount) / line.quantity if line.quantity else Decimal(0)
        else:
            unit = Decimal(price.unit_amount)
        return {
            "price_details": {"price": price.id, "product": price.product_id},
            "type": "price_details",
            "unit_amount_decimal": _decimal(unit),
        }

    def invoiceitem(self, item: InvoiceItemRec, at: int) -> dict[str, Any]:
        line = item.line
        invoiced = item.invoiced_at is not None and item.invoiced_at <= at
        parent = None
        if line.subscription_id is not None:
            parent = {"subscription_details": {"subscription": line.subscription_id}, "type": "subscription_details"}
        return build(
            "invoiceitem",
            id=item.id,
            amount=line.amount,
            currency=item.currency,
            customer=item.customer_id,
            date=item.date,
            description=line.description,
            invoice=item.invoice_id if invoiced else None,
            period={"end": line.period_end, "start": line.period_start},
            proration=line.proration,
            quantity=line.quantity,
            parent=parent,
            pricing=self._pricing(line),
            net_amount=line.amount,
            quantity_decimal=str(line.quantity),
        )

    def invoice_payment(self, invoice: InvoiceRec, at: int) -> dict[str, Any]:
        intent = invoice.payment_intent
        assert intent is not None, "only invoices collected through a payment intent have invoice payments"
        paid_at = _until(invoice.paid_at, at)
        canceled_at = _until(intent.canceled_at, at)
        return build(
            "invoice_payment",
            id=intent.invoice_payment_id,
            amount_paid=invoice.total if paid_at else None,
            amount_requested=invoice.total,
            created=intent.created,
            currency=invoice.currency,
            invoice=invoice.id,
            livemode=False,
            payment={"type": "payment_intent", "payment_intent": intent.id},
            status="paid" if paid_at else "canceled" if canceled_at else "open",
            status_transitions={"canceled_at": canceled_at, "paid_at": paid_at},
        )

    # Payments.

    def payment_intent(self, intent: PaymentIntentRec, at: int) -> dict[str, Any]:
        charges = [charge for charge in intent.charges if charge.created <= at]
        latest = charges[-1] if charges else None
        canceled_at = _until(intent.canceled_at, at)
        succeeded = latest is not None and latest.succeeded
        error = None
        if latest is not None and latest.failure_code is not None:
            error = {
                "type": "card_error",
                "code": latest.failure_code,
                "decline_code": _DECLINE_REASONS[latest.failure_code],
                "message": DECLINE_MESSAGES[latest.failure_code],
            }
        return build(
            "payment_intent",
            id=intent.id,
            amount=intent.amount,
            amount_received=intent.amount if succeeded else 0,
            canceled_at=canceled_at,
            cancellation_reason="void_invoice" if canceled_at else None,
            capture_method="automatic_async",
            client_secret=f"{intent.id}_secret_{intent.id[::-1][:24]}",
            created=intent.created,
            currency=intent.currency,
            customer=intent.customer_id,
            description=intent.description,
            last_payment_error=error,
            latest_charge=latest.id if latest else None,
            payment_method=intent.payment_method_id,
            status="succeeded" if succeeded else "canceled" if canceled_at else "requires_payment_method",
        )

    def charge(self, charge: ChargeRec, at: int) -> dict[str, Any]:
        customer = self.customers[charge.customer_id]
        refunds = [refund for refund in charge.refunds if refund.created <= at]
        refunded = sum(refund.amount for refund in refunds)
        succeeded = charge.succeeded
        code = charge.failure_code
        return build(
            "charge",
            id=charge.id,
            amount=charge.amount,
            amount_captured=charge.amount if succeeded else 0,
            amount_refunded=refunded,
            balance_transaction=charge.balance.id if charge.balance else None,
            billing_details=self._billing(customer),
            calculated_statement_descriptor=self.account_name.upper()[:22],
            captured=succeeded,
            created=charge.created,
            currency=charge.currency,
            customer=charge.customer_id,
            description=charge.description,
            disputed=charge.dispute is not None and charge.dispute.created <= at,
            failure_code=code,
            failure_message=None if code is None else DECLINE_MESSAGES[code],
            outcome=_APPROVED if code is None else _DECLINED[code],
            paid=succeeded,
            payment_intent=charge.payment_intent_id,
            payment_method=charge.payment_method_id,
            payment_method_details=self._card(customer),
            receipt_email=customer.email,
            receipt_url=f"https://pay.stripe.com/receipts/payment/{charge.id}" if succeeded else None,
            refunded=succeeded and refunded == charge.amount,
            refunds={
                "data": [self.refund(refund) for refund in refunds],
                "has_more": False,
                "object": "list",
                "url": f"/v1/charges/{charge.id}/refunds",
            },
            status="succeeded" if succeeded else "failed",
        )

    def refund(self, refund: RefundRec) -> dict[str, Any]:
        charge = refund.charge
        return build(
            "refund",
            id=refund.id,
            amount=refund.amount,
            balance_transaction=refund.balance.id,
            charge=charge.id,
            created=refund.created,
            currency=charge.currency,
            payment_intent=charge.payment_intent_id,
            reason=refund.reason,
            customer=charge.customer_id,
            payment_method=charge.payment_method_id,
        )

    def dispute(self, dispute: DisputeRec, at: int) -> dict[str, Any]:
        charge = dispute.charge
        answered = at >= dispute.evidence_submitted_at
        due_by = next_midnight_after(dispute.created, 21) - 1
        brand = self.customers[charge.customer_id].payment_method.brand
        return build(
            "dispute",
            id=dispute.id,
            amount=dispute.amount,
            balance_transactions=[self.balance_transaction(b) for b in dispute.balances if b.created <= at],
            charge=charge.id,
            created=dispute.created,
            currency=charge.currency,
            evidence_details={
                "due_by": due_by,
                "has_evidence": answered,
                "past_due": not answered and at > due_by,
                "submission_count": 1 if answered else 0,
                "enhanced_eligibility": {},
            },
            is_charge_refundable=False,
            payment_intent=charge.payment_intent_id,
            payment_method_details={
                "card": {"brand": brand, "case_type": "chargeback", "network_reason_code": "10.4", "network": brand},
                "type": "card",
            },
            reason=dispute.reason,
            status=dispute.status_at(at),
        )

    def credit_note(self, note: CreditNoteRec) -> dict[str, Any]:
        invoice, amount = note.invoice, note.amount
        lines = self.credit_note_lines(note)
        return build(
            "credit_note",
            id=note.id,
            amount=amount,
            created=note.created,
            currency=invoice.currency,
            customer=invoice.customer_id,
            customer_balance_transaction=None,
            discount_amounts=[],
            effective_at=note.created,
            invoice=invoice.id,
            lines={
                "data": lines[:EMBEDDED_LINES],
                "has_more": len(lines) > EMBEDDED_LINES,
                "object": "list",
                "url": f"/v1/credit_notes/{note.id}/lines",
            },
            number=f"{invoice.number}-CN-{note.sequence:02d}",
            pdf=f"https://pay.stripe.com/credit_notes/{note.id}/pdf",
            post_payment_amount=amount,
            pre_payment_amount=0,
            pretax_credit_amounts=[],
            reason=note.reason,
            refunds=[
                {"amount_refunded": amount, "payment_record_refund": None, "refund": note.refund.id, "type": "refund"}
            ],
            shipping_cost=None,
            subtotal=amount,
            subtotal_excluding_tax=amount,
            total=amount,
            total_excluding_tax=amount,
            total_taxes=[],
            type="post_payment",
            voided_at=None,
        )

    def credit_note_lines(self, note: CreditNoteRec) -> list[dict[str, Any]]:
        """Every line of `note` in order; like invoice lines, they never change."""
        rendered = self._credit_note_lines.get(note.id)
        if rendered is None:
            rendered = [
                build(
                    "credit_note_line_item",
                    id=line_id,
                    amount=amount,
                    description=line.description,
                    discount_amounts=[],
                    invoice_line_item=line.id,
                    metadata={},
                    pretax_credit_amounts=[],
                    quantity=line.quantity,
                    taxes=[],
                )
                for line_id, line, amount in note.lines
            ]
            self._credit_note_lines[note.id] = rendered
        return rendered

    def payout(self, payout: PayoutRec, at: int) -> dict[str, Any]:
        arrived = payout.arrival_date <= at
        return build(
            "payout",
            id=payout.id,
            amount=payout.amount,
            arrival_date=payout.arrival_date,
            balance_transaction=payout.balance.id,
            created=payout.created,
            destination=self.bank_account,
            reconciliation_status="completed" if arrived else "in_progress",
            status="paid" if arrived else "in_transit",
            trace_id={"status": "supported" if arrived else "pending", "value": None},
        )

    def balance_transaction(self, balance: BalanceRec) -> dict[str, Any]:
        fee_details = []
        if balance.fee:
            fee_details = [
                {
                    "amount": balance.fee,
                    "application": None,
                    "currency": ACCOUNT_CURRENCY,
                    "description": balance.fee_description,
                    "type": "stripe_fee",
                }
            ]
        return build(
            "balance_transaction",
            id=balance.id,
            amount=balance.amount,
            available_on=balance.available_on,
            created=balance.created,
            currency=ACCOUNT_CURRENCY,
            description=balance.description,
            exchange_rate=balance.exchange_rate,
            fee=balance.fee,
            fee_details=fee_details,
            net=balance.amount - balance.fee,
            reporting_category=balance.reporting_category,
            source=balance.source_id,
            status="available" if balance.available_on <= self.now else "pending",
            type=balance.type,
        )


def _until(moment: int | None, at: int) -> int | None:
    """`moment` if it has happened by `at`."""
    return moment if moment is not None and moment <= at else None


def _decimal(value: Decimal) -> str:
    """Stripe's decimal strings: no exponent, no trailing zeros (`1633.333333333333`, `4900`)."""
    text = f"{value.quantize(Decimal('1e-12')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
