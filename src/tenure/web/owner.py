"""The owner portal: sign-in and the owner's devices (more pages join here)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenure.domain.errors import InvalidCredentials, TooManyAttempts, TotpRequired, Unauthorized
from tenure.http.bodies import client_address
from tenure.http.deps import app_services

from .forms import read_form
from .render import page
from .security import SESSION_COOKIE, clear_cookie, set_cookie
from .session import local_target, session_token


async def home(request: Request) -> Response:
    """My devices; a visitor without a session is sent to sign in."""
    rt = app_services(request)
    token = session_token(request)
    if token is None:
        return RedirectResponse("/signin", status_code=303)
    devices = await run_in_threadpool(rt.owner_devices.overview, token)
    return page(request, "owner/devices.html", devices=devices, now=rt.clock.now())


async def signin_form(request: Request) -> Response:
    return page(request, "owner/signin.html", next=local_target(request.query_params.get("next")))


async def signin(request: Request) -> Response:
    rt = app_services(request)
    form = await read_form(request)
    target = local_target(form.get("next"))
    try:
        session = await run_in_threadpool(
            rt.sign_in, form.get("email"), form.get("password"), client_address(request),
            form.get("totp") or None)
    except TotpRequired:
        return page(request, "owner/signin.html", status=401, next=target,
                    email=form.get("email", ""), need_totp=True)
    except (InvalidCredentials, TooManyAttempts) as exc:
        return page(request, "owner/signin.html", status=401 if isinstance(
            exc, InvalidCredentials) else 429, next=target, email=form.get("email", ""),
            error=exc.detail)
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session.token)
    return response


async def signout(request: Request) -> Response:
    await read_form(request)
    rt = app_services(request)
    token = session_token(request)
    if token is not None:
        await run_in_threadpool(rt.sign_in.sign_out, token)
    response = RedirectResponse("/signin", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


routes = [
    Route("/", home, methods=["GET"]),
    Route("/signin", signin_form, methods=["GET"]),
    Route("/signin", signin, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
]
__all__ = ["routes", "Unauthorized"]
