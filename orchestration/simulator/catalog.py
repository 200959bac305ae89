"""The simulated SaaS company's product catalog: products, prices (and their plan twins), coupons.

The catalog is fixed (only ids and timestamps depend on the seed) so stories and tests can name prices
by key ("pro_month"). It covers what the warehouse must handle: monthly, quarterly and yearly prices,
per-seat quantities, a zero-decimal currency (JPY), EUR next to USD, a price and a product retired
years ago but still billed to grandfathered customers, one-time prices, and coupons of every duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestration.simulator.ids import IdFactory
from orchestration.simulator.templates import build
from orchestration.simulator.timeline import DAY

ZERO_DECIMAL_CURRENCIES = frozenset({"jpy", "krw", "vnd", "clp"})


@dataclass(frozen=True)
class CatalogPrice:
    key: str
    id: str
    product_key: str
    product_id: str
    currency: str
    unit_amount: int
    interval: str | None
    """`month` / `year` for recurring prices, None for one-time prices."""
    interval_count: int
    created: int
    retired_at: int | None
    """When the price was archived (`active: false`); it keeps billing existing subscriptions."""
    upgrades: tuple[str, ...] = ()
    """Keys of prices a subscriber may move up to, most preferred first (same currency and interval)."""
    downgrades: tuple[str, ...] = ()

    def sellable(self, at: int) -> bool:
        return self.created <= at and (self.retired_at is None or at < self.retired_at)


@dataclass(frozen=True)
class CatalogProduct:
    key: str
    id: str
    name: str
    description: str
    unit_label: str | None
    created: int
    retired_at: int | None
    default_price_key: str


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
    _by_id: dict[str, CatalogPrice] = field(default_factory=dict, repr=False)

    def price_by_id(self, price_id: str) -> CatalogPrice:
        return self._by_id[price_id]

    def __post_init__(self) -> None:
        self._by_id.update((price.id, price) for price in self.prices.values())
        for price in self.prices.values():
            self.price_objects[price.id] = _price_object(price, self.products[price.product_key])
            if price.interval is not None:
                self.plan_objects[price.id] = _plan_object(price, self.products[price.product_key])


# (key, product key, currency, unit amount, interval, interval count, created day, retired day,
#  upgrades, downgrades); days count from the catalog's creation.
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
)

# (key, name, description, unit label, retired day, default price key)
_PRODUCTS: tuple[tuple[Any, ...], ...] = (
    ("basic", "Basic", "The original single-user plan.", None, 365, "basic_month"),
    ("starter", "Starter", "For individuals getting started.", None, None, "starter_month"),
    ("pro", "Pro", "For professionals who need more.", None, None, "pro_month"),
    ("team", "Team", "Per-seat plan for teams.", "seat", None, "team_month"),
    ("support", "Priority Support", "Add-on: 1-hour response time.", None, None, "support_month"),
    ("services", "Professional services", "Onboarding and consulting.", "hour", None, "consulting_hour"),
)

# (id, name, duration, months, percent_off, amount_off, currency, created day, redeem_by day)
_COUPONS: tuple[tuple[Any, ...], ...] = (
    ("LAUNCH30", "Launch: 30% off forever", "forever", None, 30.0, None, None, 0, 500),
    ("25OFF", "25% off first invoice", "once", None, 25.0, None, None, 0, None),
    ("50OFF3M", "50% off for 3 months", "repeating", 3, 50.0, None, None, 30, None),
    ("FOREVER10", "10% off forever", "forever", None, 10.0, None, None, 60, None),
    ("WELCOME20", "$20 off first invoice", "once", None, None, 2000, "usd", 90, None),
    ("SAVE5X6", "$5 off for 6 months", "repeating", 6, None, 500, "usd", 120, None),
)


def build_catalog(ids: IdFactory, opened_at: int) -> Catalog:
    """The catalog of a company that opened its Stripe account at `opened_at`."""

    def day(offset: int | None) -> int | None:
        return None if offset is None else opened_at + offset * DAY

    price_ids: dict[str, str] = {}
    prices: dict[str, CatalogPrice] = {}
    product_ids = {row[0]: ids.new("prod", opened_at) for row in _PRODUCTS}
    for key, product, currency, amount, interval, count, created, retired, ups, downs in _PRICES:
        created_at = day(created) or opened_at
        price_ids[key] = ids.new("price", created_at)
        prices[key] = CatalogPrice(
            key,
            price_ids[key],
            product,
            product_ids[product],
            currency,
            amount,
            interval,
            count,
            created_at,
            day(retired),
            ups,
            downs,
        )
    products = {
        key: CatalogProduct(key, product_ids[key], name, description, unit, opened_at, day(retired), default)
        for key, name, description, unit, retired, default in _PRODUCTS
    }
    coupons = {
        row[0]: CatalogCoupon(*row[:7], created=day(row[7]) or opened_at, redeem_by=day(row[8])) for row in _COUPONS
    }
    return Catalog(products, prices, coupons)


def format_amount(amount: int, currency: str) -> str:
    """`$49.00`, `€45.00`, `¥7,500`: how Stripe writes unit prices in line descriptions."""
    symbol = {"usd": "$", "eur": "€", "jpy": "¥"}.get(currency, currency.upper() + " ")
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{symbol}{amount:,}"
    return f"{symbol}{amount / 100:,.2f}"


def interval_phrase(price: CatalogPrice) -> str:
    if price.interval_count == 1:
        return f"/ {price.interval}"
    return f"every {price.interval_count} {price.interval}s"


def product_objects(catalog: Catalog) -> list[dict[str, Any]]:
    return [
        build(
            "product",
            id=product.id,
            active=product.retired_at is None,
            created=product.created,
            updated=product.retired_at or product.created,
            default_price=catalog.prices[product.default_price_key].id,
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
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        }
    return build(
        "price",
        id=price.id,
        active=price.retired_at is None,
        created=price.created,
        currency=price.currency,
        lookup_key=price.key,
        nickname=f"{product.name} ({price.key.replace('_', ' ')})",
        product=price.product_id,
        recurring=recurring,
        type="one_time" if recurring is None else "recurring",
        unit_amount=price.unit_amount,
        unit_amount_decimal=str(price.unit_amount),
    )


def _plan_object(price: CatalogPrice, product: CatalogProduct) -> dict[str, Any]:
    return build(
        "plan",
        id=price.id,
        active=price.retired_at is None,
        amount=price.unit_amount,
        amount_decimal=str(price.unit_amount),
        created=price.created,
        currency=price.currency,
        interval=price.interval,
        interval_count=price.interval_count,
        nickname=f"{product.name} ({price.key.replace('_', ' ')})",
        product=price.product_id,
    )
