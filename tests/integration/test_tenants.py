"""Tenants over the real store (SQLite and PostgreSQL): the operator's tenants, device
assignment, tenant API keys and the principal, the owner's consent over HTTP, disabling
a tenant, the webhook event rows and the batched audit appends a fleet claim uses."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.domain.errors import Forbidden, InvalidInput, Unauthorized
from tenure.domain.model import Claim, ClaimKind
from tenure.http.app import create_app
from tenure.services.ports import Tx
from tenure.services.tenant_access import TenantPrincipal, may_claim, require_tenant
from tenure.store import tables as t

from .helpers import count, dump, outbox, rows
from .test_unlock_api import DAY, Phone, Server, problem


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def org(server: Server, name: str = "Acme Fleet") -> tuple[str, str]:
    """A live organization and an API key for it: (tenant_id, key)."""
    tenant = server.runtime.tenants.create("organization", name, "it@acme.example")
    return tenant.tenant_id, server.runtime.api_keys.create("organization", "k",
                                                            tenant.tenant_id)


def principal(server: Server, key: str | None, kind: str = "organization") -> TenantPrincipal:
    with server.runtime.uow(readonly=True) as tx:
        return require_tenant(tx, key, kind)


def consent(server: Server, token: str | None, device_id: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return server.client.post(f"/v1/me/devices/{device_id}/consents", json=body,
                              headers=headers)


def test_assign_stores_known_devices_once(server: Server) -> None:
    tenant_id, _ = org(server)
    a, b = server.phone(), server.phone()
    report = server.runtime.tenants.assign(tenant_id, [a.device_id, "NOPE-1"])
    assert not report.committed and report.unknown == ["NOPE-1"]
    assert count(server.runtime, t.tenant_devices) == 0
    report = server.runtime.tenants.assign(tenant_id, [a.device_id, b.device_id])
    assert (report.assigned, report.already) == (2, 0)
    report = server.runtime.tenants.assign(tenant_id, [b.device_id, a.device_id])
    assert (report.assigned, report.already) == (0, 2)
    assert count(server.runtime, t.tenant_devices) == 2
    for device in (a, b):
        assert [e["action"] for e in server.events(f"device:{device.device_id}")] == [
            "tenant.device_assigned"]
    assert server.chain_intact()


def test_tenant_keys_and_the_principal(server: Server) -> None:
    tenant_id, key = org(server)
    assert principal(server, key).tenant_id == tenant_id
    with pytest.raises(Unauthorized):
        principal(server, "tnr_nope_nope")
    with pytest.raises(Forbidden):
        principal(server, server.runtime.api_keys.create("factory", "f"))
    with pytest.raises(Forbidden):
        principal(server, key, "creditor")
    with pytest.raises(InvalidInput):
        server.runtime.api_keys.create("creditor", "c", tenant_id)
    [row] = [k for k in server.runtime.api_keys.all_keys() if k.role == "organization"]
    assert row.tenant_id == tenant_id


def test_an_owner_consents_and_the_tenant_may_then_claim(server: Server) -> None:
    tenant_id, key = org(server)
    owner = server.register()
    phone = server.owned_phone(owner)
    who = principal(server, key)
    with server.runtime.uow(readonly=True) as tx:
        assert not may_claim(tx, who, phone.device_id)
    answer = consent(server, server.sign_in(owner), phone.device_id, {"tenant_id": tenant_id})
    assert answer.status_code == 204, answer.text
    with server.runtime.uow(readonly=True) as tx:
        assert may_claim(tx, who, phone.device_id)
    [row] = rows(server.runtime, t.consents)
    assert (row.device_id, row.tenant_id, row.account_id) == (
        phone.device_id, tenant_id, owner.account_id)
    assert [e["action"] for e in server.events(f"device:{phone.device_id}")][-1] == \
        "consent.given"
    assert any("allowed Acme Fleet" in m.subject for m in outbox(server.runtime, owner.email))


def test_consent_refusals_change_nothing(server: Server) -> None:
    tenant_id, _ = org(server)
    owner, stranger = server.register(), server.register()
    phone = server.owned_phone(owner)
    disabled, _ = org(server, "Gone Corp")
    server.runtime.tenants.disable(disabled)
    token = server.sign_in(owner)
    before = dump(server.runtime)
    problem(consent(server, None, phone.device_id, {"tenant_id": tenant_id}), 401,
            "unauthorized")
    problem(consent(server, server.sign_in(stranger), phone.device_id,
                    {"tenant_id": tenant_id}), 404, "not-found")
    problem(consent(server, token, "NOSUCHDEVICE", {"tenant_id": tenant_id}), 404, "not-found")
    unknown = problem(consent(server, token, phone.device_id, {"tenant_id": "nope"}),
                      404, "not-found")
    gone = problem(consent(server, token, phone.device_id, {"tenant_id": disabled}),
                   404, "not-found")
    assert unknown["detail"].replace("nope", "X") == gone["detail"].replace(disabled, "X")
    problem(consent(server, token, phone.device_id, {}), 422, "invalid-input")
    problem(server.client.post(f"/v1/me/devices/{phone.device_id}/consents", content=b"[",
                               headers={"Authorization": f"Bearer {token}"}), 400, "malformed")
    server.clock.advance(301)
    problem(consent(server, token, phone.device_id, {"tenant_id": tenant_id}), 401,
            "reauthentication-required")
    assert dump(server.runtime, exclude={"sessions"}) == {
        k: v for k, v in before.items() if k != "sessions"}


def test_consent_during_the_credential_cooldown_is_refused(server: Server) -> None:
    tenant_id, _ = org(server)
    owner = server.register()
    phone = server.owned_phone(owner)
    with server.runtime.uow() as tx:
        tx.accounts.set_password(owner.account_id, "x", server.clock.now())
    body = problem(consent(server, server.sign_in(owner), phone.device_id,
                           {"tenant_id": tenant_id}), 403, "credential-cooldown")
    assert body["until"] > server.clock.now()
    server.clock.advance(3 * DAY + 1)
    assert consent(server, server.sign_in(owner), phone.device_id,
                   {"tenant_id": tenant_id}).status_code == 204


def test_disable_releases_every_claim_and_mails_each_owner(server: Server) -> None:
    tenant_id, key = org(server)
    owner = server.register()
    phone, bare = server.owned_phone(owner), server.phone()
    for device_id in (phone.device_id, bare.device_id):
        server.add_claim(device_id, ClaimKind.ORGANIZATION, tenant_id)
    report = server.runtime.tenants.disable(tenant_id)
    assert (report.keys_revoked, report.claims_released) == (1, 2)
    active = rows(server.runtime, t.claims, t.claims.c.holder == tenant_id,
                  t.claims.c.released_at.is_(None))
    assert active == []
    for device_id in (phone.device_id, bare.device_id):
        assert "claim.organization.released" in [
            e["action"] for e in server.events(f"device:{device_id}")]
    assert any("released its claim" in m.subject for m in outbox(server.runtime, owner.email))
    with pytest.raises(Unauthorized):
        principal(server, key)
    assert server.chain_intact()


def test_events_are_ordered_per_tenant_and_device(server: Server) -> None:
    tenant_id, _ = org(server)
    phone = server.phone()

    def emit(tx: Tx) -> None:
        tx.events.emit(tenant_id, "device.enrolled", phone.device_id, 5, {"loan_id": "L-1"})
        tx.events.emit(tenant_id, "device.locked", phone.device_id, 6, {"loan_id": "L-1"})

    server.runtime.uow.run(emit)
    found = rows(server.runtime, t.tenant_events, order_by=t.tenant_events.c.seq)
    assert [(r.event, r.seq, r.attempts, r.delivered_at) for r in found] == [
        ("device.enrolled", 1, 0, None), ("device.locked", 2, 0, None)]
    payload = json.loads(found[0].payload)
    assert payload == {"id": found[0].event_id, "aud": tenant_id, "event": "device.enrolled",
                       "device_id": phone.device_id, "at": 5, "loan_id": "L-1"}
    assert found[0].next_attempt_at == 5


def test_batched_audit_and_claims_keep_the_chain(server: Server) -> None:
    phones: list[Phone] = [server.phone() for _ in range(3)]
    server.runtime.tenants.create("organization", "X")  # a tenant-stream event first
    tenant_id, _ = org(server)
    with server.runtime.uow() as tx:
        tx.audit.record(f"device:{phones[0].device_id}", "test.before", actor="t", at=1)
        tx.claims.add_many([Claim(secrets.token_hex(16), p.device_id,
                                  ClaimKind.ORGANIZATION, tenant_id, 2) for p in phones])
        tx.audit.record_many("claim.organization.added", f"tenant:{tenant_id}", 2,
                             [(f"device:{p.device_id}", {"n": i})
                              for i, p in enumerate(phones)])
    assert server.chain_intact()
    assert [e["action"] for e in server.events(f"device:{phones[0].device_id}")][-2:] == [
        "test.before", "claim.organization.added"]
    with server.runtime.uow(readonly=True) as tx:
        held = tx.claims.held_by(tenant_id)
        by_device = tx.claims.active_for_devices([p.device_id for p in phones])
    assert len(held) == 3 and all(len(v) == 1 for v in by_device.values())


def test_one_organization_claim_per_device_is_enforced_by_the_database(server: Server) -> None:
    phone = server.phone()
    server.add_claim(phone.device_id, ClaimKind.ORGANIZATION, "org-a")
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        server.add_claim(phone.device_id, ClaimKind.ORGANIZATION, "org-b")


