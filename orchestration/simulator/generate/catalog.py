"""The simulated SaaS company's product catalog: products, prices (and their plan twins), coupons.

The catalog is fixed (only ids and timestamps depend on the seed) so stories and tests can name prices
by key ("pro_month"). It covers what the warehouse must handle: daily, weekly, monthly, quarterly and
yearly prices, per-seat quantities, tiered prices (graduated and volume, with flat fees), a metered
price billed on usage, a zero-decimal currency (JPY), EUR next to USD, a price and a product retired
years ago but still billed to grandfathered customers, one-time prices, a product that has no price yet,
and coupons of every duration; and prices only the named billing patterns sell: a package price
(`transform_quantity`) and a three-decimal currency (KWD). `build_catalog(..., price_scale)` multiplies every
amount and keeps every id, so two accounts can share plan, price and coupon ids with different amounts.

`rebuild_catalog` recovers the catalog of a generated account from its API objects, so changes made
after generation (`mutations`) sell the same prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestration.simulator.currencies import THREE_DECIMAL_CURRENCIES, ZERO_DECIMAL_CURRENCIES
from orchestration.simulator.ids import IdFactory
from orchestration.simulator.templates import build
from orchestration.simulator.timeline import DAY


@dataclass(frozen=True)
class Tier:
    up_to: int | None
    """Last unit of the tier; None for the open-ended last tier."""
    unit_amount: int
    flat_amount: int | None = None

    def api_object(self) -> dict[str, Any]:
        """The tier as `expand[]=tiers` shows it."""
        flat = self.flat_amount
        return {
            "flat_amount": flat,
            "flat_amount_decimal": None if flat is None else str(flat),
            "unit_amount": self.unit_amount,
            "unit_amount_decimal": str(self.unit_amount),
            "up_to": self.up_to,
        }


@dataclass(frozen=True)
class CatalogPrice:
    key: str
    id: str
    product_key: str
    product_id: str
    currency: str
    unit_amount: int | None
    """None for tiered prices, whose amount depends on the quantity (`amount`)."""
    interval: str | None
    """`month` / `year` for recurring prices, None for one-time prices."""
    interval_count: int
    created: int
    retired_at: int | None
    """When the price was archived (`active: false`); it keeps billing existing subscriptions."""
    upgrades: tuple[str, ...] = ()
    """Keys of prices a subscriber may move up to, most preferred first (same currency and interval)."""
    downgrades: tuple[str, ...] = ()
    tiers_mode: str | None = None
    """`graduated` or `volume` for tiered prices."""
    tiers: tuple[Tier, ...] = ()
    meter_id: str | None = None
    """Set for metered prices: billed in arrears on the usage the meter recorded."""
    transform_quantity: tuple[int, str] | None = None
    """(divide_by, round): the price is per package of `divide_by` units, the quantity divided and rounded
    `up` or `down` before it multiplies `unit_amount`
    (https://docs.stripe.com/api/prices/object#price_object-transform_quantity)."""

    @property
    def metered(self) -> bool:
        return self.meter_id is not None

    def sellable(self, at: int) -> bool:
        return self.created <= at and (self.retired_at is None or at < self.retired_at)

    def amount(self, quantity: int) -> int:
        """What `quantity` units cost for one period, as Stripe prices each billing scheme."""
        if self.tiers_mode is None:
            if self.transform_quantity is not None:
                divide_by, rounding = self.transform_quantity
                packages = -(-quantity // divide_by) if rounding == "up" else quantity // divide_by
                return (self.unit_amount or 0) * packages
            return (self.unit_amount or 0) * quantity
        if self.tiers_mode == "volume":  # every unit at the rate of the tier the total falls in
            tier = next(t for t in self.tiers if t.up_to is None or quantity <= t.up_to)
            return tier.unit_amount * quantity + (tier.flat_amount or 0)
        total, floor = 0, 0  # graduated: each tier prices the units that fall in it
        for tier in self.tiers:
            if quantity <= floor:
                break
            ceiling = quantity if tier.up_to is None else min(quantity, tier.up_to)
            total += (ceiling - floor) * tier.unit_amount + (tier.flat_amount or 0)
            floor = ceiling
        return total


@dataclass(frozen=True)
class CatalogProduct:
    key: str
    id: str
    name: str
    description: str
    unit_label: str | None
    created: int
    retired_at: int | None
    default_price_key: str | None
    """None for a product that has no price yet (the only kind Stripe lets you delete)."""


@dataclass(frozen=True)
class CatalogCoupon:
    id: str
    name: str
    duration: str
    duration_in_months: int | None
    percent_off: float | None
    amount_off: int | None
    currency: str | None
    created: int
    redeem_by: int | None
    pattern_only: bool = False
    """Applied only by the named billing patterns: random sign-ups are never offered it."""

    def redeemable(self, at: int, currency: str) -> bool:
        return (
            self.created <= at
            and (self.redeem_by is None or at < self.redeem_by)
            and (self.currency is None or self.currency == currency)
        )


@dataclass
class Catalog:
    products: dict[str, CatalogProduct]
    prices: dict[str, CatalogPrice]
    """By key; dict order is creation order."""
    coupons: dict[str, CatalogCoupon]
    """By coupon id (user-chosen, as on Stripe)."""
    price_objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """API `price` object by price id, shared by every subscription item that embeds it."""
    plan_objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    """API `plan` object by plan id (= price id) for recurring prices."""
    tier_objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Per tiered price id, its `tiers` (shown on prices and plans only with `expand[]=tiers`)."""
    price_scale: float = 1.0
    """What every amount of the catalogue was multiplied by (`build_catalog`)."""
    _by_id: dict[str, CatalogPrice] = field(default_factory=dict, repr=False)

    def price_by_id(self, price_id: str) -> CatalogPrice:
        return self._by_id[price_id]

    def __post_init__(self) -> None:
        for price in list(self.prices.values()):
            self.add(price)

    def add(self, price: CatalogPrice) -> None:
        """Adds `price` (and its API objects) to the catalog."""
        self.prices[price.key] = price
        self._by_id[price.id] = price
        self.price_objects[price.id] = _price_object(price, self.products[price.product_key])
        if price.interval is not None:
            self.plan_objects[price.id] = _plan_object(price, self.products[price.product_key])
        if price.tiers:
            self.tier_objects[price.id] = [tier.api_object() for tier in price.tiers]


# (key, product key, currency, unit amount, interval, interval count, created day, retired day,
#  upgrades, downgrades); days count from the catalog's creation. Tiered prices have no unit amount.
_PRICES: tuple[tuple[Any, ...], ...] = (
    ("basic_month", "basic", "usd", 900, "month", 1, 0, 365, ("starter_month", "starter_month_v1"), ()),
    ("starter_month_v1", "starter", "usd", 1500, "month", 1, 0, 540, ("pro_month",), ()),
    ("starter_year", "starter", "usd", 15000, "year", 1, 0, None, ("pro_year",), ()),
    ("starter_month_eur", "starter", "eur", 1700, "month", 1, 0, None, ("pro_month_eur",), ()),
    ("pro_month", "pro", "usd", 4900, "month", 1, 0, None, (), ("starter_month", "starter_month_v1")),
    ("pro_year", "pro", "usd", 49000, "year", 1, 0, None, (), ("starter_year",)),
    ("pro_quarter", "pro", "usd", 13900, "month", 3, 0, None, (), ()),
    ("pro_month_eur", "pro", "eur", 4500, "month", 1, 0, None, (), ("starter_month_eur",)),
    ("pro_month_jpy", "pro", "jpy", 7500, "month", 1, 200, None, (), ()),
    ("team_month", "team", "usd", 1200, "month", 1, 0, None, (), ()),
    ("team_year", "team", "usd", 12000, "year", 1, 0, None, (), ()),
    ("support_month", "support", "usd", 9900, "month", 1, 90, None, (), ()),
    ("onboarding", "services", "usd", 50000, None, 1, 0, None, (), ()),
    ("consulting_hour", "services", "usd", 20000, None, 1, 0, None, (), ()),
    ("starter_month", "starter", "usd", 1900, "month", 1, 540, None, ("pro_month",), ()),
    ("team_month_graduated", "team", "usd", None, "month", 1, 300, None, (), ()),
    ("storage_month_volume", "storage", "usd", None, "month", 1, 150, None, (), ()),
    ("api_calls_metered", "api", "usd", 2, "month", 1, 200, None, (), ()),
    ("starter_week", "starter", "usd", 500, "week", 1, 400, None, (), ()),
    ("day_pass", "pass", "usd", 300, "day", 1, 450, None, (), ()),
)
# Tiered prices: (tiers mode, tiers as (up to, unit amount, flat amount)).
_TIERS: dict[str, tuple[str, tuple[tuple[int | None, int, int | None], ...]]] = {
    # A base fee covering the first 5 seats' tier, then cheaper seats the more a team buys.
    "team_month_graduated": ("graduated", ((5, 1500, 2000), (20, 1200, None), (None, 900, None))),
    # Every terabyte at the rate of the volume reached, plus that tier's platform fee.
    "storage_month_volume": ("volume", ((10, 500, 1000), (50, 400, 2000), (None, 300, 5000))),
}
_METERED = frozenset({"api_calls_metered"})
# Prices only the named billing patterns (`patterns`) sell (random customers' plans never name them), made
# after `_PRICES`. Same row format as `_PRICES`.
_PATTERN_PRICES: tuple[tuple[Any, ...], ...] = (
    # Seats sold in packs of 10, $50 a pack, a started pack billed whole.
    ("team_pack_month", "team", "usd", 5000, "month", 1, 0, None, (), ()),
    # A three-decimal currency: KWD 15.000 a month, in fils (1/1000).
    ("pro_month_kwd", "pro", "kwd", 15000, "month", 1, 0, None, (), ()),
)
_TRANSFORM_QUANTITY: dict[str, tuple[int, str]] = {"team_pack_month": (10, "up")}
_PRICE_ROWS = {row[0]: row for row in (*_PRICES, *_PATTERN_PRICES)}
"""Every price row by key."""

# (key, name, description, unit label, retired day, default price key)
_PRODUCTS: tuple[tuple[Any, ...], ...] = (
    ("basic", "Basic", "The original single-user plan.", None, 365, "basic_month"),
    ("starter", "Starter", "For individuals getting started.", None, None, "starter_month"),
    ("pro", "Pro", "For professionals who need more.", None, None, "pro_month"),
    ("team", "Team", "Per-seat plan for teams.", "seat", None, "team_month"),
    ("support", "Priority Support", "Add-on: 1-hour response time.", None, None, "support_month"),
    ("services", "Professional services", "Onboarding and consulting.", "hour", None, "consulting_hour"),
    ("storage", "Storage add-on", "Extra storage, priced by volume.", "TB", None, "storage_month_volume"),
    ("api", "API usage", "API calls beyond the plan's allowance, billed on usage.", "call", None, "api_calls_metered"),
    ("pass", "Day pass", "Full access for a day at a time.", None, None, "day_pass"),
    ("labs", "Labs preview", "Early access to experimental features (not on sale yet).", None, None, None),
)

# (id, name, duration, months, percent_off, amount_off, currency, created day, redeem_by day)
_COUPONS: tuple[tuple[Any, ...], ...] = (
    ("LAUNCH30", "Launch: 30% off forever", "forever", None, 30.0, None, None, 0, 500),
    ("25OFF", "25% off first invoice", "once", None, 25.0, None, None, 0, None),
    ("50OFF3M", "50% off for 3 months", "repeating", 3, 50.0, None, None, 30, None),
    ("FOREVER10", "10% off forever", "forever", None, 10.0, None, None, 60, None),
    ("WELCOME20", "$20 off first invoice", "once", None, None, 2000, "usd", 90, None),
    ("SAVE5X6", "$5 off for 6 months", "repeating", 6, None, 500, "usd", 120, None),
    ("EURO10", "€10 off first invoice", "once", None, None, 1000, "eur", 150, None),
)
# Coupons only the named billing patterns apply, so that every duration exists as percent_off and amount_off
# (random customers' stories never draw them, and stay as they were).
_PATTERN_COUPONS: tuple[tuple[Any, ...], ...] = (
    ("5OFFFOREVER", "$5 off forever", "forever", None, None, 500, "usd", 0, None),
)


def build_catalog(ids: IdFactory, opened_at: int, price_scale: float = 1.0) -> Catalog:
    """The catalog of a company that opened its Stripe account at `opened_at`.

    `price_scale` multiplies every amount (unit amounts, tiers' unit and flat amounts, coupons' `amount_off`),
    rounded to the currency's minor unit; ids and everything else stay as they are.
    """

    def day(offset: int | None) -> int | None:
        return None if offset is None else opened_at + offset * DAY

    price_ids: dict[str, str] = {}
    prices: dict[str, CatalogPrice] = {}
    product_ids = {row[0]: ids.new("prod", opened_at) for row in _PRODUCTS}
    for key, product, _, _, _, _, created, retired, _, _ in (*_PRICES, *_PATTERN_PRICES):
        created_at = day(created) or opened_at
        price_ids[key] = ids.new("price", created_at)
        meter_id = ids.new("mtr", created_at) if key in _METERED else None
        prices[key] = _price(key, price_ids[key], product_ids[product], created_at, day(retired), meter_id, price_scale)
    products = {
        key: CatalogProduct(key, product_ids[key], name, description, unit, opened_at, day(retired), default)
        for key, name, description, unit, retired, default in _PRODUCTS
    }
    coupons = {
        row[0]: _coupon(row, price_scale, created=day(row[7]) or opened_at, redeem_by=day(row[8]))
        for row in (*_COUPONS, *_PATTERN_COUPONS)
    }
    return Catalog(products, prices, coupons, price_scale=price_scale)


def _coupon(row: tuple[Any, ...], scale: float, created: int, redeem_by: int | None) -> CatalogCoupon:
    coupon_id, name, duration, months, percent_off, amount_off, currency, _, _ = row
    if amount_off is not None:
        amount_off = scaled(amount_off, currency, scale)
    return CatalogCoupon(
        coupon_id,
        name,
        duration,
        months,
        percent_off,
        amount_off,
        currency,
        created=created,
        redeem_by=redeem_by,
        pattern_only=row in _PATTERN_COUPONS,
    )


def scaled(amount: int, currency: str, scale: float) -> int:
    """`amount` × `scale` in whole minor units (tens of them in a three-decimal currency)."""
    if scale == 1.0:
        return amount
    if currency in THREE_DECIMAL_CURRENCIES:
        return round(amount * scale / 10) * 10
    return round(amount * scale)


def rebuild_catalog(
    products: list[dict[str, Any]], prices: list[dict[str, Any]], coupons: list[dict[str, Any]]
) -> Catalog:
    """The catalog of a generated account, recovered from its current API objects.

    Prices are recognised by their `lookup_key`, products by name, coupons by id; ids and times come from
    the objects. Archived prices and deleted products or coupons are no longer sold. Raises ValueError
    for an account the generator did not make (a dump of a real one).
    """
    price_rows = _PRICE_ROWS
    by_key = {price["lookup_key"]: price for price in prices if price["lookup_key"] in price_rows}
    product_rows = {row[1]: row for row in _PRODUCTS}
    product_objects = {row[0]: obj for obj in products if (row := product_rows.get(obj["name"]))}
    if not by_key or not product_objects:
        raise ValueError("not a generated account: its prices and products are not the simulator's catalog")
    opened_at = min(obj["created"] for obj in product_objects.values())
    # The scale of the account's amounts (`build_catalog`), read from a price every catalogue has.
    reference = by_key.get("pro_month")
    _, _, _, unscaled, *_ = price_rows["pro_month"]
    scale = reference["unit_amount"] / unscaled if reference is not None and reference["unit_amount"] else 1.0
    product_ids = {key: obj["id"] for key, obj in product_objects.items()}
    rebuilt: dict[str, CatalogPrice] = {}
    for key, price in by_key.items():
        _, product_key, _, _, _, _, _, retired, _, _ = price_rows[key]
        product_ids.setdefault(product_key, price["product"])  # a deleted product still names its prices
        retired_at = opened_at + retired * DAY if retired is not None else None
        if retired_at is None and not price["active"]:
            retired_at = price["created"]
        meter = (price["recurring"] or {}).get("meter")
        rebuilt[key] = _price(key, price["id"], price["product"], price["created"], retired_at, meter, scale)
    catalog_products = {
        key: CatalogProduct(
            key,
            product_ids[key],
            name,
            description,
            unit,
            opened_at,
            None if key in product_objects and product_objects[key]["active"] else opened_at,
            default if default in rebuilt else None,
        )
        for key, name, description, unit, _, default in _PRODUCTS
        if key in product_ids
    }
    coupon_rows = {row[0]: row for row in (*_COUPONS, *_PATTERN_COUPONS)}
    catalog_coupons = {
        coupon["id"]: _coupon(
            coupon_rows[coupon["id"]], scale, created=coupon["created"], redeem_by=coupon["redeem_by"]
        )
        for coupon in coupons
        if coupon["id"] in coupon_rows
    }
    return Catalog(catalog_products, rebuilt, catalog_coupons, price_scale=scale)


def _price(
    key: str,
    price_id: str,
    product_id: str,
    created: int,
    retired_at: int | None,
    meter_id: str | None,
    scale: float = 1.0,
) -> CatalogPrice:
    _, product, currency, amount, interval, count, _, _, ups, downs = _PRICE_ROWS[key]
    mode, tiers = _TIERS.get(key, (None, ()))
    return CatalogPrice(
        key,
        price_id,
        product,
        product_id,
        currency,
        None if amount is None else scaled(amount, currency, scale),
        interval,
        count,
        created,
        retired_at,
        ups,
        downs,
        tiers_mode=mode,
        tiers=tuple(
            Tier(up_to, scaled(unit, currency, scale), None if flat is None else scaled(flat, currency, scale))
            for up_to, unit, flat in tiers
        ),
        meter_id=meter_id,
        transform_quantity=_TRANSFORM_QUANTITY.get(key),
    )


def format_amount(amount: int, currency: str) -> str:
    """`$49.00`, `€45.00`, `¥7,500`: how Stripe writes unit prices in line descriptions."""
    symbol = {"usd": "$", "eur": "€", "jpy": "¥"}.get(currency, currency.upper() + " ")
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{symbol}{amount:,}"
    if currency in THREE_DECIMAL_CURRENCIES:
        return f"{symbol}{amount / 1000:,.3f}"
    return f"{symbol}{amount / 100:,.2f}"


def interval_phrase(price: CatalogPrice) -> str:
    if price.interval_count == 1:
        return f"/ {price.interval}"
    return f"every {price.interval_count} {price.interval}s"


def price_phrase(price: CatalogPrice) -> str:
    """How a line description states the price: `at $49.00 / month`, `tiered / month`."""
    if price.unit_amount is None:
        return f"tiered {interval_phrase(price)}"
    package = f" per {price.transform_quantity[0]}" if price.transform_quantity else ""
    return f"at {format_amount(price.unit_amount, price.currency)}{package} {interval_phrase(price)}"


def product_objects(catalog: Catalog) -> list[dict[str, Any]]:
    return [
        build(
            "product",
            id=product.id,
            active=product.retired_at is None,
            created=product.created,
            updated=product.retired_at or product.created,
            default_price=catalog.prices[product.default_price_key].id if product.default_price_key else None,
            description=product.description,
            name=product.name,
            unit_label=product.unit_label,
            marketing_features=[],
            metadata={},
        )
        for product in catalog.products.values()
    ]


def coupon_objects(catalog: Catalog, redemptions: dict[str, int]) -> list[dict[str, Any]]:
    """Coupon objects; `redemptions` counts how many discounts the stories created from each coupon."""
    return [
        build(
            "coupon",
            id=coupon.id,
            amount_off=coupon.amount_off,
            created=coupon.created,
            currency=coupon.currency,
            duration=coupon.duration,
            duration_in_months=coupon.duration_in_months,
            name=coupon.name,
            percent_off=coupon.percent_off,
            redeem_by=coupon.redeem_by,
            times_redeemed=redemptions.get(coupon.id, 0),
            valid=coupon.redeem_by is None,
        )
        for coupon in catalog.coupons.values()
    ]


def _price_object(price: CatalogPrice, product: CatalogProduct) -> dict[str, Any]:
    recurring = None
    if price.interval is not None:
        recurring = {
            "interval": price.interval,
            "interval_count": price.interval_count,
            "meter": price.meter_id,
            "usage_type": "metered" if price.metered else "licensed",
            "trial_period_days": None,
        }
    return build(
        "price",
        id=price.id,
        active=price.retired_at is None,
        billing_scheme="tiered" if price.tiers else "per_unit",
        created=price.created,
        currency=price.currency,
        lookup_key=price.key,
        nickname=f"{product.name} ({price.key.replace('_', ' ')})",
        product=price.product_id,
        recurring=recurring,
        tiers_mode=price.tiers_mode,
        transform_quantity=_transform(price),
        type="one_time" if recurring is None else "recurring",
        unit_amount=price.unit_amount,
        unit_amount_decimal=None if price.unit_amount is None else str(price.unit_amount),
    )


def _plan_object(price: CatalogPrice, product: CatalogProduct) -> dict[str, Any]:
    return build(
        "plan",
        id=price.id,
        active=price.retired_at is None,
        amount=price.unit_amount,
        amount_decimal=None if price.unit_amount is None else str(price.unit_amount),
        billing_scheme="tiered" if price.tiers else "per_unit",
        created=price.created,
        currency=price.currency,
        interval=price.interval,
        interval_count=price.interval_count,
        meter=price.meter_id,
        nickname=f"{product.name} ({price.key.replace('_', ' ')})",
        product=price.product_id,
        tiers_mode=price.tiers_mode,
        transform_usage=_transform(price),
        usage_type="metered" if price.metered else "licensed",
    )


def _transform(price: CatalogPrice) -> dict[str, Any] | None:
    """`transform_quantity` of a price (`transform_usage` of its plan): `{"divide_by", "round"}`."""
    if price.transform_quantity is None:
        return None
    divide_by, rounding = price.transform_quantity
    return {"divide_by": divide_by, "round": rounding}
