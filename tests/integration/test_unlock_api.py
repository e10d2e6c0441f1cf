"""POST /v1/unlocks and the owner's unlock view, through the real app on both databases.

Devices have real keys and speak the signed device protocol; bootloader tokens are real
JWS made with the device key; unlock tokens are verified with the server's published
JWKS, as a bootloader does. The clock is the runtime's FixedClock, so waiting periods
and retry_after are exact.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tenure import protocol
from tenure.agent import DeviceAgent
from tenure.bootstrap import Services, bootstrap
from tenure.clock import FixedClock
from tenure.config import Settings
from tenure.crypto.b64 import b64u_encode
from tenure.crypto.jws import parse_compact, sign_compact
from tenure.crypto.keys import KeyType, SigningKey, verifying_key_from_jwk
from tenure.crypto.passwords import hash_password
from tenure.domain.masking import mask_email
from tenure.domain.model import Claim, ClaimKind
from tenure.http.app import create_app
from tenure.services.tokens import digest, new_token
from tenure.store.audit import verify_chain

HOUR, DAY = 3600, 86400
WAIT = 168 * HOUR
PROBLEM = protocol.PROBLEM_JSON
NOT_PERMITTED = protocol.problem_type(protocol.UNLOCK_NOT_PERMITTED)
BL_TYP = protocol.BL_TOKEN_TYP
UNLOCK_TYP = protocol.UNLOCK_TYP
PASSWORD = "Tn-unlock-tests-2026"
RACE_ROUNDS, RACE_DEVICES = 4, 6


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)


# ------------------------------------------------------------------------------ helpers


class Phone:
    """A provisioned device: the reference agent on the app's client, with the runtime's
    clock; its bootloader signs unlock-mode tokens with the same key."""

    def __init__(self, client: TestClient, runtime: Services,
                 key_type: KeyType = "Ed25519") -> None:
        self.client = client
        self.runtime = runtime
        self.agent = DeviceAgent.manufacture(client, device_id=f"UL{secrets.token_hex(5).upper()}",
                                             key_type=key_type, clock=runtime.clock)
        self.last_nonce = ""
        self._provision()

    @property
    def device_id(self) -> str:
        return self.agent.device_id

    @property
    def key(self) -> SigningKey:
        return self.agent.key

    def _provision(self) -> None:
        out = io.StringIO()
        row = self.agent.provisioning_row()
        writer = csv.DictWriter(out, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
        report = self.runtime.importer.run(
            io.BytesIO(out.getvalue().encode()), "csv", actor="test")
        assert report.committed and report.imported == 1, report.as_json()

    def send(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A signed request; the verified record payload of the answer."""
        return self.agent.call(path, payload)

    def activate(self) -> dict[str, Any]:
        return self.send(protocol.ACTIVATION_PATH, {"signals": {"sim_mcc": ["262"]}})

    def bind(self, token: str) -> dict[str, Any]:
        return self.agent.bind(token)

    def checkin(self, **extra: Any) -> dict[str, Any]:
        return self.send(protocol.CHECKIN_PATH, {"signals": {}, "acks": [], **extra})

    def bl_token(self, *, iat: int | None = None, key: SigningKey | None = None,
                 typ: str = BL_TYP, sub: str | None = None) -> str:
        """What the bootloader shows: a device-signed token over a fresh nonce."""
        self.last_nonce = b64u_encode(secrets.token_bytes(16))
        now = self.runtime.clock.now() if iat is None else iat
        return sign_compact({"kid": self.device_id, "typ": typ},
                            {"sub": sub or self.device_id, "nonce": self.last_nonce,
                             "iat": now}, key or self.key)


@dataclass
class Owner:
    email: str
    password: str
    account_id: str


@dataclass
class Server:
    """The app of one runtime, and what a test does through it."""

    runtime: Services
    client: TestClient

    @property
    def clock(self) -> FixedClock:
        assert isinstance(self.runtime.clock, FixedClock)
        return self.runtime.clock

    def phone(self, key_type: KeyType = "Ed25519") -> Phone:
        return Phone(self.client, self.runtime, key_type)

    def register(self) -> Owner:
        """An account stored with a hash made once per process (argon2 costs ~0.2 s a go;
        registration itself is tested through the API by the accounts suite and below)."""
        owner = Owner(f"owner-{secrets.token_hex(4)}@example.com", PASSWORD,
                      secrets.token_hex(16))
        with self.runtime.uow() as tx:
            assert tx.accounts.create(owner.account_id, owner.email, password_hash(),
                                      self.clock.now())
        return owner

    def register_api(self) -> Owner:
        email = f"owner-{secrets.token_hex(4)}@example.com"
        response = self.client.post("/v1/accounts", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        return Owner(email, PASSWORD, response.json()["account_id"])

    def sign_in(self, owner: Owner) -> str:
        """A session signed in now, as POST /v1/sessions stores it (without the argon2
        verification, which sign_in_api exercises)."""
        token = new_token()
        now = self.clock.now()
        with self.runtime.uow() as tx:
            tx.sessions.create(digest(token), owner.account_id, now, now + DAY)
        return token

    def sign_in_api(self, owner: Owner) -> str:
        response = self.client.post("/v1/sessions",
                                    json={"email": owner.email, "password": owner.password})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def owned_phone(self, owner: Owner, key_type: KeyType = "Ed25519") -> Phone:
        """Activated and bound to `owner` through the device API, now."""
        phone = self.phone(key_type)
        phone.activate()
        assert phone.bind(self.sign_in(owner))["owner"] == {"hint": mask_email(owner.email)}
        return phone

    def unlock(self, token: str | None, bl_token: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.client.post("/v1/unlocks", json={"bootloader_token": bl_token},
                                headers=headers)

    def ask(self, owner: Owner, phone: Phone, **token: Any) -> httpx.Response:
        """Sign in afresh and ask to unlock with a fresh bootloader token."""
        return self.unlock(self.sign_in(owner), phone.bl_token(**token))

    def devices(self, owner: Owner) -> dict[str, dict[str, Any]]:
        response = self.client.get("/v1/me/devices",
                                   headers={"Authorization": f"Bearer {self.sign_in(owner)}"})
        assert response.status_code == 200, response.text
        return {d["device_id"]: d for d in response.json()["devices"]}

    def add_claim(self, device_id: str, kind: ClaimKind, holder: str, **fields: Any) -> None:
        with self.runtime.uow() as tx:
            tx.claims.add(Claim(claim_id=secrets.token_hex(16), device_id=device_id, kind=kind,
                                holder=holder, created_at=self.clock.now(), **fields))

    def events(self, stream: str) -> list[dict[str, Any]]:
        with self.runtime.uow(readonly=True) as tx:
            return tx.audit.events(stream)

    def chain_intact(self) -> bool:
        with self.runtime.uow(readonly=True) as tx:
            verification = verify_chain(tx.conn)
        assert verification.ok, verification.broken
        return verification.events > 0

    def grant(self, response: httpx.Response, phone: Phone) -> tuple[dict[str, Any],
                                                                     dict[str, Any]]:
        """The unlock token of a 200 answer, verified as a bootloader verifies it against
        the keys GET /v1/keys publishes; (header, payload)."""
        assert response.status_code == 200, response.text
        assert response.headers.get("cache-control") == "no-store"
        jwks = self.client.get("/v1/keys").json()["keys"]
        assert jwks == self.runtime.keyring.jwks()["keys"]
        jws = parse_compact(response.json()["unlock_token"])
        [jwk] = [k for k in jwks if k["kid"] == jws.header.get("kid")]
        assert jws.verify_with(verifying_key_from_jwk(jwk))
        payload = jws.payload()
        assert payload["sub"] == phone.device_id
        assert payload["bl_nonce"] == phone.last_nonce
        assert payload["exp"] > self.clock.now()
        return jws.header, payload


def refusal(response: httpx.Response, *words: str) -> dict[str, Any]:
    """A 403 unlock-not-permitted problem whose detail contains `words`."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == NOT_PERMITTED and body["status"] == 403, body
    for word in words:
        assert word in body["detail"], body
    return body


def problem(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:tenure:problem:{name}", body
    return body


@pytest.fixture
def make_server(settings: Settings, clock: FixedClock) -> Iterator[Callable[..., Server]]:
    """A server over the test database with these settings changed (same keys, clock)."""
    made: list[Server] = []

    def make(**changes: Any) -> Server:
        runtime = bootstrap(dataclasses.replace(settings, **changes), clock=clock)
        server = Server(runtime, TestClient(create_app(runtime)))
        made.append(server)
        return server

    yield make
    for server in made:
        server.client.close()
        server.runtime.close()


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    """Default settings: 168 h wait, 1 device per 365 days, 14-day grants."""
    return make_server()


# ------------------------------------------------------------------------------ granted


def test_refused_before_the_wait_then_granted_exactly_at_retry_after(server: Server) -> None:
    """The owner is told from when, and asking at that very second succeeds (accounts,
    sessions, binding and unlock all through the HTTP API)."""
    owner = server.register_api()
    phone = server.phone()
    phone.activate()
    phone.bind(server.sign_in_api(owner))
    bound_at = server.clock.now()

    server.clock.advance(WAIT - HOUR)
    early = refusal(server.unlock(server.sign_in_api(owner), phone.bl_token()), "168 hours")
    assert early["retry_after"] == bound_at + WAIT

    server.clock.advance(early["retry_after"] - server.clock.now())
    header, payload = server.grant(
        server.unlock(server.sign_in_api(owner), phone.bl_token()), phone)
    assert header["typ"] == UNLOCK_TYP
    assert header["kid"] == server.runtime.keyring.active.kid
    assert payload["iss"] == server.runtime.settings.issuer
    assert payload["iat"] == server.clock.now()
    assert payload["exp"] - payload["iat"] == 14 * DAY
    assert set(payload) == {"iss", "sub", "bl_nonce", "iat", "exp"}


def test_a_p256_device_is_granted_too(server: Server) -> None:
    """Makers may ship ECDSA P-256 keys; their ES256 bootloader tokens must verify."""
    owner = server.register()
    phone = server.owned_phone(owner, key_type="P-256")
    server.clock.advance(WAIT)
    _, payload = server.grant(server.ask(owner, phone), phone)
    assert parse_compact(phone.bl_token()).alg == "ES256"
    assert payload["sub"] == phone.device_id


def test_the_same_device_can_be_unlocked_again_without_more_quota(server: Server) -> None:
    """A new boot shows a new token; a grant answers only the token it was asked for."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    _, first = server.grant(server.ask(owner, phone), phone)
    server.clock.advance(DAY)
    _, second = server.grant(server.ask(owner, phone), phone)
    assert first["bl_nonce"] != second["bl_nonce"]


def test_settings_change_wait_quota_and_validity(make_server: Callable[..., Server]) -> None:
    """An operator's TENURE_UNLOCK_* settings are what owners get."""
    server = make_server(unlock_wait_hours=2, unlock_quota=2, unlock_valid_days=3)
    owner = server.register()
    phones = [server.owned_phone(owner) for _ in range(3)]
    bound_at = server.clock.now()

    early = refusal(server.ask(owner, phones[0]), "2 hours")
    assert early["retry_after"] == bound_at + 2 * HOUR

    server.clock.advance(2 * HOUR)
    first_grant_at = server.clock.now()
    _, payload = server.grant(server.ask(owner, phones[0]), phones[0])
    assert payload["exp"] - payload["iat"] == 3 * DAY
    server.clock.advance(HOUR)
    server.grant(server.ask(owner, phones[1]), phones[1])  # quota 2: a second device

    third = refusal(server.ask(owner, phones[2]), "2 device(s)", "365 days")
    assert third["retry_after"] == first_grant_at + 365 * DAY

    view = server.devices(owner)
    assert view[phones[2].device_id]["unlock"]["quota_left"] == 0
    assert view[phones[2].device_id]["unlock"]["quota_frees_at"] == first_grant_at + 365 * DAY
    assert view[phones[0].device_id]["unlock"]["quota_left"] == 1  # re-unlocking is free

    server.clock.advance(third["retry_after"] - server.clock.now())
    server.grant(server.ask(owner, phones[2]), phones[2])


def test_the_quota_is_per_account(server: Server) -> None:
    """One account's grant must not use another account's quota."""
    alice, bob = server.register(), server.register()
    alices, bobs = server.owned_phone(alice), server.owned_phone(bob)
    server.clock.advance(WAIT)
    server.grant(server.ask(alice, alices), alices)
    server.grant(server.ask(bob, bobs), bobs)


def test_a_second_device_within_the_quota_period_is_refused(server: Server) -> None:
    owner = server.register()
    first, second = server.owned_phone(owner), server.owned_phone(owner)
    server.clock.advance(WAIT)
    granted_at = server.clock.now()
    server.grant(server.ask(owner, first), first)
    server.clock.advance(30 * DAY)
    body = refusal(server.ask(owner, second), "quota")
    assert body["retry_after"] == granted_at + 365 * DAY


# ------------------------------------------------------------------------------ refused


def test_another_account_is_refused_without_retry_after(server: Server) -> None:
    """Waiting does not make a device someone else's: no retry_after to wait for."""
    owner, mallory = server.register(), server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT + DAY)
    body = refusal(server.ask(mallory, phone), "not bound to your account")
    assert "retry_after" not in body


def test_an_unbound_device_is_refused(server: Server) -> None:
    owner = server.register()
    phone = server.phone()
    phone.activate()
    refusal(server.ask(owner, phone), "not bound to your account")


@pytest.mark.parametrize(("kind", "words"), [
    (ClaimKind.CREDITOR, "financing company"),
    (ClaimKind.ORGANIZATION, "managed by an organization"),
    (ClaimKind.TERRITORY, "territory policy"),
])
def test_a_blocking_claim_refuses_and_says_which(server: Server, kind: ClaimKind,
                                                 words: str) -> None:
    """A financed, managed or territory-locked device stays locked after any wait; the
    owner's device list says what blocks it."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    server.add_claim(phone.device_id, kind, f"{kind.value}:holder", message="Held")
    body = refusal(server.ask(owner, phone), words)
    assert "retry_after" not in body
    assert server.devices(owner)[phone.device_id]["unlock"]["blocked_by"] == [kind.value]


def test_a_device_reported_lost_is_refused_until_found(server: Server) -> None:
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    headers = {"Authorization": f"Bearer {server.sign_in(owner)}"}
    lost = server.client.post(f"/v1/me/devices/{phone.device_id}/lost", headers=headers,
                              json={"message": "Lost in Lisbon", "contact": "+351 555 0101"})
    assert lost.status_code == 204
    assert "retry_after" not in refusal(server.ask(owner, phone), "reported lost")
    assert server.devices(owner)[phone.device_id]["unlock"]["blocked_by"] == ["lost"]

    found = server.client.delete(f"/v1/me/devices/{phone.device_id}/lost", headers=headers)
    assert found.status_code == 204
    server.grant(server.ask(owner, phone), phone)


def test_an_owner_bound_by_claim_long_ago_is_granted(server: Server) -> None:
    """The wait runs from the owner claim's creation, however the binding was made."""
    owner = server.register()
    phone = server.phone()
    phone.activate()
    server.add_claim(phone.device_id, ClaimKind.OWNER, owner.account_id,
                     holder_hint=mask_email(owner.email))
    refusal(server.ask(owner, phone), "168 hours")
    server.clock.advance(WAIT)
    server.grant(server.ask(owner, phone), phone)


def test_rebinding_restarts_the_wait(server: Server) -> None:
    """A thief who unbinds and rebinds must not keep the old binding's age."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    token = server.sign_in(owner)
    released = server.client.delete(f"/v1/me/devices/{phone.device_id}",
                                     headers={"Authorization": f"Bearer {token}"})
    assert released.status_code == 204
    phone.bind(token)
    rebound_at = server.clock.now()
    body = refusal(server.ask(owner, phone), "168 hours")
    assert body["retry_after"] == rebound_at + WAIT


# ------------------------------------------------------------------------------ the caller


def test_without_a_bearer_token_it_is_401(server: Server) -> None:
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    problem(server.unlock(None, phone.bl_token()), 401, "unauthorized")
    problem(server.unlock("not-a-session", phone.bl_token()), 401, "unauthorized")
    assert [e["action"] for e in server.events(f"device:{phone.device_id}")
            if e["action"].startswith("bootloader.")] == []


def test_a_sign_in_older_than_five_minutes_needs_reauthentication(server: Server) -> None:
    """Unlocking is as sensitive as removing a device: a stolen old session is not enough."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    token = server.sign_in_api(owner)
    server.clock.advance(300)
    server.grant(server.unlock(token, phone.bl_token()), phone)  # exactly 300 s: still fresh
    server.clock.advance(1)
    problem(server.unlock(token, phone.bl_token()), 401, "reauthentication-required")


def test_a_token_that_is_not_a_jws_is_malformed(server: Server) -> None:
    token = server.sign_in(server.register())
    for bl_token in ["not a token", "a.b.c", 42, None, "x" * 5000]:
        problem(server.unlock(token, bl_token), 400, "malformed")


def test_a_body_that_is_not_json_is_malformed(server: Server) -> None:
    owner = server.register()
    response = server.client.post("/v1/unlocks", content=b"{not json",
                                  headers={"Authorization": f"Bearer {server.sign_in(owner)}"})
    problem(response, 400, "malformed")


def test_a_token_with_a_short_nonce_is_malformed(server: Server) -> None:
    owner = server.register()
    phone = server.owned_phone(owner)
    token = sign_compact({"kid": phone.device_id, "typ": BL_TYP},
                         {"sub": phone.device_id, "nonce": "short", "iat": server.clock.now()},
                         phone.key)
    problem(server.unlock(server.sign_in(owner), token), 400, "malformed")


def test_a_token_of_another_type_is_refused(server: Server) -> None:
    """A device-signed record or JWT of another kind must not pass as a bootloader token."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    refusal(server.ask(owner, phone, typ="tenure-record+jwt"), BL_TYP)
    refusal(server.ask(owner, phone, typ="JWT"))


def test_a_refused_token_type_is_audited(server: Server) -> None:
    """docs/bootloader-unlock.md: every refusal to a signed-in account is audited."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    refusal(server.ask(owner, phone, typ="JWT"))
    assert "bootloader.unlock_refused" in [
        e["action"] for e in server.events(f"device:{phone.device_id}")]


def test_a_token_signed_by_another_devices_key_is_refused(server: Server) -> None:
    """A thief's own phone cannot speak for the owner's phone's bootloader."""
    owner = server.register()
    phone, other = server.owned_phone(owner), server.phone()
    server.clock.advance(WAIT)
    body = refusal(server.ask(owner, phone, key=other.key), "not signed by device")
    assert "retry_after" not in body
    refusal(server.ask(owner, phone, key=SigningKey.generate()), "not signed by device")


def test_a_token_for_a_device_that_does_not_exist_is_refused(server: Server) -> None:
    owner = server.register()
    phone = server.phone()
    refusal(server.ask(owner, phone, sub="NO-SUCH-DEVICE"), "not signed by device")
    refused = server.events(f"account:{owner.account_id}")
    assert [e["action"] for e in refused][-1] == "bootloader.unlock_refused"


def test_a_stale_or_future_token_is_refused(server: Server) -> None:
    """A token shown two hours ago belongs to another boot of the bootloader."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    now = server.clock.now()
    refusal(server.ask(owner, phone, iat=now - 2 * HOUR), "stale")
    refusal(server.ask(owner, phone, iat=now + HOUR), "stale")
    server.grant(server.ask(owner, phone, iat=now - 30 * 60), phone)


# ------------------------------------------------------------------------------ audit


def test_every_grant_and_refusal_is_audited_and_the_chain_holds(server: Server) -> None:
    owner, mallory = server.register(), server.register()
    phone, other = server.owned_phone(owner), server.phone()
    stream = f"device:{phone.device_id}"

    early = refusal(server.ask(owner, phone))
    server.clock.advance(WAIT)
    refusal(server.ask(mallory, phone))
    refusal(server.ask(owner, phone, key=other.key))
    refusal(server.ask(owner, phone, iat=server.clock.now() - 2 * HOUR))
    _, grant = server.grant(server.ask(owner, phone), phone)

    events = [e for e in server.events(stream) if e["action"].startswith("bootloader.")]
    assert [e["action"] for e in events] == ["bootloader.unlock_refused"] * 4 + [
        "bootloader.unlock_granted"]
    assert [e["actor"] for e in events] == [
        f"account:{a.account_id}" for a in (owner, mallory, owner, owner, owner)]
    assert events[0]["data"]["retry_after"] == early["retry_after"]
    assert events[0]["data"]["reason"] == early["detail"]
    assert "not bound" in events[1]["data"]["reason"]
    assert "not signed by device" in events[2]["data"]["reason"]
    assert "stale" in events[3]["data"]["reason"]
    assert events[4]["data"]["expires_at"] == grant["exp"]
    assert events[4]["at"] == grant["iat"]
    assert server.chain_intact()


# ------------------------------------------------------------------------------ my devices


def test_my_devices_shows_eligibility_quota_blocks_and_bootloader(server: Server) -> None:
    owner = server.register()
    phone, second = server.owned_phone(owner), server.owned_phone(owner)
    bound_at = server.clock.now()

    unlock = server.devices(owner)[phone.device_id]["unlock"]
    assert unlock == {"eligible_from": bound_at + WAIT, "quota_left": 1,
                      "quota_frees_at": None, "blocked_by": [], "bootloader": "unknown"}

    server.clock.advance(WAIT)
    granted_at = server.clock.now()
    server.grant(server.ask(owner, phone), phone)
    assert server.devices(owner)[phone.device_id]["unlock"]["bootloader"] == "unknown"

    record = phone.checkin(bootloader="unlocked")
    assert record["status"] == "activated"
    view = server.devices(owner)
    assert view[phone.device_id]["unlock"]["bootloader"] == "unlocked"
    assert view[phone.device_id]["unlock"]["quota_left"] == 1
    assert view[second.device_id]["unlock"] == {
        "eligible_from": bound_at + WAIT, "quota_left": 0,
        "quota_frees_at": granted_at + 365 * DAY, "blocked_by": [], "bootloader": "unknown"}

    phone.checkin(bootloader="locked")
    assert server.devices(owner)[phone.device_id]["unlock"]["bootloader"] == "locked"
    phone.checkin(bootloader="jailbroken")  # not a state the protocol knows: ignored
    assert server.devices(owner)[phone.device_id]["unlock"]["bootloader"] == "locked"


def test_my_devices_lists_only_my_devices(server: Server) -> None:
    owner, other = server.register(), server.register()
    mine, theirs = server.owned_phone(owner), server.owned_phone(other)
    assert set(server.devices(owner)) == {mine.device_id}
    assert set(server.devices(other)) == {theirs.device_id}


# ------------------------------------------------------------------------------ races


def race(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Start the calls at the same moment on their own threads; their answers."""
    barrier = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(a, httpx.Response) for a in answers), answers
    return answers


def test_concurrent_requests_for_several_devices_do_not_exceed_the_quota(
        server: Server, database_url: str, request: pytest.FixtureRequest) -> None:
    """An owner (or a script) asking for several devices at the same moment must still get
    one device per period: the quota is what keeps a fleet of stolen phones locked."""
    for _ in range(RACE_ROUNDS):
        owner = server.register()
        phones = [server.phone() for _ in range(RACE_DEVICES)]
        for phone in phones:
            server.add_claim(phone.device_id, ClaimKind.OWNER, owner.account_id,
                             holder_hint=mask_email(owner.email))
        server.clock.advance(WAIT)
        token = server.sign_in(owner)
        tokens = [phone.bl_token() for phone in phones]
        answers = race([functools.partial(server.unlock, token, bl) for bl in tokens])
        granted = [a for a in answers if a.status_code == 200]
        assert all(a.status_code in (200, 403) for a in answers), [a.text for a in answers]
        assert len(granted) == 1, f"{len(granted)} devices unlocked on a quota of 1"
        with server.runtime.uow(readonly=True) as tx:
            assert len(tx.unlocks.grants_of(owner.account_id, 0)) == 1


@pytest.mark.parametrize("typ", ["application/tenure-bl-token+jwt", "Tenure-BL-Token+JWT"])
def test_typ_is_compared_as_a_media_type(server: Server, typ: str) -> None:
    """RFC 7515 §4.1.9: "application/" may be written or left out, and media types
    compare case-insensitively; a bootloader that writes the full form is no stranger."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    server.grant(server.ask(owner, phone, typ=typ), phone)


def test_a_token_with_a_critical_extension_is_malformed(server: Server) -> None:
    """RFC 7515 §4.1.11: an extension listed in `crit` that the server does not
    understand makes the token invalid, however well it is signed."""
    owner = server.register()
    phone = server.owned_phone(owner)
    server.clock.advance(WAIT)
    token = sign_compact({"kid": phone.device_id, "typ": BL_TYP, "crit": ["tenure-once"],
                          "tenure-once": True},
                         {"sub": phone.device_id, "nonce": b64u_encode(secrets.token_bytes(16)),
                          "iat": server.clock.now()}, phone.key)
    problem(server.unlock(server.sign_in(owner), token), 400, "malformed")
