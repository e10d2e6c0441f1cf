"""A service's refusal in the reader's language.

The services explain a refusal in English, precisely (which field, which limit): that
text serves the API and the English pages. Other languages get the catalog's sentence
for the refusal's problem name, with its `until` or `retry_after` filled in; a refusal
without a sentence of its own keeps the English detail rather than saying nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import Markup, escape

from tenure.domain.errors import TenureError
from tenure.i18n import N_

from . import render

SENTENCES: dict[str, str] = {  # noqa: E501 - one sentence a line reads best
    "malformed": N_("The form could not be read; reload the page and try again."),
    "too-large": N_("What you sent is too large."),
    "invalid-input": N_("Please check what you entered."),
    "weak-password": N_("This password is too weak: choose a longer one that is not in common use."),  # noqa: E501
    "invalid-token": N_("This link or code is invalid or has expired."),
    "invalid-appeal-token": N_("This appeal token is invalid or has expired; show it again on the device."),  # noqa: E501
    "unsupported-evidence": N_("This file type is not accepted; send a PDF, PNG or JPEG."),
    "unauthorized": N_("Please sign in."),
    "invalid-credentials": N_("The email or password is not correct."),
    "totp-required": N_("Enter the code from your authenticator app, or a recovery code."),
    "reauthentication-required": N_("For your protection, confirm your password to do this."),
    "forbidden": N_("You are not allowed to do this."),
    "unlock-not-permitted": N_("The bootloader of this device cannot be unlocked now."),
    "credential-cooldown": N_("The password of this account was changed recently; this is possible from %(until)s."),  # noqa: E501
    "already-bound": N_("This device is already bound to an account."),
    "email-taken": N_("An account with this email already exists."),
    "device-held": N_("This device is held by another lock that must be lifted first."),
    "totp-enabled": N_("The second factor is already on."),
    "claims-held": N_("This account still holds devices; remove them first."),
    "transfer-pending": N_("A transfer of this device is already pending."),
    "case-closed": N_("This case is not open for this step."),
    "not-found": N_("Not found."),
    "too-many-attempts": N_("Too many attempts; try again in %(minutes)s minutes."),
    "rate-limited": N_("Too many requests; try again in %(minutes)s minutes."),
    "unavailable": N_("The service is busy; try again in a moment."),
    "overloaded": N_("The service is busy; try again in a moment."),
}


def _when(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(int(value), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


class Explained:
    """Rendered in the locale of the page being rendered (templates print it; Jinja
    calls `__html__`)."""

    def __init__(self, exc: TenureError) -> None:
        self.exc = exc

    def text(self) -> str:
        locale = render.current_locale()
        sentence = SENTENCES.get(self.exc.code)
        if locale == "en" or sentence is None:
            return self.exc.detail
        ext = self.exc.extensions
        retry = ext.get("retry_after")
        minutes = max(1, -(-int(retry) // 60)) if isinstance(retry, (int, float)) else 1
        return render.translate(sentence, until=_when(ext.get("until", "—")), minutes=minutes)

    def __html__(self) -> Markup:
        return escape(self.text())

    def __str__(self) -> str:
        return self.text()

    def __bool__(self) -> bool:
        return bool(self.exc.detail)


def explained(exc: TenureError) -> Explained:
    return Explained(exc)
