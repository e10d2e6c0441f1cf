"""The ASGI app factory."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tenure.bootstrap import Services
from tenure.domain.errors import TenureError
from tenure.web import errors as web_errors
from tenure.web import routes as web
from tenure.web.security import SecurityHeaders

from . import account, admin, cases, creditor, device, org, public, retailer, support, tenant_cases
from .addresses import ClientAddress
from .problems import handle as problem_handler

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


async def _maintenance(services: Services, every: float) -> None:
    """One maintenance round a period: last-seen times, queued resets, mail, expiries."""
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(services.maintenance)
        except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
            log.exception("maintenance_failed")


async def _webhooks(services: Services, every: float) -> None:
    """Tenants' webhook events, in a loop of their own: a slow receiver must not hold
    up the mail and the last-seen times of the maintenance round."""
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(services.webhooks.dispatch)
        except Exception:  # noqa: BLE001 - keep the loop alive; the next round retries
            log.exception("webhook_dispatch_failed")


async def handle(request: Request, exc: Exception) -> Response:
    """Pages fail as pages, the API as problem+json: one error tree, two renderings."""
    if web_errors.is_web(request):
        if not isinstance(exc, (TenureError, HTTPException)):
            log.exception("page_failed", path=request.url.path)
        return web_errors.error_page(request, exc)
    return await problem_handler(request, exc)


def create_app(services: Services, maintenance_every: float = 1.0) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_maintenance(services, maintenance_every)),
                 asyncio.create_task(_webhooks(services, maintenance_every))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(services.maintenance.flush_last_seen)

    app = Starlette(
        routes=[*device.routes, *account.routes, *cases.routes, *support.routes,
                *tenant_cases.routes, *admin.routes, *public.routes, *org.routes,
                *creditor.routes, *retailer.routes, *web.routes],
        # One mapping for every failure (problems.response_for). Starlette dispatches by
        # class; `Exception` is its last resort, answered as a 500 problem.
        exception_handlers={TenureError: handle, HTTPException: handle, Exception: handle},
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.client_address = ClientAddress(services.settings.trusted_proxies)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    return app
