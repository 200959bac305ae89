"""A simulated Stripe account: its API objects, the generator's ground truth, and JSON dumps of both."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestration.simulator.ids import base62
from orchestration.simulator.model.listing import LIST_SPECS
from orchestration.simulator.model.store import AccountStore
from orchestration.simulator.records import DiscountRec, ItemState, SubscriptionVersion
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
    "payouts",
    "credit_notes",
    "credit_note_line_items",
    "discounts",
    "events",
)
"""The keys of `SimulatedAccount.objects`: list endpoint names (`invoice_line_items` are the lines of
`/v1/invoices/{id}/lines`, `credit_note_line_items` those of `/v1/credit_notes/{id}/lines`; `discounts`
are served only inside the objects they apply to, with `expand[]=discounts`)."""

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
    """The account's clock: the moment it was generated at, moved on by `mutate_account`, or set by a
    test. Events older than 30 days before it are no longer listed; None follows the wall clock."""
    hidden_fields: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Per list and object id, fields the API object leaves out (`ListSpec.hidden_fields`): the
    `tiers` of tiered prices and plans (shown with `expand[]=tiers`), the `credit_note` of each credit
    note line (which Stripe only reaches through its credit note)."""
    patterns: dict[str, list[str]] = field(default_factory=dict)
    """Per named billing pattern (`patterns.PATTERNS`), the ids of the customers it created."""
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
        `listable("charges", created={"gte": 1700000000})`, `listable("events", types=["a", "b"])`,
        `listable("prices", expand=["data.tiers"])`.
        """
        return self.store.select(name, encode_params(params))

    def expected_count(self, name: str, **params: Any) -> int:
        """How many objects a client paging through `GET /v1/<name>` with `params` receives."""
        return len(self.listable(name, **params))

    def get(self, name: str, object_id: str) -> dict[str, Any]:
        """The object `object_id` of list `name` (raises KeyError if absent)."""
        return self.store.collection(name).objects[object_id]

    def current_time(self) -> int:
        """The account's clock (`now`), or the wall clock for an account that has none."""
        return int(time.time()) if self.now is None else self.now


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
    """Writes `account.json`, one `<name>.json` array per object list, and `_simulation.json`.

    Hidden fields are written inline, as a dump made with `expand[]=data.tiers` would hold them.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ACCOUNT_FILE).write_text(json.dumps(account.account, separators=(",", ":")))
    for name, objects in account.objects.items():
        hidden = account.hidden_fields.get(name, {})
        if hidden:
            objects = [{**obj, **hidden[obj["id"]]} if obj["id"] in hidden else obj for obj in objects]
        with (directory / f"{name}.json").open("w") as handle:
            json.dump(objects, handle, separators=(",", ":"))
    history = {
        sub_id: [asdict(version) for version in versions] for sub_id, versions in account.subscription_history.items()
    }
    simulation = {"now": account.now, "subscription_history": history, "patterns": account.patterns}
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
    hidden_fields: dict[str, dict[str, dict[str, Any]]] = {}
    for file in sorted(directory.glob("*.json")):
        name = file.stem
        if file.name in (ACCOUNT_FILE, SIMULATION_FILE):
            continue
        if name not in OBJECT_NAMES:
            raise ValueError(f"{file}: not an object list the simulator serves; expected one of {OBJECT_NAMES}")
        objects[name], hidden = _split_hidden(name, json.loads(file.read_text()))
        if hidden:
            hidden_fields[name] = hidden
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
    return SimulatedAccount(
        account["id"], account, objects, history, simulation.get("now"), hidden_fields, simulation.get("patterns", {})
    )


def _split_hidden(name: str, objects: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """API objects without their hidden fields, and those fields by object id."""
    keys = LIST_SPECS[name].hidden_fields
    hidden = {obj["id"]: {key: obj[key] for key in keys if key in obj} for obj in objects}
    hidden = {object_id: fields for object_id, fields in hidden.items() if fields}
    if not hidden:
        return objects, {}
    return [{key: value for key, value in obj.items() if key not in keys} for obj in objects], hidden


def _version(data: dict[str, Any]) -> SubscriptionVersion:
    items = tuple(ItemState(**item) for item in data["items"])
    data = dict(data)
    old = data.pop("discount", None)  # dumps made before discounts became a list
    discounts = tuple(DiscountRec(**discount) for discount in data.pop("discounts", None) or ([old] if old else []))
    return SubscriptionVersion(**{**data, "items": items, "discounts": discounts})
