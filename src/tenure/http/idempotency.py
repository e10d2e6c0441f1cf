"""Idempotency-Key for mutating account and admin requests (DESIGN.md §6).

A retried request with the same key and body gets the first answer again instead of
doing the work twice; the same key with another body is refused; a key whose first
request is still running answers `409 idempotency-key-in-use` (the reservation rules
live in tenure.services.idempotency). Answers that hold secrets (sessions) are never
stored, so those endpoints do not take a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tenure.domain.errors import InvalidInput, TenureError
from tenure.services.idempotency import IdempotencyRecords, Reservation, retryable

from .problems import from_error


async def idempotent(request: Request, records: IdempotencyRecords, principal: str, body: bytes,
                     produce: Callable[[], Awaitable[Response]]) -> Response:
    key = request.headers.get("idempotency-key")
    if key is None:
        return await produce()
    if not 1 <= len(key) <= 128:
        raise InvalidInput("Idempotency-Key must have 1 to 128 characters.")
    scope = f"{principal}:{request.method}:{request.url.path}"[:160]
    request_hash = hashlib.sha256(body).hexdigest()

    held = await run_in_threadpool(records.reserve, scope, key, request_hash)
    if not isinstance(held, Reservation):
        return Response(held.body, status_code=held.status, media_type=held.content_type,
                        headers={"Idempotent-Replayed": "true"})
    try:
        response = await produce()
    except TenureError as exc:
        response = from_error(exc)  # kept: a retry gets the same refusal
        if retryable(response.status_code):
            await run_in_threadpool(records.release, held)
            raise
    except BaseException:
        await run_in_threadpool(records.release, held)
        raise
    await run_in_threadpool(records.finish, held, response.status_code, bytes(response.body),
                            response.media_type or "application/json")
    return response
