"""A simulated device: identity and keys, the signed protocol, the persistent block.

The agent is assembled from its parts — an identity, a key, a persistent block, a
user-data block, an `httpx.Client` and a clock — and its constructor touches neither
disk nor network, so a test can hand it any transport (httpx's ASGI transport, a
Starlette TestClient, a client of a real server). `init`/`load` build one on a state
directory, the way the `tenure device` CLI keeps a device between commands.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tenure import protocol
from tenure.clock import Clock, OffsetFileClock, SystemClock
from tenure.config import load_agent_settings
from tenure.crypto.b64 import b64u_encode
from tenure.crypto.jws import sign_compact, sign_flattened
from tenure.crypto.keys import KeyType, SigningKey, VerifyingKey

from .block import Block, DirectoryBlock, MemoryBlock
from .bootloader import Bootloader
from .financing import acks_for, remember_accepted, screen_lines, with_offline_lock
from .records import RecordRejected, pinned_keys, verify_record
from .screen import iso_utc, record_lines

IDENTITY = "identity.json"
DEVICE_KEY = "device_key.pem"
RECORD = "record.json"
SESSION = "session.json"
LOCALE = "locale"  # user data: the screen's language, as the set-up screen chose it
DEFAULT_LOCALE = "en"  # this agent's own screen is written in English
RINGING = "Ringing:"
WIPED = "Wiped:"


class ProtocolError(Exception):
    """The server answered with a problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type = protocol.problem_name(problem.get("type"))
        super().__init__(f"{status} {self.type}: {problem.get('detail', '')}")


def device_clock(offset_file: str | None = None) -> Clock:
    """The device's clock: the system's, or (testing) shifted like the server's by
    TENURE_CLOCK_OFFSET_FILE, so that a simulated device and a test server agree."""
    if offset_file is None:
        offset_file = load_agent_settings().clock_offset_file
    return OffsetFileClock(Path(offset_file)) if offset_file else SystemClock()


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def random_imei() -> str:
    body = "35" + "".join(secrets.choice("0123456789") for _ in range(12))
    return body + luhn_digit(body)


@dataclass
class Identity:
    """What the factory writes once: who the device is and which server keys it trusts."""

    device_id: str
    imeis: list[str]
    model: str = "Tenure Phone 1"
    sku: str = "TP1-128-BLK"
    market: str = "global"
    server: str = ""
    pinned_keys: list[dict[str, Any]] = field(default_factory=list)  # JWKS `keys`

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Identity:
        value = json.loads(data)
        return cls(**{name: value[name] for name in cls.__dataclass_fields__ if name in value})


class DeviceAgent:
    def __init__(self, identity: Identity, key: SigningKey, persistent: Block,
                 http: httpx.Client, clock: Clock | None = None,
                 userdata: Block | None = None) -> None:
        self.identity = identity
        self.key = key
        self.persistent = persistent
        self.userdata = userdata if userdata is not None else MemoryBlock()
        self.http = http
        self.clock = clock or device_clock()
        self.pinned: dict[str, VerifyingKey] = pinned_keys(identity.pinned_keys)
        self.next_nonce: str | None = None  # the last answer's Replay-Nonce, used next
        self.actions: list[str] = []  # what the last check-in carried out (ring, wipe)

    # -- factory -------------------------------------------------------------------------
    @classmethod
    def manufacture(cls, http: httpx.Client, *, device_id: str | None = None,
                    model: str = "Tenure Phone 1", sku: str = "TP1-128-BLK",
                    market: str = "global", key_type: KeyType = "Ed25519", imeis: int = 1,
                    persistent: Block | None = None, userdata: Block | None = None,
                    clock: Clock | None = None, server: str = "") -> DeviceAgent:
        """Make the key pair and pin the server's keys (GET /v1/keys), as the factory
        line does, and write both to the persistent block."""
        jwks = http.get(protocol.KEYS_PATH).raise_for_status().json()
        identity = Identity(device_id=device_id or f"TN{secrets.token_hex(6).upper()}",
                            imeis=[random_imei() for _ in range(imeis)], model=model, sku=sku,
                            market=market, server=server or str(http.base_url).rstrip("/"),
                            pinned_keys=jwks["keys"])
        key = SigningKey.generate(key_type)
        block = persistent if persistent is not None else MemoryBlock()
        block.write(DEVICE_KEY, key.to_pem())
        block.write(IDENTITY, identity.to_json())
        return cls(identity, key, block, http, clock, userdata)

    @classmethod
    def from_blocks(cls, persistent: Block, userdata: Block, http: httpx.Client | None = None,
                    clock: Clock | None = None) -> DeviceAgent:
        """A device as its blocks hold it (after a restart)."""
        identity, pem = persistent.read(IDENTITY), persistent.read(DEVICE_KEY)
        if identity is None or pem is None:
            raise FileNotFoundError("the persistent block holds no device")
        who = Identity.from_json(identity)
        client = http or httpx.Client(base_url=who.server, timeout=30)
        return cls(who, SigningKey.from_pem(pem), persistent, client, clock, userdata)

    @classmethod
    def init(cls, state: Path, server: str, device_id: str | None = None,
             model: str = "Tenure Phone 1", sku: str = "TP1-128-BLK", market: str = "global",
             key_type: KeyType = "Ed25519", imeis: int = 1,
             clock: Clock | None = None) -> DeviceAgent:
        """A new device on a state directory (`tenure device init`)."""
        if (state / "persistent" / IDENTITY).exists():
            raise FileExistsError(f"{state} already holds a device; use another --state")
        http = httpx.Client(base_url=server.rstrip("/"), timeout=30)
        return cls.manufacture(http, device_id=device_id, model=model, sku=sku, market=market,
                               key_type=key_type, imeis=imeis, clock=clock,
                               server=server.rstrip("/"),
                               persistent=DirectoryBlock(state / "persistent"),
                               userdata=DirectoryBlock(state / "userdata"))

    @classmethod
    def load(cls, state: Path, clock: Clock | None = None,
             http: httpx.Client | None = None) -> DeviceAgent:
        """The device kept in a state directory by an earlier `init`."""
        if not (state / "persistent" / IDENTITY).exists():
            raise FileNotFoundError(f"no device in {state}: run `tenure device init` first")
        return cls.from_blocks(DirectoryBlock(state / "persistent"),
                               DirectoryBlock(state / "userdata"), http, clock)

    def through(self, http: httpx.Client) -> DeviceAgent:
        """The same device (the same blocks and key) speaking through another client."""
        return type(self)(self.identity, self.key, self.persistent, http, self.clock,
                          self.userdata)

    @property
    def device_id(self) -> str:
        return self.identity.device_id

    def provisioning_row(self) -> dict[str, str]:
        """The row of the factory's provisioning file (docs/protocol.md field order)."""
        return {
            "device_id": self.device_id, "imei": ";".join(self.identity.imeis),
            "model": self.identity.model, "sku": self.identity.sku,
            "market": self.identity.market,
            "public_key": base64.b64encode(self.key.public().spki_der()).decode(),
        }

    # -- protocol: the steps -------------------------------------------------------------
    def nonce(self) -> str:
        """The nonce for the next request: the last answer's, or a new one from the server."""
        if self.next_nonce is None:
            response = self.http.head(protocol.NONCE_PATH)
            fresh = response.headers.get(protocol.REPLAY_NONCE)
            if response.status_code not in (200, 204) or not fresh:
                raise ProtocolError(response.status_code, _problem(response))
            self.next_nonce = fresh
        nonce, self.next_nonce = self.next_nonce, None
        return nonce

    def sign(self, path: str, payload: Any, nonce: str | None = None
             ) -> tuple[dict[str, str], str]:
        """A flattened JWS of `payload` for `path`, and the nonce it carries."""
        nonce = nonce if nonce is not None else self.nonce()
        header = {"kid": self.device_id, "nonce": nonce, "url": path}
        return sign_flattened(header, payload, self.key), nonce

    def send(self, path: str, body: bytes, content_type: str = protocol.JOSE_JSON
             ) -> httpx.Response:
        """POST a body as is; keep the answer's Replay-Nonce for the next request."""
        response = self.http.post(path, content=body, headers={"Content-Type": content_type})
        self.next_nonce = response.headers.get(protocol.REPLAY_NONCE)
        return response

    def accept(self, record: str, nonce: str) -> dict[str, Any]:
        """Verify, then store in the persistent block; a rejected answer changes nothing."""
        payload = verify_record(record, self.pinned, self.device_id, nonce, self.clock.now())
        self.persistent.write(RECORD, json.dumps({"record": record, "payload": payload},
                                                 indent=2).encode())
        return payload

    def appeal_token(self, now: float | None = None) -> str:
        """What the lock screen shows a buyer to open an appeal case: proof, signed by the
        device key, that whoever has it holds this device now (valid 24 hours)."""
        issued = int(self.clock.now() if now is None else now)
        return sign_compact({"kid": self.device_id, "typ": protocol.APPEAL_TYP},
                            {"sub": self.device_id, "iat": issued,
                             "nonce": b64u_encode(secrets.token_bytes(16))}, self.key)

    def call(self, path: str, payload: Any, retry: bool = True) -> dict[str, Any]:
        """Sign, send and accept; one retry with the fresh nonce after `bad-nonce`."""
        body, nonce = self.sign(path, payload)
        response = self.send(path, json.dumps(body).encode())
        if response.status_code != 200:
            problem = _problem(response)
            if retry and protocol.problem_name(problem.get("type")) == protocol.BAD_NONCE:
                return self.call(path, payload, retry=False)
            raise ProtocolError(response.status_code, problem)
        return self.accept(str(response.json().get("record", "")), nonce)

    # -- the screen's language -------------------------------------------------------------
    @property
    def locale(self) -> str:
        """The language the user chose for the screen (a BCP 47 tag), sent with every
        activation and check-in so the server writes lock messages in it. A user
        setting: a factory reset forgets it, and the set-up screen asks again."""
        saved = self.userdata.read(LOCALE)
        return saved.decode() if saved else DEFAULT_LOCALE

    def choose_locale(self, tag: str) -> None:
        self.userdata.write(LOCALE, tag.encode())

    # -- protocol: the payloads ----------------------------------------------------------
    @staticmethod
    def activation_payload(account_token: str | None = None,
                           signals: protocol.Signals | None = None,
                           bypass_code: str | None = None,
                           locale: str | None = None) -> protocol.ActivationPayload:
        payload: protocol.ActivationPayload = {"signals": signals or {}}
        if account_token:
            payload["account_token"] = account_token
        if bypass_code:
            payload["bypass_code"] = bypass_code
        if locale:
            payload["locale"] = locale
        return payload

    @staticmethod
    def account_payload(account_token: str) -> protocol.AccountPayload:
        return {"account_token": account_token}

    def checkin_payload(self, signals: protocol.Signals | None = None,
                        acks: list[str] | None = None, report_bootloader: bool = True,
                        accept_notices: bool = False,
                        locale: str | None = None) -> protocol.CheckinPayload:
        """Acknowledges the commands of the last record unless `acks` says otherwise
        (they were shown) — an enrollment notice only if the user accepted it — and
        reports the bootloader's state (and `locale`, the screen's language, if given)."""
        if acks is None:
            saved = self.last_record()
            acks = acks_for(saved["payload"] if saved else None, accept_notices)
        payload: protocol.CheckinPayload = {"signals": signals or {}, "acks": acks}
        if report_bootloader:
            payload["bootloader"] = self.bootloader.state
        if locale:
            payload["locale"] = locale
        return payload

    # -- protocol: the acts --------------------------------------------------------------
    def activate(self, account_token: str | None = None,
                 signals: dict[str, Any] | None = None,
                 bypass_code: str | None = None) -> dict[str, Any]:
        """`bypass_code`: the code an organization's administrator gave (a device held by
        an organization is locked at activation without it). Once activated, carry out a
        ring or wipe that waited for it (such as the wipe a granted appeal queues for a
        device that could not be set up)."""
        record = self.call(protocol.ACTIVATION_PATH, self.activation_payload(
            account_token, signals, bypass_code, self.locale))  # type: ignore[arg-type]
        if record.get("status") == "activated":
            return self.carry_out(record, signals)
        return record

    def bind(self, account_token: str) -> dict[str, Any]:
        return self.call(protocol.BIND_PATH, self.account_payload(account_token))

    def unbind(self, account_token: str) -> dict[str, Any]:
        return self.call(protocol.UNBIND_PATH, self.account_payload(account_token))

    def checkin(self, signals: dict[str, Any] | None = None,
                accept_notices: bool = False) -> dict[str, Any]:
        """Check in, acknowledging the commands of the last record (they were shown) —
        a creditor's enrollment notice only with `accept_notices` (the user accepted
        it on screen); then carry out the owner's ring and wipe commands of the answer."""
        saved = self.last_record()
        payload = self.checkin_payload(signals, accept_notices=accept_notices,  # type: ignore[arg-type]
                                       locale=self.locale)
        record = self.call(protocol.CHECKIN_PATH, payload)
        if accept_notices:
            remember_accepted(self.persistent, saved["payload"] if saved else None)
        return self.carry_out(record, signals)

    def carry_out(self, record: dict[str, Any], signals: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
        """Ring (a line in `actions`), or wipe: the user-data block is erased — the
        persistent block keeps the identity, key and pins, so the device can activate
        again, and a lock it carries (lost mode) shows again at that activation. Each
        command carried out is acknowledged at once by a second check-in, so the owner's
        list says `acknowledged` without waiting a check-in interval; the answer to it is
        the record returned. Messages are left for the next check-in (they are shown)."""
        self.actions = []
        done: list[str] = []
        for command in record.get("commands", []):
            act = COMMANDS.get(str(command.get("type")))
            if act is not None:
                self.actions.append(act(self))
                done.append(str(command.get("id")))
        if not done:
            return record
        record = self.call(protocol.CHECKIN_PATH,
                           self.checkin_payload(signals, acks=done,  # type: ignore[arg-type]
                                                locale=self.locale))
        if any(line.startswith(WIPED) for line in self.actions):
            self.factory_reset()  # the stored record now says: activation needed
        return record

    def _ring(self) -> str:
        return f"{RINGING} {self.device_id} ({self.identity.model}): the owner is looking for it"

    def _wipe(self) -> str:
        self.userdata.wipe()
        return (f"{WIPED} {self.device_id}: the owner had it wiped; the identity is kept, "
                "activate to set it up again")

    @property
    def bootloader(self) -> Bootloader:
        return Bootloader(self)

    def request_unlock(self, account_token: str, bootloader_token: str) -> str:
        """What a desktop unlock tool does: ask the server to sign a grant."""
        response = self.http.post(protocol.UNLOCKS_PATH,
                                  json={"bootloader_token": bootloader_token},
                                  headers={"Authorization": f"Bearer {account_token}"})
        if response.status_code != 200:
            raise ProtocolError(response.status_code, _problem(response))
        return str(response.json()["unlock_token"])

    # -- the owner on the device ---------------------------------------------------------
    def sign_in(self, email: str, password: str, totp: str | None = None) -> str:
        """A session token; `totp` (a current code or a recovery code) once the account's
        second factor is on."""
        body = {"email": email, "password": password}
        if totp:
            body["totp"] = totp
        response = self.http.post(protocol.SESSIONS_PATH, json=body)
        if response.status_code != 201:
            raise ProtocolError(response.status_code, _problem(response))
        token = str(response.json()["token"])
        self.userdata.write(SESSION, json.dumps({"email": email, "token": token}).encode())
        return token

    def session_token(self) -> str | None:
        saved = self.userdata.read(SESSION)
        return str(json.loads(saved)["token"]) if saved is not None else None

    def factory_reset(self) -> None:
        """Wipe user data; the persistent block (identity, key, pins, record) stays.
        The nonce kept from the last answer is lost, as a restart loses it."""
        self.userdata.wipe()
        self.next_nonce = None
        saved = self.last_record()
        if saved is not None:
            saved["reset_since"] = True
            self.persistent.write(RECORD, json.dumps(saved, indent=2).encode())

    # -- what the screen shows -----------------------------------------------------------
    def last_record(self) -> dict[str, Any] | None:
        saved = self.persistent.read(RECORD)
        return dict(json.loads(saved)) if saved is not None else None

    def lock_screen(self) -> str:
        saved = self.last_record()
        if saved is None:
            return f"{self.device_id}: not activated yet (run `tenure device activate`)"
        record = saved["payload"]
        lines = [f"Device {self.device_id} ({self.identity.model})"]
        if saved.get("reset_since"):
            lines.append("Factory reset: activation needed (last record below).")
        record = with_offline_lock(record, self.persistent, self.clock.now())
        lines.extend(record_lines(record))
        lines.extend(screen_lines(record))
        if record.get("exemptions"):
            lines.append("Exempt by appeal from territory rules: "
                         + ", ".join(map(str, record["exemptions"])))
        if record["locks"]:
            lines.append("Bought this device? Open an appeal case with proof of purchase; "
                         "the case needs this device's appeal token: "
                         "`tenure device appeal-token`.")
        lines.append(f"Bootloader: {self.bootloader.state}")
        if isinstance(record.get("iat"), int):
            lines.append(f"Record issued: {iso_utc(record['iat'])} (what the device last "
                         "heard; changes made elsewhere, such as a removal in the portal, "
                         "show after the next check-in: `status --refresh`)")
        return "\n".join(lines)


# The owner's commands the agent carries out at a check-in (docs/protocol.md Part 2).
COMMANDS: dict[str, Callable[[DeviceAgent], str]] = {
    "ring": DeviceAgent._ring,
    "wipe": DeviceAgent._wipe,
}


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
        return value if isinstance(value, dict) else {"detail": str(value)}
    except ValueError:
        return {"type": "", "detail": response.text[:200], "status": response.status_code}


__all__ = ["DeviceAgent", "Identity", "ProtocolError", "RecordRejected", "b64u_encode",
           "iso_utc"]
