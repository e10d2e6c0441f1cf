"""Creditor claims over HTTP on SQLite and PostgreSQL (docs/financing.md): every
endpoint, its refusals, the records the device gets, completion by the maintenance
round (also after a restart), and what owners, webhooks and the audit log see."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tenure.store import tables as t

from .helpers import outbox, rows
from .test_unlock_api import DAY, HOUR, Phone, Server, make_server, problem, server

__all__ = ["make_server", "server"]  # fixtures shared with the unlock suite

CONTACT = "+44 20 7946 0000"


class Bank:
    """A creditor tenant, its key, and its calls through the app."""

    def __init__(self, server: Server, name: str = "Loans Ltd") -> None:
        self.server = server
        self.tenant_id = server.runtime.tenants.create("creditor", name, CONTACT).tenant_id
        self.key = server.runtime.api_keys.create("creditor", "api", self.tenant_id)

    def assign(self, phone: Phone) -> None:
        assert self.server.runtime.tenants.assign(self.tenant_id, [phone.device_id]).committed

    def call(self, method: str, path: str, body: Any = None, key: str | None = "",
             **headers: str) -> httpx.Response:
        key = self.key if key == "" else key
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return self.server.client.request(method, "/v1/creditor/devices" + path,
                                          json=body, headers=headers)

    def enroll(self, phone: Phone, loan_id: str = "L-1", **extra: Any) -> httpx.Response:
        return self.call("POST", "", {"device_id": phone.device_id, "loan_id": loan_id,
                                      "contact": CONTACT, **extra})

    def remind(self, phone: Phone, message: str = "Your payment is late.") -> httpx.Response:
        return self.call("POST", f"/{phone.device_id}/reminders", {"message": message})

    def lock(self, phone: Phone, message: str = "Pay now") -> httpx.Response:
        return self.call("POST", f"/{phone.device_id}/lock", {"message": message})

    def state(self, phone: Phone) -> dict[str, Any]:
        response = self.call("GET", f"/{phone.device_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def notice_of(record: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in record["commands"] if c["type"] == "notice")


def accept_notice(phone: Phone) -> dict[str, Any]:
    return phone.checkin(acks=[notice_of(phone.checkin())["id"]])


def ack_reminder(phone: Phone) -> None:
    record = phone.checkin()
    phone.checkin(acks=[c["id"] for c in record["commands"] if c["type"] == "message"])


@pytest.fixture
def bank(server: Server) -> Bank:
    return Bank(server)


@pytest.fixture
def phone(server: Server, bank: Bank) -> Phone:
    phone = server.phone()
    phone.activate()
    bank.assign(phone)
    return phone


def events(server: Server) -> list[tuple[str, dict[str, Any]]]:
    return [(r.event, json.loads(r.payload))
            for r in rows(server.runtime, t.tenant_events, order_by=t.tenant_events.c.seq)]


# -- enrollment -----------------------------------------------------------------------------

def test_enroll_answers_201_and_the_device_gets_the_notice(server: Server, bank: Bank,
                                                            phone: Phone) -> None:
    owner = server.register()
    phone.bind(server.sign_in(owner))
    response = bank.enroll(phone, offline_lock_days=45)
    assert (response.status_code, response.json()) == (201, {"state": "enrolled"})
    record = phone.checkin()
    notice = notice_of(record)
    assert {k: notice[k] for k in ("kind", "creditor", "contact")} == {
        "kind": "creditor-enrollment", "creditor": "Loans Ltd", "contact": CONTACT}
    assert "emergency calls" in notice["text"] and "45 days" in notice["text"]
    assert record["locks"] == [] and "offline_lock_at" not in record
    assert bank.state(phone) == {"device_id": phone.device_id, "loan_id": "L-1",
                                 "state": "enrolled", "notice_acknowledged_at": None,
                                 "locked_at": None,
                                 "last_checkin": bank.state(phone)["last_checkin"]}
    assert any(m.subject == "Loans Ltd now finances your device"
               for m in outbox(server.runtime, owner.email))
    [(event, payload)] = events(server)
    assert event == "device.enrolled" and payload["loan_id"] == "L-1"
    assert payload["aud"] == bank.tenant_id and payload["device_id"] == phone.device_id


def test_enroll_refusals(server: Server, bank: Bank, phone: Phone) -> None:
    problem(bank.call("POST", "", {"device_id": phone.device_id}, key=None), 401,
            "unauthorized")
    org = server.runtime.tenants.create("organization", "Fleet")
    org_key = server.runtime.api_keys.create("organization", "k", org.tenant_id)
    problem(bank.call("POST", "", {}, key=org_key), 403, "forbidden")
    stranger = server.phone()
    problem(bank.enroll(stranger), 404, "not-found")  # neither assigned nor consented
    problem(bank.call("POST", "", {"device_id": "NO-SUCH-DEVICE", "loan_id": "x",
                                   "contact": CONTACT}), 404, "not-found")
    for bad in ({"offline_lock_days": 13}, {"offline_lock_days": 201},
                {"offline_lock_days": "30"}, {"contact": "whenever"}, {"loan_id": ""}):
        problem(bank.enroll(phone, **bad), 422, "invalid-input")
    assert rows(server.runtime, t.creditor_loans) == []
    assert bank.enroll(phone).status_code == 201
    other = server.phone()
    bank.assign(other)
    problem(bank.enroll(other), 409, "duplicate-loan")
    rival = Bank(server, "Other Credit")
    rival.assign(phone)
    problem(rival.enroll(phone, "R-1"), 409, "already-financed")
    for method, path in (("GET", ""), ("POST", "/lock"), ("POST", "/unlock"),
                         ("POST", "/complete"), ("DELETE", "/complete"),
                         ("POST", "/reminders")):
        problem(rival.call(method, f"/{phone.device_id}{path}", {"message": "x"}),
                404, "not-found")
        problem(bank.call(method, f"/{other.device_id}{path}", {"message": "x"}),
                404, "not-found")
        problem(bank.call(method, f"/{phone.device_id}{path}", {"message": "x"}, key=None),
                401, "unauthorized")
        problem(bank.call(method, f"/{phone.device_id}{path}", {"message": "x"},
                          key=org_key), 403, "forbidden")
    problem(bank.call("POST", f"/{phone.device_id}/unlock"), 409, "creditor-state")
    assert bank.state(phone)["state"] == "enrolled"


def test_enroll_with_an_idempotency_key_replays_the_first_answer(bank: Bank,
                                                                  phone: Phone) -> None:
    body = {"device_id": phone.device_id, "loan_id": "L-9", "contact": CONTACT}
    first = bank.call("POST", "", body, **{"Idempotency-Key": "k-1"})
    again = bank.call("POST", "", body, **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("idempotent-replayed") == "true"


def test_an_owner_consent_lets_a_creditor_enroll(server: Server, bank: Bank) -> None:
    owner = server.register()
    phone = server.owned_phone(owner)
    problem(bank.enroll(phone), 404, "not-found")
    response = server.client.post(f"/v1/me/devices/{phone.device_id}/consents",
                                  json={"tenant_id": bank.tenant_id},
                                  headers={"Authorization": f"Bearer {server.sign_in(owner)}"})
    assert response.status_code == 204, response.text
    assert bank.enroll(phone).status_code == 201


# -- notice, reminders, lock, unlock -----------------------------------------------------------

def test_the_lock_rules_then_lock_and_unlock_at_the_next_checkin(
        server: Server, bank: Bank, phone: Phone) -> None:
    owner = server.register()
    phone.bind(server.sign_in(owner))
    bank.enroll(phone)
    problem(bank.lock(phone), 409, "notice-not-acknowledged")
    phone.checkin()  # seen, not accepted: still enrolled
    assert bank.state(phone)["state"] == "enrolled"
    record = accept_notice(phone)
    assert record["offline_lock_at"] == record["iat"] + 30 * DAY
    state = bank.state(phone)
    assert state["state"] == "in-force" and state["notice_acknowledged_at"] == record["iat"]
    problem(bank.lock(phone), 409, "no-prior-reminder")
    response = bank.remind(phone, "Your payment of May is late.")
    assert response.status_code == 202, response.text
    message = next(c for c in phone.checkin()["commands"] if c["type"] == "message")
    assert message == {"id": response.json()["command_id"], "type": "message",
                       "text": "Your payment of May is late.", "from": "Loans Ltd"}
    problem(bank.lock(phone), 409, "no-prior-reminder")  # sent, not acknowledged
    ack_reminder(phone)
    server.clock.advance(71 * HOUR)
    problem(bank.lock(phone), 409, "no-prior-reminder")  # too recent
    server.clock.advance(HOUR)
    problem(bank.call("POST", f"/{phone.device_id}/lock", {"message": "x" * 351}),
            422, "invalid-input")
    response = bank.lock(phone, "Payment overdue: call us.")
    assert (response.status_code, response.json()) == (202, {"state": "locked"})
    assert bank.state(phone)["locked_at"] == server.clock.now()
    lock = {"kind": "creditor", "message": "Payment overdue: call us.", "contact": CONTACT,
            "allows": ["emergency-calls", "call-contact", "network-settings"]}
    record = phone.checkin()
    assert (record["status"], record["locks"]) == ("locked", [lock])
    problem(server.ask(owner, phone), 403, "unlock-not-permitted")
    response = bank.call("POST", f"/{phone.device_id}/unlock")
    assert (response.status_code, response.json()) == (200, {"state": "in-force"})
    record = phone.checkin()
    assert (record["status"], record["locks"]) == ("activated", [])
    problem(bank.call("POST", f"/{phone.device_id}/unlock", key=None), 401, "unauthorized")
    assert [e for e, _ in events(server)] == [
        "device.enrolled", "device.notice_acknowledged", "device.locked", "device.unlocked"]
    subjects = [m.subject for m in outbox(server.runtime, owner.email)]
    assert "Loans Ltd locked your device" in subjects
    assert "Loans Ltd unlocked your device" in subjects
    actions = [e["action"] for e in server.events(f"device:{phone.device_id}")]
    for action in ("claim.creditor.enrolled", "claim.creditor.in_force",
                   "claim.creditor.reminded", "claim.creditor.reminder_acknowledged",
                   "claim.creditor.locked", "claim.creditor.unlocked"):
        assert action in actions
    assert server.chain_intact()


def test_a_locked_claim_refuses_activation_until_unlocked(server: Server, bank: Bank,
                                                          phone: Phone) -> None:
    bank.enroll(phone)
    accept_notice(phone)
    bank.remind(phone)
    ack_reminder(phone)
    server.clock.advance(3 * DAY)
    assert bank.lock(phone).status_code == 202
    record = phone.activate()
    assert record["status"] == "locked"
    assert [lock["kind"] for lock in record["locks"]] == ["creditor"]
    assert record["offline_lock_at"] == record["iat"] + 30 * DAY
    assert bank.call("POST", f"/{phone.device_id}/unlock").status_code == 200
    record = phone.activate()
    assert (record["status"], record["locks"]) == ("activated", [])


def test_a_reminder_older_than_30_days_does_not_allow_a_lock(server: Server, bank: Bank,
                                                             phone: Phone) -> None:
    bank.enroll(phone)
    accept_notice(phone)
    bank.remind(phone)
    ack_reminder(phone)
    server.clock.advance(30 * DAY + 1)
    problem(bank.lock(phone), 409, "no-prior-reminder")


def test_bootloader_unlock_is_refused_while_a_creditor_claim_is_held(
        server: Server, bank: Bank) -> None:
    owner = server.register()
    phone = server.owned_phone(owner)
    bank.assign(phone)
    bank.enroll(phone)
    server.clock.advance(200 * HOUR)
    body = problem(server.ask(owner, phone), 403, "unlock-not-permitted")
    assert "financing company" in body["detail"]


# -- completion -------------------------------------------------------------------------------

def test_complete_cancel_and_the_maintenance_round_after_48_hours(
        server: Server, bank: Bank, phone: Phone,
        make_server: Callable[..., Server]) -> None:
    owner = server.register()
    phone.bind(server.sign_in(owner))
    bank.enroll(phone)
    accept_notice(phone)
    problem(bank.call("DELETE", f"/{phone.device_id}/complete"), 409, "creditor-state")
    response = bank.call("POST", f"/{phone.device_id}/complete")
    assert (response.status_code, response.json()) == (
        202, {"state": "completing", "complete_at": server.clock.now() + 48 * HOUR})
    assert "offline_lock_at" not in phone.checkin()
    server.clock.advance(47 * HOUR)
    response = bank.call("DELETE", f"/{phone.device_id}/complete")
    assert (response.status_code, response.json()) == (200, {"state": "in-force"})
    bank.call("POST", f"/{phone.device_id}/complete")
    server.clock.advance(48 * HOUR - 1)
    server.runtime.maintenance()
    assert bank.state(phone)["state"] == "completing"
    server.clock.advance(1)
    # A restarted server (a new process over the same database) finishes it: the due
    # time is in the store, not in a timer of the process that was asked.
    restarted = make_server()
    restarted.runtime.maintenance()
    problem(bank.call("GET", f"/{phone.device_id}"), 404, "not-found")
    claims = [c for c in rows(server.runtime, t.claims) if c.kind == "creditor"]
    assert [c.released_at for c in claims] == [server.clock.now()]
    assert rows(server.runtime, t.creditor_loans)[0].state == "completed"
    assert events(server)[-1][0] == "device.completed"
    assert events(server)[-1][1]["loan_id"] == "L-1"
    assert any("released its claim" in m.subject
               for m in outbox(server.runtime, owner.email))
    record = phone.checkin()
    assert record["locks"] == [] and "offline_lock_at" not in record
    # Released for good: the device can be financed again, under a new loan.
    assert bank.enroll(phone, "L-2").status_code == 201
