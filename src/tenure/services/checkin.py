"""Periodic check-in of an activated device: the hot path, kept to point lookups."""

from __future__ import annotations

import re

from tenure.clock import Clock
from tenure.domain.decide import DecisionInput, decide
from tenure.domain.model import Act, owner_hint

from .creditor_device import creditor_terms, offline_lock_days
from .device_auth import DeviceRequest
from .device_payload import optional_str, signals, string_list
from .last_seen import LastSeen
from .ports import Tx
from .records import RecordSigner
from .territory_check import TerritoryCheck

_COMMAND_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class CheckIn:
    def __init__(self, signer: RecordSigner, clock: Clock, credential_cooldown: int,
                 territory: TerritoryCheck, last_seen: LastSeen) -> None:
        self.signer = signer
        self.clock = clock
        self.cooldown = credential_cooldown
        self.territory = territory
        self.last_seen = last_seen

    def __call__(self, tx: Tx, request: DeviceRequest) -> str:
        acks = string_list(request.payload, "acks")
        bootloader = optional_str(request.payload, "bootloader")
        now = self.clock.now()
        # Only what can be a command id reaches the query (a NUL would fail on PostgreSQL).
        acked = {a for a in acks[:100] if _COMMAND_ID.fullmatch(a)}
        tx.commands.ack(request.device_id, list(acked), now)
        _audit_acks(tx, request, acked, now)
        claims = request.device.claims
        pending = {c["id"] for c in request.device.commands}
        terms = creditor_terms(tx, claims, acked & pending, now)
        assessment = self.territory.at_checkin(
            tx, request.device, signals(request.payload), request.source_ip, now, claims,
            request.locale)
        if assessment.claims_changed:
            claims = tx.claims.active(request.device_id)
        decision = decide(DecisionInput(
            device=request.device.device, act=Act.USE, claims=claims, now=now,
            credential_cooldown=self.cooldown, verdict=assessment.verdict,
            presence=assessment.presence, exemptions=assessment.exemptions,
            creditor=terms.loan if terms else None))
        self.last_seen.note(request.device_id, now)
        if bootloader in ("locked", "unlocked"):
            tx.unlocks.report_bootloader(request.device_id, bootloader, now,
                                         request.device.bootloader)
        commands = (tx.commands.pending(request.device_id) if assessment.commands_changed
                    else [c for c in request.device.commands if c["id"] not in acked])
        return self.signer.sign(request.device_id, request.nonce, decision, owner_hint(claims),
                                commands, assessment.policy_version,
                                exemptions=request.device.exemptions,
                                offline_lock_days=offline_lock_days(terms), locale=request.locale)


def _audit_acks(tx: Tx, request: DeviceRequest, acked: set[str], now: int) -> None:
    """An owner's command (ring, wipe) acknowledged is a state change the owner sees in
    their list: audited. Read from the pending commands loaded with the device, so an
    ordinary check-in costs no statement more."""
    done = [c for c in request.device.commands
            if c["id"] in acked and c.get("type") in ("ring", "wipe")]
    for command in done:
        tx.audit.record(f"device:{request.device_id}", f"command.{command['type']}.acknowledged",
                        actor=f"device:{request.device_id}", at=now, command=command["id"])
