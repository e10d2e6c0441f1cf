"""Mail about appeal cases, written to the outbox in the transaction of each step.

The applicant hears of every step; the claim's holder hears when the objection window
opens and when the case is granted. Neither mail names the other party."""

from __future__ import annotations

from .notices import when
from .ports import CaseRow, Tx

REFUSALS = {
    "insufficient-evidence": "the evidence does not show that you bought the device",
    "evidence-inconsistent": "the evidence contradicts itself or the device's records",
    "not-the-device": "the evidence is about another device",
    "claim-upheld": "the holder's claim is lawful (for example, a loan not paid off)",
    "objection-upheld": "the holder's objection was upheld",
    "duplicate-case": "you already have an open case about the same claim",
}


def opened(tx: Tx, email: str, case: CaseRow, now: int) -> None:
    tx.outbox.enqueue(email, f"Your case {case.case_id} is open", (
        f"Your {case.kind} case about device {case.device_id} was opened on {when(now)}.\n"
        f"Case id: {case.case_id}\n"
        "Add your proof of purchase (PDF, JPEG or PNG) with POST /v1/cases/{id}/evidence.\n"
        "Two support agents review every case; you will hear of each step.\n"), now)


def step(tx: Tx, email: str, case: CaseRow, now: int, what: str) -> None:
    tx.outbox.enqueue(email, f"Your case {case.case_id}: {what.splitlines()[0]}", (
        f"Case {case.case_id} ({case.kind}, device {case.device_id}) on {when(now)}:\n"
        f"{what}\n"), now)


def refused(tx: Tx, email: str, case: CaseRow, reason: str, now: int) -> None:
    step(tx, email, case, now, f"refused ({reason})\nWhy: {REFUSALS.get(reason, reason)}.\n"
         "The reasons are explained in the appeals guide.")


def window_to_holder(tx: Tx, email: str, case: CaseRow, ends: int, now: int) -> None:
    tx.outbox.enqueue(email, f"A case asks to release your device {case.device_id}", (
        f"Someone who says they bought your device {case.device_id} opened a case "
        "asking to release its activation lock, and two support agents approved it.\n"
        f"Unless you object before {when(ends)}, the lock will be released and the device "
        "wiped for its new user.\n"
        f"To object, sign in and send POST /v1/cases/{case.case_id}/objection "
        "{\"statement\": \"why\"}.\n"
        "If you sold or gave away the device, you need not do anything.\n"), now)


def granted_to_holder(tx: Tx, email: str, case: CaseRow, now: int) -> None:
    tx.outbox.enqueue(email, f"Your device {case.device_id} was released by an appeal", (
        f"Case {case.case_id} was granted on {when(now)}: the activation lock of device "
        f"{case.device_id} is released and a wipe is queued for it.\n"), now)
