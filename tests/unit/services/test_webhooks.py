"""The webhook dispatcher and the operator's outbox view on fakes: what is posted,
signed how, in which order; back-off, giving up, and requeuing."""

from __future__ import annotations

import random

import pytest

from tenure.clock import FixedClock
from tenure.crypto.jws import parse_compact
from tenure.crypto.keyring import KeyRing
from tenure.domain.errors import InvalidInput, NotFound
from tenure.services.outbox_admin import OutboxAdmin
from tenure.services.ports import TenantRow
from tenure.services.webhooks import LEASE_SECONDS, WebhookDispatcher

from ..fake_webhooks import MemorySender
from ..fakes import FakeUnitOfWork

URL = "https://hooks.example.com/tenure"
DAYS3 = 3 * 24 * 3600


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def sender() -> MemorySender:
    return MemorySender()


@pytest.fixture
def dispatcher(uow: FakeUnitOfWork, clock: FixedClock, keyring: KeyRing,
               sender: MemorySender) -> WebhookDispatcher:
    return WebhookDispatcher(uow, clock, keyring, sender, rng=random.Random(1), workers=1)


def tenant(uow: FakeUnitOfWork, tenant_id: str = "T1", url: str = URL) -> str:
    with uow() as tx:
        tx.tenants.create(TenantRow(tenant_id, "creditor", "Acme", "", url, 0))
    return tenant_id


def emit(uow: FakeUnitOfWork, clock: FixedClock, device: str, event: str = "device.locked",
         tenant_id: str = "T1", **fields: object) -> str:
    with uow() as tx:
        return tx.events.emit(tenant_id, event, device, clock.now(), fields)


def posted(sender: MemorySender) -> list[dict[str, object]]:
    return [parse_compact(body).payload() for _, body, _ in sender.posts]


def test_events_are_posted_signed_as_tenure_events_in_order(
        uow: FakeUnitOfWork, clock: FixedClock, keyring: KeyRing, sender: MemorySender,
        dispatcher: WebhookDispatcher) -> None:
    tenant(uow)
    a1 = emit(uow, clock, "PHONE-A", "device.enrolled", loan_id="L1")
    b1 = emit(uow, clock, "PHONE-B", "device.message", text="hello")
    a2 = emit(uow, clock, "PHONE-A", "device.locked", loan_id="L1")
    assert dispatcher.dispatch() == 3
    assert {(url, ctype) for url, _, ctype in sender.posts} == {(URL, "application/jose")}
    tokens = [parse_compact(body) for _, body, _ in sender.posts]
    key = keyring.integrator_key
    assert all(t.has_type("tenure-event+jwt") and t.header["kid"] == key.kid
               and t.verify_with(key.key.public()) for t in tokens)
    ids = [t.payload()["id"] for t in tokens]
    assert [i for i in ids if i in (a1, a2)] == [a1, a2] and b1 in ids
    assert tokens[0].payload() == {"id": a1, "aud": "T1", "event": "device.enrolled",
                                 "device_id": "PHONE-A", "loan_id": "L1", "at": clock.now()}
    assert dispatcher.dispatch() == 0


def test_a_failure_holds_the_devices_next_events_and_backs_off(
        uow: FakeUnitOfWork, clock: FixedClock, sender: MemorySender,
        dispatcher: WebhookDispatcher) -> None:
    tenant(uow)
    first = emit(uow, clock, "PHONE-A")
    emit(uow, clock, "PHONE-A", "device.unlocked")
    sender.errors = ["HTTP 500"]
    assert dispatcher.dispatch() == 0
    assert len(sender.posts) == 1
    with uow(readonly=True) as tx:
        event = tx.webhooks.get(first)
    assert event is not None and (event.attempts, event.last_error) == (1, "HTTP 500")
    assert clock.now() + 5 <= event.next_attempt_at <= clock.now() + 10
    assert dispatcher.dispatch() == 0 and len(sender.posts) == 1  # waiting, and so is #2
    clock.advance(10)
    assert dispatcher.dispatch() == 2
    assert [p["id"] for p in posted(sender)][:2] == [first, first]


def test_a_leased_event_is_left_alone_until_its_lease_runs_out(
        uow: FakeUnitOfWork, clock: FixedClock, sender: MemorySender,
        dispatcher: WebhookDispatcher) -> None:
    tenant(uow)
    emit(uow, clock, "PHONE-A")
    with uow() as tx:
        [head] = tx.webhooks.heads(clock.now(), 10)
        assert tx.webhooks.lease(head, clock.now(), LEASE_SECONDS)
    assert dispatcher.dispatch() == 0 and sender.posts == []
    clock.advance(LEASE_SECONDS)
    assert dispatcher.dispatch() == 1


def test_after_three_days_an_event_is_failed_and_the_next_one_goes(
        uow: FakeUnitOfWork, clock: FixedClock, sender: MemorySender,
        dispatcher: WebhookDispatcher) -> None:
    tenant(uow)
    first = emit(uow, clock, "PHONE-A")
    clock.advance(DAYS3 - 100)
    second = emit(uow, clock, "PHONE-A", "device.unlocked")
    sender.error = "timed out: read"
    dispatcher.dispatch()
    clock.advance(100)
    dispatcher.dispatch()  # the first's last attempt
    with uow(readonly=True) as tx:
        failed, waiting = tx.webhooks.get(first), tx.webhooks.get(second)
    assert failed is not None and failed.failed_at == clock.now()
    assert failed.last_error == "timed out: read"
    assert waiting is not None and waiting.failed_at is None
    sender.error = None
    assert dispatcher.dispatch() == 1
    assert posted(sender)[-1]["id"] == second


def test_disabled_tenants_and_tenants_without_url_are_sent_nothing(
        uow: FakeUnitOfWork, clock: FixedClock, sender: MemorySender,
        dispatcher: WebhookDispatcher) -> None:
    tenant(uow, "T1", url="")
    tenant(uow, "T2")
    emit(uow, clock, "PHONE-A", tenant_id="T1")
    emit(uow, clock, "PHONE-B", tenant_id="T2")
    with uow() as tx:
        tx.tenants.disable("T2", clock.now())
    assert dispatcher.dispatch() == 0 and sender.posts == []
    report = OutboxAdmin(uow, clock).report(failed_only=True)
    assert sorted(e.last_error or "" for e in report.events) == [
        "not sent: the tenant has no webhook URL", "not sent: the tenant is disabled"]


def test_the_operator_sees_and_requeues_failed_deliveries(
        uow: FakeUnitOfWork, clock: FixedClock, sender: MemorySender,
        dispatcher: WebhookDispatcher) -> None:
    tenant(uow)
    admin = OutboxAdmin(uow, clock)
    event_id = emit(uow, clock, "PHONE-A")
    with uow() as tx:
        tx.outbox.enqueue("owner@example.com", "Hello", "Body", clock.now())
        [mail] = tx.outbox.due(clock.now())
        tx.outbox.mark_failed(mail.message_id, 1, clock.now() + 60, "SMTP down")
    with pytest.raises(InvalidInput, match="has not failed"):
        admin.retry(event_id)
    sender.error = "HTTP 503"
    clock.advance(DAYS3)
    dispatcher.dispatch()

    report = admin.report(failed_only=True)
    assert [e.event_id for e in report.events] == [event_id]
    assert [m.subject for m in report.mail_entries] == ["Hello"]
    assert report.webhooks.failed == 1 and report.mail is not None
    assert report.mail.failed == 1
    assert admin.report(tenant_id="T1").mail is None  # a tenant's view has no mail
    with pytest.raises(NotFound):
        admin.report(tenant_id="nobody")

    assert admin.retry(event_id) == "webhook event"
    assert admin.retry(mail.message_id) == "message"
    with pytest.raises(InvalidInput, match="still queued"):
        admin.retry(event_id)  # requeued: no longer failed
    assert uow.actions("tenant:T1") == ["webhook.requeued"]
    assert uow.actions("system") == ["mail.requeued"]
    sender.error = None
    assert dispatcher.dispatch() == 1
