"""The two OAuth clients: classic Connect OAuth and a Stripe App's OAuth 2.0.

Classic Connect: the browser goes to `{connect}/oauth/authorize`, Stripe calls back with a single-use
`code`, `POST {connect}/oauth/token` with the platform's secret key turns it into the account's id; reads
then use the platform's key plus `Stripe-Account`, so no token of the account needs keeping.

Stripe App: the install link `{marketplace}/oauth/v2/authorize`, then `POST {api}/v1/oauth/token` with HTTP
Basic (the app's secret key) gives a short-lived access token and a refresh token; each refresh returns a
new refresh token and invalidates the old one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
import urllib3

from orchestration.settings import ConfigurationError, ConnectSettings, Secret

TIMEOUT_SECONDS = 30
# Read access is all a warehouse needs.
CONNECT_SCOPE = "read_only"
# Stripe documents an app's access token as living one hour; an answer without `expires_in` is taken at that.
APP_ACCESS_TOKEN_SECONDS = 3600


class OAuthError(Exception):
    """Stripe refused an OAuth request (a used or unknown code, a revoked refresh token, …).

    The message is Stripe's own description with any code or token in it masked."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{description} ({code})" if description else code)
        self.code = code
        self.description = description


class OAuthUnavailableError(Exception):
    """Stripe did not answer usefully (no connection, a timeout, a 5xx).

    `answer_lost`: the request may have reached Stripe and been carried out, its answer lost on the way back
    (a read timeout, a dropped connection): a refresh may have spent the refresh token."""

    def __init__(self, message: str, *, answer_lost: bool = False) -> None:
        super().__init__(message)
        self.answer_lost = answer_lost


@dataclass(frozen=True)
class Grant:
    """What a token request returned."""

    account_id: str
    livemode: bool
    scope: str
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    expires_at: float | None = None


class ConnectOAuth:
    """Classic Connect OAuth for the platform of `STRIPE_CONNECT_CLIENT_ID` and `STRIPE_PLATFORM_KEY`."""

    def __init__(self, settings: ConnectSettings) -> None:
        if not settings.connect_client_id:
            raise ConfigurationError("Connect OAuth needs STRIPE_CONNECT_CLIENT_ID (ca_..., Connect → Settings).")
        if not settings.platform_key:
            raise ConfigurationError("Connect OAuth needs the platform's secret key: set STRIPE_PLATFORM_KEY.")
        self._base = settings.connect_base
        self._client_id = settings.connect_client_id
        self._platform_key = settings.platform_key

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "scope": CONNECT_SCOPE,
            "state": state,
            "redirect_uri": redirect_uri,
        }
        return f"{self._base}/oauth/authorize?{urlencode(query)}"

    def exchange(self, code: str) -> Grant:
        # The access and refresh tokens in the answer are not kept: the platform's key reads the account.
        body = _post(
            f"{self._base}/oauth/token",
            {"grant_type": "authorization_code", "code": code},
            headers={"Authorization": f"Bearer {self._platform_key.value}"},
            sent=(code,),
        )
        return Grant(
            account_id=body["stripe_user_id"], livemode=bool(body.get("livemode")), scope=body.get("scope", "")
        )

    def deauthorize(self, account_id: str) -> None:
        """Revokes the platform's access to the account."""
        _post(
            f"{self._base}/oauth/deauthorize",
            {"client_id": self._client_id, "stripe_user_id": account_id},
            headers={"Authorization": f"Bearer {self._platform_key.value}"},
        )


class AppOAuth:
    """A Stripe App's OAuth 2.0 for `STRIPE_APP_CLIENT_ID` and `STRIPE_APP_SECRET_KEY`."""

    def __init__(self, settings: ConnectSettings, api_base: str, clock=time.time) -> None:
        if not settings.app_client_id:
            raise ConfigurationError("Installing the Stripe App needs STRIPE_APP_CLIENT_ID (the app's ca_... id).")
        if not settings.app_secret_key:
            raise ConfigurationError("The Stripe App's tokens need its secret key: set STRIPE_APP_SECRET_KEY.")
        self._marketplace = settings.marketplace_base
        self._api = api_base
        self._client_id = settings.app_client_id
        self._secret_key = settings.app_secret_key
        self._clock = clock

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        query = {"client_id": self._client_id, "redirect_uri": redirect_uri, "state": state}
        return f"{self._marketplace}/oauth/v2/authorize?{urlencode(query)}"

    def exchange(self, code: str) -> Grant:
        return self._token({"grant_type": "authorization_code", "code": code}, sent=code)

    def refresh(self, refresh_token: Secret) -> Grant:
        """New tokens; `refresh_token` is spent, the grant carries its successor."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token.value}, refresh_token.value)

    def _token(self, form: dict[str, str], sent: str) -> Grant:
        asked_at = self._clock()
        body = _post(f"{self._api}/v1/oauth/token", form, auth=(self._secret_key.value, ""), sent=(sent,))
        expires_in = body.get("expires_in") or APP_ACCESS_TOKEN_SECONDS
        return Grant(
            account_id=body["stripe_user_id"],
            livemode=bool(body.get("livemode")),
            scope=body.get("scope", ""),
            access_token=Secret(body["access_token"]),
            refresh_token=Secret(body["refresh_token"]),
            expires_at=asked_at + float(expires_in),
        )


def _post(url: str, form: dict[str, str], sent: tuple[str, ...] = (), **kwargs: Any) -> dict[str, Any]:
    try:
        response = requests.post(url, data=form, timeout=TIMEOUT_SECONDS, **kwargs)
    except requests.RequestException as exc:
        # The exception's text names the URL only; the request (and its secrets) stays out of it.
        raise OAuthUnavailableError(
            f"no response from {url}: {type(exc).__name__}", answer_lost=_maybe_sent(exc)
        ) from None
    if response.status_code >= 500:
        raise OAuthUnavailableError(f"{url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise OAuthUnavailableError(f"{url} answered HTTP {response.status_code} without JSON") from None
    if response.status_code >= 400:
        raise _oauth_error(body, response.status_code, sent)
    return body


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False only when the request surely never reached Stripe (no connection could be opened)."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        reason = getattr(cause, "reason", cause)
        return not isinstance(reason, urllib3.exceptions.NewConnectionError)
    return True


def _oauth_error(body: dict[str, Any], status: int, sent: tuple[str, ...]) -> OAuthError:
    error = body.get("error")
    if isinstance(error, dict):  # the API's error shape, as /v1/oauth/token may answer
        code, description = error.get("code") or error.get("type") or f"http_{status}", error.get("message", "")
    else:
        code, description = str(error or f"http_{status}"), body.get("error_description", "")
    return OAuthError(code, mask_secrets(description, sent))


# Stripe's descriptions quote what they refused ("Authorization code does not exist: ac_…").
_TOKEN_LIKE = re.compile(r"\b((?:ac|rt|sk|rk|pk)_(?:live_|test_)?)([A-Za-z0-9]+)")


def mask_secrets(text: str, known: tuple[str, ...] = ()) -> str:
    """`text` with the given secrets, and anything shaped like a Stripe key, code or token, masked."""
    for secret in known:
        if secret:
            text = text.replace(secret, Secret(secret).masked())
    return _TOKEN_LIKE.sub(lambda m: m.group(1) + "****" + m.group(2)[-4:] if len(m.group(2)) > 8 else m.group(0), text)
