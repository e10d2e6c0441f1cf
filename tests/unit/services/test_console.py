"""The console's use cases on the in-memory fakes: who may read (an agent with a second
factor, an operator's admin key), a device found by IMEI, id or loan id with its claims
and today's decision, and the audit filter a form asks for."""

from __future__ import annotations

import secrets

import pytest

from tenure.domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from tenure.domain.model import ClaimKind, DeviceStatus
from tenure.services.apikeys import ApiKeys
from tenure.services.audit_search import AuditSearch, read_filter
from tenure.services.console_lookup import DeviceLookup
from tenure.services.ports import AuditFilter, TotpRow
from tenure.services.tokens import digest

from .conftest import COOLDOWN, World


def agent_token(world: World, second_factor: bool = True) -> str:
    """A support agent's session, signed in with a code (or, without a second factor,
    with the password only)."""
    agent = world.owner()
    now = world.clock.now()
    world.uow.state.support_agents[agent.account_id] = now
    if second_factor:
        world.uow.state.totp[agent.account_id] = TotpRow(agent.account_id, "S" * 32, now, None)
    token = secrets.token_urlsafe(32)
    with world.uow() as tx:
        tx.sessions.create(digest(token), agent.account_id, now, now + 3600,
                           factor="totp" if second_factor else "password")
    return token


def lookup(world: World) -> DeviceLookup:
    return DeviceLookup(world.uow, world.clock, COOLDOWN)


def test_only_agents_with_a_second_factor_and_admin_keys_read(world: World) -> None:
    keys = ApiKeys(world.uow, world.clock)
    find = lookup(world).find
    assert find(agent_token(world), None, "").matches == []
    assert find(None, keys.create("admin", "ops"), "").matches == []
    with pytest.raises(Forbidden, match="second factor"):
        find(agent_token(world, second_factor=False), None, "x")
    with pytest.raises(Forbidden, match="not a support agent"):
        find(world.owner().token, None, "x")
    with pytest.raises(Forbidden, match="role 'policy'"):
        find(None, keys.create("policy", "compliance"), "x")
    with pytest.raises(Unauthorized):
        find(None, "tnr_0000_made-up", "x")
    with pytest.raises(Unauthorized):
        find(None, None, "x")


def test_a_device_is_found_with_every_claim_and_the_decision_now(world: World) -> None:
    phone = world.phone(activated=True)
    owner = world.owner()
    bound = world.bind(phone, owner)
    world.clock.advance(60)  # claims are listed in the order made
    gone = world.claim(phone, ClaimKind.LOST, owner.account_id, message="call me")
    with world.uow() as tx:
        tx.claims.release(gone.claim_id, world.clock.now(), by=f"account:{owner.account_id}")
        tx.audit.record(f"device:{phone.device_id}", "claim.owner.bound",
                        actor=f"account:{owner.account_id}", at=world.clock.now())
    found = lookup(world).find(agent_token(world), None, phone.device_id)
    assert [(m.device_id, m.by) for m in found.matches] == [(phone.device_id, "device id")]
    report = found.report
    assert report is not None
    assert [(line.entry.claim.claim_id, line.entry.released_at is None)
            for line in report.claims] == [(bound.claim_id, True), (gone.claim_id, False)]
    assert report.decision.status is DeviceStatus.ACTIVATED  # the lost claim is released
    assert report.decision.reasons == (
        f"owner claim {bound.claim_id}: device activated, in use by its owner",
        "territory policy: no restriction where the device is (unknown)")
    assert [e.action for e in report.trail] == ["claim.owner.bound"]
    assert lookup(world).find(agent_token(world), None, "NOPE-404").matches == []
    with pytest.raises(NotFound):
        lookup(world).device(agent_token(world), None, "NOPE-404")
    with pytest.raises(InvalidInput):
        lookup(world).find(agent_token(world), None, "x" * 200)


def test_the_audit_filter_reads_a_form(world: World) -> None:
    where = read_filter({"stream": " device:A ", "action": "case.", "from": "2026-01-02",
                         "to": "2026-01-02", "before": "1700000000.7.device:A"})
    assert where == AuditFilter("device:A", "case.", None, 1767312000, 1767398400,
                                (1700000000, "device:A", 7))
    for bad in ({"from": "yesterday"}, {"from": "2026-01-03", "to": "2026-01-02"},
                {"before": "7"}, {"actor": "x" * 201}):
        with pytest.raises(InvalidInput):
            read_filter(bad)


def test_the_audit_page_resolves_an_imei_and_pages_back(world: World) -> None:
    key = ApiKeys(world.uow, world.clock).create("admin", "ops")
    phone = world.phone()
    with world.uow() as tx:
        tx.devices.insert_many([], [("490154203237518", phone.device_id)])
        for n in range(55):
            tx.audit.record(f"device:{phone.device_id}", "test.event", actor="test",
                            at=1000 + n, n=n)
    search = AuditSearch(world.uow, world.clock)
    first = search.page(key, AuditFilter(stream="490154203237518"))
    assert first.stream == f"device:{phone.device_id}"
    assert len(first.entries) == 50 and first.entries[0].at == 1054
    assert first.chain is not None and first.chain.events == 55
    assert first.next_before is not None
    rest = search.page(key, AuditFilter(stream=first.stream, before=first.next_before))
    assert [e.at for e in rest.entries] == [1004, 1003, 1002, 1001, 1000]
    assert rest.next_before is None
    with pytest.raises(Forbidden):
        search.page(ApiKeys(world.uow, world.clock).create("policy", "p"), AuditFilter())
