"""Console: the two outboxes — mail and tenants' webhook events — for operators with an
`admin` key: what waits, what failed and why, and putting failed deliveries back in
the queue (services/outbox_admin.py, the same use case as `tenure outbox`).

Mail is shown by subject, never by address or body. A requeue answers with a
redirect to the listing, which says what was requeued.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenure.domain.errors import TenureError
from tenure.http.deps import app_services

from .console import HOME, console_page, failure
from .forms import read_form
from .session import operator_key

LIMIT = 100  # entries of each kind listed (the CLI's default)
RETRIED = {"webhook event": "event", "message": "message"}


async def _require(request: Request) -> str:
    """The operator, as the audit trail names them: `apikey:<key id>`."""
    rt = app_services(request)
    key = await run_in_threadpool(rt.api_keys.require_role, operator_key(request), "admin")
    return f"apikey:{key.key_id}"


async def _render(request: Request, status: int = 200, **context: Any) -> Response:
    rt = app_services(request)
    failed_only = request.query_params.get("failed") == "1"
    report = await run_in_threadpool(rt.outbox.report, failed_only, None, LIMIT)
    return await console_page(request, "console/outbox.html", status=status, report=report,
                              failed_only=failed_only, limit=LIMIT, **context)


def _count(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


async def listing(request: Request) -> Response:
    await _require(request)
    params = request.query_params
    return await _render(request, retried=params.get("retried") if params.get("retried")
                         in RETRIED.values() else None,
                         events=_count(params.get("events", "")),
                         messages=_count(params.get("messages", "")))


async def retry(request: Request) -> Response:
    actor = await _require(request)
    rt = app_services(request)
    form = await read_form(request)
    try:
        what = await run_in_threadpool(rt.outbox.retry, form.get("entry_id", ""), actor)
    except TenureError as exc:
        status, detail = failure(exc)
        return await _render(request, status=status, error=detail)
    return RedirectResponse(f"{HOME}/outbox?retried={RETRIED.get(what, 'event')}",
                            status_code=303)


async def retry_all(request: Request) -> Response:
    actor = await _require(request)
    rt = app_services(request)
    await read_form(request)
    events, messages = await run_in_threadpool(rt.outbox.retry_all_failed, None, actor)
    return RedirectResponse(f"{HOME}/outbox?events={events}&messages={messages}",
                            status_code=303)


routes = [
    Route(f"{HOME}/outbox", listing, methods=["GET"]),
    Route(f"{HOME}/outbox/retry", retry, methods=["POST"]),
    Route(f"{HOME}/outbox/retry-all", retry_all, methods=["POST"]),
]
