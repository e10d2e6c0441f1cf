"""Failures as pages: the same mapping of the error tree to statuses as the API
(http/problems.py), rendered for a person instead of as problem+json."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tenure.domain import errors as e
from tenure.http.problems import status_of
from tenure.i18n import N_

from .messages import explained
from .render import page

TITLES = {
    400: N_("The request could not be read"),
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Not found"),
    409: N_("Not possible right now"),
    413: N_("Too large"),
    415: N_("Unsupported file"),
    422: N_("Please check what you entered"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong on our side"),
    503: N_("Busy, please retry"),
}
WEB_PREFIXES = ("/signin", "/signup", "/signout", "/reset", "/devices", "/account",
                "/transfers", "/status", "/appeal", "/messages", "/console", "/static")


def is_web(request: Request) -> bool:
    path = request.url.path
    return path == "/" or path.startswith(WEB_PREFIXES)


def error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, e.Unauthorized) and request.method == "GET":
        target = "/console/signin" if request.url.path.startswith("/console") else "/signin"
        return RedirectResponse(f"{target}?next={request.url.path}", status_code=303)
    headers: dict[str, str] = {}
    if isinstance(exc, e.TenureError):
        status = status_of(type(exc)) or 500
        detail = explained(exc) if status < 500 else ""
        retry = exc.extensions.get("retry_after")
        if retry is not None and status in (429, 503):
            headers["Retry-After"] = str(max(1, int(retry)))
    elif isinstance(exc, HTTPException):
        status, detail = exc.status_code, ""
    else:
        status, detail = 500, ""
    status = status if status in TITLES else 500
    return page(request, "error.html", status=status, headers=headers,
                title=TITLES[status], detail=detail)
