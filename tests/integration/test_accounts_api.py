"""Owner accounts over HTTP: registration, sign-in throttling, password reset, the
owner's devices and Idempotency-Key, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.http.app import create_app
from tenure.store import tables as t

from .helpers import (
    Accounts,
    Device,
    assert_problem,
    audit,
    bearer,
    claims,
    count,
    new_reset_token,
    outbox,
    race,
    reset_tokens,
    rows,
)

# ------------------------------------------------------------------------------ registration


@pytest.mark.standard_hashing  # the server's own cost, not the suite's cheap one
def test_register_creates_an_account(client: TestClient, runtime: Services) -> None:
    response = client.post("/v1/accounts", json={"email": "  New.Owner@Example.COM ",
                                                 "password": "Twelve-chars"})
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.owner@example.com"
    [row] = rows(runtime, t.accounts)
    assert (row.account_id, row.email) == (body["account_id"], "new.owner@example.com")
    # argon2id with RFC 9106's low-memory parameters (argon2-cffi's defaults)
    assert row.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "Twelve-chars" not in row.password_hash
    assert [e.action for e in audit(runtime, f"account:{row.account_id}")] == [
        "account.created"]
    # and it can sign in, whatever the case of the address
    signed_in = client.post("/v1/sessions", json={"email": "NEW.owner@example.com",
                                                  "password": "Twelve-chars"})
    assert signed_in.status_code == 201
    assert set(signed_in.json()) == {"token", "expires_at"}
    assert signed_in.headers.get("cache-control") == "no-store"


def test_an_email_is_taken_whatever_its_case(client: TestClient, runtime: Services) -> None:
    first = client.post("/v1/accounts", json={"email": "Alice@Example.com",
                                              "password": "first-password-1"})
    assert first.status_code == 201
    again = client.post("/v1/accounts", json={"email": "aLiCe@example.COM",
                                              "password": "second-password-2"})
    assert_problem(again, "email-taken", 409)
    assert count(runtime, t.accounts) == 1
    # the first password still works, the second never did
    assert client.post("/v1/sessions", json={"email": "alice@example.com",
                                             "password": "first-password-1"}).status_code == 201


@pytest.mark.parametrize("password", [
    "x" * 11, "Elevenchar1",  # too short
    "passwordpassword", "PassWordPassWord", "correcthorsebatterystaple",  # common
    "abababababababab",  # two characters repeated
    "y" * 129,  # too long
], ids=["11-same", "11-mixed", "common", "common-other-case", "common-long", "two-chars",
        "129"])
def test_weak_passwords_are_refused(client: TestClient, runtime: Services,
                                    password: str) -> None:
    response = client.post("/v1/accounts", json={"email": "weak@example.com",
                                                 "password": password})
    assert_problem(response, "weak-password", 422)
    assert count(runtime, t.accounts) == 0


def test_password_length_limits_are_inclusive(client: TestClient) -> None:
    for email, password in (("twelve@example.com", "Abcdefghijk1"),
                            ("long@example.com", "Zq9-" + "ab1" * 41 + "x")):
        assert len(password) in (12, 128)
        response = client.post("/v1/accounts", json={"email": email, "password": password})
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("email", [
    "no-at-sign.example.com", "two@@example.com", "nodomain@", "@example.com",
    "a b@example.com", "tld-less@example", "x" * 65 + "@example.com", 42, None, ["a@b.c"],
])
def test_invalid_emails_are_refused(client: TestClient, runtime: Services,
                                    email: object) -> None:
    response = client.post("/v1/accounts", json={"email": email,
                                                 "password": "a-good-password-9"})
    assert_problem(response, "invalid-input", 422)
    assert count(runtime, t.accounts) == 0


@pytest.mark.parametrize("body", [b"not json", b"[]", b'"string"'])
def test_a_body_that_is_not_a_json_object_is_malformed(client: TestClient,
                                                       body: bytes) -> None:
    response = client.post("/v1/accounts", content=body,
                           headers={"Content-Type": "application/json"})
    assert_problem(response, "malformed", 400)


# ------------------------------------------------------------------------------ sessions


def test_wrong_password_and_unknown_email_get_the_same_answer(
        client: TestClient, accounts: Accounts) -> None:
    owner = accounts.register()
    wrong = client.post("/v1/sessions", json={"email": owner.email,
                                              "password": "not-the-password"})
    unknown = client.post("/v1/sessions", json={"email": "nobody-here@example.com",
                                                "password": "not-the-password"})
    body = assert_problem(wrong, "invalid-credentials", 401)
    assert assert_problem(unknown, "invalid-credentials", 401) == body
    assert wrong.content == unknown.content
    assert wrong.headers.get("content-type") == unknown.headers.get("content-type")


def test_sign_in_is_paused_after_five_failures_and_the_owner_is_told(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock) -> None:
    owner = accounts.register()
    wrong = {"email": owner.email, "password": "not-the-password"}
    right = {"email": owner.email, "password": owner.password}
    for _ in range(5):
        assert_problem(client.post("/v1/sessions", json=wrong), "invalid-credentials", 401)

    paused = client.post("/v1/sessions", json=right)  # even the right password waits
    body = assert_problem(paused, "too-many-attempts", 429)
    assert paused.headers["retry-after"] == "30"
    assert "retry_after" not in body
    [mail] = outbox(runtime, owner.email)
    assert mail.subject == "Failed sign-in attempts on your account"
    assert "not locked for good" in mail.body
    assert audit(runtime, f"account:{owner.account_id}")[-1].action == "account.sign_in_paused"

    # the pause grows: one more failure once it is over doubles it
    clock.advance(30)
    assert_problem(client.post("/v1/sessions", json=wrong), "invalid-credentials", 401)
    again = client.post("/v1/sessions", json=right)
    assert_problem(again, "too-many-attempts", 429)
    assert again.headers["retry-after"] == "60"
    clock.advance(59)
    assert client.post("/v1/sessions", json=right).status_code == 429
    clock.advance(1)

    # waiting it out, the right password works and the count starts over
    assert client.post("/v1/sessions", json=right).status_code == 201
    assert_problem(client.post("/v1/sessions", json=wrong), "invalid-credentials", 401)
    assert client.post("/v1/sessions", json=right).status_code == 201
    assert len(outbox(runtime, owner.email)) == 1  # told once, not per failure


def test_unknown_emails_are_throttled_like_known_ones(client: TestClient,
                                                      runtime: Services) -> None:
    guess = {"email": "ghost@example.com", "password": "guessing-password"}
    for _ in range(5):
        assert_problem(client.post("/v1/sessions", json=guess), "invalid-credentials", 401)
    paused = client.post("/v1/sessions", json=guess)
    assert_problem(paused, "too-many-attempts", 429)
    assert paused.headers["retry-after"] == "30"
    assert count(runtime, t.outbox) == 0  # nobody to tell


@pytest.mark.standard_hashing  # checks that take their real time overlap as in an attack
def test_a_burst_of_wrong_passwords_checks_five_then_answers_429(
        accounts: Accounts, runtime: Services, clock: FixedClock, backend: str) -> None:
    """Regression: 20 simultaneous wrong passwords for one email were all checked and
    answered 401. Each attempt is now counted before its password is checked, so a burst
    gets exactly five checks (the threshold); the rest wait out the pause (429)."""
    owner = accounts.register()
    wrong = {"email": owner.email, "password": "parallel-guess-1"}

    def burst(size: int) -> list[int]:
        clients = [TestClient(create_app(runtime)) for _ in range(size)]
        answers = race([partial(c.post, "/v1/sessions", json=wrong) for c in clients])
        for c in clients:
            c.close()
        assert all(not isinstance(a, BaseException) for a in answers), answers
        for a in answers:
            if a.status_code == 429:
                assert_problem(a, "too-many-attempts", 429)
                assert int(a.headers["retry-after"]) >= 1
        return sorted(a.status_code for a in answers)

    assert burst(20) == [401] * 5 + [429] * 15
    assert len(outbox(runtime, owner.email)) == 1  # the owner is told once
    clock.advance(30)  # the pause is over: one more check, then a longer pause
    assert burst(8) == [401] + [429] * 7
    paused = accounts.client.post("/v1/sessions", json={"email": owner.email,
                                                        "password": owner.password})
    assert_problem(paused, "too-many-attempts", 429)
    assert paused.headers["retry-after"] == "60"
    [counted] = [r.failures for r in rows(runtime, t.login_throttle)
                 if r.key == f"email:{owner.email}"]
    assert counted == 6


def test_sign_in_input_is_checked(client: TestClient) -> None:
    for body in ({"email": "a@example.com"}, {"email": "a@example.com", "password": ""},
                 {"email": "a@example.com", "password": 12345678901234},
                 {"email": "a@example.com", "password": "long-enough-pw", "totp": 123456},
                 {"password": "long-enough-pw"}):
        assert_problem(client.post("/v1/sessions", json=body), "invalid-input", 422)


def test_an_oversized_account_body_is_too_large(client: TestClient, runtime: Services) -> None:
    body = json.dumps({"email": "big@example.com", "password": "p" * 70_000}).encode()
    assert_problem(client.post("/v1/accounts", content=body,
                               headers={"Content-Type": "application/json"}), "too-large", 413)
    assert count(runtime, t.accounts) == 0


def test_sessions_expire(client: TestClient, accounts: Accounts, runtime: Services,
                         clock: FixedClock) -> None:
    owner = accounts.new()
    assert client.get("/v1/me/devices", headers=bearer(owner.token)).status_code == 200
    clock.advance(int(runtime.settings.session_ttl_hours * 3600))
    assert_problem(client.get("/v1/me/devices", headers=bearer(owner.token)),
                   "unauthorized", 401)


def test_me_devices_needs_a_bearer_token(client: TestClient) -> None:
    assert_problem(client.get("/v1/me/devices"), "unauthorized", 401)
    assert_problem(client.get("/v1/me/devices", headers={"Authorization": "Basic abc"}),
                   "unauthorized", 401)
    assert_problem(client.get("/v1/me/devices", headers=bearer("made-up")), "unauthorized", 401)


# ------------------------------------------------------------------------------ password reset


def test_password_reset(client: TestClient, accounts: Accounts, runtime: Services,
                        clock: FixedClock) -> None:
    owner = accounts.new()
    old_session = owner.token

    unknown = client.post("/v1/password-resets", json={"email": "nobody@example.com"})
    known = client.post("/v1/password-resets", json={"email": owner.email.upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.content == known.content == b""
    runtime.password_reset.process_pending()
    assert count(runtime, t.outbox) == 1  # only the real account gets mail
    token = new_reset_token(runtime, owner.email)
    assert token not in known.text

    new_password = accounts.new_password()
    confirm = {"token": token, "new_password": new_password}
    assert client.post("/v1/password-resets/confirm", json=confirm).status_code == 204
    assert_problem(client.post("/v1/password-resets/confirm", json=confirm),
                   "invalid-token", 400)  # single use

    # every session from before the reset is revoked
    assert_problem(client.get("/v1/me/devices", headers=bearer(old_session)),
                   "unauthorized", 401)
    assert_problem(client.post("/v1/sessions", json={"email": owner.email,
                                                     "password": owner.password}),
                   "invalid-credentials", 401)
    owner.password = new_password
    fresh = accounts.sign_in(owner)
    assert client.get("/v1/me/devices", headers=bearer(fresh)).status_code == 200
    assert "Your password was changed" in [m.subject for m in outbox(runtime, owner.email)]
    assert audit(runtime, f"account:{owner.account_id}")[-1].action == \
        "account.password_changed"
    assert rows(runtime, t.accounts)[0].password_changed_at == clock.now()


def test_reset_tokens_expire_and_a_reset_voids_the_others(
        client: TestClient, accounts: Accounts, runtime: Services, clock: FixedClock) -> None:
    owner = accounts.register()
    client.post("/v1/password-resets", json={"email": owner.email})
    early = new_reset_token(runtime, owner.email)
    clock.advance(3000)
    client.post("/v1/password-resets", json={"email": owner.email})
    middle = new_reset_token(runtime, owner.email, known=[early])
    clock.advance(10)
    client.post("/v1/password-resets", json={"email": owner.email})
    late = new_reset_token(runtime, owner.email, known=[early, middle])
    clock.advance(600)  # `early` is now 61 minutes old; the TTL is 60

    password = accounts.new_password()
    assert_problem(client.post("/v1/password-resets/confirm",
                               json={"token": early, "new_password": password}),
                   "invalid-token", 400)
    assert client.post("/v1/password-resets/confirm",
                       json={"token": late, "new_password": password}).status_code == 204
    assert_problem(client.post("/v1/password-resets/confirm",
                               json={"token": middle, "new_password": password}),
                   "invalid-token", 400)
    assert len(reset_tokens(runtime, owner.email)) == 3


def test_a_weak_new_password_does_not_spend_the_token(client: TestClient, accounts: Accounts,
                                                      runtime: Services) -> None:
    owner = accounts.register()
    client.post("/v1/password-resets", json={"email": owner.email})
    token = new_reset_token(runtime, owner.email)
    assert_problem(client.post("/v1/password-resets/confirm",
                               json={"token": token, "new_password": "short"}),
                   "weak-password", 422)
    assert client.post("/v1/password-resets/confirm",
                       json={"token": token,
                             "new_password": accounts.new_password()}).status_code == 204


def test_a_reset_clears_the_sign_in_pause(client: TestClient, accounts: Accounts,
                                          runtime: Services) -> None:
    owner = accounts.register()
    for _ in range(5):
        client.post("/v1/sessions", json={"email": owner.email, "password": "wrong-password"})
    client.post("/v1/password-resets", json={"email": owner.email})
    new_password = accounts.new_password()
    client.post("/v1/password-resets/confirm",
                json={"token": new_reset_token(runtime, owner.email),
                      "new_password": new_password})
    assert client.post("/v1/sessions", json={"email": owner.email,
                                             "password": new_password}).status_code == 201


# ------------------------------------------------------------------------------ my devices


def test_my_devices_lists_bound_devices_and_removal_releases_the_lock(
        client: TestClient, accounts: Accounts, device: Device, make_device: Callable[..., Device],
        runtime: Services, clock: FixedClock) -> None:
    owner, other = accounts.new(), accounts.new()
    theirs = make_device()
    for dev, acct in ((device, owner), (theirs, other)):
        dev.activate().record()
        dev.bind(acct.token).record()

    listed = client.get("/v1/me/devices", headers=bearer(owner.token))
    assert listed.status_code == 200
    assert listed.headers.get("cache-control") == "no-store"
    [entry] = listed.json()["devices"]  # only the owner's device, not the other one
    documented = {k: entry[k] for k in ("device_id", "model", "claims", "last_checkin")}
    assert documented == {"device_id": device.device_id, "model": "Tenure Phone 1",
                          "claims": [{"kind": "owner", "since": clock.now()}],
                          "last_checkin": None}

    # someone else's device is not yours to see or remove
    assert_problem(client.delete(f"/v1/me/devices/{theirs.device_id}",
                                 headers=bearer(owner.token)), "not-found", 404)
    assert len(claims(runtime, theirs.device_id, active_only=True)) == 1
    assert_problem(client.delete("/v1/me/devices/NO-SUCH-DEVICE",
                                 headers=bearer(owner.token)), "not-found", 404)

    clock.advance(301)
    stale = client.delete(f"/v1/me/devices/{device.device_id}", headers=bearer(owner.token))
    assert_problem(stale, "reauthentication-required", 401)
    assert len(claims(runtime, device.device_id, active_only=True)) == 1

    fresh = accounts.sign_in(owner)
    removed = client.delete(f"/v1/me/devices/{device.device_id}", headers=bearer(fresh))
    assert removed.status_code == 204
    assert removed.content == b""
    assert client.get("/v1/me/devices", headers=bearer(fresh)).json() == {"devices": []}
    [claim] = claims(runtime, device.device_id)
    assert claim.released_at == clock.now()
    assert audit(runtime, f"device:{device.device_id}")[-1].action == "claim.owner.released"
    assert "Your Tenure Phone 1 was removed from your account" in [
        m.subject for m in outbox(runtime, owner.email)]
    assert_problem(client.delete(f"/v1/me/devices/{device.device_id}", headers=bearer(fresh)),
                   "not-found", 404)

    # after a reset the device activates with no account at all
    device.factory_reset()
    record = device.activate().record()
    assert (record["status"], record["locks"], record["owner"]) == ("activated", [], None)


# ------------------------------------------------------------------------------ idempotency


def test_idempotency_key_replays_registration(client: TestClient, runtime: Services) -> None:
    body = {"email": "idem@example.com", "password": "idempotent-pass-1"}
    key = {"Idempotency-Key": "create-idem-1"}
    first = client.post("/v1/accounts", json=body, headers=key)
    assert first.status_code == 201
    again = client.post("/v1/accounts", json=body, headers=key)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers.get("idempotent-replayed") == "true"
    assert count(runtime, t.accounts) == 1

    other = client.post("/v1/accounts", headers=key,
                        json={"email": "idem2@example.com", "password": "idempotent-pass-2"})
    assert_problem(other, "invalid-input", 422)
    assert count(runtime, t.accounts) == 1
    # without the key, the same request is a new request: the address is taken
    assert_problem(client.post("/v1/accounts", json=body), "email-taken", 409)


def test_idempotency_keys_are_bounded(client: TestClient, runtime: Services) -> None:
    body = {"email": "bounded@example.com", "password": "idempotent-pass-1"}
    assert_problem(client.post("/v1/accounts", json=body, headers={"Idempotency-Key": "k" * 129}),
                   "invalid-input", 422)
    assert count(runtime, t.accounts) == 0


# ------------------------------------------------------------------------------ odd input


# name: (path, body, acceptable statuses): a NUL or a lone surrogate must be answered,
# never crash the driver (each once gave 500)
ODD_TEXT = {
    "sign-in-nul-email": ("/v1/sessions", {"email": "a\x00b@example.com",
                                           "password": "whatever-password"},
                          {401, 422}),
    "reset-nul-email": ("/v1/password-resets", {"email": "a\x00b@example.com"},
                        {202, 422}),
    "register-nul-email": ("/v1/accounts", {"email": "a\x00b@example.com",
                                            "password": "a-good-password-1"},
                           {422}),
    "sign-in-lone-surrogate-email": ("/v1/sessions", {"email": "a\ud800b@example.com",
                                                      "password": "whatever-password"},
                                     {401, 422}),
    "register-lone-surrogate-password": ("/v1/accounts", {"email": "s@example.com",
                                                          "password": "a-good-password-\ud800"},
                                         {422}),
    "sign-in-lone-surrogate-password": ("/v1/sessions", {"email": "s@example.com",
                                                         "password": "a-good-password-\ud800"},
                                        {401, 422}),
}


@pytest.mark.parametrize("case", list(ODD_TEXT))
def test_unencodable_text_gets_an_answer_not_a_500(runtime: Services, backend: str,
                                                   request: pytest.FixtureRequest,
                                                   case: str) -> None:
    path, body, acceptable = ODD_TEXT[case]
    safe = TestClient(create_app(runtime), raise_server_exceptions=False)
    response = safe.post(path, content=json.dumps(body),
                         headers={"Content-Type": "application/json"})
    assert response.status_code in acceptable, response.text
    assert count(runtime, t.accounts) == 0


def test_a_nul_in_a_device_path_is_not_found_not_a_crash(
        runtime: Services, accounts: Accounts, backend: str,
        request: pytest.FixtureRequest) -> None:
    owner = accounts.new()
    safe = TestClient(create_app(runtime), raise_server_exceptions=False)
    response = safe.delete("/v1/me/devices/dev%00ice", headers=bearer(owner.token))
    assert_problem(response, "not-found", 404)
