"""Console: the appeal-case queue, a case with its evidence, and support's decisions
(services/case_view.py, case_evidence.py, case_decide.py) — for support agents only.

Four eyes are the service's rules (domain/cases.py): two different agents approve, an
agent approves once per round and never a case they opened or a device bound to them.
A refusal of those rules is shown on the case page, with the decisions so far, so the
second agent reads the first one's note before approving.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenure.domain.cases import APPROVE, REFUSAL_REASONS, REFUSE, CaseState
from tenure.domain.errors import ReauthenticationRequired, TenureError
from tenure.http.deps import app_services

from .console import HOME, console_page, failure
from .forms import read_form
from .session import session_token

STATES = tuple(s.value for s in CaseState)
DONE = {APPROVE: "approved", REFUSE: "refused"}


async def queue(request: Request) -> Response:
    rt = app_services(request)
    state = request.query_params.get("state") or None
    cases = await run_in_threadpool(rt.case_views.listing, session_token(request), state)
    return await console_page(request, "console/cases.html", cases=cases, state=state or "",
                              states=STATES)


async def _case_page(request: Request, status: int = 200, **context: Any) -> Response:
    rt = app_services(request)
    token = session_token(request)
    view = await run_in_threadpool(rt.case_views.for_support, token,
                                   request.path_params["case_id"])
    return await console_page(request, "console/case.html", status=status, case=view,
                              reasons=REFUSAL_REASONS,
                              done=DONE.get(request.query_params.get("done", "")), **context)


async def case(request: Request) -> Response:
    return await _case_page(request)


async def decide(request: Request) -> Response:
    rt = app_services(request)
    form = await read_form(request)
    case_id = request.path_params["case_id"]
    decision = form.get("decision")
    reason = form.get("reason") if decision == APPROVE else form.get("refusal")
    try:
        await run_in_threadpool(rt.case_decisions.decide, session_token(request), case_id,
                                decision, reason)
    except TenureError as exc:
        status, detail = failure(exc)
        return await _case_page(request, status=status, error=detail,
                                reauth=isinstance(exc, ReauthenticationRequired),
                                note=form.get("reason", ""))
    return RedirectResponse(f"{HOME}/cases/{case_id}?done={decision}", status_code=303)


async def evidence(request: Request) -> Response:
    """The file as the applicant sent it, shown in the browser: an image inside the case
    page, a PDF in the browser's viewer. Its type is the one its first bytes proved
    (services/case_evidence.py), so nothing else can be served as a receipt."""
    rt = app_services(request)
    found = await run_in_threadpool(rt.case_evidence.for_support, session_token(request),
                                    request.path_params["case_id"],
                                    request.path_params["evidence_id"])
    extension = found.content_type.rpartition("/")[2]
    return Response(found.data, media_type=found.content_type, headers={
        "Content-Disposition": f'inline; filename="{found.sha256}.{extension}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; "
                                   "object-src 'self'; frame-ancestors 'self'",
    })


routes = [
    Route(f"{HOME}/cases", queue, methods=["GET"]),
    Route(f"{HOME}/cases/{{case_id}}", case, methods=["GET"]),
    Route(f"{HOME}/cases/{{case_id}}/decisions", decide, methods=["POST"]),
    Route(f"{HOME}/cases/{{case_id}}/evidence/{{evidence_id}}", evidence, methods=["GET"]),
]
