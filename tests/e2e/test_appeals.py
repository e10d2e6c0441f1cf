"""Appeals end to end: a real `tenure serve`, the reference agent, support agents made with
`tenure support add` and signed in with TOTP, and the server's clock moved past the
objection window (its maintenance round grants the case by itself)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from tenure.agent import DeviceAgent

from .conftest import ServerProcess
from .test_activation_lock import PASSWORD, provision, register

pytestmark = pytest.mark.e2e
DAY = 86400
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PURCHASE = {"date": "2025-10-01", "seller": "Market stall 12", "price": "180.00",
            "currency": "EUR"}


def server_now(server: ServerProcess) -> int:
    return int(time.time() + float(server.clock_file.read_text() or 0))


def sign_in(server: ServerProcess, email: str, totp: str | None = None) -> str:
    body = {"email": email, "password": PASSWORD, **({"totp": totp} if totp else {})}
    answer = httpx.post(f"{server.url}/v1/sessions", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def support_agent(server: ServerProcess, email: str) -> str:
    """Register, turn the second factor on, get the role on the CLI, sign in with a code."""
    register(server, email)
    token = sign_in(server, email)
    secret = httpx.post(f"{server.url}/v1/me/totp", headers=auth(token)).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = httpx.post(f"{server.url}/v1/me/totp/confirm", headers=auth(token),
                           json={"code": totp.at(server_now(server))})
    assert confirmed.status_code == 200, confirmed.text
    added = server.cli("support", "add", email).stdout
    assert "is a support agent" in added
    assert_forbidden = httpx.get(f"{server.url}/v1/support/cases", headers=auth(token))
    assert assert_forbidden.status_code == 403  # a password session is not enough
    server.advance_clock(30)  # the next code: a code is accepted once
    return sign_in(server, email, totp.at(server_now(server)))


def open_case(server: ServerProcess, tmp_path: Path, phone: DeviceAgent, buyer: str,
              kind: str = "activation-lock") -> str:
    shown = server.cli("device", "--state", str(tmp_path / phone.device_id),
                       "appeal-token").stdout.strip()
    answer = httpx.post(f"{server.url}/v1/cases", headers=auth(buyer), json={
        "imei": phone.identity.imeis[0], "kind": kind, "purchase": PURCHASE,
        "statement": "Bought it at a market; it asks for someone else's account.",
        "appeal_token": shown})
    assert answer.status_code == 201, answer.text
    case_id = str(answer.json()["case_id"])
    evidence = httpx.post(f"{server.url}/v1/cases/{case_id}/evidence", headers=auth(buyer),
                          files={"file": ("receipt.pdf", PDF, "application/pdf")})
    assert evidence.status_code == 201, evidence.text
    return case_id


def decide(server: ServerProcess, agent: str, case_id: str, decision: str,
           reason: str | None = None) -> dict[str, Any]:
    body = {"decision": decision, **({"reason": reason} if reason else {})}
    answer = httpx.post(f"{server.url}/v1/support/cases/{case_id}/decisions",
                        headers=auth(agent), json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def case_state(server: ServerProcess, buyer: str, case_id: str) -> str:
    answer = httpx.get(f"{server.url}/v1/cases/{case_id}", headers=auth(buyer))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["state"])


def wait_for_state(server: ServerProcess, buyer: str, case_id: str, state: str) -> None:
    deadline = time.monotonic() + 20
    while case_state(server, buyer, case_id) != state:
        assert time.monotonic() < deadline, f"case never reached {state}"
        time.sleep(0.2)


def sold_without_removal(server: ServerProcess, tmp_path: Path) -> DeviceAgent:
    """Alice binds her phone, then sells it reset but still linked: the buyer is locked out."""
    phone = provision(server, tmp_path, "PHONE-APPEAL")
    assert phone.activate()["status"] == "activated"
    register(server, "alice@example.com")
    phone.bind(phone.sign_in("alice@example.com", PASSWORD))
    phone.factory_reset()
    assert phone.activate()["status"] == "locked"
    assert "appeal-token" in phone.lock_screen()
    return phone


def test_a_locked_out_buyer_is_granted_after_the_window_and_sets_the_phone_up(
        any_server: ServerProcess, tmp_path: Path) -> None:
    server = any_server
    phone = sold_without_removal(server, tmp_path)
    register(server, "bob@example.net")
    bob = sign_in(server, "bob@example.net")
    case_id = open_case(server, tmp_path, phone, bob)

    first = support_agent(server, "agent1@support.example")
    second = support_agent(server, "agent2@support.example")
    listed = server.cli("support", "list").stdout
    assert "agent1@support.example" in listed and "second factor on" in listed
    queue = httpx.get(f"{server.url}/v1/support/cases?state=open", headers=auth(first)).json()
    assert [c["case_id"] for c in queue["cases"]] == [case_id]
    view = httpx.get(f"{server.url}/v1/support/cases/{case_id}", headers=auth(first)).json()
    receipt = httpx.get(f"{server.url}/v1/support/cases/{case_id}/evidence/"
                        f"{view['evidence'][0]['evidence_id']}", headers=auth(first))
    assert receipt.content == PDF and receipt.headers["content-type"] == "application/pdf"
    decide(server, first, case_id, "approve", "receipt and IMEI match")
    assert decide(server, second, case_id, "approve")["state"] == "objection-window"
    told = [m for m in server.mail("alice@example.com") if case_id in m["body"]]
    assert told and "object" in told[0]["body"]

    server.advance_clock(14 * DAY + 60)  # Alice does not object
    wait_for_state(server, bob, case_id, "granted")
    assert any("granted" in m["subject"] for m in server.mail("bob@example.net"))

    record = phone.activate()  # the lock is gone; the wipe with it is carried out
    assert record["status"] == "activated" and record["commands"] == []
    assert any(line.startswith("Wiped:") for line in phone.actions)
    assert "activation needed" in phone.lock_screen()
    assert phone.activate()["status"] == "activated"  # set up again after the wipe
    bound = phone.bind(phone.sign_in("bob@example.net", PASSWORD))
    assert bound["owner"] == {"hint": "b***@e***.net"}


def test_an_objection_upheld_by_support_keeps_the_phone_locked(
        server: ServerProcess, tmp_path: Path) -> None:
    phone = sold_without_removal(server, tmp_path)
    register(server, "mallory@example.net")
    mallory = sign_in(server, "mallory@example.net")
    case_id = open_case(server, tmp_path, phone, mallory)
    first = support_agent(server, "agent1@support.example")
    second = support_agent(server, "agent2@support.example")
    decide(server, first, case_id, "approve")
    decide(server, second, case_id, "approve")

    alice = sign_in(server, "alice@example.com")
    objected = httpx.post(f"{server.url}/v1/cases/{case_id}/objection", headers=auth(alice),
                          json={"statement": "Stolen from my bag; police report 2025/1234."})
    assert objected.status_code == 200 and objected.json()["state"] == "objected"
    assert decide(server, first, case_id, "refuse", "objection-upheld")["state"] == "refused"

    server.advance_clock(20 * DAY)
    time.sleep(2)  # maintenance rounds pass: nothing grants a refused case
    assert case_state(server, mallory, case_id) == "refused"
    assert phone.activate()["status"] == "locked"
    assert any("objection-upheld" in m["subject"] for m in server.mail("mallory@example.net"))


IN_USE = """
maker = "Example Phones"
evidence = "any"

[[rules]]
id = "sanctions"
effect = "lock_in_use"
territories = ["IR"]
grace_hours = 0
"""


def test_a_territory_appeal_releases_the_device_at_its_next_checkin(
        server: ServerProcess, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(IN_USE)
    server.cli("policy", "apply", str(policy), "--reason", "export rules")
    phone = provision(server, tmp_path, "PHONE-TRAVEL")
    assert phone.activate()["status"] == "activated"
    deadline = time.monotonic() + 15
    while phone.checkin({"sim_mcc": ["432"]})["status"] != "locked":
        assert time.monotonic() < deadline, "the policy never locked the phone"
        time.sleep(0.5)
    register(server, "traveller@example.org")
    traveller = sign_in(server, "traveller@example.org")
    case_id = open_case(server, tmp_path, phone, traveller, kind="territory")
    rules = httpx.get(f"{server.url}/v1/cases/{case_id}", headers=auth(traveller)).json()
    assert rules["rules"] == ["sanctions"]

    first = support_agent(server, "agent1@support.example")
    second = support_agent(server, "agent2@support.example")
    decide(server, first, case_id, "approve")
    assert decide(server, second, case_id, "approve")["state"] == "granted"

    assert phone.last_record()["payload"]["status"] == "locked"  # until it checks in
    record = phone.checkin({"sim_mcc": ["432"]})
    assert record["status"] == "activated" and record["exemptions"] == ["sanctions"]
    assert "Exempt by appeal" in phone.lock_screen()
