"""Redress over HTTP on SQLite and PostgreSQL: deleting an account, writing to whoever
holds a device through the relay, and turning the second factor off or renewing its
recovery codes (docs/protocol.md Part 2 and our extensions)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services, bootstrap
from tenure.config import Settings
from tenure.domain.model import ClaimKind
from tenure.http.app import create_app
from tenure.store import tables as t

from .helpers import message_ids, new_mail, outbox, rows
from .test_unlock_api import Server, problem

SENDER = "finder@example.org"


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def last_line_after(server: Server, to: str, label: str) -> str:
    for mail in reversed(outbox(server.runtime, to)):
        found = re.search(rf"^{label}:\n(\S+)$", mail.body, re.MULTILINE)
        if found:
            return found.group(1)
    raise AssertionError(f"no {label} mailed to {to}")


def write(server: Server, body: dict[str, Any]) -> httpx.Response:
    return server.client.post("/v1/public/messages", json=body)


# -- DELETE /v1/me -------------------------------------------------------------------------

def test_an_account_is_deleted_only_once_it_holds_nothing(server: Server) -> None:
    owner = server.register_api()
    phone = server.owned_phone(owner)
    token = server.sign_in(owner)
    problem(server.client.delete("/v1/me", headers=auth(token)), 409, "claims-held")
    assert server.client.delete(f"/v1/me/devices/{phone.device_id}",
                                headers=auth(token)).status_code == 204
    other_session = server.sign_in(owner)
    server.runtime.mail.dispatch()  # mail already sent is forgotten; unsent mail still goes
    assert server.client.delete("/v1/me", headers=auth(token)).status_code == 204

    problem(server.client.get("/v1/me/devices", headers=auth(other_session)), 401,
            "unauthorized")
    problem(server.client.post("/v1/sessions", json={"email": owner.email,
                                                     "password": owner.password}),
            401, "invalid-credentials")
    [account] = rows(server.runtime, t.accounts, t.accounts.c.account_id == owner.account_id)
    assert owner.email not in (account.email, account.password_hash)
    assert rows(server.runtime, t.sessions, t.sessions.c.account_id == owner.account_id) == []
    assert [m.subject for m in outbox(server.runtime, owner.email)] == [
        "Your account was deleted"]
    assert server.events(f"account:{owner.account_id}")[-1]["action"] == "account.deleted"
    assert server.chain_intact()
    again = server.client.post("/v1/accounts", json={"email": owner.email,
                                                     "password": owner.password})
    assert again.status_code == 201 and again.json()["account_id"] != owner.account_id


def test_deleting_needs_a_fresh_sign_in(server: Server) -> None:
    owner = server.register()
    token = server.sign_in(owner)
    server.clock.advance(301)
    problem(server.client.delete("/v1/me", headers=auth(token)), 401,
            "reauthentication-required")
    problem(server.client.delete("/v1/me"), 401, "unauthorized")


# -- the relay -----------------------------------------------------------------------------

def test_a_message_reaches_the_owner_and_the_reply_comes_back(server: Server) -> None:
    owner = server.register()
    phone = server.owned_phone(owner)
    imei = phone.agent.identity.imeis[0]
    answer = write(server, {"imei": imei, "from": SENDER, "message": "Found it in a taxi"})
    assert answer.status_code == 202, answer.text
    assert outbox(server.runtime, owner.email)[-1].subject != "A message about your Tenure Phone 1"
    seen = message_ids(server.runtime, owner.email)
    confirmed = server.client.post("/v1/public/messages/confirm",
                                   json={"token": last_line_after(server, SENDER, "Token")})
    assert confirmed.status_code == 202 and confirmed.content == b""
    mail = new_mail(server.runtime, owner.email, seen)
    assert "Found it in a taxi" in mail.body and SENDER not in mail.body
    message_id = re.search(r"/v1/me/messages/(\w+)/reply", mail.body)
    assert message_id

    path = f"/v1/me/messages/{message_id.group(1)}/reply"
    mallory = server.sign_in(server.register())
    problem(server.client.post(path, json={"message": "hi"}, headers=auth(mallory)),
            404, "not-found")
    seen = message_ids(server.runtime, SENDER)
    replied = server.client.post(path, json={"message": "Thanks, keep it safe"},
                                 headers=auth(server.sign_in(owner)))
    assert replied.status_code == 202, replied.text
    reply = new_mail(server.runtime, SENDER, seen)
    assert "Thanks, keep it safe" in reply.body and owner.email not in reply.body
    problem(server.client.post("/v1/public/messages/confirm",
                               json={"token": last_line_after(server, SENDER, "Token")}),
            400, "invalid-token")


def test_bad_messages_and_unknown_devices(server: Server) -> None:
    phone = server.phone()
    problem(write(server, {"from": SENDER, "message": "x"}), 400, "malformed")
    problem(write(server, {"device_id": phone.device_id, "from": "x", "message": "x"}),
            422, "invalid-input")
    problem(write(server, {"device_id": phone.device_id, "from": SENDER,
                           "message": "x" * 1001}), 422, "invalid-input")
    problem(write(server, {"device_id": "NOSUCHDEVICE1", "from": SENDER, "message": "x"}),
            404, "unknown-device")
    problem(server.client.post("/v1/public/messages/confirm", json={"token": "nope"}),
            400, "invalid-token")


@pytest.fixture
def limited(settings: Settings, runtime: Services) -> Iterator[Server]:
    rt = bootstrap(dataclasses.replace(settings, relay_sender_limit=2, relay_device_limit=3),
                   clock=runtime.clock)
    client = TestClient(create_app(rt))
    yield Server(rt, client)
    client.close()
    rt.close()


def test_the_relay_is_limited_per_sender_and_per_device(limited: Server) -> None:
    phone = limited.phone()
    body = {"device_id": phone.device_id, "message": "hello"}
    assert write(limited, {**body, "from": SENDER}).status_code == 202
    assert write(limited, {**body, "from": SENDER}).status_code == 202
    refused = write(limited, {**body, "from": SENDER})
    problem(refused, 429, "rate-limited")
    assert int(refused.headers["retry-after"]) > 0
    assert write(limited, {**body, "from": "other@example.org"}).status_code == 202
    problem(write(limited, {**body, "from": "third@example.org"}), 429, "rate-limited")
    senders = limited.runtime.relay.senders(1)
    assert senders[0] == {"from": SENDER, "asked": 2, "confirmed": 0, "devices": 1,
                          "replies": 0, "last": limited.clock.now()}


# -- the second factor: off, and new recovery codes (our extension) -------------------------

def test_the_second_factor_turned_off_and_recovery_codes_renewed(server: Server) -> None:
    owner = server.register_api()
    token = server.sign_in(owner)
    secret = server.client.post("/v1/me/totp", headers=auth(token)).json()["secret"]
    totp = pyotp.TOTP(secret)
    old = server.client.post("/v1/me/totp/confirm", headers=auth(token),
                             json={"code": totp.at(server.clock.now())}).json()
    server.clock.advance(30)
    renewed = server.client.post("/v1/me/totp/recovery-codes", headers=auth(token),
                                 json={"code": totp.at(server.clock.now())})
    assert renewed.status_code == 200 and renewed.headers["cache-control"] == "no-store"
    new = renewed.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old["recovery_codes"])
    problem(server.client.request("DELETE", "/v1/me/totp", headers=auth(token),
                                  json={"code": "123456"}), 422, "invalid-input")
    assert server.client.request("DELETE", "/v1/me/totp", headers=auth(token),
                                 json={"code": new[0]}).status_code == 204
    signed = server.client.post("/v1/sessions", json={"email": owner.email,
                                                      "password": owner.password})
    assert signed.status_code == 201
    problem(server.client.request("DELETE", "/v1/me/totp", headers=auth(token),
                                  json={"code": new[1]}), 404, "not-found")


def test_a_tenant_holding_the_device_gets_a_device_message_event(server: Server) -> None:
    tenant = server.runtime.tenants.create("creditor", "Acme Finance", "loans@acme.example")
    phone = server.phone()
    server.add_claim(phone.device_id, ClaimKind.CREDITOR, tenant.tenant_id)
    assert write(server, {"device_id": phone.device_id, "from": SENDER,
                          "message": "Who finances this phone?"}).status_code == 202
    assert server.client.post("/v1/public/messages/confirm", json={
        "token": last_line_after(server, SENDER, "Token")}).status_code == 202
    [event] = rows(server.runtime, t.tenant_events,
                   t.tenant_events.c.tenant_id == tenant.tenant_id)
    payload = json.loads(event.payload)
    assert (payload["event"], payload["device_id"], payload["text"]) == (
        "device.message", phone.device_id, "Who finances this phone?")
    assert SENDER not in event.payload
