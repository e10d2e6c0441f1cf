"""RFC 9457 problem documents: the one place where errors become HTTP answers.

Errors carry a problem name (`code`) and no status; `STATUS` says which status each
class of the tree answers with. A lookup walks the class's MRO, so a subclass that
adds no row answers like its parent — but every class that declares a `code` has
its own row (tests/unit/test_errors.py checks it), so a new failure cannot reach
the wire with a status nobody chose.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tenure import protocol
from tenure.domain import errors as e

log = structlog.get_logger("tenure.http")
PROBLEM_TYPE = protocol.PROBLEM_JSON

STATUS: dict[type[e.TenureError], int] = {
    # the request itself is wrong
    e.RequestError: 400,
    e.Malformed: 400,
    e.TooLarge: 413,
    e.InvalidInput: 422,
    e.WeakPassword: 422,
    e.InvalidToken: 400,
    e.InvalidAppealToken: 400,
    e.UnsupportedEvidence: 415,
    e.UnknownTerritory: 400,
    # a device request that proves nothing
    e.DeviceAuthError: 401,
    e.UnknownDevice: 401,
    e.BadSignature: 401,
    e.BadNonce: 400,
    e.UrlMismatch: 400,
    # who is asking
    e.AuthError: 401,
    e.Unauthorized: 401,
    e.InvalidCredentials: 401,
    e.ReauthenticationRequired: 401,
    e.TotpRequired: 401,
    # known caller, not allowed
    e.Refused: 403,
    e.Forbidden: 403,
    e.UnlockNotPermitted: 403,
    e.CredentialCoolingDown: 403,
    # state
    e.Conflict: 409,
    e.AlreadyBound: 409,
    e.NotActivated: 409,
    e.EmailTaken: 409,
    e.ImportConflict: 409,
    e.DeviceHeld: 409,
    e.TotpEnabled: 409,
    e.ClaimsHeld: 409,
    e.TransferPending: 409,
    e.CaseClosed: 409,
    e.IdempotencyKeyInUse: 409,
    e.DuplicateLoan: 409,
    e.AlreadyFinanced: 409,
    e.NoticeNotAcknowledged: 409,
    e.NoPriorReminder: 409,
    e.CreditorState: 409,
    e.NotFound: 404,
    e.DeviceNotFound: 404,  # the public status check; devices are told 401
    e.RateLimited: 429,
    e.TooManyAttempts: 429,
    e.RateLimitExceeded: 429,
    e.Unavailable: 503,
    e.Overloaded: 503,
    # operator input that arrives over HTTP (admin API) answers 422; the rest is the
    # server's own set-up, which a client cannot fix
    e.OperatorError: 500,
    e.ConfigError: 500,
    e.KeyRingError: 500,
    e.GeoDataError: 500,
    e.ImportAborted: 422,
    e.PolicyError: 422,
}


def status_of(error: type[e.TenureError]) -> int | None:
    """The status of the nearest class in the error's MRO that has a row."""
    for cls in error.__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return None


def problem(code: str, status: int, title: str, detail: str,
            headers: dict[str, str] | None = None, **extensions: Any) -> Response:
    body = {"type": protocol.problem_type(code), "title": title, "status": status,
            "detail": detail, **extensions}
    return Response(json.dumps(body), status_code=status, media_type=PROBLEM_TYPE,
                    headers=headers)


def from_error(error: e.TenureError, headers: dict[str, str] | None = None) -> Response:
    status = status_of(type(error))
    if status is None or status == 500:
        # An error of the server's own set-up tells the client nothing it can use.
        return internal(headers)
    headers = dict(headers or {})
    extensions = dict(error.extensions)
    if "retry_after" in extensions and status in (429, 503):
        headers["Retry-After"] = str(max(1, int(extensions.pop("retry_after"))))
    return problem(error.code, status, error.title, error.detail, headers, **extensions)


def internal(headers: dict[str, str] | None = None) -> Response:
    return problem(protocol.PROBLEM_INTERNAL, 500, "Internal error",
                   "The server could not complete the request; nothing was changed. "
                   "Retry later.", headers)


def response_for(request: Request, exc: Exception) -> Response:
    """The one mapping of an exception to an answer, for every route (app.py registers it
    as the app's exception handler; the device router calls it to add its nonce)."""
    if isinstance(exc, e.TenureError):
        status = status_of(type(exc))
        if status is None or status >= 500:
            log.error("request_failed", path=request.url.path, error=type(exc).__name__,
                      code=exc.code)
        return from_error(exc)
    if isinstance(exc, HTTPException):  # routing: unknown path, method not allowed
        name = {404: protocol.NOT_FOUND, 405: protocol.METHOD_NOT_ALLOWED}.get(
            exc.status_code, protocol.HTTP_ERROR)
        return problem(name, exc.status_code, str(exc.detail), str(exc.detail),
                       dict(exc.headers or {}))
    log.exception("request_failed", path=request.url.path)
    return internal()


async def handle(request: Request, exc: Exception) -> Response:
    """Starlette's exception-handler signature around `response_for`."""
    return response_for(request, exc)
