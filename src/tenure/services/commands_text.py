"""The texts of commands the server writes for a device's screen, in the device's
language: a creditor's enrollment notice is queued by the creditor's call, before the
device has said which language it reads, so it is said again in that language each
time a record carries it (services/lock_text.py for the locks themselves)."""

from __future__ import annotations

from typing import Any

from tenure.domain.wording import Phrase
from tenure.i18n import N_

from .lock_text import say

ENROLLMENT_NOTICE = N_(
    "%(creditor)s finances this device. While the loan runs, %(creditor)s may send "
    "payment reminders to this screen. If a payment is missed, %(creditor)s may lock the "
    "device, but only after a reminder you saw at least %(hours)s hours earlier. A locked "
    "device still makes emergency calls, calls %(contact)s, and reaches a network, so that "
    "it unlocks as soon as %(creditor)s lifts the lock. If the device cannot reach the "
    "server for %(days)s days, it locks itself in the same way until it checks in again. "
    "%(creditor)s cannot see your data, your location or your other apps, and cannot "
    "erase the device. When the loan is paid, its claim is released for good. "
    "Questions: %(contact)s.")


def enrollment_notice(creditor: str, contact: str, offline_lock_days: int,
                      notice_hours: int) -> Phrase:
    """What the enrollment notice tells the user before any lock power exists."""
    return Phrase.of(ENROLLMENT_NOTICE, creditor=creditor, contact=contact,
                     days=str(offline_lock_days), hours=str(notice_hours))


def _notice_phrase(command: dict[str, Any]) -> Phrase | None:
    """The phrase a stored enrollment notice was made of (None: not one, or queued
    before its terms were kept with it: its stored text is shown)."""
    if command.get("type") != "notice" or command.get("kind") != "creditor-enrollment":
        return None
    terms = (command.get("creditor"), command.get("contact"),
             command.get("offline_lock_days"), command.get("notice_hours"))
    if not (isinstance(terms[0], str) and isinstance(terms[1], str)
            and isinstance(terms[2], int) and isinstance(terms[3], int)):
        return None
    return enrollment_notice(terms[0], terms[1], terms[2], terms[3])


def localize_commands(commands: list[dict[str, Any]], locale: str | None
                      ) -> list[dict[str, Any]]:
    """The commands with the server's own texts in `locale` (None: as stored)."""
    if locale is None or not commands:
        return commands
    out = []
    for command in commands:
        phrase = _notice_phrase(command)
        out.append(command if phrase is None else {**command, "text": say(phrase, locale)})
    return out
