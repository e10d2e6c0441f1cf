"""First activation, and every activation after a factory reset.

A device held by an organization is locked here unless the payload's `bypass_code` is
the organization's current code (services/bypass.py); a right code is spent with the
activation it opens, in this transaction."""

from __future__ import annotations

from tenure.clock import Clock
from tenure.domain.decide import DecisionInput, decide
from tenure.domain.model import Act, Claim, ClaimKind, Decision, owner_hint

from . import bypass
from .authn import session_for
from .creditor_device import creditor_terms, offline_lock_days
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
            tx, request.device, signals(request.payload), request.source_ip, now, claims,
            request.locale)
        if assessment.claims_changed:
            claims = tx.claims.active(request.device_id)
        session = session_for(tx, token, now) if token else None
        terms = creditor_terms(tx, claims, (), now)
        code = optional_str(request.payload, "bypass_code")
        held = next((c for c in claims if c.kind is ClaimKind.ORGANIZATION), None)
        code_hash = bypass.check(tx, held, code, now) if held and code is not None else None

        def decide_with(code_accepted: bool) -> Decision:
            return decide(DecisionInput(
                device=request.device.device, act=Act.ACTIVATE, claims=claims, now=now,
                credential_cooldown=self.cooldown,
                credential=session.credential() if session else None,
                verdict=assessment.verdict, presence=assessment.presence,
                bypass_accepted=code_accepted, exemptions=assessment.exemptions,
                creditor=terms.loan if terms else None,
            ))

        decision = decide_with(code_hash is not None)
        spent = False
        if code_hash is not None and held is not None and not decision.locked:
            # Of two activations racing with one code, the one that spends it opens.
            spent = tx.bypass_codes.spend(request.device_id, code_hash, now)
            if not spent:
                decision = decide_with(False)
        tx.devices.set_activated(request.device_id, None if decision.locked else now)
        tx.audit.record(
            f"device:{request.device_id}",
            "device.activation_refused" if decision.locked else "device.activated",
            actor=f"device:{request.device_id}", at=now,
            account=session.account_id if session else None,
            reasons=list(decision.reasons), evidence=assessment.presence.explain(),
            policy_version=assessment.policy_version,
            bypass_code=_code_outcome(held, code, code_hash, spent),
        )
        return self.signer.sign(request.device_id, request.nonce, decision, owner_hint(claims),
                                list(request.device.commands), assessment.policy_version,
                                exemptions=request.device.exemptions,
                                offline_lock_days=offline_lock_days(terms), locale=request.locale)


def _code_outcome(held: Claim | None, code: str | None, code_hash: str | None,
                  spent: bool) -> str | None:
    """What became of a presented bypass code, for the audit trail (never the code)."""
    if held is None or code is None:
        return None
    if spent:
        return "spent"
    return "right, not spent (other locks remain)" if code_hash else "wrong"
