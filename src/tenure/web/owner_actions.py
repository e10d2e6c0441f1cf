"""What an owner does to one device from "My devices": each a form posting ordinary
fields, each calling the use case the JSON API calls, so the protections are the API's
(a fresh sign-in, the cool-down after a reset, lost mode before removal, rate limits).

A plain POST answers `303` back to `/` with a message by name; a refusal renders the
devices page with the message (or the re-authentication form) and the API's status.
htmx posts (`HX-Request`) get the device's card instead, with the outcome inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenure.bootstrap import Services
from tenure.domain.errors import InvalidInput, TenureError, Unauthorized
from tenure.http.deps import app_services
from tenure.i18n import N_

from .forms import read_form
from .outcome import refusal_of, see_other, wants_fragment
from .owner import device_card, devices_page
from .render import page
from .session import session_token

# (services, session token, device id, form) -> result; blocking, run in a thread
Action = Callable[[Services, str, str, dict[str, str]], object]
CONFIRM = N_("Tick the box to confirm; this cannot be undone from here.")


async def _act(request: Request, action: Action, done: str | Callable[[dict[str, str]], str],
               confirm: bool | Callable[[dict[str, str]], bool] = False) -> Response:
    """Run `action` for the form's device; `done` and `confirm` may depend on the form."""
    rt = app_services(request)
    form = await read_form(request)
    token = session_token(request)
    device_id = request.path_params["device_id"]
    if token is None:
        return see_other("/signin?next=/")
    if callable(done):
        done = done(form)
    try:
        if (confirm(form) if callable(confirm) else confirm) and form.get("confirm") != "yes":
            raise InvalidInput(CONFIRM)
        await run_in_threadpool(action, rt, token, device_id, form)
    except Unauthorized:
        return see_other("/signin?next=/")
    except TenureError as exc:
        refusal = await run_in_threadpool(partial(
            refusal_of, exc, rt, token, device_id=device_id, next_path="/", form=form))
        if wants_fragment(request):  # htmx swaps only 2xx answers: the card says it
            return await device_card(request, rt, token, device_id, refusal=refusal)
        return await devices_page(request, rt, token, refusal.status, refusal,
                                  refusal.headers)
    if wants_fragment(request):
        return await device_card(request, rt, token, device_id, done=done)
    return see_other("/", done)


async def remove(request: Request) -> Response:
    return await _act(request, lambda rt, tok, dev, _: rt.owner_devices.remove(tok, dev),
                      "removed", confirm=True)


async def lost(request: Request) -> Response:
    return await _act(request, lambda rt, tok, dev, f: rt.lost_mode.report(
        tok, dev, f.get("message"), f.get("contact")), "lost")


async def found(request: Request) -> Response:
    return await _act(request, lambda rt, tok, dev, _: rt.lost_mode.found(tok, dev), "found")


async def command(request: Request) -> Response:
    """Ring or wipe (field `type`); a wipe also needs the confirmation box."""
    return await _act(request, lambda rt, tok, dev, f: rt.owner_commands.issue(
        tok, dev, f.get("type")), lambda f: "wipe" if f.get("type") == "wipe" else "ring",
        confirm=lambda f: f.get("type") == "wipe")


async def consent(request: Request) -> Response:
    return await _act(request, lambda rt, tok, dev, f: rt.consents.give(
        tok, dev, f.get("tenant_id", "").strip()), "consent")


async def start_transfer(request: Request) -> Response:
    return await _act(request, lambda rt, tok, dev, f: rt.transfers.start(
        tok, dev, f.get("to_email", "").strip()), "transfer")


async def cancel_transfer(request: Request) -> Response:
    transfer_id = request.path_params["transfer_id"]
    return await _act(request, lambda rt, tok, dev, _: rt.transfers.cancel(
        tok, dev, transfer_id), "transfer-cancelled")


async def unlock(request: Request) -> Response:
    """The bootloader's token in, the unlock token out — shown once, on a page of its own
    (never cached, never in a URL); refusals show on the devices page."""
    rt = app_services(request)
    form = await read_form(request)
    token = session_token(request)
    device_id = request.path_params["device_id"]
    if token is None:
        return see_other("/signin?next=/")
    try:
        granted = await run_in_threadpool(rt.unlock, token,
                                          form.get("bootloader_token", "").strip())
    except Unauthorized:
        return see_other("/signin?next=/")
    except TenureError as exc:
        refusal = await run_in_threadpool(partial(
            refusal_of, exc, rt, token, device_id=device_id, next_path="/"))
        return await devices_page(request, rt, token, refusal.status, refusal,
                                  refusal.headers)
    return page(request, "owner/unlock_token.html", device_id=device_id,
                unlock_token=granted)


routes = [
    Route("/devices/{device_id}/remove", remove, methods=["POST"]),
    Route("/devices/{device_id}/lost", lost, methods=["POST"]),
    Route("/devices/{device_id}/found", found, methods=["POST"]),
    Route("/devices/{device_id}/commands", command, methods=["POST"]),
    Route("/devices/{device_id}/consents", consent, methods=["POST"]),
    Route("/devices/{device_id}/transfers", start_transfer, methods=["POST"]),
    Route("/devices/{device_id}/transfers/{transfer_id}/cancel", cancel_transfer,
          methods=["POST"]),
    Route("/devices/{device_id}/unlock", unlock, methods=["POST"]),
]
