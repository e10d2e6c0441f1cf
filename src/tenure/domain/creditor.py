"""A creditor's claim (device financing) as a pure state machine (docs/financing.md).

    enrolled --notice accepted on the device--> in-force <--lock / unlock--> locked
    enrolled | in-force | locked --complete--> completing --48 h--> completed (released)
    completing --cancel within 48 h--> the state it came from

The rules that protect the borrower live here, in one place, as functions of plain
values: no lock power exists before the user accepted the enrollment notice on the
device, and a lock needs a reminder the device acknowledged (after the notice) at
least TENURE_CREDITOR_NOTICE_HOURS (default 72) and at most 30 days before, so that the
user was warned in time and recently. A completed claim is terminal: nothing moves it back.
Every transition returns the new value or raises the contract's error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from .errors import CreditorState, NoPriorReminder, NoticeNotAcknowledged

COMPLETION_SECONDS = 48 * 3600  # docs/protocol.md Part 2: completing lasts 48 h, cancellable
REMINDER_MAX_AGE = 30 * 86400  # a reminder older than this warns nobody any more
MIN_OFFLINE_DAYS, MAX_OFFLINE_DAYS, DEFAULT_OFFLINE_DAYS = 14, 200, 30
# What a creditor lock always lets the user do (the record's `allows`).
LOCK_ALLOWS = ("emergency-calls", "call-contact", "network-settings")


class LoanState(StrEnum):
    ENROLLED = "enrolled"
    IN_FORCE = "in-force"
    LOCKED = "locked"
    COMPLETING = "completing"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class LockRules:
    notice_seconds: int = 72 * 3600  # TENURE_CREDITOR_NOTICE_HOURS
    max_age: int = REMINDER_MAX_AGE


@dataclass(frozen=True, slots=True)
class Loan:
    """What decides a creditor claim's next move; the store keeps one per claim."""

    state: LoanState = LoanState.ENROLLED
    prior_state: LoanState | None = None  # where a cancelled completion returns
    notice_acknowledged_at: int | None = None
    locked_at: int | None = None
    lock_message: str = ""
    complete_at: int | None = None

    @property
    def held(self) -> bool:
        return self.state is not LoanState.COMPLETED


def _refuse(loan: Loan, what: str) -> CreditorState:
    return CreditorState(f"The claim is {loan.state.value}: {what}.")


def acknowledge_notice(loan: Loan, at: int) -> Loan:
    """The user accepted the enrollment notice on the device: the claim is in force.
    Only an enrolled claim moves; a repeated acknowledgement changes nothing."""
    if loan.state is not LoanState.ENROLLED:
        return loan
    return replace(loan, state=LoanState.IN_FORCE, notice_acknowledged_at=at)


def reminder_in_window(acknowledged: Iterable[int], now: int, rules: LockRules) -> bool:
    """Was a reminder acknowledged by the device between `notice_seconds` and
    `max_age` before now (both ends included)?"""
    return any(now - rules.max_age <= at <= now - rules.notice_seconds for at in acknowledged)


def lock(loan: Loan, message: str, reminder_acks: Iterable[int], now: int,
         rules: LockRules) -> Loan:
    """Lock the device: only once the notice was accepted, and only after a reminder
    acknowledged in the window (and after the notice). Locking a locked device again
    changes its message only."""
    if loan.state is LoanState.ENROLLED:
        raise NoticeNotAcknowledged(
            "The device's user has not accepted the enrollment notice yet; until then "
            "the claim cannot lock the device.")
    if loan.state is LoanState.LOCKED:
        return replace(loan, lock_message=message)
    if loan.state is not LoanState.IN_FORCE:
        raise _refuse(loan, "only a claim in force can lock the device")
    # Only reminders seen once the terms were accepted warn of a lock the user knew of.
    accepted = loan.notice_acknowledged_at or now
    if not reminder_in_window([a for a in reminder_acks if a >= accepted], now, rules):
        hours = rules.notice_seconds // 3600
        raise NoPriorReminder(
            f"A lock needs a reminder the device acknowledged at least {hours} hours and "
            f"at most {rules.max_age // 86400} days ago; send one first "
            "(POST /v1/creditor/devices/{id}/reminders).")
    return replace(loan, state=LoanState.LOCKED, locked_at=now, lock_message=message)


def unlock(loan: Loan) -> Loan:
    """Lift the lock (effective at the device's next check-in). Unlocking a claim in
    force again changes nothing, so that a retried call answers the same."""
    if loan.state is LoanState.IN_FORCE:
        return loan
    if loan.state is not LoanState.LOCKED:
        raise _refuse(loan, "only a locked device can be unlocked")
    return replace(loan, state=LoanState.IN_FORCE, lock_message="")


def complete(loan: Loan, now: int) -> Loan:
    """The loan is paid: the claim will be released 48 h from now unless the creditor
    cancels. The device is not locked meanwhile. Completing again changes nothing."""
    if loan.state is LoanState.COMPLETING:
        return loan
    if loan.state is LoanState.COMPLETED:
        raise _refuse(loan, "it was released for good")
    return replace(loan, state=LoanState.COMPLETING, prior_state=loan.state,
                   complete_at=now + COMPLETION_SECONDS)


def cancel_completion(loan: Loan, now: int) -> Loan:
    """Back to the state the completion started from, within the 48 h only."""
    if loan.state is not LoanState.COMPLETING or loan.complete_at is None:
        raise _refuse(loan, "there is no completion to cancel")
    if now >= loan.complete_at:
        raise _refuse(loan, "the completion window has ended; the claim is being released")
    prior = loan.prior_state or LoanState.IN_FORCE
    return replace(loan, state=prior, prior_state=None, complete_at=None)


def finish(loan: Loan, now: int) -> Loan:
    """A completion whose 48 h have passed: completed, terminal, the claim released."""
    if (loan.state is not LoanState.COMPLETING or loan.complete_at is None
            or now < loan.complete_at):
        raise _refuse(loan, "it is not a completion that is due")
    return replace(loan, state=LoanState.COMPLETED, prior_state=None, lock_message="")


def locks_device(loan: Loan) -> bool:
    """Does this claim lock the device (at activation and in use)? Only when locked."""
    return loan.state is LoanState.LOCKED


def offline_lock_at(loan: Loan, iat: int, offline_lock_days: int) -> int | None:
    """When a device with no newer record locks itself: only while the claim is in
    force or locked (docs/protocol.md Part 2, "Offline lock")."""
    if loan.state not in (LoanState.IN_FORCE, LoanState.LOCKED):
        return None
    return iat + offline_lock_days * 86400
