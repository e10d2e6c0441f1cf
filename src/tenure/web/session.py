"""The signed-in person of a page: the account session token lives in an HttpOnly
cookie and is handed to the same use cases the API's bearer token reaches."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from .security import OPERATOR_COOKIE, SESSION_COOKIE


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def operator_key(request: Request) -> str | None:
    return request.cookies.get(OPERATOR_COOKIE) or None


def local_target(value: object, default: str = "/") -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value:
        return default
    return value
