"""Appeals router for applicants and holders: open a case, add evidence, follow it,
object to it (docs/protocol.md Part 2, "Appeals"; docs/redress.md)."""

from __future__ import annotations

import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tenure.services.case_evidence import MAX_EVIDENCE_BYTES, EvidenceFile

from .bodies import bearer, json_object, read_capped
from .deps import app_services
from .idempotency import idempotent
from .multipart import read_file_field

MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file


def file_response(found: EvidenceFile) -> Response:
    """The file with its recognised type, as a download the browser will not render."""
    return Response(found.data, media_type=found.content_type, headers={
        "Content-Disposition": f'attachment; filename="{found.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })


async def open_case(request: Request) -> Response:
    rt = app_services(request)
    body = await read_capped(request, rt.settings.max_body_bytes)
    data = json_object(body)
    token = bearer(request)

    async def produce() -> Response:
        case = await run_in_threadpool(rt.open_case, token, data)
        return JSONResponse({"case_id": case.case_id, "state": case.state}, status_code=201)

    # The scope names the session by its token's hash: the token itself is never stored.
    principal = "session:" + hashlib.sha256((token or "").encode()).hexdigest()[:32]
    return await idempotent(request, rt.idempotency, principal, body, produce)


async def add_evidence(request: Request) -> Response:
    rt = app_services(request)
    data = await read_file_field(request, "file", MAX_EVIDENCE_BYTES + MULTIPART_OVERHEAD)
    row = await run_in_threadpool(rt.case_evidence.add, bearer(request),
                                  request.path_params["case_id"], data)
    return JSONResponse({"evidence_id": row.evidence_id, "sha256": row.sha256},
                        status_code=201)


async def get_case(request: Request) -> Response:
    rt = app_services(request)
    view = await run_in_threadpool(rt.case_views.for_applicant, bearer(request),
                                   request.path_params["case_id"])
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


async def get_evidence(request: Request) -> Response:
    rt = app_services(request)
    found = await run_in_threadpool(rt.case_evidence.for_applicant, bearer(request),
                                    request.path_params["case_id"],
                                    request.path_params["evidence_id"])
    return file_response(found)


async def object_to_case(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    view = await run_in_threadpool(rt.case_decisions.owner_object, bearer(request),
                                   request.path_params["case_id"], data.get("statement"))
    return JSONResponse(view)


routes = [
    Route("/v1/cases", open_case, methods=["POST"]),
    Route("/v1/cases/{case_id}", get_case, methods=["GET"]),
    Route("/v1/cases/{case_id}/evidence", add_evidence, methods=["POST"]),
    Route("/v1/cases/{case_id}/evidence/{evidence_id}", get_evidence, methods=["GET"]),
    Route("/v1/cases/{case_id}/objection", object_to_case, methods=["POST"]),
]
