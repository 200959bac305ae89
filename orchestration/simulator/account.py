"""A simulated Stripe account: its API objects, the generator's ground truth, and JSON dumps of both."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestration.simulator.ids import base62
from orchestration.simulator.records import DiscountRec, ItemState, SubscriptionVersion
from orchestration.simulator.store import AccountStore
from orchestration.simulator.templates import build

OBJECT_NAMES = (
    "customers",
    "payment_methods",
    "products",
    "prices",
    "plans",
    "coupons",
    "subscriptions",
    "subscription_items",
    "invoices",
    "invoice_line_items",
    "invoiceitems",
    "invoice_payments",
    "payment_intents",
    "charges",
    "refunds",
    "balance_transactions",
    "disputes",
    "events",
)
"""The keys of `SimulatedAccount.objects`: list endpoint names (`invoice_line_items` are the lines of
`/v1/invoices/{id}/lines`)."""

ACCOUNT_FILE = "account.json"
SIMULATION_FILE = "_simulation.json"
"""Generator metadata (clock, subscription histories) next to the API objects of a dump."""


@dataclass
class SimulatedAccount:
    """One Stripe account as the simulator serves it.

    `objects[name]` holds every object of list endpoint `name`, including those its default filters hide
    (canceled subscriptions, inactive prices). To know what a client should see, ask the store through
    `listable`/`expected_count`, which apply exactly the server's list semantics.
    """

    account_id: str
    account: dict[str, Any]
    """The `account` object (`GET /v1/account`)."""
    objects: dict[str, list[dict[str, Any]]]
    subscription_history: dict[str, list[SubscriptionVersion]] = field(default_factory=dict)
    """Per subscription id, its versions in time order: the generator's ground truth of price,
    quantity, status and discount over time (empty for accounts loaded from plain API dumps)."""
    now: int | None = None
    """The simulated clock the account was generated at (events cover the 30 days before it)."""
    _store: AccountStore | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def store(self) -> AccountStore:
        """The list/retrieve engine over this account, shared with the server serving it."""
        if self._store is None:
            self._store = AccountStore(self)
        return self._store

    def listable(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Every object `GET /v1/<name>` returns across all pages for `params`, newest first.

        Params are given as Python values: `listable("subscriptions")` applies Stripe's default filter
        (no canceled ones), `listable("subscriptions", status="all")` returns all of them,
        `listable("prices", active=False)`, `listable("events", type="invoice.*")`,
        `listable("charges", created={"gte": 1700000000})`, `listable("events", types=["a", "b"])`.
        """
        return self.store.select(name, encode_params(params))

    def expected_count(self, name: str, **params: Any) -> int:
        """How many objects a client paging through `GET /v1/<name>` with `params` receives."""
        return len(self.listable(name, **params))

    def get(self, name: str, object_id: str) -> dict[str, Any]:
        """The object `object_id` of list `name` (raises KeyError if absent)."""
        return self.store.collection(name).objects[object_id]


def account_object(account_id: str, business_name: str, created: int) -> dict[str, Any]:
    """A fully onboarded standard account: charges and payouts enabled, nothing currently due."""
    sample = build("account")
    slug = business_name.lower().replace(" ", "")
    requirements = {**sample["requirements"], "currently_due": [], "eventually_due": [], "disabled_reason": None}
    return build(
        "account",
        id=account_id,
        business_profile={
            **sample["business_profile"],
            "mcc": "5734",
            "name": business_name,
            "support_email": f"support@{slug}.example",
            "url": f"https://{slug}.example",
        },
        business_type="company",
        charges_enabled=True,
        created=created,
        details_submitted=True,
        email=f"billing@{slug}.example",
        external_accounts={**sample["external_accounts"], "url": f"/v1/accounts/{account_id}/external_accounts"},
        payouts_enabled=True,
        requirements=requirements,
        settings={**sample["settings"], "dashboard": {"display_name": business_name, "timezone": "Etc/UTC"}},
        tos_acceptance={"date": created, "ip": "203.0.113.10", "user_agent": None},
    )


def encode_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Python params in the SDK's form encoding: `created[gte]=…`, `types[0]=…`, `active=false`."""
    encoded: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:  # the SDK leaves unset params out
            continue
        if isinstance(value, dict):
            encoded.extend((f"{key}[{sub}]", _scalar(item)) for sub, item in value.items())
        elif isinstance(value, list | tuple):
            encoded.extend((f"{key}[{index}]", _scalar(item)) for index, item in enumerate(value))
        else:
            encoded.append((key, _scalar(value)))
    return encoded


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def dump_account_to_dir(account: SimulatedAccount, path: str | Path) -> None:
    """Writes `account.json`, one `<name>.json` array per object list, and `_simulation.json`."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ACCOUNT_FILE).write_text(json.dumps(account.account, separators=(",", ":")))
    for name, objects in account.objects.items():
        with (directory / f"{name}.json").open("w") as handle:
            json.dump(objects, handle, separators=(",", ":"))
    history = {
        sub_id: [asdict(version) for version in versions] for sub_id, versions in account.subscription_history.items()
    }
    simulation = {"now": account.now, "subscription_history": history}
    (directory / SIMULATION_FILE).write_text(json.dumps(simulation, separators=(",", ":")))


def load_account_from_dir(path: str | Path) -> SimulatedAccount:
    """An account served from JSON dumps: `<name>.json` arrays for any of `OBJECT_NAMES`.

    `account.json` (the account object) and `_simulation.json` (generator metadata) are optional, so a
    directory of real API dumps works too; its account id is then derived from the directory's path.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"no account dump directory at {directory}")
    objects: dict[str, list[dict[str, Any]]] = {}
    for file in sorted(directory.glob("*.json")):
        name = file.stem
        if file.name in (ACCOUNT_FILE, SIMULATION_FILE):
            continue
        if name not in OBJECT_NAMES:
            raise ValueError(f"{file}: not an object list the simulator serves; expected one of {OBJECT_NAMES}")
        objects[name] = json.loads(file.read_text())
    account_file = directory / ACCOUNT_FILE
    if account_file.exists():
        account = json.loads(account_file.read_text())
    else:
        digest = int.from_bytes(hashlib.sha256(str(directory.resolve()).encode()).digest()[:12], "big")
        account = account_object("acct_1" + base62(digest, 15)[-15:], "Stripe account", 0)
    simulation_file = directory / SIMULATION_FILE
    simulation = json.loads(simulation_file.read_text()) if simulation_file.exists() else {}
    history = {
        sub_id: [_version(version) for version in versions]
        for sub_id, versions in simulation.get("subscription_history", {}).items()
    }
    return SimulatedAccount(account["id"], account, objects, history, simulation.get("now"))


def _version(data: dict[str, Any]) -> SubscriptionVersion:
    items = tuple(ItemState(**item) for item in data["items"])
    discount = DiscountRec(**data["discount"]) if data["discount"] else None
    return SubscriptionVersion(**{**data, "items": items, "discount": discount})
