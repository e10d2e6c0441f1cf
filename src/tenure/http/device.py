"""Device router: PROTOCOL.md's signed endpoints. Every answer carries a fresh nonce."""

from __future__ import annotations

import json
from collections.abc import Callable

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure.bootstrap import Services
from tenure.domain.errors import Malformed, TenureError
from tenure.services.device_gateway import DeviceAction

from .bodies import client_address, read_capped
from .deps import app_services
from .problems import from_error, internal

log = structlog.get_logger("tenure.device")
JOSE = "application/jose+json"


def _fresh(services: Services) -> dict[str, str]:
    return {"Replay-Nonce": services.nonces.issue(), "Cache-Control": "no-store"}


async def nonce(request: Request) -> Response:
    status = 200 if request.method == "GET" else 204
    return Response(status_code=status, headers=_fresh(app_services(request)))


def signed(pick: Callable[[Services], DeviceAction]) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        services = app_services(request)
        inline = services.settings.device_work == "inline"
        headers = _fresh(services)
        try:
            body = await read_capped(request, services.settings.max_body_bytes)
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != JOSE:
                raise Malformed(f"Content-Type must be {JOSE}.")
            args = (body, request.url.path, pick(services), client_address(request))
            if inline:
                # A device transaction is ~1 ms of mostly CPU; handing it to a thread
                # costs ~200 us more (GIL and futex hand-offs). Workers scale it out.
                record = services.gateway.handle(*args)
            else:
                record = await run_in_threadpool(services.gateway.handle, *args)
        except TenureError as error:
            return from_error(error, headers)
        except Exception:
            log.exception("device_request_failed", path=request.url.path)
            return internal(headers)
        return Response(json.dumps({"record": record}), media_type="application/json",
                        headers=headers)

    return endpoint


routes = [
    Route("/v1/device/nonce", nonce, methods=["GET", "HEAD"]),
    Route("/v1/device/activation", signed(lambda rt: rt.activation), methods=["POST"]),
    Route("/v1/device/bind", signed(lambda rt: rt.binding.bind), methods=["POST"]),
    Route("/v1/device/unbind", signed(lambda rt: rt.binding.unbind), methods=["POST"]),
    Route("/v1/device/checkin", signed(lambda rt: rt.checkin), methods=["POST"]),
]
