"""The signed device endpoints through the real app, on SQLite and PostgreSQL.

Each test follows what a device and its owner see: nonces, records and the activation
lock across bind, factory reset (a new activation), unbind and password reset.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from tenure.agent.records import pinned_keys
from tenure.bootstrap import Services
from tenure.clock import FixedClock
from tenure.domain.decide import OWNER_LOCK_MESSAGE
from tenure.store import tables as t

from .helpers import (
    NONCE,
    Accounts,
    Device,
    assert_nonce_format,
    audit,
    bearer,
    claims,
    count,
    device_row,
    new_reset_token,
    no_store,
    outbox,
)

# ------------------------------------------------------------------------------ nonces


def test_nonce_get_answers_200_with_a_fresh_uncacheable_nonce(client: TestClient) -> None:
    first, second = client.get(NONCE), client.get(NONCE)
    for response in (first, second):
        assert response.status_code == 200
        assert_nonce_format(response.headers.get("replay-nonce"))
        assert no_store(response), response.headers.get("cache-control")
    assert first.headers["replay-nonce"] != second.headers["replay-nonce"]


def test_nonce_head_answers_204_without_a_body(client: TestClient) -> None:
    response = client.head(NONCE)
    assert response.status_code == 204
    assert response.content == b""
    assert_nonce_format(response.headers.get("replay-nonce"))
    assert no_store(response), response.headers.get("cache-control")


def test_nonce_issuing_writes_nothing(client: TestClient, runtime: Services) -> None:
    for _ in range(5):
        client.head(NONCE)
    assert count(runtime, t.used_nonces) == 0


def test_records_verify_with_the_published_key_set(client: TestClient, device: Device) -> None:
    response = client.get("/v1/keys")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys and all(k["use"] == "sig" and "d" not in k for k in keys)
    device.pinned = pinned_keys(keys)  # as built at the factory, from the public JWKS
    assert device.activate().record()["status"] == "activated"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


# ------------------------------------------------------------------------------ activation


@pytest.mark.parametrize("key_type", ["Ed25519", "P-256"])
def test_activation_of_an_unbound_device(make_device: Callable[..., Device], runtime: Services,
                                         clock: FixedClock, key_type: str) -> None:
    device = make_device(key_type)
    reply = device.activate()
    record = reply.record()
    assert record["status"] == "activated"
    assert record["locks"] == []
    assert record["owner"] is None
    assert record["sub"] == device.device_id
    assert record["nonce"] == reply.nonce
    assert record["iss"] == runtime.settings.issuer
    assert record["iat"] == clock.now()
    assert record["exp"] == clock.now() + runtime.settings.record_ttl_seconds
    assert record["next_checkin"] == runtime.settings.next_checkin_seconds
    assert record["commands"] == []
    # every answer carries a fresh nonce, and that nonce is good for the next request
    fresh = assert_nonce_format(reply.response.headers.get("replay-nonce"))
    assert fresh != reply.nonce
    assert no_store(reply.response)
    assert device_row(runtime, device.device_id).activated_at == clock.now()
    [event] = audit(runtime, f"device:{device.device_id}")
    assert event.action == "device.activated"
    assert device.checkin().record()["status"] == "activated"


def test_eddsa_alg_name_is_accepted_for_an_ed25519_key(device: Device) -> None:
    assert device.post("/v1/device/activation", {}, alg="EdDSA").record()["status"] == \
        "activated"


# ------------------------------------------------------------------------------ binding


def test_bind_sets_the_masked_owner_and_locks_the_next_activation(
        device: Device, accounts: Accounts, runtime: Services, clock: FixedClock) -> None:
    owner = accounts.new("Alice.Owner@Example.com")
    device.activate().record()

    record = device.bind(owner.token).record()
    assert record["status"] == "activated"  # in use by its owner: not locked
    assert record["locks"] == []
    assert record["owner"] == {"hint": "a***@e***.com"}
    assert "alice" not in record["owner"]["hint"] and "example" not in record["owner"]["hint"]
    [claim] = claims(runtime, device.device_id, active_only=True)
    assert (claim.kind, claim.holder) == ("owner", owner.account_id)
    assert [e.action for e in audit(runtime, f"device:{device.device_id}")] == [
        "device.activated", "claim.owner.bound"]
    mails = [m.subject for m in outbox(runtime, owner.email)]
    assert mails == ["Your Tenure Phone 1 is now linked to your account"]

    # a factory reset: the device activates again, without any account token
    clock.advance(3600)
    device.factory_reset()
    locked = device.activate().record()
    assert locked["status"] == "locked"
    base = runtime.settings.effective_public_url  # the way out (docs/protocol.md extension)
    assert locked["locks"] == [{"kind": "owner", "message": OWNER_LOCK_MESSAGE,
                                "hint": "a***@e***.com",
                                "status_url": f"{base}/v1/public/status?device_id="
                                              f"{device.device_id}",
                                "appeal_url": f"{base}/v1/cases"}]
    assert locked["owner"] == {"hint": "a***@e***.com"}
    assert device_row(runtime, device.device_id).activated_at is None
    assert audit(runtime, f"device:{device.device_id}")[-1].action == \
        "device.activation_refused"
    # while locked, check-ins say locked too
    assert device.checkin().record()["status"] == "locked"


def test_only_the_owner_token_lifts_the_activation_lock(device: Device,
                                                        accounts: Accounts) -> None:
    owner, other = accounts.new(), accounts.new()
    device.activate().record()
    device.bind(owner.token).record()

    assert device.activate().record()["status"] == "locked"
    stranger = device.activate(other.token).record()
    assert stranger["status"] == "locked"
    assert [lock["kind"] for lock in stranger["locks"]] == ["owner"]
    assert stranger["locks"][0]["hint"] == owner.hint
    assert "until" not in stranger["locks"][0]
    assert device.activate("not-a-session-token").record()["status"] == "locked"

    unlocked = device.activate(owner.token).record()
    assert unlocked["status"] == "activated"
    assert unlocked["locks"] == []
    assert unlocked["owner"] == {"hint": owner.hint}  # still bound: the lock stays on
    assert device.checkin().record()["status"] == "activated"


def test_bind_by_another_account_is_refused_and_rebinding_is_a_noop(
        device: Device, accounts: Accounts, runtime: Services) -> None:
    owner, other = accounts.new(), accounts.new()
    device.activate().record()
    device.bind(owner.token).record()
    events = len(audit(runtime))
    mails = count(runtime, t.outbox)

    device.bind(other.token).problem("already-bound", 409)
    [claim] = claims(runtime, device.device_id)
    assert claim.holder == owner.account_id and claim.released_at is None

    again = device.bind(owner.token).record()
    assert again["owner"] == {"hint": owner.hint}
    assert again["status"] == "activated"
    assert len(claims(runtime, device.device_id)) == 1  # no second claim
    assert len(audit(runtime)) == events  # nothing happened, nothing audited
    assert count(runtime, t.outbox) == mails  # and no second "linked" mail


def test_bind_before_activation_is_refused(device: Device, accounts: Accounts,
                                           runtime: Services) -> None:
    owner = accounts.new()
    device.bind(owner.token).problem("not-activated", 409)
    assert claims(runtime, device.device_id) == []
    # once activated, the same account binds
    device.activate().record()
    assert device.bind(owner.token).record()["owner"] == {"hint": owner.hint}


def test_bind_without_a_valid_session_is_refused(device: Device, runtime: Services) -> None:
    device.activate().record()
    device.bind("no-such-token").problem("unauthorized", 401)
    device.post("/v1/device/bind", {}).problem("malformed", 400)
    assert claims(runtime, device.device_id) == []


# ------------------------------------------------------------------------------ unbinding


def test_unbind_needs_a_sign_in_of_the_last_five_minutes(
        device: Device, accounts: Accounts, runtime: Services, clock: FixedClock) -> None:
    owner = accounts.new()
    device.activate().record()
    device.bind(owner.token).record()

    clock.advance(301)
    device.unbind(owner.token).problem("reauthentication-required", 401)
    assert len(claims(runtime, device.device_id, active_only=True)) == 1

    fresh = accounts.sign_in(owner)
    clock.advance(300)  # "at most 5 minutes old": exactly 300 s still counts
    record = device.unbind(fresh).record()
    assert record["owner"] is None
    assert record["status"] == "activated"
    [claim] = claims(runtime, device.device_id)
    assert claim.released_at == clock.now()
    assert claim.released_by == f"account:{owner.account_id}"
    assert audit(runtime, f"device:{device.device_id}")[-1].action == "claim.owner.released"

    # after a reset the device activates freely
    free = device.activate().record()
    assert (free["status"], free["locks"], free["owner"]) == ("activated", [], None)


def test_unbind_by_another_account_is_refused(device: Device, accounts: Accounts,
                                              runtime: Services) -> None:
    owner, other = accounts.new(), accounts.new()
    device.activate().record()
    device.bind(owner.token).record()

    device.unbind(other.token).problem("reauthentication-required", 401)
    device.unbind("garbage-token").problem("reauthentication-required", 401)
    [claim] = claims(runtime, device.device_id)
    assert claim.released_at is None
    assert device.activate().record()["status"] == "locked"


# ------------------------------------------------------------------------------ check-in


def test_checkin_answers_a_record_and_is_remembered(device: Device, accounts: Accounts,
                                                    client: TestClient, runtime: Services,
                                                    clock: FixedClock) -> None:
    owner = accounts.new()
    device.activate().record()
    device.bind(owner.token).record()
    clock.advance(120)

    reply = device.checkin()
    record = reply.record()
    assert record["status"] == "activated"
    assert record["nonce"] == reply.nonce
    assert record["owner"] == {"hint": owner.hint}
    assert record["next_checkin"] == runtime.settings.next_checkin_seconds

    # The owner sees the check-in at once; the row is written by the batched flush
    # that the server's maintenance loop runs every second (docs/decisions/0005).
    listed = client.get("/v1/me/devices", headers=bearer(owner.token))
    assert listed.status_code == 200
    [entry] = listed.json()["devices"]
    assert entry["last_checkin"] == clock.now()
    assert runtime.last_seen.flush(runtime.uow) == 1
    assert device_row(runtime, device.device_id).last_checkin_at == clock.now()


def test_checkin_refuses_acks_that_are_not_strings(device: Device) -> None:
    device.activate().record()
    device.post("/v1/device/checkin", {"acks": [1, 2]}).problem("malformed", 400)
    device.post("/v1/device/checkin", {"signals": "DE"}).problem("malformed", 400)
    assert device.checkin(acks=["unknown-command"]).record()["commands"] == []


# ------------------------------------------------------------------------------ password reset


def test_a_reset_password_lifts_the_lock_only_after_the_cool_down(
        device: Device, accounts: Accounts, client: TestClient, runtime: Services,
        clock: FixedClock) -> None:
    owner = accounts.new()
    old_token = owner.token
    device.activate().record()
    device.bind(owner.token).record()
    clock.advance(86_400)
    device.factory_reset()

    assert client.post("/v1/password-resets", json={"email": owner.email}).status_code == 202
    token = new_reset_token(runtime, owner.email)
    clock.advance(60)
    reset_at = clock.now()
    new_password = accounts.new_password()
    confirmed = client.post("/v1/password-resets/confirm",
                            json={"token": token, "new_password": new_password})
    assert confirmed.status_code == 204
    owner.password = new_password
    new_token = accounts.sign_in(owner)

    cooling = device.activate(new_token).record()
    assert cooling["status"] == "locked"
    [lock] = cooling["locks"]
    assert lock["kind"] == "owner"
    assert lock["hint"] == owner.hint
    assert lock["until"] == reset_at + 72 * 3600
    # the session from before the reset was revoked: it is no credential at all
    revoked = device.activate(old_token).record()
    assert revoked["status"] == "locked" and "until" not in revoked["locks"][0]

    clock.advance(72 * 3600 - 1)  # one second before the window ends
    device.factory_reset()
    assert device.activate(accounts.sign_in(owner)).record()["status"] == "locked"
    clock.advance(1)
    later = accounts.sign_in(owner)
    accepted = device.activate(later).record()
    assert accepted["status"] == "activated"
    assert accepted["locks"] == []


@pytest.mark.parametrize("where", ["portal", "device"])
def test_a_reset_password_cannot_remove_the_lock_during_the_cool_down(
        device: Device, accounts: Accounts, client: TestClient, runtime: Services,
        clock: FixedClock, where: str) -> None:
    owner = accounts.new()
    device.activate().record()
    device.bind(owner.token).record()
    clock.advance(86_400)
    device.factory_reset()
    assert device.activate().record()["status"] == "locked"  # the phone is reset (stolen)

    # whoever controls the mailbox resets the password and signs in
    client.post("/v1/password-resets", json={"email": owner.email})
    new_password = accounts.new_password()
    assert client.post("/v1/password-resets/confirm", json={
        "token": new_reset_token(runtime, owner.email),
        "new_password": new_password}).status_code == 204
    owner.password = new_password
    token = accounts.sign_in(owner)
    assert device.activate(token).record()["status"] == "locked"  # the cool-down holds here

    if where == "portal":
        answer = client.delete(f"/v1/me/devices/{device.device_id}", headers=bearer(token))
        assert answer.status_code != 204
    else:
        assert device.unbind(token).status_code != 200
    assert len(claims(runtime, device.device_id, active_only=True)) == 1
    device.factory_reset()
    assert device.activate().record()["status"] == "locked"
