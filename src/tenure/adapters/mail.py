"""Mail sinks: SMTP when TENURE_SMTP_URL is set, else one file per message."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tenure.crypto.keyring import write_secret_file


class SmtpSink:
    """`smtp://user:pass@host:port` (STARTTLS when offered), `smtps://...` for implicit TLS.
    Failures raise smtplib's errors, which are OSErrors, as the MailSink port says."""

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


def make_sink(smtp_url: str, outbox_dir: Path) -> SmtpSink | FileSink:
    return SmtpSink(smtp_url) if smtp_url else FileSink(outbox_dir)
