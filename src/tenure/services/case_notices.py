"""Mail about appeal cases, written to the outbox in the transaction of each step, in
the reader's language (services/notices.py).

The applicant hears of every step; the claim's holder hears when the objection window
opens and when the case is granted. Neither mail names the other party."""

from __future__ import annotations

from tenure.domain.wording import Phrase
from tenure.i18n import N_

from .notices import send, when
from .ports import CaseRow, Tx

# Why a case was refused, by the reason's id (docs/redress.md lists them for applicants).
REFUSALS = {
    "insufficient-evidence": N_("Why: the evidence does not show that you bought the "
                                "device."),
    "evidence-inconsistent": N_("Why: the evidence contradicts itself or the device's "
                                "records."),
    "not-the-device": N_("Why: the evidence is about another device."),
    "claim-upheld": N_("Why: the holder's claim is lawful (for example, a loan not paid "
                       "off)."),
    "objection-upheld": N_("Why: the holder's objection was upheld."),
    "duplicate-case": N_("Why: you already have an open case about the same claim."),
}
GUIDE = N_("The reasons are explained in the appeals guide.")


def opened(tx: Tx, email: str, case: CaseRow, now: int) -> None:
    send(tx, email, N_("Your case %(case_id)s is open"), N_(
        "Your %(kind)s case about device %(device_id)s was opened on %(when)s.\n"
        "Case id: %(case_id)s\n"
        "Add your proof of purchase (PDF, JPEG or PNG) with POST /v1/cases/{id}/evidence.\n"
        "Two support agents review every case; you will hear of each step.\n"), now,
        kind=case.kind, device_id=case.device_id, when=when(now), case_id=case.case_id)


def step(tx: Tx, email: str, case: CaseRow, now: int, what: Phrase,
         detail: Phrase | None = None) -> None:
    """A step of the case: `what` happened (in the subject too); `detail` explains it."""
    send(tx, email, N_("Your case %(case_id)s: %(what)s"), N_(
        "Case %(case_id)s (%(kind)s, device %(device_id)s) on %(when)s:\n"
        "%(what)s\n%(detail)s\n"), now,
        case_id=case.case_id, kind=case.kind, device_id=case.device_id, when=when(now),
        what=what, detail=detail or "")


def refused(tx: Tx, email: str, case: CaseRow, reason: str, now: int) -> None:
    detail = (Phrase.of(REFUSALS[reason], GUIDE) if reason in REFUSALS
              else Phrase.of(N_("Why: %(reason)s."), GUIDE, reason=reason))
    step(tx, email, case, now, Phrase.of(N_("refused (%(reason)s)"), reason=reason), detail)


def window_to_holder(tx: Tx, email: str, case: CaseRow, ends: int, now: int) -> None:
    send(tx, email, N_("A case asks to release your device %(device_id)s"), N_(
        "Someone who says they bought your device %(device_id)s opened a case "
        "asking to release its activation lock, and two support agents approved it.\n"
        "Unless you object before %(ends)s, the lock will be released and the device "
        "wiped for its new user.\n"
        "To object, sign in and send POST /v1/cases/%(case_id)s/objection "
        "{\"statement\": \"why\"}.\n"
        "If you sold or gave away the device, you need not do anything.\n"), now,
        device_id=case.device_id, ends=when(ends), case_id=case.case_id)


def granted_to_holder(tx: Tx, email: str, case: CaseRow, now: int) -> None:
    send(tx, email, N_("Your device %(device_id)s was released by an appeal"), N_(
        "Case %(case_id)s was granted on %(when)s: the activation lock of device "
        "%(device_id)s is released and a wipe is queued for it.\n"), now,
        device_id=case.device_id, case_id=case.case_id, when=when(now))
