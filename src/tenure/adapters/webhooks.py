"""Posting webhook events to tenants' receivers without letting a URL reach inside.

A tenant chooses its webhook URL, so the URL is hostile input: it could name the
cloud metadata service, the database, or a name that resolves to one of them only
after it was checked (DNS rebinding). So, on *every* connection:

- the host name is resolved here, each resolved address is checked (public unicast
  only: no private, loopback, link-local, multicast, reserved, shared or unspecified
  address, nor one of those wrapped in IPv6: IPv4-mapped, NAT64, 6to4, Teredo), and
  the socket is connected to the checked address itself — nothing resolves the name
  a second time, so there is no gap between the check and the connection;
- TLS still verifies the certificate against the host name (SNI and the check use
  the name from the URL, not the address);
- redirects are not followed (a 3xx is a failed delivery, retried like any other),
  proxies and .netrc from the environment are ignored (a proxy would connect for us);
- one overall deadline bounds the whole exchange, whatever a slow receiver drips,
  and only the status line and headers are read, never the body.

`TENURE_WEBHOOK_ALLOW_INSECURE=1` (development and tests) also allows `http` URLs and
loopback addresses; every other non-public address stays refused.

httpx does the HTTP; the checks sit in an httpcore network backend under it, which is
the one place every connection of the pool is made (docs/decisions/0014).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

CONNECT_SECONDS = 5.0
READ_SECONDS = 10.0
TOTAL_SECONDS = 15.0  # the whole exchange; the dispatcher's lease is far longer
MAX_ERROR = 300

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class RefusedAddress(httpcore.ConnectError):
    """The URL's host resolved to an address a webhook may not reach."""


def refusal(address: IPAddress, allow_loopback: bool = False) -> str | None:
    """Why a webhook may not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (address.sixtofour if address.sixtofour else None)
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            why = refusal(embedded, allow_loopback)
            return None if why is None else f"{why} (inside {address})"
        if address.teredo is not None:
            return f"a Teredo tunnel address ({address})"
    if address.is_loopback:
        return None if allow_loopback else f"a loopback address ({address})"
    for test, name in ((address.is_unspecified, "the unspecified address"),
                       (address.is_multicast, "a multicast address"),
                       (address.is_link_local, "a link-local address"),
                       (address.is_private, "a private address"),
                       (address.is_reserved, "a reserved address")):
        if test:
            return f"{name} ({address})"
    if not address.is_global:
        return f"not a public address ({address})"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host:port, in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve the host name: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by one deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self.stream = stream
        self.deadline = deadline

    def _left(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error(f"the receiver took longer than {TOTAL_SECONDS:g} s")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        left = self._left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, left),
                               self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class CheckedBackend(httpcore.SyncBackend):
    """Resolves, checks every address, and connects to the checked address."""

    def __init__(self, allow_loopback: bool, resolve: Resolver = system_resolver,
                 total_seconds: float = TOTAL_SECONDS) -> None:
        self.allow_loopback = allow_loopback
        self.resolve = resolve
        self.total_seconds = total_seconds

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        deadline = time.monotonic() + self.total_seconds
        addresses = self.resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError("the host name resolves to no address")
        for text in addresses:
            why = refusal(ipaddress.ip_address(text), self.allow_loopback)
            if why is not None:
                raise RefusedAddress(f"refused: the host name resolves to {why}")
        last: Exception | None = None
        for text in addresses:  # the checked addresses themselves: no second lookup
            try:
                stream = super().connect_tcp(text, port, timeout, local_address,
                                             socket_options or [])
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _DeadlineStream(stream, deadline)
        assert last is not None
        raise last


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's own transport with its connection pool built on the checked backend."""

    def __init__(self, backend: CheckedBackend) -> None:
        context = ssl.create_default_context()
        super().__init__(verify=context, trust_env=False, retries=0)
        # Every connection of this pool goes through `backend.connect_tcp`; none is
        # kept alive, so each delivery is checked afresh and has its own deadline.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, max_connections=20, max_keepalive_connections=0,
            retries=0, network_backend=backend)


def _scrub(text: str, url: str) -> str:
    """An error text without the URL's path and query (they may carry a secret)."""
    parts = urlsplit(url)
    for part in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.query):
        if part and part != "/":
            text = text.replace(part, "…")
    return " ".join(text.split())[:MAX_ERROR]


class HttpWebhookSender:
    """The `WebhookSender` port over httpx: POST, 2xx or the reason it failed."""

    def __init__(self, allow_insecure: bool, resolve: Resolver = system_resolver,
                 connect_seconds: float = CONNECT_SECONDS, read_seconds: float = READ_SECONDS,
                 total_seconds: float = TOTAL_SECONDS) -> None:
        self.allow_insecure = allow_insecure
        self._backend = CheckedBackend(allow_insecure, resolve, total_seconds)
        self._timeout = httpx.Timeout(read_seconds, connect=connect_seconds,
                                      pool=connect_seconds)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        """Made at the first delivery: reading the system's CA certificates takes tens of
        milliseconds, which every CLI command and every process start paid for nothing."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    transport=_CheckedTransport(self._backend), trust_env=False,
                    follow_redirects=False, timeout=self._timeout)
            return self._client

    def post(self, url: str, body: bytes, content_type: str) -> str | None:
        """None when the receiver answered 2xx; else why not, in one line (no secrets)."""
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and self.allow_insecure):
            return ("refused: the webhook URL is not https (http only with "
                    "TENURE_WEBHOOK_ALLOW_INSECURE=1)")
        headers = {"Content-Type": content_type, "User-Agent": "tenure-webhooks",
                   "Accept": "*/*"}
        try:
            request = self.client.build_request("POST", url, content=body, headers=headers)
            response = self.client.send(request, stream=True)  # the body is never read
        except httpx.TimeoutException as exc:
            return _scrub(f"timed out: {exc}", url)
        except httpx.HTTPError as exc:
            return _scrub(str(exc) or type(exc).__name__, url)
        except ValueError as exc:  # a URL httpx cannot use
            return _scrub(f"unusable URL: {exc}", url)
        response.close()
        if 200 <= response.status_code < 300:
            return None
        if response.is_redirect:
            return f"HTTP {response.status_code} (redirects are not followed)"
        return f"HTTP {response.status_code}"

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
