"""Periodic check-in of an activated device: the hot path, kept to point lookups."""

from __future__ import annotations

from tenure.clock import Clock
from tenure.domain.decide import DecisionInput, decide
from tenure.domain.model import Act
from tenure.store.uow import Tx

from .activation import owner_hint
from .device_auth import DeviceRequest
from .device_payload import signals, string_list
from .records import RecordSigner


class CheckIn:
    def __init__(self, signer: RecordSigner, clock: Clock, credential_cooldown: int) -> None:
        self.signer = signer
        self.clock = clock
        self.cooldown = credential_cooldown

    def __call__(self, tx: Tx, request: DeviceRequest) -> str:
        signals(request.payload)
        string_list(request.payload, "acks")  # no commands exist yet to acknowledge
        now = self.clock.now()
        claims = tx.claims.active(request.device_id)
        decision = decide(DecisionInput(
            device=request.device.device, act=Act.USE, claims=claims, now=now,
            credential_cooldown=self.cooldown))
        tx.devices.touch_checkin(request.device_id, now)
        return self.signer.sign(request.device_id, request.nonce, decision, owner_hint(claims))
