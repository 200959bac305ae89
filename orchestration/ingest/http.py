"""Stripe GETs on a pool of keep-alive connections: the request the Stripe SDK sends, without its per-request cost.

The SDK's request path (its options merge, a log line formatted per request, headers rebuilt per request,
then requests' session machinery: hooks, cookies, environment lookups, redirects) cost the reader more CPU
than the answer it fetched (bench/http_client.py). Here one urllib3 pool per reader keeps a connection per
thread open, and each GET is one call into it. The SDK still does what it does best: the headers it would
send (built once per credential: `Authorization`, `Stripe-Version`, `Stripe-Account`, its user agents), the
encoding of the query, and, in client.py, Stripe's error bodies turned into its typed exceptions.

Like the SDK's client: 80 s timeouts, TLS verified against the SDK's own CA bundle, the proxy named by
`stripe.proxy` or by the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY), gzip accepted, and
no retries or redirects here: client.py retries every fault itself, counting each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any, cast
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import stripe
import urllib3
from stripe._api_requestor import _APIRequestor
from stripe._encode import _api_encode
from stripe._request_options import merge_options
from stripe._util import validate_path
from urllib3.util import make_headers, parse_url

TIMEOUT_SECONDS = 80.0  # the SDK's (its RequestsClient's default), to connect and between bytes of an answer


def _app_info() -> dict[str, str | None]:
    try:
        version: str | None = metadata.version("stripe-warehouse")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = None
    return {"name": "stripe-warehouse", "partner_id": None, "url": None, "version": version}


APP_INFO = _app_info()
"""This project, as the SDK names an application in its user agents (`stripe.set_app_info`)."""


class ConnectionFault(Exception):
    """No complete answer: the connection could not be made, failed, or closed before the whole body came.

    The message names the failure and the host, never a header (the key travels in `Authorization` only)."""


def request_headers(client: stripe.StripeClient) -> dict[str, str]:
    """The headers the SDK sends with a GET of `client`, naming this project and the HTTP library used."""
    requestor = client._requestor
    headers = cast(dict[str, str], requestor.request_headers("get", "V1", merge_options(requestor._options, None)))
    # As the SDK adds an application set with `stripe.set_app_info`, without setting it for the whole process.
    headers["User-Agent"] += " " + _APIRequestor._format_app_info(APP_INFO)
    client_agent = json.loads(headers["X-Stripe-Client-User-Agent"])
    client_agent.update(httplib="urllib3", application=APP_INFO)
    headers["X-Stripe-Client-User-Agent"] = json.dumps(client_agent)
    # What requests added to the SDK's headers: a compressed answer is a fraction of a page's bytes.
    headers["Accept-Encoding"] = ", ".join(make_headers(accept_encoding=True)["accept-encoding"].split(","))
    return headers


def encode_params(params: Mapping[str, Any]) -> str:
    """The query string the SDK sends for `params`: lists indexed (`expand[0]=…`), dicts nested
    (`created[gte]=…`), booleans lowercase, None left out, brackets unescaped as the SDK leaves them."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


class StripeHTTP:
    """GETs to one Stripe API base on at most `connections` kept-alive connections; thread-safe.

    Each request takes an idle connection, or opens one while fewer than `connections` are open, or waits
    for one to be free: with as many connections as threads, no thread waits, and each thread's connection
    stays open from one request to the next (until the server closes an idle one)."""

    def __init__(self, api_base: str, *, connections: int) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, not {connections}")
        base = urlsplit(api_base)
        if base.scheme not in ("http", "https") or not base.hostname:
            raise ValueError(f"the Stripe API base must be an http(s) URL, not {api_base!r} (STRIPE_API_BASE)")
        self.api_base = api_base
        self._prefix = base.path.rstrip("/")  # the SDK appends the path to the base as it is
        options: dict[str, Any] = {
            "maxsize": connections,
            "block": True,
            "timeout": urllib3.Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS),
            "retries": False,
        }
        if base.scheme == "https":
            options.update(cert_reqs="CERT_REQUIRED", ca_certs=stripe.ca_bundle_path)
        proxy = _proxy_for(base.scheme, base.hostname)
        manager: urllib3.PoolManager
        self._urlopen: Callable[..., urllib3.BaseHTTPResponse]
        if proxy is None:
            manager = urllib3.PoolManager(num_pools=1, **options)
            # The host's pool itself: no URL parsing nor pool lookup per request.
            self._urlopen = manager.connection_from_url(api_base).urlopen
        else:
            auth = parse_url(proxy).auth
            proxy_headers = make_headers(proxy_basic_auth=auth) if auth else None
            manager = urllib3.ProxyManager(proxy, num_pools=1, proxy_headers=proxy_headers, **options)
            # Through a proxy the request line names the whole URL (or a CONNECT tunnel carries it).
            self._prefix = f"{base.scheme}://{base.netloc}{self._prefix}"
            self._urlopen = manager.urlopen
        self._manager = manager

    def get(
        self, path: str, params: Mapping[str, Any] | None, headers: Mapping[str, str]
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """One GET of `path` with `params`: the body (bytes, decompressed if it came gzipped), its status and
        headers.

        Raises ConnectionFault when no complete answer came; an answer of any status is returned."""
        validate_path(path)  # as the SDK does: the key only ever goes to the API base's host
        url = self._prefix + path
        if params:
            url += "?" + encode_params(params)
        try:
            response = self._urlopen("GET", url, headers=headers, retries=False, redirect=False, preload_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # urllib3's message names the host and the failure, never a header.
            raise ConnectionFault(f"{type(exc).__name__}: {exc}") from None
        return response.data, response.status, response.headers

    def close(self) -> None:
        """Closes the connections at the end of a sync: the idle ones now, those in use once their answer is read."""
        self._manager.clear()


def _proxy_for(scheme: str, host: str) -> str | None:
    """The proxy the SDK's requests client would use: `stripe.proxy`, else the environment's for the scheme
    (or ALL_PROXY) unless NO_PROXY exempts the host."""
    if stripe.proxy:
        configured = stripe.proxy
        return cast(str, configured if isinstance(configured, str) else configured.get(scheme))
    if proxy_bypass(host):
        return None
    proxies = getproxies()
    return proxies.get(scheme) or proxies.get("all")
