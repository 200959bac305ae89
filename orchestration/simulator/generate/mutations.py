"""Changes between two syncs: `mutate_account` makes an account live on until a later moment.

It applies a given number of changes, chosen at random (seeded) among what happens to a SaaS account in
a few hours: customers sign up (with a subscription and its whole chain: invoice and lines, payment
intent, charge, balance transaction), subscriptions are canceled, set to cancel at period end or changed
to another price or quantity, open invoices are paid or voided, charges refunded or disputed, emails
changed, and customers, coupons, products, plans, draft invoices and pending invoice items deleted, or
prices archived. Each change updates the store the server reads and emits the event Stripe would send,
with `data.object` the object after the change (and `data.previous_attributes` for `*.updated`).

Everything happens at one moment `at`, which must come after every event the account has: new objects
are created at `at`, the events of the batch sort after all earlier ones, and `account.now` moves to
`at` (so events older than 30 days before it drop out of the events list). The returned summary says,
per list, which ids were created, updated and deleted, so a test can compare a warehouse with the
simulator's state. Changes to existing objects work on their API objects; new customers reuse the
generator's stories and renderer, which is why the account must be a generated one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from orchestration.simulator.generate.catalog import rebuild_catalog
from orchestration.simulator.generate.customers import close_books, new_customer
from orchestration.simulator.generate.generator import render_events, render_records
from orchestration.simulator.generate.payments import Payments
from orchestration.simulator.generate.render import Renderer
from orchestration.simulator.generate.story import CustomerStory, SubscriptionStory
from orchestration.simulator.generate.world import World, announces_change, previous_attributes
from orchestration.simulator.ids import IdFactory
from orchestration.simulator.model.account import SimulatedAccount
from orchestration.simulator.records import (
    ChargeRec,
    CustomerRec,
    ItemState,
    PaymentIntentRec,
    PaymentMethodRec,
)
from orchestration.simulator.templates import API_VERSION, build
from orchestration.simulator.timeline import HOUR

DEFAULT_STEP = HOUR
"""Without `at`, the changes happen this long after the account's clock (or its newest event)."""
LIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
CHANGE_KINDS: dict[str, int] = {
    "new_customer": 24,
    "cancel_subscription": 8,
    "cancel_at_period_end": 6,
    "change_subscription": 8,
    "pay_invoice": 8,
    "void_invoice": 4,
    "refund_charge": 8,
    "open_dispute": 3,
    "change_email": 8,
    "delete_customer": 4,
    "delete_coupon": 2,
    "delete_product": 2,
    "delete_plan": 2,
    "archive_price": 2,
    "delete_draft_invoice": 3,
    "delete_invoiceitem": 3,
}
"""Each kind of change and how often it is drawn, relative to the others."""
_FEEDBACK = ("too_expensive", "missing_features", "switched_service", "unused", "other", None)


@dataclass
class MutationSummary:
    """What `mutate_account` changed: per list name, the ids of objects created, updated and deleted.

    Events are listed under `created["events"]`. An object created and then changed in the same batch
    counts as created; one changed and then deleted, as deleted.
    """

    at: int
    changes: list[str] = field(default_factory=list)
    """The kind of each change applied, in order (`new_customer`, `refund_charge`, …)."""
    created: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)

    def ids(self, action: str, name: str) -> list[str]:
        """`ids("deleted", "customers")`: the ids of one list for one action (empty if none)."""
        return list(getattr(self, action).get(name, ()))


def mutate_account(
    account: SimulatedAccount,
    *,
    seed: int,
    changes: int,
    at: int | None = None,
    kinds: Collection[str] | None = None,
) -> MutationSummary:
    """Applies `changes` realistic changes to a generated account at moment `at`; deterministic for a seed.

    `at` defaults to an hour after the account's clock or its newest event, whichever is later; it must
    be later than every event already emitted and not before the clock. `kinds` restricts the changes
    drawn to some of `CHANGE_KINDS` (a kind with nothing left to change still signs up a customer). Safe
    while a server reads the account: objects are replaced one at a time through the store, under its
    lock (a request may see a batch half applied, as a sync running during changes on Stripe would).
    About 2 ms per change on a laptop-class core: 10,000 changes take 15-20 s.
    """
    unknown = set(kinds or ()) - set(CHANGE_KINDS)
    if unknown:
        raise ValueError(f"unknown change kinds {sorted(unknown)}; known: {CHANGE_KINDS}")
    events = account.objects.get("events", [])
    newest_event = max((event["created"] for event in events), default=0)
    if at is None:
        at = max(account.current_time(), newest_event) + DEFAULT_STEP
    if at <= newest_event or (account.now is not None and at < account.now):
        raise ValueError(f"changes at {at} would come before the account's clock or its newest event")
    account.now = at
    mutator = _Mutator(account, seed, at, kinds or CHANGE_KINDS)
    for _ in range(changes):
        mutator.apply_one()
    mutator.finish()
    return mutator.summary


class _Mutator:
    def __init__(self, account: SimulatedAccount, seed: int, at: int, kinds: Collection[str]) -> None:
        self.account = account
        self.store = account.store
        self.at = at
        self.rng = random.Random(seed)
        self.ids = IdFactory(self.rng, account.account_id)
        objects = account.objects
        self.catalog = rebuild_catalog(objects["products"], objects["prices"], objects["coupons"])
        # Subscriptions embed prices and plans as they are now (archived ones included).
        self.catalog.price_objects.update((price["id"], price) for price in objects["prices"])
        self.catalog.plan_objects.update((plan["id"], plan) for plan in objects["plans"])
        # Payments records what changes to existing charges make; their events are emitted here instead.
        self.payments = Payments(self._world())
        self.summary = MutationSummary(at)
        self.actions: dict[str, dict[str, dict[str, None]]] = {"created": {}, "updated": {}, "deleted": {}}
        """Per action and list, the ids so far, in order (dicts as ordered sets); the summary's at the end."""
        self.sequence = 0
        """Position of the next event in the batch: event ids sort in the order changes happened."""
        self.touched: set[str] = set()
        """Ids changed by this batch: no object is changed twice."""
        self.new_customers = 0
        self.kind = ""
        """The kind of change being applied."""
        self.pools: dict[tuple[str, str], list[str]] = {}
        """Candidate ids per (kind of change, list), see `_pick`."""
        self.kinds: dict[str, tuple[int, Callable[[], bool]]] = {
            kind: (weight, getattr(self, f"_{kind}")) for kind, weight in CHANGE_KINDS.items() if kind in kinds
        }

    # The batch.

    def apply_one(self) -> None:
        """One change of a kind drawn by weight; a kind with nothing to change signs up a customer."""
        names = list(self.kinds)
        kind = self.rng.choices(names, weights=[self.kinds[name][0] for name in names])[0]
        self.kind = kind
        if not self.kinds[kind][1]():
            kind = "new_customer"
            self._new_customer()
        self.summary.changes.append(kind)

    def finish(self) -> None:
        """Signs up the new customers (after the changes to existing objects, which they cannot be), and
        completes the summary."""
        if self.new_customers:
            self._sign_up()
        for action, lists in self.actions.items():
            setattr(self.summary, action, {name: list(ids) for name, ids in lists.items() if ids})

    def _sign_up(self) -> None:
        world, catalog = self._world(), self.catalog
        payments = Payments(world)
        for _ in range(self.new_customers):
            customer = new_customer(world, self.at)
            world.customers.append(customer)
            story = CustomerStory(world, payments, customer)
            world.emit(self.at, "customer.created", "customer", customer, from_api_request=True)
            world.emit(self.at, "payment_method.attached", "payment_method", customer.payment_method)
            first_invoice = len(world.invoices)
            SubscriptionStory(story, self.at, story.pick_plan(self.at)).run()
            close_books(world, customer, world.invoices[first_invoice:])
        renderer = Renderer(
            catalog,
            {customer.id: customer for customer in world.customers},
            self.account.account["business_profile"]["name"],
            self.at,
            self.account.account_id,
        )
        for name, objects in render_records(world, renderer).items():
            for obj in objects:
                self._put(name, obj)
        for event in render_events(world, renderer, first_position=self.sequence):
            self._put("events", event)
        self.sequence += len(world.events)
        for sub in world.subscriptions:
            self.account.subscription_history[sub.id] = sub.versions
        for coupon_id, count in world.coupon_redemptions.items():
            coupon = self._get("coupons", coupon_id)
            if coupon is not None:  # no event: Stripe announces no change of `times_redeemed`
                self._put("coupons", {**coupon, "times_redeemed": coupon["times_redeemed"] + count})

    def _world(self) -> World:
        return World(self.rng, self.ids, self.catalog, self.at, self.account.account_id)

    # Changes. Each returns False when the account has nothing it applies to.

    def _new_customer(self) -> bool:
        self.new_customers += 1
        return True

    def _cancel_subscription(self) -> bool:
        sub = self._pick("subscriptions", lambda s: s["status"] in LIVE_STATUSES)
        if sub is None:
            return False
        self._end_subscription(sub, "cancellation_requested")
        return True

    def _cancel_at_period_end(self) -> bool:
        sub = self._pick("subscriptions", lambda s: s["status"] in LIVE_STATUSES and not s["cancel_at_period_end"])
        if sub is None:
            return False
        period_end = sub["items"]["data"][0]["current_period_end"]
        details = {"comment": None, "feedback": self.rng.choice(_FEEDBACK), "reason": "cancellation_requested"}
        self._update_subscription(
            sub,
            {"cancel_at": period_end, "cancel_at_period_end": True, "canceled_at": self.at},
            details,
            cancel_at_period_end=True,
            cancel_at=period_end,
            canceled_at=self.at,
            cancellation_reason=details["reason"],
            cancellation_feedback=details["feedback"],
        )
        return True

    def _change_subscription(self) -> bool:
        """An upgrade to the next price up, or more seats (without proration: `proration_behavior=none`)."""
        sub = self._pick(
            "subscriptions", lambda s: s["status"] in ("active", "past_due") and "quantity" in s["items"]["data"][0]
        )
        if sub is None:
            return False
        item = sub["items"]["data"][0]
        price = self.catalog.price_by_id(item["price"]["id"])
        upgrades = [self.catalog.prices[key] for key in price.upgrades if self.catalog.prices[key].sellable(self.at)]
        quantity = item["quantity"]
        if upgrades and quantity == 1:
            price = upgrades[0]
        else:
            quantity += self.rng.randint(1, 5)
        new_item = {
            **item,
            "price": self.catalog.price_objects[price.id],
            "plan": self.catalog.plan_objects[price.id],
            "quantity": quantity,
        }
        items = {**sub["items"], "data": [new_item, *sub["items"]["data"][1:]]}
        self._put("subscription_items", new_item)
        states = tuple(ItemState(i["id"], i["price"]["id"], i.get("quantity"), i["created"]) for i in items["data"])
        self._update_subscription(sub, {"items": items}, None, items=states)
        return True

    def _change_email(self) -> bool:
        customer = self._pick("customers")
        if customer is None:
            return False
        local, _, _ = customer["email"].partition("@")
        email = f"{local.split('.')[0]}.{self.rng.randint(1, 9999)}@example.org"
        updated = {**customer, "email": email}
        self._put("customers", updated)
        self._emit("customer.updated", updated, customer)
        return True

    def _pay_invoice(self) -> bool:
        invoice = self._pick("invoices", lambda i: i["status"] == "open" and i["amount_remaining"] > 0)
        if invoice is None:
            return False
        customer = self._get("customers", invoice["customer"])
        if customer is None:
            return False
        method = self._get("payment_methods", customer["invoice_settings"]["default_payment_method"])
        if method is None:
            return False
        at, amount = self.at, invoice["amount_remaining"]
        payments = self.store.select("invoice_payments", [("invoice", invoice["id"])])
        existing = self._get("payment_intents", payments[0]["payment"]["payment_intent"]) if payments else None
        intent = PaymentIntentRec(
            id=existing["id"] if existing else self.ids.new("pi", at),
            created=existing["created"] if existing else at,
            amount=amount,
            currency=invoice["currency"],
            customer_id=customer["id"],
            payment_method_id=method["id"],
            description=existing["description"] if existing else "Payment for Invoice",
            invoice_payment_id=payments[0]["id"] if payments else self.ids.new("inpay", at),
        )
        charge = self.payments.charge(intent, at, declined=False)
        renderer = self._renderer(_customer_record(customer, method))
        charge_object, intent_object = renderer.charge(charge, at), renderer.payment_intent(intent, at)
        assert charge.balance is not None, "a successful charge moves funds"
        self._put("charges", charge_object)
        self._put("balance_transactions", renderer.balance_transaction(charge.balance))
        self._put("payment_intents", intent_object)
        payment = build(
            "invoice_payment",
            id=intent.invoice_payment_id,
            amount_paid=amount,
            amount_requested=amount,
            created=intent.created,
            currency=invoice["currency"],
            invoice=invoice["id"],
            livemode=False,
            payment={"type": "payment_intent", "payment_intent": intent.id},
            status="paid",
            status_transitions={"canceled_at": None, "paid_at": at},
        )
        self._put("invoice_payments", payment)
        paid = {
            **invoice,
            "amount_paid": invoice["amount_paid"] + amount,
            "amount_remaining": 0,
            "attempt_count": invoice["attempt_count"] + 1,
            "attempted": True,
            "auto_advance": False,
            "next_payment_attempt": None,
            "status": "paid",
            "status_transitions": {**invoice["status_transitions"], "paid_at": at},
        }
        self._put("invoices", paid)
        if existing is None:
            # Paying an invoice that had no payment intent creates one, which Stripe announces like any other
            # ("payment_intent.created: Occurs when a new PaymentIntent is created",
            # https://docs.stripe.com/api/events/types).
            self._emit("payment_intent.created", intent_object)
        self._emit("charge.succeeded", charge_object)
        self._emit("payment_intent.succeeded", intent_object)
        self._emit("invoice_payment.paid", payment)
        self._emit("invoice.paid", paid)
        self._emit("invoice.payment_succeeded", paid)
        self._settle_subscription(invoice)
        return True

    def _void_invoice(self) -> bool:
        invoice = self._pick("invoices", lambda i: i["status"] == "open")
        if invoice is None:
            return False
        for payment in self.store.select("invoice_payments", [("invoice", invoice["id"])]):
            intent = self._get("payment_intents", payment["payment"]["payment_intent"])
            if intent is not None and intent["status"] != "succeeded":
                canceled = {
                    **intent,
                    "canceled_at": self.at,
                    "cancellation_reason": "void_invoice",
                    "status": "canceled",
                }
                self._put("payment_intents", canceled)
                self._emit("payment_intent.canceled", canceled)
            status_transitions = {**payment["status_transitions"], "canceled_at": self.at}
            self._put("invoice_payments", {**payment, "status": "canceled", "status_transitions": status_transitions})
        voided = {
            **invoice,
            "auto_advance": False,
            "next_payment_attempt": None,
            "status": "void",
            "status_transitions": {**invoice["status_transitions"], "voided_at": self.at},
        }
        self._put("invoices", voided)
        self._emit("invoice.voided", voided)
        self._settle_subscription(invoice)
        return True

    def _refund_charge(self) -> bool:
        charge = self._pick(
            "charges", lambda c: c["status"] == "succeeded" and not c["disputed"] and c["amount_refunded"] < c["amount"]
        )
        if charge is None:
            return False
        left = charge["amount"] - charge["amount_refunded"]
        amount = left if self.rng.random() < 0.6 else max(1, round(left * self.rng.uniform(0.2, 0.7)))
        record = _charge_record(charge)
        refund = self.payments.refund(record, self.at, amount, self.rng.choice(("requested_by_customer", None)))
        renderer = self._renderer(None)
        refund_object = renderer.refund(refund)
        refunded = charge["amount_refunded"] + amount
        updated = {
            **charge,
            "amount_refunded": refunded,
            "refunded": refunded == charge["amount"],
            "refunds": {**charge["refunds"], "data": [*charge["refunds"]["data"], refund_object]},
        }
        self._put("refunds", refund_object)
        self._put("balance_transactions", renderer.balance_transaction(refund.balance))
        self._put("charges", updated)
        self._emit("refund.created", refund_object)
        self._emit("charge.refunded", updated, charge)
        return True

    def _open_dispute(self) -> bool:
        charge = self._pick("charges", lambda c: c["status"] == "succeeded" and not c["disputed"] and not c["refunded"])
        if charge is None:
            return False
        customer = self._customer_of(charge)
        if customer is None:  # a deleted customer's charge
            return False
        record = _charge_record(charge)
        self.payments.dispute(record, self.at)
        assert record.dispute is not None, "a dispute opened now has happened"
        renderer = self._renderer(customer)
        dispute = renderer.dispute(record.dispute, self.at)
        for balance in record.dispute.balances:
            self._put("balance_transactions", renderer.balance_transaction(balance))
        self._put("disputes", dispute)
        self._put("charges", {**charge, "disputed": True})  # no event: `disputed` follows the dispute
        self._emit("charge.dispute.created", dispute)
        self._emit("charge.dispute.funds_withdrawn", dispute)
        return True

    def _delete_customer(self) -> bool:
        """Deleting a customer cancels its subscriptions and detaches its payment methods."""
        customer = self._pick("customers")
        if customer is None:
            return False
        subs = self.store.select("subscriptions", [("customer", customer["id"])])
        for sub in subs:
            if sub["status"] in LIVE_STATUSES and sub["id"] not in self.touched:
                self.touched.add(sub["id"])
                self._end_subscription(sub, "cancellation_requested")
        for method in self.store.select("payment_methods", [("customer", customer["id"])]):
            detached = {**method, "customer": None}
            self._put("payment_methods", detached)
            self._emit("payment_method.detached", detached, method)
        self._delete("customers", customer)
        self._emit("customer.deleted", customer)
        return True

    def _delete_coupon(self) -> bool:
        return self._delete_with_event("coupons", "coupon.deleted")

    def _delete_product(self) -> bool:
        """Stripe only deletes products that have no price."""
        priced = {price["product"] for price in self.account.objects["prices"]}
        return self._delete_with_event("products", "product.deleted", lambda p: p["id"] not in priced)

    def _delete_plan(self) -> bool:
        """Legacy plans of archived prices are cleaned up; the prices stay."""
        return self._delete_with_event("plans", "plan.deleted", lambda p: not p["active"])

    def _archive_price(self) -> bool:
        """A price taken off sale (not a product's default price, which Stripe refuses to archive)."""
        defaults = {product["default_price"] for product in self.account.objects["products"]}
        price = self._pick("prices", lambda p: p["type"] == "recurring" and p["id"] not in defaults)
        if price is None:
            return False
        archived = {**price, "active": False}
        self._put("prices", archived)
        self._emit("price.updated", archived, price)
        plan = self._get("plans", price["id"])
        if plan is not None and plan["active"]:
            archived_plan = {**plan, "active": False}
            self._put("plans", archived_plan)
            self._emit("plan.updated", archived_plan, plan)
        return True

    def _delete_draft_invoice(self) -> bool:
        """A one-off draft is deleted with its lines and invoice items (subscription drafts cannot be)."""
        invoice = self._pick("invoices", lambda i: i["status"] == "draft" and i["parent"] is None)
        if invoice is None:
            return False
        for line in self.store.invoice_lines(invoice["id"], [("limit", "100")])["data"]:
            self._delete("invoice_line_items", line)
        for item in self.store.select("invoiceitems", [("invoice", invoice["id"])]):
            self._delete("invoiceitems", item)
            self._emit("invoiceitem.deleted", item)
        self._delete("invoices", invoice)
        self._emit("invoice.deleted", invoice)
        return True

    def _delete_invoiceitem(self) -> bool:
        return self._delete_with_event("invoiceitems", "invoiceitem.deleted", lambda i: i["invoice"] is None)

    # Building blocks.

    def _settle_subscription(self, invoice: dict[str, Any]) -> None:
        """A past-due subscription whose open invoice is paid or voided owes nothing more: active again."""
        sub = self._get("subscriptions", _subscription_of(invoice))
        if sub is not None and sub["status"] == "past_due" and sub["id"] not in self.touched:
            self.touched.add(sub["id"])
            self._update_subscription(sub, {"status": "active"}, None, status="active")

    def _end_subscription(self, sub: dict[str, Any], reason: str) -> None:
        at = self.at
        details = {"comment": None, "feedback": self.rng.choice(_FEEDBACK), "reason": reason}
        ended = {**sub, "canceled_at": at, "cancellation_details": details, "ended_at": at, "status": "canceled"}
        self._put("subscriptions", ended)
        self._emit("customer.subscription.deleted", ended)
        self._version(
            sub["id"],
            status="canceled",
            canceled_at=at,
            ended_at=at,
            cancellation_reason=reason,
            cancellation_feedback=details["feedback"],
        )

    def _update_subscription(
        self, sub: dict[str, Any], fields: dict[str, Any], details: dict[str, Any] | None, **version: Any
    ) -> None:
        """Sets `fields` (and `cancellation_details`), emits `customer.subscription.updated`, and records
        the new version of the subscription's history."""
        if details is not None:
            fields = {**fields, "cancellation_details": details}
        updated = {**sub, **fields}
        self._put("subscriptions", updated)
        self._emit("customer.subscription.updated", updated, sub)
        self._version(sub["id"], **version)

    def _version(self, sub_id: str, **changes: Any) -> None:
        history = self.account.subscription_history.get(sub_id)
        if history:  # accounts loaded from plain API dumps have no history to keep
            history.append(replace(history[-1], at=self.at, **changes))

    def _delete_with_event(
        self, name: str, event_type: str, eligible: Callable[[dict[str, Any]], bool] = lambda _obj: True
    ) -> bool:
        obj = self._pick(name, eligible)
        if obj is None:
            return False
        self._delete(name, obj)
        self._emit(event_type, obj)
        return True

    def _pick(self, name: str, eligible: Callable[[dict[str, Any]], bool] = lambda _obj: True) -> dict[str, Any] | None:
        """A random object of list `name` (every status) that this batch has not changed yet.

        Each kind of change draws from its own pool of candidates, listed once per batch: drawing is then
        O(1), which keeps batches of thousands of changes on large accounts fast. A candidate changed or
        deleted since is checked again when drawn.
        """
        key = (self.kind, name)
        pool = self.pools.get(key)
        if pool is None:
            params = [("status", "all")] if name == "subscriptions" else []
            pool = self.pools[key] = [obj["id"] for obj in self.store.select(name, params) if eligible(obj)]
        while pool:
            index = self.rng.randrange(len(pool))
            object_id = pool[index]
            pool[index] = pool[-1]  # remove in O(1): order within the pool does not matter
            pool.pop()
            obj = self._get(name, object_id)
            if obj is not None and object_id not in self.touched and eligible(obj):
                self.touched.add(object_id)
                return obj
        return None

    def _get(self, name: str, object_id: str | None) -> dict[str, Any] | None:
        if object_id is None:
            return None
        return self.store.collection(name).objects.get(object_id)

    def _customer_of(self, charge: dict[str, Any]) -> CustomerRec | None:
        customer = self._get("customers", charge["customer"])
        method = self._get("payment_methods", charge["payment_method"])
        return _customer_record(customer, method) if customer and method else None

    def _renderer(self, customer: CustomerRec | None) -> Renderer:
        customers = {customer.id: customer} if customer else {}
        name = self.account.account["business_profile"]["name"]
        return Renderer(self.catalog, customers, name, self.at, self.account.account_id)

    def _put(self, name: str, obj: dict[str, Any]) -> None:
        exists = obj["id"] in self.store.collection(name).objects
        self.store.put(name, obj)
        self._record("updated" if exists else "created", name, obj["id"])

    def _delete(self, name: str, obj: dict[str, Any]) -> None:
        self.store.delete(name, obj["id"])
        self._record("deleted", name, obj["id"])

    def _record(self, action: str, name: str, object_id: str) -> None:
        actions = self.actions
        created, updated = actions["created"].setdefault(name, {}), actions["updated"].setdefault(name, {})
        if action == "updated" and object_id in created:
            return
        if action == "deleted" and object_id in created:  # never seen outside this batch
            del created[object_id]
            return
        if action == "deleted":
            updated.pop(object_id, None)
        actions[action].setdefault(name, {})[object_id] = None

    def _emit(self, event_type: str, obj: dict[str, Any], before: dict[str, Any] | None = None) -> None:
        """The event announcing a change made through the API (so it carries a request id).

        `before` is the object before the change: an event that announces one (`*.updated`) names what
        changed in `data.previous_attributes`, as the generated history's events do.
        """
        data: dict[str, Any] = {"object": obj}
        if before is not None and announces_change(event_type):
            data["previous_attributes"] = previous_attributes(before, obj)
        event = build(
            "event",
            id=self.ids.new_sequenced("evt", self.at, self.sequence),
            api_version=API_VERSION,
            created=self.at,
            data=data,
            pending_webhooks=0,
            request={"id": "req_" + self.ids.new("req", self.at)[4:], "idempotency_key": None},
            type=event_type,
        )
        self.sequence += 1
        self._put("events", event)


def _customer_record(customer: dict[str, Any], method: dict[str, Any]) -> CustomerRec:
    """The generator's record of a customer, from its API objects (to render its new payments)."""
    card = method["card"]
    return CustomerRec(
        id=customer["id"],
        created=customer["created"],
        name=customer["name"],
        email=customer["email"],
        phone=customer["phone"],
        address=customer["address"],
        invoice_prefix=customer["invoice_prefix"],
        payment_method=PaymentMethodRec(
            id=method["id"],
            created=method["created"],
            customer_id=customer["id"],
            brand=card["brand"],
            last4=card["last4"],
            exp_month=card["exp_month"],
            exp_year=card["exp_year"],
            fingerprint=card["fingerprint"],
            funding=card["funding"],
            country=card["country"],
        ),
        currency=customer["currency"],
    )


def _charge_record(charge: dict[str, Any]) -> ChargeRec:
    """The generator's record of a charge, from its API object (to refund or dispute it)."""
    return ChargeRec(
        id=charge["id"],
        created=charge["created"],
        amount=charge["amount"],
        currency=charge["currency"],
        customer_id=charge["customer"],
        payment_intent_id=charge["payment_intent"],
        payment_method_id=charge["payment_method"],
        description=charge["description"],
        failure_code=None,
        balance=None,
    )


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    details = (invoice["parent"] or {}).get("subscription_details") or {}
    return details.get("subscription")
