"""Creditor claims' loans and their reminders (services/creditor.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tenure.domain.creditor import Loan, LoanState
from tenure.services.ports.rows import LoanRow

from . import tables as t


def _loan(r: Any) -> Loan:
    return Loan(state=LoanState(r.state),
                prior_state=LoanState(r.prior_state) if r.prior_state else None,
                notice_acknowledged_at=r.notice_acknowledged_at, locked_at=r.locked_at,
                lock_message=r.lock_message, complete_at=r.complete_at)


def _row(r: Any) -> LoanRow:
    return LoanRow(r.claim_id, r.device_id, r.tenant_id, r.loan_id, r.contact,
                   r.offline_lock_days, r.notice_command_id, r.created_at, _loan(r))


def _state(loan: Loan) -> dict[str, Any]:
    return {"state": loan.state.value,
            "prior_state": loan.prior_state.value if loan.prior_state else None,
            "notice_acknowledged_at": loan.notice_acknowledged_at,
            "locked_at": loan.locked_at, "lock_message": loan.lock_message,
            "complete_at": loan.complete_at}


class CreditorRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: LoanRow) -> None:
        self.conn.execute(insert(t.creditor_loans).values(
            claim_id=row.claim_id, device_id=row.device_id, tenant_id=row.tenant_id,
            loan_id=row.loan_id, contact=row.contact, offline_lock_days=row.offline_lock_days,
            notice_command_id=row.notice_command_id, created_at=row.created_at,
            **_state(row.loan)))

    def for_claim(self, claim_id: str) -> LoanRow | None:
        r = self.conn.execute(select(t.creditor_loans)
                              .where(t.creditor_loans.c.claim_id == claim_id)).first()
        return None if r is None else _row(r)

    def by_loan_id(self, loan_id: str, limit: int) -> list[LoanRow]:
        """The loans of this id, of every creditor (each names its loans itself)."""
        c = t.creditor_loans.c
        rows = self.conn.execute(select(t.creditor_loans).where(c.loan_id == loan_id)
                                 .order_by(c.created_at, c.claim_id).limit(limit))
        return [_row(r) for r in rows]

    def loan_taken(self, tenant_id: str, loan_id: str) -> bool:
        c = t.creditor_loans.c
        return self.conn.execute(select(c.claim_id).where(
            c.tenant_id == tenant_id, c.loan_id == loan_id)).first() is not None

    def save(self, claim_id: str, loan: Loan) -> None:
        self.conn.execute(update(t.creditor_loans)
                          .where(t.creditor_loans.c.claim_id == claim_id)
                          .values(**_state(loan)))

    def add_reminder(self, claim_id: str, command_id: str, now: int) -> None:
        self.conn.execute(insert(t.creditor_reminders).values(
            command_id=command_id, claim_id=claim_id, sent_at=now))

    def ack_reminders(self, claim_id: str, command_ids: Sequence[str], now: int) -> int:
        if not command_ids:
            return 0
        r = t.creditor_reminders.c
        return int(self.conn.execute(
            update(t.creditor_reminders)
            .where(r.claim_id == claim_id, r.command_id.in_(list(command_ids)),
                   r.acked_at.is_(None))
            .values(acked_at=now)).rowcount)

    def reminder_acks(self, claim_id: str) -> list[int]:
        r = t.creditor_reminders.c
        rows = self.conn.execute(select(r.acked_at).where(
            r.claim_id == claim_id, r.acked_at.is_not(None)).order_by(r.acked_at))
        return [int(row.acked_at) for row in rows]

    def due(self, now: int, limit: int) -> list[str]:
        """Completions whose 48 h have passed, oldest first."""
        c = t.creditor_loans.c
        rows = self.conn.execute(
            select(c.claim_id).where(c.state == LoanState.COMPLETING.value,
                                     c.complete_at <= now)
            .order_by(c.complete_at, c.claim_id).limit(limit))
        return [row.claim_id for row in rows]
