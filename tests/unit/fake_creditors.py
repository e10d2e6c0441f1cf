"""In-memory creditor loans and reminders for the service-level unit tests (the port
Creditors over `State`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tenure.domain.creditor import Loan, LoanState
from tenure.services.ports import LoanRow

from .fake_repositories import LostRace, _Repo

__all__ = ["FakeCreditors"]


class FakeCreditors(_Repo):
    def add(self, row: LoanRow) -> None:
        if row.claim_id in self.s.loans or self.loan_taken(row.tenant_id, row.loan_id):
            raise LostRace(row.loan_id)
        self.s.loans[row.claim_id] = row

    def for_claim(self, claim_id: str) -> LoanRow | None:
        found: LoanRow | None = self.s.loans.get(claim_id)
        return found

    def loan_taken(self, tenant_id: str, loan_id: str) -> bool:
        return any(r.tenant_id == tenant_id and r.loan_id == loan_id
                   for r in self.s.loans.values())

    def by_loan_id(self, loan_id: str, limit: int) -> list[LoanRow]:
        rows = [r for r in self.s.loans.values() if r.loan_id == loan_id]
        return sorted(rows, key=lambda r: (r.created_at, r.claim_id))[:limit]

    def save(self, claim_id: str, loan: Loan) -> None:
        self.s.loans[claim_id] = replace(self.s.loans[claim_id], loan=loan)

    def add_reminder(self, claim_id: str, command_id: str, now: int) -> None:
        self.s.reminders[command_id] = {"claim_id": claim_id, "sent_at": now, "acked_at": None}

    def ack_reminders(self, claim_id: str, command_ids: Sequence[str], now: int) -> int:
        done = 0
        for command_id in command_ids:
            row = self.s.reminders.get(command_id)
            if row and row["claim_id"] == claim_id and row["acked_at"] is None:
                row["acked_at"] = now
                done += 1
        return done

    def reminder_acks(self, claim_id: str) -> list[int]:
        return sorted(r["acked_at"] for r in self.s.reminders.values()
                      if r["claim_id"] == claim_id and r["acked_at"] is not None)

    def due(self, now: int, limit: int) -> list[str]:
        rows = sorted((r.loan.complete_at or 0, r.claim_id) for r in self.s.loans.values()
                      if r.loan.state is LoanState.COMPLETING
                      and r.loan.complete_at is not None and r.loan.complete_at <= now)
        return [claim_id for _, claim_id in rows[:limit]]
