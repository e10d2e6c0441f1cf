"""Creditor router (device financing, docs/financing.md): plain JSON with the tenant's
API key. Routes parse, call services/creditor.py, and render."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .deps import app_services
from .idempotency import idempotent
from .tenant import api_key, tenant_json

PREFIX = "/v1/creditor/devices"
NO_STORE = {"Cache-Control": "no-store"}


async def _principal(request: Request) -> str:
    """The idempotency scope of a tenant call: the tenant its key authenticates (a call
    without a valid key is refused before any answer is stored under a key)."""
    rt = app_services(request)
    return await run_in_threadpool(rt.creditor.principal, api_key(request))


async def enroll(request: Request) -> Response:
    rt = app_services(request)
    data = await tenant_json(request)

    async def produce() -> Response:
        answer = await run_in_threadpool(rt.creditor.enroll, api_key(request), data)
        return JSONResponse(answer, status_code=201)

    body = json.dumps(data, sort_keys=True).encode()
    return await idempotent(request, rt.idempotency, await _principal(request), body,
                            produce)


async def remind(request: Request) -> Response:
    rt = app_services(request)
    data = await tenant_json(request)

    async def produce() -> Response:
        command_id = await run_in_threadpool(rt.creditor.remind, api_key(request),
                                             request.path_params["device_id"],
                                             data.get("message"))
        return JSONResponse({"command_id": command_id}, status_code=202)

    body = json.dumps(data, sort_keys=True).encode()
    return await idempotent(request, rt.idempotency, await _principal(request), body,
                            produce)


async def lock(request: Request) -> Response:
    rt = app_services(request)
    data = await tenant_json(request)
    state = await run_in_threadpool(rt.creditor.lock, api_key(request),
                                    request.path_params["device_id"], data.get("message"))
    return JSONResponse({"state": state}, status_code=202)


async def unlock(request: Request) -> Response:
    rt = app_services(request)
    state = await run_in_threadpool(rt.creditor.unlock, api_key(request),
                                    request.path_params["device_id"])
    return JSONResponse({"state": state})


async def complete(request: Request) -> Response:
    rt = app_services(request)
    state, complete_at = await run_in_threadpool(rt.creditor.complete, api_key(request),
                                                 request.path_params["device_id"])
    return JSONResponse({"state": state, "complete_at": complete_at}, status_code=202)


async def cancel_completion(request: Request) -> Response:
    rt = app_services(request)
    state = await run_in_threadpool(rt.creditor.cancel_completion, api_key(request),
                                    request.path_params["device_id"])
    return JSONResponse({"state": state})


async def show(request: Request) -> Response:
    rt = app_services(request)
    answer = await run_in_threadpool(rt.creditor.show, api_key(request),
                                     request.path_params["device_id"])
    return JSONResponse(answer, headers=NO_STORE)


routes = [
    Route(PREFIX, enroll, methods=["POST"]),
    Route(PREFIX + "/{device_id}", show, methods=["GET"]),
    Route(PREFIX + "/{device_id}/reminders", remind, methods=["POST"]),
    Route(PREFIX + "/{device_id}/lock", lock, methods=["POST"]),
    Route(PREFIX + "/{device_id}/unlock", unlock, methods=["POST"]),
    Route(PREFIX + "/{device_id}/complete", complete, methods=["POST"]),
    Route(PREFIX + "/{device_id}/complete", cancel_completion, methods=["DELETE"]),
]
