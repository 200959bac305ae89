"""The reader's retries: every fault is retried a bounded number of times, counted, and never taken for data."""

import http.server
import threading

import pytest

from orchestration.ingest.client import StripeReader, StripeReadError
from orchestration.settings import Secret, StripeCredential
from orchestration.simulator import SimulatorOptions, SimulatorServer, generate_account
from tests.ingest.warehouse_state import PLATFORM_KEY

NOW = 1_790_000_000


@pytest.fixture(scope="module")
def account():
    return generate_account(seed=5, customers=3, now=NOW, account_id="acct_client0000001")


def _reader(base_url: str, retries: int = 2) -> StripeReader:
    credential = StripeCredential(Secret(PLATFORM_KEY))
    return StripeReader(base_url, credential, requests_per_second=1000, max_network_retries=retries)


@pytest.mark.parametrize(
    ("fault", "counted", "reason"),
    [
        ({"fault_rate": 1.0, "fault_statuses": (502,)}, "server_errors", "HTTP 502"),
        ({"drop_rate": 1.0}, "connection_errors", "no response after 3 attempts"),
        # A body cut in the middle is an error, never a short page.
        ({"truncate_rate": 1.0}, "connection_errors", "no response after 3 attempts"),
    ],
)
def test_a_fault_that_persists_fails_the_read_after_its_retries(account, fault, counted, reason, quick_retries):
    options = SimulatorOptions(**fault)
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}, options=options) as server:
        reader = _reader(server.base_url)
        with pytest.raises(StripeReadError, match=reason) as raised:
            reader.get("/v1/customers", {"limit": 100})
        stats = server.stats(account.account_id)
    assert str(raised.value).startswith("Stripe refused GET /v1/customers for the account of key ")
    assert PLATFORM_KEY not in str(raised.value)
    assert reader.stats.as_dict()[counted] == 3 == stats.requests
    assert reader.stats.requests == 3


def test_faults_that_pass_are_retried_and_the_list_is_whole(account, quick_retries):
    options = SimulatorOptions(
        rate_limit_rate=0.3, fault_rate=0.1, fault_statuses=(500, 503), drop_rate=0.1, truncate_rate=0.1, fault_seed=3
    )
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}, options=options) as server:
        reader = _reader(server.base_url, retries=8)
        ids = [obj["id"] for page in reader.list_pages("/v1/invoices", {"limit": 3}) for obj in page]
        stats = server.stats(account.account_id)
    assert ids == [invoice["id"] for invoice in account.listable("invoices")]
    assert reader.stats.as_dict() == {
        "requests": stats.requests,
        "rate_limited": stats.rate_limited,
        "server_errors": stats.faults,
        "connection_errors": stats.dropped + stats.truncated,
    }
    assert stats.rate_limited and stats.faults and stats.dropped and stats.truncated, stats


class _CutOnceHandler(http.server.BaseHTTPRequestHandler):
    """Answers HTTP/1.0 without Content-Length, so the client cannot tell a cut body from a whole one: the
    first answer stops in the middle of the page."""

    protocol_version = "HTTP/1.0"
    answered = 0
    page = b'{"object":"list","url":"/v1/customers","has_more":false,"data":[{"id":"cus_1","object":"customer"}]}'

    def do_GET(self):
        type(self).answered += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.page[:40] if self.answered == 1 else self.page)

    def log_message(self, *args):
        pass


def test_a_body_cut_without_content_length_is_read_again_not_parsed_short():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutOnceHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reader = _reader(f"http://127.0.0.1:{server.server_address[1]}")
        pages = list(reader.list_pages("/v1/customers"))
    finally:
        server.shutdown()
    assert [[obj["id"] for obj in page] for page in pages] == [["cus_1"]]
    assert reader.stats.as_dict()["connection_errors"] == 1 and _CutOnceHandler.answered == 2


def test_the_sdk_internals_the_reader_relies_on_still_exist():
    """client.py and http.py call private parts of the Stripe SDK (its request headers and options, its query
    encoder and path check, its error mapping): an SDK upgrade that renames or reshapes them fails here, not
    in a sync."""
    import inspect

    import stripe
    from stripe._api_requestor import _APIRequestor
    from stripe._encode import _api_encode
    from stripe._request_options import merge_options
    from stripe._util import validate_path

    from orchestration.ingest.http import TIMEOUT_SECONDS

    requestor = stripe.StripeClient("sk_test_x", stripe_account="acct_x", stripe_version="2020-01-01")._requestor
    headers = requestor.request_headers("get", "V1", merge_options(requestor._options, None))
    assert headers["Authorization"] == "Bearer sk_test_x" and headers["Stripe-Account"] == "acct_x"
    assert headers["Stripe-Version"] == "2020-01-01" and "X-Stripe-Client-User-Agent" in headers
    assert _APIRequestor._format_app_info({"name": "a", "version": "1", "url": None}) == "a/1"
    assert list(_api_encode({"expand": ["x"], "created": {"gte": 1}})) == [("expand[0]", "x"), ("created[gte]", 1)]
    with pytest.raises(ValueError, match="beginning with a single"):
        validate_path("@evil.example/v1/charges")
    interpret = inspect.signature(requestor._interpret_response).parameters
    assert list(interpret)[:3] == ["rbody", "rcode", "rheaders"] and "api_mode" in interpret
    # The SDK's own timeout, which the lean client keeps.
    assert inspect.signature(stripe.RequestsClient).parameters["timeout"].default == TIMEOUT_SECONDS


def test_a_refused_token_that_cannot_be_refreshed_is_one_request_counted_once(account):
    with SimulatorServer([account], api_keys={PLATFORM_KEY: account.account_id}) as server:
        server.revoke(account.account_id)
        credential = StripeCredential(Secret(PLATFORM_KEY), refresh=lambda stale: None)
        reader = StripeReader(server.base_url, credential, requests_per_second=1000)
        with pytest.raises(StripeReadError, match="HTTP 401"):
            reader.get("/v1/customers")
        stats = server.stats(account.account_id)
    assert reader.stats.as_dict()["requests"] == stats.requests == 1
