"""Ownership transfer over HTTP on SQLite and PostgreSQL (docs/protocol.md Part 2): the
seller starts it, the buyer accepts with the mailed code, the device's next record shows
the buyer; who may see what, and races between two accepts and two transfers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.domain.masking import mask_email
from tenure.domain.model import ClaimKind
from tenure.http.app import create_app

from .helpers import message_ids, new_mail, outbox, race
from .test_unlock_api import Owner, Phone, Server, problem


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def start(server: Server, token: str, device_id: str, to: Any,
          client: TestClient | None = None) -> httpx.Response:
    return (client or server.client).post(f"/v1/me/devices/{device_id}/transfers",
                                          json={"to_email": to}, headers=auth(token))


def accept(server: Server, token: str, transfer_id: str, code: str,
           client: TestClient | None = None) -> httpx.Response:
    return (client or server.client).post(f"/v1/transfers/{transfer_id}/accept",
                                          json={"code": code}, headers=auth(token))


def code_for(server: Server, email: str) -> str:
    """The code of the newest transfer mail to `email`."""
    for mail in reversed(outbox(server.runtime, email)):
        found = re.search(r"^Code:\n(\S{8,})$", mail.body, re.MULTILINE)
        if found:
            return found.group(1)
    raise AssertionError(f"no transfer code mailed to {email}")


def sale(server: Server) -> tuple[Owner, Owner, Phone, str]:
    seller, buyer = server.register(), server.register()
    phone = server.owned_phone(seller)
    phone.checkin()
    return seller, buyer, phone, server.sign_in(seller)


def owner_of(server: Server, device_id: str) -> str | None:
    with server.runtime.uow(readonly=True) as tx:
        return next((c.holder for c in tx.claims.active(device_id)
                     if c.kind is ClaimKind.OWNER), None)


def test_a_sale_without_a_reset(server: Server) -> None:
    seller, buyer, phone, token = sale(server)
    with server.runtime.uow() as tx:
        tx.commands.add(phone.device_id, "ring", {}, server.clock.now())
    started = start(server, token, phone.device_id, buyer.email)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["expires_at"] == server.clock.now() + 7 * 86400
    assert set(body) == {"transfer_id", "expires_at"}

    answer = accept(server, server.sign_in(buyer), body["transfer_id"],
                    code_for(server, buyer.email))
    assert answer.status_code == 200, answer.text
    assert answer.json()["owner"] == {"hint": mask_email(buyer.email)}
    record = phone.checkin()
    assert record["owner"] == {"hint": mask_email(buyer.email)}
    assert record["commands"] == []
    assert owner_of(server, phone.device_id) == buyer.account_id
    assert phone.device_id not in server.devices(seller)
    assert phone.device_id in server.devices(buyer)
    actions = [e["action"] for e in server.events(f"device:{phone.device_id}")]
    assert actions[-2:] == ["transfer.started", "claim.owner.transferred"]
    assert seller.email not in str(server.events(f"device:{phone.device_id}"))
    assert server.chain_intact()


def test_the_buyer_needs_the_right_account_and_code(server: Server) -> None:
    seller, buyer, phone, token = sale(server)
    transfer_id = start(server, token, phone.device_id, buyer.email).json()["transfer_id"]
    code = code_for(server, buyer.email)
    mallory = server.sign_in(server.register())
    unknown = problem(accept(server, mallory, "0" * 32, code), 404, "not-found")
    wrong_account = problem(accept(server, mallory, transfer_id, code), 404, "not-found")
    assert unknown["title"] == wrong_account["title"]
    problem(accept(server, token, transfer_id, code), 404, "not-found")  # the seller
    assert "4 attempts left" in problem(
        accept(server, server.sign_in(buyer), transfer_id, "AAAAA-AAAAA"),
        422, "invalid-input")["detail"]
    assert owner_of(server, phone.device_id) == seller.account_id
    assert accept(server, server.sign_in(buyer), transfer_id, code).status_code == 200


def test_five_wrong_codes_void_it(server: Server) -> None:
    _, buyer, phone, token = sale(server)
    transfer_id = start(server, token, phone.device_id, buyer.email).json()["transfer_id"]
    code = code_for(server, buyer.email)
    buyer_token = server.sign_in(buyer)
    for _ in range(4):
        problem(accept(server, buyer_token, transfer_id, "AAAAA-AAAAA"), 422, "invalid-input")
    problem(accept(server, buyer_token, transfer_id, "AAAAA-AAAAA"), 404, "not-found")
    problem(accept(server, buyer_token, transfer_id, code), 404, "not-found")


def test_starting_is_refused_without_the_owner_rule(server: Server) -> None:
    seller, buyer, phone, token = sale(server)
    server.clock.advance(301)
    problem(start(server, token, phone.device_id, buyer.email), 401,
            "reauthentication-required")
    problem(start(server, server.sign_in(buyer), phone.device_id, seller.email), 404,
            "not-found")
    problem(start(server, server.sign_in(seller), phone.device_id, "nobody"), 422,
            "invalid-input")
    server.client.post(f"/v1/me/devices/{phone.device_id}/lost",
                       json={"message": "lost", "contact": "+1 555 0100"},
                       headers=auth(server.sign_in(seller)))
    problem(start(server, server.sign_in(seller), phone.device_id, buyer.email), 409,
            "device-held")


@pytest.mark.parametrize("kind", [ClaimKind.LOST, ClaimKind.CREDITOR, ClaimKind.ORGANIZATION])
def test_accept_rechecks_the_claims_in_its_transaction(server: Server, kind: ClaimKind) -> None:
    seller, buyer, phone, token = sale(server)
    transfer_id = start(server, token, phone.device_id, buyer.email).json()["transfer_id"]
    server.add_claim(phone.device_id, kind,
                     seller.account_id if kind is ClaimKind.LOST else "tenant-1")
    problem(accept(server, server.sign_in(buyer), transfer_id, code_for(server, buyer.email)),
            409, "device-held")
    assert owner_of(server, phone.device_id) == seller.account_id


def test_the_seller_cancels_and_a_reset_cancels(server: Server) -> None:
    seller, buyer, phone, token = sale(server)
    transfer_id = start(server, token, phone.device_id, buyer.email).json()["transfer_id"]
    path = f"/v1/me/devices/{phone.device_id}/transfers/{transfer_id}"
    problem(server.client.delete(path, headers=auth(server.sign_in(buyer))), 404, "not-found")
    assert server.client.delete(path, headers=auth(token)).status_code == 204
    problem(accept(server, server.sign_in(buyer), transfer_id, code_for(server, buyer.email)),
            404, "not-found")

    again = start(server, server.sign_in(seller), phone.device_id, buyer.email).json()
    seen = message_ids(server.runtime, seller.email)
    server.client.post("/v1/password-resets", json={"email": seller.email})
    server.runtime.password_reset.process_pending()
    reset = re.search(r"^    (\S+)$", new_mail(server.runtime, seller.email, seen).body, re.M)
    assert reset
    assert server.client.post("/v1/password-resets/confirm", json={
        "token": reset.group(1), "new_password": "a brand new password 2026"}
    ).status_code == 204
    problem(accept(server, server.sign_in(buyer), again["transfer_id"],
                   code_for(server, buyer.email)), 404, "not-found")


def test_two_accepts_at_once_move_the_claim_once(server: Server) -> None:
    _, buyer, phone, token = sale(server)
    transfer_id = start(server, token, phone.device_id, buyer.email).json()["transfer_id"]
    code = code_for(server, buyer.email)
    buyer_token = server.sign_in(buyer)
    clients = [TestClient(create_app(server.runtime)) for _ in range(3)]
    answers = race([partial(accept, server, buyer_token, transfer_id, code, c)
                    for c in clients])
    for c in clients:
        c.close()
    assert sorted(a.status_code for a in answers) == [200, 404, 404], answers
    with server.runtime.uow(readonly=True) as tx:
        owners = [c for c in tx.claims.active(phone.device_id) if c.kind is ClaimKind.OWNER]
    assert [c.holder for c in owners] == [buyer.account_id]


def test_two_transfers_at_once_leave_one_pending(server: Server) -> None:
    seller, _, phone, token = sale(server)
    clients = [TestClient(create_app(server.runtime)) for _ in range(3)]
    answers = race([partial(start, server, token, phone.device_id, f"b{i}@example.com", c)
                    for i, c in enumerate(clients)])
    for c in clients:
        c.close()
    assert sorted(a.status_code for a in answers) == [201, 409, 409], answers
    assert {a.json()["type"] for a in answers if a.status_code == 409} == {
        "urn:tenure:problem:transfer-pending"}
