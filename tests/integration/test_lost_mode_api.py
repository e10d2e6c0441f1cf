"""Lost mode over HTTP: the owner reports a device lost, the device shows their message
and contact at its next check-in, and only the owner (freshly signed in, outside the
credential cool-down) can report it found.

Through the real app on SQLite and PostgreSQL; the device's answers are verified
records, exactly what its lock screen would show.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.domain.masking import mask_email
from tenure.domain.model import ClaimKind
from tenure.http.app import create_app

from .helpers import outbox
from .test_unlock_api import Owner, Phone, Server, problem

MESSAGE = "Lost in Lisbon, reward if found"
CONTACT = "+351 555 0101"
LOST = {"message": MESSAGE, "contact": CONTACT}


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def report(server: Server, token: str | None, device_id: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return server.client.post(f"/v1/me/devices/{device_id}/lost", json=body, headers=headers)


def found(server: Server, token: str | None, device_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return server.client.delete(f"/v1/me/devices/{device_id}/lost", headers=headers)


def lost_claims(server: Server, device_id: str) -> list[Any]:
    with server.runtime.uow(readonly=True) as tx:
        return [c for c in tx.claims.active(device_id) if c.kind is ClaimKind.LOST]


def lost_actions(server: Server, device_id: str) -> list[str]:
    return [e["action"] for e in server.events(f"device:{device_id}")
            if e["action"].startswith("claim.lost.")]


def owned(server: Server) -> tuple[Owner, Phone, str]:
    owner = server.register()
    phone = server.owned_phone(owner)
    assert phone.checkin()["status"] == "activated"
    return owner, phone, server.sign_in(owner)


def test_a_reported_device_shows_the_message_and_contact(server: Server) -> None:
    owner, phone, token = owned(server)
    assert report(server, token, phone.device_id,
                  {"message": f"  {MESSAGE}\n", "contact": CONTACT}).status_code == 204

    record = phone.checkin()
    assert record["status"] == "locked"
    assert record["locks"] == [{"kind": "lost", "message": MESSAGE, "contact": CONTACT}]
    assert record["owner"] == {"hint": mask_email(owner.email)}

    listed = server.devices(owner)[phone.device_id]
    assert [(c["kind"], c.get("message")) for c in listed["claims"]] == [
        ("owner", None), ("lost", MESSAGE)]


def test_a_lost_device_cannot_be_set_up_again_after_a_reset(server: Server) -> None:
    """Even with its owner's sign-in: lost mode blocks every act until reported found."""
    owner, phone, token = owned(server)
    report(server, token, phone.device_id, LOST)
    record = phone.send("/v1/device/activation",
                        {"signals": {"sim_mcc": ["262"]}, "account_token": token})
    assert record["status"] == "locked"
    assert [lock["kind"] for lock in record["locks"]] == ["lost"]


def test_reporting_again_changes_the_message_and_contact(server: Server) -> None:
    """PROTOCOL.md Part 2: the owner may change message and contact with the same call;
    the same text again changes nothing (and writes no event). The holder is mailed at
    every change."""
    owner, phone, token = owned(server)
    assert report(server, token, phone.device_id,
                  LOST).status_code == 204
    server.clock.advance(60)
    assert report(server, token, phone.device_id,
                  LOST).status_code == 204
    assert report(server, token, phone.device_id,
                  {"message": "Second message", "contact": "finder@example.org"}
                  ).status_code == 204

    [claim] = lost_claims(server, phone.device_id)
    assert (claim.message, claim.contact) == ("Second message", "finder@example.org")
    assert phone.checkin()["locks"] == [{"kind": "lost", "message": "Second message",
                                         "contact": "finder@example.org"}]
    assert lost_actions(server, phone.device_id) == ["claim.lost.reported",
                                                     "claim.lost.updated"]
    assert [m.subject for m in outbox(server.runtime, owner.email)][-2:] == [
        "Your device is in lost mode", "The lost-mode message of your device changed"]


def test_another_account_can_neither_report_nor_release(server: Server) -> None:
    """Mallory must not lock Alice's phone, nor lift Alice's lost report: 404, as if the
    device did not exist, so device ids cannot be probed either."""
    _, phone, token = owned(server)
    mallory = server.sign_in(server.register())
    problem(report(server, mallory, phone.device_id, LOST), 404, "not-found")
    assert lost_claims(server, phone.device_id) == []
    assert phone.checkin()["status"] == "activated"

    assert report(server, token, phone.device_id, LOST).status_code == 204
    problem(found(server, mallory, phone.device_id), 404, "not-found")
    assert phone.checkin()["status"] == "locked"
    assert lost_actions(server, phone.device_id) == ["claim.lost.reported"]


def test_an_unknown_device_is_not_found(server: Server) -> None:
    owner = server.register()
    token = server.sign_in(owner)
    problem(report(server, token, "NO-SUCH-DEVICE", LOST), 404, "not-found")
    problem(found(server, token, "NO-SUCH-DEVICE"), 404, "not-found")


def test_without_a_session_it_is_401(server: Server) -> None:
    _, phone, _ = owned(server)
    problem(report(server, None, phone.device_id, LOST), 401, "unauthorized")
    problem(found(server, "expired-or-made-up", phone.device_id), 401, "unauthorized")
    assert lost_claims(server, phone.device_id) == []


INVALID_BODIES: list[Any] = [
    {},
    {"contact": CONTACT},
    {"message": MESSAGE},  # the contact is required
    {"message": "", "contact": CONTACT},
    {"message": "   \n", "contact": CONTACT},
    {"message": "x" * 351, "contact": CONTACT},
    {"message": 42, "contact": CONTACT},
    {"message": ["Lost"], "contact": CONTACT},
    {"message": "nul\x00byte", "contact": CONTACT},
    {"message": MESSAGE, "contact": ""},
    {"message": MESSAGE, "contact": "someone, somewhere"},
    {"message": MESSAGE, "contact": "1" * 255},
    {"message": MESSAGE, "contact": 5},
    {"message": MESSAGE, "contact": None},
]


def test_a_missing_or_oversized_message_is_refused(server: Server) -> None:
    """PROTOCOL.md Part 2: `message` ≤ 350 characters, `contact` (a phone number or an
    email) required."""
    _, phone, token = owned(server)
    for body in INVALID_BODIES:
        body_problem = problem(report(server, token, phone.device_id, body), 422,
                               "invalid-input")
        assert body_problem["detail"], body
    assert lost_claims(server, phone.device_id) == []
    assert lost_actions(server, phone.device_id) == []
    assert phone.checkin()["status"] == "activated"


def test_the_longest_message_and_contact_are_shown_whole(server: Server) -> None:
    _, phone, token = owned(server)
    message, contact = "m" * 350, "owner.with.a.long.name@" + "d" * 60 + ".example.org"
    assert report(server, token, phone.device_id,
                  {"message": message, "contact": contact}).status_code == 204
    assert phone.checkin()["locks"] == [{"kind": "lost", "message": message,
                                         "contact": contact}]


def test_a_body_that_is_not_json_is_malformed(server: Server) -> None:
    _, phone, token = owned(server)
    response = server.client.post(f"/v1/me/devices/{phone.device_id}/lost",
                                  content=b"lost!", headers={"Authorization": f"Bearer {token}"})
    problem(response, 400, "malformed")


def test_found_unlocks_at_the_next_checkin_and_both_are_audited(server: Server) -> None:
    owner, phone, token = owned(server)
    reported_at = server.clock.now()
    report(server, token, phone.device_id, LOST)
    assert phone.checkin()["status"] == "locked"

    server.clock.advance(3600)
    problem(found(server, token, phone.device_id), 401, "reauthentication-required")
    assert found(server, server.sign_in(owner), phone.device_id).status_code == 204
    record = phone.checkin()
    assert record["status"] == "activated" and record["locks"] == []
    assert lost_claims(server, phone.device_id) == []
    assert [c["kind"] for c in server.devices(owner)[phone.device_id]["claims"]] == ["owner"]

    events = [e for e in server.events(f"device:{phone.device_id}")
              if e["action"].startswith("claim.lost.")]
    assert [(e["action"], e["actor"], e["at"]) for e in events] == [
        ("claim.lost.reported", f"account:{owner.account_id}", reported_at),
        ("claim.lost.released", f"account:{owner.account_id}", reported_at + 3600)]
    assert server.chain_intact()


def test_found_when_not_lost_changes_nothing_and_it_can_be_lost_again(server: Server) -> None:
    _, phone, token = owned(server)
    assert found(server, token, phone.device_id).status_code == 204
    assert lost_actions(server, phone.device_id) == []

    report(server, token, phone.device_id, LOST)
    found(server, token, phone.device_id)
    assert found(server, token, phone.device_id).status_code == 204
    report(server, token, phone.device_id, {"message": "Lost again", "contact": CONTACT})
    assert phone.checkin()["locks"] == [{"kind": "lost", "message": "Lost again",
                                         "contact": CONTACT}]
    assert lost_actions(server, phone.device_id) == [
        "claim.lost.reported", "claim.lost.released", "claim.lost.reported"]
    assert server.chain_intact()


def test_a_lost_device_cannot_be_removed_until_lost_mode_is_lifted(server: Server) -> None:
    """PROTOCOL.md Part 2: the owner claim is not released while the same account's lost
    claim is held (`409 device-held`); it once went silently with the removal, so a
    thief who had the password could drop both locks in one call."""
    _, phone, token = owned(server)
    report(server, token, phone.device_id, LOST)
    removal = f"/v1/me/devices/{phone.device_id}"
    problem(server.client.delete(removal, headers={"Authorization": f"Bearer {token}"}),
            409, "device-held")
    assert len(lost_claims(server, phone.device_id)) == 1
    assert phone.checkin()["status"] == "locked"

    assert found(server, token, phone.device_id).status_code == 204
    removed = server.client.delete(removal, headers={"Authorization": f"Bearer {token}"})
    assert removed.status_code == 204
    record = phone.send("/v1/device/activation", {"signals": {"sim_mcc": ["262"]}})
    assert record["status"] == "activated" and record["locks"] == []
