"""Appeal cases over HTTP on SQLite and PostgreSQL: opening one (the appeal token, the
held claim), evidence (type by content, size, storage outside the database), and who
can see what — the applicant, the owner, support agents, other accounts."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from starlette.testclient import TestClient

from tenure import protocol
from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.crypto.jws import sign_compact
from tenure.crypto.keys import SigningKey
from tenure.store import tables as t

from .case_helpers import (
    PDF,
    PNG,
    bound_device,
    case_body,
    make_agent,
    open_case,
    upload,
)
from .helpers import Accounts, Device, assert_problem, audit, bearer, count, outbox, rows


def test_a_buyer_opens_a_case_with_evidence_and_follows_it(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services,
        clock: FixedClock) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    bound_device(device, owner)
    case_id = open_case(client, buyer, device)

    added = upload(client, buyer.token, case_id, PDF)
    assert added.status_code == 201, added.text
    sha = added.json()["sha256"]
    [stored] = rows(runtime, t.case_evidence)
    assert (stored.sha256, stored.content_type, stored.size) == (sha, "application/pdf",
                                                                 len(PDF))
    path = runtime.settings.evidence_dir / sha
    assert path.read_bytes() == PDF  # outside the database, by hash
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    view = client.get(f"/v1/cases/{case_id}", headers=bearer(buyer.token))
    assert view.status_code == 200
    assert view.json() == {"case_id": case_id, "kind": "activation-lock", "state": "open",
                           "history": [{"at": clock.now(), "state": "open"}]}
    back = client.get(f"/v1/cases/{case_id}/evidence/{added.json()['evidence_id']}",
                      headers=bearer(buyer.token))
    assert back.status_code == 200 and back.content == PDF
    assert back.headers["content-type"] == "application/pdf"
    assert back.headers["content-disposition"].startswith("attachment")
    assert back.headers["x-content-type-options"] == "nosniff"

    actions = [e.action for e in audit(runtime, f"device:{device.device_id}")]
    assert "case.opened" in actions and "case.evidence_added" in actions
    assert any(case_id in m.subject for m in outbox(runtime, buyer.email))
    # the owner hears nothing before two agents approved
    assert not any("case" in m.body for m in outbox(runtime, owner.email))


def test_the_appeal_token_must_be_the_devices_own_recent_one(
        client: TestClient, accounts: Accounts, make_device: Callable[..., Device],
        clock: FixedClock, runtime: Services) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    device, other = bound_device(make_device(), owner), make_device()
    now = clock.now()

    def token(typ: str = protocol.APPEAL_TYP, sub: str = device.device_id, iat: int = now,
              key: SigningKey = device.key) -> str:
        return sign_compact({"kid": sub, "typ": typ},
                            {"sub": sub, "iat": iat, "nonce": "A" * 22}, key)

    before = count(runtime, t.cases)
    for bad in (token(typ=protocol.BL_TOKEN_TYP), token(key=other.key),
                token(sub=other.device_id, key=other.key), token(iat=now - 24 * 3600 - 1),
                other.agent.appeal_token(), "not.a.jws", 42):
        answer = client.post("/v1/cases", headers=bearer(buyer.token),
                             json=case_body(device, appeal_token=bad))
        assert_problem(answer, "invalid-appeal-token", 400)
    assert count(runtime, t.cases) == before
    ok = client.post("/v1/cases", headers=bearer(buyer.token),
                     json=case_body(device, appeal_token=token(iat=now - 24 * 3600 + 60)))
    assert ok.status_code == 201, ok.text


def test_a_case_needs_a_held_claim_of_its_kind_and_no_lost_mode(
        client: TestClient, accounts: Accounts, make_device: Callable[..., Device]) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    free = make_device()
    assert free.activate().status_code == 200
    assert_problem(client.post("/v1/cases", headers=bearer(buyer.token),
                               json=case_body(free)), "not-found", 404)
    for kind in ("organization", "creditor", "territory"):
        held = bound_device(make_device(), owner)
        assert_problem(client.post("/v1/cases", headers=bearer(buyer.token),
                                   json=case_body(held, kind=kind)), "not-found", 404)

    lost = bound_device(make_device(), owner)
    reported = client.post(f"/v1/me/devices/{lost.device_id}/lost", headers=bearer(owner.token),
                           json={"message": "Stolen in Berlin", "contact": "+49 30 1234567"})
    assert reported.status_code == 204, reported.text
    assert_problem(client.post("/v1/cases", headers=bearer(buyer.token),
                               json=case_body(lost)), "device-held", 409)
    assert_problem(client.post("/v1/cases", json=case_body(lost)), "unauthorized", 401)


def test_a_case_is_read_carefully(client: TestClient, accounts: Accounts,
                                  device: Device) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    bound_device(device, owner)
    cases = [
        case_body(device, purchase={"date": "2025-13-01", "seller": "x", "price": "1",
                                    "currency": "EUR"}),
        case_body(device, purchase={"date": "2025-01-01", "seller": "x", "price": "1,00",
                                    "currency": "EUR"}),
        case_body(device, purchase={"date": "2025-01-01", "seller": "x", "price": "1",
                                    "currency": "EURO"}),
        case_body(device, purchase={"date": "2025-01-01", "seller": "", "price": "1",
                                    "currency": "EUR"}),
        case_body(device, kind="stolen"),
        case_body(device, statement="\u0000"),
        {**case_body(device), "device_id": device.device_id},
    ]
    for body in cases:
        assert_problem(client.post("/v1/cases", headers=bearer(buyer.token), json=body),
                       "invalid-input", 422)
    by_id = case_body(device, device_id=device.device_id)
    del by_id["imei"]
    assert client.post("/v1/cases", headers=bearer(buyer.token), json=by_id).status_code == 201


def test_evidence_is_a_pdf_jpeg_or_png_of_at_most_10_mib(
        client: TestClient, accounts: Accounts, device: Device, runtime: Services) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    bound_device(device, owner)
    case_id = open_case(client, buyer, device)
    for data in (b"<html><script>alert(1)</script></html>", b"GIF89a....", b""):
        assert_problem(upload(client, buyer.token, case_id, data, "receipt.pdf"),
                       "unsupported-evidence", 415)
    big = b"%PDF-" + b"0" * (10 * 1024 * 1024)
    assert_problem(upload(client, buyer.token, case_id, big), "too-large", 413)
    no_file = client.post(f"/v1/cases/{case_id}/evidence", headers=bearer(buyer.token),
                          files={"other": ("a.pdf", PDF, "application/pdf")})
    assert_problem(no_file, "unsupported-evidence", 415)
    not_multipart = client.post(f"/v1/cases/{case_id}/evidence", headers=bearer(buyer.token),
                                content=PDF)
    assert_problem(not_multipart, "malformed", 400)
    assert count(runtime, t.case_evidence) == 0
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    for data, content_type in ((jpeg, "image/jpeg"), (PNG, "image/png")):
        added = upload(client, buyer.token, case_id, data, "x.bin")
        assert added.status_code == 201
        back = client.get(f"/v1/cases/{case_id}/evidence/{added.json()['evidence_id']}",
                          headers=bearer(buyer.token))
        assert back.headers["content-type"] == content_type
    assert {r.content_type for r in rows(runtime, t.case_evidence)} == {"image/jpeg",
                                                                          "image/png"}


def test_who_sees_what(client: TestClient, accounts: Accounts, device: Device,
                       runtime: Services, clock: FixedClock) -> None:
    owner, buyer = accounts.new(), accounts.new(accounts.new_email("buyer"))
    stranger = accounts.new(accounts.new_email("stranger"))
    agent = make_agent(client, accounts, runtime, clock)
    without_totp = make_agent(client, accounts, runtime, clock, with_totp=False)
    password_session = agent.password_token
    bound_device(device, owner)
    case_id = open_case(client, buyer, device)
    evidence_id = upload(client, buyer.token, case_id, PDF).json()["evidence_id"]

    applicant_paths = [f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/evidence/{evidence_id}"]
    support_paths = ["/v1/support/cases", f"/v1/support/cases/{case_id}",
                     f"/v1/support/cases/{case_id}/evidence/{evidence_id}"]
    for path in applicant_paths:
        assert client.get(path, headers=bearer(buyer.token)).status_code == 200
        for other in (owner.token, stranger.token, agent.token):
            assert_problem(client.get(path, headers=bearer(other)), "not-found", 404)
        assert_problem(client.get(path), "unauthorized", 401)
    unknown = "0" * 32
    assert_problem(client.get(f"/v1/cases/{unknown}", headers=bearer(buyer.token)),
                   "not-found", 404)

    for path in support_paths:
        assert client.get(path, headers=bearer(agent.token)).status_code == 200
        for other in (buyer.token, owner.token, stranger.token, without_totp.token):
            assert_problem(client.get(path, headers=bearer(other)), "forbidden", 403)
        assert_problem(client.get(path), "unauthorized", 401)
    # the agent's password-only session from before the second factor was on
    assert_problem(client.get("/v1/support/cases", headers=bearer(password_session)),
                   "forbidden", 403)

    listed = client.get("/v1/support/cases?state=open", headers=bearer(agent.token)).json()
    assert listed == {"cases": [{"case_id": case_id, "kind": "activation-lock",
                                 "state": "open", "opened_at": clock.now()}]}
    assert client.get("/v1/support/cases?state=granted",
                      headers=bearer(agent.token)).json() == {"cases": []}
    assert_problem(client.get("/v1/support/cases?state=nonsense", headers=bearer(agent.token)),
                   "invalid-input", 422)
    full = client.get(f"/v1/support/cases/{case_id}", headers=bearer(agent.token)).json()
    assert full["evidence"][0]["evidence_id"] == evidence_id
    assert full["evidence"][0]["content_type"] == "application/pdf"
    assert full["decisions"] == [] and full["device_id"] == device.device_id
    file = client.get(support_paths[2], headers=bearer(agent.token))
    assert file.content == PDF and file.headers["x-content-type-options"] == "nosniff"
    assert file.headers["content-disposition"].startswith("attachment")

    runtime.support.remove(agent.account.email)
    assert_problem(client.get("/v1/support/cases", headers=bearer(agent.token)),
                   "forbidden", 403)
