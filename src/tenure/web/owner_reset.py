"""A forgotten password: asking for the mail (`/reset`) and choosing the new password
(`/reset/confirm`, the page the mailed link opens, with `?token=`).

The request page answers the same whether or not an account exists (the use case only
queues the request). The token travels from the link into a hidden field and is posted
once; the page is never cached, and the referrer policy keeps it from other sites.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure.domain.errors import InvalidInput, InvalidToken, RateLimited
from tenure.http.bodies import client_address
from tenure.http.deps import app_services
from tenure.http.problems import status_of

from .forms import read_form
from .messages import explained
from .outcome import see_other
from .render import page

MAX_TOKEN = 512


def _retry(exc: RateLimited) -> dict[str, str] | None:
    retry = exc.extensions.get("retry_after")
    return {"Retry-After": str(max(1, int(retry)))} if isinstance(retry, (int, float)) else None


async def request_form(request: Request) -> Response:
    return page(request, "owner/reset.html")


async def request_reset(request: Request) -> Response:
    rt = app_services(request)
    form = await read_form(request)
    try:
        await run_in_threadpool(rt.password_reset.request, form.get("email"),
                                client_address(request))
    except InvalidInput as exc:
        return page(request, "owner/reset.html", status=422, email=form.get("email", ""),
                    error=explained(exc))
    except RateLimited as exc:
        return page(request, "owner/reset.html", status=429, headers=_retry(exc),
                    email=form.get("email", ""), error=explained(exc))
    return page(request, "owner/reset.html", sent=True)


async def confirm_form(request: Request) -> Response:
    token = request.query_params.get("token", "")
    return page(request, "owner/reset_confirm.html",
                token=token if 0 < len(token) <= MAX_TOKEN else "")


async def confirm(request: Request) -> Response:
    rt = app_services(request)
    form = await read_form(request)
    token = form.get("token", "").strip()
    try:
        await run_in_threadpool(rt.password_reset.confirm, token, form.get("new_password"))
    except (InvalidInput, InvalidToken) as exc:
        # A weak password keeps the token (it is still unused); a bad token asks for one.
        kept = token if isinstance(exc, InvalidInput) and len(token) <= MAX_TOKEN else ""
        return page(request, "owner/reset_confirm.html", status=status_of(type(exc)) or 400,
                    token=kept, error=explained(exc))
    return see_other("/signin", "password-changed")


routes = [
    Route("/reset", request_form, methods=["GET"]),
    Route("/reset", request_reset, methods=["POST"]),
    Route("/reset/confirm", confirm_form, methods=["GET"]),
    Route("/reset/confirm", confirm, methods=["POST"]),
]
