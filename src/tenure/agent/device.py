"""A simulated device: identity and keys, the signed protocol, the persistent block."""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from typing import Any

import httpx

from tenure.clock import Clock, OffsetFileClock, SystemClock
from tenure.config import load_agent_settings
from tenure.crypto.b64 import b64u_encode
from tenure.crypto.jws import sign_flattened
from tenure.crypto.keyring import write_secret_file
from tenure.crypto.keys import KeyType, SigningKey

from .bootloader import Bootloader
from .records import RecordRejected, pinned_keys, verify_record

JOSE = "application/jose+json"


class ProtocolError(Exception):
    """The server answered with a problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", "")).removeprefix("urn:tenure:problem:")
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


class DeviceAgent:
    def __init__(self, state: Path, http: httpx.Client | None = None,
                 clock: Clock | None = None) -> None:
        self.state = state
        self.persistent = state / "persistent"
        self.userdata = state / "userdata"
        self.identity: dict[str, Any] = json.loads((self.persistent / "identity.json").read_text())
        self.key = SigningKey.from_pem((self.persistent / "device_key.pem").read_bytes())
        self.pinned = pinned_keys(self.identity["pinned_keys"])
        self.http = http or httpx.Client(base_url=self.identity["server"], timeout=30)
        self.clock = clock or device_clock()
        self._nonce: str | None = None

    # -- factory -------------------------------------------------------------------------
    @classmethod
    def init(cls, state: Path, server: str, device_id: str | None = None,
             model: str = "Tenure Phone 1", sku: str = "TP1-128-BLK", market: str = "global",
             key_type: KeyType = "Ed25519", imeis: int = 1,
             clock: Clock | None = None) -> DeviceAgent:
        """Make the key pair and pin the server's keys, as the factory line does."""
        persistent = state / "persistent"
        if (persistent / "identity.json").exists():
            raise FileExistsError(f"{state} already holds a device; use another --state")
        jwks = httpx.get(f"{server.rstrip('/')}/v1/keys", timeout=30).raise_for_status().json()
        persistent.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate(key_type)
        write_secret_file(persistent / "device_key.pem", key.to_pem())
        identity = {
            "device_id": device_id or f"TN{secrets.token_hex(6).upper()}",
            "imeis": [random_imei() for _ in range(imeis)],
            "model": model, "sku": sku, "market": market,
            "server": server.rstrip("/"), "pinned_keys": jwks["keys"],
        }
        (persistent / "identity.json").write_text(json.dumps(identity, indent=2))
        return cls(state, clock=clock)

    @classmethod
    def load(cls, state: Path, clock: Clock | None = None) -> DeviceAgent:
        if not (state / "persistent" / "identity.json").exists():
            raise FileNotFoundError(f"no device in {state}: run `tenure device init` first")
        return cls(state, clock=clock)

    @property
    def device_id(self) -> str:
        return str(self.identity["device_id"])

    def provisioning_row(self) -> dict[str, str]:
        import base64

        return {
            "device_id": self.device_id, "imei": ";".join(self.identity["imeis"]),
            "model": self.identity["model"], "sku": self.identity["sku"],
            "market": self.identity["market"],
            "public_key": base64.b64encode(self.key.public().spki_der()).decode(),
        }

    # -- protocol ------------------------------------------------------------------------
    def _fresh_nonce(self) -> str:
        if self._nonce is None:
            self._nonce = self.http.head("/v1/device/nonce").headers["Replay-Nonce"]
        nonce, self._nonce = self._nonce, None
        return nonce

    def _post(self, path: str, payload: dict[str, Any], retry: bool = True) -> dict[str, Any]:
        nonce = self._fresh_nonce()
        body = sign_flattened({"kid": self.device_id, "nonce": nonce, "url": path}, payload,
                              self.key)
        response = self.http.post(path, content=json.dumps(body),
                                  headers={"Content-Type": JOSE})
        self._nonce = response.headers.get("Replay-Nonce")
        if response.status_code != 200:
            problem = _problem(response)
            if retry and problem.get("type") == "urn:tenure:problem:bad-nonce":
                return self._post(path, payload, retry=False)
            raise ProtocolError(response.status_code, problem)
        return self._accept(response.json().get("record", ""), nonce)

    def _accept(self, record: str, nonce: str) -> dict[str, Any]:
        """Verify, then store in the persistent block; a rejected answer changes nothing."""
        payload = verify_record(record, self.pinned, self.device_id, nonce, self.clock.now())
        write_secret_file(self.persistent / "record.json",
                          json.dumps({"record": record, "payload": payload}, indent=2).encode())
        return payload

    def activate(self, account_token: str | None = None,
                 signals: dict[str, Any] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"signals": signals or {}}
        if account_token:
            payload["account_token"] = account_token
        return self._post("/v1/device/activation", payload)

    def bind(self, account_token: str) -> dict[str, Any]:
        return self._post("/v1/device/bind", {"account_token": account_token})

    def unbind(self, account_token: str) -> dict[str, Any]:
        return self._post("/v1/device/unbind", {"account_token": account_token})

    def checkin(self, signals: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check in, acknowledging the commands of the last record (they were shown)."""
        saved = self.last_record()
        acks = [c["id"] for c in saved["payload"].get("commands", [])] if saved else []
        return self._post("/v1/device/checkin", {"signals": signals or {}, "acks": acks,
                                                 "bootloader": self.bootloader.state})

    @property
    def bootloader(self) -> Bootloader:
        return Bootloader(self)

    def request_unlock(self, account_token: str, bootloader_token: str) -> str:
        """What a desktop unlock tool does: ask the server to sign a grant."""
        response = self.http.post("/v1/unlocks", json={"bootloader_token": bootloader_token},
                                  headers={"Authorization": f"Bearer {account_token}"})
        if response.status_code != 200:
            raise ProtocolError(response.status_code, _problem(response))
        return str(response.json()["unlock_token"])

    # -- the owner on the device ---------------------------------------------------------
    def sign_in(self, email: str, password: str) -> str:
        response = self.http.post("/v1/sessions", json={"email": email, "password": password})
        if response.status_code != 201:
            raise ProtocolError(response.status_code, _problem(response))
        token = str(response.json()["token"])
        self.userdata.mkdir(parents=True, exist_ok=True)
        write_secret_file(self.userdata / "session.json",
                          json.dumps({"email": email, "token": token}).encode())
        return token

    def session_token(self) -> str | None:
        path = self.userdata / "session.json"
        return json.loads(path.read_text())["token"] if path.exists() else None

    def factory_reset(self) -> None:
        """Wipe user data; the persistent block (identity, key, pins, record) stays."""
        shutil.rmtree(self.userdata, ignore_errors=True)
        marker = self.persistent / "record.json"
        if marker.exists():
            saved = json.loads(marker.read_text())
            saved["reset_since"] = True
            write_secret_file(marker, json.dumps(saved, indent=2).encode())

    # -- what the screen shows -----------------------------------------------------------
    def last_record(self) -> dict[str, Any] | None:
        path = self.persistent / "record.json"
        return json.loads(path.read_text()) if path.exists() else None

    def lock_screen(self) -> str:
        saved = self.last_record()
        if saved is None:
            return f"{self.device_id}: not activated yet (run `tenure device activate`)"
        record = saved["payload"]
        lines = [f"Device {self.device_id} ({self.identity['model']})"]
        if saved.get("reset_since"):
            lines.append("Factory reset: activation needed (last record below).")
        lines.append(_status_line(record))
        for lock in record["locks"]:
            lines.extend(_lock_lines(lock))
        for command in record.get("commands", []):
            if command.get("type") == "message":
                lines.append(f"  Message: {command.get('message', '')}")
        lines.append(_owner_line(record))
        lines.append(f"Bootloader: {self.bootloader.state}")
        if isinstance(record.get("iat"), int):
            lines.append(f"Record issued: {iso_utc(record['iat'])} (what the device last "
                         "heard; changes made elsewhere, such as a removal in the portal, "
                         "show after the next check-in: `status --refresh`)")
        return "\n".join(lines)


# What each kind of lock is, in the owner's words (docs/protocol.md: record `locks[].kind`).
LOCK_NAMES = {
    "owner": "activation lock of the owner's account",
    "lost": "reported lost",
    "organization": "held by an organization",
    "creditor": "locked by a creditor",
    "territory": "territory policy of the manufacturer",
}


def _status_line(record: dict[str, Any]) -> str:
    """LOCKED names what locks it, so the owner line below cannot read as a contradiction."""
    status = f"Status: {record['status'].upper()}"
    kinds = [str(lock.get("kind", "")) for lock in record.get("locks", [])]
    if not kinds:
        return status
    names = [LOCK_NAMES.get(kind, kind) for kind in dict.fromkeys(kinds)]
    return f"{status} ({'; '.join(names)})"


def _lock_lines(lock: dict[str, Any]) -> list[str]:
    lines = [f"  [{lock['kind']}] {lock['message']}"]
    if lock.get("hint"):
        lines.append(f"    Account: {lock['hint']}")
    if lock.get("until"):
        lines.append(f"    Accepted from: {_when(lock['until'])}")
    if lock.get("territory"):
        rule = f" (rule {lock['rule']})" if lock.get("rule") else ""
        lines.append(f"    Territory: {lock['territory']}{rule}")
    if lock.get("contact"):
        lines.append(f"    Contact: {lock['contact']}")
    return lines


def _owner_line(record: dict[str, Any]) -> str:
    owner = record.get("owner")
    if owner:
        return f"Owner: {owner['hint']}"
    if record.get("locks"):
        return "Owner: none (no account holds it; the lock above is not an activation lock)"
    return "Owner: none (activation lock off)"


def iso_utc(at: int) -> str:
    """A Unix time as ISO 8601 in UTC, the form scripts and people both read."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _when(at: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
        return value if isinstance(value, dict) else {"detail": str(value)}
    except ValueError:
        return {"type": "", "detail": response.text[:200], "status": response.status_code}


__all__ = ["DeviceAgent", "ProtocolError", "RecordRejected", "b64u_encode"]
