"""What a browser expects of a site that holds people's devices: CSRF tokens on every
form, cookies a script cannot read, a Content-Security-Policy that forbids inline
script, and no framing.

CSRF uses the double-submit pattern: a random token in a `SameSite=Strict`, HttpOnly
cookie and the same token in a hidden field of every form. A page of another site can
neither read the cookie nor make the browser send it on a cross-site POST, so it
cannot forge the pair. Clients that are no browser post plain fields (`check_csrf`).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tenure.domain.errors import Forbidden

CSRF_COOKIE = "tenure_csrf"
SESSION_COOKIE = "tenure_session"
OPERATOR_COOKIE = "tenure_operator"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def secure(request: Request) -> bool:
    """Cookies get `Secure` when the browser's connection is TLS: ours, or a trusted
    proxy's that ended it (TENURE_TRUSTED_PROXIES and X-Forwarded-Proto: https)."""
    if request.url.scheme == "https":
        return True
    addresses = getattr(request.app.state, "client_address", None)
    return bool(addresses is not None and addresses.forwarded_tls(request))


def csrf_token(request: Request) -> str:
    """The token of this browser: its cookie, or a new one that `ensure_csrf_cookie`
    sets on the response."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) != 43:
        token = request.scope.setdefault("tenure.csrf", secrets.token_urlsafe(32))
    return token


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    if request.cookies.get(CSRF_COOKIE) != csrf_token(request):
        response.set_cookie(CSRF_COOKIE, csrf_token(request), httponly=True,
                            samesite="strict", secure=secure(request), path="/")


def from_browser(request: Request) -> bool:
    """Browsers say where a request comes from (`Origin` on every POST, `Sec-Fetch-Site`
    on every request); scripts and command-line clients say nothing."""
    return "origin" in request.headers or "sec-fetch-site" in request.headers


def check_csrf(request: Request, form: dict[str, str]) -> None:
    """A browser's form must carry the token of its cookie (and come from this site).

    A client that is no browser (curl, a script posting `email`, `password` and `totp`)
    carries no token and needs none: a forged cross-site request is always sent by a
    victim's browser, and every browser that runs today's pages announces itself with
    `Origin` or `Sec-Fetch-Site` — so a request without either cannot be one. A token
    that is sent must match, whoever sends it."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get("csrf") or request.headers.get("x-csrf-token", "")
    if not sent and not from_browser(request):
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("This form was sent from another site; open the page here and "
                        "submit it again.")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise Forbidden("This form has expired or did not come from this site; "
                        "reload the page and submit it again.")


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """A credential cookie: HttpOnly, Lax (links from mail still arrive signed in; a
    cross-site POST does not), Secure over TLS, gone when the browser closes."""
    response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure(request),
                        path="/")


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax",
                           secure=secure(request))


class SecurityHeaders:
    """Adds the CSP and its companions to every HTML answer (the JSON API answers are
    not rendered by browsers and keep their own headers)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                kind = next((v for k, v in headers if k == b"content-type"), b"")
                if kind.startswith(b"text/html"):
                    present = {k.lower() for k, _ in headers}
                    # a page with its own policy (the API docs) keeps it
                    headers.extend(h for h in HEADERS if h[0] not in present)
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add)
