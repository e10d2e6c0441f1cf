"""Reading request bodies with a size cap, and JSON through the one reader with depth and
number limits (domain/jsonread.py), so that hostile JSON fails as `400 malformed`."""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request

from tenure.domain import jsonread
from tenure.domain.errors import Malformed, TooLarge
from tenure.i18n import negotiate


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise TooLarge(f"The body is larger than {limit // 1024} KiB.")
        except ValueError as exc:
            raise Malformed("Content-Length is not a number.") from exc
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The body is larger than {limit // 1024} KiB.")
            chunks.append(chunk)
    except ClientDisconnect as exc:
        # The client went away, or the server cut off a body that arrived too slowly
        # (TENURE_BODY_TIMEOUT_SECONDS): nobody reads this answer, but it is no crash.
        raise Malformed("The request body did not arrive completely.") from exc
    return b"".join(chunks)


def json_object(body: bytes) -> dict[str, Any]:
    try:
        return jsonread.read_json_object(body)
    except jsonread.JsonRejected as exc:
        raise Malformed(f"The body must be a JSON object: {exc}.") from exc


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    return json_object(await read_capped(request, limit))


def bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def client_address(request: Request) -> str:
    """The client's address as the app's ClientAddress reads it (trusted proxies)."""
    return request.app.state.client_address(request)  # type: ignore[no-any-return]


def request_locale(request: Request) -> str | None:
    """The language a request's mail is written in (its `Accept-Language`; English when
    it names none we speak); None without the header."""
    accept = request.headers.get("accept-language")
    return negotiate(accept) if accept else None
