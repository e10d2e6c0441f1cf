"""Connection limits uvicorn does not have: header and body read timeouts, a cap on open
connections, a cap on header size.

uvicorn times out only idle keep-alive connections. A client that opens a connection
and sends its headers (or its body) a byte at a time keeps a connection, its buffers
and a file descriptor for as long as it likes, and a few thousand such clients starve
a server (slowloris). This protocol is uvicorn's httptools protocol with a deadline
per phase of a request (decision 0011):

- headers: `header_timeout` seconds from the connection (or, on a kept-alive
  connection, from the first byte of the next request) to the end of the headers,
  and at most `max_header_bytes` of them;
- body: `body_timeout` seconds, extended by one second for every `body_min_rate`
  bytes received, so that large uploads at a reasonable speed finish and a trickle
  does not. Time while uvicorn itself stopped reading (the app is behind) never counts.

A connection past its deadline is answered `408` (`431` for oversized headers) and
closed. A connection beyond `max_connections` open in this process is answered `503`
with `Retry-After` as soon as it is accepted, and closed.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import socket
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tenure import protocol
from tenure.config import ConfigError, Settings, load_settings

CUT = Counter("tenure_http_connections_cut_total",
              "Connections closed by a server limit", ["reason"])
LINGER_SECONDS = 2.0  # how long a refused connection may still deliver its request


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    body_min_rate: float
    max_connections: int
    max_header_bytes: int
    keepalive: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        limits = cls(settings.header_timeout_seconds, settings.body_timeout_seconds,
                     settings.body_min_rate, settings.max_connections,
                     settings.max_header_bytes, settings.keepalive_seconds)
        for name in ("header_timeout_seconds", "body_timeout_seconds", "keepalive_seconds",
                     "max_connections", "max_header_bytes"):
            if getattr(settings, name) <= 0:
                raise ConfigError(f"TENURE_{name.upper()} must be greater than 0")
        if settings.body_min_rate < 0:
            raise ConfigError("TENURE_BODY_MIN_RATE must be 0 or more")
        return limits


@functools.cache
def current_limits() -> ConnectionLimits:
    """The limits of this process, from the same settings as the app (worker processes
    read their environment afresh)."""
    return ConnectionLimits.from_settings(load_settings())


def _answer(status: int, reason: str, code: str, detail: str,
            extra: tuple[str, ...] = ()) -> bytes:
    body = json.dumps({"type": protocol.problem_type(code), "title": reason,
                       "status": status, "detail": detail}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/problem+json",
            f"content-length: {len(body)}", "connection: close", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


# The answers this layer gives by itself, by problem name (tests check docs against it).
STATUS = {protocol.REQUEST_TIMEOUT: 408, protocol.HEADERS_TOO_LARGE: 431,
          protocol.OVERLOADED: 503}
TIMED_OUT = _answer(408, "Request Timeout", protocol.REQUEST_TIMEOUT,
                    "The request did not arrive in time; the connection is closed.")
HEADERS_TOO_LARGE = _answer(431, "Request Header Fields Too Large", protocol.HEADERS_TOO_LARGE,
                            "The request headers are too large.")
OVERLOADED = _answer(503, "Service Unavailable", protocol.OVERLOADED,
                     "The server has too many open connections; retry shortly.",
                     ("retry-after: 1",))


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the deadlines and caps described above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = current_limits()
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._waiting: str | None = None  # "headers" | "body" | None (the app's turn)
        self._header_bytes = 0
        self._refused = False

    # -- connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
            return
        self._await("headers", self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the 503 is on its way; the request is not read
        super().data_received(data)
        if self._waiting == "headers" and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._cut("headers-too-large", HEADERS_TOO_LARGE)

    # -- parser callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._waiting != "headers":  # a kept-alive connection's next request
            self._header_bytes = 0
            self._await("headers", self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._await("body", self.limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._waiting == "body" and self.limits.body_min_rate:
            self._deadline += len(body) / self.limits.body_min_rate

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_waiting()

    # -- deadlines -------------------------------------------------------------------------
    def _await(self, what: str, seconds: float) -> None:
        self._stop_waiting()
        self._waiting = what
        self._deadline = self.loop.time() + seconds
        self._timer = self.loop.call_at(self._deadline, self._expire)

    def _stop_waiting(self) -> None:
        self._waiting = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._waiting is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow is not None and self.flow.read_paused:
            self._deadline = max(self._deadline, now + 1.0)  # not the client's delay
        if now < self._deadline:  # extended by body bytes since the timer was set
            self._timer = self.loop.call_at(self._deadline, self._expire)
            return
        idle = self.cycle is None or self.cycle.response_complete
        if self._waiting == "headers":
            # A connection that never sent a byte is closed without an answer.
            self._cut("header-timeout", TIMED_OUT if self._header_bytes and idle else b"")
        else:
            started = self.cycle is not None and self.cycle.response_started
            self._cut("body-timeout", b"" if started else TIMED_OUT)

    def _cut(self, reason: str, answer: bytes) -> None:
        CUT.labels(reason).inc()
        self._stop_waiting()
        if answer:
            self.transport.write(answer)
        self.transport.close()

    def _refuse(self) -> None:
        """Answer 503 at once, without reading the request; let the client read the
        answer (half-close, then close after a moment) rather than reset it."""
        CUT.labels("over-capacity").inc()
        self._refused = True
        self.connections.discard(self)
        self.transport.write(OVERLOADED)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bind and listen before anything says the server is up; a taken port or an
    address this machine does not have is one readable error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = (" (is another server running there? choose another --port)"
                if exc.errno == errno.EADDRINUSE else "")
        raise ConfigError(f"cannot listen on {host}:{port}: {reason.lower()}{hint}") from exc
    sock.set_inheritable(True)
    return sock
