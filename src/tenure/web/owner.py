"""The owner portal: signing up, in and out, and "My devices" (`/`).

The device actions are in owner_actions.py, the account's security in owner_account.py,
password resets in owner_reset.py and accepting a transfer in owner_transfers.py; they
share the rendering of the devices page and of one device's card defined here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tenure.bootstrap import Services
from tenure.domain.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidInput,
    RateLimited,
    TotpRequired,
    Unauthorized,
)
from tenure.http.bodies import client_address
from tenure.http.deps import app_services
from tenure.http.problems import status_of

from .forms import read_form
from .messages import explained
from .outcome import DONE, Refusal, dom_key, done_message, see_other
from .render import locale_of, page
from .security import SESSION_COOKIE, clear_cookie, set_cookie
from .session import local_target, session_token


def _viewed(devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**d, "key": dom_key(d["device_id"])} for d in devices]


async def devices_page(request: Request, rt: Services, token: str, status: int = 200,
                       refusal: Refusal | None = None,
                       headers: dict[str, str] | None = None) -> HTMLResponse:
    """My devices, with a refused action's message (and form) at the top."""
    devices = await run_in_threadpool(rt.owner_devices.overview, token)
    account = await run_in_threadpool(rt.account_view, token)
    return page(request, "owner/devices.html", status=status, headers=headers,
                devices=_viewed(devices), account=account, refusal=refusal,
                done=None if refusal else done_message(request), now=rt.clock.now())


async def device_card(request: Request, rt: Services, token: str, device_id: str,
                      refusal: Refusal | None = None, done: str | None = None) -> Response:
    """One device's card, for htmx to swap in place of the one whose form was sent."""
    devices = await run_in_threadpool(rt.owner_devices.overview, token)
    found = [d for d in _viewed(devices) if d["device_id"] == device_id]
    if not found:  # gone from this account (removed, transferred): nothing to show
        return HTMLResponse("", headers={"Cache-Control": "no-store"})
    return page(request, "owner/device_card.html", d=found[0], refusal=refusal,
                done=DONE.get(done or ""), now=rt.clock.now())


async def home(request: Request) -> Response:
    """My devices; a visitor without a session is sent to sign in."""
    rt = app_services(request)
    token = session_token(request)
    if token is None:
        return RedirectResponse("/signin", status_code=303)
    return await devices_page(request, rt, token)


def _signin_form(request: Request, status: int = 200, headers: dict[str, str] | None = None,
                 **context: Any) -> HTMLResponse:
    context.setdefault("next", local_target(request.query_params.get("next")))
    return page(request, "owner/signin.html", status=status, headers=headers,
                done=done_message(request), **context)


async def signin_form(request: Request) -> Response:
    return _signin_form(request)


async def signin(request: Request) -> Response:
    """Signs in; a session this browser already had (a re-authentication) is ended, so
    one browser holds one session."""
    rt = app_services(request)
    form = await read_form(request)
    target = local_target(form.get("next"))
    email = form.get("email", "")
    try:
        session = await run_in_threadpool(
            rt.sign_in, form.get("email"), form.get("password"), client_address(request),
            form.get("totp") or None)
    except TotpRequired:
        return _signin_form(request, 401, next=target, email=email, need_totp=True)
    except (InvalidCredentials, RateLimited, InvalidInput) as exc:
        retry = exc.extensions.get("retry_after")
        headers = {"Retry-After": str(max(1, int(retry)))} if isinstance(
            exc, RateLimited) and isinstance(retry, (int, float)) else None
        return _signin_form(request, status_of(type(exc)) or 400, headers, next=target,
                            email=email, error=explained(exc))
    old = session_token(request)
    if old is not None and old != session.token:
        await run_in_threadpool(rt.sign_in.sign_out, old)
        if form.get("reauth"):
            target = f"{target}{'&' if '?' in target else '?'}done=signed-in-again"
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session.token)
    return response


async def signout(request: Request) -> Response:
    await read_form(request)
    rt = app_services(request)
    token = session_token(request)
    if token is not None:
        await run_in_threadpool(rt.sign_in.sign_out, token)
    response = see_other("/signin", "signed-out")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


async def signup_form(request: Request) -> Response:
    return page(request, "owner/signup.html",
                next=local_target(request.query_params.get("next")))


async def signup(request: Request) -> Response:
    """Creates the account and signs it in; a refusal (address taken, weak password,
    too many sign-ups from this address) is shown on the form with the API's status."""
    rt = app_services(request)
    form = await read_form(request)
    address = client_address(request)
    target = local_target(form.get("next"))
    try:
        # mails to this account follow the language the page was read in
        await run_in_threadpool(rt.register, form.get("email"), form.get("password"), address,
                                locale_of(request))
    except (InvalidInput, EmailTaken, RateLimited) as exc:
        retry = exc.extensions.get("retry_after")
        headers = {"Retry-After": str(max(1, int(retry)))} if isinstance(
            retry, (int, float)) else None
        return page(request, "owner/signup.html", status=status_of(type(exc)) or 400,
                    headers=headers, email=form.get("email", ""), next=target,
                    error=explained(exc))
    try:
        session = await run_in_threadpool(rt.sign_in, form.get("email"), form.get("password"),
                                          address)
    except (InvalidCredentials, RateLimited, TotpRequired):
        return see_other(f"/signin?next={quote(target, safe='')}")
    response = see_other(target, "signed-up")
    set_cookie(request, response, SESSION_COOKIE, session.token)
    return response


routes = [
    Route("/", home, methods=["GET"]),
    Route("/signin", signin_form, methods=["GET"]),
    Route("/signin", signin, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
    Route("/signup", signup_form, methods=["GET"]),
    Route("/signup", signup, methods=["POST"]),
]
__all__ = ["routes", "Unauthorized", "devices_page", "device_card"]
