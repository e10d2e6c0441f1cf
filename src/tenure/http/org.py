"""Organization router (docs/organizations.md): a fleet owner's devices and bypass codes.
Tenant bodies up to 1 MiB; authorization in services/organization.py."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .deps import app_services
from .tenant import api_key, tenant_json

NO_STORE = {"Cache-Control": "no-store"}


async def claim_devices(request: Request) -> Response:
    rt = app_services(request)
    data = await tenant_json(request)
    outcome = await run_in_threadpool(rt.org_devices.claim, api_key(request),
                                      data.get("device_ids"))
    return JSONResponse(outcome.as_json(), headers=NO_STORE)


async def show_device(request: Request) -> Response:
    rt = app_services(request)
    view = await run_in_threadpool(rt.org_devices.show, api_key(request),
                                   request.path_params["device_id"])
    return JSONResponse(view, headers=NO_STORE)


async def release_device(request: Request) -> Response:
    rt = app_services(request)
    await run_in_threadpool(rt.org_devices.release, api_key(request),
                            request.path_params["device_id"])
    return Response(status_code=204)


async def issue_bypass_code(request: Request) -> Response:
    rt = app_services(request)
    code, issued_at = await run_in_threadpool(rt.org_devices.issue_code, api_key(request),
                                              request.path_params["device_id"])
    return JSONResponse({"bypass_code": code, "issued_at": issued_at}, status_code=201,
                        headers=NO_STORE)


routes = [
    Route("/v1/org/devices", claim_devices, methods=["POST"]),
    Route("/v1/org/devices/{device_id}", show_device, methods=["GET"]),
    Route("/v1/org/devices/{device_id}", release_device, methods=["DELETE"]),
    Route("/v1/org/devices/{device_id}/bypass-code", issue_bypass_code, methods=["POST"]),
]
