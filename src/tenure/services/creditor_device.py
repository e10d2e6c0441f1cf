"""What a device request needs of its creditor claim: acknowledgements of the
enrollment notice and of reminders, and the loan's state for the decision and the
record's `offline_lock_at` (docs/protocol.md Part 2, "Creditor").

Kept off the hot path of devices that nobody finances: nothing here reads the store
unless the device holds a creditor claim.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from tenure.domain import creditor as rules
from tenure.domain.creditor import Loan
from tenure.domain.model import Claim, ClaimKind

from .ports import Tx


@dataclass(frozen=True, slots=True)
class CreditorTerms:
    loan: Loan
    offline_lock_days: int


def creditor_terms(tx: Tx, claims: Sequence[Claim], acked: Collection[str],
                   now: int) -> CreditorTerms | None:
    """The device's creditor loan after applying what the device just acknowledged
    (`acked`: ids of commands that were pending and are acknowledged by this request);
    None when no creditor holds the device."""
    claim = next((c for c in claims if c.kind is ClaimKind.CREDITOR), None)
    if claim is None:
        return None
    row = tx.creditors.for_claim(claim.claim_id)
    if row is None:
        return None
    loan = row.loan
    if acked:
        if row.notice_command_id in acked:
            acknowledged = rules.acknowledge_notice(loan, now)
            if acknowledged != loan:
                loan = acknowledged
                tx.creditors.save(row.claim_id, loan)
                tx.audit.record(f"device:{row.device_id}", "claim.creditor.in_force",
                                actor=f"device:{row.device_id}", at=now,
                                claim=row.claim_id)
                tx.events.emit(row.tenant_id, "device.notice_acknowledged", row.device_id,
                               now, {"loan_id": row.loan_id})
        reminders = [a for a in acked if a != row.notice_command_id]
        if reminders and tx.creditors.ack_reminders(row.claim_id, reminders, now):
            tx.audit.record(f"device:{row.device_id}", "claim.creditor.reminder_acknowledged",
                            actor=f"device:{row.device_id}", at=now, claim=row.claim_id)
    return CreditorTerms(loan, row.offline_lock_days)


def offline_lock_days(terms: CreditorTerms | None) -> int | None:
    """The days a record's `offline_lock_at` adds to its `iat`, if it carries one."""
    if terms is None or rules.offline_lock_at(terms.loan, 0, terms.offline_lock_days) is None:
        return None
    return terms.offline_lock_days
