"""Answers kept for Idempotency-Key retries (DESIGN.md §6): the HTTP layer decides what
to keep; this keeps and finds it."""

from __future__ import annotations

from tenure.clock import Clock

from .ports import StoredResponse, UnitOfWork


class IdempotencyRecords:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def find(self, scope: str, key: str) -> StoredResponse | None:
        with self.uow(readonly=True) as tx:
            return tx.idempotency.get(scope, key)

    def remember(self, scope: str, key: str, response: StoredResponse) -> bool:
        """Keep the first answer; False when a concurrent request already kept one."""
        with self.uow() as tx:
            return tx.idempotency.put(scope, key, response, self.clock.now())
