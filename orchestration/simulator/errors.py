"""Stripe's error responses: HTTP status and the `{"error": {...}}` body the SDK turns into exceptions.

The SDK picks the exception class from the status (400/404 → InvalidRequestError, 401 →
AuthenticationError, 403 → PermissionError, 429 → RateLimitError, 5xx → APIError) and reads `type`,
`code`, `param`, `message`, `doc_url` and `request_log_url` from the body. Stripe omits keys that do not
apply, so these bodies do too.
"""

from __future__ import annotations

import time
from typing import Any

DOCS = "https://stripe.com/docs"
SUPPORT = "https://support.stripe.com/"
_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_", "rt_")


class StripeError(Exception):
    """An error response; raise it anywhere below the app and it is answered in Stripe's format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        logged: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.logged = logged
        """Whether the body links to the request's log (Stripe logs neither 401s nor 429s and 500s)."""

    def body(self, request_id: str | None) -> dict[str, Any]:
        error: dict[str, Any] = {}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"{DOCS}/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param is not None:
            error["param"] = self.param
        if request_id is not None and self.status != 401 and self.logged:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}?t={int(time.time())}"
        error["type"] = self.type
        return {"error": error}


def no_api_key() -> StripeError:
    return StripeError(
        401,
        "You did not provide an API key. You need to provide your API key in the Authorization header, "
        "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api"
        "#authentication for details, or we can help at https://support.stripe.com/.",
    )


def invalid_api_key(key: str) -> StripeError:
    return StripeError(401, f"Invalid API Key provided: {mask_key(key)}")


def revoked_api_key(key: str) -> StripeError:
    """A key that was rolled (or whose account's access ended): Stripe no longer knows it."""
    return StripeError(401, f"Invalid API Key provided: {mask_key(key)}", code="api_key_invalid")


def rate_limited() -> StripeError:
    """Stripe's 429, sent without Retry-After."""
    return StripeError(
        429,
        "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
        code="rate_limit",
        logged=False,
    )


def api_error(status: int = 500) -> StripeError:
    """Stripe's answer to a failure on its side: 500, or another 5xx (`SimulatorOptions.fault_statuses`)
    for the failures of what stands in front of it."""
    return StripeError(status, "An unknown error occurred", type_="api_error", logged=False)


def mask_key(key: str) -> str:
    """`sk_test_********************1234`: Stripe shows the key's kind and last four characters only."""
    prefix = next((p for p in _KEY_PREFIXES if key.startswith(p)), "")
    secret = key[len(prefix) :]
    if len(secret) <= 8:  # too short to show any of it without giving most of it away
        return prefix + "*" * len(secret)
    return prefix + "*" * (len(secret) - 4) + secret[-4:]


def no_access_to_account(key: str, account_id: str) -> StripeError:
    return StripeError(
        403,
        f"The provided key '{mask_key(key)}' does not have access to account '{account_id}' (or that "
        "account does not exist). Application access may have been revoked.",
        code="account_invalid",
    )


def unknown_parameter(name: str) -> StripeError:
    return StripeError(400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def missing_parameter(name: str) -> StripeError:
    return StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)


def invalid_parameter(name: str, message: str, code: str = "parameter_invalid_string") -> StripeError:
    return StripeError(400, message, code=code, param=name)


def no_such(object_type: str, object_id: str, param: str, status: int = 404) -> StripeError:
    """Stripe's answer to an id that does not exist: 404 in the URL, 400 in a parameter."""
    return StripeError(status, f"No such {object_type}: '{object_id}'", code="resource_missing", param=param)


def unrecognized_url(method: str, path: str) -> StripeError:
    return StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see {DOCS} or we can help at {SUPPORT}.",
    )


def expired_api_key(key: str, revoked: bool = False) -> StripeError:
    """An OAuth access token past its lifetime, or one whose grant was revoked (Stripe words the latter
    as an expired key too, adding why)."""
    suffix = ". Platform access may have been revoked." if revoked else ""
    return StripeError(401, f"Expired API Key provided: {mask_key(key)}{suffix}", code="api_key_expired")


class OAuthError(Exception):
    """An error of the OAuth endpoints, which answer in OAuth's shape, not the API's:
    `{"error": "invalid_grant", "error_description": "..."}` (the SDK raises `stripe.oauth_error.*` for it)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def oauth_invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def oauth_invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


def oauth_invalid_client(description: str) -> OAuthError:
    return OAuthError(401, "invalid_client", description)


def oauth_unsupported_grant_type(grant_type: str) -> OAuthError:
    return OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")


def oauth_no_credentials() -> OAuthError:
    return oauth_invalid_client(
        "No authentication credentials were provided. Send your secret API key in the Authorization header "
        "using the Bearer authentication method"
    )


def oauth_no_such_key(key: str) -> OAuthError:
    # Stripe quotes the key it was sent; the simulator masks it, as the API's own 401 does.
    return oauth_invalid_client(f"No such API key: {mask_key(key)}")


def oauth_not_connected(account_id: str) -> OAuthError:
    return oauth_invalid_client(
        f"This application is not connected to stripe account {account_id}, or that account does not exist."
    )
