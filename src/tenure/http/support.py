"""Support router: the case queue, a case with its evidence, and decisions. Only for
accounts with the support role, signed in with their second factor (services/support.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bodies import bearer, json_object, read_capped
from .cases import file_response
from .deps import app_services

NO_STORE = {"Cache-Control": "no-store"}


async def list_cases(request: Request) -> Response:
    rt = app_services(request)
    cases = await run_in_threadpool(rt.case_views.listing, bearer(request),
                                    request.query_params.get("state"))
    return JSONResponse({"cases": cases}, headers=NO_STORE)


async def get_case(request: Request) -> Response:
    rt = app_services(request)
    view = await run_in_threadpool(rt.case_views.for_support, bearer(request),
                                   request.path_params["case_id"])
    return JSONResponse(view, headers=NO_STORE)


async def get_evidence(request: Request) -> Response:
    rt = app_services(request)
    found = await run_in_threadpool(rt.case_evidence.for_support, bearer(request),
                                    request.path_params["case_id"],
                                    request.path_params["evidence_id"])
    return file_response(found)


async def decide(request: Request) -> Response:
    rt = app_services(request)
    data = json_object(await read_capped(request, rt.settings.max_body_bytes))
    view = await run_in_threadpool(rt.case_decisions.decide, bearer(request),
                                   request.path_params["case_id"], data.get("decision"),
                                   data.get("reason"))
    return JSONResponse(view, headers=NO_STORE)


routes = [
    Route("/v1/support/cases", list_cases, methods=["GET"]),
    Route("/v1/support/cases/{case_id}", get_case, methods=["GET"]),
    Route("/v1/support/cases/{case_id}/evidence/{evidence_id}", get_evidence, methods=["GET"]),
    Route("/v1/support/cases/{case_id}/decisions", decide, methods=["POST"]),
]
