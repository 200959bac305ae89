"""The lean HTTP client: the very request the Stripe SDK sends, over few kept-alive connections."""

import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar
from urllib.parse import unquote

import pytest
import stripe

from orchestration.ingest.client import StripeReader
from orchestration.ingest.http import ConnectionFault, StripeHTTP, encode_params, request_headers
from orchestration.settings import STRIPE_API_VERSION, Secret, StripeCredential

KEY = "sk_test_lean_client_0000000000"
PAGE = b'{"object":"list","url":"/v1/charges","has_more":false,"data":[{"id":"ch_1","object":"charge"}]}'
# Every shape of parameter the sync sends: a list (expand), an array filter (types), a range (created), ints.
PARAMS = {
    "limit": 100,
    "expand": ["data.customer", "data.invoice.subscription"],
    "types": ["customer.created", "customer.updated"],
    "created": {"gte": 1_700_000_000, "lt": 1_800_000_000},
    "starting_after": "ch_1",
    "include_deleted": True,
    "ending_before": None,
}


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every GET with PAGE over HTTP/1.1 keep-alive; records each request and each connection."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[tuple[str, dict[str, str]]]] = []
    connections = 0
    lock = threading.Lock()
    short = False  # answer with half the body of the length announced, then close

    def setup(self):
        super().setup()
        with self.lock:
            type(self).connections += 1

    def do_GET(self):
        with self.lock:
            self.requests.append((self.path, dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        if self.short:
            self.wfile.write(PAGE[: len(PAGE) // 2])
            self.close_connection = True
        else:
            self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    handler = type("Recorder", (_Recorder,), {"requests": [], "connections": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _sdk(base_url: str, account: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(
        KEY, stripe_account=account, stripe_version=STRIPE_API_VERSION, base_addresses={"api": base_url}
    )


def test_the_request_is_the_one_the_sdk_sends_naming_this_project(recorder):
    handler, base_url = recorder
    sdk = _sdk(base_url, "acct_connected00001")
    sdk._requestor.request_raw("get", "/v1/charges", params=dict(PARAMS), base_address="api", api_mode="V1")
    reader = StripeReader(
        base_url, StripeCredential(Secret(KEY), stripe_account="acct_connected00001"), requests_per_second=1000
    )
    assert reader.get("/v1/charges", PARAMS)["data"][0]["id"] == "ch_1"

    (sdk_path, sdk_headers), (sent_path, headers) = handler.requests
    assert sent_path == sdk_path
    path = unquote(sent_path)  # both escape the brackets on the wire
    assert "expand[0]=data.customer&expand[1]=data.invoice.subscription" in path
    assert "types[0]=customer.created&types[1]=customer.updated" in path
    assert "created[gte]=1700000000&created[lt]=1800000000" in path and "include_deleted=true" in path
    assert "ending_before" not in path
    for name in ("Authorization", "Stripe-Version", "Stripe-Account", "Accept-Encoding"):
        assert headers[name] == sdk_headers[name], name
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Stripe-Version"] == STRIPE_API_VERSION and headers["Stripe-Account"] == "acct_connected00001"
    assert headers["User-Agent"].startswith(sdk_headers["User-Agent"] + " stripe-warehouse")
    client_agent = json.loads(headers["X-Stripe-Client-User-Agent"])
    assert client_agent["httplib"] == "urllib3" and client_agent["application"]["name"] == "stripe-warehouse"
    assert client_agent["bindings_version"] == stripe.VERSION


def test_params_are_encoded_by_the_sdks_rules():
    assert encode_params({"expand": ["a.b"], "created": {"gte": 1}, "x": False, "y": None}) == (
        "expand[0]=a.b&created[gte]=1&x=false"
    )
    # Values are escaped as the SDK escapes them; only the brackets of the keys are left as they are.
    assert encode_params({"email": "a+b@c.d", "q": "x&y=[z]"}) == "email=a%2Bb%40c.d&q=x%26y%3D[z]"


def test_many_requests_from_many_threads_reuse_one_connection_per_thread(recorder):
    handler, base_url = recorder
    connections = StripeHTTP(base_url, connections=4)
    headers = request_headers(_sdk(base_url))
    # Two accounts' readers share the connections, as in a sync.
    readers = [
        StripeReader(
            base_url,
            StripeCredential(Secret(KEY), stripe_account=account),
            requests_per_second=10_000,
            http=connections,
        )
        for account in ("acct_a", "acct_b")
    ]

    def read(i: int) -> str:
        return str(readers[i % 2].get("/v1/charges", {"limit": 1})["object"])

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(read, range(200)))
    assert connections.get("/v1/charges", None, headers)[1] == 200
    assert answers == ["list"] * 200 and len(handler.requests) == 201
    assert 1 <= handler.connections <= 4
    assert {h["Stripe-Account"] for _, h in handler.requests[:200]} == {"acct_a", "acct_b"}


def test_a_body_shorter_than_its_content_length_is_a_connection_fault(recorder):
    handler, base_url = recorder
    handler.short = True
    with pytest.raises(ConnectionFault, match=r"IncompleteRead|Connection broken") as raised:
        StripeHTTP(base_url, connections=1).get("/v1/charges", {"limit": 1}, request_headers(_sdk(base_url)))
    assert KEY not in str(raised.value)


def test_a_refused_connection_is_a_connection_fault_without_the_key():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    with pytest.raises(ConnectionFault, match="refused") as raised:
        StripeHTTP(base_url, connections=1).get("/v1/charges", {"limit": 1}, request_headers(_sdk(base_url)))
    assert KEY not in str(raised.value) and "Bearer" not in str(raised.value)


def test_the_environments_proxy_is_used_unless_no_proxy_exempts_the_host(recorder, monkeypatch):
    handler, proxy_url = recorder
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    api_base = "http://api.stripe.invalid"
    headers = request_headers(_sdk(api_base))
    assert StripeHTTP(api_base, connections=1).get("/v1/charges", {"limit": 1}, headers)[1] == 200
    # A proxy is sent the whole URL; the headers go along as they are.
    (path, sent), *_ = handler.requests
    assert path == "http://api.stripe.invalid/v1/charges?limit=1" and sent["Authorization"] == f"Bearer {KEY}"

    monkeypatch.setenv("NO_PROXY", "api.stripe.invalid")
    with pytest.raises(ConnectionFault):  # straight to a host that does not exist
        StripeHTTP(api_base, connections=1).get("/v1/charges", {"limit": 1}, headers)
    assert len(handler.requests) == 1


def test_a_reader_refuses_connections_to_another_api_base(recorder):
    _, base_url = recorder
    with pytest.raises(ValueError, match="was given the connections of"):
        StripeReader(
            "http://127.0.0.1:1",
            StripeCredential(Secret(KEY)),
            requests_per_second=1,
            http=StripeHTTP(base_url, connections=1),
        )


def test_an_api_base_that_is_not_an_http_url_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match="STRIPE_API_BASE"):
        StripeHTTP("api.stripe.com", connections=1)


def test_https_verifies_the_certificate_against_the_sdks_ca_bundle(tmp_path):
    """A server whose certificate no authority of the SDK's bundle signed is refused, before any header is sent."""
    cert, key = _self_signed_certificate(tmp_path)
    handler = type("Recorder", (_Recorder,), {"requests": [], "connections": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(ConnectionFault, match="CERTIFICATE_VERIFY_FAILED"):
            StripeHTTP(base_url, connections=1).get("/v1/charges", None, request_headers(_sdk(base_url)))
    finally:
        server.shutdown()
        server.server_close()
    assert handler.requests == []


def _self_signed_certificate(directory) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)
