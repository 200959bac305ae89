"""Objects Stripe never lists (discounts), read where they are embedded: in the parent and in its child rows."""

from orchestration.ingest.children import child_rows
from orchestration.stripe_objects import (
    INVOICE_DISCOUNTS,
    INVOICE_LINES,
    SUBSCRIPTION_DISCOUNTS,
    SUBSCRIPTION_ITEMS,
)


def _discount(discount_id: str) -> dict:
    return {"id": discount_id, "object": "discount", "source": {"coupon": "25OFF", "type": "coupon"}}


def test_an_invoice_discounts_come_from_it_and_from_every_line_read_embedded_or_paged():
    invoice = {"id": "in_1", "discounts": [_discount("di_invoice"), "di_not_expanded"]}
    # The rows of the invoice's lines as the child list read them: the embedded page and a page beyond it.
    lines = [
        ("in_1", [{"id": "il_1", "discounts": [_discount("di_item")]}, {"id": "il_2", "discounts": []}]),
        ("in_1", [{"id": "il_11", "discounts": [_discount("di_item"), _discount("di_eleventh_line")]}]),
    ]
    found = list(child_rows(INVOICE_DISCOUNTS, [invoice], None, None, {INVOICE_LINES.table: lines}))
    assert [(parent, [d["id"] for d in discounts]) for parent, discounts in found] == [
        ("in_1", ["di_invoice", "di_item", "di_eleventh_line"])
    ]


def test_a_subscription_discounts_come_from_it_and_its_items():
    subscription = {"id": "sub_1", "discounts": [_discount("di_sub")]}
    items = [("sub_1", [{"id": "si_1", "discounts": [_discount("di_item"), _discount("di_sub")]}])]
    found = list(child_rows(SUBSCRIPTION_DISCOUNTS, [subscription], None, None, {SUBSCRIPTION_ITEMS.table: items}))
    assert [(parent, [d["id"] for d in discounts]) for parent, discounts in found] == [("sub_1", ["di_sub", "di_item"])]
