"""The second factor (TOTP) over HTTP on SQLite and PostgreSQL: enrolment, confirmation,
and signing in with a code or a recovery code. Codes come from pyotp at the test's
FixedClock, the clock the server uses."""

from __future__ import annotations

from functools import partial

import pyotp
import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.http.app import create_app
from tenure.store import tables as t

from .helpers import Accounts, assert_problem, audit, bearer, outbox, race, rows


def sign_in(client: TestClient, email: str, password: str, totp: str | None = None
            ) -> tuple[int, dict[str, object]]:
    body = {"email": email, "password": password}
    if totp is not None:
        body["totp"] = totp
    response = client.post("/v1/sessions", json=body)
    return response.status_code, response.json()


def test_enrol_confirm_and_sign_in_with_a_code_then_a_recovery_code(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock) -> None:
    owner = accounts.new()
    enrolled = client.post("/v1/me/totp", headers=bearer(owner.token))
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.headers["cache-control"] == "no-store"
    secret = enrolled.json()["secret"]
    uri = pyotp.parse_uri(enrolled.json()["otpauth_uri"])
    assert uri.secret == secret and uri.digits == 6 and uri.interval == 30
    totp = pyotp.TOTP(secret)

    confirmed = client.post("/v1/me/totp/confirm", headers=bearer(owner.token),
                            json={"code": totp.at(clock.now())})
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(set(recovery)) == 10
    [stored] = rows(runtime, t.account_totp)
    assert stored.enabled_at == clock.now()
    hashes = {r.code_hash for r in rows(runtime, t.totp_recovery_codes)}
    assert len(hashes) == 10 and not hashes & set(recovery)
    assert [e.action for e in audit(runtime, f"account:{owner.account_id}")
            ].count("account.totp_enabled") == 1
    assert any("Two-step" in m.subject for m in outbox(runtime, owner.email))

    status, body = sign_in(client, owner.email, owner.password)
    assert (status, body["type"]) == (401, "urn:tenure:problem:totp-required")
    status, body = sign_in(client, owner.email, "a wrong password!", totp.at(clock.now()))
    assert (status, body["type"]) == (401, "urn:tenure:problem:invalid-credentials")
    # the confirming code counts as used
    status, body = sign_in(client, owner.email, owner.password, totp.at(clock.now()))
    assert (status, body["type"]) == (401, "urn:tenure:problem:invalid-credentials")

    clock.advance(30)
    status, _ = sign_in(client, owner.email, owner.password, totp.at(clock.now()))
    assert status == 201
    status, _ = sign_in(client, owner.email, owner.password, totp.at(clock.now()))
    assert status == 401  # the same code again
    status, _ = sign_in(client, owner.email, owner.password, recovery[0])
    assert status == 201
    status, _ = sign_in(client, owner.email, owner.password, recovery[0])
    assert status == 401
    assert_problem(client.post("/v1/me/totp", headers=bearer(owner.token)),
                   "totp-enabled", 409)


def test_enrolment_needs_a_fresh_token_and_a_wrong_code_leaves_it_off(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock) -> None:
    owner = accounts.new()
    assert_problem(client.post("/v1/me/totp"), "unauthorized", 401)
    first = client.post("/v1/me/totp", headers=bearer(owner.token)).json()["secret"]
    second = client.post("/v1/me/totp", headers=bearer(owner.token)).json()["secret"]
    assert first != second and len(rows(runtime, t.account_totp)) == 1
    assert_problem(client.post("/v1/me/totp/confirm", headers=bearer(owner.token),
                               json={"code": pyotp.TOTP(first).at(clock.now())}),
                   "invalid-input", 422)
    assert rows(runtime, t.account_totp)[0].enabled_at is None
    assert sign_in(client, owner.email, owner.password)[0] == 201  # still off
    clock.advance(runtime.settings.reauth_seconds + 1)
    assert_problem(client.post("/v1/me/totp", headers=bearer(owner.token)),
                   "reauthentication-required", 401)


def test_drift_of_one_step_is_accepted_two_refused(
        client: TestClient, accounts: Accounts, clock: FixedClock) -> None:
    owner = accounts.new()
    secret = client.post("/v1/me/totp", headers=bearer(owner.token)).json()["secret"]
    totp = pyotp.TOTP(secret)
    assert client.post("/v1/me/totp/confirm", headers=bearer(owner.token),
                       json={"code": totp.at(clock.now())}).status_code == 200
    clock.advance(300)
    assert sign_in(client, owner.email, owner.password, totp.at(clock.now() - 60))[0] == 401
    assert sign_in(client, owner.email, owner.password, totp.at(clock.now() + 60))[0] == 401
    assert sign_in(client, owner.email, owner.password, totp.at(clock.now() - 30))[0] == 201
    assert sign_in(client, owner.email, owner.password, totp.at(clock.now() + 30))[0] == 201


def test_wrong_codes_pause_sign_in_like_wrong_passwords(
        client: TestClient, accounts: Accounts, clock: FixedClock) -> None:
    owner = accounts.new()
    secret = client.post("/v1/me/totp", headers=bearer(owner.token)).json()["secret"]
    totp = pyotp.TOTP(secret)
    client.post("/v1/me/totp/confirm", headers=bearer(owner.token),
                json={"code": totp.at(clock.now())})
    for _ in range(5):
        assert sign_in(client, owner.email, owner.password, "not-a-code")[0] == 401
    response = client.post("/v1/sessions", json={
        "email": owner.email, "password": owner.password, "totp": totp.at(clock.now() + 30)})
    assert_problem(response, "too-many-attempts", 429)


def test_confirm_checks_the_token_before_the_body(client: TestClient, accounts: Accounts,
                                                  runtime: Services) -> None:
    owner = accounts.new()
    assert_problem(client.post("/v1/me/totp/confirm", json={"code": 123456}),
                   "unauthorized", 401)
    assert_problem(client.post("/v1/me/totp/confirm", headers=bearer(owner.token),
                               json={"code": 123456}), "invalid-input", 422)
    assert_problem(client.post("/v1/me/totp/confirm", headers=bearer(owner.token),
                               json={"code": "123456"}), "invalid-input", 422)  # none pending
    assert rows(runtime, t.account_totp) == []


@pytest.mark.standard_hashing  # the password checks take their real time, as in a race
def test_one_code_sent_at_once_on_three_connections_opens_one_session(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock) -> None:
    owner = accounts.new()
    secret = client.post("/v1/me/totp", headers=bearer(owner.token)).json()["secret"]
    totp = pyotp.TOTP(secret)
    client.post("/v1/me/totp/confirm", headers=bearer(owner.token),
                json={"code": totp.at(clock.now())})
    clock.advance(30)
    body = {"email": owner.email, "password": owner.password, "totp": totp.at(clock.now())}
    clients = [TestClient(create_app(runtime)) for _ in range(3)]
    answers = race([partial(c.post, "/v1/sessions", json=body) for c in clients])
    for c in clients:
        c.close()
    assert sorted(a.status_code for a in answers) == [201, 401, 401], answers
