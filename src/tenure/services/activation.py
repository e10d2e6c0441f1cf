"""First activation, and every activation after a factory reset."""

from __future__ import annotations

from tenure.clock import Clock
from tenure.domain.decide import DecisionInput, decide
from tenure.domain.model import Act, owner_hint

from .authn import session_for
from .device_auth import DeviceRequest
from .device_payload import optional_str, signals
from .ports import Tx
from .records import RecordSigner
from .territory_check import TerritoryCheck


class Activation:
    def __init__(self, signer: RecordSigner, clock: Clock, credential_cooldown: int,
                 territory: TerritoryCheck) -> None:
        self.signer = signer
        self.clock = clock
        self.cooldown = credential_cooldown
        self.territory = territory

    def __call__(self, tx: Tx, request: DeviceRequest) -> str:
        token = optional_str(request.payload, "account_token")
        now = self.clock.now()
        claims = request.device.claims
        assessment = self.territory.at_activation(
            tx, request.device, signals(request.payload), request.source_ip, now, claims)
        if assessment.claims_changed:
            claims = tx.claims.active(request.device_id)
        session = session_for(tx, token, now) if token else None
        decision = decide(DecisionInput(
            device=request.device.device, act=Act.ACTIVATE, claims=claims, now=now,
            credential_cooldown=self.cooldown,
            credential=session.credential() if session else None,
            verdict=assessment.verdict, presence=assessment.presence,
        ))
        tx.devices.set_activated(request.device_id, None if decision.locked else now)
        tx.audit.record(
            f"device:{request.device_id}",
            "device.activation_refused" if decision.locked else "device.activated",
            actor=f"device:{request.device_id}", at=now,
            account=session.account_id if session else None,
            reasons=list(decision.reasons), evidence=assessment.presence.explain(),
            policy_version=assessment.policy_version,
        )
        return self.signer.sign(request.device_id, request.nonce, decision, owner_hint(claims),
                                list(request.device.commands), assessment.policy_version)
