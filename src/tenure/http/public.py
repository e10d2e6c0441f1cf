"""Public router: the key set devices pin, the buyer's status check, health, readiness,
metrics and the API contract."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tenure.services.status_check import read_query
from tenure.store.database import ping
from tenure.store.migrate import pending

from . import apidocs
from .bodies import client_address, json_object, read_capped, request_locale
from .deps import app_services


async def keys(request: Request) -> Response:
    rt = app_services(request)
    return JSONResponse(rt.keyring.jwks(), headers={"Cache-Control": "public, max-age=300"})


async def status(request: Request) -> Response:
    """`GET /v1/public/status`: the signed statement; never cached (it carries a nonce
    and goes stale in ten minutes)."""
    rt = app_services(request)
    query = read_query(request.query_params.multi_items())
    statement = await run_in_threadpool(rt.status_check, query, client_address(request))
    return JSONResponse({"statement": statement}, headers={"Cache-Control": "no-store"})


async def send_message(request: Request) -> Response:
    """`POST /v1/public/messages`: the sender is mailed a token to confirm with."""
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    await run_in_threadpool(rt.relay.submit, data, client_address(request),
                            request_locale(request))
    return Response(status_code=202)


async def confirm_message(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    await run_in_threadpool(rt.relay.confirm, data.get("token"))
    return Response(status_code=202)


async def healthz(request: Request) -> Response:
    rt = app_services(request)
    try:
        await run_in_threadpool(ping, rt.uow.engine)
    except Exception as exc:  # noqa: BLE001 - any failure means "database not answering"
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__},
                            status_code=503)
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    rt = app_services(request)
    try:
        behind = await run_in_threadpool(pending, rt.uow.engine)
    except Exception as exc:  # noqa: BLE001
        return JSONResponse({"status": "not ready", "reason": type(exc).__name__},
                            status_code=503)
    if behind:
        return JSONResponse({"status": "not ready", "reason": "database not migrated"},
                            status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/v1/keys", keys, methods=["GET"]),
    Route("/v1/public/status", status, methods=["GET"]),
    Route("/v1/public/messages", send_message, methods=["POST"]),
    Route("/v1/public/messages/confirm", confirm_message, methods=["POST"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    *apidocs.routes,
]
