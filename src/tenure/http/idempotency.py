"""Idempotency-Key for mutating account and admin requests (DESIGN.md §6).

A retried request with the same key and body gets the first answer again instead of
doing the work twice; the same key with another body is refused. Answers that hold
secrets (sessions) are never stored, so those endpoints do not take a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tenure.domain.errors import InvalidInput
from tenure.services.idempotency import IdempotencyRecords
from tenure.services.ports import StoredResponse


async def idempotent(request: Request, records: IdempotencyRecords, principal: str, body: bytes,
                     produce: Callable[[], Awaitable[Response]]) -> Response:
    key = request.headers.get("idempotency-key")
    if key is None:
        return await produce()
    if not 1 <= len(key) <= 128:
        raise InvalidInput("Idempotency-Key must have 1 to 128 characters.")
    scope = f"{principal}:{request.method}:{request.url.path}"[:160]
    request_hash = hashlib.sha256(body).hexdigest()

    stored = await run_in_threadpool(records.find, scope, key)
    if stored is not None:
        if stored.request_hash != request_hash:
            raise InvalidInput("This Idempotency-Key was used with a different request body.")
        return Response(stored.body, status_code=stored.status, media_type=stored.content_type,
                        headers={"Idempotent-Replayed": "true"})
    response = await produce()
    if response.status_code < 500:
        record = StoredResponse(request_hash, response.status_code, bytes(response.body),
                                response.media_type or "application/json")
        await run_in_threadpool(records.remember, scope, key, record)
    return response
