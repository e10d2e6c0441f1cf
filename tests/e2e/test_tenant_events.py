"""Tenants' webhook events through the production paths: a real `tenure serve`, a real
receiver, the operator CLI, the tenant's API key over HTTP and the reference agent —
no event is written by the test (unlike tests/e2e/test_webhooks.py, which tests the
delivery machinery on events it writes itself).

Each step waits for its event before the next one starts, so an event raised by the
wrong step (or not at all) fails at that step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.webhook_receiver import Receiver, verify_event

from .conftest import ServerProcess
from .test_activation_lock import provision, register
from .test_appeals import decide, open_case, sign_in, support_agent
from .test_financing import CONTACT, HOUR, Creditor, device_cli

pytestmark = pytest.mark.e2e


class Deliveries:
    """What the receiver got, verified as a tenant's receiver must (docs/webhooks.md)."""

    def __init__(self, server: ServerProcess, receiver: Receiver, tenant_id: str) -> None:
        self.server, self.receiver, self.tenant_id = server, receiver, tenant_id

    def claims(self) -> list[dict[str, Any]]:
        jwks = httpx.get(f"{self.server.url}/v1/keys").json()
        return [verify_event(body, jwks, self.tenant_id) for body in self.receiver.bodies()]

    def expect(self, count: int, event: str) -> dict[str, Any]:
        """Wait until `count` posts arrived within seconds; the last must be `event`."""
        started = time.monotonic()
        self.receiver.wait_for(lambda bodies: len(bodies) >= count, seconds=15)
        assert time.monotonic() - started < 10
        claims = self.claims()
        assert len(claims) == count, [c["event"] for c in claims]
        assert claims[-1]["event"] == event, [c["event"] for c in claims]
        return claims[-1]


def test_a_creditor_receives_each_loan_event_signed_and_in_order(
        hook_server: ServerProcess, receiver: Receiver, tmp_path: Path) -> None:
    server = hook_server
    creditor = Creditor(server, webhook_url=receiver.url)
    hooks = Deliveries(server, receiver, creditor.tenant_id)
    phone = provision(server, tmp_path, "FIN-EV")
    state = tmp_path / "FIN-EV"
    assert phone.activate()["status"] == "activated"
    creditor.assign(tmp_path, "FIN-EV")
    time.sleep(1)
    assert receiver.bodies() == []  # creating, assigning: no event

    enrolled = creditor.call("POST", "", {"device_id": "FIN-EV", "loan_id": "L-77",
                                          "contact": CONTACT, "offline_lock_days": 14})
    assert enrolled.status_code == 201, enrolled.text
    hooks.expect(1, "device.enrolled")

    shown = device_cli(state, "checkin", env=server.env)  # shown, not yet accepted
    assert "Notice from Loans Ltd" in shown.stdout, shown.stderr
    time.sleep(1)
    assert len(receiver.bodies()) == 1
    accepted = device_cli(state, "checkin", "--accept-notice", env=server.env)
    assert accepted.returncode == 0, accepted.stderr
    hooks.expect(2, "device.notice_acknowledged")

    assert creditor.call("POST", "/FIN-EV/reminders",
                         {"message": "Your May payment is late."}).status_code == 202
    device_cli(state, "checkin", env=server.env)  # shows the reminder
    device_cli(state, "checkin", env=server.env)  # acknowledges it
    server.advance_clock(72 * HOUR + 60)  # past TENURE_CREDITOR_NOTICE_HOURS
    locked = creditor.call("POST", "/FIN-EV/lock", {"message": "Payment overdue."})
    assert locked.status_code == 202, locked.text
    hooks.expect(3, "device.locked")

    assert creditor.call("POST", "/FIN-EV/unlock").json() == {"state": "in-force"}
    hooks.expect(4, "device.unlocked")

    assert creditor.call("POST", "/FIN-EV/complete").status_code == 202
    time.sleep(1)
    assert len(receiver.bodies()) == 4  # completing is not completed
    server.advance_clock(48 * HOUR + 60)  # the maintenance loop completes the loan
    hooks.expect(5, "device.completed")

    claims = hooks.claims()
    assert [c["event"] for c in claims] == [
        "device.enrolled", "device.notice_acknowledged", "device.locked",
        "device.unlocked", "device.completed"]
    for claim in claims:
        assert claim["aud"] == creditor.tenant_id
        assert (claim["device_id"], claim["loan_id"]) == ("FIN-EV", "L-77")
        assert "text" not in claim and "case_id" not in claim
    assert len({c["id"] for c in claims}) == 5
    ats = [c["at"] for c in claims]
    assert ats == sorted(ats) and ats[-1] - ats[0] >= (72 + 48) * HOUR
    assert {r.content_type for r in receiver.received} == {"application/jose"}
    time.sleep(1)
    assert len(receiver.bodies()) == 5  # nothing delivered twice


def test_an_appeal_against_an_organization_claim_tells_the_organization(
        hook_server: ServerProcess, receiver: Receiver, tmp_path: Path) -> None:
    server = hook_server
    tenant_id = server.cli("tenant", "create", "--kind", "organization", "--name",
                           "Acme Fleet", "--webhook-url", receiver.url).stdout.strip()
    key = server.cli("apikey", "create", "--role", "organization", "--tenant",
                     tenant_id).stdout.strip()
    phone = provision(server, tmp_path, "FLEET-CASE")
    (tmp_path / "sales.txt").write_text("FLEET-CASE\n")
    server.cli("tenant", "assign", tenant_id, str(tmp_path / "sales.txt"))
    claimed = httpx.post(f"{server.url}/v1/org/devices", json={"device_ids": ["FLEET-CASE"]},
                         headers={"Authorization": f"Bearer {key}"})
    assert claimed.json()["claimed"] == ["FLEET-CASE"], claimed.text
    assert phone.activate()["status"] == "locked"  # the organization's lock

    register(server, "buyer@example.net")
    buyer = sign_in(server, "buyer@example.net")
    case_id = open_case(server, tmp_path, phone, buyer, kind="organization")
    first = support_agent(server, "agent1@support.example")
    second = support_agent(server, "agent2@support.example")
    decide(server, first, case_id, "approve")
    time.sleep(1)
    assert receiver.bodies() == []  # opened and approved once: not yet the holder's business
    assert decide(server, second, case_id, "approve")["state"] == "objection-window"

    event = Deliveries(server, receiver, tenant_id).expect(1, "case.opened")
    assert (event["case_id"], event["device_id"], event["aud"]) == (
        case_id, "FLEET-CASE", tenant_id)
    assert "buyer@example.net" not in str(event)  # the holder is not told who applied
