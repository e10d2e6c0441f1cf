"""The public pages: checking a device before buying it (`/status`) and writing to
whoever holds a device through the message relay (`/messages`).

No sign-in: these call the same use cases as `GET /v1/public/status` and
`POST /v1/public/messages[/confirm]`, with their throttles; nothing here says who
holds a device (the services already leave that out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure import protocol
from tenure.domain.errors import (
    DeviceNotFound,
    InvalidInput,
    InvalidToken,
    Malformed,
    RateLimitExceeded,
)
from tenure.domain.provisioning import is_device_id, is_imei
from tenure.http.bodies import client_address
from tenure.http.deps import app_services
from tenure.i18n import N_
from tenure.services.relay import MAX_MESSAGE
from tenure.services.status_check import read_query

from .answers import refused, say
from .forms import read_form
from .render import page

STATUS_ERRORS = (Malformed, InvalidInput, DeviceNotFound, RateLimitExceeded)
RELAY_ERRORS = (Malformed, InvalidInput, DeviceNotFound, RateLimitExceeded)
_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def device_ref(request: Request, value: str) -> tuple[str, str]:
    """One field for either an IMEI or a device id, as people read them off a box or a
    settings screen: an IMEI may be written with spaces or dashes; anything else that
    could be a device id is one."""
    compact = value.replace(" ", "").replace("-", "")
    if is_imei(compact):
        return "imei", compact
    if is_device_id(value.strip()):
        return "device_id", value.strip()
    raise InvalidInput(say(request, N_(
        "This is neither an IMEI (15 digits, dial *#06# to see it) nor a device's serial "
        "number.")))


def prefilled(request: Request) -> str:
    """The device a link names (`?imei=`, `?device_id=` or the form's own `?device=`)."""
    query = request.query_params
    return query.get("device") or query.get("imei") or query.get("device_id") or ""


def status_params(request: Request, items: Iterable[tuple[str, str]]
                  ) -> list[tuple[str, str]] | None:
    """The API's query (`imei` or `device_id`, `nonce`) from the page's: its form sends
    `device`; links may use the API's names. None when no device is named yet."""
    params: list[tuple[str, str]] = []
    for name, value in items:
        if name == "device":
            if value.strip():
                params.append(device_ref(request, value))
        elif name in ("imei", "device_id") or (name == "nonce" and value.strip()):
            params.append((name, value.strip()))
    if not any(name in ("imei", "device_id") for name, _ in params):
        return None
    return params


async def status(request: Request) -> Response:
    """`GET /status[?device=|imei=|device_id=][&nonce=]`: the form, and the statement in
    words when a device is named. A GET, so a result is a link a buyer can share."""
    rt = app_services(request)
    context: dict[str, Any] = {"device": prefilled(request),
                               "nonce": request.query_params.get("nonce", "")}
    try:
        params = status_params(request, request.query_params.multi_items())
        if params is None:
            return page(request, "public/status.html", **context)
        query = read_query(params)
        statement = await run_in_threadpool(rt.status_check, query, client_address(request))
        facts = rt.status_check.verified(statement)
    except STATUS_ERRORS as exc:
        return refused(request, "public/status.html", exc,
                       unknown=isinstance(exc, DeviceNotFound), **context)
    download = "/status/statement?" + urlencode({"statement": statement})
    return page(request, "public/status.html", statement=statement, facts=facts,
                download=download, ref=urlencode({"device_id": facts["sub"]}),
                server=rt.settings.effective_public_url, **context)


async def statement_file(request: Request) -> Response:
    """`GET /status/statement?statement=<JWS>`: the very statement the page showed, as
    a `.jws` file. Only a statement this server signed is handed back (the page cannot
    be used to serve other content under this site's name), and no lookup is made (a
    download does not spend the buyer's allowance)."""
    rt = app_services(request)
    statement = request.query_params.get("statement", "")
    try:
        facts = rt.status_check.verified(statement)
    except InvalidInput as exc:
        return refused(request, "public/status.html", exc, device="", nonce="")
    name = _FILENAME_SAFE.sub("_", str(facts.get("sub", "device")))[:64]
    return Response(statement, media_type=protocol.JOSE, headers={
        "Content-Disposition": f'attachment; filename="tenure-status-{name}.jws"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


# -- the message relay ---------------------------------------------------------------------

async def message_form(request: Request) -> Response:
    return page(request, "public/message.html", device=prefilled(request), sender="",
                message="", max_message=MAX_MESSAGE)


async def send_message(request: Request) -> Response:
    """`POST /messages`: as `POST /v1/public/messages`; the sender is mailed a link to
    confirm with."""
    rt = app_services(request)
    form = await read_form(request)
    context: dict[str, Any] = {"device": form.get("device", ""),
                               "sender": form.get("from", ""),
                               "message": form.get("message", ""), "max_message": MAX_MESSAGE}
    try:
        ref, value = device_ref(request, form.get("device", ""))
        body = {ref: value, "from": form.get("from", "").strip(),
                "message": form.get("message", "")}
        await run_in_threadpool(rt.relay.submit, body, client_address(request))
    except RELAY_ERRORS as exc:
        return refused(request, "public/message.html", exc, **context)
    return page(request, "public/message_sent.html", sender=body["from"])


async def confirm_form(request: Request) -> Response:
    """`GET /messages/confirm?token=`: where the confirmation mail's link lands. It only
    shows a button: a GET changes nothing (mail scanners follow links)."""
    return page(request, "public/message_confirm.html",
                token=request.query_params.get("token", ""))


async def confirm_message(request: Request) -> Response:
    rt = app_services(request)
    form = await read_form(request)
    token = form.get("token", "").strip()
    try:
        await run_in_threadpool(rt.relay.confirm, token)
    except (InvalidInput, InvalidToken) as exc:
        return refused(request, "public/message_confirm.html", exc, token=token)
    return page(request, "public/message_confirmed.html")


routes = [
    Route("/status", status, methods=["GET"]),
    Route("/status/statement", statement_file, methods=["GET"]),
    Route("/messages", message_form, methods=["GET"]),
    Route("/messages", send_message, methods=["POST"]),
    Route("/messages/confirm", confirm_form, methods=["GET"]),
    Route("/messages/confirm", confirm_message, methods=["POST"]),
]
