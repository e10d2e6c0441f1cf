"""Tenants' side of appeal cases: an organization or creditor holding the claim a case
is against objects in the objection window (docs/protocol.md Part 2, "Appeals")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .deps import app_services
from .tenant import api_key, tenant_json


def objection(kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def object_to_case(request: Request) -> Response:
        rt = app_services(request)
        data = await tenant_json(request)
        view = await run_in_threadpool(rt.case_decisions.tenant_object, api_key(request),
                                       kind, request.path_params["case_id"],
                                       data.get("statement"))
        return JSONResponse(view)

    return object_to_case


routes = [
    Route("/v1/org/cases/{case_id}/objection", objection("organization"), methods=["POST"]),
    Route("/v1/creditor/cases/{case_id}/objection", objection("creditor"), methods=["POST"]),
]
