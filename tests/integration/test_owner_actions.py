"""One rule for every owner action that weakens a device's protection (PROTOCOL.md
Part 2 preamble): removing the device, unbinding it, lifting lost mode, wiping it and
unlocking its bootloader each need a fresh sign-in (`401 reauthentication-required`) AND a password
not changed by a reset within the cool-down (`403 credential-cooldown` with `until`).

Regression: lifting lost mode answered 204 during the cool-down and with a 10-day-old
session, so whoever reset the password could free a lost phone at once.
Through the real app on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.crypto.jws import sign_flattened
from tenure.domain.model import ClaimKind
from tenure.http.app import create_app

from .helpers import new_reset_token
from .test_unlock_api import Owner, Phone, Server, problem

DAY = 86_400
LOST = {"message": "Lost in Lisbon, reward if found", "contact": "+351 555 0101"}


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unbind(server: Server, phone: Phone, token: str) -> httpx.Response:
    """A signed unbind request, answered whatever its status."""
    path = "/v1/device/unbind"
    nonce = server.client.head("/v1/device/nonce").headers["replay-nonce"]
    body = sign_flattened({"kid": phone.device_id, "nonce": nonce, "url": path},
                          {"account_token": token}, phone.key)
    return server.client.post(path, content=json.dumps(body),
                              headers={"Content-Type": "application/jose+json"})


def report_lost(server: Server, phone: Phone, token: str, body: Any = None) -> httpx.Response:
    return server.client.post(f"/v1/me/devices/{phone.device_id}/lost", json=body or LOST,
                              headers=auth(token))


Action = Callable[[Server, Phone, str], httpx.Response]
ACTIONS: dict[str, Action] = {
    "remove": lambda s, p, tok: s.client.delete(f"/v1/me/devices/{p.device_id}",
                                                headers=auth(tok)),
    "unbind": unbind,
    "lift-lost": lambda s, p, tok: s.client.delete(f"/v1/me/devices/{p.device_id}/lost",
                                                   headers=auth(tok)),
    "unlock": lambda s, p, tok: s.unlock(tok, p.bl_token()),
    "wipe": lambda s, p, tok: s.client.post(f"/v1/me/devices/{p.device_id}/commands",
                                            json={"type": "wipe"}, headers=auth(tok)),
}


def active_kinds(server: Server, phone: Phone) -> list[ClaimKind]:
    with server.runtime.uow(readonly=True) as tx:
        return sorted(c.kind for c in tx.claims.active(phone.device_id))


def owned(server: Server) -> tuple[Owner, Phone]:
    owner = server.register()
    phone = server.owned_phone(owner)
    return owner, phone


def reset_password(server: Server, owner: Owner) -> int:
    """The password reset a mailbox thief can do; returns when the password changed."""
    assert server.client.post("/v1/password-resets",
                              json={"email": owner.email}).status_code == 202
    token = new_reset_token(server.runtime, owner.email)
    assert server.client.post("/v1/password-resets/confirm", json={
        "token": token, "new_password": "a brand new passphrase"}).status_code == 204
    return server.clock.now()


@pytest.mark.parametrize("action", list(ACTIONS))
def test_an_old_session_must_sign_in_again(server: Server, action: str) -> None:
    owner, phone = owned(server)
    token = server.sign_in_api(owner)  # a real session: valid for 30 days
    if action == "lift-lost":
        assert report_lost(server, phone, token).status_code == 204
    before = active_kinds(server, phone)
    server.clock.advance(10 * DAY)  # the session is valid (30 days) but not fresh

    problem(ACTIONS[action](server, phone, token), 401, "reauthentication-required")
    assert active_kinds(server, phone) == before


@pytest.mark.parametrize("action", list(ACTIONS))
def test_during_the_cool_down_nothing_is_released(server: Server, action: str) -> None:
    owner, phone = owned(server)
    server.clock.advance(DAY)
    changed_at = reset_password(server, owner)
    token = server.sign_in(owner)  # fresh, with the new password
    if action == "lift-lost":
        # reporting (and correcting the message) is allowed during the cool-down
        assert report_lost(server, phone, token).status_code == 204
        assert report_lost(server, phone, token, {"message": "Call me",
                                                  "contact": "owner@example.org"}
                           ).status_code == 204
    before = active_kinds(server, phone)

    body = problem(ACTIONS[action](server, phone, token), 403, "credential-cooldown")
    cooldown = server.runtime.settings.credential_cooldown_seconds
    assert body["until"] == changed_at + cooldown
    assert active_kinds(server, phone) == before

    server.clock.advance(cooldown)  # afterwards, a fresh sign-in may
    if action != "unlock":  # (unlock has its own waiting period; tested in its suite)
        fresh = server.sign_in(owner)
        assert ACTIONS[action](server, phone, fresh).status_code in (200, 202, 204)


def test_unbind_of_a_lost_device_is_refused_as_held(server: Server) -> None:
    """The owner claim is not released while the same account's lost claim is held."""
    owner, phone = owned(server)
    token = server.sign_in(owner)
    assert report_lost(server, phone, token).status_code == 204
    problem(unbind(server, phone, token), 409, "device-held")
    assert active_kinds(server, phone) == sorted([ClaimKind.OWNER, ClaimKind.LOST])
    assert ACTIONS["lift-lost"](server, phone, token).status_code == 204
    assert unbind(server, phone, token).status_code == 200
    assert active_kinds(server, phone) == []


def test_reporting_lost_needs_a_fresh_sign_in(server: Server) -> None:
    owner, phone = owned(server)
    token = server.sign_in(owner)
    server.clock.advance(301)
    problem(report_lost(server, phone, token), 401, "reauthentication-required")
    assert active_kinds(server, phone) == [ClaimKind.OWNER]
