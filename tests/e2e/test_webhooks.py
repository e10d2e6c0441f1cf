"""Tenants' webhooks from a real `tenure serve`: delivered within seconds to a real
receiver, verified against the server's `/v1/keys`; a receiver that fails and
recovers; a server killed (SIGKILL) mid-delivery and restarted; 3 days of failures
marked failed and requeued with `tenure outbox`.

Events are written into the server's database by the test, through the store, as a
use case writes them (`tx.events.emit`, in a transaction of its own): the test-only
path to an event, so that these tests do not depend on which tenant feature emits what.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tenure.services.webhooks import LEASE_SECONDS
from tenure.store.database import make_engine
from tenure.store.uow import UnitOfWork
from tests.webhook_receiver import Receiver, per_device, verify_event

from .conftest import INSECURE, ServerProcess, _server

THREE_DAYS = 3 * 24 * 3600


@pytest.fixture
def sqlite_hook_server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _server(tmp_path, None, INSECURE)


class Events:
    """Writes events into the server's database (the test-only path, see above)."""

    def __init__(self, server: ServerProcess) -> None:
        url = (server.env.get("TENURE_DATABASE_URL")
               or f"sqlite:///{(server.data_dir / 'tenure.db').resolve()}")
        self.server = server
        self.uow = UnitOfWork(make_engine(url))

    def emit(self, tenant_id: str, device_id: str, event: str, **fields: Any) -> str:
        now = int(time.time() + float(self.server.clock_file.read_text() or 0))
        with self.uow() as tx:
            return tx.events.emit(tenant_id, event, device_id, now, fields)

    def close(self) -> None:
        self.uow.engine.dispose()


@pytest.fixture
def events_of() -> Iterator[Any]:
    made: list[Events] = []

    def make(server: ServerProcess) -> Events:
        made.append(Events(server))
        return made[-1]

    yield make
    for events in made:
        events.close()


def doc_verifier() -> Any:
    """`verify_event` of docs/webhooks.md, run as the page shows it."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    [code] = [block.split("```", 1)[0] for block in page.split("```python\n")[1:]
              if block.startswith("# webhooks: verify")]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own doc
    return namespace["verify_event"]


def create_tenant(server: ServerProcess, url: str) -> str:
    out = server.cli("tenant", "create", "--kind", "creditor", "--name", "Acme Finance",
                     "--webhook-url", url)
    return out.stdout.strip()


def verified(server: ServerProcess, receiver: Receiver, tenant_id: str,
             url: str | None = None) -> list[dict[str, Any]]:
    jwks = httpx.get(f"{url or server.url}/v1/keys").json()
    return [verify_event(body, jwks, tenant_id) for body in receiver.bodies()]


def ids_in(bodies: list[str]) -> list[str]:
    """The event ids of posted bodies, unverified (for waiting; tests verify after)."""
    return [jwt.decode(b, options={"verify_signature": False})["id"] for b in bodies]


def first_seen(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def assert_in_order(claims: list[dict[str, Any]], expected: dict[str, list[str]]) -> None:
    """Every event arrived, and per device never an earlier one after a later one
    (a repeat of the event just delivered is allowed: at least once)."""
    got = per_device(claims)
    assert set(got) == set(expected)
    for device, ids in expected.items():
        position = [ids.index(i) for i in got[device]]
        assert position == sorted(position), (device, position)
        assert first_seen(got[device]) == ids


def test_events_are_delivered_within_seconds_signed_and_in_order(
        hook_server: ServerProcess, receiver: Receiver, events_of: Any) -> None:
    tenant_id = create_tenant(hook_server, receiver.url)
    events = events_of(hook_server)
    expected: dict[str, list[str]] = {"PHONE-A": [], "PHONE-B": []}
    started = time.monotonic()
    for n, name in enumerate(["device.enrolled", "device.notice_acknowledged",
                              "device.locked", "device.unlocked", "device.completed"]):
        for device in expected:
            expected[device].append(events.emit(tenant_id, device, name, loan_id=f"L-{n}"))
    receiver.wait_for(lambda bodies: len(bodies) >= 10, seconds=15)
    assert time.monotonic() - started < 10

    claims = verified(hook_server, receiver, tenant_id)
    assert len(claims) == 10
    assert per_device(claims) == expected  # each once, in order
    assert {r.content_type for r in receiver.received} == {"application/jose"}
    assert claims[0]["event"] == "device.enrolled" and claims[0]["aud"] == tenant_id

    verify_event = doc_verifier()  # the page's example agrees, and refuses another tenant
    keys_url = f"{hook_server.url}/v1/keys"
    body = receiver.bodies()[0].encode()
    assert verify_event(body, keys_url, tenant_id) == claims[0]
    with pytest.raises(jwt.InvalidAudienceError):
        verify_event(body, keys_url, "another-tenant")


def test_a_message_relayed_to_an_organization_arrives_as_a_signed_event(
        hook_server: ServerProcess, receiver: Receiver, tmp_path: Path) -> None:
    """The real path: the operator's CLI, the organization's claim over HTTP, a finder's
    message through the public relay; the event leaves with the relay's transaction."""
    server = hook_server
    state = str(tmp_path / "FLEET-1")
    row = server.cli("device", "--state", state, "init", "--server", server.url,
                     "--id", "FLEET-1")
    (tmp_path / "fleet.csv").write_text(row.stdout)
    server.cli("provision", "import", str(tmp_path / "fleet.csv"))
    tenant_id = server.cli("tenant", "create", "--kind", "organization", "--name",
                           "Acme Fleet", "--webhook-url", receiver.url).stdout.strip()
    key = server.cli("apikey", "create", "--role", "organization", "--tenant",
                     tenant_id).stdout.strip()
    (tmp_path / "sales.txt").write_text("FLEET-1\n")
    server.cli("tenant", "assign", tenant_id, str(tmp_path / "sales.txt"))
    claimed = httpx.post(f"{server.url}/v1/org/devices", json={"device_ids": ["FLEET-1"]},
                         headers={"Authorization": f"Bearer {key}"})
    assert claimed.json()["claimed"] == ["FLEET-1"], claimed.text

    wrote = httpx.post(f"{server.url}/v1/public/messages", json={
        "device_id": "FLEET-1", "from": "finder@example.net",
        "message": "Found this tablet in meeting room 4."})
    assert wrote.status_code == 202, wrote.text
    [mail] = server.mail("finder@example.net")
    token = re.search(r"^Token:\n(\S+)$", mail["body"], re.MULTILINE)
    assert token is not None, mail["body"]
    started = time.monotonic()
    confirmed = httpx.post(f"{server.url}/v1/public/messages/confirm",
                           json={"token": token.group(1)})
    assert confirmed.status_code == 202, confirmed.text

    receiver.wait_for(lambda bodies: len(bodies) >= 1, seconds=15)
    assert time.monotonic() - started < 10
    [event] = verified(server, receiver, tenant_id)
    assert event["event"] == "device.message" and event["device_id"] == "FLEET-1"
    assert event["text"] == "Found this tablet in meeting room 4."
    assert event["aud"] == tenant_id
    assert "finder@example.net" not in str(event)  # the relay never names the sender


def test_two_replicas_deliver_each_event_once_in_order(
        hook_server: ServerProcess, receiver: Receiver, events_of: Any) -> None:
    hook_server.start()  # a second server process on the same database: two dispatchers
    tenant_id = create_tenant(hook_server, receiver.url)
    events = events_of(hook_server)
    receiver.delay = 0.05  # slow enough that both replicas find work at once
    expected: dict[str, list[str]] = {}
    for n in range(24):
        device = f"PHONE-{n % 3}"
        expected.setdefault(device, []).append(events.emit(tenant_id, device, "device.locked"))
    receiver.wait_for(lambda bodies: len(bodies) >= 24, seconds=30)
    time.sleep(2)  # a double delivery would show up now
    claims = verified(hook_server, receiver, tenant_id)
    assert per_device(claims) == expected  # each exactly once, in order


def test_a_receiver_that_fails_then_recovers_gets_everything_in_order(
        sqlite_hook_server: ServerProcess, receiver: Receiver, events_of: Any) -> None:
    server = sqlite_hook_server
    tenant_id = create_tenant(server, receiver.url)
    events = events_of(server)
    receiver.fail_next = 4
    expected = {"PHONE-A": [events.emit(tenant_id, "PHONE-A", "device.locked"),
                            events.emit(tenant_id, "PHONE-A", "device.unlocked"),
                            events.emit(tenant_id, "PHONE-A", "device.locked")],
                "PHONE-B": [events.emit(tenant_id, "PHONE-B", "device.enrolled")]}
    receiver.wait_for(lambda bodies: len(bodies) >= 1)
    deadline = time.monotonic() + 60
    while len(receiver.bodies()) < 8 and time.monotonic() < deadline:
        server.advance_clock(30)  # past each back-off, rather than waiting for it
        time.sleep(0.5)
    receiver.wait_for(lambda bodies: len(bodies) >= 8)  # 4 failed posts + 4 events
    assert_in_order(verified(server, receiver, tenant_id), expected)
    listing = server.cli("outbox", "list").stdout
    assert "webhooks: 0 pending, 0 failed, 4 delivered in the last 24 h" in listing


def test_a_server_killed_mid_delivery_delivers_everything_after_a_restart(
        hook_server: ServerProcess, receiver: Receiver, events_of: Any) -> None:
    tenant_id = create_tenant(hook_server, receiver.url)
    events = events_of(hook_server)
    receiver.hold = threading.Event()  # the receiver takes the first post and sits on it
    expected = {"PHONE-A": [events.emit(tenant_id, "PHONE-A", f"device.e{n}")
                            for n in range(3)],
                "PHONE-B": [events.emit(tenant_id, "PHONE-B", f"device.e{n}")
                            for n in range(2)]}
    receiver.wait_for(lambda bodies: len(bodies) >= 1)
    [process] = hook_server.processes
    process.kill()  # SIGKILL: no shutdown, the lease stays in the database
    process.wait(10)
    hold, receiver.hold = receiver.hold, None
    hold.set()

    [held] = ids_in(receiver.bodies())  # the post the killed server was waiting on
    held_device = next(d for d, ids in expected.items() if held in ids)
    [other] = [d for d in expected if d != held_device]
    assert expected[held_device][0] == held
    restarted = hook_server.start()  # a new process on the same data and database
    # The other device's events go out; the held one's wait behind the killed lease.
    receiver.wait_for(lambda bodies: set(expected[other]) <= set(ids_in(bodies)))
    time.sleep(1)
    assert [i for i in ids_in(receiver.bodies()) if i in expected[held_device]] == [held]
    hook_server.advance_clock(LEASE_SECONDS + 1)
    receiver.wait_for(lambda bodies: len(set(ids_in(bodies))) == 5, seconds=30)
    assert_in_order(verified(hook_server, receiver, tenant_id, restarted), expected)


def test_three_days_of_failures_are_marked_failed_and_requeued_by_the_operator(
        sqlite_hook_server: ServerProcess, receiver: Receiver, events_of: Any) -> None:
    server = sqlite_hook_server
    tenant_id = create_tenant(server, receiver.url)
    event_id = events_of(server).emit(tenant_id, "PHONE-A", "device.locked")
    receiver.status = 500
    receiver.wait_for(lambda bodies: len(bodies) >= 1)
    # The receiver counts a post before it answers: wait until the server has recorded
    # the first failure as a retry, or the clock moved now would make it the last one.
    deadline = time.monotonic() + 30
    while "1 attempts" not in (listing := server.cli("outbox", "list").stdout):
        assert time.monotonic() < deadline, listing
        time.sleep(0.2)
    server.advance_clock(THREE_DAYS + 60)
    deadline = time.monotonic() + 30
    while "1 failed" not in (listing := server.cli("outbox", "list", "--failed").stdout):
        assert time.monotonic() < deadline, listing
        time.sleep(0.5)
    [line] = [row for row in listing.splitlines() if event_id in row]
    assert "\tfailed\t" in line and "HTTP 500" in line and tenant_id in line
    assert "s3cret" not in listing

    receiver.status = 200
    out = server.cli("outbox", "retry", "--all-failed").stdout
    assert "requeued 1 webhook events" in out
    try:
        receiver.wait_for(lambda bodies: len(bodies) >= 3, seconds=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{server.cli('outbox', 'list').stdout}\n"
                             f"server log:\n{server.logs()}") from None
    deadline = time.monotonic() + 30
    while "webhooks: 0 pending, 0 failed, 1 delivered" not in (
            listing := server.cli("outbox", "list").stdout):
        assert time.monotonic() < deadline, listing
        time.sleep(0.5)
    assert verified(server, receiver, tenant_id)[-1]["id"] == event_id
    retry = server.cli("outbox", "retry", event_id, check=False)
    assert retry.returncode == 1
    assert retry.stderr.strip() == (f"tenure: error: webhook event {event_id} has not "
                                    "failed (delivered)")
