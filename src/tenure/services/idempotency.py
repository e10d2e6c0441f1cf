"""Answers kept for Idempotency-Key retries (DESIGN.md §6).

The key is *reserved* (a pending row, unique per scope and key) before the work runs,
so that of several simultaneous requests with one key exactly one executes; the others
get `409 idempotency-key-in-use` and may retry to get the stored answer. Then the row
is completed with the answer to replay, or released (the answer was one the client may
usefully retry: 5xx, 429) so that a retry runs the work again. A reservation older than
`STALE_SECONDS` belongs to a request that died (its worker crashed) and is taken over.
The HTTP layer decides what to keep; this keeps it, and says what a key holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import IdempotencyKeyInUse, InvalidInput

from .ports import StoredResponse, Tx, UnitOfWork

KEEP_SECONDS = 24 * 3600  # answers are replayed for a day
STALE_SECONDS = 120  # a reservation this old belongs to a request that died


def retryable(status: int) -> bool:
    """Answers a client may usefully retry: they free the key instead of being kept."""
    return status >= 500 or status == 429


@dataclass(frozen=True, slots=True)
class Reservation:
    """This request holds the key and must finish it (`IdempotencyRecords.finish`)."""

    scope: str
    key: str
    request_hash: str


class IdempotencyRecords:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def find(self, scope: str, key: str) -> StoredResponse | None:
        with self.uow(readonly=True) as tx:
            return tx.idempotency.get(scope, key)

    def reserve(self, scope: str, key: str, request_hash: str) -> Reservation | StoredResponse:
        """Hold the key for this request (a Reservation: run the work), or the answer to
        replay. Raises InvalidInput when the key was used with another body, and
        IdempotencyKeyInUse while another request with it is still running."""
        def work(tx: Tx) -> StoredResponse | None:
            now = self.clock.now()
            if tx.idempotency.reserve(scope, key, request_hash, now):
                return None
            stored = tx.idempotency.get(scope, key)
            if stored is None or (stored.pending and tx.idempotency.take_over(
                    scope, key, now - STALE_SECONDS, request_hash, now)):
                return None  # None: purged between the two statements (rare): run it
            return stored

        stored = self.uow.run(work)
        if stored is None:
            return Reservation(scope, key, request_hash)
        if stored.request_hash != request_hash:
            raise InvalidInput("This Idempotency-Key was used with a different request body.")
        if stored.pending:
            raise IdempotencyKeyInUse(
                "A request with this Idempotency-Key is still being processed; retry "
                "shortly to get its answer.")
        return stored

    def finish(self, held: Reservation, status: int, body: bytes, content_type: str) -> None:
        """Keep the answer to replay, or free the key when the answer is worth retrying."""
        with self.uow() as tx:
            if retryable(status):
                tx.idempotency.release(held.scope, held.key)
            else:
                tx.idempotency.complete(held.scope, held.key, StoredResponse(
                    held.request_hash, status, body, content_type))

    def release(self, held: Reservation) -> None:
        """Free the key: the work failed before it had an answer (a retry runs it again)."""
        with self.uow() as tx:
            tx.idempotency.release(held.scope, held.key)

    def purge(self) -> None:
        """Forget answers older than `KEEP_SECONDS` (the maintenance round)."""
        with self.uow() as tx:
            tx.idempotency.purge(self.clock.now() - KEEP_SECONDS)
