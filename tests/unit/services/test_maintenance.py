"""The background round (last-seen, mail, expired nonces) and kept idempotent answers."""

from __future__ import annotations

from tenure.services.idempotency import IdempotencyRecords
from tenure.services.mail import MailDispatcher
from tenure.services.maintenance import Maintenance
from tenure.services.ports import StoredResponse

from ..fakes import MemoryMailSink
from .conftest import World


def test_one_round_writes_last_seen_sends_mail_and_forgets_expired_nonces(
        world: World) -> None:
    phone = world.phone(activated=True)
    world.last_seen.note(phone.device_id, world.clock.now())
    sink = MemoryMailSink()
    with world.uow() as tx:
        tx.outbox.enqueue("owner@example.com", "Hi", "Text\n", world.clock.now())
        tx.nonces.use("expired", world.clock.now() - 1)
        tx.nonces.use("live", world.clock.now() + 300)
    Maintenance(world.uow, world.clock, world.last_seen,
                MailDispatcher(world.uow, world.clock, sink, "t@tenure.test"))()
    assert world.uow.state.devices[phone.device_id].last_checkin_at == world.clock.now()
    assert world.last_seen.pending(phone.device_id) is None
    assert len(sink.sent) == 1
    assert set(world.uow.state.used_nonces) == {"live"}


def test_an_older_last_seen_never_overwrites_a_newer_one(world: World) -> None:
    phone = world.phone(activated=True)
    world.last_seen.note(phone.device_id, world.clock.now())
    world.last_seen.flush(world.uow)
    world.last_seen.note(phone.device_id, world.clock.now() - 60)
    world.last_seen.flush(world.uow)
    assert world.uow.state.devices[phone.device_id].last_checkin_at == world.clock.now()


def test_the_first_answer_kept_for_a_key_is_the_one_replayed(world: World) -> None:
    records = IdempotencyRecords(world.uow, world.clock)
    first = StoredResponse("hash-a", 201, b'{"id": 1}', "application/json")
    assert records.find("anonymous:POST:/v1/accounts", "k1") is None
    assert records.remember("anonymous:POST:/v1/accounts", "k1", first)
    assert not records.remember("anonymous:POST:/v1/accounts", "k1",
                                StoredResponse("hash-b", 201, b"{}", "application/json"))
    assert records.find("anonymous:POST:/v1/accounts", "k1") == first
    assert records.find("other-scope", "k1") is None
