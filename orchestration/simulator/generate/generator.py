"""`generate_account`: a deterministic, internally consistent Stripe account of any size.

The company opened its account about three years before `now` and signs up customers at a growing
pace. Each customer's story (see `story`) is simulated in turn, then the weekly payouts, then every
record is rendered to API objects as of `now`, and the events of the last 30 days with their payloads
as of each event (and, for changes, `previous_attributes`: the changed fields as of the second before).
`mutations` reuses the customer and rendering steps for customers who sign up later.
"""

from __future__ import annotations

import gc
import math
import random
import time
import uuid
from typing import Any

from orchestration.simulator.generate.catalog import Catalog, build_catalog, coupon_objects, product_objects
from orchestration.simulator.generate.customers import close_books, new_customer
from orchestration.simulator.generate.patterns import add_patterns
from orchestration.simulator.generate.payments import Payments
from orchestration.simulator.generate.payouts import schedule_payouts
from orchestration.simulator.generate.render import Renderer
from orchestration.simulator.generate.story import CustomerStory
from orchestration.simulator.generate.world import World, announces_change, previous_attributes
from orchestration.simulator.ids import IdFactory, new_account_id, random_chars
from orchestration.simulator.model.account import SimulatedAccount, account_object
from orchestration.simulator.records import BalanceRec, DiscountRec
from orchestration.simulator.templates import API_VERSION, build
from orchestration.simulator.timeline import DAY

HISTORY = 3 * 365 * DAY
"""How long before `now` the first customer signed up."""
CATALOG_LEAD = 60 * DAY
"""The catalog and coupons were set up before the first customer."""

_COMPANIES = (
    "Acme Cloud",
    "Globex Software",
    "Initech Analytics",
    "Hooli Tools",
    "Umbrella Apps",
    "Stark Data",
    "Wayne Labs",
    "Tyrell Systems",
)


def generate_account(
    seed: int,
    customers: int,
    now: int | None = None,
    account_id: str | None = None,
    patterns: bool = True,
    price_scale: float = 1.0,
) -> SimulatedAccount:
    """A simulated account with `customers` customers and everything that happened to them.

    With `patterns` (the default) the account also holds the named billing patterns of `patterns.PATTERNS`
    (scripted customers on top of the `customers` random ones; `account.patterns` names them).

    `price_scale` multiplies every amount of the catalogue (prices' unit amounts, tiers' unit and flat
    amounts, coupons' `amount_off`) and keeps every id: the catalogue's ids (products, prices and their
    plans, coupons) are drawn by a generator of their own from `seed` (their times from `now`), whatever
    `account_id`, `customers`, `patterns` and `price_scale` are, so two accounts of one seed share their
    plan, price and coupon ids, as accounts whose plans were created with the same custom ids do
    (https://docs.stripe.com/api/plans/create#create_plan-id), and can differ in amounts.

    Deterministic: the same `seed`, `customers`, `now`, `account_id` and `price_scale` give identical objects
    (`now` defaults to the current time). Customers sign up over the three years before `now`; objects are
    as of `now`; events cover the last 30 days. About 50 objects per customer; 20,000 customers take
    well under a minute.
    """
    # The cyclic garbage collector would rescan the ever-growing heap of records (which holds no garbage)
    # many times over; pausing it during generation makes large accounts about twice as fast. Freezing
    # and unfreezing then moves the new objects straight to the oldest generation, so the collector
    # scans them once later instead of once per generation.
    collecting = gc.isenabled()
    gc.disable()
    try:
        moment = int(time.time()) if now is None else now
        return _generate(seed, customers, moment, account_id, patterns, price_scale)
    finally:
        gc.freeze()
        gc.unfreeze()
        if collecting:
            gc.enable()


def _generate(
    seed: int, customers: int, now: int, account_id: str | None, patterns: bool, price_scale: float
) -> SimulatedAccount:
    rng = random.Random(seed)
    opened_at = now - HISTORY - CATALOG_LEAD
    # The catalogue's ids come from a generator of their own, seeded by `seed` alone, and carry the fragment
    # of the account `seed` makes when none is named, whatever `account_id`, `customers` or `price_scale`
    # are: accounts of one seed share them.
    catalog_rng = random.Random(seed)
    home_account = new_account_id(catalog_rng, opened_at)
    catalog = build_catalog(IdFactory(catalog_rng, home_account), opened_at, price_scale)
    account_id = account_id or new_account_id(rng, opened_at)
    ids = IdFactory(rng, account_id)
    world = World(rng, ids, catalog, now, account_id)
    payments = Payments(world)
    signups = sorted(now - HISTORY + int(HISTORY * math.sqrt(rng.random())) for _ in range(customers))
    for created in signups:
        customer = new_customer(world, created)
        first_invoice = len(world.invoices)
        world.customers.append(customer)
        CustomerStory(world, payments, customer).run()
        close_books(world, customer, world.invoices[first_invoice:])
    named = {}
    if patterns:
        named = add_patterns(world, payments)
    schedule_payouts(world, _balances(world))

    business_name = rng.choice(_COMPANIES)
    renderer = Renderer(world.catalog, {c.id: c for c in world.customers}, business_name, now, account_id)
    objects = {**_catalog_objects(world), **render_records(world, renderer)}
    objects["events"] = render_events(world, renderer)
    account = SimulatedAccount(
        account_id=account_id,
        account=account_object(account_id, business_name, opened_at - 7 * DAY),
        objects=objects,
        subscription_history={sub.id: sub.versions for sub in world.subscriptions},
        now=now,
        hidden_fields={**_tiers(world.catalog), **records_hidden_fields(world)},
        patterns=named,
    )
    # A deleted customer is no longer listed; retrieving it answers `{"id", "object", "deleted": true}`
    # (https://docs.stripe.com/api/customers/delete). Its subscriptions, invoices and charges stay.
    for customer in world.customers:
        if customer.deleted_at is not None:
            account.store.delete("customers", customer.id)
    return account


def _balances(world: World) -> list[BalanceRec]:
    """Every balance transaction the stories made: charges, refunds, disputes."""
    balances = [charge.balance for charge in world.charges if charge.balance]
    balances += [refund.balance for charge in world.charges for refund in charge.refunds]
    balances += [balance for charge in world.charges if charge.dispute for balance in charge.dispute.balances]
    return balances


def _catalog_objects(world: World) -> dict[str, list[dict[str, Any]]]:
    catalog = world.catalog
    return {
        "products": product_objects(catalog),
        "prices": list(catalog.price_objects.values()),
        "plans": list(catalog.plan_objects.values()),
        "coupons": coupon_objects(catalog, world.coupon_redemptions),
    }


def _tiers(catalog: Catalog) -> dict[str, dict[str, dict[str, Any]]]:
    """`tiers` of tiered prices and plans, which Stripe shows only when expanded."""
    tiers = {price_id: {"tiers": tiers} for price_id, tiers in catalog.tier_objects.items()}
    return {"prices": tiers, "plans": dict(tiers)}


def records_hidden_fields(world: World) -> dict[str, dict[str, dict[str, Any]]]:
    """The credit note of each credit note line: Stripe's line objects do not name it. The payout of each
    balance transaction a payout paid out, and of the payout's own: a balance transaction does not name its
    payout, `GET /v1/balance_transactions?payout=<id>` lists them (its own among them, as Stripe's answer does:
    https://github.com/airbytehq/airbyte/pull/46499 shows one)."""
    paid_out = {
        balance_id: {"payout": payout.id}
        for payout in world.payouts
        for balance_id in (payout.balance.id, *payout.paid_out)
    }
    return {
        "credit_note_line_items": {
            line_id: {"credit_note": note.id} for note in world.credit_notes for line_id, _, _ in note.lines
        },
        "balance_transactions": paid_out,
    }


def render_records(world: World, renderer: Renderer) -> dict[str, list[dict[str, Any]]]:
    """The API objects of everything the world's stories recorded, as of `world.now` (all but the catalog)."""
    now = world.now
    subscriptions = [renderer.subscription(sub, now) for sub in world.subscriptions]
    invoices = [renderer.invoice(invoice, now) for invoice in world.invoices]
    charges = [renderer.charge(charge, now) for charge in world.charges]
    refunds = [refund for charge in charges for refund in charge["refunds"]["data"]]
    disputes = [renderer.dispute(charge.dispute, now) for charge in world.charges if charge.dispute]
    balances = [renderer.balance_transaction(charge.balance) for charge in world.charges if charge.balance]
    balances += [renderer.balance_transaction(refund.balance) for charge in world.charges for refund in charge.refunds]
    balances += [balance for dispute in disputes for balance in dispute["balance_transactions"]]
    balances += [renderer.balance_transaction(payout.balance) for payout in world.payouts]
    discounts: dict[str, DiscountRec] = {}
    for sub in world.subscriptions:
        discounts.update((discount.id, discount) for v in sub.versions for discount in v.discounts)
    return {
        "customers": [renderer.customer(customer, now) for customer in world.customers],
        "payment_methods": [renderer.payment_method(customer.payment_method) for customer in world.customers],
        "discounts": [renderer.discount(discount) for discount in discounts.values()],
        "subscriptions": subscriptions,
        "subscription_items": [item for sub in subscriptions for item in sub["items"]["data"]],
        "invoices": invoices,
        "invoice_line_items": [line for invoice in world.invoices for line in renderer.lines(invoice)],
        "invoiceitems": [renderer.invoiceitem(item, now) for item in world.invoice_items],
        "invoice_payments": [
            renderer.invoice_payment(invoice, now) for invoice in world.invoices if invoice.payment_intent is not None
        ],
        "payment_intents": [renderer.payment_intent(intent, now) for intent in world.payment_intents],
        "charges": charges,
        "refunds": refunds,
        "balance_transactions": balances,
        "disputes": disputes,
        "credit_notes": [renderer.credit_note(note) for note in world.credit_notes],
        "credit_note_line_items": [line for note in world.credit_notes for line in renderer.credit_note_lines(note)],
        "payouts": [renderer.payout(payout, now) for payout in world.payouts],
    }


def render_events(world: World, renderer: Renderer, first_position: int = 0) -> list[dict[str, Any]]:
    """Events of the last 30 days, in time order; ids sort like the order things happened.

    `first_position` orders these events after others of the same second made earlier (`mutations`).
    An event announcing a change (`*.updated`, see `announces_change`) carries `data.previous_attributes`:
    what changed since the second before, its object rendered then as `data.object` is now. Objects are
    rendered as of a second, so a second `*.updated` event about an object in the same second would repeat
    the first (same object, same previous values): it is left out, as is an update that changed nothing.
    """
    rng, ids = world.rng, world.ids
    events = []
    announced: set[tuple[str, str, int]] = set()
    ordered = sorted(world.events, key=lambda e: (e.created, e.sequence))
    for position, pending in enumerate(ordered, start=first_position):
        request: dict[str, str | None] = {"id": None, "idempotency_key": None}
        if pending.from_api_request:
            key = uuid.UUID(int=rng.getrandbits(128), version=4)
            request = {"id": "req_" + random_chars(rng, 14), "idempotency_key": str(key)}
        event_id = ids.new_sequenced("evt", pending.created, position)
        obj = renderer.render(pending.kind, pending.record, pending.created)
        data: dict[str, Any] = {"object": obj}
        if announces_change(pending.type):
            before = renderer.render(pending.kind, pending.record, pending.created - 1)
            data["previous_attributes"] = previous_attributes(before, obj)
            if pending.type.endswith(".updated"):
                change = (pending.type, obj["id"], pending.created)
                if not data["previous_attributes"] or change in announced:
                    continue
                announced.add(change)
        events.append(
            build(
                "event",
                id=event_id,
                api_version=API_VERSION,
                created=pending.created,
                data=data,
                pending_webhooks=0,
                request=request,
                type=pending.type,
            )
        )
    return events
