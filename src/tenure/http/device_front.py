"""The device endpoints as a raw ASGI front, dispatched before Starlette's router and
middleware stack (decision 0017).

A check-in costs a few hundred µs of CPU, and every ASGI layer it passes through — the
error middleware, the access log and security-header wrappers, the exception
middleware, the router's regex match over every route, the route's own exception
wrapper — is an `await` with closures and dict copies. The device paths are five
fixed strings, so an exact (path, method) lookup dispatches them at once; the same
endpoint functions (`device.py`) answer, with the same problem mapping and nonce
header, and this front keeps the access log's metrics and log line. Anything else,
including a device path with another method (405) or a trailing slash, goes through
the full app as before.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from . import device
from .access import LATENCY, REQUESTS, log

# (path, method) -> endpoint; the methods are those the Starlette routes accept.
ENDPOINTS: dict[tuple[str, str], device.Endpoint] = {}
for _route in device.routes:
    for _method in _route.methods or ():
        ENDPOINTS[(_route.path, _method)] = _route.endpoint


class DeviceFront:
    """Answers device requests; passes the rest to `fallback` (the full app)."""

    def __init__(self, app: Any, fallback: Any) -> None:
        self.app = app
        self.fallback = fallback
        self._counters: dict[tuple[str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        endpoint = None
        if scope["type"] == "http":
            endpoint = ENDPOINTS.get((scope["path"], scope["method"]))
        if endpoint is None:
            await self.fallback(scope, receive, send)
            return
        scope["app"] = self.app
        started = time.perf_counter()
        status = 500
        try:
            response = await endpoint(Request(scope, receive))
            status = response.status_code
            await response(scope, receive, send)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Any, status: int, elapsed: float) -> None:
        """What the access log records for every other route: counter, histogram, line."""
        route = scope["path"]
        counter = self._counters.get((route, status))
        if counter is None:
            counter = self._counters[(route, status)] = REQUESTS.labels(route, str(status))
        counter.inc()
        latency = self._latency.get(route)
        if latency is None:
            latency = self._latency[route] = LATENCY.labels(route)
        latency.observe(elapsed)
        log.info("request", method=scope["method"], route=route, status=status,
                 ms=round(elapsed * 1000, 2))

