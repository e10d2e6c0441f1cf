"""The buyer's status check over HTTP, on SQLite and PostgreSQL: the statement verifies
against the published keys (with the server's own crypto and with PyJWT), its booleans
follow the claims held, and the limits per address (an IPv6 /64 as one) and per device
answer 429 with Retry-After."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from starlette.testclient import TestClient

from tenure import protocol
from tenure.agent.records import pinned_keys, verify_token
from tenure.bootstrap import Services, bootstrap
from tenure.config import Settings
from tenure.http.app import create_app

from .helpers import assert_problem
from .test_lost_mode_api import LOST, owned, report
from .test_unlock_api import Server

PATH = "/v1/public/status"


@pytest.fixture
def server(runtime: Services) -> Iterator[Server]:
    client = TestClient(create_app(runtime))
    yield Server(runtime, client)
    client.close()


def verified(client: TestClient, response: httpx.Response) -> dict[str, Any]:
    """The statement's payload, verified the way a device verifies a record, and again
    with PyJWT against the JWKS (a library integrators use)."""
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json()["statement"]
    jwks = client.get("/v1/keys").json()
    ours = verify_token(token, protocol.STATUS_TYP, pinned_keys(jwks["keys"]))
    header = jwt.get_unverified_header(token)
    key = {k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys}[header["kid"]]
    theirs = jwt.decode_complete(token, key, algorithms=["ES256"], issuer="tenure",
                                 # the test clock is fixed in the past: exp by hand
                                 options={"require": ["exp", "iat"], "verify_exp": False})
    assert theirs["payload"]["exp"] == theirs["payload"]["iat"] + 600
    assert theirs["header"]["typ"] == protocol.STATUS_TYP
    assert theirs["payload"] == ours
    return ours


def test_a_fresh_device_is_free_and_the_statement_is_made_for_this_request(
        server: Server) -> None:
    phone = server.phone()
    imei = phone.agent.identity.imeis[0]
    payload = verified(server.client, server.client.get(
        PATH, params={"imei": imei, "nonce": "buyer-nonce_1"}))
    now = server.clock.now()
    assert payload == {"iss": "tenure", "sub": phone.device_id, "imei": imei, "iat": now,
                       "exp": now + 600, "nonce": "buyer-nonce_1", "activation_lock": False,
                       "lost": False, "financed": False, "organization": False,
                       "territory_restrictions": []}
    by_id = verified(server.client, server.client.get(PATH, params={
        "device_id": phone.device_id}))
    assert by_id["imei"] == min(phone.agent.identity.imeis) and "nonce" not in by_id


def test_booleans_follow_the_claims_and_the_policy_without_naming_holders(
        server: Server) -> None:
    owner, phone, token = owned(server)
    server.runtime.policies.apply(
        '[[rules]]\nid = "ir"\neffect = "lock_in_use"\nterritories = ["IR"]\n'
        '[[rules]]\nid = "cu"\neffect = "deny_activation"\nterritories = ["CU"]\n',
        "test", "status test")
    payload = verified(server.client, server.client.get(PATH, params={
        "device_id": phone.device_id}))
    assert payload["activation_lock"] and not payload["lost"]
    assert payload["territory_restrictions"] == ["CU", "IR"]
    assert report(server, token, phone.device_id, LOST).status_code == 204
    payload = verified(server.client, server.client.get(PATH, params={
        "device_id": phone.device_id}))
    assert payload["activation_lock"] and payload["lost"]
    assert owner.email.split("@")[0] not in str(payload) and LOST["contact"] not in str(payload)


@pytest.mark.parametrize(("params", "name", "status"), [
    ({}, "malformed", 400),
    ({"imei": "490154203237518", "device_id": "UT1"}, "malformed", 400),
    ({"imei": "490154203237519"}, "invalid-input", 422),
    ({"imei": "490154203237518", "nonce": "x" * 129}, "invalid-input", 422),
    ({"imei": "490154203237518"}, "unknown-device", 404),
    ({"device_id": "NOSUCHDEVICE"}, "unknown-device", 404),
])
def test_a_lookup_that_cannot_be_answered_is_a_problem(
        server: Server, params: dict[str, str], name: str, status: int) -> None:
    assert_problem(server.client.get(PATH, params=params), name, status)


@pytest.fixture
def limited(settings: Settings, runtime: Services) -> Iterator[Services]:
    rt = bootstrap(dataclasses.replace(settings, status_rate=3), clock=runtime.clock)
    yield rt
    rt.close()


def ask(rt: Services, address: str, device_id: str) -> httpx.Response:
    with TestClient(create_app(rt), client=(address, 40000)) as client:
        return client.get(PATH, params={"device_id": device_id})


def test_an_ipv6_64_counts_as_one_address_then_429_with_retry_after(
        server: Server, limited: Services) -> None:
    phones = [server.phone() for _ in range(4)]
    for i, phone in enumerate(phones[:3]):
        assert ask(limited, f"2001:db8:5:6::{i + 1}", phone.device_id).status_code == 200
    refused = ask(limited, "2001:db8:5:6:aaaa::1", phones[3].device_id)
    assert_problem(refused, "rate-limited", 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert ask(limited, "2001:db8:5:7::1", phones[3].device_id).status_code == 200
    server.clock.advance(60)
    assert ask(limited, "2001:db8:5:6::1", phones[3].device_id).status_code == 200


def test_a_device_is_limited_whoever_asks(server: Server, limited: Services) -> None:
    phone = server.phone()
    for i in range(3):
        assert ask(limited, f"192.0.2.{i + 1}", phone.device_id).status_code == 200
    refused = ask(limited, "192.0.2.99", phone.device_id)
    assert_problem(refused, "rate-limited", 429)
    assert "Retry-After" in refused.headers


def test_thirty_lookups_a_minute_by_default(server: Server) -> None:
    phones = [server.phone() for _ in range(2)]
    for i in range(30):
        assert server.client.get(PATH, params={
            "device_id": phones[i % 2].device_id}).status_code == 200
    assert_problem(server.client.get(PATH, params={"device_id": phones[0].device_id}),
                   "rate-limited", 429)
