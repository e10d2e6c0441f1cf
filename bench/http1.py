"""HTTP clients for the load generator: one keep-alive connection each.

`raw` (the default) is a minimal HTTP/1.1 client on a plain socket: it costs the load
generator a few tens of µs per request, so that on a 2-core machine the cores go to the
server being measured. `httpx` is the same with an httpx.Client, for comparison (it costs
about ten times more CPU per request). Both set TCP_NODELAY, as a device's stack would,
so no request waits on Nagle's algorithm.
"""

from __future__ import annotations

import socket
from typing import Protocol
from urllib.parse import urlsplit


class Answer(Protocol):
    status: int
    headers: dict[str, str]
    body: bytes


class _Answer:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Client(Protocol):
    def request(self, method: str, path: str, body: bytes = b"",
                content_type: str | None = None) -> Answer: ...

    def close(self) -> None: ...


class RawClient:
    """HTTP/1.1 with Content-Length bodies on one persistent connection (reconnects once
    if the server closed it between requests)."""

    def __init__(self, base_url: str, timeout: float = 15) -> None:
        parts = urlsplit(base_url)
        assert parts.scheme == "http" and parts.hostname
        self.address = (parts.hostname, parts.port or 80)
        self.host = f"{parts.hostname}:{parts.port or 80}".encode()
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, method: str, path: str, body: bytes = b"",
                content_type: str | None = None) -> _Answer:
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host]
        if content_type:
            head.append(b"Content-Type: " + content_type.encode())
        if body or method == "POST":
            head.append(b"Content-Length: " + str(len(body)).encode())
        message = b"\r\n".join(head) + b"\r\n\r\n" + body
        fresh = self.sock is None
        sock = self.sock or self._connect()
        try:
            sock.sendall(message)
            return self._read(sock, method)
        except (ConnectionError, EOFError):
            self.close()
            if fresh:
                raise
            sock = self._connect()  # the server closed an idle keep-alive connection
            sock.sendall(message)
            return self._read(sock, method)

    def _read(self, sock: socket.socket, method: str) -> _Answer:
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            buffer += chunk
        lines = buffer[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            raise ValueError("chunked responses are not supported by the bench client")
        length = 0 if method == "HEAD" or status in (204, 304) else int(
            headers.get("content-length", "0"))
        rest = buffer[end + 4:]
        while len(rest) < length:
            chunk = sock.recv(max(65536, length - len(rest)))
            if not chunk:
                raise EOFError("connection closed")
            rest += chunk
        self.buffer = rest[length:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return _Answer(status, headers, rest[:length])


class HttpxClient:
    def __init__(self, base_url: str, timeout: float = 15) -> None:
        import httpx

        transport = httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, body: bytes = b"",
                content_type: str | None = None) -> _Answer:
        headers = {"Content-Type": content_type} if content_type else {}
        r = self.http.request(method, path, content=body or None, headers=headers)
        return _Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)


def make(kind: str, base_url: str) -> Client:
    return HttpxClient(base_url) if kind == "httpx" else RawClient(base_url)


def round_trip_ms(base_url: str, path: str = "/healthz", count: int = 30) -> float:
    """Median time of `count` sequential keep-alive GETs: a server that leaves Nagle's
    algorithm on shows ~40 ms here (the client's delayed ACK), a healthy one ~1 ms."""
    import time

    client = RawClient(base_url)
    try:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            client.request("GET", path)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        client.close()
    return sorted(times)[len(times) // 2]
