"""A simulated bootloader: shows a device-signed token, accepts only a matching grant.

Its state lives in the persistent block: a factory reset does not relock it, and a
pending nonce survives until the next token replaces it. An unlock token is accepted
once, for the nonce of the token it answers, before it expires, signed by a pinned key.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from tenure import protocol
from tenure.crypto.b64 import b64u_encode
from tenure.crypto.jws import sign_compact

from .records import RecordRejected, verify_token

if TYPE_CHECKING:
    from .device import DeviceAgent

BOOTLOADER = "bootloader.json"  # its document in the persistent block


class Bootloader:
    def __init__(self, agent: DeviceAgent) -> None:
        self.agent = agent

    def _load(self) -> dict[str, Any]:
        saved = self.agent.persistent.read(BOOTLOADER)
        if saved is not None:
            return dict(json.loads(saved))
        return {"state": "locked", "pending": None}

    def _save(self, data: dict[str, Any]) -> None:
        self.agent.persistent.write(BOOTLOADER, json.dumps(data, indent=2).encode())

    @property
    def state(self) -> str:
        return str(self._load()["state"])

    def token(self, now: float | None = None) -> str:
        """A fresh token over a new nonce; any earlier pending token stops counting."""
        data = self._load()
        nonce = b64u_encode(secrets.token_bytes(16))
        issued = int(self.agent.clock.now() if now is None else now)
        data["pending"] = {"nonce": nonce, "iat": issued}
        self._save(data)
        return sign_compact({"kid": self.agent.device_id, "typ": protocol.BL_TOKEN_TYP},
                            {"sub": self.agent.device_id, "nonce": nonce, "iat": issued},
                            self.agent.key)

    def unlock(self, unlock_token: str, now: float | None = None) -> None:
        """Verify a grant and unlock; RecordRejected (state unchanged) otherwise."""
        data = self._load()
        payload = verify_token(unlock_token, protocol.UNLOCK_TYP, self.agent.pinned)
        if payload.get("sub") != self.agent.device_id:
            raise RecordRejected(f"the unlock token is for {payload.get('sub')!r}, "
                                 "not this device")
        pending = data.get("pending")
        if not pending or payload.get("bl_nonce") != pending["nonce"]:
            raise RecordRejected("the unlock token does not answer this bootloader's pending "
                                 "token (used already, or from an earlier token)")
        exp = payload.get("exp")
        if not isinstance(exp, int) or exp <= (self.agent.clock.now() if now is None else now):
            raise RecordRejected("the unlock token has expired")
        self._save({"state": "unlocked", "pending": None,
                    "unlocked_at": self.agent.clock.now()})
