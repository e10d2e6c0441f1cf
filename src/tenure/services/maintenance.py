"""The server's background round: batched last-seen times, queued password resets,
appeal cases whose objection window ended, creditor completions that are due, mail,
the policy dry-run's counts, and forgetting what has expired (nonces, rate-limit
windows, idempotent answers)."""

from __future__ import annotations

from tenure.clock import Clock

from .case_decide import CaseDecisions
from .creditor_completion import CreditorCompletions
from .idempotency import IdempotencyRecords
from .last_seen import LastSeen
from .mail import MailDispatcher
from .password_reset import PasswordReset
from .ports import UnitOfWork

# Expired nonces, rate windows and idempotency keys are removed once a minute, not every
# round: each purge is a write transaction (an fsync and SQLite's write lock, which the
# device batches then wait for), and what it removes is refused by its expiry anyway.
PURGE_EVERY = 60  # seconds


class Maintenance:
    def __init__(self, uow: UnitOfWork, clock: Clock, last_seen: LastSeen,
                 mail: MailDispatcher, password_reset: PasswordReset | None = None,
                 idempotency: IdempotencyRecords | None = None,
                 rate_window: int = 3600, cases: CaseDecisions | None = None,
                 completions: CreditorCompletions | None = None) -> None:
        self.uow = uow
        self.clock = clock
        self.last_seen = last_seen
        self.mail = mail
        self.password_reset = password_reset
        self.idempotency = idempotency
        self.rate_window = rate_window
        self.cases = cases
        self.completions = completions
        self.purged_at: int | None = None  # the last round that purged (clock seconds)

    def flush_last_seen(self) -> int:
        return self.last_seen.flush(self.uow)

    def purge_nonces(self) -> int:
        with self.uow() as tx:
            return tx.nonces.purge(self.clock.now())

    def fold_territory_counts(self) -> int:
        """Fold the policy dry-run's count changes (store triggers append one or two a
        moved device) into its totals, so that a dry-run reads a few hundred rows.
        Looked for in a read first: most rounds there is nothing to fold."""
        with self.uow(readonly=True) as tx:
            if not tx.territory.count_changes_pending():
                return 0
        with self.uow() as tx:
            return tx.territory.fold_counts()

    def purge_rate_limits(self) -> None:
        """Windows that ended more than a window ago count for nothing any more."""
        with self.uow() as tx:
            tx.rate_limits.purge(self.clock.now() - 2 * self.rate_window)

    def __call__(self) -> None:
        """One round; an exception leaves the rest for the next round. Queued resets
        come before the mail, so that their mail leaves in the same round."""
        self.flush_last_seen()
        if self.password_reset is not None:
            self.password_reset.process_pending()
        if self.cases is not None:
            self.cases.expire_due()  # objection windows that ended: granted, mail queued
        if self.completions is not None:
            self.completions.process_due()  # before the mail: the owner hears this round
        self.mail.dispatch()
        self.fold_territory_counts()
        now = self.clock.now()
        if self.purged_at is None or not 0 <= now - self.purged_at < PURGE_EVERY:
            self.purged_at = now
            self.purge_nonces()
            self.purge_rate_limits()
            if self.idempotency is not None:
                self.idempotency.purge()
