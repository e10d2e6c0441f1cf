"""Reading request bodies with a size cap and JSON decoding that fails as a problem."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from tenure.domain.errors import Malformed, TooLarge


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge(f"The body is larger than {limit // 1024} KiB.")
        except ValueError as exc:
            raise Malformed("Content-Length is not a number.") from exc
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"The body is larger than {limit // 1024} KiB.")
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed("The body is not JSON.") from exc
    if not isinstance(value, dict):
        raise Malformed("The body must be a JSON object.")
    return value


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    return json_object(await read_capped(request, limit))


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def client_address(request: Request) -> str:
    """The client's address as the app's ClientAddress reads it (trusted proxies)."""
    return request.app.state.client_address(request)  # type: ignore[no-any-return]
