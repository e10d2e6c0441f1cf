"""The organization API over HTTP on SQLite and PostgreSQL: bulk claims, the device view,
release, bypass codes, and what the device sees at activation — with the wrong-code
throttle and the spending of a code holding under concurrent requests.

Refusals are checked the way a tenant meets them: 401 without a key, 403 for a key of
another role, and a device it may not see answering exactly like one that does not exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.http.app import create_app
from tenure.store import tables as t

from .helpers import ACTIVATION, Device, bearer, dump, outbox, provision, race, rows
from .test_unlock_api import Server

CODE = re.compile(r"^[0-9ACDEFGHJKLMNPQRTUVWXYZ]{5}-[0-9ACDEFGHJKLMNPQRTUVWXYZ]{5}"
                  r"(-[0-9ACDEFGHJKLMNPQRTUVWXYZ]{4}){4}$")
WRONG = "00000-00000-0000-0000-0000-0000"
LOCK_MESSAGE = "This device belongs to Acme Fleet. Enter the code your administrator gave you."


class Org:
    """An organization tenant with its key, driving /v1/org/* through the app."""

    def __init__(self, runtime: Services, client: TestClient, name: str = "Acme Fleet") -> None:
        self.runtime = runtime
        self.client = client
        tenant = runtime.tenants.create("organization", name, "it@acme.example")
        self.tenant_id = tenant.tenant_id
        self.key = runtime.api_keys.create("organization", "fleet", tenant.tenant_id)

    def assign(self, *devices: Device) -> None:
        report = self.runtime.tenants.assign(self.tenant_id, [d.device_id for d in devices])
        assert report.committed, report

    def claim(self, ids: Any, key: str | None = None) -> httpx.Response:
        return self.client.post("/v1/org/devices", json={"device_ids": ids},
                                headers=bearer(key or self.key))

    def show(self, device_id: str, key: str | None = None) -> httpx.Response:
        return self.client.get(f"/v1/org/devices/{device_id}", headers=bearer(key or self.key))

    def release(self, device_id: str, key: str | None = None) -> httpx.Response:
        return self.client.delete(f"/v1/org/devices/{device_id}",
                                  headers=bearer(key or self.key))

    def new_code(self, device_id: str, key: str | None = None) -> httpx.Response:
        return self.client.post(f"/v1/org/devices/{device_id}/bypass-code",
                                headers=bearer(key or self.key))

    def code(self, device_id: str) -> str:
        answer = self.new_code(device_id)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["bypass_code"])

    def held(self, device: Device) -> Device:
        self.assign(device)
        answer = self.claim([device.device_id])
        assert answer.json()["claimed"] == [device.device_id], answer.text
        return device


@pytest.fixture
def org(runtime: Services, client: TestClient) -> Org:
    return Org(runtime, client)


def problem(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:tenure:problem:{name}", body
    return body


def activate(device: Device, code: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"signals": {"sim_mcc": ["262"]}}
    if code is not None:
        payload["bypass_code"] = code
    return device.post(ACTIVATION, payload).record()


# -- claims ---------------------------------------------------------------------------------

def test_bulk_claim_refuses_everything_else_alike(org: Org, runtime: Services,
                                                 client: TestClient,
                                                 make_device: Callable[..., Device]) -> None:
    mine, other, stranger = make_device(), make_device(), make_device()
    rival = Org(runtime, client, "Rival")
    rival.held(other)
    org.assign(mine, other)
    answer = org.claim([mine.device_id, other.device_id, stranger.device_id, "NOSUCH",
                        "x" * 300])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {"claimed": [mine.device_id], "refused": [
        {"device_id": d, "reason": "not-claimable"}
        for d in (other.device_id, stranger.device_id, "NOSUCH", "x" * 300)]}
    again = org.claim([mine.device_id])
    assert again.json() == {"claimed": [mine.device_id], "refused": []}
    held = rows(runtime, t.claims, t.claims.c.device_id == mine.device_id,
                t.claims.c.released_at.is_(None))
    assert [(c.kind, c.holder, c.message, c.contact) for c in held] == [
        ("organization", org.tenant_id, LOCK_MESSAGE, "it@acme.example")]


def test_a_thousand_devices_in_a_few_statements(org: Org, runtime: Services,
                                                make_device: Callable[..., Device]) -> None:
    devices = [make_device(provisioned=False) for _ in range(1000)]
    provision(runtime, *devices)
    org.assign(*devices)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2])[:60])

    engine = runtime.uow.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = org.claim([d.device_id for d in devices] + ["NOSUCH"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    assert len(answer.json()["claimed"]) == 1000
    assert len(statements) < 25, statements  # batch reads and writes, not one per device
    assert len(rows(runtime, t.audit_events, t.audit_events.c.action ==
                    "claim.organization.added")) == 1000


def test_request_limits(org: Org, client: TestClient) -> None:
    problem(org.claim([f"D{i}" for i in range(10_001)]), 413, "too-large")
    problem(org.claim("D1"), 422, "invalid-input")
    problem(org.claim([1, 2]), 422, "invalid-input")
    problem(client.post("/v1/org/devices", content=b"{", headers=bearer(org.key)), 400,
            "malformed")
    big = json.dumps({"device_ids": ["D" * 60] * 9000}).encode()  # ~ 580 KiB: allowed
    assert 65536 < len(big) < 1024 * 1024
    assert client.post("/v1/org/devices", content=big,
                       headers={**bearer(org.key), "content-type": "application/json"}
                       ).status_code == 200
    huge = json.dumps({"device_ids": ["D" * 120] * 9000}).encode()
    problem(client.post("/v1/org/devices", content=huge, headers=bearer(org.key)), 413,
            "too-large")


def test_keys_401_403_and_another_tenants_device_is_404_like_none(
        org: Org, runtime: Services, client: TestClient,
        make_device: Callable[..., Device]) -> None:
    device = org.held(make_device())
    rival = Org(runtime, client, "Rival")
    creditor = runtime.tenants.create("creditor", "Loans")
    loans = runtime.api_keys.create("creditor", "k", creditor.tenant_id)
    factory = runtime.api_keys.create("factory", "f")
    before = dump(runtime)
    for call in (org.show, org.release, org.new_code):
        problem(client.request(*_route(call, device.device_id)), 401, "unauthorized")
        problem(call(device.device_id, "tnr_abc_def"), 401, "unauthorized")
        problem(call(device.device_id, factory), 403, "forbidden")
        problem(call(device.device_id, loans), 403, "forbidden")
        theirs = problem(call(device.device_id, rival.key), 404, "not-found")
        none = problem(call("NOSUCHDEVICE1", rival.key), 404, "not-found")
        assert theirs["detail"].replace(device.device_id, "X") == \
            none["detail"].replace("NOSUCHDEVICE1", "X")
    problem(org.claim([device.device_id], factory), 403, "forbidden")
    problem(client.post("/v1/org/devices", json={"device_ids": []}), 401, "unauthorized")
    assert rival.claim([device.device_id]).json()["refused"] == [
        {"device_id": device.device_id, "reason": "not-claimable"}]
    assert dump(runtime) == before


def _route(call: Callable[..., httpx.Response], device_id: str) -> tuple[str, str]:
    name = call.__name__
    method = {"show": "GET", "release": "DELETE", "new_code": "POST"}[name]
    suffix = "/bypass-code" if name == "new_code" else ""
    return method, f"/v1/org/devices/{device_id}{suffix}"


def test_view_and_release(org: Org, runtime: Services, make_device: Callable[..., Device],
                          accounts: Any) -> None:
    device = make_device()
    owner = accounts.new()
    activate(device)
    assert device.bind(owner.token).status_code == 200
    org.held(device)
    view = org.show(device.device_id)
    assert view.status_code == 200
    assert view.json() == {"device_id": device.device_id, "claimed_at": runtime.clock.now(),
                           "last_checkin": None, "code_issued_at": None}
    issued = org.new_code(device.device_id).json()["issued_at"]
    assert org.show(device.device_id).json()["code_issued_at"] == issued
    assert org.release(device.device_id).status_code == 204
    problem(org.show(device.device_id), 404, "not-found")
    subjects = [m.subject for m in outbox(runtime, owner.email)]
    assert "Acme Fleet now holds a claim on your device" in subjects
    assert "Acme Fleet released its claim on your device" in subjects
    actions = [r.action for r in rows(runtime, t.audit_events,
                                      t.audit_events.c.stream == f"device:{device.device_id}")]
    assert {"claim.organization.added", "bypass_code.issued",
            "claim.organization.released"} <= set(actions)
    assert rows(runtime, t.bypass_codes) == []


# -- codes and activation --------------------------------------------------------------------

def test_a_new_code_is_shown_once_in_its_format_and_replaces_the_last(
        org: Org, runtime: Services, make_device: Callable[..., Device]) -> None:
    device = org.held(make_device())
    first = org.new_code(device.device_id)
    assert first.status_code == 201 and first.headers["cache-control"] == "no-store"
    stale = first.json()["bypass_code"]
    assert CODE.match(stale)
    code = org.code(device.device_id)
    assert code != stale
    [stored] = rows(runtime, t.bypass_codes)
    assert code not in stored.code_hash and code.replace("-", "") not in stored.code_hash
    locked = activate(device, stale)
    assert locked["status"] == "locked"
    assert locked["locks"] == [{"kind": "organization", "message": LOCK_MESSAGE,
                                "contact": "it@acme.example"}]
    assert activate(device, code.lower().replace("-", ""))["status"] == "activated"
    assert activate(device, code)["status"] == "locked"  # spent
    checked_in = device.checkin().record()
    assert checked_in["status"] == "activated"  # the claim does not lock use


def test_concurrent_wrong_codes_pause_after_exactly_five(
        org: Org, runtime: Services, make_device: Callable[..., Device]) -> None:
    device = org.held(make_device())
    code = org.code(device.device_id)
    signed = [device.sign(ACTIVATION, {"signals": {}, "bypass_code": WRONG},
                          nonce=device.fresh_nonce()) for _ in range(7)]
    clients = [TestClient(create_app(runtime)) for _ in signed]
    try:
        answers = race([partial(c.post, ACTIVATION, content=json.dumps(jws),
                                headers={"content-type": "application/jose+json"})
                        for c, (jws, _) in zip(clients, signed, strict=True)])
    finally:
        for c in clients:
            c.close()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 5 + [429] * 2, [a.text[:200] for a in answers]
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) > 0
            assert answer.headers.get("replay-nonce")
    paused = device.post(ACTIVATION, {"signals": {}, "bypass_code": code})
    paused.problem("too-many-attempts", 429)
    runtime.clock.advance(int(paused.response.headers["retry-after"]))
    assert activate(device, code)["status"] == "activated"


def test_one_code_opens_one_of_two_racing_activations(
        org: Org, runtime: Services, make_device: Callable[..., Device]) -> None:
    device = org.held(make_device())
    code = org.code(device.device_id)
    signed = [device.sign(ACTIVATION, {"signals": {}, "bypass_code": code},
                          nonce=device.fresh_nonce()) for _ in range(2)]
    clients = [TestClient(create_app(runtime)) for _ in signed]
    try:
        answers = race([partial(c.post, ACTIVATION, content=json.dumps(jws),
                                headers={"content-type": "application/jose+json"})
                        for c, (jws, _) in zip(clients, signed, strict=True)])
    finally:
        for c in clients:
            c.close()
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    statuses = sorted(device.agent.accept(a.json()["record"], nonce)["status"]
                      for a, (_, nonce) in zip(answers, signed, strict=True))
    assert statuses == ["activated", "locked"]


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def test_bootloader_unlock_is_refused_while_an_organization_holds_the_device(
        server: Server) -> None:
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(200 * 3600)
    tenant = server.runtime.tenants.create("organization", "Acme Fleet")
    server.runtime.tenants.assign(tenant.tenant_id, [phone.device_id])
    key = server.runtime.api_keys.create("organization", "k", tenant.tenant_id)
    server.client.post("/v1/org/devices", json={"device_ids": [phone.device_id]},
                       headers=bearer(key))
    refused = server.ask(owner, phone)
    assert refused.status_code == 403 and "organization" in refused.json()["detail"]
    server.client.delete(f"/v1/org/devices/{phone.device_id}", headers=bearer(key))
    assert server.ask(owner, phone).status_code == 200
