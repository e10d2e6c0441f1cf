"""Retailer router: registering sales and reading one's own (docs/retailers.md).

Routes pass the presented API key and the body along; the service authenticates
(401/403 before anything of the body is looked at), reads JSON or CSV and decides.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bodies import read_capped
from .deps import app_services
from .tenant import TENANT_MAX_BODY, api_key


async def register_sales(request: Request) -> Response:
    rt = app_services(request)
    body = await read_capped(request, TENANT_MAX_BODY)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    report = await run_in_threadpool(rt.retail_sales.register, api_key(request), media, body)
    return JSONResponse(report.as_json())


async def show_sale(request: Request) -> Response:
    rt = app_services(request)
    sale = await run_in_threadpool(rt.retail_sales.show, api_key(request),
                                   request.path_params["device_id"])
    return JSONResponse(sale)


routes = [
    Route("/v1/retailer/sales", register_sales, methods=["POST"]),
    Route("/v1/retailer/sales/{device_id}", show_sale, methods=["GET"]),
]
