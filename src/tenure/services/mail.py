"""Delivering the outbox through a mail sink (SMTP or files: `tenure.adapters.mail`)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tenure.clock import Clock

from .ports import MailSink, OutboxMessage, UnitOfWork


def _message(msg: OutboxMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = msg.to_addr
    mail["Subject"] = msg.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(idstring=msg.message_id, domain="tenure")
    mail.set_content(msg.body)
    return mail


LEASE_SECONDS = 120


class MailDispatcher:
    def __init__(self, uow: UnitOfWork, clock: Clock, sink: MailSink,
                 sender: str) -> None:
        self.uow = uow
        self.clock = clock
        self.sink = sink
        self.sender = sender

    def dispatch(self, limit: int = 100) -> int:
        """Send what is due; failed sends retry later with backoff. Returns messages sent."""
        with self.uow(readonly=True) as tx:
            due = tx.outbox.due(self.clock.now(), limit)
        sent = 0
        for msg in due:
            with self.uow() as tx:
                if not tx.outbox.lease(msg.message_id, self.clock.now(), LEASE_SECONDS):
                    continue  # another replica is sending it
            try:
                self.sink.send(_message(msg, self.sender))
            except OSError as exc:  # SMTP errors are OSErrors too
                attempts = msg.attempts + 1
                with self.uow() as tx:
                    tx.outbox.mark_failed(msg.message_id, attempts,
                                          self.clock.now() + min(3600, 30 * 2 ** attempts),
                                          f"{type(exc).__name__}: {exc}")
                continue
            with self.uow() as tx:
                tx.outbox.mark_sent(msg.message_id, self.clock.now())
            sent += 1
        return sent
