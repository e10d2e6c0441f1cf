"""Device router: docs/protocol.md's signed endpoints. Every answer carries a fresh nonce."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure import protocol
from tenure.bootstrap import Services
from tenure.domain.errors import Malformed
from tenure.services.device_gateway import DeviceAction
from tenure.services.device_gateway import DeviceCall as Args

from .bodies import client_address, read_capped
from .deps import app_services
from .device_batch import DeviceBatch
from .problems import response_for

Endpoint = Callable[[Request], Awaitable[Response]]


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
    loop (device_batch.py: when SQLite's write lock is taken, it waits for it without
    holding up the loop)."""
    batch = getattr(request.app.state, "device_batch", None)
    if batch is None:
        wait = 0 if services.uow.fails_fast else None
        batch = request.app.state.device_batch = DeviceBatch(
            services.gateway, wait, services.settings.database_wait_seconds)
    return await batch.handle(args)


routes = [
    Route(protocol.NONCE_PATH, with_nonce(nonce), methods=["GET", "HEAD"]),
    Route(protocol.ACTIVATION_PATH, with_nonce(signed(lambda rt: rt.activation)),
          methods=["POST"]),
    Route(protocol.BIND_PATH, with_nonce(signed(lambda rt: rt.binding.bind)), methods=["POST"]),
    Route(protocol.UNBIND_PATH, with_nonce(signed(lambda rt: rt.binding.unbind)),
          methods=["POST"]),
    Route(protocol.CHECKIN_PATH, with_nonce(signed(lambda rt: rt.checkin)), methods=["POST"]),
]
