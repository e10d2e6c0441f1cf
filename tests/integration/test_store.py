"""The store on real databases: the audit hash chain, the one-owner index, nonces shared
by replicas, and races that the database (not the process) must settle."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient

from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.domain.errors import BadNonce
from tenure.domain.model import Claim, ClaimKind
from tenure.http.app import create_app
from tenure.store import tables as t
from tenure.store.audit import GENESIS, Verification, event_hash, verify_chain

from .helpers import (
    ACTIVATION,
    BIND,
    JOSE,
    Accounts,
    Device,
    audit,
    claims,
    count,
    race,
    rows,
)

# ------------------------------------------------------------------------------ audit chain


def record_events(runtime: Services, clock: FixedClock) -> None:
    """Three streams: device:A (4 events), device:B (2), system (1)."""
    plan = [("device:A", "device.activated"), ("device:B", "device.activated"),
            ("device:A", "claim.owner.bound"), ("system", "apikey.created"),
            ("device:A", "device.activation_refused"), ("device:B", "claim.owner.bound"),
            ("device:A", "claim.owner.released")]
    for n, (stream, action) in enumerate(plan):
        clock.advance(1)
        with runtime.uow() as tx:
            tx.audit.record(stream, action, actor="test", at=clock.now(), n=n,
                            note="ünïcode ✓")


def verify(runtime: Services) -> Verification:
    with runtime.uow(readonly=True) as tx:
        return verify_chain(tx.conn)


def test_audit_events_chain_per_stream(runtime: Services, clock: FixedClock) -> None:
    record_events(runtime, clock)
    a = audit(runtime, "device:A")
    assert [e.seq for e in a] == [1, 2, 3, 4]
    assert [e.action for e in a] == ["device.activated", "claim.owner.bound",
                                     "device.activation_refused", "claim.owner.released"]
    assert a[0].prev_hash == GENESIS
    assert [e.prev_hash for e in a[1:]] == [e.hash for e in a[:-1]]
    assert json.loads(a[0].data) == {"n": 0, "note": "ünïcode ✓"}
    assert [e.seq for e in audit(runtime, "device:B")] == [1, 2]
    result = verify(runtime)
    assert result.ok, result.broken
    assert (result.events, result.streams) == (7, 3)


def test_appends_after_the_device_read_chain_from_the_head_it_brought(
        runtime: Services, clock: FixedClock, device: Device) -> None:
    """The device read brings its stream's head, and the appends of the same
    transaction follow it without reading it again: the chain stays whole."""
    stream = f"device:{device.device_id}"
    for round_ in range(2):
        with runtime.uow() as tx:
            assert tx.devices.get(device.device_id) is not None
            for n in range(2):
                tx.audit.record(stream, "test.event", actor="test", at=clock.now(),
                                n=n, round=round_)
    events = audit(runtime, stream)
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.prev_hash for e in events] == [GENESIS] + [e.hash for e in events[:-1]]
    assert verify(runtime).ok


def test_an_append_after_another_transactions_append_reads_the_head_again(
        runtime: Services, clock: FixedClock, device: Device, backend: str) -> None:
    """Between this transaction's device read and its append, another transaction
    appended to the device's stream and committed: the append follows that event
    instead of colliding with it."""
    if backend == "sqlite":
        pytest.skip("SQLite's write transaction keeps every other writer out until it ends")
    stream = f"device:{device.device_id}"
    with runtime.uow() as tx:
        assert tx.devices.get(device.device_id) is not None  # head: none yet
        with runtime.uow() as other:  # another connection, committed first
            other.audit.record(stream, "test.other", actor="test", at=clock.now())
        tx.audit.record(stream, "test.mine", actor="test", at=clock.now())
    events = audit(runtime, stream)
    assert [(e.seq, e.action) for e in events] == [(1, "test.other"), (2, "test.mine")]
    assert events[1].prev_hash == events[0].hash
    assert verify(runtime).ok


@pytest.mark.parametrize("column,value", [
    ("data", '{"n":2,"note":"edited"}'), ("actor", "someone-else"), ("at", 1),
    ("action", "claim.owner.released"),
])
def test_an_edited_event_breaks_the_chain_there(runtime: Services, clock: FixedClock,
                                                column: str, value: object) -> None:
    record_events(runtime, clock)
    with runtime.uow() as tx:
        tx.conn.execute(update(t.audit_events)
                        .where(t.audit_events.c.stream == "device:A", t.audit_events.c.seq == 2)
                        .values({column: value}))
    result = verify(runtime)
    assert not result.ok
    assert "stream 'device:A' event 2" in str(result.broken)
    assert "edited" in str(result.broken)


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(runtime: Services,
                                                             clock: FixedClock) -> None:
    record_events(runtime, clock)
    [row] = [e for e in audit(runtime, "device:A") if e.seq == 2]
    forged = '{"n":2,"note":"nothing happened"}'
    with runtime.uow() as tx:
        tx.conn.execute(update(t.audit_events)
                        .where(t.audit_events.c.stream == "device:A", t.audit_events.c.seq == 2)
                        .values(data=forged, hash=event_hash(row.prev_hash, row.stream, row.seq,
                                                             row.at, row.actor, row.action,
                                                             forged)))
    result = verify(runtime)
    assert not result.ok
    assert "stream 'device:A' event 3" in str(result.broken)
    assert "does not link" in str(result.broken)


def test_a_deleted_event_breaks_the_chain(runtime: Services, clock: FixedClock) -> None:
    record_events(runtime, clock)
    with runtime.uow() as tx:
        tx.conn.execute(delete(t.audit_events).where(t.audit_events.c.stream == "device:A",
                                                     t.audit_events.c.seq == 2))
    result = verify(runtime)
    assert not result.ok
    assert "stream 'device:A' event 3" in str(result.broken)
    assert "missing" in str(result.broken)


def test_real_operations_leave_a_verifiable_chain(device: Device, accounts: Accounts,
                                                  runtime: Services, clock: FixedClock) -> None:
    owner = accounts.new()
    device.activate().record()
    device.bind(owner.token).record()
    clock.advance(60)
    device.activate().record()
    device.activate(owner.token).record()
    result = verify(runtime)
    assert result.ok, result.broken
    streams = {e.stream for e in audit(runtime)}
    assert streams == {"provisioning", f"device:{device.device_id}",
                       f"account:{owner.account_id}"}
    assert result.streams == 3


# ------------------------------------------------------------------------------ claims index


def owner_claim(device_id: str, holder: str, at: int, kind: ClaimKind = ClaimKind.OWNER
                ) -> Claim:
    return Claim(claim_id=secrets.token_hex(16), device_id=device_id, kind=kind,
                 holder=holder, created_at=at, holder_hint="o***@e***.com")


def test_one_active_owner_claim_per_device(device: Device, runtime: Services,
                                           clock: FixedClock) -> None:
    first = owner_claim(device.device_id, "account-1", clock.now())
    with runtime.uow() as tx:
        tx.claims.add(first)
    with pytest.raises(IntegrityError), runtime.uow() as tx:
        tx.claims.add(owner_claim(device.device_id, "account-2", clock.now()))
    # the same account cannot hold two either
    with pytest.raises(IntegrityError), runtime.uow() as tx:
        tx.claims.add(owner_claim(device.device_id, "account-1", clock.now()))
    # other kinds of claim sit beside the owner's
    with runtime.uow() as tx:
        tx.claims.add(owner_claim(device.device_id, "account-1", clock.now(), ClaimKind.LOST))
    assert len(claims(runtime, device.device_id, active_only=True)) == 2

    clock.advance(10)
    with runtime.uow() as tx:
        assert tx.claims.release(first.claim_id, clock.now(), by="test")
        assert not tx.claims.release(first.claim_id, clock.now(), by="test")  # once
    with runtime.uow() as tx:
        tx.claims.add(owner_claim(device.device_id, "account-2", clock.now()))
    active = [c for c in claims(runtime, device.device_id, active_only=True)
              if c.kind == "owner"]
    assert [c.holder for c in active] == ["account-2"]
    assert len(claims(runtime, device.device_id)) == 3


def test_a_claim_needs_a_provisioned_device(runtime: Services, clock: FixedClock) -> None:
    with pytest.raises(IntegrityError), runtime.uow() as tx:
        tx.claims.add(owner_claim("NEVER-PROVISIONED", "account-1", clock.now()))


# ------------------------------------------------------------------------------ nonces


@pytest.fixture
def second_runtime(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    """Another replica: same database, same key ring directory, its own engine."""
    replica = bootstrap(settings, clock=clock)
    yield replica
    replica.close()


def test_a_nonce_is_single_use_across_replicas(device: Device, runtime: Services,
                                               second_runtime: Services) -> None:
    replica = TestClient(create_app(second_runtime))
    nonce = device.fresh_nonce()  # issued by the first replica
    jws, _ = device.sign(ACTIVATION, {"signals": {}}, nonce=nonce)
    body = json.dumps(jws)
    first = replica.post(ACTIVATION, content=body, headers={"Content-Type": JOSE})
    assert first.status_code == 200, first.text  # the other replica accepts it once
    for client in (replica, device.client):
        again = client.post(ACTIVATION, content=body, headers={"Content-Type": JOSE})
        assert again.status_code == 400
        assert again.json()["type"] == "urn:tenure:problem:bad-nonce"
    assert len(audit(runtime, f"device:{device.device_id}")) == 1
    replica.close()


def test_nonce_service_refuses_a_second_use_on_another_runtime(
        runtime: Services, second_runtime: Services) -> None:
    nonce = runtime.nonces.issue()
    with second_runtime.uow() as tx:
        second_runtime.nonces.use(tx, nonce)
    with pytest.raises(BadNonce), runtime.uow() as tx:
        runtime.nonces.use(tx, nonce)


def test_purging_used_nonces_does_not_reopen_them(device: Device, runtime: Services,
                                                  clock: FixedClock) -> None:
    reply = device.activate()
    reply.record()
    clock.advance(runtime.settings.nonce_ttl_seconds + 1)
    with runtime.uow() as tx:
        assert tx.nonces.purge(clock.now()) == 1
    assert count(runtime, t.used_nonces) == 0
    device.replay(reply).problem("bad-nonce", 400)
    assert len(audit(runtime, f"device:{device.device_id}")) == 1


# ------------------------------------------------------------------------------ races


def test_two_accounts_binding_at_once_get_one_owner(device: Device, accounts: Accounts,
                                                    runtime: Services) -> None:
    first, second = accounts.new(), accounts.new()
    device.activate().record()
    bodies = [json.dumps(device.sign(BIND, {"account_token": acct.token})[0])
              for acct in (first, second)]
    clients = [TestClient(create_app(runtime)) for _ in bodies]
    results = race([partial(c.post, BIND, content=b, headers={"Content-Type": JOSE})
                    for c, b in zip(clients, bodies, strict=True)])
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409], [r.text for r in results]
    [refused] = [r for r in results if r.status_code == 409]
    assert refused.json()["type"] == "urn:tenure:problem:already-bound"
    assert len(claims(runtime, device.device_id, active_only=True)) == 1
    assert len(claims(runtime, device.device_id)) == 1
    with runtime.uow(readonly=True) as tx:
        assert verify_chain(tx.conn).ok


def test_concurrent_activations_all_succeed_and_keep_the_chain(
        make_device: Callable[..., Device], runtime: Services) -> None:
    device = make_device()
    bodies = [json.dumps(device.sign(ACTIVATION, {"signals": {}})[0]) for _ in range(4)]
    clients = [TestClient(create_app(runtime)) for _ in bodies]
    results = race([partial(c.post, ACTIVATION, content=b, headers={"Content-Type": JOSE})
                    for c, b in zip(clients, bodies, strict=True)])
    assert [r.status_code for r in results] == [200] * 4, [r.text for r in results]
    events = audit(runtime, f"device:{device.device_id}")
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert count(runtime, t.used_nonces) == 4
    with runtime.uow(readonly=True) as tx:
        assert verify_chain(tx.conn).ok
    assert rows(runtime, t.devices)[0].activated_at is not None
