"""A refusal of a use case, answered on the page that asked: the form again, with the
service's reason, the API's status code for it and, for throttles, `Retry-After`.

Pages that can say something more useful than the bare error page (web/errors.py)
use this; both map the error tree to statuses the way the API does
(http/problems.py), so a page and the API never disagree about what went wrong."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from tenure.domain.errors import TenureError
from tenure.http.problems import status_of
from tenure.i18n import gettext

from .messages import explained
from .render import locale_of, page


def retry_headers(exc: TenureError, status: int) -> dict[str, str]:
    retry = exc.extensions.get("retry_after")
    if retry is None or status not in (429, 503):
        return {}
    return {"Retry-After": str(max(1, int(retry)))}


def refused(request: Request, template: str, exc: TenureError, **context: Any
            ) -> HTMLResponse:
    """`template` with `error` set to the service's reason (its detail is written for
    people; details of server faults are not shown)."""
    status = status_of(type(exc)) or 500
    detail = explained(exc) if status < 500 else ""
    return page(request, template, status=status, headers=retry_headers(exc, status),
                error=detail, **context)


def say(request: Request, message: str, **params: object) -> str:
    """A message of the web layer itself (marked with N_) in the reader's language."""
    return gettext(locale_of(request), message, **params)
