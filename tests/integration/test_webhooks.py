"""The webhook dispatcher on each backend, posting to a real HTTP receiver on loopback:
signed events in order per device, back-off and recovery, giving up after 3 days and
the operator's retry, and two dispatchers racing for the same events."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.services.ports import TenantRow
from tenure.services.webhooks import FIRST_RETRY_SECONDS, LEASE_SECONDS, WebhookDispatcher
from tests.webhook_receiver import Receiver, per_device, verify_event

THREE_DAYS = 3 * 24 * 3600


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def rt(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    """The runtime, with http and loopback webhooks allowed (as in development)."""
    services = bootstrap(dataclasses.replace(settings, webhook_allow_insecure=True),
                         clock=clock)
    yield services
    services.close()


def tenant(rt: Services, url: str) -> TenantRow:
    return rt.tenants.create("creditor", "Example Finance", webhook_url=url)


def emit(rt: Services, tenant_id: str, device_id: str, event: str = "device.locked",
         **fields: Any) -> str:
    """An event written as a use case writes one: in a transaction of its own."""
    with rt.uow() as tx:
        return tx.events.emit(tenant_id, event, device_id, rt.clock.now(), fields)


def rows(rt: Services, tenant_id: str | None = None) -> dict[str, Any]:
    report = rt.outbox.report(tenant_id=tenant_id, limit=1000)
    return {e.event_id: e for e in report.events}


def claims_of(rt: Services, receiver: Receiver, tenant_id: str) -> list[dict[str, Any]]:
    jwks = rt.keyring.jwks()
    return [verify_event(body, jwks, tenant_id) for body in receiver.bodies()]


def test_events_arrive_signed_for_their_tenant_in_order_per_device(
        rt: Services, receiver: Receiver, clock: FixedClock) -> None:
    t = tenant(rt, receiver.url)
    a = [emit(rt, t.tenant_id, "PHONE-A", "device.enrolled", loan_id="L-1"),
         emit(rt, t.tenant_id, "PHONE-A", "device.locked", loan_id="L-1")]
    b = [emit(rt, t.tenant_id, "PHONE-B", "device.message", text="call me")]
    a.append(emit(rt, t.tenant_id, "PHONE-A", "device.unlocked", loan_id="L-1"))

    assert rt.webhooks.dispatch() == 4

    assert {r.content_type for r in receiver.received} == {"application/jose"}
    assert {r.path for r in receiver.received} == {"/hooks/tenure?token=s3cret"}
    claims = claims_of(rt, receiver, t.tenant_id)
    assert per_device(claims) == {"PHONE-A": a, "PHONE-B": b}
    first = claims[0]
    assert first == {"id": a[0], "aud": t.tenant_id, "event": "device.enrolled",
                     "device_id": "PHONE-A", "loan_id": "L-1", "at": clock.now()}
    assert [c for c in claims if c["device_id"] == "PHONE-B"][0]["text"] == "call me"
    assert all(e.delivered_at == clock.now() for e in rt.outbox.report().events) is True
    assert rt.outbox.report().webhooks.delivered_recently == 4
    assert rt.webhooks.dispatch() == 0  # delivered once, not again
    assert len(receiver.received) == 4


def test_another_tenants_audience_does_not_verify(rt: Services, receiver: Receiver) -> None:
    import jwt

    t = tenant(rt, receiver.url)
    emit(rt, t.tenant_id, "PHONE-A")
    rt.webhooks.dispatch()
    [body] = receiver.bodies()
    with pytest.raises(jwt.InvalidAudienceError):
        verify_event(body, rt.keyring.jwks(), "some-other-tenant")


def test_a_failing_receiver_is_retried_with_back_off_and_order_is_kept(
        rt: Services, receiver: Receiver, clock: FixedClock) -> None:
    t = tenant(rt, receiver.url)
    ids = [emit(rt, t.tenant_id, "PHONE-A", "device.locked"),
           emit(rt, t.tenant_id, "PHONE-A", "device.unlocked")]
    receiver.fail_next = 3

    assert rt.webhooks.dispatch() == 0
    assert len(receiver.received) == 1  # the second waits behind the first
    first = rows(rt)[ids[0]]
    assert (first.attempts, first.last_error) == (1, "HTTP 500")
    assert clock.now() + FIRST_RETRY_SECONDS // 2 <= first.next_attempt_at
    assert first.next_attempt_at <= clock.now() + FIRST_RETRY_SECONDS
    assert rt.webhooks.dispatch() == 0  # not due yet: nothing is posted
    assert len(receiver.received) == 1

    clock.advance(FIRST_RETRY_SECONDS)
    assert rt.webhooks.dispatch() == 0
    second_wait = rows(rt)[ids[0]].next_attempt_at - clock.now()
    assert FIRST_RETRY_SECONDS <= second_wait <= 2 * FIRST_RETRY_SECONDS  # doubling
    clock.advance(2 * FIRST_RETRY_SECONDS)
    rt.webhooks.dispatch()  # the third failure
    clock.advance(4 * FIRST_RETRY_SECONDS)

    assert rt.webhooks.dispatch() == 2  # recovered: both, in order
    claims = claims_of(rt, receiver, t.tenant_id)
    assert [c["id"] for c in claims] == [ids[0]] * 4 + [ids[1]]


def test_back_off_is_capped_at_an_hour(rt: Services, receiver: Receiver,
                                       clock: FixedClock) -> None:
    t = tenant(rt, receiver.url)
    event_id = emit(rt, t.tenant_id, "PHONE-A")
    receiver.status = 503
    waits = []
    for _ in range(14):
        rt.webhooks.dispatch()
        wait = rows(rt)[event_id].next_attempt_at - clock.now()
        waits.append(wait)
        clock.advance(wait)
    assert max(waits) <= 3600
    assert min(waits[-3:]) >= 1800  # equal jitter: at least half the cap
    assert len(set(waits[-3:])) > 1  # jittered, not in lock step
    assert rows(rt)[event_id].attempts == 14


def test_a_receiver_that_refuses_connections_is_retried(rt: Services, receiver: Receiver,
                                                        clock: FixedClock) -> None:
    receiver.stop()  # nothing listens on its port any more
    t = tenant(rt, receiver.url)
    event_id = emit(rt, t.tenant_id, "PHONE-A")
    assert rt.webhooks.dispatch() == 0
    event = rows(rt)[event_id]
    assert event.attempts == 1 and event.failed_at is None
    assert event.last_error is not None and "refused" in event.last_error.lower()
    assert "s3cret" not in event.last_error and "/hooks" not in event.last_error


def test_given_up_after_three_days_then_retried_by_the_operator(
        rt: Services, receiver: Receiver, clock: FixedClock) -> None:
    t = tenant(rt, receiver.url)
    first = emit(rt, t.tenant_id, "PHONE-A", "device.locked")
    second = emit(rt, t.tenant_id, "PHONE-A", "device.unlocked")
    receiver.status = 500
    rt.webhooks.dispatch()
    clock.advance(THREE_DAYS - 60)
    rt.webhooks.dispatch()
    assert rows(rt)[first].failed_at is None  # still retrying within the 3 days
    assert rows(rt)[first].next_attempt_at <= clock.now() + 60  # the last try: at 3 days

    clock.advance(60)
    rt.webhooks.dispatch()  # fails its last attempt: marked failed
    assert rows(rt)[first].failed_at == clock.now()
    rt.webhooks.dispatch()  # then the next event's turn: also created 3 days ago
    report = rt.outbox.report(failed_only=True)
    assert [e.event_id for e in report.events] == [first, second]
    assert all(e.failed_at == clock.now() and e.last_error == "HTTP 500"
               for e in report.events)
    assert report.webhooks.failed == 2 and report.webhooks.pending == 0

    receiver.status = 200
    assert rt.outbox.retry_all_failed(t.tenant_id) == (2, 0)
    assert rt.webhooks.dispatch() == 2
    claims = claims_of(rt, receiver, t.tenant_id)
    assert [c["id"] for c in claims][-2:] == [first, second]
    assert rt.outbox.report(failed_only=True).events == []


def test_operator_retry_of_one_event_and_its_refusals(rt: Services, receiver: Receiver,
                                                      clock: FixedClock) -> None:
    from tenure.domain.errors import InvalidInput, NotFound

    t = tenant(rt, receiver.url)
    event_id = emit(rt, t.tenant_id, "PHONE-A")
    with pytest.raises(InvalidInput, match="has not failed"):
        rt.outbox.retry(event_id)
    with pytest.raises(NotFound):
        rt.outbox.retry("no-such-event")
    receiver.status = 500
    clock.advance(THREE_DAYS)
    rt.webhooks.dispatch()
    assert rows(rt)[event_id].failed_at is not None
    assert rt.outbox.retry(event_id) == "webhook event"
    requeued = rows(rt)[event_id]
    assert (requeued.failed_at, requeued.attempts) == (None, 0)
    assert requeued.give_up_at == clock.now() + THREE_DAYS  # 3 more days


def test_a_tenant_without_webhook_url_or_disabled_gets_nothing(
        rt: Services, receiver: Receiver) -> None:
    quiet = rt.tenants.create("organization", "No Hooks Inc")
    gone = tenant(rt, receiver.url)
    a = emit(rt, quiet.tenant_id, "PHONE-A")
    b = emit(rt, gone.tenant_id, "PHONE-B")
    rt.tenants.disable(gone.tenant_id)
    assert rt.webhooks.dispatch() == 0
    assert receiver.received == []
    found = rows(rt)
    assert found[a].last_error == "not sent: the tenant has no webhook URL"
    assert found[b].last_error == "not sent: the tenant is disabled"
    assert found[a].failed_at is not None and found[b].failed_at is not None


def test_a_tenant_whose_receiver_is_down_starves_no_other(
        rt: Services, receiver: Receiver, clock: FixedClock) -> None:
    down = tenant(rt, "http://127.0.0.1:9/never")  # the discard port: nothing listens
    up = tenant(rt, receiver.url)
    for n in range(12):
        emit(rt, down.tenant_id, f"PHONE-{n}")
    clock.advance(1)  # the healthy tenant's event is the newest
    healthy = emit(rt, up.tenant_id, "PHONE-X")
    assert rt.webhooks.dispatch(limit=6) == 1  # the backlog is larger than the round
    assert [c["id"] for c in claims_of(rt, receiver, up.tenant_id)] == [healthy]


def test_a_leased_event_is_not_posted_by_another_dispatcher(
        rt: Services, receiver: Receiver, clock: FixedClock) -> None:
    t = tenant(rt, receiver.url)
    first = emit(rt, t.tenant_id, "PHONE-A")
    emit(rt, t.tenant_id, "PHONE-A")
    with rt.uow() as tx:  # as a dispatcher on another replica does before posting
        [head] = tx.webhooks.heads(clock.now(), 10)
        assert head.event_id == first
        assert tx.webhooks.lease(head, clock.now(), LEASE_SECONDS)
    assert rt.webhooks.dispatch() == 0  # neither it nor the event behind it
    assert receiver.received == []
    clock.advance(LEASE_SECONDS)  # the other replica died: its lease runs out
    assert rt.webhooks.dispatch() == 2


def test_two_dispatchers_racing_post_each_event_once_in_order(
        settings: Settings, rt: Services, receiver: Receiver, clock: FixedClock) -> None:
    other = bootstrap(dataclasses.replace(settings, webhook_allow_insecure=True), clock=clock)
    try:
        t = tenant(rt, receiver.url)
        expected: dict[str, list[str]] = {}
        for n in range(24):
            device = f"PHONE-{n % 4}"
            expected.setdefault(device, []).append(emit(rt, t.tenant_id, device))
        receiver.delay = 0.02  # long enough for the two to overlap on every event
        dispatchers: list[WebhookDispatcher] = [rt.webhooks, other.webhooks]
        done = [0, 0]

        def run(i: int) -> None:
            for _ in range(30):
                done[i] += dispatchers[i].dispatch()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        claims = claims_of(rt, receiver, t.tenant_id)
        assert sum(done) == 24
        assert sorted(c["id"] for c in claims) == sorted(i for v in expected.values() for i in v)
        assert per_device(claims) == expected  # each once, in order
    finally:
        other.close()
