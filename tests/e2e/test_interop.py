"""Third-party JOSE libraries against a real `tenure serve`: the snippets of docs/integrations.md.

Integrators verify Tenure's tokens and sign device requests with PyJWT, Authlib,
joserfc, jwcrypto and npm `jose`, not with Tenure's code. Each test here runs the
documentation's own snippet (read from docs/integrations.md, so the page cannot drift
from what works) against a server process: the library signs a device request the
server must accept, and verifies the record it answers against `GET /v1/keys`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tenure.agent.device import DeviceAgent
from tenure.agent.records import RecordRejected
from tenure.crypto.jws import sign_compact
from tenure.crypto.keyring import KeyRing

from .conftest import ServerProcess, _server

sys.path.insert(0, str(Path(__file__).resolve().parent))
import independent_client as ic  # noqa: E402

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "integrations.md"
NODE_DIR = Path(__file__).resolve().parent / "node"
LIBRARIES = ["pyjwt", "authlib", "joserfc", "jwcrypto"]
# the base class of every refusal, per library (the snippet's own imports)
ERRORS: dict[str, Callable[[dict[str, Any]], type[Exception]]] = {
    "pyjwt": lambda ns: ns["jwt"].PyJWTError,
    "authlib": lambda ns: ns["JoseError"],
    "joserfc": lambda ns: ns["JoseError"],
    "jwcrypto": lambda ns: ns["JWException"],
}
ACTIVATION, CHECKIN = "/v1/device/activation", "/v1/device/checkin"
RECORD, EVENT, STATUS = "tenure-record+jwt", "tenure-event+jwt", "tenure-status+jwt"


def snippet(name: str) -> str:
    """The one code block of docs/integrations.md whose first line names `name`."""
    blocks = re.findall(r"^```(?:python|js)\n(.*?)^```", DOC.read_text(), re.S | re.M)
    found = [b for b in blocks if b.split("\n", 1)[0].strip()
             in (f"# integrations: {name}", f"// integrations: {name}")]
    assert len(found) == 1, f"docs/integrations.md needs one snippet marked {name!r}"
    return found[0]


@dataclass
class Library:
    name: str
    verify: Callable[..., dict[str, Any]]
    sign_device_request: Callable[..., dict[str, str]]
    error: type[Exception]


@dataclass
class Device:
    identity: ic.DeviceIdentity
    pem: bytes

    @property
    def id(self) -> str:
        return self.identity.device_id


def load_library(name: str) -> Library:
    """Run the library's snippet of docs/integrations.md; its two functions."""
    namespace: dict[str, Any] = {}
    with warnings.catch_warnings():
        # importing authlib.jose warns that it is deprecated, through a filter of its own
        import authlib.deprecate  # noqa: F401
        warnings.simplefilter("ignore", DeprecationWarning)
        code = compile(snippet(name), f"docs/integrations.md ({name})", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's code is what is tested
    return Library(name, namespace["verify"], namespace["sign_device_request"],
                   ERRORS[name](namespace))


@pytest.fixture(scope="module", params=LIBRARIES)
def lib(request: pytest.FixtureRequest) -> Library:
    return load_library(request.param)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server, with the key ring a fresh install makes, for every library."""
    yield from _server(tmp_path_factory.mktemp("interop"), None)


def provision(server: ServerProcess, key_types: list[str]) -> list[Device]:
    devices = [Device(identity, identity.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
        for identity in (ic.DeviceIdentity.generate(kt) for kt in key_types)]
    path = server.data_dir / f"devices-{secrets.token_hex(4)}.csv"
    ic.write_provisioning_csv(path, [d.identity for d in devices])
    server.cli("provision", "import", str(path))
    return devices


@pytest.fixture(scope="module")
def devices(server: ServerProcess) -> dict[tuple[str, str], Device]:
    """An Ed25519 and a P-256 device for each library, imported in one file."""
    pairs = [(name, kt) for name in [*LIBRARIES, "jose"] for kt in ("Ed25519", "ES256")]
    return dict(zip(pairs, provision(server, [kt for _, kt in pairs]), strict=True))


def device_call(url: str, sign: Callable[..., dict[str, str]], device: Device, path: str,
                payload: dict[str, Any]) -> tuple[str, str]:
    """Sign with the library, send over plain HTTP; the record and the nonce it answers."""
    nonce = httpx.head(f"{url}/v1/device/nonce").headers["Replay-Nonce"]
    body = sign(device.pem, device.id, nonce, path, payload)
    answer = httpx.post(f"{url}{path}", content=json.dumps(body),
                        headers={"Content-Type": "application/jose+json"})
    assert answer.status_code == 200, f"the server refused the request: {answer.text}"
    return answer.json()["record"], nonce


def header(token: str) -> dict[str, Any]:
    return json.loads(ic.b64u_decode(token.split(".")[0]))


# -- the four Python libraries -----------------------------------------------------------


@pytest.mark.parametrize("key_type", ["Ed25519", "ES256"])
def test_library_signs_device_requests_and_verifies_the_records(
        lib: Library, server: ServerProcess, devices: dict[tuple[str, str], Device],
        key_type: str) -> None:
    """With the defaults of a fresh install, every library both speaks for a device and
    verifies what the server answers (records are signed ES256)."""
    device = devices[(lib.name, key_type)]
    keys_url = f"{server.url}/v1/keys"
    record, nonce = device_call(server.url, lib.sign_device_request, device, ACTIVATION,
                                {"signals": {}})
    assert header(record)["alg"] == "ES256"
    claims = lib.verify(record, keys_url, RECORD, "tenure")
    assert (claims["sub"], claims["nonce"], claims["status"]) == (device.id, nonce, "activated")
    record, nonce = device_call(server.url, lib.sign_device_request, device, CHECKIN,
                                {"signals": {}, "acks": []})
    claims = lib.verify(record, keys_url, RECORD, "tenure")
    assert (claims["sub"], claims["nonce"]) == (device.id, nonce)


def test_library_refuses_wrong_type_issuer_signature_and_expired_records(
        lib: Library, server: ServerProcess, devices: dict[tuple[str, str], Device]) -> None:
    """The snippet's checks are real: each of them turns a good record into a refusal."""
    device = devices[(lib.name, "ES256")]
    keys_url = f"{server.url}/v1/keys"
    record, _ = device_call(server.url, lib.sign_device_request, device, CHECKIN,
                            {"signals": {}, "acks": []})
    other, _ = device_call(server.url, lib.sign_device_request, device, CHECKIN,
                           {"signals": {}, "acks": []})
    assert lib.verify(record, keys_url, RECORD, "tenure")["sub"] == device.id
    with pytest.raises(lib.error):
        lib.verify(record, keys_url, EVENT, "tenure")  # a record is no webhook event
    with pytest.raises(lib.error):
        lib.verify(record, keys_url, RECORD, "another-issuer")
    spliced = ".".join([*record.split(".")[:1], other.split(".")[1], record.split(".")[2]])
    with pytest.raises(lib.error):
        lib.verify(spliced, keys_url, RECORD, "tenure")
    server.advance_clock(-3 * 86400)  # a record signed three days ago has expired
    try:
        old, _ = device_call(server.url, lib.sign_device_request, device, CHECKIN,
                             {"signals": {}, "acks": []})
    finally:
        server.advance_clock(3 * 86400)
    with pytest.raises(lib.error):
        lib.verify(old, keys_url, RECORD, "tenure")


def test_library_verifies_statements_and_webhook_events_of_the_key_ring(
        lib: Library, server: ServerProcess, devices: dict[tuple[str, str], Device]) -> None:
    """Statements and webhook events are signed by the key meant for third parties
    (`KeyRing.integrator_key`). The statement is the running server's own answer to
    `GET /v1/public/status`; webhook events are not sent yet, so those are made here with
    the server's key ring, in PROTOCOL.md's shape."""
    ring = KeyRing.load(server.data_dir / "keys")
    key = ring.integrator_key
    keys_url, now = f"{server.url}/v1/keys", int(time.time())
    device = next(iter(devices.values()))
    answer = httpx.get(f"{server.url}/v1/public/status",
                       params={"device_id": device.id, "nonce": "bXktbm9uY2U"})
    assert answer.status_code == 200, answer.text
    statement = answer.json()["statement"]
    claims = lib.verify(statement, keys_url, STATUS, "tenure")
    assert (claims["sub"], claims["nonce"], claims["activation_lock"]) == (
        device.id, "bXktbm9uY2U", False)
    with pytest.raises(lib.error):
        lib.verify(statement, keys_url, RECORD, "tenure")

    event = {"id": "evt-1", "aud": "tenant-7", "event": "device.locked",
             "device_id": "PHONE-1", "loan_id": "L-1", "at": now}
    webhook = sign_compact({"kid": key.kid, "typ": EVENT}, event, key.key)
    assert lib.verify(webhook, keys_url, EVENT, None, audience="tenant-7") == event
    with pytest.raises(lib.error):
        lib.verify(webhook, keys_url, EVENT, None, audience="tenant-8")
    with pytest.raises(lib.error):
        lib.verify(webhook, keys_url, STATUS, None, audience="tenant-7")
    stale = sign_compact({"kid": key.kid, "typ": EVENT}, {**event, "exp": now - 60}, key.key)
    with pytest.raises(lib.error):
        lib.verify(stale, keys_url, EVENT, None, audience="tenant-7")
    without_aud = sign_compact({"kid": key.kid, "typ": EVENT},
                               {k: v for k, v in event.items() if k != "aud"}, key.key)
    with pytest.raises(lib.error):
        lib.verify(without_aud, keys_url, EVENT, None, audience="tenant-7")


# -- an Ed25519 ring, moved to ES256 without stranding pinned devices --------------------


@contextmanager
def ed25519_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose ring was made with Ed25519, as every install before ES256 became
    the default (or one made with `tenure keys init --alg Ed25519`)."""
    data = tmp_path / "var"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
    env.update({"TENURE_DATA_DIR": str(data), "TENURE_LOG_LEVEL": "warning"})
    server = ServerProcess(data, env)
    server.cli("keys", "init", "--alg", "Ed25519")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_ed25519_ring_moves_to_es256_without_stranding_pinned_devices(tmp_path: Path) -> None:
    """An install from before ES256 became the default keeps signing `Ed25519`. It
    publishes an ES256 key first (PyJWT keeps it from the JWKS at once), devices made from
    then on pin it, and only then does it sign: those devices and PyJWT accept the
    records, while a device that pinned the Ed25519 key alone refuses them — the reason
    for publishing ahead of use."""
    import jwt

    with ed25519_server(tmp_path) as server:
        url = server.url
        old = DeviceAgent.init(tmp_path / "old", url, key_type="Ed25519")
        import_agents(server, old)
        assert old.activate()["status"] == "activated"
        record = old.last_record()["record"]  # type: ignore[index]
        assert header(record)["alg"] == "Ed25519"
        # what integrations.md says of Ed25519 records, library by library
        for name in ("joserfc", "jwcrypto"):
            assert load_library(name).verify(record, f"{url}/v1/keys", RECORD,
                                             "tenure")["sub"] == old.device_id
        for name in ("pyjwt", "authlib"):
            library = load_library(name)
            with pytest.raises(library.error):  # if this fails, update integrations.md
                library.verify(record, f"{url}/v1/keys", RECORD, "tenure")

        server.cli("keys", "add", "--alg", "ES256")
        url = restart(server)
        listing = server.cli("keys", "list").stdout
        new_kid = next(line.split("\t")[0] for line in listing.splitlines()
                       if "\tpublished\t" in line)
        assert "statements, webhooks" in next(line for line in listing.splitlines()
                                              if line.startswith(new_kid))
        assert jwt.PyJWKClient(f"{url}/v1/keys").get_signing_key(new_kid).algorithm_name \
            == "ES256"
        old.http = httpx.Client(base_url=url, timeout=30)
        assert old.checkin()["status"] == "activated"  # records are still Ed25519

        new = DeviceAgent.init(tmp_path / "new", url, key_type="P-256")
        import_agents(server, new)
        server.cli("keys", "activate", new_kid)
        url = restart(server)
        new.http = old.http = httpx.Client(base_url=url, timeout=30)
        assert new.activate()["status"] == "activated"
        record = new.last_record()["record"]  # type: ignore[index]
        assert header(record)["kid"] == new_kid
        key = jwt.PyJWKClient(f"{url}/v1/keys").get_signing_key_from_jwt(record)
        assert jwt.decode(record, key, algorithms=["ES256"])["sub"] == new.device_id
        with pytest.raises(RecordRejected, match="not pinned"):
            old.checkin()


def import_agents(server: ServerProcess, *agents: DeviceAgent) -> None:
    path = server.data_dir / f"agents-{secrets.token_hex(4)}.csv"
    rows = [agent.provisioning_row() for agent in agents]
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    server.cli("provision", "import", str(path))


def restart(server: ServerProcess) -> str:
    """The servers load the ring at start (operator guide: restart after a change)."""
    server.stop()
    server.processes.clear()
    server.url = ""
    return server.start()


# -- npm jose (optional: needs node and `npm ci --prefix tests/e2e/node`) ---------------


def jose_caller(tmp_path: Path) -> Callable[..., Any]:
    """Call a function of the npm jose snippet in node; skip when node or jose is missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (NODE_DIR / "node_modules" / "jose").is_dir():
        pytest.skip("npm jose is not installed: run `npm ci --prefix tests/e2e/node`")
    (tmp_path / "node_modules").symlink_to(NODE_DIR / "node_modules")
    module = tmp_path / "tenure-jose.mjs"
    module.write_text(snippet("jose"))

    def call(function: str, *args: Any) -> Any:
        done = subprocess.run([node, str(NODE_DIR / "run.mjs"), str(module)], text=True,
                              input=json.dumps({"call": function, "args": args}),
                              capture_output=True, timeout=60, check=True)
        answer = json.loads(done.stdout)
        if "error" in answer:
            raise ValueError(answer["error"])
        return answer["ok"]

    return call


def test_npm_jose_signs_device_requests_and_verifies_records(
        server: ServerProcess, devices: dict[tuple[str, str], Device], tmp_path: Path) -> None:
    call = jose_caller(tmp_path)

    def sign(pem: bytes, *args: Any) -> dict[str, str]:
        return dict(call("signDeviceRequest", pem.decode(), *args))

    keys_url = f"{server.url}/v1/keys"
    for key_type in ("Ed25519", "ES256"):
        device = devices[("jose", key_type)]
        record, nonce = device_call(server.url, sign, device, ACTIVATION, {"signals": {}})
        claims = call("verify", record, keys_url, RECORD, "tenure", None)
        assert (claims["sub"], claims["nonce"]) == (device.id, nonce)
        with pytest.raises(ValueError, match="typ"):
            call("verify", record, keys_url, EVENT, "tenure", None)
        with pytest.raises(ValueError, match="iss"):
            call("verify", record, keys_url, RECORD, "another-issuer", None)


def test_npm_jose_verifies_ed25519_records(tmp_path: Path) -> None:
    """Rings made with Ed25519 sign `Ed25519` records, which jose 6 verifies."""
    call = jose_caller(tmp_path)
    with ed25519_server(tmp_path) as server:
        url = server.url
        agent = DeviceAgent.init(tmp_path / "device", url, key_type="Ed25519")
        import_agents(server, agent)
        agent.activate()
        record = agent.last_record()["record"]  # type: ignore[index]
        assert header(record)["alg"] == "Ed25519"
        assert call("verify", record, f"{url}/v1/keys", RECORD, "tenure", None)["sub"] \
            == agent.device_id
