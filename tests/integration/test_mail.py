"""Delivering the outbox: the file sink (0600 .eml files) and SMTP against a real
aiosmtpd server, including a server that is down and comes back."""

from __future__ import annotations

import dataclasses
import socket
import stat
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings

from .helpers import new_reset_token, outbox

PASSWORD = "mail-test-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(e.content, policy=policy.default)
                for e in self.envelopes]


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.collector = Collector()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())  # not started: each test decides when it is up
    yield server
    server.stop()


@pytest.fixture
def smtp_runtime(settings: Settings, clock: FixedClock,
                 smtp_server: SmtpServer) -> Iterator[Services]:
    rt = bootstrap(dataclasses.replace(settings,
                                           smtp_url=f"smtp://127.0.0.1:{smtp_server.port}"),
                       clock=clock)
    yield rt
    rt.close()


def ask_for_reset(rt: Services, email: str = "owner@example.com") -> str:
    """An account that asked for a password reset; returns the token that was mailed."""
    rt.register(email, PASSWORD)
    rt.password_reset.request(email, "192.0.2.1")
    return new_reset_token(rt, email.lower())


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_file_sink_writes_private_eml_files(runtime: Services, settings: Settings,
                                            clock: FixedClock) -> None:
    token = ask_for_reset(runtime)
    assert not list(settings.outbox_dir.glob("*.eml"))  # nothing is sent before dispatch
    clock.advance(5)
    assert runtime.mail.dispatch() == 1

    [path] = list(settings.outbox_dir.glob("*.eml"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "owner@example.com"
    assert message["From"] == settings.mail_from
    assert message["Subject"] == "Reset your password"
    assert token in body_of(message)
    [row] = outbox(runtime)
    assert (row.sent_at, row.attempts) == (clock.now(), 0)

    assert runtime.mail.dispatch() == 0  # sent once, not again
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1
    assert not [p for p in settings.outbox_dir.iterdir() if p.name.startswith(".")]


def test_smtp_delivers_the_reset_token(smtp_runtime: Services, smtp_server: SmtpServer,
                                       settings: Settings, clock: FixedClock) -> None:
    smtp_server.start()
    token = ask_for_reset(smtp_runtime, "Reader@Example.com")
    assert smtp_runtime.mail.dispatch() == 1

    [envelope] = smtp_server.collector.envelopes
    assert envelope.rcpt_tos == ["reader@example.com"]
    [message] = smtp_server.collector.messages()
    assert message["Subject"] == "Reset your password"
    assert message["To"] == "reader@example.com"
    assert message["From"] == settings.mail_from
    assert token in body_of(message)
    assert outbox(smtp_runtime)[0].sent_at == clock.now()
    assert not list(settings.outbox_dir.glob("*.eml"))  # SMTP replaces the file sink
    assert smtp_runtime.mail.dispatch() == 0
    assert len(smtp_server.collector.envelopes) == 1


def test_mail_waits_while_the_smtp_server_is_down(smtp_runtime: Services,
                                                  smtp_server: SmtpServer,
                                                  clock: FixedClock) -> None:
    token = ask_for_reset(smtp_runtime)

    assert smtp_runtime.mail.dispatch() == 0
    [row] = outbox(smtp_runtime)
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.last_error and "Connection" in row.last_error
    assert row.next_attempt_at > clock.now()

    # not retried before its time (backoff), then retried and failing again
    assert smtp_runtime.mail.dispatch() == 0
    assert outbox(smtp_runtime)[0].attempts == 1
    clock.advance(row.next_attempt_at - clock.now())
    assert smtp_runtime.mail.dispatch() == 0
    second = outbox(smtp_runtime)[0]
    assert second.attempts == 2
    assert second.next_attempt_at - clock.now() > row.next_attempt_at - row.created_at

    # the server comes back: the next due attempt delivers it, once
    smtp_server.start()
    clock.advance(second.next_attempt_at - clock.now())
    assert smtp_runtime.mail.dispatch() == 1
    [message] = smtp_server.collector.messages()
    assert token in body_of(message)
    done = outbox(smtp_runtime)[0]
    assert done.sent_at == clock.now()
    assert smtp_runtime.mail.dispatch() == 0
    assert len(smtp_server.collector.envelopes) == 1
