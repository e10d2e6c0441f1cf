"""How the owner portal tells the outcome of an action: a short message after success
(`?done=<name>`, a fixed list of translatable sentences — never text from the request),
and a refusal as a message on the page it came from, with the API's status.

Two refusals are no dead end, and get a form or a date instead of just their words:
`ReauthenticationRequired` asks for the password again (a sign-in that replaces the
session and returns to the page, where the person repeats the action), and
`CredentialCoolingDown` says from when the action becomes possible. A device that is
not the person's (`NotFound`) and an ended session (`Unauthorized`) are not refusals of
one action: they propagate to the error pages (404, or sign-in).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse

from tenure.bootstrap import Services
from tenure.domain import errors as e
from tenure.http.problems import status_of
from tenure.i18n import N_

from .messages import explained

# What a page says after a plain POST redirected back to it (`?done=<key>`).
DONE: dict[str, str] = {
    "signed-up": N_("Welcome: your account is ready. Devices you sign in on after "
                    "activation appear here."),
    "signed-in-again": N_("You signed in again. You can now repeat what you were doing."),
    "signed-out": N_("You are signed out."),
    "password-changed": N_("Your password was changed and every session was ended. Sign "
                           "in with the new password."),
    "deleted": N_("Your account was deleted."),
    "lost": N_("Lost mode is on: the device is locked and shows your message and contact."),
    "found": N_("Lost mode is lifted."),
    "ring": N_("The device will ring when it next checks in."),
    "wipe": N_("The device will be erased when it next checks in."),
    "removed": N_("The device was removed from your account; its activation lock is off."),
    "consent": N_("The organization or creditor may now claim this device."),
    "transfer": N_("The transfer was started: the buyer was mailed a code to accept it."),
    "transfer-cancelled": N_("The transfer was cancelled; its code no longer works."),
    "accepted": N_("The device is now yours: it is bound to your account."),
    "totp-off": N_("Two-step sign-in is off."),
}


def done_message(request: Request) -> str | None:
    """The (untranslated) message a `done` parameter names; unknown names show nothing."""
    return DONE.get(request.query_params.get("done", ""))


def see_other(path: str, done: str | None = None) -> RedirectResponse:
    """A plain form's answer after success: back to a page, with a message by name."""
    assert done is None or done in DONE
    if done:
        path = f"{path}{'&' if '?' in path else '?'}done={done}"
    return RedirectResponse(path, status_code=303)


def wants_fragment(request: Request) -> bool:
    """htmx asks for the part of the page it will swap (a device card)."""
    return request.headers.get("hx-request") == "true"


def dom_key(device_id: str) -> str:
    """An id for a device's card and its form fields: device ids may hold `.` and `:`,
    which CSS selectors and some tools read as syntax."""
    return "d" + hashlib.sha256(device_id.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused action, as the page shows it next to the form it came from."""

    kind: str  # "reauth", "cooldown" or "error"
    status: int
    detail: str
    until: int | None = None  # cool-down: from when the action is possible
    retry_after: float | None = None  # seconds (429, 503)
    device_id: str | None = None
    email: str = ""  # reauth: the account whose password is asked for
    totp: bool = False  # reauth: the account has a second factor on
    next: str = "/"  # reauth: where the new sign-in returns
    form: dict[str, str] = field(default_factory=dict)  # what was entered, to show again

    @property
    def headers(self) -> dict[str, str]:
        if self.retry_after is not None and self.status in (429, 503):
            return {"Retry-After": str(max(1, int(self.retry_after)))}
        return {}


def refusal_of(exc: e.TenureError, services: Services, token: str, *,
               device_id: str | None = None, next_path: str = "/",
               form: dict[str, str] | None = None) -> Refusal:
    """The refusal to show for `exc`; re-raises what is no refusal of this one action
    (someone else's device: 404; the session ended: sign in; the server's own fault).
    Blocking: it may read the account (for the re-authentication form)."""
    status = status_of(type(exc)) or 500
    if isinstance(exc, (e.NotFound, e.Unauthorized)) or status >= 500:
        raise exc
    kept = {k: v for k, v in (form or {}).items() if k not in ("csrf", "password", "totp")}
    common: dict[str, Any] = {"status": status, "detail": explained(exc), "device_id": device_id,
                              "form": kept}
    if isinstance(exc, e.ReauthenticationRequired):
        account = services.account_view(token)
        return Refusal("reauth", email=account.email, totp=account.second_factor == "on",
                       next=next_path, **common)
    if isinstance(exc, e.CredentialCoolingDown):
        until = exc.extensions.get("until")
        return Refusal("cooldown", until=until if isinstance(until, int) else None, **common)
    retry = exc.extensions.get("retry_after")
    if isinstance(exc, e.UnlockNotPermitted):  # its retry_after is a time, not seconds
        return Refusal("error", until=retry if isinstance(retry, int) else None, **common)
    return Refusal("error", retry_after=retry if isinstance(retry, (int, float)) else None,
                   **common)
