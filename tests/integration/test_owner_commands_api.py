"""The owner's ring and wipe over HTTP (PROTOCOL.md Part 2, "Owner's remote actions"):
`POST /v1/me/devices/{id}/commands` → `202 {"command_id"}`; the command is in the
device's records until a check-in acknowledges it; `GET /v1/me/devices` lists each
command's state; a password reset cancels pending wipes; a wipe releases no claim.

Through the real app on SQLite and PostgreSQL; the device's answers are verified records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.http.app import create_app

from .helpers import new_reset_token, outbox
from .test_unlock_api import Owner, Phone, Server, problem

DAY = 86_400
LOST = {"message": "Lost in Lisbon, reward if found", "contact": "+351 555 0101"}


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


def send(server: Server, token: str | None, device_id: str, body: Any) -> httpx.Response:
    return server.client.post(f"/v1/me/devices/{device_id}/commands", json=body,
                              headers=auth(token))


def issued(server: Server, token: str, device_id: str, kind: str) -> str:
    response = send(server, token, device_id, {"type": kind})
    assert response.status_code == 202, response.text
    return str(response.json()["command_id"])


def owned(server: Server) -> tuple[Owner, Phone, str]:
    owner = server.register()
    phone = server.owned_phone(owner)
    return owner, phone, server.sign_in(owner)


def listed(server: Server, owner: Owner, phone: Phone) -> list[dict[str, Any]]:
    return list(server.devices(owner)[phone.device_id]["commands"])


def command_actions(server: Server, device_id: str) -> list[str]:
    return [e["action"] for e in server.events(f"device:{device_id}")
            if e["action"].startswith("command.")]


def test_a_ring_waits_in_the_records_until_acknowledged(server: Server) -> None:
    owner, phone, token = owned(server)
    sent_at = server.clock.now()
    ring = issued(server, token, phone.device_id, "ring")
    assert phone.checkin()["commands"] == [{"id": ring, "type": "ring"}]
    assert phone.checkin()["commands"] == [{"id": ring, "type": "ring"}]
    assert listed(server, owner, phone) == [{
        "command_id": ring, "type": "ring", "state": "pending", "created_at": sent_at,
        "acknowledged_at": None}]

    server.clock.advance(90)
    assert phone.checkin(acks=[ring])["commands"] == []
    assert phone.checkin()["commands"] == []
    (shown,) = listed(server, owner, phone)
    assert (shown["state"], shown["acknowledged_at"]) == ("acknowledged", sent_at + 90)
    assert command_actions(server, phone.device_id) == [
        "command.ring.queued", "command.ring.acknowledged"]
    assert [m.subject for m in outbox(server.runtime, owner.email)][-1] == (
        "Your device will ring")
    assert server.chain_intact()


def test_ring_needs_a_session_but_not_a_fresh_one(server: Server) -> None:
    owner, phone, _ = owned(server)
    token = server.sign_in_api(owner)
    server.clock.advance(10 * DAY)
    assert send(server, token, phone.device_id, {"type": "ring"}).status_code == 202
    problem(send(server, None, phone.device_id, {"type": "ring"}), 401, "unauthorized")
    problem(send(server, "not-a-token", phone.device_id, {"type": "ring"}), 401,
            "unauthorized")


def test_wipe_needs_a_fresh_token(server: Server) -> None:
    owner, phone, _ = owned(server)
    token = server.sign_in_api(owner)
    server.clock.advance(10 * DAY)
    problem(send(server, token, phone.device_id, {"type": "wipe"}), 401,
            "reauthentication-required")
    assert listed(server, owner, phone) == []
    fresh = server.sign_in(owner)
    wipe = issued(server, fresh, phone.device_id, "wipe")
    assert phone.checkin()["commands"] == [{"id": wipe, "type": "wipe"}]


def test_wipe_is_refused_during_the_cool_down_then_a_reset_cancels_pending_wipes(
        server: Server) -> None:
    owner, phone, token = owned(server)
    wipe = issued(server, token, phone.device_id, "wipe")
    ring = issued(server, token, phone.device_id, "ring")

    assert server.client.post("/v1/password-resets",
                              json={"email": owner.email}).status_code == 202
    reset = new_reset_token(server.runtime, owner.email)
    assert server.client.post("/v1/password-resets/confirm", json={
        "token": reset, "new_password": "a brand new passphrase"}).status_code == 204
    changed_at = server.clock.now()

    assert phone.checkin()["commands"] == [{"id": ring, "type": "ring"}]
    states = {c["command_id"]: c["state"] for c in listed(server, owner, phone)}
    assert states == {wipe: "cancelled", ring: "pending"}
    assert "command.wipe.cancelled" in command_actions(server, phone.device_id)
    assert "Pending wipes of your devices were cancelled" in [
        m.subject for m in outbox(server.runtime, owner.email)]

    fresh = server.sign_in(owner)  # with the new password, during the cool-down
    body = problem(send(server, fresh, phone.device_id, {"type": "wipe"}), 403,
                   "credential-cooldown")
    assert body["until"] == changed_at + server.runtime.settings.credential_cooldown_seconds
    assert send(server, fresh, phone.device_id, {"type": "ring"}).status_code == 202
    server.clock.advance(server.runtime.settings.credential_cooldown_seconds)
    assert send(server, server.sign_in(owner), phone.device_id,
                {"type": "wipe"}).status_code == 202


def test_another_accounts_device_answers_404_like_an_unknown_one(server: Server) -> None:
    _, phone, _ = owned(server)
    stranger = server.register()
    token = server.sign_in(stranger)
    for kind in ("ring", "wipe"):
        theirs = problem(send(server, token, phone.device_id, {"type": kind}), 404,
                         "not-found")
        unknown = problem(send(server, token, "UNKNOWN1234", {"type": kind}), 404,
                          "not-found")
        assert theirs["title"] == unknown["title"]
    assert phone.checkin()["commands"] == []


@pytest.mark.parametrize("body", [{}, {"type": "explode"}, {"type": "message"},
                                  {"type": ["ring"]}, {"type": None}])
def test_only_ring_and_wipe_are_accepted(server: Server, body: Any) -> None:
    _, phone, token = owned(server)
    problem(send(server, token, phone.device_id, body), 422, "invalid-input")
    assert phone.checkin()["commands"] == []


def test_ringing_is_rate_limited_with_retry_after(server: Server) -> None:
    owner, phone, token = owned(server)
    rung = [send(server, token, phone.device_id, {"type": "ring"}) for _ in range(6)]
    assert [r.status_code for r in rung] == [202] * 5 + [429]
    assert int(rung[-1].headers["Retry-After"]) > 0
    problem(rung[-1], 429, "rate-limited")
    assert len(listed(server, owner, phone)) == 5


def test_a_wiped_lost_device_still_shows_its_lost_lock_and_cannot_be_removed(
        server: Server) -> None:
    owner, phone, token = owned(server)
    assert server.client.post(f"/v1/me/devices/{phone.device_id}/lost", json=LOST,
                              headers=auth(token)).status_code == 204
    wipe = issued(server, token, phone.device_id, "wipe")
    record = phone.checkin()
    assert record["commands"] == [{"id": wipe, "type": "wipe"}]
    assert record["locks"] == [{"kind": "lost", **LOST}]
    phone.checkin(acks=[wipe])
    assert listed(server, owner, phone)[0]["state"] == "acknowledged"

    again = phone.activate()  # after the wipe, the device is set up again
    assert [lock["kind"] for lock in again["locks"]] == ["lost", "owner"]
    assert again["locks"][0] == {"kind": "lost", **LOST}

    problem(server.client.delete(f"/v1/me/devices/{phone.device_id}", headers=auth(token)),
            409, "device-held")
    assert [c["kind"] for c in server.devices(owner)[phone.device_id]["claims"]] == [
        "owner", "lost"]
