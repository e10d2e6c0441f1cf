"""Helpers for the appeal-case integration tests: support agents signed in with their
second factor, bound devices, opening cases and uploading evidence over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyotp
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock

from .helpers import Account, Accounts, Device, bearer

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PURCHASE = {"date": "2025-10-01", "seller": "Second Hand Phones Ltd", "price": "249.00",
            "currency": "EUR"}


@dataclass
class Agent:
    account: Account
    totp: pyotp.TOTP
    password_token: str = ""  # signed in before the second factor was on

    @property
    def token(self) -> str:
        return self.account.token

    @property
    def account_id(self) -> str:
        return self.account.account_id


def make_agent(client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock,
               with_totp: bool = True) -> Agent:
    """An account with the support role; with its second factor on and a session signed
    in with a code (unless `with_totp` is False)."""
    account = accounts.new(accounts.new_email("agent"))
    runtime.support.add(account.email)
    totp = pyotp.TOTP(pyotp.random_base32())
    if not with_totp:
        return Agent(account, totp, account.token)
    password_token = account.token
    secret = client.post("/v1/me/totp", headers=bearer(account.token)).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirmed = client.post("/v1/me/totp/confirm", headers=bearer(account.token),
                            json={"code": totp.at(clock.now())})
    assert confirmed.status_code == 200, confirmed.text
    clock.advance(30)
    signed = client.post("/v1/sessions", json={"email": account.email,
                                               "password": account.password,
                                               "totp": totp.at(clock.now())})
    assert signed.status_code == 201, signed.text
    account.token = signed.json()["token"]
    return Agent(account, totp, password_token)


def resign(client: TestClient, agent: Agent, clock: FixedClock) -> None:
    """A fresh second-factor session (deciding needs one from the last 5 minutes)."""
    clock.advance(30)
    signed = client.post("/v1/sessions", json={"email": agent.account.email,
                                               "password": agent.account.password,
                                               "totp": agent.totp.at(clock.now())})
    assert signed.status_code == 201, signed.text
    agent.account.token = signed.json()["token"]


def bound_device(device: Device, owner: Account) -> Device:
    assert device.activate().status_code == 200
    bound = device.bind(owner.token)
    assert bound.status_code == 200, bound.response.text
    return device


def case_body(device: Device, kind: str = "activation-lock", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "imei": device.imeis[0], "kind": kind,
        "statement": "I bought this phone second hand; it asks for the old owner's account.",
        "purchase": dict(PURCHASE), "appeal_token": device.agent.appeal_token()}
    body.update(overrides)
    return body


def open_case(client: TestClient, applicant: Account, device: Device, **overrides: Any) -> str:
    response = client.post("/v1/cases", headers=bearer(applicant.token),
                           json=case_body(device, **overrides))
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "open"
    return str(response.json()["case_id"])


def upload(client: TestClient, token: str, case_id: str, data: bytes,
           name: str = "receipt.pdf") -> Any:
    return client.post(f"/v1/cases/{case_id}/evidence", headers=bearer(token),
                       files={"file": (name, data, "application/octet-stream")})


def decide(client: TestClient, agent: Agent, case_id: str, decision: str,
           reason: str | None = None) -> Any:
    body = {"decision": decision}
    if reason is not None:
        body["reason"] = reason
    return client.post(f"/v1/support/cases/{case_id}/decisions", headers=bearer(agent.token),
                       json=body)


def approve_twice(client: TestClient, a: Agent, b: Agent, case_id: str) -> dict[str, Any]:
    first = decide(client, a, case_id, "approve")
    assert first.status_code == 200, first.text
    second = decide(client, b, case_id, "approve")
    assert second.status_code == 200, second.text
    return dict(second.json())


def states(client: TestClient, applicant: Account, case_id: str) -> list[str]:
    view = client.get(f"/v1/cases/{case_id}", headers=bearer(applicant.token))
    assert view.status_code == 200, view.text
    return [h["state"] for h in view.json()["history"]]
