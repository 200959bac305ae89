"""Referential and arithmetic integrity of a simulated account, as readable error strings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from orchestration.simulator import SimulatedAccount

# Which list an `object` type lives in (event payloads are resolved through it).
LIST_OF = {
    "customer": "customers",
    "payment_method": "payment_methods",
    "product": "products",
    "price": "prices",
    "plan": "plans",
    "coupon": "coupons",
    "subscription": "subscriptions",
    "invoice": "invoices",
    "invoiceitem": "invoiceitems",
    "invoice_payment": "invoice_payments",
    "payment_intent": "payment_intents",
    "charge": "charges",
    "refund": "refunds",
    "dispute": "disputes",
    "payout": "payouts",
    "credit_note": "credit_notes",
    "discount": "discounts",
}


def integrity_errors(account: SimulatedAccount) -> list[str]:
    ids = {name: {obj["id"] for obj in objects} for name, objects in account.objects.items()}
    ids["balance_sources"] = ids["charges"] | ids["refunds"] | ids["disputes"] | ids["payouts"]
    # A deleted customer is no longer listed but is still retrieved (as a deleted stub): its subscriptions,
    # invoices and events still name it.
    ids["customers"] |= set(account.store.collection("customers").deleted)
    errors = [
        f"{name} {obj_id}: {field}={value!r} is not in {target}"
        for name, obj_id, field, value, target in _references(account)
        if value is not None and value not in ids[target]
    ]
    return errors + _arithmetic_errors(account)


def _references(account: SimulatedAccount) -> Iterator[tuple[str, str, str, Any, str]]:
    """(list, id, field, referenced id, list it must be in) for every foreign key."""
    objects = account.objects
    for product in objects["products"]:
        yield "products", product["id"], "default_price", product["default_price"], "prices"
    for price in objects["prices"] + objects["plans"]:
        yield "prices", price["id"], "product", price["product"], "products"
    for customer in objects["customers"]:
        method = customer["invoice_settings"]["default_payment_method"]
        yield "customers", customer["id"], "default_payment_method", method, "payment_methods"
    for method in objects["payment_methods"]:
        yield "payment_methods", method["id"], "customer", method["customer"], "customers"
    for sub in objects["subscriptions"]:
        yield "subscriptions", sub["id"], "customer", sub["customer"], "customers"
        yield "subscriptions", sub["id"], "latest_invoice", sub["latest_invoice"], "invoices"
        for item in sub["items"]["data"]:
            yield "subscriptions", sub["id"], "items.data.id", item["id"], "subscription_items"
    for item in objects["subscription_items"]:
        yield "subscription_items", item["id"], "subscription", item["subscription"], "subscriptions"
        yield "subscription_items", item["id"], "price", item["price"]["id"], "prices"
        yield "subscription_items", item["id"], "plan", item["plan"]["id"], "plans"
    for invoice in objects["invoices"]:
        yield "invoices", invoice["id"], "customer", invoice["customer"], "customers"
        parent = invoice["parent"]
        subscription = parent["subscription_details"]["subscription"] if parent else None
        yield "invoices", invoice["id"], "parent.subscription", subscription, "subscriptions"
    for line in objects["invoice_line_items"]:
        yield "invoice_line_items", line["id"], "invoice", line["invoice"], "invoices"
        yield "invoice_line_items", line["id"], "subscription", line["subscription"], "subscriptions"
        price = line["pricing"]["price_details"]
        yield "invoice_line_items", line["id"], "price", price["price"], "prices"
        yield "invoice_line_items", line["id"], "product", price["product"], "products"
        details = line["parent"]["subscription_item_details"] or line["parent"]["invoice_item_details"]
        yield "invoice_line_items", line["id"], "invoice_item", details["invoice_item"], "invoiceitems"
        yield "invoice_line_items", line["id"], "subscription", details["subscription"], "subscriptions"
        if line["parent"]["subscription_item_details"]:
            item = details["subscription_item"]
            yield "invoice_line_items", line["id"], "subscription_item", item, "subscription_items"
        credited = details["proration_details"]["credited_items"]
        if credited:
            yield "invoice_line_items", line["id"], "credited invoice", credited["invoice"], "invoices"
            for credited_line in credited["invoice_line_items"]:
                yield "invoice_line_items", line["id"], "credited line", credited_line, "invoice_line_items"
    for item in objects["invoiceitems"]:
        yield "invoiceitems", item["id"], "customer", item["customer"], "customers"
        yield "invoiceitems", item["id"], "invoice", item["invoice"], "invoices"
        subscription = item["parent"]["subscription_details"]["subscription"] if item["parent"] else None
        yield "invoiceitems", item["id"], "subscription", subscription, "subscriptions"
    for payment in objects["invoice_payments"]:
        yield "invoice_payments", payment["id"], "invoice", payment["invoice"], "invoices"
        intent = payment["payment"]["payment_intent"]
        yield "invoice_payments", payment["id"], "payment_intent", intent, "payment_intents"
    for intent in objects["payment_intents"]:
        yield "payment_intents", intent["id"], "customer", intent["customer"], "customers"
        yield "payment_intents", intent["id"], "latest_charge", intent["latest_charge"], "charges"
        yield "payment_intents", intent["id"], "payment_method", intent["payment_method"], "payment_methods"
    for charge in objects["charges"]:
        for field in ("customer", "payment_intent", "payment_method", "balance_transaction"):
            target = {
                "customer": "customers",
                "payment_intent": "payment_intents",
                "payment_method": "payment_methods",
                "balance_transaction": "balance_transactions",
            }[field]
            yield "charges", charge["id"], field, charge[field], target
        for refund in charge["refunds"]["data"]:
            yield "charges", charge["id"], "refunds", refund["id"], "refunds"
    for refund in objects["refunds"]:
        yield "refunds", refund["id"], "charge", refund["charge"], "charges"
        yield "refunds", refund["id"], "balance_transaction", refund["balance_transaction"], "balance_transactions"
        yield "refunds", refund["id"], "payment_intent", refund["payment_intent"], "payment_intents"
    for dispute in objects["disputes"]:
        yield "disputes", dispute["id"], "charge", dispute["charge"], "charges"
        for balance in dispute["balance_transactions"]:
            yield "disputes", dispute["id"], "balance_transactions", balance["id"], "balance_transactions"
    for balance in objects["balance_transactions"]:
        yield "balance_transactions", balance["id"], "source", balance["source"], "balance_sources"
    for payout in objects["payouts"]:
        yield "payouts", payout["id"], "balance_transaction", payout["balance_transaction"], "balance_transactions"
    for note in objects["credit_notes"]:
        yield "credit_notes", note["id"], "invoice", note["invoice"], "invoices"
        yield "credit_notes", note["id"], "customer", note["customer"], "customers"
        for refund in note["refunds"]:
            yield "credit_notes", note["id"], "refunds.refund", refund["refund"], "refunds"
    for line in objects["credit_note_line_items"]:
        item = line["invoice_line_item"]
        yield "credit_note_line_items", line["id"], "invoice_line_item", item, "invoice_line_items"
    for discount in objects["discounts"]:
        yield "discounts", discount["id"], "coupon", discount["source"]["coupon"], "coupons"
        yield "discounts", discount["id"], "subscription", discount["subscription"], "subscriptions"
    for owner in ("subscriptions", "invoices"):
        for obj in objects[owner]:
            for discount in obj["discounts"]:
                yield owner, obj["id"], "discounts", discount, "discounts"
    for event in objects["events"]:
        payload = event["data"]["object"]
        if payload["object"] in LIST_OF:
            yield "events", event["id"], "data.object.id", payload["id"], LIST_OF[payload["object"]]


def _arithmetic_errors(account: SimulatedAccount) -> list[str]:
    objects = account.objects
    errors = []
    lines = defaultdict(list)
    for line in objects["invoice_line_items"]:
        lines[line["invoice"]].append(line)
    charges_by_intent = defaultdict(list)
    for charge in objects["charges"]:
        charges_by_intent[charge["payment_intent"]].append(charge)
    intent_of = {payment["invoice"]: payment["payment"]["payment_intent"] for payment in objects["invoice_payments"]}
    for invoice in objects["invoices"]:
        own = lines[invoice["id"]]
        subtotal = sum(line["amount"] for line in own)
        line_discounts = sum(d["amount"] for line in own for d in line["discount_amounts"])
        invoice_discounts = sum(d["amount"] for d in invoice["total_discount_amounts"])
        paid = sum(c["amount"] for c in charges_by_intent.get(intent_of.get(invoice["id"]), ()) if c["paid"])
        checks = {
            "subtotal = sum of lines": invoice["subtotal"] == subtotal,
            "total = subtotal - discounts": invoice["total"] == subtotal - invoice_discounts,
            "line discounts = invoice discounts": line_discounts == invoice_discounts,
            "amount_due = total": invoice["amount_due"] == invoice["total"],
            "amount_paid = succeeded charges": invoice["amount_paid"] == paid,
            "embedded lines are the first 10": invoice["lines"]["data"] == own[:10],
            "has_more iff more than 10 lines": invoice["lines"]["has_more"] == (len(own) > 10),
            "paid invoices are fully paid": invoice["status"] != "paid" or invoice["amount_remaining"] == 0,
        }
        errors += [f"invoice {invoice['id']}: {name}" for name, ok in checks.items() if not ok]
    for charge in objects["charges"]:
        refunded = sum(refund["amount"] for refund in charge["refunds"]["data"])
        if refunded != charge["amount_refunded"] or refunded > charge["amount"]:
            errors.append(f"charge {charge['id']}: refunds add up to {refunded}")
    for balance in objects["balance_transactions"]:
        if balance["net"] != balance["amount"] - balance["fee"]:
            errors.append(f"balance transaction {balance['id']}: net != amount - fee")
    lines_of = defaultdict(list)
    parents = account.hidden_fields.get("credit_note_line_items", {})
    for line in objects["credit_note_line_items"]:
        lines_of[parents[line["id"]]["credit_note"]].append(line)
    refunds = {refund["id"]: refund for refund in objects["refunds"]}
    for note in objects["credit_notes"]:
        credited = sum(line["amount"] for line in lines_of[note["id"]])
        refunded = sum(refunds[refund["refund"]]["amount"] for refund in note["refunds"])
        if not note["amount"] == note["total"] == credited == refunded:
            errors.append(f"credit note {note['id']}: amount, lines and refund disagree")
    return errors
