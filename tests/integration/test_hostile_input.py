"""Hostile input without signing in: every answer is a problem document, never a 500.

Through the real app on both databases: JSON nested past the reader's depth limit,
integers of thousands of digits (Python refuses to convert past 4,300 and crashed the
request), NaN; text fields with an unpaired surrogate or a NUL (PostgreSQL text cannot
hold one); TOML policies that tomllib cannot survive. Signed device requests that fail
this way must still use up their nonce, so the same body cannot be replayed.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from tenure.bootstrap import Services
from tenure.crypto.b64 import b64u_encode
from tenure.domain.errors import BadNonce
from tenure.services.device_gateway import DeviceGateway

from .helpers import (
    ACTIVATION,
    BIND,
    CHECKIN,
    UNBIND,
    Accounts,
    Device,
    assert_problem,
    bearer,
    raw_jws,
)

DEEP = "[" * 5000 + "]" * 5000  # fits every body limit; past any recursion limit
SLIGHTLY_DEEP = "[" * 33 + "]" * 33  # one level past the reader's limit
HUGE_INT = "1" * 4300
LONG_INT = "1" * 25  # converts, but no field here can hold it
HOSTILE_VALUES = {"deep": DEEP, "slightly-deep": SLIGHTLY_DEEP, "huge-int": HUGE_INT,
                  "long-int": LONG_INT, "nan": "NaN", "infinity": "1e999"}
JSON_ENDPOINTS = ["/v1/accounts", "/v1/sessions", "/v1/password-resets",
                  "/v1/password-resets/confirm", "/v1/unlocks",
                  "/v1/me/devices/IT000000000001/lost"]
DEVICE_ENDPOINTS = [ACTIVATION, BIND, UNBIND, CHECKIN]


def hostile_body(value: str) -> bytes:
    return ('{"email": "a@example.com", "password": "correct horse battery", '
            f'"message": "x", "x": {value}}}').encode()


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
@pytest.mark.parametrize("attack", sorted(HOSTILE_VALUES))
def test_hostile_json_is_malformed_not_a_crash(client: TestClient, endpoint: str,
                                               attack: str) -> None:
    response = client.post(endpoint, content=hostile_body(HOSTILE_VALUES[attack]),
                           headers=bearer("not-a-session"))
    assert_problem(response, "malformed", 400)


def test_nesting_up_to_the_limit_is_still_read(client: TestClient) -> None:
    """The limit refuses attacks, not documents: 32 levels are read (and then refused
    for what they say, not for their shape)."""
    body = '{"email": "a@example.com", "x": ' + "[" * 31 + "]" * 31 + "}"
    response = client.post("/v1/password-resets", content=body.encode())
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("endpoint", DEVICE_ENDPOINTS)
@pytest.mark.parametrize("attack", sorted(HOSTILE_VALUES))
def test_hostile_json_body_of_a_device_request_is_malformed(device: Device, endpoint: str,
                                                            attack: str) -> None:
    reply = device.send(endpoint, hostile_body(HOSTILE_VALUES[attack]))
    reply.problem("malformed", 400)


@pytest.mark.parametrize("attack", ["deep", "huge-int", "nan"])
def test_hostile_protected_header_is_malformed(device: Device, attack: str) -> None:
    header = json.dumps({"alg": "EdDSA", "kid": device.device_id,
                         "nonce": device.fresh_nonce(), "url": CHECKIN})
    protected = header[:-1] + f', "x": {HOSTILE_VALUES[attack]}}}'
    body = raw_jws({}, {}, device.key)
    body["protected"] = b64u_encode(protected.encode())
    device.send(CHECKIN, body).problem("malformed", 400)


@pytest.mark.parametrize("endpoint", DEVICE_ENDPOINTS)
@pytest.mark.parametrize("attack", sorted(HOSTILE_VALUES))
def test_a_signed_hostile_payload_is_malformed_and_cannot_be_replayed(
        device: Device, endpoint: str, attack: str) -> None:
    """Correctly signed, so its nonce is spent: the same body again is `bad-nonce`."""
    device.activate().record()
    nonce = device.fresh_nonce()
    payload = ('{"signals": {}, "acks": [], "account_token": "t", "x": '
               f'{HOSTILE_VALUES[attack]}}}').encode()
    body = raw_jws({"alg": "EdDSA", "kid": device.device_id, "nonce": nonce, "url": endpoint},
                   payload, device.key)
    first = device.send(endpoint, body, nonce=nonce)
    first.problem("malformed", 400)
    device.replay(first).problem("bad-nonce", 400)


def test_a_crashing_device_action_still_uses_up_the_nonce(runtime: Services,
                                                          device: Device) -> None:
    """The catch-all: whatever bug a use case has, its signed request is not replayable."""
    gateway = DeviceGateway(runtime.uow, runtime.nonces)
    jws, _ = device.sign(CHECKIN, {"signals": {}})
    body = json.dumps(jws).encode()

    def crash(tx: object, request: object) -> str:
        raise RuntimeError("a bug in a use case")

    with pytest.raises(RuntimeError):
        gateway.handle(body, CHECKIN, crash)
    with pytest.raises(BadNonce):
        gateway.handle(body, CHECKIN, lambda tx, request: "record")


@pytest.mark.parametrize("endpoint", [ACTIVATION, CHECKIN])
@pytest.mark.parametrize("field", ["acks", "bootloader", "account_token"])
@pytest.mark.parametrize("text", ["\x00", "\ud800", "a\x00b"])
def test_nul_and_surrogates_in_device_payloads_are_no_crash(device: Device, endpoint: str,
                                                            field: str, text: str) -> None:
    device.activate().record()
    value: object = [text] if field == "acks" else text
    nonce = device.fresh_nonce()
    header = {"alg": "EdDSA", "kid": device.device_id, "nonce": nonce, "url": endpoint}
    reply = device.send(endpoint, raw_jws(header, {"signals": {}, field: value}, device.key),
                        nonce=nonce)
    assert reply.status_code == 200, reply.response.text
    reply.record()


# ----------------------------------------------------------------------- text fields


@pytest.fixture
def lost_phone(accounts: Accounts, make_device: Callable[..., Device]) -> tuple[Device, str]:
    owner = accounts.new()
    phone = make_device()
    phone.activate().record()
    phone.bind(owner.token).record()
    return phone, owner.token


@pytest.mark.parametrize("field", ["message", "contact"])
@pytest.mark.parametrize("text", ["\ud800", "call me\x00", "bell\x07", "\x1b[2J", "a\u0085b"])
def test_lost_mode_text_with_control_characters_is_invalid_input(
        client: TestClient, lost_phone: tuple[Device, str], field: str, text: str) -> None:
    phone, token = lost_phone
    body = {"message": "Please return it", "contact": "+49 30 1234567", field: text}
    response = client.post(f"/v1/me/devices/{phone.device_id}/lost",
                           content=json.dumps(body).encode(), headers=bearer(token))
    problem = assert_problem(response, "invalid-input", 422)
    assert field in problem["detail"]
    assert phone.checkin().record()["locks"] == []


def test_a_multi_line_lost_message_keeps_its_lines(client: TestClient,
                                                   lost_phone: tuple[Device, str]) -> None:
    phone, token = lost_phone
    response = client.post(f"/v1/me/devices/{phone.device_id}/lost",
                           json={"message": "Lost!\r\n\tReward offered.",
                                 "contact": "+49 30 1234567"},
                           headers=bearer(token))
    assert response.status_code == 204, response.text
    (lock,) = phone.checkin().record()["locks"]
    assert lock["message"] == "Lost!\n\tReward offered."


@pytest.mark.parametrize("email", ["a\ud800@example.com", "a\x00@example.com",
                                   "a\x85b@example.com"])
def test_emails_with_control_characters_are_invalid_input(client: TestClient,
                                                          email: str) -> None:
    for path in ("/v1/accounts", "/v1/sessions", "/v1/password-resets"):
        response = client.post(path, content=json.dumps(
            {"email": email, "password": "correct horse battery"}).encode())
        assert_problem(response, "invalid-input", 422)


# ----------------------------------------------------------------------- policy (TOML)


@pytest.fixture
def policy_key(runtime: Services) -> dict[str, str]:
    return bearer(runtime.api_keys.create("policy", "compliance"))


HOSTILE_POLICIES = {
    "deep": 'maker = "M"\ndescription = ' + "[" * 5000 + "]" * 5000 + "\n",
    "slightly-deep": 'maker = "M"\ndescription = ' + "[" * 40 + "]" * 40 + "\n",
    "huge-int": f"maker = \"M\"\ndescription = {'9' * 5000}\n",
    "long-int": f"maker = \"M\"\ndescription = {'9' * 25}\n",
    "inf": "maker = \"M\"\ndescription = inf\n",
    "huge-hours": '[[rules]]\nid = "r"\neffect = "lock_in_use"\nterritories = ["IR"]\n'
                  "grace_hours = 1e300\n",
    "nul-message": '[[rules]]\nid = "r"\neffect = "deny_activation"\nterritories = ["IR"]\n'
                   'message = "closed\\u0000"\n',
    "control-maker": 'maker = "Example\\u001b[2J"\n',
    "long-rule-id": f'[[rules]]\nid = "{"r" * 60}"\neffect = "deny_activation"\n'
                    'territories = ["IR"]\n',
    "too-large": 'maker = "M"\n' + "# padding\n" * 30_000,
}


@pytest.mark.parametrize("endpoint", ["/v1/admin/policy/validate", "/v1/admin/policy/dry-run",
                                      "/v1/admin/policy?reason=test"])
@pytest.mark.parametrize("attack", sorted(HOSTILE_POLICIES))
def test_hostile_policies_are_invalid_not_a_crash(client: TestClient,
                                                  policy_key: dict[str, str], endpoint: str,
                                                  attack: str) -> None:
    response = client.post(endpoint, content=HOSTILE_POLICIES[attack].encode(),
                           headers=policy_key)
    assert_problem(response, "invalid-policy", 422)


def test_a_reason_with_a_nul_is_invalid_input(client: TestClient,
                                              policy_key: dict[str, str]) -> None:
    response = client.post("/v1/admin/policy", params={"reason": "because\x00"},
                           content=b'maker = "M"\n', headers=policy_key)
    assert_problem(response, "invalid-input", 422)
    assert client.get("/v1/admin/policy/versions", headers=policy_key).json() == {
        "versions": []}


@pytest.mark.parametrize("version", [2**31, 2**63 - 1, -(2**63)])
def test_rolling_back_to_an_impossible_version_is_not_found(
        client: TestClient, policy_key: dict[str, str], version: int) -> None:
    response = client.post("/v1/admin/policy/rollback", json={"version": version},
                           headers=policy_key)
    assert_problem(response, "not-found", 404)
