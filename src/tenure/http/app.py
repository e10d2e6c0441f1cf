"""The ASGI app factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

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
from .access import AccessLog, log
from .addresses import ClientAddress
from .device_front import DeviceFront
from .problems import handle as problem_handler


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


class TenureApp(Starlette):
    """Starlette, with the device endpoints answered before its middleware and router
    (device_front.py, decision 0017)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device_front = DeviceFront(self, super().__call__)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.device_front(scope, receive, send)


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

    app = TenureApp(
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
