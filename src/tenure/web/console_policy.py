"""Console: the territory policy (services/policy.py) for operators with a `policy` (or
`admin`) key — the same use cases, the same roles and the same author
(`apikey:<key id>`) as the admin API's policy routes (http/admin.py).

One form holds the document; its buttons validate it, preview its impact (a dry run,
nothing stored) or apply it with a reason. Every version is listed with a rollback
form; withdrawing records a version without rules. Changes answer with a redirect, so
reloading the page never applies anything twice.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenure.domain.errors import InvalidInput, NotFound, PolicyError, TenureError
from tenure.http.deps import app_services
from tenure.services.policy import parse_document

from .console import HOME, console_page, failure
from .forms import read_form
from .session import operator_key

MAX_POLICY_FORM = 1024 * 1024  # the admin API's limit; a document is at most 256 KiB


async def _author(request: Request) -> str:
    rt = app_services(request)
    key = await run_in_threadpool(rt.api_keys.require_role, operator_key(request), "policy")
    return f"apikey:{key.key_id}"


async def _render(request: Request, status: int = 200, **context: Any) -> Response:
    rt = app_services(request)
    try:
        active = await run_in_threadpool(rt.policies.document, None)
    except NotFound:
        active = None
    versions = await run_in_threadpool(rt.policies.history)
    context.setdefault("text", active.document if active else "")
    return await console_page(request, "console/policy.html", status=status, active=active,
                              versions=versions, **context)


async def _refused(request: Request, exc: TenureError, **context: Any) -> Response:
    status, detail = failure(exc)
    problems = exc.problems if isinstance(exc, PolicyError) else []
    return await _render(request, status=status, error=detail if not problems else "",
                         problems=problems, **context)


def _document(form: dict[str, str]) -> str:
    """The textarea's text; browsers send its lines ending in CR LF (HTML's rule), the
    policy is stored as written, with LF."""
    return form.get("document", "").replace("\r\n", "\n")


async def show(request: Request) -> Response:
    await _author(request)
    applied = request.query_params.get("applied", "")
    return await _render(request, applied=int(applied) if applied.isdigit() else None)


async def validate(request: Request) -> Response:
    await _author(request)
    form = await read_form(request, MAX_POLICY_FORM)
    text = _document(form)
    try:
        policy = parse_document(text)
    except PolicyError as exc:
        return await _refused(request, exc, text=text, reason=form.get("reason", ""))
    return await _render(request, text=text, reason=form.get("reason", ""),
                         valid={"rules": len(policy.rules), "markets": sorted(policy.markets),
                                "evidence": policy.evidence})


async def dry_run(request: Request) -> Response:
    await _author(request)
    rt = app_services(request)
    form = await read_form(request, MAX_POLICY_FORM)
    text = _document(form)
    try:
        impact = await run_in_threadpool(rt.policies.preview, text)
    except TenureError as exc:
        return await _refused(request, exc, text=text, reason=form.get("reason", ""))
    return await _render(request, text=text, reason=form.get("reason", ""), impact=impact)


async def apply(request: Request) -> Response:
    author = await _author(request)
    rt = app_services(request)
    form = await read_form(request, MAX_POLICY_FORM)
    text = _document(form)
    try:
        entry = await run_in_threadpool(rt.policies.apply, text, author, form.get("reason", ""))
    except TenureError as exc:
        return await _refused(request, exc, text=text, reason=form.get("reason", ""))
    return RedirectResponse(f"{HOME}/policy?applied={entry.version}", status_code=303)


async def rollback(request: Request) -> Response:
    author = await _author(request)
    rt = app_services(request)
    form = await read_form(request)
    raw = form.get("version", "")
    try:
        if not (raw.isdigit() and len(raw) <= 10):
            raise InvalidInput("'version' must be the number of an earlier policy version.")
        entry = await run_in_threadpool(rt.policies.rollback, int(raw), author,
                                        form.get("reason", ""))
    except TenureError as exc:
        return await _refused(request, exc)
    return RedirectResponse(f"{HOME}/policy?applied={entry.version}", status_code=303)


async def withdraw(request: Request) -> Response:
    author = await _author(request)
    rt = app_services(request)
    form = await read_form(request)
    try:
        entry = await run_in_threadpool(rt.policies.withdraw, author, form.get("reason", ""))
    except TenureError as exc:
        return await _refused(request, exc)
    return RedirectResponse(f"{HOME}/policy?applied={entry.version}", status_code=303)


routes = [
    Route(f"{HOME}/policy", show, methods=["GET"]),
    Route(f"{HOME}/policy/validate", validate, methods=["POST"]),
    Route(f"{HOME}/policy/dry-run", dry_run, methods=["POST"]),
    Route(f"{HOME}/policy/apply", apply, methods=["POST"]),
    Route(f"{HOME}/policy/rollback", rollback, methods=["POST"]),
    Route(f"{HOME}/policy/withdraw", withdraw, methods=["POST"]),
]
