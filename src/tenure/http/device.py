"""Device router: docs/protocol.md's signed endpoints. Every answer carries a fresh nonce."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure import protocol
from tenure.bootstrap import Services
from tenure.domain.errors import Malformed, Unavailable
from tenure.services.device_gateway import DeviceAction
from tenure.services.device_gateway import DeviceCall as Args

from .bodies import client_address, read_capped
from .deps import app_services
from .device_batch import DeviceBatch
from .problems import response_for

Endpoint = Callable[[Request], Awaitable[Response]]
WAITERS = 8  # device requests waiting (in threads) for a busy SQLite at once


def with_nonce(endpoint: Endpoint) -> Endpoint:
    """Every answer of a device endpoint, success or problem (a 500 too), carries a fresh
    `Replay-Nonce` (docs/protocol.md, Nonces): failures are mapped here, by the app's one
    mapping, so that the header can be added to them as well."""
    async def wrapped(request: Request) -> Response:
        fresh = app_services(request).nonces.issue()
        try:
            response = await endpoint(request)
        except Exception as exc:  # noqa: BLE001 - response_for maps (and logs) everything
            response = response_for(request, exc)
        response.headers[protocol.REPLAY_NONCE] = fresh
        response.headers["Cache-Control"] = "no-store"
        return response

    return wrapped


async def nonce(request: Request) -> Response:
    return Response(status_code=200 if request.method == "GET" else 204)


def signed(pick: Callable[[Services], DeviceAction]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        services = app_services(request)
        body = await read_capped(request, services.settings.max_body_bytes)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != protocol.JOSE_JSON:
            raise Malformed(f"Content-Type must be {protocol.JOSE_JSON}.")
        args: Args = (body, request.scope["path"], pick(services), client_address(request))
        if services.settings.device_work == "inline":
            # A device transaction is ~1 ms of mostly CPU; handing it to a thread
            # costs ~200 us more (GIL and futex hand-offs). Workers scale it out.
            record = await _inline(request, services, args)
        else:
            record = await run_in_threadpool(services.gateway.handle, *args)
        return Response(json.dumps({"record": record}), media_type=protocol.JSON)

    return endpoint


async def _inline(request: Request, services: Services, args: Args) -> str:
    """On the event loop, committed with the other requests of the same turn of the
    loop (device_batch.py), without waiting for SQLite's write lock; if a long write
    holds it, wait (bounded) in a thread, so that the loop keeps serving (/healthz,
    devices whose transaction gets in). At most WAITERS requests wait at once; the
    next ones answer 503 at once."""
    batch = getattr(request.app.state, "device_batch", None)
    if batch is None:
        wait = 0 if services.uow.fails_fast else None
        batch = request.app.state.device_batch = DeviceBatch(services.gateway, wait)
    try:
        return await batch.handle(args)
    except Unavailable:
        if not services.uow.fails_fast:
            raise
    limiter = getattr(request.app.state, "device_waiters", None)
    if limiter is None:
        limiter = request.app.state.device_waiters = anyio.CapacityLimiter(WAITERS)
    if limiter.available_tokens < 1:
        raise Unavailable("The database is busy with a long write; retry shortly.",
                          retry_after=1)
    return await anyio.to_thread.run_sync(services.gateway.handle, *args, limiter=limiter)

routes = [
    Route(protocol.NONCE_PATH, with_nonce(nonce), methods=["GET", "HEAD"]),
    Route(protocol.ACTIVATION_PATH, with_nonce(signed(lambda rt: rt.activation)),
          methods=["POST"]),
    Route(protocol.BIND_PATH, with_nonce(signed(lambda rt: rt.binding.bind)), methods=["POST"]),
    Route(protocol.UNBIND_PATH, with_nonce(signed(lambda rt: rt.binding.unbind)),
          methods=["POST"]),
    Route(protocol.CHECKIN_PATH, with_nonce(signed(lambda rt: rt.checkin)), methods=["POST"]),
]
