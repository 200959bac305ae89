"""The served accounts: which key opens which, which ones the platform reaches (Connect), whose access ended.

The app authenticates every request here; the OAuth provider connects and disconnects accounts and lets
access tokens open them (`access_tokens`); a test revokes an account's access while serving.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable, Sequence
from typing import Any

from starlette.datastructures import Headers

from orchestration.simulator.errors import invalid_api_key, no_access_to_account, no_api_key, revoked_api_key
from orchestration.simulator.model.account import SimulatedAccount
from orchestration.simulator.model.listing import LIST_SPECS, parse_query
from orchestration.simulator.model.store import Collection

__all__ = ["DEFAULT_API_KEY", "AccountRegistry"]

DEFAULT_API_KEY = "sk_test_simulator"
"""The key that opens the platform (the first account) when no `api_keys` are given."""


class AccountRegistry:
    """Which key opens which account; the first account is the platform the others are connected to
    (all of them unless disconnected: see `OAuthOptions.connected_at_start` and Connect deauthorization)."""

    def __init__(self, accounts: Sequence[SimulatedAccount], api_keys: dict[str, str] | None) -> None:
        self.revoked: set[str] = set()
        """Accounts whose access ended: their keys are rolled, the platform's access is revoked."""
        self.disconnected: set[str] = set()
        """Accounts not connected to the platform (never authorized it, or deauthorized it): the platform's
        key cannot act on them, their own keys still work."""
        self.revoke_countdown: dict[str, int] = {}
        """Accounts to revoke after that many more requests reading them (`revoke_after`)."""
        self.access_tokens: Callable[[str], str | None] = lambda key: None
        """The account an OAuth access token opens (None: not a token); set by the app to its
        `OAuthProvider.account_for`, which raises Stripe's 401 for an expired or revoked token."""
        self._lock = threading.Lock()
        """Guards `connected` against a test thread revoking an account while the server lists them."""
        if not accounts:
            raise ValueError("the simulator needs at least one account to serve")
        self.accounts = {account.account_id: account for account in accounts}
        self.platform = accounts[0]
        self.api_keys = api_keys if api_keys is not None else {DEFAULT_API_KEY: self.platform.account_id}
        unknown = set(self.api_keys.values()) - self.accounts.keys()
        if unknown:
            raise ValueError(f"api_keys name accounts that are not served: {sorted(unknown)}")
        connected = [account.account for account in accounts[1:]]
        self.connected = Collection(LIST_SPECS["accounts"], connected)

    def authenticate(self, headers: Headers) -> tuple[str, SimulatedAccount, SimulatedAccount]:
        """(key, the key's own account, the account the request acts on)."""
        key = _api_key(headers.get("authorization", ""))
        if not key:
            raise no_api_key()
        if self.revoke_countdown:
            self._count_down(headers.get("stripe-account") or self.api_keys.get(key))
        owner_id = self.api_keys.get(key) or self.access_tokens(key)
        if owner_id is None:
            raise invalid_api_key(key)
        if owner_id in self.revoked:
            raise revoked_api_key(key)
        owner = self.accounts[owner_id]
        target_id = headers.get("stripe-account")
        if not target_id or target_id == owner_id:
            return key, owner, owner
        if owner is not self.platform or not self.is_connected(target_id):
            raise no_access_to_account(key, target_id)
        return key, owner, self.accounts[target_id]

    def key_owner(self, key: str) -> str | None:
        """The account whose secret key `key` is (OAuth tokens are not), unless its keys were rolled."""
        owner_id = self.api_keys.get(key)
        return None if owner_id is None or owner_id in self.revoked else owner_id

    def is_connected(self, account_id: str) -> bool:
        """Whether the platform's key may act on `account_id` with `Stripe-Account`."""
        return (
            account_id in self.accounts
            and account_id != self.platform.account_id
            and account_id not in self.revoked
            and account_id not in self.disconnected
        )

    def revoke(self, account_id: str) -> None:
        """Ends access to `account_id`: its keys stop working, the platform loses it from `/v1/accounts`."""
        self._known(account_id)
        with self._lock:
            self.revoked.add(account_id)
            self._relist(account_id)

    def revoke_after(self, account_id: str, requests: int) -> None:
        """Serves `requests` more requests reading `account_id`, then revokes it: access ending mid-sync."""
        self._known(account_id)
        with self._lock:
            self.revoke_countdown[account_id] = requests

    def _count_down(self, account_id: str | None) -> None:
        if not account_id:
            return
        with self._lock:
            left = self.revoke_countdown.get(account_id)
            if left is None:
                return
            if left > 0:
                self.revoke_countdown[account_id] = left - 1
                return
            del self.revoke_countdown[account_id]
            self.revoked.add(account_id)
            self._relist(account_id)

    def restore(self, account_id: str) -> None:
        """Undoes `revoke` (not a disconnection: that takes a new authorization)."""
        self._known(account_id)
        with self._lock:
            self.revoked.discard(account_id)
            self._relist(account_id)

    def connect(self, account_id: str) -> None:
        """Connects `account_id` to the platform, as a Connect OAuth authorization does."""
        self._known(account_id)
        with self._lock:
            self.disconnected.discard(account_id)
            self._relist(account_id)

    def disconnect(self, account_id: str) -> None:
        """Disconnects `account_id` from the platform, as a Connect deauthorization does."""
        self._known(account_id)
        with self._lock:
            self.disconnected.add(account_id)
            self._relist(account_id)

    def _relist(self, account_id: str) -> None:
        """Lists the account in the platform's `/v1/accounts` exactly when the platform reaches it."""
        listed = account_id in self.connected.objects
        if self.is_connected(account_id) and not listed:
            self.connected.put(self.accounts[account_id].account)
        elif listed and not self.is_connected(account_id):
            self.connected.delete(account_id)

    def connected_page(self, params: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], bool]:
        """A page of the platform's connected accounts (`/v1/accounts`)."""
        with self._lock:
            return self.connected.page(parse_query(self.connected.spec, params))

    def _known(self, account_id: str) -> None:
        if account_id not in self.accounts:
            raise KeyError(f"the simulator does not serve account {account_id}")

    def named_account(self, headers: Headers) -> str | None:
        """The account a request means to read, as far as its headers say (to count refused requests)."""
        key = _api_key(headers.get("authorization", ""))
        return headers.get("stripe-account") or self.api_keys.get(key)

    @staticmethod
    def presented_key(headers: Headers) -> str:
        """The key of the request's `Authorization` header, Bearer or Basic; empty if none."""
        return _api_key(headers.get("authorization", ""))


def _api_key(authorization: str) -> str:
    """The secret key of a `Bearer <key>` or `Basic base64(<key>:)` header (Stripe accepts both)."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return ""
