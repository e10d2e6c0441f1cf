"""Admin router: factory import for API keys with the `factory` role."""

from __future__ import annotations

import tempfile

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tenure.domain.errors import TooLarge
from tenure.services.apikeys import require_role
from tenure.services.provision import Importer, detect_format
from tenure.services.runtime import Runtime

from .bodies import bearer

MAX_IMPORT_BYTES = 2 * 1024**3


async def import_devices(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    key = await run_in_threadpool(require_role, rt.uow, bearer(request), "factory")
    skip_invalid = request.query_params.get("skip_invalid", "").lower() in ("1", "true", "yes")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024**2) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_IMPORT_BYTES:
                raise TooLarge("Import files are limited to 2 GiB; split the file.")
            spool.write(chunk)
        spool.seek(0)
        head = spool.read(64)
        spool.seek(0)
        fmt = "jsonl" if "json" in media else "csv" if "csv" in media else detect_format("", head)
        report = await run_in_threadpool(
            Importer(rt.uow, rt.clock).run, spool, fmt, f"apikey:{key.key_id}", skip_invalid,
            "http")
    status = 200 if report.committed else 422
    body = report.as_json()
    if not report.committed:
        body = {"type": "urn:tenure:problem:invalid-rows", "title": "Invalid rows",
                "status": 422, "detail": f"{report.invalid} invalid rows; nothing was imported.",
                **body}
        return JSONResponse(body, status_code=422, media_type="application/problem+json")
    return JSONResponse(body, status_code=status)


routes = [Route("/v1/admin/devices/import", import_devices, methods=["POST"])]
