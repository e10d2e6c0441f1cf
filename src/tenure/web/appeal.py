"""The appeal pages: opening a case with its proof of purchase (`/appeal`), following
it and adding evidence (`/appeal/{case_id}`).

The applicant is a signed-in account, as for `POST /v1/cases` and
`GET /v1/cases/{id}`: the session cookie carries the same token the API's bearer
does, and the device's appeal token (from its lock screen) proves they hold the
device. Anyone but the applicant is told a case does not exist, exactly as the API
tells them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenure.domain.cases import FINAL, CaseKind
from tenure.domain.errors import (
    CaseClosed,
    TenureError,
    TooLarge,
    Unauthorized,
    UnsupportedEvidence,
)
from tenure.http.cases import MULTIPART_OVERHEAD
from tenure.http.deps import app_services
from tenure.i18n import N_
from tenure.services.case_evidence import MAX_EVIDENCE_BYTES

from .answers import refused, say
from .forms import read_multipart_form
from .public import device_ref, prefilled
from .render import page
from .session import session_token

LIMIT = MAX_EVIDENCE_BYTES + MULTIPART_OVERHEAD
CASE_ID = re.compile(r"[0-9a-f]{32}")
EVIDENCE_ERRORS = (UnsupportedEvidence, TooLarge, CaseClosed)
ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"

KINDS = {
    CaseKind.ACTIVATION_LOCK.value: N_("A previous owner's activation lock"),
    CaseKind.TERRITORY.value: N_("A territory rule of the manufacturer"),
    CaseKind.ORGANIZATION.value: N_("An organization's claim"),
    CaseKind.CREDITOR.value: N_("A financing company's claim"),
}
STATES = {
    "open": N_("Open: waiting for two support agents to review it"),
    "approved": N_("Approved by support"),
    "objection-window": N_("Approved: the holder of the claim may object until the window ends"),
    "objected": N_("The holder objected: support decides again"),
    "granted": N_("Granted: the claim is released"),
    "refused": N_("Refused"),
}
REASONS = {
    "insufficient-evidence": N_("The evidence does not show that you bought this device. "
                                "You may open a new case with better evidence, such as a "
                                "receipt naming the IMEI."),
    "evidence-inconsistent": N_("The documents contradict each other or the device's "
                                "records (dates, model, seller). You may open a new case "
                                "that explains the difference."),
    "not-the-device": N_("The evidence is about another device. Check the IMEI or serial "
                         "number on the device and on the receipt."),
    "claim-upheld": N_("The holder's claim is lawful, for example a loan that is not paid "
                       "off. Settle with the holder; the lock screen shows whom to contact."),
    "objection-upheld": N_("The holder objected and support found the objection right. "
                           "Contact the seller; the device stays locked."),
    "duplicate-case": N_("You already have an open case about the same claim; follow that "
                         "one."),
}
NOTES = {
    "opened": N_("Your case is open. Add your proof of purchase below."),
    "opened-file-added": N_("Your case is open and your file was added."),
    "opened-file-refused": N_("Your case is open, but the file was not accepted: evidence "
                              "must be a PDF, JPEG or PNG file of at most 10 MiB. Add it "
                              "again below."),
    "evidence-added": N_("Your file was added."),
}
LABELS: dict[str, Any] = {"kinds": KINDS, "states": STATES, "reasons": REASONS, "accept": ACCEPT,
          "final": {s.value for s in FINAL}}


def case_data(request: Request, fields: dict[str, str]) -> dict[str, Any]:
    """The body of `POST /v1/cases` from the form's fields (one field names the device
    by IMEI or device id; a decimal comma is read as a point)."""
    ref, value = device_ref(request, fields.get("device", ""))
    price = fields.get("price", "").strip()
    if "," in price and "." not in price:
        price = price.replace(",", ".")
    return {
        ref: value,
        "kind": fields.get("kind", ""),
        "statement": fields.get("statement", ""),
        "purchase": {"date": fields.get("date", "").strip(),
                     "seller": fields.get("seller", ""),
                     "price": price,
                     "currency": fields.get("currency", "").strip().upper()},
        "appeal_token": "".join(fields.get("appeal_token", "").split()),
    }


async def appeal_form(request: Request) -> Response:
    """The form (or, before signing in, what a case is and a way to sign in); with
    `?case_id=`, the way to a case the visitor opened."""
    wanted = request.query_params.get("case_id")
    device = prefilled(request)
    context: dict[str, Any] = {"form": {"device": device, "kind": "activation-lock"},
                               "signed_in": session_token(request) is not None,
                               # signing in or up comes back to this form, device and all
                               "back": "/appeal?" + urlencode({"device": device}) if device
                               else "/appeal", **LABELS}
    if wanted is not None:
        wanted = wanted.strip().lower()
        if CASE_ID.fullmatch(wanted):
            return RedirectResponse(f"/appeal/{wanted}", status_code=303)
        return page(request, "public/appeal.html", status=422, case_error=say(request, N_(
            "A case id is 32 letters and digits, as in the mail you received.")), **context)
    return page(request, "public/appeal.html", **context)


async def open_appeal(request: Request) -> Response:
    """`POST /appeal` (multipart): opens the case as `POST /v1/cases` does, then adds
    the chosen file as `POST /v1/cases/{id}/evidence` does. A file refused after the
    case is open does not undo the case: its page says so and takes another file."""
    rt = app_services(request)
    fields, files = await read_multipart_form(request, LIMIT)
    token = session_token(request)
    try:
        case = await run_in_threadpool(rt.open_case, token, case_data(request, fields))
    except Unauthorized:
        raise
    except TenureError as exc:
        return refused(request, "public/appeal.html", exc, form=fields, signed_in=True,
                       **LABELS)
    note = "opened"
    if "file" in files:
        try:
            await run_in_threadpool(rt.case_evidence.add, token, case.case_id, files["file"])
            note = "opened-file-added"
        except EVIDENCE_ERRORS:
            note = "opened-file-refused"
    return RedirectResponse(f"/appeal/{case.case_id}?note={note}", status_code=303)


async def case_page(request: Request) -> Response:
    """`GET /appeal/{case_id}`: what `GET /v1/cases/{id}` answers the applicant, in
    words; a visitor without a session is sent to sign in, anyone else gets 404."""
    rt = app_services(request)
    view = await run_in_threadpool(rt.case_views.for_applicant, session_token(request),
                                   request.path_params["case_id"])
    note = NOTES.get(request.query_params.get("note", ""))
    return page(request, "public/case.html", case=view, note=note, **LABELS)


async def add_evidence(request: Request) -> Response:
    rt = app_services(request)
    case_id = request.path_params["case_id"]
    _, files = await read_multipart_form(request, LIMIT)
    token = session_token(request)
    try:
        await run_in_threadpool(rt.case_evidence.add, token, case_id, files.get("file"))
    except EVIDENCE_ERRORS as exc:
        view = await run_in_threadpool(rt.case_views.for_applicant, token, case_id)
        return refused(request, "public/case.html", exc, case=view, note=None, **LABELS)
    return RedirectResponse(f"/appeal/{case_id}?note=evidence-added", status_code=303)


routes = [
    Route("/appeal", appeal_form, methods=["GET"]),
    Route("/appeal", open_appeal, methods=["POST"]),
    Route("/appeal/{case_id}", case_page, methods=["GET"]),
    Route("/appeal/{case_id}/evidence", add_evidence, methods=["POST"]),
]
