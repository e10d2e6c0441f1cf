"""A creditor's calls (device financing): enroll a device, remind, lock, unlock,
complete, cancel a completion, and read a device's state (docs/financing.md).

The state machine and the rules that protect the borrower are the domain's
(domain/creditor.py); this module reads the claim, applies one transition, and writes
its outcome with an audit event, a webhook event and, where the contract says so, a
mail to the bound owner — all in one transaction. A creditor sees only the devices it
holds a claim on: anything else answers exactly like an unknown device (404).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from tenure.clock import Clock
from tenure.domain import creditor as rules
from tenure.domain.creditor import Loan, LoanState, LockRules
from tenure.domain.errors import AlreadyFinanced, CreditorState, DuplicateLoan, InvalidInput
from tenure.domain.model import Claim, ClaimKind
from tenure.domain.text import clean_text

from . import creditor_notices as mail
from .commands_text import enrollment_notice
from .ports import LoanRow, Tx, UnitOfWork
from .tenant_access import (
    TenantPrincipal,
    held_claim,
    may_claim,
    not_visible,
    owner_email,
    require_tenant,
)

ROLE = "creditor"
MAX_REMINDER = 200
MAX_LOCK_MESSAGE = 350
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{2,30}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


@dataclass(frozen=True, slots=True)
class Enrollment:
    device_id: str
    loan_id: str
    contact: str
    offline_lock_days: int


def read_enrollment(data: dict[str, Any]) -> Enrollment:
    """The enrollment request's fields, each checked (422 naming the field)."""
    device_id = data.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        raise InvalidInput("'device_id' is required: a device id.")
    loan_id = clean_text(data.get("loan_id"), "loan_id", max_length=64)
    contact = clean_text(data.get("contact"), "contact", max_length=254)
    if not (_PHONE.match(contact) or _EMAIL.match(contact)):
        raise InvalidInput("'contact' is required: a phone number or an email address "
                           "the borrower can reach (a lock always lets them call it).")
    days = data.get("offline_lock_days", rules.DEFAULT_OFFLINE_DAYS)
    if days is None:
        days = rules.DEFAULT_OFFLINE_DAYS
    if (not isinstance(days, int) or isinstance(days, bool)
            or not rules.MIN_OFFLINE_DAYS <= days <= rules.MAX_OFFLINE_DAYS):
        raise InvalidInput(f"'offline_lock_days' must be a whole number from "
                           f"{rules.MIN_OFFLINE_DAYS} to {rules.MAX_OFFLINE_DAYS}.")
    return Enrollment(device_id, loan_id, contact, days)


def notice_text(creditor: str, contact: str, offline_lock_days: int, notice_hours: int) -> str:
    """What the enrollment notice tells the user before any lock power exists, in
    English (a record says it in the device's language: services/commands_text.py)."""
    return enrollment_notice(creditor, contact, offline_lock_days, notice_hours).english()


class CreditorDevices:
    def __init__(self, uow: UnitOfWork, clock: Clock, lock_rules: LockRules) -> None:
        self.uow = uow
        self.clock = clock
        self.rules = lock_rules

    def principal(self, key: str | None) -> str:
        """Who a creditor call acts for, as the idempotency scope names it (401/403 for
        a key that is not a live creditor key)."""
        with self.uow(readonly=True) as tx:
            return require_tenant(tx, key, ROLE).actor

    # -- enrollment ----------------------------------------------------------------------
    def enroll(self, key: str | None, data: dict[str, Any]) -> dict[str, str]:
        """`POST /v1/creditor/devices`: a creditor claim in state `enrolled`, and the
        enrollment notice queued for the device (docs/protocol.md Part 2)."""

        def work(tx: Tx) -> dict[str, str]:
            tenant = require_tenant(tx, key, ROLE)
            asked = read_enrollment(data)
            if not may_claim(tx, tenant, asked.device_id):
                raise not_visible(asked.device_id)
            if tx.creditors.loan_taken(tenant.tenant_id, asked.loan_id):
                raise DuplicateLoan(f"This tenant already enrolled a device under loan id "
                                    f"{asked.loan_id!r}.")
            claims = tx.claims.active(asked.device_id)
            if any(c.kind is ClaimKind.CREDITOR for c in claims):
                raise AlreadyFinanced("A creditor already holds a claim on this device.")
            now = self.clock.now()
            claim = Claim(secrets.token_hex(16), asked.device_id, ClaimKind.CREDITOR,
                          tenant.tenant_id, now, contact=asked.contact)
            tx.claims.add(claim)
            hours = self.rules.notice_seconds // 3600
            command_id = tx.commands.add(asked.device_id, "notice", {
                "kind": "creditor-enrollment", "creditor": tenant.name,
                "contact": asked.contact, "offline_lock_days": asked.offline_lock_days,
                "notice_hours": hours,
                "text": notice_text(tenant.name, asked.contact, asked.offline_lock_days,
                                    hours)}, now)
            tx.creditors.add(LoanRow(claim.claim_id, asked.device_id, tenant.tenant_id,
                                     asked.loan_id, asked.contact, asked.offline_lock_days,
                                     command_id, now, Loan()))
            tx.audit.record(f"device:{asked.device_id}", "claim.creditor.enrolled",
                            actor=tenant.actor, at=now, claim=claim.claim_id,
                            tenant=tenant.tenant_id, loan_id=asked.loan_id,
                            offline_lock_days=asked.offline_lock_days)
            tx.events.emit(tenant.tenant_id, "device.enrolled", asked.device_id, now,
                           {"loan_id": asked.loan_id})
            email = owner_email(tx, claims)
            if email is not None:
                mail.claim_added(tx, email, asked.device_id, tenant.name, now)
            return {"state": LoanState.ENROLLED.value}

        return self.uow.run(work)

    # -- the creditor's moves --------------------------------------------------------------
    def remind(self, key: str | None, device_id: str, message: object) -> str:
        """`POST .../reminders`: a message command from the creditor; its
        acknowledgement by the device is what later allows a lock."""
        def work(tx: Tx) -> str:
            tenant, row = self._held(tx, key, device_id)  # 401/403/404 before the body
            text = clean_text(message, "message", max_length=MAX_REMINDER, multiline=True)
            if not row.loan.held or row.loan.state is LoanState.COMPLETING:
                raise CreditorState(f"The claim is {row.loan.state.value}: reminders "
                                          "are for a loan that runs.")
            now = self.clock.now()
            command_id = tx.commands.add(device_id, "message",
                                         {"text": text, "from": tenant.name}, now)
            tx.creditors.add_reminder(row.claim_id, command_id, now)
            tx.audit.record(f"device:{device_id}", "claim.creditor.reminded",
                            actor=tenant.actor, at=now, claim=row.claim_id,
                            command=command_id)
            return command_id

        return self.uow.run(work)

    def lock(self, key: str | None, device_id: str, message: object) -> str:
        """`POST .../lock`: refused before the notice was accepted and without a
        reminder acknowledged in the window; the lock shows at the next record."""
        def work(tx: Tx) -> str:
            tenant, row = self._held(tx, key, device_id)  # 401/403/404 before the body
            text = clean_text(message, "message", max_length=MAX_LOCK_MESSAGE, multiline=True)
            now = self.clock.now()
            acks = tx.creditors.reminder_acks(row.claim_id)
            loan = rules.lock(row.loan, text, acks, now, self.rules)
            if loan == row.loan:
                return loan.state.value
            tx.creditors.save(row.claim_id, loan)
            first = row.loan.state is not LoanState.LOCKED
            tx.audit.record(f"device:{device_id}",
                            "claim.creditor.locked" if first else "claim.creditor.lock_changed",
                            actor=tenant.actor, at=now, claim=row.claim_id)
            if first:
                tx.events.emit(tenant.tenant_id, "device.locked", device_id, now,
                               {"loan_id": row.loan_id})
                self._mail_owner(tx, device_id, tenant, now, locked=True)
            return loan.state.value

        return self.uow.run(work)

    def unlock(self, key: str | None, device_id: str) -> str:
        """`POST .../unlock`: back in force; the device unlocks at its next check-in."""

        def work(tx: Tx) -> str:
            tenant, row = self._held(tx, key, device_id)
            loan = rules.unlock(row.loan)
            if loan == row.loan:
                return loan.state.value
            now = self.clock.now()
            tx.creditors.save(row.claim_id, loan)
            tx.audit.record(f"device:{device_id}", "claim.creditor.unlocked",
                            actor=tenant.actor, at=now, claim=row.claim_id)
            tx.events.emit(tenant.tenant_id, "device.unlocked", device_id, now,
                           {"loan_id": row.loan_id})
            self._mail_owner(tx, device_id, tenant, now, locked=False)
            return loan.state.value

        return self.uow.run(work)

    def complete(self, key: str | None, device_id: str) -> tuple[str, int]:
        """`POST .../complete`: the loan is paid; the claim is released 48 h later by
        the maintenance loop (services/creditor_completion.py) unless cancelled."""

        def work(tx: Tx) -> tuple[str, int]:
            tenant, row = self._held(tx, key, device_id)
            now = self.clock.now()
            loan = rules.complete(row.loan, now)
            assert loan.complete_at is not None
            if loan != row.loan:
                tx.creditors.save(row.claim_id, loan)
                tx.audit.record(f"device:{device_id}", "claim.creditor.completing",
                                actor=tenant.actor, at=now, claim=row.claim_id,
                                complete_at=loan.complete_at, prior=row.loan.state.value)
            return loan.state.value, loan.complete_at

        return self.uow.run(work)

    def cancel_completion(self, key: str | None, device_id: str) -> str:
        """`DELETE .../complete` within the 48 h: back to the state it came from."""

        def work(tx: Tx) -> str:
            tenant, row = self._held(tx, key, device_id)
            now = self.clock.now()
            loan = rules.cancel_completion(row.loan, now)
            tx.creditors.save(row.claim_id, loan)
            tx.audit.record(f"device:{device_id}", "claim.creditor.completion_cancelled",
                            actor=tenant.actor, at=now, claim=row.claim_id,
                            state=loan.state.value)
            return loan.state.value

        return self.uow.run(work)

    def show(self, key: str | None, device_id: str) -> dict[str, Any]:
        """`GET /v1/creditor/devices/{id}`: only what the contract lists."""
        with self.uow(readonly=True) as tx:
            _, row = self._held(tx, key, device_id)
            stored = tx.devices.get(device_id)
            return {"device_id": device_id, "loan_id": row.loan_id,
                    "state": row.loan.state.value,
                    "notice_acknowledged_at": row.loan.notice_acknowledged_at,
                    "locked_at": row.loan.locked_at if row.loan.state is LoanState.LOCKED
                    else None,
                    "last_checkin": stored.last_checkin_at if stored else None}

    # -- shared ----------------------------------------------------------------------------
    @staticmethod
    def _held(tx: Tx, key: str | None, device_id: str) -> tuple[TenantPrincipal, LoanRow]:
        tenant = require_tenant(tx, key, ROLE)
        claim = held_claim(tx, tenant, device_id, ClaimKind.CREDITOR)
        row = tx.creditors.for_claim(claim.claim_id)
        if row is None:  # a claim made without a loan (should not happen): not visible
            raise not_visible(device_id)
        return tenant, row

    @staticmethod
    def _mail_owner(tx: Tx, device_id: str, tenant: TenantPrincipal, now: int,
                    locked: bool) -> None:
        email = owner_email(tx, tx.claims.active(device_id))
        if email is not None:
            mail.lock_changed(tx, email, device_id, tenant.name, now, locked)
