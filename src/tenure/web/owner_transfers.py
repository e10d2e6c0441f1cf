"""Accepting a transfer (`/transfers/{transfer_id}`): the page the buyer's mail links to.

The buyer must be signed in with the address the seller named; a visitor is sent to
sign in and brought back. A transfer meant for another account answers like one that
does not exist (404), as the API does.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure.domain.errors import NotFound, TenureError, Unauthorized
from tenure.http.deps import app_services
from tenure.http.problems import status_of

from .forms import read_form
from .messages import explained
from .outcome import see_other
from .render import page
from .session import session_token


def _sign_in_first(transfer_id: str) -> Response:
    return see_other(f"/signin?next={quote('/transfers/' + transfer_id, safe='')}")


async def offer(request: Request) -> Response:
    rt = app_services(request)
    transfer_id = request.path_params["transfer_id"]
    token = session_token(request)
    if token is None:
        return _sign_in_first(transfer_id)
    try:
        found = await run_in_threadpool(rt.transfers.offer, token, transfer_id)
    except Unauthorized:
        return _sign_in_first(transfer_id)
    return page(request, "owner/transfer.html", offer=found)


async def accept(request: Request) -> Response:
    rt = app_services(request)
    form = await read_form(request)
    transfer_id = request.path_params["transfer_id"]
    token = session_token(request)
    if token is None:
        return _sign_in_first(transfer_id)
    try:
        await run_in_threadpool(rt.transfers.accept, token, transfer_id,
                                form.get("code", "").strip())
    except Unauthorized:
        return _sign_in_first(transfer_id)
    except NotFound:
        raise
    except TenureError as exc:  # a wrong code (attempts left), a claim that holds it...
        status = status_of(type(exc)) or 500
        if status >= 500:
            raise
        found = await run_in_threadpool(rt.transfers.offer, token, transfer_id)
        return page(request, "owner/transfer.html", status=status, offer=found,
                    error=explained(exc))
    return see_other("/", "accepted")


routes = [
    Route("/transfers/{transfer_id}", offer, methods=["GET"]),
    Route("/transfers/{transfer_id}", accept, methods=["POST"]),
]
