"""The access log and request metrics of every route (the device front keeps the same)."""

from __future__ import annotations

import time
from typing import Any

import structlog
from prometheus_client import Counter, Histogram

log = structlog.get_logger("tenure.http")
REQUESTS = Counter("tenure_http_requests_total", "HTTP requests", ["route", "status"])
LATENCY = Histogram("tenure_http_request_seconds", "HTTP request latency", ["route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))


class AccessLog:
    """Method, route, status and duration; never headers or bodies (they carry secrets)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            REQUESTS.labels(route, str(status[0])).inc()
            LATENCY.labels(route).observe(elapsed)
            log.info("request", method=scope["method"], route=route, status=status[0],
                     ms=round(elapsed * 1000, 2))
