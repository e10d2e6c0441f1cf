"""Completions whose 48 h have passed: each claim released for good.

Run by the server's maintenance loop (services/maintenance.py) from the due time kept
in the store (`creditor_loans.complete_at`), not from a timer in memory, so that a
restart — or a server that was down when the time came — loses nothing: the next
round after the due time completes it. Each completion is its own transaction.
"""

from __future__ import annotations

import functools

from tenure.clock import Clock
from tenure.domain import creditor as rules
from tenure.domain.creditor import LoanState
from tenure.domain.wording import N_, Phrase

from .ports import Tx, UnitOfWork
from .tenant_access import release_tenant_claim

BATCH = 100


class CreditorCompletions:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def process_due(self) -> int:
        """Complete every due completion; returns how many were completed."""
        with self.uow(readonly=True) as tx:
            due = tx.creditors.due(self.clock.now(), BATCH)
        done = 0
        for claim_id in due:
            done += self.uow.run(functools.partial(self._finish, claim_id=claim_id))
        return done

    def _finish(self, tx: Tx, *, claim_id: str) -> bool:
        row = tx.creditors.for_claim(claim_id)
        now = self.clock.now()
        if row is None or row.loan.state is not LoanState.COMPLETING:
            return False  # cancelled, or finished by another replica meanwhile
        if row.loan.complete_at is None or now < row.loan.complete_at:
            return False
        tx.creditors.save(claim_id, rules.finish(row.loan, now))
        claim = next((c for c in tx.claims.active(row.device_id) if c.claim_id == claim_id),
                     None)
        tenant = tx.tenants.get(row.tenant_id)
        if claim is not None:
            release_tenant_claim(tx, claim, tenant.name if tenant else "The creditor", now,
                                 actor=f"tenant:{row.tenant_id}",
                                 how=Phrase.of(N_("the loan was paid")))
        tx.audit.record(f"device:{row.device_id}", "claim.creditor.completed",
                        actor="system", at=now, claim=claim_id, tenant=row.tenant_id)
        tx.events.emit(row.tenant_id, "device.completed", row.device_id, now,
                       {"loan_id": row.loan_id})
        return True
