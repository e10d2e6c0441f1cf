"""Conformance of a running ``tenure serve`` to PROTOCOL.md (the public wire contract).

Driven entirely by ``independent_client`` (written from the document, not from the
server code).  Each test asserts something PROTOCOL.md promises; the docstrings quote or
paraphrase the promise.  The ``server`` fixture below gives one running server on a
fresh SQLite data dir to the whole module; each test works on devices provisioned for it
alone and on accounts of its own, so no test sees another's traces.
"""

from __future__ import annotations

import base64
import csv
import json
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import independent_client as ic  # noqa: E402

from .conftest import ServerProcess, _server  # noqa: E402

pytestmark = pytest.mark.e2e


# --------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Devices:
    ed: ic.DeviceIdentity  # Ed25519 key
    es: ic.DeviceIdentity  # ECDSA P-256 key, two IMEIs (dual SIM)

    def by_kind(self, kind: str) -> ic.DeviceIdentity:
        return self.ed if kind == "Ed25519" else self.es


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str


def provision(server, tmp_path: Path, *devices: ic.DeviceIdentity) -> Path:
    path = ic.write_provisioning_csv(tmp_path / f"provision-{secrets.token_hex(3)}.csv", devices)
    result = server.cli("provision", "import", str(path), check=False)
    assert result.returncode == 0, (
        f"`tenure provision import` failed ({result.returncode}):\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module: starting one and provisioning through the CLI cost
    about two seconds of CPU per test, a fifth of the e2e suite. The tests are
    independent of each other (fresh devices and accounts each, no clock moved). The
    sign-up limit per address is off, as the module creates more accounts from
    127.0.0.1 than an hour allows (tests/integration/test_limits.py tests the limit)."""
    yield from _server(tmp_path_factory.mktemp("conformance"), None,
                       {"TENURE_SIGNUP_ADDRESS_LIMIT": "0"})


@dataclass
class DevicePool:
    """Device pairs provisioned through `tenure provision import`, a batch at a time;
    each pair is handed to one test only."""

    server: ServerProcess
    directory: Path
    ready: list[Devices] = field(default_factory=list)
    BATCH = 16

    def take(self) -> Devices:
        if not self.ready:
            batch = [Devices(
                ed=ic.DeviceIdentity.generate("Ed25519", model="Conformance Phone Ed"),
                es=ic.DeviceIdentity.generate(
                    "ES256", imeis=[ic.make_imei(), ic.make_imei()],
                    model="Conformance Phone EC"))
                for _ in range(self.BATCH)]
            provision(self.server, self.directory,
                      *(d for pair in batch for d in (pair.ed, pair.es)))
            self.ready = batch
        return self.ready.pop()


@pytest.fixture(scope="module")
def device_pool(server: ServerProcess,
                tmp_path_factory: pytest.TempPathFactory) -> DevicePool:
    return DevicePool(server, tmp_path_factory.mktemp("conformance-devices"))


@pytest.fixture
def client(server):
    with ic.TenureClient(server.url) as c:
        yield c


@pytest.fixture
def devices(device_pool: DevicePool) -> Devices:
    """Two devices no other test has used: one Ed25519, one ES256 with two IMEIs."""
    return device_pool.take()


def new_account(client: ic.TenureClient) -> Account:
    email = f"ic-owner-{secrets.token_hex(5)}@example.com"
    password = "Cf-" + secrets.token_urlsafe(18)
    client.create_account(email, password)
    session = client.create_session(email, password)
    return Account(email=email, password=password, token=session.token)


def assert_masked(hint: str, email: str) -> None:
    local = email.split("@", 1)[0]
    assert "***" in hint, f"hint {hint!r} is not masked"
    assert email not in hint, f"hint {hint!r} reveals the email"
    assert local not in hint, f"hint {hint!r} reveals the local part {local!r}"


KINDS = ["Ed25519", "ES256"]


# --------------------------------------------------------------------------- client self-checks
# These need no server; they make sure a failure below is the server's, not the client's.


def test_client_self_check_luhn_and_csv(tmp_path):
    assert ic.luhn_check_digit("49015420323751") == "8"  # the textbook IMEI 490154203237518
    assert ic.luhn_valid("490154203237518") and not ic.luhn_valid("490154203237517")
    a = ic.DeviceIdentity.generate("Ed25519")
    b = ic.DeviceIdentity.generate("ES256", imeis=[ic.make_imei(), ic.make_imei()])
    path = ic.write_provisioning_csv(tmp_path / "p.csv", [a, b])
    lines = path.read_text().splitlines()
    assert lines[0] == "device_id,imei,model,sku,market,public_key"
    rows = list(csv.DictReader(lines))
    for row, dev in zip(rows, [a, b], strict=True):
        for imei in row["imei"].split(";"):
            assert len(imei) == 15 and ic.luhn_valid(imei)
        assert base64.b64decode(row["public_key"], validate=True) == dev.public_key_der()


@pytest.mark.parametrize("kind", KINDS)
def test_client_self_check_jws_verifies(kind):
    dev = ic.DeviceIdentity.generate(kind)
    body = ic.signed_body(dev, nonce="A" * 22, url=ic.ACTIVATION_PATH, payload={"signals": {}})
    header, payload = ic.verify_flattened_jws(body, dev)
    assert header == {
        "alg": kind,
        "kid": dev.device_id,
        "nonce": "A" * 22,
        "url": ic.ACTIVATION_PATH,
    }
    assert payload == {"signals": {}}
    assert len(ic.b64u_decode(body["signature"])) == 64


# ------------------------------------------------------------------ provisioning, nonces, keys


def test_provision_two_devices_via_csv(server, client, tmp_path):
    """Devices imported from the CSV (one Ed25519, one ES256 with two IMEIs) can sign in."""
    ed = ic.DeviceIdentity.generate("Ed25519")
    es = ic.DeviceIdentity.generate("ES256", imeis=[ic.make_imei(), ic.make_imei()])
    path = provision(server, tmp_path, ed, es)
    assert path.read_text().splitlines()[0] == ",".join(ic.CSV_HEADER)
    for dev in (ed, es):
        record = client.activation(dev)
        assert record.payload["sub"] == dev.device_id


def test_nonce_get(client):
    """GET /v1/device/nonce -> 200, Replay-Nonce (b64u, >= 16 bytes), Cache-Control: no-store."""
    response = client.nonce_response("GET")
    assert response.status_code == 200
    nonce = response.headers.get("replay-nonce")
    ic.check_nonce_format(nonce, "GET nonce")
    assert len(ic.b64u_decode(nonce)) >= 16
    assert "no-store" in [
        d.strip().lower() for d in response.headers.get("cache-control", "").split(",")
    ], f"Cache-Control is {response.headers.get('cache-control')!r}"


def test_nonce_head(client):
    """HEAD /v1/device/nonce -> 200 or 204, Replay-Nonce, Cache-Control: no-store, no body."""
    response = client.nonce_response("HEAD")
    assert response.status_code in (200, 204)
    ic.check_nonce_format(response.headers.get("replay-nonce"), "HEAD nonce")
    assert "no-store" in [
        d.strip().lower() for d in response.headers.get("cache-control", "").split(",")
    ], f"Cache-Control is {response.headers.get('cache-control')!r}"
    assert response.content == b""


def test_nonces_are_fresh(client):
    nonces = [client.fetch_nonce("GET") for _ in range(3)] + [
        client.fetch_nonce("HEAD") for _ in range(3)
    ]
    assert len(set(nonces)) == len(nonces), f"nonce repeated: {nonces}"


def test_jwks_shape(client):
    """GET /v1/keys -> {"keys": [{kty, crv, x, (y), kid, alg, use: "sig"}]}, public only."""
    response = client.jwks_response()
    assert response.status_code == 200
    assert ic.media_type(response) in ("application/json", "application/jwk-set+json")
    keys = ic.validate_jwks(response.json())
    assert keys


# --------------------------------------------------------------------------- activation and records


@pytest.mark.parametrize("kind", KINDS)
def test_activation_of_unbound_device(client, devices, kind):
    """An unbound device is activated: status activated, locks [], owner null."""
    dev = devices.by_kind(kind)
    nonce = client.fetch_nonce("GET")
    record = client.activation(dev, nonce=nonce)
    assert record.nonce == nonce
    assert record.header["typ"] == "tenure-record+jwt"
    assert record.payload["sub"] == dev.device_id
    assert record.payload["nonce"] == nonce
    assert record.payload["exp"] > time.time()
    assert record.status == "activated"
    assert record.locks == []
    assert record.owner is None
    assert record.response is not None
    fresh = ic.require_replay_nonce(record.response)
    assert fresh != nonce


def test_nonce_chaining(client, devices):
    """The Replay-Nonce of each answer is a valid nonce for the next request."""
    first = client.activation(devices.ed)
    second = client.checkin(devices.ed)
    third = client.activation(devices.es)
    assert second.nonce == first.response.headers["replay-nonce"]
    assert third.nonce == second.response.headers["replay-nonce"]
    assert len(client.exchanges) == 3, "no request needed a bad-nonce retry"


def test_head_nonce_is_usable(client, devices):
    nonce = client.fetch_nonce("HEAD")
    record = client.activation(devices.es, nonce=nonce, retry_bad_nonce=False)
    assert record.payload["nonce"] == nonce


def test_eddsa_alg_name_accepted_for_ed25519(client, devices):
    """`EdDSA` (RFC 8037) is accepted for an Ed25519 key."""
    record = client.activation(devices.ed, alg="EdDSA", retry_bad_nonce=False)
    assert record.status == "activated"


def test_checkin_answers_a_record(client, devices):
    client.activation(devices.ed)
    record = client.checkin(devices.ed, acks=[])
    assert record.status == "activated"
    assert isinstance(record.payload["commands"], list)
    assert isinstance(record.payload["next_checkin"], int)


@pytest.mark.parametrize("where", ["payload", "protected header"])
def test_unknown_request_keys_are_ignored(client, devices, where):
    """Conventions: unknown keys in a request are ignored."""
    if where == "payload":
        record = client.device_call(
            devices.ed, ic.ACTIVATION_PATH, {"signals": {}, "x-conformance": {"a": [1, 2]}}
        )
    else:
        record = client.activation(devices.ed, extra_header={"x-conformance": "1"})
    assert record.status == "activated"


# --------------------------------------------------------------------------- owners


def test_bind_sets_masked_owner_hint(client, devices):
    account = new_account(client)
    client.activation(devices.ed)
    record = client.bind(devices.ed, account.token)
    assert record.owner is not None, "bind must answer a record with owner.hint set"
    assert_masked(record.owner["hint"], account.email)


def test_owner_lock_after_bind(client, devices):
    account = new_account(client)
    dev = devices.es
    client.activation(dev)
    client.bind(dev, account.token)

    locked = client.activation(dev)
    assert locked.status == "locked"
    owner_lock = locked.lock("owner")
    assert owner_lock is not None, f"no owner lock in {locked.locks}"
    assert_masked(owner_lock["hint"], account.email)
    assert isinstance(owner_lock["message"], str)

    unlocked = client.activation(dev, account_token=account.token)
    assert unlocked.status == "activated"
    assert unlocked.locks == []

    listed = client.my_devices(account.token)
    entry = next((d for d in listed if d["device_id"] == dev.device_id), None)
    assert entry is not None, f"{dev.device_id} not in GET /v1/me/devices: {listed}"
    assert entry["model"] == dev.model


def test_unbind_releases_owner(client, devices):
    account = new_account(client)
    dev = devices.ed
    client.activation(dev)
    client.bind(dev, account.token)
    record = client.unbind(dev, account.token)
    assert record.owner is None
    after = client.activation(dev)
    assert after.status == "activated"
    assert after.lock("owner") is None


def test_delete_me_device_releases_owner(client, devices):
    """DELETE /v1/me/devices/{id} -> 204, releases the owner claim exactly as unbind."""
    account = new_account(client)
    dev = devices.ed
    client.activation(dev)
    client.bind(dev, account.token)
    response = client.release_device(account.token, dev.device_id)
    assert response.status_code == 204
    after = client.activation(dev)
    assert after.status == "activated"
    assert after.owner is None
    listed = client.my_devices(account.token)
    assert dev.device_id not in [d["device_id"] for d in listed]


def test_bind_again_same_account_is_noop(client, devices):
    account = new_account(client)
    client.activation(devices.ed)
    first = client.bind(devices.ed, account.token)
    second = client.bind(devices.ed, account.token)
    assert second.owner is not None and second.owner["hint"] == first.owner["hint"]


def test_bind_by_other_account_is_refused(client, devices):
    """A device whose owner claim is held by another account -> 409 already-bound."""
    alice, bob = new_account(client), new_account(client)
    client.activation(devices.ed)
    client.bind(devices.ed, alice.token)
    exchange = client.signed_request(devices.ed, ic.BIND_PATH, {"account_token": bob.token})
    ic.assert_problem(exchange.response, "already-bound", 409, device=True)
    assert devices.ed.device_id not in [d["device_id"] for d in client.my_devices(bob.token)]
    assert client.activation(devices.ed).status == "locked"


def test_unbind_by_other_account_is_refused(client, devices):
    """Unbind: the token must belong to the bound account (401 reauthentication-required)."""
    alice, bob = new_account(client), new_account(client)
    client.activation(devices.ed)
    client.bind(devices.ed, alice.token)
    exchange = client.signed_request(devices.ed, ic.UNBIND_PATH, {"account_token": bob.token})
    assert exchange.status_code != 200, "another account's token released the owner claim"
    assert client.activation(devices.ed).status == "locked", "owner lock gone after refusal"
    ic.assert_problem(exchange.response, "reauthentication-required", 401, device=True)


# --------------------------------------------------------------------------- device problems


@pytest.mark.parametrize("kind", KINDS)
def test_replayed_nonce_is_bad_nonce(client, devices, kind):
    dev = devices.by_kind(kind)
    first = client.activation(dev)
    replay = client.signed_request(
        dev, ic.ACTIVATION_PATH, {"signals": {}}, nonce=first.nonce, retry_bad_nonce=False
    )
    ic.assert_problem(replay.response, "bad-nonce", 400, device=True)
    # ... "with a fresh Replay-Nonce, so the client retries once"
    fresh = replay.response.headers["replay-nonce"]
    retried = client.activation(dev, nonce=fresh, retry_bad_nonce=False)
    assert retried.payload["nonce"] == fresh


def test_unknown_nonce_is_bad_nonce(client, devices):
    invented = ic.b64u_encode(secrets.token_bytes(16))
    exchange = client.signed_request(
        devices.ed, ic.ACTIVATION_PATH, {"signals": {}}, nonce=invented, retry_bad_nonce=False
    )
    ic.assert_problem(exchange.response, "bad-nonce", 400, device=True)


def test_client_retries_once_on_bad_nonce(client, devices):
    used = client.activation(devices.ed).nonce
    before = len(client.exchanges)
    record = client.activation(devices.ed, nonce=used)  # retry enabled
    assert record.status == "activated"
    assert len(client.exchanges) - before == 2
    assert client.exchanges[-2].status_code == 400
    assert record.nonce == client.exchanges[-2].response.headers["replay-nonce"]


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_kid_is_unknown_device(client, devices, kind):
    stranger = ic.DeviceIdentity.generate(kind)  # never provisioned
    exchange = client.signed_request(stranger, ic.ACTIVATION_PATH, {"signals": {}})
    ic.assert_problem(exchange.response, "unknown-device", 401, device=True)


@pytest.mark.parametrize("kind", KINDS)
def test_signature_by_other_key_is_bad_signature(client, devices, kind):
    dev = devices.by_kind(kind)
    impostor = ic.DeviceIdentity.generate(kind)
    exchange = client.signed_request(
        dev, ic.ACTIVATION_PATH, {"signals": {}}, signer=impostor.signer
    )
    ic.assert_problem(exchange.response, "bad-signature", 401, device=True)


@pytest.mark.parametrize(
    ("kind", "alg"), [("Ed25519", "ES256"), ("ES256", "Ed25519"), ("ES256", "EdDSA")]
)
def test_alg_not_matching_key_is_bad_signature(client, devices, kind, alg):
    """`alg` must match the registered key's type (signature made with the device key)."""
    dev = devices.by_kind(kind)
    exchange = client.signed_request(dev, ic.ACTIVATION_PATH, {"signals": {}}, alg=alg)
    ic.assert_problem(exchange.response, "bad-signature", 401, device=True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alg", ["none", "HS256", "RS256"])
def test_refused_algs(client, devices, kind, alg):
    """`none`, HMAC and any other value are refused (read as: alg does not match the key)."""
    dev = devices.by_kind(kind)
    if alg == "none":
        signer = ic.sign_none
    elif alg == "HS256":  # the classic confusion: HMAC keyed with the public key
        signer = ic.sign_hs256(dev.public_key_der())
    else:
        signer = dev.signer
    exchange = client.signed_request(
        dev, ic.ACTIVATION_PATH, {"signals": {}}, alg=alg, signer=signer
    )
    assert exchange.status_code != 200, f"alg {alg!r} was accepted"
    ic.assert_problem(exchange.response, "bad-signature", 401, device=True)


def test_es256_der_signature_is_bad_signature(client, devices):
    """ES256 signature = raw R||S, 64 bytes; a DER signature does not verify."""
    exchange = client.signed_request(
        devices.es,
        ic.ACTIVATION_PATH,
        {"signals": {}},
        signer=ic.sign_es256_der(devices.es.private_key),
    )
    ic.assert_problem(exchange.response, "bad-signature", 401, device=True)


def test_url_mismatch(client, devices):
    exchange = client.signed_request(
        devices.ed, ic.ACTIVATION_PATH, {"signals": {}}, url=ic.CHECKIN_PATH
    )
    ic.assert_problem(exchange.response, "url-mismatch", 400, device=True)


def _activation_body_of_size(client, dev, size: int) -> tuple[bytes, str]:
    """A validly signed activation body of exactly ``size`` bytes (padded payload + spaces)."""
    nonce = client.take_nonce()
    padding = max(0, size * 3 // 4 - 400)
    while True:
        body = ic.signed_body(
            dev,
            nonce=nonce,
            url=ic.ACTIVATION_PATH,
            payload={"signals": {}, "padding": "x" * padding},
        )
        raw = ic.json_bytes(body)
        if len(raw) > size:
            break
        last_fit = raw
        padding += 1
    return b"{" + b" " * (size - len(last_fit)) + last_fit[1:], nonce


@pytest.mark.parametrize("size", [64 * 1024 + 1, 200_000])
def test_body_over_64_kib_is_too_large(client, devices, size):
    raw, _ = _activation_body_of_size(client, devices.ed, size)
    assert len(raw) == size
    json.loads(raw)  # still a valid JWS
    response = client.post_raw(ic.ACTIVATION_PATH, raw)
    ic.assert_problem(response, "too-large", 413, device=True)


def test_body_of_exactly_64_kib_is_accepted(client, devices):
    raw, nonce = _activation_body_of_size(client, devices.ed, 64 * 1024)
    assert len(raw) == 64 * 1024
    response = client.post_raw(ic.ACTIVATION_PATH, raw)
    assert response.status_code == 200, f"64 KiB is not *over* 64 KiB: {response.text[:300]}"
    client.verify_record(response.json()["record"], device_id=devices.ed.device_id, nonce=nonce)


def _not_json(client, dev):
    return b"this is not JSON {"


def _missing_signature(client, dev):
    body = ic.signed_body(
        dev, nonce=client.take_nonce(), url=ic.ACTIVATION_PATH, payload={"signals": {}}
    )
    del body["signature"]
    return ic.json_bytes(body)


def _payload_not_json(client, dev):
    body = ic.signed_body(
        dev, nonce=client.take_nonce(), url=ic.ACTIVATION_PATH, payload=b"not json at all"
    )
    return ic.json_bytes(body)


def _json_array(client, dev):
    return b"[1, 2, 3]"


@pytest.mark.parametrize(
    "make_body",
    [_not_json, _missing_signature, _payload_not_json, _json_array],
    ids=["not-json", "missing-signature", "payload-not-json", "json-array"],
)
def test_malformed_bodies(client, devices, make_body):
    response = client.post_raw(ic.ACTIVATION_PATH, make_body(client, devices.ed))
    ic.assert_problem(response, "malformed", 400, device=True)


@pytest.mark.parametrize(
    "path", [ic.ACTIVATION_PATH, ic.BIND_PATH, ic.UNBIND_PATH, ic.CHECKIN_PATH]
)
def test_every_device_endpoint_problem_is_a_problem_document(client, devices, path):
    """Problem bodies: application/problem+json with type, title, status, detail."""
    response = client.post_raw(path, b"\x00not json")
    problem = ic.assert_problem(response, "malformed", 400, device=True)
    assert ic.media_type(response) == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= set(problem.body)
    assert problem.status == 400


# --------------------------------------------------------------------------- accounts


def test_account_and_session(client):
    email = f"ic-{secrets.token_hex(5)}@example.com"
    password = "Cf-" + secrets.token_urlsafe(18)
    assert client.create_account(email, password).status_code == 201
    session = client.create_session(email, password)
    assert session.response.status_code == 201
    assert session.expires_at > time.time()
    assert client.my_devices(session.token) == []


def test_duplicate_email_is_taken(client):
    account = new_account(client)
    with pytest.raises(ic.ProblemError) as info:
        client.create_account(account.email, "Cf-" + secrets.token_urlsafe(18))
    ic.assert_problem(info.value.response, "email-taken", 409)


@pytest.mark.parametrize("length", [11, 129])
def test_weak_password(client, length):
    password = ("Zq8#vN2!pLx" * 12)[:length]
    assert len(password) == length
    with pytest.raises(ic.ProblemError) as info:
        client.create_account(f"ic-{secrets.token_hex(5)}@example.com", password)
    ic.assert_problem(info.value.response, "weak-password", 422)


@pytest.mark.parametrize("length", [12, 128])
def test_password_length_bounds_accepted(client, length):
    password = (secrets.token_urlsafe(96) * 2)[:length]
    response = client.create_account(f"ic-{secrets.token_hex(5)}@example.com", password)
    assert response.status_code == 201


def test_invalid_credentials_same_for_unknown_email(client):
    account = new_account(client)
    with pytest.raises(ic.ProblemError) as wrong:
        client.create_session(account.email, account.password + "-wrong")
    p1 = ic.assert_problem(wrong.value.response, "invalid-credentials", 401)
    with pytest.raises(ic.ProblemError) as unknown:
        client.create_session(f"ic-nobody-{secrets.token_hex(5)}@example.com", account.password)
    p2 = ic.assert_problem(unknown.value.response, "invalid-credentials", 401)
    assert (p1.status, p1.type, p1.title, p1.detail) == (p2.status, p2.type, p2.title, p2.detail)
