"""The webhook sender against real servers on loopback: what it refuses before any
connection is made (non-https, non-public addresses after resolution), redirects not
followed, one deadline for a slow receiver, TLS verified, no proxy from the environment."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tenure.adapters.webhooks import HttpWebhookSender, system_resolver
from tests.webhook_receiver import Receiver

BODY = b"header.payload.signature"
TYPE = "application/jose"


class Listener:
    """A bare TCP listener that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def resolving(answers: dict[str, list[str]], calls: list[str] | None = None
              ) -> Callable[[str, int], list[str]]:
    """A resolver with fixed answers for some names (DNS a tenant controls); the
    system's for the others."""

    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return answers[host] if host in answers else system_resolver(host, port)

    return resolve


def test_plain_http_is_refused_without_the_insecure_setting(receiver: Receiver) -> None:
    error = HttpWebhookSender(allow_insecure=False).post(receiver.url, BODY, TYPE)
    assert error is not None and error.startswith("refused: the webhook URL is not https")
    assert receiver.received == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0x7f.1", "2130706433"])
def test_loopback_is_refused_before_connecting(listener: Listener, host: str) -> None:
    sender = HttpWebhookSender(allow_insecure=False)
    error = sender.post(f"https://{host}:{listener.port}/hook", BODY, TYPE)
    assert error is not None and "refused" in error and "loopback" in error, error
    time.sleep(0.1)
    assert listener.accepted == 0


@pytest.mark.parametrize("addresses", [
    ["10.0.0.5"], ["169.254.169.254"], ["::ffff:127.0.0.1"], ["fd00::1"],
    ["93.184.215.14", "127.0.0.1"],  # one bad answer among good ones refuses it all
])
def test_names_resolving_to_non_public_addresses_are_refused(
        listener: Listener, addresses: list[str]) -> None:
    sender = HttpWebhookSender(allow_insecure=False,
                               resolve=resolving({"hooks.tenant.example": addresses}))
    error = sender.post(f"https://hooks.tenant.example:{listener.port}/x", BODY, TYPE)
    assert error is not None and error.startswith("refused: the host name resolves to"), error
    assert listener.accepted == 0


def test_the_insecure_setting_allows_loopback_but_not_private(receiver: Receiver) -> None:
    sender = HttpWebhookSender(allow_insecure=True, resolve=resolving({
        "private.example": ["10.0.0.5"], "metadata.example": ["169.254.169.254"]}))
    assert sender.post(receiver.url, BODY, TYPE) is None
    for host in ("private.example", "metadata.example"):
        error = sender.post(f"http://{host}:{receiver.port}/", BODY, TYPE)
        assert error is not None and error.startswith("refused"), error
    assert len(receiver.received) == 1


def test_it_connects_to_the_checked_address_and_checks_every_connection(
        receiver: Receiver) -> None:
    calls: list[str] = []
    # The system resolver knows no such name: reaching the receiver proves the socket
    # went to the address that was checked, not to a second lookup of the name.
    sender = HttpWebhookSender(allow_insecure=True, resolve=resolving(
        {"hooks.only-here.test": ["127.0.0.1"]}, calls))
    url = f"http://hooks.only-here.test:{receiver.port}/hook"
    assert sender.post(url, BODY, TYPE) is None
    assert sender.post(url, BODY, TYPE) is None
    assert calls == ["hooks.only-here.test"] * 2  # resolved and checked per connection
    assert [r.body for r in receiver.received] == [BODY.decode()] * 2


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    target = Receiver().start()
    try:
        receiver.location = target.url
        error = HttpWebhookSender(allow_insecure=True).post(receiver.url, BODY, TYPE)
        assert error == "HTTP 302 (redirects are not followed)"
        assert len(receiver.received) == 1
        assert target.received == []
    finally:
        target.stop()


def test_error_answers_are_reported_by_status(receiver: Receiver) -> None:
    sender = HttpWebhookSender(allow_insecure=True)
    for status in (400, 404, 500, 503):
        receiver.status = status
        assert sender.post(receiver.url, BODY, TYPE) == f"HTTP {status}"


def test_a_slow_receiver_meets_one_overall_deadline(receiver: Receiver) -> None:
    receiver.delay = 3
    sender = HttpWebhookSender(allow_insecure=True, read_seconds=10, total_seconds=1)
    started = time.monotonic()
    error = sender.post(receiver.url, BODY, TYPE)
    assert time.monotonic() - started < 2.5
    assert error is not None and error.startswith("timed out"), error
    assert "s3cret" not in error


def test_tls_certificates_are_verified(tmp_path: Path, receiver: Receiver) -> None:
    """A loopback https receiver with a self-signed certificate: refused by TLS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    error = HttpWebhookSender(allow_insecure=True).post(
        f"https://localhost:{receiver.port}/hook", BODY, TYPE)
    assert error is not None and "CERTIFICATE_VERIFY_FAILED" in error, error
    assert receiver.received == []


def test_proxies_from_the_environment_are_ignored(receiver: Receiver, listener: Listener,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = f"http://127.0.0.1:{listener.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert HttpWebhookSender(allow_insecure=True).post(receiver.url, BODY, TYPE) is None
    assert len(receiver.received) == 1
    assert listener.accepted == 0
