"""The server's background round: batched last-seen times, mail, expired nonces."""

from __future__ import annotations

from tenure.clock import Clock

from .last_seen import LastSeen
from .mail import MailDispatcher
from .ports import UnitOfWork


class Maintenance:
    def __init__(self, uow: UnitOfWork, clock: Clock, last_seen: LastSeen,
                 mail: MailDispatcher) -> None:
        self.uow = uow
        self.clock = clock
        self.last_seen = last_seen
        self.mail = mail

    def flush_last_seen(self) -> int:
        return self.last_seen.flush(self.uow)

    def purge_nonces(self) -> int:
        with self.uow() as tx:
            return tx.nonces.purge(self.clock.now())

    def __call__(self) -> None:
        """One round; an exception leaves the rest for the next round."""
        self.flush_last_seen()
        self.mail.dispatch()
        self.purge_nonces()
