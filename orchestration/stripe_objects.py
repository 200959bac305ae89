"""The Stripe objects the ingester loads, and how each is listed, expanded and kept up to date.

One entry per raw table in schema `stripe_raw`. The list parameters lift Stripe's default filters that
would otherwise hide rows: subscriptions omit canceled ones unless `status=all`, and the `active` filter
of prices, plans and products is read both ways so that no default can drop inactive objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RAW_DATASET = "stripe_raw"
"""The schema of the raw tables (dlt's dataset), named here so that Dagster's asset keys need no dlt import."""


@dataclass(frozen=True)
class ChildList:
    """Objects listed under a parent: embedded in it (first page only) and paged beyond that, or, without
    an embedded page, read from a list endpoint filtered on the parent (`payout=po_…`)."""

    table: str
    embedded_field: str | None
    """The parent's field holding the first page as a list object (`lines`, `items`), or a plain array.
    None: the parent embeds nothing, every page is read from `list_path`."""
    list_path: str | None = None
    """Paging endpoint; `{parent_id}` is replaced, or the id goes in `parent_param`. None: never paged."""
    parent_param: str | None = None
    expand: tuple[str, ...] = ()
    """Expansions of the pages beyond the embedded one (`data.discounts`), as the parent's list asks for
    those of its embedded page."""
    listed_for: Callable[[Any], bool] | None = None
    """Which parents have the list (automatic payouts); None: every parent."""
    final_when: Callable[[Any], bool] | None = None
    """When a parent's list is complete and stops changing (a reconciled payout); None: it may change with
    the parent, and is read whenever the parent is. Otherwise each parent's list is read once, when final
    (`children.FinalLists`)."""
    keyed_by_parent: bool = False
    """Rows are keyed `<parent id>:<child id>`, not by the child's id: the child may be listed under more
    than one parent."""


@dataclass(frozen=True)
class EmbeddedObjects:
    """Expanded objects found inside the parent at `paths`, never paged: Stripe has no list endpoint for them.

    A path walks the parent's fields; at a list object (`items`) it goes through each element of its
    `data`, at an array through each element (`items.data.discounts`: every item's discounts).
    `in_child_rows` names a child list of the same parent and a path in each of its objects: its rows, the
    embedded page and the pages beyond, are searched too (every invoice line's discounts).
    """

    table: str
    paths: tuple[str, ...]
    in_child_rows: tuple[str, str] | None = None


@dataclass(frozen=True)
class StripeObject:
    table: str
    """Raw table name and dlt resource name, after the list endpoint (`customers`)."""
    object_type: str
    """The `object` value of its API objects (`customer`), used to pick its events."""
    list_path: str
    description: str
    passes: tuple[dict[str, str], ...] = ({},)
    """Extra list parameters per pass; the union of the passes is every object of the type."""
    expand: tuple[str, ...] = ()
    """List expansions (`data.tiers`): fields Stripe includes only when asked."""
    event_types: tuple[str, ...] = ()
    """Events that change the object (`type` patterns); empty: the object never changes."""
    related_events: tuple[tuple[str, str], ...] = ()
    """(event pattern, field of its object naming ours): events of other objects that change this one,
    e.g. a dispute flips its charge's `disputed` without any charge event."""
    deletable: bool = False
    """Whether Stripe deletes objects of this type (else `*.deleted` means e.g. canceled, re-fetch it)."""
    creation_events: tuple[str, ...] = ()
    """Event types (patterns) of which Stripe sends one whenever an object of this type is created
    (https://docs.stripe.com/api/events/types): an incremental sync lists the type only when one came since
    its last sync. Empty: objects of the type can appear without any event, so it is always listed."""
    children: tuple[ChildList | EmbeddedObjects, ...] = field(default=())
    created_field: str = "created"
    """The field the list's `created` filter and order apply to: invoice items carry `date` instead."""
    loads_last: bool = False
    """Its read outlasts every other object's in a full sync, so a load of its own follows the load of the
    others, which runs while it is still read (`source.TailReads`). Payouts: a request per payout at the
    balance-transactions endpoint, which Stripe limits to 25 a second."""

    @property
    def retrieve_path(self) -> str:
        return self.list_path + "/{id}"

    @property
    def retrieve_expand(self) -> tuple[str, ...]:
        return tuple(e.removeprefix("data.") for e in self.expand)

    def child_description(self, child: ChildList | EmbeddedObjects) -> str:
        """The description of a child table (`Invoice line items, read with their invoice.`)."""
        return f"{child.table.replace('_', ' ').capitalize()}, read with their {self.object_type}."


BOTH_ACTIVE_STATES = ({"active": "true"}, {"active": "false"})

INVOICE_LINES = ChildList("invoice_line_items", "lines", "/v1/invoices/{parent_id}/lines", expand=("data.discounts",))
SUBSCRIPTION_ITEMS = ChildList(
    "subscription_items", "items", "/v1/subscription_items", parent_param="subscription", expand=("data.discounts",)
)
# Stripe has no list endpoint for discounts: they come expanded in what they discount. A subscription lists
# its own discounts and each item its item-level ones; once a discount ends (a `once` coupon after its first
# invoice, a `repeating` one after its months) Stripe removes it from both, and only the invoices and invoice
# lines it discounted still name it. So discounts are read from invoices too, into a table of their own.
SUBSCRIPTION_DISCOUNTS = EmbeddedObjects(
    "discounts", ("discounts",), in_child_rows=(SUBSCRIPTION_ITEMS.table, "discounts")
)
INVOICE_DISCOUNTS = EmbeddedObjects(
    "invoice_discounts", ("discounts",), in_child_rows=(INVOICE_LINES.table, "discounts")
)
CREDIT_NOTE_LINES = ChildList("credit_note_line_items", "lines", "/v1/credit_notes/{parent_id}/lines")


def _is_automatic(payout: Any) -> bool:
    return payout.get("automatic") is True


def _is_reconciled(payout: Any) -> bool:
    return payout.get("reconciliation_status") == "completed"


# What each automatic payout paid out. A balance transaction names no payout; the balance transactions list
# filtered on one does: "For automatic Stripe payouts only, only returns transactions that were paid out on
# the specified payout ID" (https://docs.stripe.com/api/balance_transactions/list), the payout's own
# transaction among them (Stripe's answer in https://github.com/airbytehq/airbyte/pull/46499). The list is
# complete once the payout's reconciliation_status is `completed` ("If completed, you can use the Balance
# Transactions API to list all balance transactions that are paid out in this payout",
# https://docs.stripe.com/api/payouts/object), and no longer changes: each payout is read once, then. Nothing
# promises that a transaction is paid out by one payout only (a failed payout's funds come back and are paid
# out again), so a row is the pair, keyed by both ids.
PAYOUT_BALANCE_TRANSACTIONS = ChildList(
    "payout_balance_transactions",
    None,
    "/v1/balance_transactions",
    parent_param="payout",
    listed_for=_is_automatic,
    final_when=_is_reconciled,
    keyed_by_parent=True,
)

STRIPE_OBJECTS: tuple[StripeObject, ...] = (
    StripeObject(
        "customers",
        "customer",
        "/v1/customers",
        "Customers: the buyers of the account; deleted ones kept with is_deleted.",
        event_types=("customer.created", "customer.updated", "customer.deleted"),
        deletable=True,
        creation_events=("customer.created",),
    ),
    StripeObject(
        "products",
        "product",
        "/v1/products",
        "Products, active and archived.",
        passes=BOTH_ACTIVE_STATES,
        event_types=("product.*",),
        deletable=True,
        creation_events=("product.created",),
    ),
    StripeObject(
        "prices",
        "price",
        "/v1/prices",
        "Prices, active and inactive, with their tiers.",
        passes=BOTH_ACTIVE_STATES,
        expand=("data.tiers",),
        event_types=("price.*",),
        deletable=True,
        creation_events=("price.created",),
    ),
    StripeObject(
        "plans",
        "plan",
        "/v1/plans",
        "Plans: the legacy view of recurring prices.",
        passes=BOTH_ACTIVE_STATES,
        expand=("data.tiers",),
        event_types=("plan.*",),
        deletable=True,
        creation_events=("plan.created",),
    ),
    StripeObject(
        "coupons",
        "coupon",
        "/v1/coupons",
        "Coupons: the discount definitions.",
        event_types=("coupon.*",),
        deletable=True,
        creation_events=("coupon.created",),
    ),
    StripeObject(
        "subscriptions",
        "subscription",
        "/v1/subscriptions",
        "Subscriptions in every status, canceled included, with their and their items' discounts expanded.",
        passes=({"status": "all"},),
        expand=("data.discounts", "data.items.data.discounts"),
        event_types=("customer.subscription.*",),
        children=(SUBSCRIPTION_ITEMS, SUBSCRIPTION_DISCOUNTS),
        creation_events=("customer.subscription.created",),
    ),
    StripeObject(
        "invoices",
        "invoice",
        "/v1/invoices",
        "Invoices; their lines are in invoice_line_items, the discounts they and their lines name in "
        "invoice_discounts.",
        # The embedded lines' discounts too: a discount ended on an item is named only on its lines.
        expand=("data.discounts", "data.lines.data.discounts"),
        event_types=("invoice.*",),
        deletable=True,
        children=(INVOICE_LINES, INVOICE_DISCOUNTS),
        creation_events=("invoice.created",),
    ),
    StripeObject(
        "invoice_payments",
        "invoice_payment",
        "/v1/invoice_payments",
        "Invoice payments: which payment intent paid which invoice (a charge no longer names its invoice).",
        event_types=("invoice_payment.*",),
        # Only `invoice_payment.paid`: a payment opened for an invoice is announced by none, so listed each time.
        creation_events=(),
    ),
    StripeObject(
        "invoice_items",
        "invoiceitem",
        "/v1/invoiceitems",
        "Invoice items: one-off amounts added to a customer's next invoice.",
        event_types=("invoiceitem.*",),
        deletable=True,
        created_field="date",
        creation_events=("invoiceitem.created",),
    ),
    StripeObject(
        "charges",
        "charge",
        "/v1/charges",
        "Charges: attempts to move money from a payment method.",
        event_types=("charge.*",),
        related_events=(("charge.dispute.*", "charge"),),
        # No `charge.created`: a charge is created succeeded (authorized, even if not captured yet), failed or
        # pending, and Stripe sends charge.succeeded, charge.failed or charge.pending as it is.
        creation_events=("charge.succeeded", "charge.failed", "charge.pending"),
    ),
    StripeObject(
        "refunds",
        "refund",
        "/v1/refunds",
        "Refunds of charges.",
        event_types=("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"),
        creation_events=("refund.created",),
    ),
    StripeObject(
        "payment_intents",
        "payment_intent",
        "/v1/payment_intents",
        "Payment intents: the lifecycle of a payment across its charge attempts.",
        event_types=("payment_intent.*",),
        creation_events=("payment_intent.created",),
    ),
    StripeObject(
        "disputes",
        "dispute",
        "/v1/disputes",
        "Disputes (chargebacks) of charges.",
        event_types=("charge.dispute.*",),
        creation_events=("charge.dispute.created",),
    ),
    StripeObject(
        "balance_transactions",
        "balance_transaction",
        "/v1/balance_transactions",
        "Balance transactions: every movement of the account's balance, with fees and net.",
        # No event announces a balance transaction (only the charge, refund, payout... behind it, and not all of
        # those have one): listed each time.
        creation_events=(),
    ),
    StripeObject(
        "payouts",
        "payout",
        "/v1/payouts",
        "Payouts to the account's bank; the balance transactions each automatic payout paid out are in "
        "payout_balance_transactions.",
        event_types=("payout.*",),
        children=(PAYOUT_BALANCE_TRANSACTIONS,),
        creation_events=("payout.created",),
        loads_last=True,
    ),
    StripeObject(
        "credit_notes",
        "credit_note",
        "/v1/credit_notes",
        "Credit notes; their lines are in credit_note_line_items.",
        event_types=("credit_note.*",),
        children=(CREDIT_NOTE_LINES,),
        creation_events=("credit_note.created",),
    ),
    StripeObject(
        "events",
        "event",
        "/v1/events",
        "Events of the last 30 days (Stripe keeps no older ones); kept once loaded.",
        # Every event announces itself.
        creation_events=("*",),
    ),
)


def stripe_object(table: str) -> StripeObject:
    for obj in STRIPE_OBJECTS:
        if obj.table == table:
            return obj
    raise KeyError(f"unknown Stripe object {table!r}; known: {', '.join(o.table for o in STRIPE_OBJECTS)}")
