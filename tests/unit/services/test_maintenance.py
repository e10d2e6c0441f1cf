"""The background round: last-seen times, queued resets, mail, and forgetting expired
nonces, rate-limit windows and idempotent answers."""

from __future__ import annotations

from tenure.services.idempotency import KEEP_SECONDS, IdempotencyRecords, Reservation
from tenure.services.limits import Limit
from tenure.services.mail import MailDispatcher
from tenure.services.maintenance import PURGE_EVERY, Maintenance
from tenure.services.password_reset import PasswordReset

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


def test_a_round_mails_queued_resets_and_forgets_old_windows_and_answers(
        world: World) -> None:
    owner = world.owner()
    sink = MemoryMailSink()
    mail = MailDispatcher(world.uow, world.clock, sink, "t@tenure.test")
    reset = PasswordReset(world.uow, world.clock, 30, 72,
                          per_address=Limit("reset-ip", 10, 3600))
    records = IdempotencyRecords(world.uow, world.clock)
    now = world.clock.now()
    old = records.reserve("anonymous:POST:/v1/accounts", "old", "h")
    assert isinstance(old, Reservation)
    records.finish(old, 201, b"{}", "application/json")
    with world.uow() as tx:
        tx.rate_limits.hit("reset-ip:192.0.2.1", now - 3 * 3600)
        tx.rate_limits.hit("reset-ip:192.0.2.2", now - now % 3600)
    world.clock.advance(KEEP_SECONDS + 1)
    reset.request(owner.email, "192.0.2.9")
    Maintenance(world.uow, world.clock, world.last_seen, mail, reset, records, 3600)()
    assert [m["Subject"] for m in sink.sent] == ["Reset your password"]
    assert world.uow.state.reset_requests == {}
    assert set(world.uow.state.rate_limits) == {"reset-ip:192.0.2.9"}
    assert world.uow.state.idempotency == {}


def test_expired_nonces_are_forgotten_once_a_minute_not_every_round(world: World) -> None:
    """Each purge is a write (an fsync, SQLite's write lock): one a minute is enough,
    since an expired nonce is refused by its expiry whether or not it is still stored."""
    round_ = Maintenance(world.uow, world.clock, world.last_seen,
                         MailDispatcher(world.uow, world.clock, MemoryMailSink(), "t@t.test"))
    round_()
    with world.uow() as tx:
        tx.nonces.use("soon-expired", world.clock.now() + 5)
    world.clock.advance(30)
    round_()
    assert "soon-expired" in world.uow.state.used_nonces  # within the minute: kept
    world.clock.advance(PURGE_EVERY)
    round_()
    assert "soon-expired" not in world.uow.state.used_nonces
