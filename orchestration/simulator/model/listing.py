"""What each list endpoint accepts: its filters, their defaults, and the parsing of a query string.

A `ListSpec` per endpoint declares its filters; `parse_query` turns the raw `(key, value)` pairs of a
request (as the SDK encodes them: `created[gte]=…`, `types[0]=…`, `expand[]=…`) into a `ListQuery`, or
raises the `StripeError` Stripe would answer with. The store executes the query.

Some lists are not endpoints of their own: invoice and credit note lines are served through their parent
(`/v1/invoices/{id}/lines`), discounts only inside the objects they apply to (`expand[]=discounts`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestration.simulator.errors import StripeError, invalid_parameter, missing_parameter, unknown_parameter
from orchestration.simulator.timeline import EVENT_RETENTION

Match = frozenset[Hashable] | Callable[[Hashable], bool]
"""Which index values a filter keeps: an exact set, or a predicate (for `type=customer.*`)."""

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_EVENT_TYPES = 20
SUBSCRIPTION_STATUSES = (
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
)
_KEY = re.compile(r"^([A-Za-z_]+)(?:\[([A-Za-z_0-9]*)\])?$")
_RANGE_OPERATORS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class Filter:
    """An equality filter backed by an index on `field` (several params may share one field)."""

    param: str
    field: str
    values: Callable[[dict[str, Any]], Iterable[Hashable]]
    """The index values of an object (several for subscriptions filtered by any of their prices)."""
    parse: Callable[[str, str], Match | None]
    """(param, raw value) → what to keep; None keeps everything (`status=all`)."""
    default: Match | None = None
    """What to keep when the param is absent (subscriptions hide canceled ones, prices inactive ones)."""
    repeated: bool = False
    """Takes a list (`types[]=a&types[]=b`)."""
    hidden: bool = False
    """`values` reads the object's hidden fields (`ListSpec.hidden_fields`), not the API object: what the
    object does not show, such as the payout that paid a balance transaction out."""


@dataclass(frozen=True)
class ListSpec:
    name: str
    """The list endpoint's name and `objects` key (`customers`)."""
    object: str
    """The `object` of its items (`customer`), used in "No such customer" errors."""
    filters: tuple[Filter, ...] = ()
    sort_field: str = "created"
    required: tuple[str, ...] = ()
    deleted_stub: bool = False
    """Retrieving a deleted object returns `{"id", "object", "deleted": true}` instead of a 404."""
    routable: bool = True
    """Has its own `/v1/<name>` routes (invoice lines are only reachable through their invoice)."""
    created_filter: bool = True
    """Accepts `created[gt|gte|lt|lte]`; invoice lines, which have no `created`, do not."""
    hidden_fields: tuple[str, ...] = ()
    """Fields kept out of the API object: `tiers`, which Stripe shows only when expanded, and the
    simulator's own bookkeeping (the `credit_note` of a credit note line, which Stripe's line omits; the
    `payout` of a balance transaction, which only the list's `payout` filter reveals)."""
    retention: int | None = None
    """Objects older than this many seconds before the account's clock are gone (events: 30 days)."""
    filters_by_param: dict[str, Filter] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "filters_by_param", {f.param: f for f in self.filters})

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"


@dataclass
class ListQuery:
    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None
    created_min: int | None = None
    """Inclusive bounds on the sort field."""
    created_max: int | None = None
    matches: dict[str, Match] = field(default_factory=dict)
    """Per index field, the values to keep."""
    expand: list[str] = field(default_factory=list)
    """`expand[]` values as sent (`data.tiers`)."""


# Value parsers.


def _exact(param: str, raw: str) -> Match:
    return frozenset({raw})


def _boolean(param: str, raw: str) -> Match:
    if raw not in ("true", "false"):
        raise invalid_parameter(param, f"Invalid boolean: {raw}", code="parameter_invalid_boolean")
    return frozenset({raw == "true"})


def _one_of(*allowed: str) -> Callable[[str, str], Match]:
    def parse(param: str, raw: str) -> Match:
        if raw not in allowed:
            listed = ", ".join(allowed[:-1]) + f", or {allowed[-1]}"
            raise invalid_parameter(param, f"Invalid {param}: must be one of {listed}")
        return frozenset({raw})

    return parse


def _subscription_status(param: str, raw: str) -> Match | None:
    if raw == "all":
        return None
    if raw == "ended":
        return frozenset({"canceled", "incomplete_expired"})
    return _one_of(*SUBSCRIPTION_STATUSES, "all", "ended")(param, raw)


def _event_type(param: str, raw: str) -> Match:
    """`customer.subscription.updated`, or with `*` wildcards: `customer.*`, `*.created`."""
    if "*" not in raw:
        return frozenset({raw})
    pattern = re.compile("^" + ".*".join(re.escape(part) for part in raw.split("*")) + "$")
    return lambda value: bool(pattern.match(str(value)))


def _field(name: str) -> Callable[[dict[str, Any]], Iterable[Hashable]]:
    return lambda obj: (obj[name],)


def _eq(param: str, field_name: str | None = None, parse: Callable[[str, str], Match | None] = _exact) -> Filter:
    field_name = field_name or param
    return Filter(param, field_name, _field(field_name), parse)


def _active(default: bool | None = None) -> Filter:
    return Filter(
        "active", "active", _field("active"), _boolean, default=None if default is None else frozenset({default})
    )


def _invoice_subscription(invoice: dict[str, Any]) -> Iterable[Hashable]:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return (details.get("subscription"),)


def _subscription_prices(subscription: dict[str, Any]) -> Iterable[Hashable]:
    return [item["price"]["id"] for item in subscription["items"]["data"]]


def _invoice_payment_intent(payment: dict[str, Any]) -> Iterable[Hashable]:
    return (payment["payment"].get("payment_intent"),)


LIST_SPECS: dict[str, ListSpec] = {
    spec.name: spec
    for spec in (
        ListSpec("customers", "customer", (_eq("email"),), deleted_stub=True),
        ListSpec("products", "product", (_active(),)),
        ListSpec(
            "prices",
            "price",
            (
                _active(default=True),
                _eq("product"),
                _eq("currency"),
                _eq("type", parse=_one_of("one_time", "recurring")),
            ),
            hidden_fields=("tiers",),
        ),
        ListSpec("plans", "plan", (_active(), _eq("product")), hidden_fields=("tiers",)),
        ListSpec("coupons", "coupon"),
        ListSpec(
            "subscriptions",
            "subscription",
            (
                Filter(
                    "status",
                    "status",
                    _field("status"),
                    _subscription_status,
                    default=frozenset(set(SUBSCRIPTION_STATUSES) - {"canceled"}),
                ),
                _eq("customer"),
                Filter("price", "price", _subscription_prices, _exact),
                _eq("collection_method", parse=_one_of("charge_automatically", "send_invoice")),
            ),
        ),
        ListSpec("subscription_items", "subscription_item", (_eq("subscription"),), required=("subscription",)),
        ListSpec(
            "invoices",
            "invoice",
            (
                _eq("customer"),
                Filter("subscription", "subscription", _invoice_subscription, _exact),
                _eq("status", parse=_one_of("draft", "open", "paid", "uncollectible", "void")),
                _eq("collection_method", parse=_one_of("charge_automatically", "send_invoice")),
            ),
        ),
        # Lines have no `created`; they are only served per invoice, in the invoice's order.
        ListSpec("invoice_line_items", "line_item", sort_field="id", routable=False, created_filter=False),
        ListSpec(
            "invoiceitems",
            "invoiceitem",
            (
                _eq("customer"),
                _eq("invoice"),
                Filter("pending", "pending", lambda item: (item["invoice"] is None,), _boolean),
            ),
            sort_field="date",
        ),
        ListSpec(
            "invoice_payments",
            "invoice_payment",
            (
                _eq("invoice"),
                _eq("status", parse=_one_of("canceled", "open", "paid")),
                Filter("payment[payment_intent]", "payment_intent", _invoice_payment_intent, _exact),
            ),
        ),
        ListSpec("charges", "charge", (_eq("customer"), _eq("payment_intent"))),
        ListSpec("payment_intents", "payment_intent", (_eq("customer"),)),
        ListSpec("payment_methods", "payment_method", (_eq("customer"), _eq("type"))),
        ListSpec("refunds", "refund", (_eq("charge"), _eq("payment_intent"))),
        ListSpec(
            "balance_transactions",
            "balance_transaction",
            (
                _eq("type"),
                _eq("source"),
                _eq("currency"),
                # "For automatic Stripe payouts only, only returns transactions that were paid out on the
                # specified payout ID" (https://docs.stripe.com/api/balance_transactions/list): the object
                # names no payout, so the simulator keeps it as a hidden field.
                Filter("payout", "payout", lambda hidden: (hidden.get("payout"),), _exact, hidden=True),
            ),
            hidden_fields=("payout",),
        ),
        ListSpec("disputes", "dispute", (_eq("charge"), _eq("payment_intent"))),
        ListSpec(
            "payouts",
            "payout",
            (_eq("status", parse=_one_of("pending", "paid", "failed", "canceled", "in_transit")), _eq("destination")),
        ),
        ListSpec("credit_notes", "credit_note", (_eq("customer"), _eq("invoice"))),
        ListSpec(
            "credit_note_line_items",
            "credit_note_line_item",
            sort_field="id",
            routable=False,
            created_filter=False,
            hidden_fields=("credit_note",),
        ),
        ListSpec("discounts", "discount", sort_field="start", routable=False, created_filter=False),
        ListSpec(
            "events",
            "event",
            (
                _eq("type", parse=_event_type),
                Filter("types", "type", _field("type"), _event_type, repeated=True),
            ),
            retention=EVENT_RETENTION,
        ),
        ListSpec("accounts", "account"),
    )
}
"""Every list the simulator serves, by name."""


def parse_query(spec: ListSpec, items: Iterable[tuple[str, str]]) -> ListQuery:
    """Validates a list request's parameters the way Stripe does."""
    query = ListQuery()
    repeated: dict[str, list[str]] = {}
    seen: set[str] = set()
    for key, raw in items:
        match = _KEY.match(key)
        base, sub = (match.group(1), match.group(2)) if match else (key, None)
        if base == "expand":
            query.expand.append(raw)
            continue
        nested = f"{base}[{sub}]" if sub else None
        if nested in spec.filters_by_param:
            base, sub = nested, None
        if base in ("limit", "starting_after", "ending_before") and sub is None:
            _paging(query, base, raw)
        elif base == "created" and spec.created_filter and sub in (None, *_RANGE_OPERATORS):
            _created(query, key, sub, raw)
        elif base in spec.filters_by_param:
            flt = spec.filters_by_param[base]
            if flt.repeated and sub is not None and (sub == "" or sub.isdigit()):
                repeated.setdefault(base, []).append(raw)
            elif sub is None and not flt.repeated:
                _restrict(query, flt.field, flt.parse(base, raw))
            else:
                raise unknown_parameter(key)
        else:
            raise unknown_parameter(key)
        seen.add(base)
    for param, values in repeated.items():
        if len(values) > MAX_EVENT_TYPES:
            raise invalid_parameter(param, f"You may pass at most {MAX_EVENT_TYPES} values for {param}.")
        flt = spec.filters_by_param[param]
        parsed = [flt.parse(param, value) for value in values]
        matches = [match for match in parsed if match is not None]
        if len(matches) == len(parsed):  # a None among them keeps everything, and so does their union
            _restrict(query, flt.field, _any_of(matches))
    for name in spec.required:
        if name not in seen:
            raise missing_parameter(name)
    for flt in spec.filters:
        if flt.param not in seen and flt.default is not None and flt.field not in query.matches:
            query.matches[flt.field] = flt.default
    if query.starting_after and query.ending_before:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameter_invalid_string",
            param="ending_before",
        )
    return query


def parse_expand(items: Iterable[tuple[str, str]]) -> list[str]:
    """The `expand[]` values of a retrieve request, which takes no other parameter."""
    expand = []
    for key, raw in items:
        match = _KEY.match(key)
        if match is None or match.group(1) != "expand":
            raise unknown_parameter(key)
        expand.append(raw)
    return expand


def _paging(query: ListQuery, name: str, raw: str) -> None:
    if name != "limit":
        setattr(query, name, raw or None)
        return
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_parameter("limit", f"Invalid integer: {raw}", code="parameter_invalid_integer") from None
    if limit < 1:
        raise invalid_parameter(
            "limit", "This value must be greater than or equal to 1.", code="parameter_invalid_integer"
        )
    if limit > MAX_LIMIT:
        raise invalid_parameter(
            "limit", f"This value must be less than or equal to {MAX_LIMIT}.", code="parameter_invalid_integer"
        )
    query.limit = limit


def _created(query: ListQuery, key: str, operator: str | None, raw: str) -> None:
    try:
        moment = int(raw)
    except ValueError:
        raise invalid_parameter(key, f"Invalid integer: {raw}", code="parameter_invalid_integer") from None
    low = {"gt": moment + 1, "gte": moment, None: moment}.get(operator)
    high = {"lt": moment - 1, "lte": moment, None: moment}.get(operator)
    if low is not None:
        query.created_min = low if query.created_min is None else max(query.created_min, low)
    if high is not None:
        query.created_max = high if query.created_max is None else min(query.created_max, high)


def _restrict(query: ListQuery, field_name: str, match: Match | None) -> None:
    """Adds a filter on `field_name`; two filters on one field (`type` and `types`) must both hold."""
    if match is None:
        return
    existing = query.matches.get(field_name)
    query.matches[field_name] = match if existing is None else _all_of(existing, match)


def _any_of(matches: list[Match]) -> Match:
    sets = [m for m in matches if isinstance(m, frozenset)]
    if len(sets) == len(matches):
        return frozenset().union(*sets)
    return lambda value: any(matches_value(m, value) for m in matches)


def _all_of(first: Match, second: Match) -> Match:
    if isinstance(first, frozenset) and isinstance(second, frozenset):
        return first & second
    return lambda value: matches_value(first, value) and matches_value(second, value)


def matches_value(match: Match, value: Hashable) -> bool:
    return value in match if isinstance(match, frozenset) else match(value)
