"""A real HTTP webhook receiver for the tests: a threaded `http.server` on a free
loopback port that keeps every request it is sent and answers as the test says
(a status code, a redirect, a delay, or holding the answer until released).

It verifies nothing itself: the tests verify what it received, with PyJWT against
the server's JWKS, as a tenant's receiver would (docs/webhooks.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


@dataclass(frozen=True)
class Received:
    path: str
    content_type: str
    body: str
    at: float


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.status = 200
        self.fail_next = 0  # answer the next N requests with 500
        self.delay = 0.0
        self.location: str | None = None  # answer 302 to this location
        self.hold: threading.Event | None = None  # wait for it before answering
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                with receiver.lock:
                    receiver.received.append(Received(
                        self.path, self.headers.get("Content-Type", ""), body, time.time()))
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= 1 if failing else 0
                    status = 500 if failing else receiver.status
                    hold, delay, location = receiver.hold, receiver.delay, receiver.location
                if hold is not None:
                    hold.wait(60)
                if delay:
                    time.sleep(delay)
                try:
                    if location is not None:
                        self.send_response(302)
                        self.send_header("Location", location)
                    else:
                        self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout) or died

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tenure?token=s3cret"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def bodies(self, path: str | None = None) -> list[str]:
        with self.lock:
            return [r.body for r in self.received if path is None or r.path == path]

    def wait_for(self, done: Callable[[list[str]], bool], seconds: float = 30) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            bodies = self.bodies()
            if done(bodies):
                return bodies
            time.sleep(0.05)
        raise AssertionError(f"the receiver got {len(self.bodies())} requests, not what "
                             f"the test waited for, in {seconds} s")


def verify_event(token: str, jwks: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """The event's claims, verified as a tenant's receiver must: signature by a key of
    the JWKS (picked by `kid`), `typ` = tenure-event+jwt, `aud` = the tenant id."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "tenure-event+jwt", header
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    key = jwt.PyJWK(jwk).key
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=[header["alg"]],
                                        audience=tenant_id, options={"require": ["aud"]})
    return claims


def per_device(claims: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Event ids in the order received, per device."""
    found: dict[str, list[str]] = {}
    for c in claims:
        found.setdefault(c["device_id"], []).append(c["id"])
    return found


def parse_json(body: str) -> Any:
    return json.loads(body)
