"""The owner's account security (`/account`): two-step sign-in (TOTP) with its recovery
codes, and deleting the account — the use cases of `/v1/me/totp…` and `DELETE /v1/me`.

Secrets are shown once and only in the answer to the POST that made them (the TOTP
secret and its QR code, recovery codes), on pages that are never cached; they never
appear in a URL. The QR code is an SVG drawn by segno, embedded as a `data:` image, so
the strict CSP (no inline style or script) holds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import segno
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure.bootstrap import Services
from tenure.domain.errors import InvalidInput, TenureError, Unauthorized
from tenure.http.deps import app_services
from tenure.services.totp import Enrolment

from .forms import read_form
from .outcome import Refusal, done_message, refusal_of, see_other
from .owner_actions import CONFIRM
from .render import page
from .security import SESSION_COOKIE, clear_cookie
from .session import session_token

SIGN_IN_AGAIN = "/signin?next=/account"


def qr_image(uri: str) -> str:
    """A `data:` URI of the QR code of `uri`, for an <img> (allowed by `img-src data:`)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=4))


async def account_page(request: Request, rt: Services, token: str, status: int = 200,
                       refusal: Refusal | None = None,
                       headers: dict[str, str] | None = None) -> Response:
    account = await run_in_threadpool(rt.account_view, token)
    return page(request, "owner/account.html", status=status, headers=headers,
                account=account, refusal=refusal,
                done=None if refusal else done_message(request), now=rt.clock.now())


async def account(request: Request) -> Response:
    token = session_token(request)
    if token is None:
        return see_other(SIGN_IN_AGAIN)
    return await account_page(request, app_services(request), token)


async def _run(request: Request, call: Callable[[Services, str, dict[str, str]], object],
               shown: Callable[[Request, Any], Response], confirm: bool = False
               ) -> Response:
    """Run one account action; a refusal shows on the account page with its status."""
    rt = app_services(request)
    form = await read_form(request)
    token = session_token(request)
    if token is None:
        return see_other(SIGN_IN_AGAIN)
    try:
        if confirm and form.get("confirm") != "yes":
            raise InvalidInput(CONFIRM)
        result = await run_in_threadpool(call, rt, token, form)
    except Unauthorized:
        return see_other(SIGN_IN_AGAIN)
    except TenureError as exc:
        refusal = await run_in_threadpool(partial(
            refusal_of, exc, rt, token, next_path="/account", form=form))
        return await account_page(request, rt, token, refusal.status, refusal,
                                  refusal.headers)
    return shown(request, result)


def _enrolment(request: Request, result: Enrolment) -> Response:
    return page(request, "owner/totp_enrol.html", secret=result.secret,
                qr=qr_image(result.otpauth_uri))


def _codes(request: Request, result: list[str]) -> Response:
    return page(request, "owner/recovery_codes.html", codes=result)


async def enrol(request: Request) -> Response:
    return await _run(request, lambda rt, tok, _: rt.second_factor.enroll(tok), _enrolment)


async def confirm(request: Request) -> Response:
    return await _run(request, lambda rt, tok, f: rt.second_factor.confirm(
        tok, f.get("code", "").strip()), _codes)


async def disable(request: Request) -> Response:
    return await _run(request, lambda rt, tok, f: rt.second_factor.disable(
        tok, f.get("code", "").strip()), lambda _r, _x: see_other("/account", "totp-off"))


async def regenerate(request: Request) -> Response:
    return await _run(request, lambda rt, tok, f: rt.second_factor.regenerate(
        tok, f.get("code", "").strip()), _codes)


async def delete_form(request: Request) -> Response:
    token = session_token(request)
    if token is None:
        return see_other("/signin?next=/account/delete")
    rt = app_services(request)
    summary = await run_in_threadpool(rt.account_view, token)
    return page(request, "owner/delete.html", account=summary)


def _deleted(request: Request, _: object) -> Response:
    response = see_other("/signin", "deleted")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


async def delete(request: Request) -> Response:
    return await _run(request, lambda rt, tok, _: rt.delete_account(tok), _deleted,
                      confirm=True)


routes = [
    Route("/account", account, methods=["GET"]),
    Route("/account/totp", enrol, methods=["POST"]),
    Route("/account/totp/confirm", confirm, methods=["POST"]),
    Route("/account/totp/disable", disable, methods=["POST"]),
    Route("/account/totp/recovery-codes", regenerate, methods=["POST"]),
    Route("/account/delete", delete_form, methods=["GET"]),
    Route("/account/delete", delete, methods=["POST"]),
]
