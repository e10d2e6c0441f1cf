"""Delivering the outbox: SMTP when TENURE_SMTP_URL is set, else one file per message."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tenure.clock import Clock
from tenure.store.rows import OutboxMessage
from tenure.store.uow import UnitOfWork

from ..crypto.keyring import write_secret_file


def _message(msg: OutboxMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = msg.to_addr
    mail["Subject"] = msg.subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(idstring=msg.message_id, domain="tenure")
    mail.set_content(msg.body)
    return mail


class SmtpSink:
    """`smtp://user:pass@host:port` (STARTTLS when offered), `smtps://...` for implicit TLS."""

    def __init__(self, url: str) -> None:
        self.url = urlsplit(url)
        if self.url.scheme not in ("smtp", "smtps") or not self.url.hostname:
            raise ValueError("TENURE_SMTP_URL must look like smtp://user:pass@host:port")

    def send(self, mail: EmailMessage) -> None:
        u = self.url
        cls = smtplib.SMTP_SSL if u.scheme == "smtps" else smtplib.SMTP
        with cls(u.hostname or "localhost", u.port or (465 if u.scheme == "smtps" else 25),
                 timeout=30) as smtp:
            if u.scheme == "smtp":
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls()
            if u.username:
                smtp.login(unquote(u.username), unquote(u.password or ""))
            smtp.send_message(mail)


class FileSink:
    """Development default: messages land in var/outbox/ for a person (or a test) to read.
    Files are 0600: they hold reset tokens."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, mail: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = str(mail["Message-ID"]).strip("<>").replace("@", "_")
        write_secret_file(self.directory / f"{name}.eml", bytes(mail))


LEASE_SECONDS = 120


class MailDispatcher:
    def __init__(self, uow: UnitOfWork, clock: Clock, sink: SmtpSink | FileSink,
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
            except (OSError, smtplib.SMTPException) as exc:
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


def make_sink(smtp_url: str, outbox_dir: Path) -> SmtpSink | FileSink:
    return SmtpSink(smtp_url) if smtp_url else FileSink(outbox_dir)
