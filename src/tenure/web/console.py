"""The support and operator console (`/console`, docs/console.md): signing in and out,
and what every console page shares. The pages themselves live in console_*.py.

Support agents sign in with their account and its second factor (the session cookie
the portal uses); operators with an admin API key, kept in its own HttpOnly cookie.
Neither is ever written into a page. Which pages a person may open is decided by the
use cases each page calls; `Visitor` only decides which links the navigation shows.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenure.domain.errors import TenureError, TotpRequired, Unauthorized
from tenure.http.bodies import client_address
from tenure.http.deps import app_services
from tenure.http.problems import status_of
from tenure.services.console_access import Visitor

from .forms import read_form
from .messages import Explained, explained
from .render import page
from .security import OPERATOR_COOKIE, SESSION_COOKIE, clear_cookie, set_cookie
from .session import local_target, operator_key, session_token

HOME = "/console"
# Where each kind of visitor lands: agents at the case queue, operators at the lookup.
LANDING = ("cases", "devices", "policy", "audit", "outbox")


def credentials(request: Request) -> tuple[str | None, str | None]:
    """The agent's session token and the operator's key, as the cookies carry them."""
    return session_token(request), operator_key(request)


async def visitor_of(request: Request) -> Visitor:
    rt = app_services(request)
    return await run_in_threadpool(rt.console.visitor, *credentials(request))


async def console_page(request: Request, template: str, status: int = 200,
                       headers: dict[str, str] | None = None, **context: Any) -> Response:
    """A console page, with who is signed in for its navigation."""
    return page(request, template, status=status, headers=headers,
                visitor=await visitor_of(request), **context)


def failure(exc: TenureError) -> tuple[int, Explained]:
    """The status and the sentence of a refusal shown on the form that caused it, in the
    reader's language (web/messages.py)."""
    return status_of(type(exc)) or 500, explained(exc)


def console_target(value: object) -> str:
    target = local_target(value, HOME)
    return target if target == HOME or target.startswith(HOME + "/") else HOME


async def home(request: Request) -> Response:
    visitor = await visitor_of(request)
    if not visitor.signed_in:
        raise Unauthorized("Sign in to the console.")
    first = next(name for name in LANDING if name in visitor.pages)
    return RedirectResponse(f"{HOME}/{first}", status_code=303)


async def signin_form(request: Request) -> Response:
    return await console_page(request, "console/signin.html",
                              next=console_target(request.query_params.get("next")))


async def signin(request: Request) -> Response:
    rt = app_services(request)
    form = await read_form(request)
    target = console_target(form.get("next"))
    context: dict[str, Any] = {"next": target}
    if form.get("method") == "key":
        try:
            await run_in_threadpool(rt.console.sign_in_operator, form.get("api_key", "").strip())
        except TenureError as exc:
            status, detail = failure(exc)
            return await console_page(request, "console/signin.html", status=status,
                                      key_error=detail, **context)
        response = RedirectResponse(target, status_code=303)
        set_cookie(request, response, OPERATOR_COOKIE, form.get("api_key", "").strip())
        return response
    context["email"] = form.get("email", "")
    try:
        token = await run_in_threadpool(
            rt.console.sign_in_agent, form.get("email"), form.get("password"),
            client_address(request), form.get("totp") or None)
    except TotpRequired:
        return await console_page(request, "console/signin.html", status=401,
                                  need_totp=True, **context)
    except TenureError as exc:
        status, detail = failure(exc)
        return await console_page(request, "console/signin.html", status=status,
                                  agent_error=detail, **context)
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token)
    return response


async def signout(request: Request) -> Response:
    """Ends the agent's session and forgets the operator's key, whichever is there."""
    await read_form(request)
    rt = app_services(request)
    token = session_token(request)
    if token is not None:
        await run_in_threadpool(rt.sign_in.sign_out, token)
    response = RedirectResponse(f"{HOME}/signin", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    clear_cookie(request, response, OPERATOR_COOKIE)
    return response


routes = [
    Route(HOME, home, methods=["GET"]),
    Route(f"{HOME}/signin", signin_form, methods=["GET"]),
    Route(f"{HOME}/signin", signin, methods=["POST"]),
    Route(f"{HOME}/signout", signout, methods=["POST"]),
]
