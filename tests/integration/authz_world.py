"""The world of the authorization matrix (test_authz_matrix.py): one database per backend,
built once per module, with a principal of every kind and the devices each one holds.

Owner A owns DA, owner B owns DB; organization O1 holds DO1 (a device A owns and
consented to O1, so the tenant's view could leak its owner), O2 holds DO2. A disabled
organization's key, a revoked key and an admin key complete the set. `fresh_*` make a
new device held by one principal, for calls that change what they touch.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from tenure import protocol
from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.crypto.b64 import b64u_encode
from tenure.crypto.jws import sign_compact
from tenure.crypto.keyring import KeyRing
from tenure.crypto.keys import SigningKey
from tenure.http.app import create_app
from tenure.store.database import normalise_url
from tenure.store.migrate import upgrade
from tests.conftest import POSTGRES_ENV
from tests.fuzz.conftest import Fingerprint

from .helpers import Account, Accounts, Device, bearer, message_ids, new_mail, provision

SENDER = "finder@example.org"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def landed(module: str) -> bool:
    """Whether a feature is on this branch (the matrix covers what the app has)."""
    return importlib.util.find_spec(f"tenure.services.{module}") is not None


CREDITORS, RETAILERS, CASES = landed("creditor"), landed("retail_sales"), landed("support")


@dataclass
class World:
    runtime: Services
    client: TestClient
    fingerprint: Fingerprint
    accounts: dict[str, Account] = field(default_factory=dict)   # "owner-A" -> account
    devices: dict[str, Device] = field(default_factory=dict)     # "owner-A" -> DA, ...
    keys: dict[str, str] = field(default_factory=dict)           # principal -> API key
    tenants: dict[str, str] = field(default_factory=dict)        # "org-O1" -> tenant id
    transfers: dict[str, str] = field(default_factory=dict)      # recipient -> transfer id
    messages: dict[str, str] = field(default_factory=dict)       # recipient -> message id
    sold: dict[str, dict[str, str]] = field(default_factory=dict)  # seller -> its transfer
    by_id: dict[str, Device] = field(default_factory=dict)       # every device made
    cases: dict[str, dict[str, str]] = field(default_factory=dict)  # applicant -> ids
    last: dict[str, str] | None = None  # the fingerprint after the last refused call
    signer: Device | None = None  # the device principal: provisioned, signs its calls

    def settled(self) -> dict[str, str]:
        """The database's fingerprint, reused from the last refused call when nothing
        may have changed since (the world is shared; its clock does not move)."""
        if self.last is None:
            self.last = self.fingerprint()
        return self.last

    def unchanged(self, before: dict[str, str]) -> bool:
        self.last = self.fingerprint()
        return self.last == before

    def device(self) -> Device:
        made = Device(self.client, self.runtime)
        provision(self.runtime, made)
        self.by_id[made.device_id] = made
        return made

    def owned(self, principal: str) -> Device:
        """A new device bound to this owner."""
        made = self.device()
        made.activate().record()
        made.bind(self.accounts[principal].token).record()
        return made

    def held(self, principal: str, owner: str | None = None) -> Device:
        """A new device this tenant holds a claim on (bound to `owner` if given): an
        organization's claim, a creditor's enrollment, a retailer's registered sale."""
        if principal.startswith("creditor"):
            return self.financed(principal)
        if principal.startswith("retailer"):
            return self.sold_by(principal)
        made = self.owned(owner) if owner else self.device()
        if owner:
            answer = self.client.post(f"/v1/me/devices/{made.device_id}/consents",
                                      json={"tenant_id": self.tenants[principal]},
                                      headers=bearer(self.accounts[owner].token))
            assert answer.status_code == 204, answer.text
        else:
            self.runtime.tenants.assign(self.tenants[principal], [made.device_id])
        answer = self.client.post("/v1/org/devices", json={"device_ids": [made.device_id]},
                                  headers=bearer(self.keys[principal]))
        assert answer.json()["claimed"] == [made.device_id], answer.text
        return made

    def past_date(self) -> str:
        """A day a month before the test clock's now, as YYYY-MM-DD."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.runtime.clock.now() - 30 * 86400))

    def financed(self, principal: str) -> Device:
        made = self.device()
        self.runtime.tenants.assign(self.tenants[principal], [made.device_id])
        answer = self.client.post("/v1/creditor/devices", headers=bearer(self.keys[principal]),
                                  json={"device_id": made.device_id,
                                        "loan_id": secrets.token_hex(6),
                                        "contact": "+49 30 5550000"})
        assert answer.status_code == 201, answer.text
        return made

    def sold_by(self, principal: str) -> Device:
        made = self.device()
        self.runtime.tenants.assign(self.tenants[principal], [made.device_id])
        answer = self.client.post("/v1/retailer/sales", headers=bearer(self.keys[principal]),
                                  json={"sales": [{"device_id": made.device_id,
                                                   "sold_on": self.past_date(),
                                                   "territory": "DE"}]})
        assert answer.status_code == 200 and answer.json()["registered"] == 1, answer.text
        return made

    def open_case(self, applicant: str, device: Device) -> dict[str, str]:
        """An activation-lock case by `applicant` against the owner claim on `device`,
        with one evidence file; its ids."""
        token = sign_compact({"kid": device.device_id, "typ": "tenure-appeal+jwt"},
                             {"sub": device.device_id, "iat": self.runtime.clock.now(),
                              "nonce": b64u_encode(secrets.token_bytes(16))}, device.key)
        bought = self.past_date()
        answer = self.client.post("/v1/cases", headers=bearer(self.accounts[applicant].token),
                                  json={"device_id": device.device_id,
                                        "kind": "activation-lock",
                                        "statement": "I bought it second hand.",
                                        "purchase": {"date": bought, "seller": "Shop",
                                                     "price": "100.00", "currency": "EUR"},
                                        "appeal_token": token})
        assert answer.status_code == 201, answer.text
        case_id = str(answer.json()["case_id"])
        added = self.client.post(f"/v1/cases/{case_id}/evidence",
                                 headers=bearer(self.accounts[applicant].token),
                                 files={"file": ("receipt.png", PNG, "image/png")})
        assert added.status_code == 201, added.text
        return {"case_id": case_id, "evidence_id": str(added.json()["evidence_id"])}

    def support_agent(self, people: Accounts) -> Account:
        """An account with the support role, a second factor, signed in with it."""
        import pyotp

        agent = people.new(Accounts.new_email("support"))
        enrolled = self.client.post("/v1/me/totp", headers=bearer(agent.token))
        assert enrolled.status_code == 201, enrolled.text
        code = pyotp.TOTP(enrolled.json()["secret"]).at(self.runtime.clock.now())
        confirmed = self.client.post("/v1/me/totp/confirm", json={"code": code},
                                     headers=bearer(agent.token))
        assert confirmed.status_code == 200, confirmed.text
        self.runtime.support.add(agent.email)
        session = self.client.post("/v1/sessions", json={
            "email": agent.email, "password": agent.password,
            "totp": confirmed.json()["recovery_codes"][0]})
        assert session.status_code == 201, session.text
        agent.token = session.json()["token"]
        return agent

    def bl_token(self, device_id: str) -> str:
        """What the bootloader of this device shows (a device never provisioned: a key
        of its own)."""
        known = self.by_id.get(device_id)
        key = known.key if known else SigningKey.generate("Ed25519")
        return sign_compact({"kid": device_id, "typ": protocol.BL_TOKEN_TYP},
                            {"sub": device_id, "nonce": b64u_encode(secrets.token_bytes(16)),
                             "iat": self.runtime.clock.now()}, key)

    def transfer(self, seller: str, buyer: str) -> tuple[Device, str]:
        """A device of `seller` with a pending transfer to `buyer`."""
        made = self.owned(seller)
        answer = self.client.post(f"/v1/me/devices/{made.device_id}/transfers",
                                  json={"to_email": self.accounts[buyer].email},
                                  headers=bearer(self.accounts[seller].token))
        assert answer.status_code == 201, answer.text
        return made, str(answer.json()["transfer_id"])

    def message(self, owner: str) -> str:
        """A relayed message to this owner's device; its id, from the owner's mail."""
        import re

        imei = self.devices[owner].imeis[0]
        seen_sender = message_ids(self.runtime, SENDER)
        seen_owner = message_ids(self.runtime, self.accounts[owner].email)
        sent = self.client.post("/v1/public/messages", json={
            "imei": imei, "from": SENDER, "message": "Found it"})
        assert sent.status_code == 202, sent.text
        token = re.findall(r"^Token:\n(\S+)$", new_mail(self.runtime, SENDER, seen_sender).body,
                           re.M)
        confirmed = self.client.post("/v1/public/messages/confirm", json={"token": token[-1]})
        assert confirmed.status_code == 202, confirmed.text
        found = re.search(r"/v1/me/messages/(\w+)/reply",
                          new_mail(self.runtime, self.accounts[owner].email,
                                   seen_owner).body)
        assert found, "no reply link mailed"
        return found.group(1)


def _database(backend: str, base: Path) -> Iterator[str]:
    if backend == "sqlite":
        url = f"sqlite:///{base / 'tenure.db'}"
        upgrade(url)
        yield url
        return
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV}")
    name = f"tenure_authz_{secrets.token_hex(4)}"
    engine = create_engine(normalise_url(admin), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_url(admin)).set(database=name).render_as_string(
        hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def build_world(backend: str, base: Path) -> Iterator[World]:
    for url in _database(backend, base):
        data = base / "var"
        KeyRing.create(data / "keys")
        runtime = bootstrap(Settings(data_dir=data, database_url=url,
                                     password_hash_cost="test"), clock=FixedClock())
        client = TestClient(create_app(runtime))
        world = World(runtime, client, Fingerprint(url))
        people = Accounts(client)
        for principal in ("owner-A", "owner-B"):
            world.accounts[principal] = people.new(Accounts.new_email(principal[-1].lower()))
        for principal, name in (("org-O1", "Fleet One"), ("org-O2", "Fleet Two"),
                                ("disabled-tenant", "Gone Fleet")):
            tenant = runtime.tenants.create("organization", name, "it@fleet.example")
            world.tenants[principal] = tenant.tenant_id
            world.keys[principal] = runtime.api_keys.create("organization", name,
                                                            tenant.tenant_id)
        world.signer = world.device()
        tenants = [("creditor", "creditor-C1", "Loans One"), ("creditor", "creditor-C2",
                    "Loans Two")] if CREDITORS else []
        tenants += [("retailer", "retailer-R1", "Shop One"), ("retailer", "retailer-R2",
                    "Shop Two")] if RETAILERS else []
        for kind, principal, name in tenants:
            tenant = runtime.tenants.create(kind, name, "+49 30 5550000")
            world.tenants[principal] = tenant.tenant_id
            world.keys[principal] = runtime.api_keys.create(kind, name, tenant.tenant_id)
        world.keys["admin-key"] = runtime.api_keys.create("admin", "operator")
        revoked = runtime.api_keys.create("organization", "old", world.tenants["org-O1"])
        runtime.api_keys.revoke(revoked[len("tnr_"):].partition("_")[0])
        world.keys["revoked-key"] = revoked
        world.devices["owner-A"] = world.owned("owner-A")
        world.devices["owner-B"] = world.owned("owner-B")
        world.devices["org-O1"] = world.held("org-O1", owner="owner-A")
        world.devices["org-O2"] = world.held("org-O2")
        for _, principal, _ in tenants:
            world.devices[principal] = world.held(principal)
        if CASES:
            world.accounts["support-agent"] = world.support_agent(people)
            world.devices["support-agent"] = world.owned("support-agent")
            world.cases["owner-A"] = world.open_case("owner-A", world.devices["owner-B"])
            world.cases["owner-B"] = world.open_case("owner-B", world.devices["owner-A"])
        gone = world.held("disabled-tenant")
        runtime.tenants.disable(world.tenants["disabled-tenant"])
        world.devices["disabled-tenant"] = gone
        for buyer, seller in (("owner-A", "owner-B"), ("owner-B", "owner-A")):
            device, transfer = world.transfer(seller, buyer)
            world.transfers[buyer] = transfer
            world.sold[seller] = {"device_id": device.device_id, "transfer_id": transfer}
            world.messages[buyer] = world.message(buyer)
        yield world
        client.close()
        world.fingerprint.close()
        runtime.close()


def strip_ids(body: dict[str, Any], *ids: str) -> dict[str, Any]:
    """type, title and detail of a problem, with the identifiers asked about blanked out."""
    kept = {k: body.get(k) for k in ("type", "title", "status", "detail")}
    for value in ids:
        kept = {k: (v.replace(value, "<id>") if isinstance(v, str) else v)
                for k, v in kept.items()}
    return kept
