"""Console: looking a device up by IMEI, device id or loan id (services/console_lookup.py),
for support agents and operators with an `admin` key."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure.domain.errors import InvalidInput
from tenure.http.deps import app_services

from .console import HOME, console_page, credentials, failure


async def lookup(request: Request) -> Response:
    rt = app_services(request)
    query = request.query_params.get("q", "")
    try:
        found = await run_in_threadpool(rt.device_lookup.find, *credentials(request), query)
    except InvalidInput as exc:
        status, detail = failure(exc)
        return await console_page(request, "console/devices.html", status=status, q=query,
                                  error=detail, found=None)
    return await console_page(request, "console/devices.html", q=found.query, found=found,
                              report=found.report)


async def device(request: Request) -> Response:
    rt = app_services(request)
    report = await run_in_threadpool(rt.device_lookup.device, *credentials(request),
                                     request.path_params["device_id"])
    return await console_page(request, "console/device.html", report=report)


routes = [
    Route(f"{HOME}/devices", lookup, methods=["GET"]),
    Route(f"{HOME}/devices/{{device_id}}", device, methods=["GET"]),
]
