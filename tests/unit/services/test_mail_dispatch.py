"""Delivering the outbox: sent once, retried with backoff when the sink is down."""

from __future__ import annotations

from tenure.services.mail import LEASE_SECONDS, MailDispatcher

from ..fakes import MemoryMailSink
from .conftest import World

SENDER = "Tenure <noreply@tenure.test>"


def queue(world: World, to: str = "owner@example.com") -> None:
    with world.uow() as tx:
        tx.outbox.enqueue(to, "Hello", "Body text\n", world.clock.now())


def test_due_mail_is_sent_once_as_a_proper_message(world: World) -> None:
    sink = MemoryMailSink()
    queue(world)
    dispatcher = MailDispatcher(world.uow, world.clock, sink, SENDER)
    assert dispatcher.dispatch() == 1
    assert dispatcher.dispatch() == 0
    (mail,) = sink.sent
    assert (mail["From"], mail["To"], mail["Subject"]) == (SENDER, "owner@example.com", "Hello")
    assert mail["Message-ID"] and mail.get_content() == "Body text\n"


def test_a_failed_send_is_retried_later_with_backoff(world: World) -> None:
    sink = MemoryMailSink()
    sink.down = True
    queue(world)
    dispatcher = MailDispatcher(world.uow, world.clock, sink, SENDER)
    assert dispatcher.dispatch() == 0
    (row,) = world.uow.state.outbox.values()
    assert row["message"].attempts == 1 and "ConnectionRefusedError" in row["last_error"]
    assert row["next_attempt_at"] == world.clock.now() + 60
    sink.down = False
    world.clock.advance(59)
    assert dispatcher.dispatch() == 0  # not due yet
    world.clock.advance(1)
    assert dispatcher.dispatch() == 1 and len(sink.sent) == 1


def test_a_message_leased_by_another_dispatcher_is_left_to_it(world: World) -> None:
    sink = MemoryMailSink()
    queue(world)
    (message_id,) = world.uow.state.outbox
    with world.uow() as tx:
        assert tx.outbox.lease(message_id, world.clock.now(), LEASE_SECONDS)
    assert MailDispatcher(world.uow, world.clock, sink, SENDER).dispatch() == 0
    assert sink.sent == []
