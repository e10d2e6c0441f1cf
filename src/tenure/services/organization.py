"""An organization's fleet (docs/protocol.md Part 2, "Organization (fleet owner)";
docs/organizations.md): claim devices in bulk, look at one, release one, and issue the
bypass code an employee types to set a reset device up.

Authorization is checked here, on every call: the key must be an organization's
(services/tenant_access.py); a device the organization holds no claim on answers `404`
exactly like an unknown one, and a refused claim says only `not-claimable`, whatever
the reason, so that no answer tells a tenant about devices it may not see.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tenure.clock import Clock
from tenure.domain.decide import organization_message
from tenure.domain.errors import InvalidInput, TooLarge
from tenure.domain.model import MAX_HINT, Claim, ClaimKind, owner_claim
from tenure.domain.provisioning import is_device_id
from tenure.domain.wording import N_, Phrase

from . import bypass, notices
from .last_seen import LastSeen
from .ports import Tx, UnitOfWork
from .tenant_access import (
    claimable,
    held_claim,
    owner_email,
    release_tenant_claim,
    require_tenant,
)

MAX_DEVICES = 10_000  # device ids in one claim request
KIND = "organization"
NOT_CLAIMABLE = "not-claimable"


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    claimed: list[str]  # in the order asked, including devices already held
    refused: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"claimed": self.claimed,
                "refused": [{"device_id": d, "reason": NOT_CLAIMABLE} for d in self.refused]}


def device_ids_from(value: object) -> list[str]:
    """The requested ids, each once, in order: a list of at most 10,000 strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("'device_ids' must be a list of device id strings.")
    if len(value) > MAX_DEVICES:
        raise TooLarge(f"At most {MAX_DEVICES:,} device ids per request; split the list.")
    return list(dict.fromkeys(value))


class OrgDevices:
    def __init__(self, uow: UnitOfWork, clock: Clock, last_seen: LastSeen | None = None) -> None:
        self.uow = uow
        self.clock = clock
        self.last_seen = last_seen

    def claim(self, key: str | None, device_ids: object) -> ClaimOutcome:
        """Claim every claimable device among `device_ids` in one transaction: a handful
        of statements whatever the count (batch reads, one insert, one audit append)."""
        def work(tx: Tx) -> ClaimOutcome:
            now = self.clock.now()
            who = require_tenant(tx, key, KIND)  # 401/403 before anything about the body
            wanted = device_ids_from(device_ids)
            ids = [d for d in wanted if is_device_id(d)]
            held = tx.claims.active_for_devices(ids)
            mine: set[str] = set()
            taken: set[str] = set()
            for device_id, claims in held.items():
                for c in claims:
                    if c.kind is ClaimKind.ORGANIZATION:
                        (mine if c.holder == who.tenant_id else taken).add(device_id)
            open_ids = [d for d in ids if d not in mine and d not in taken]
            allowed = claimable(tx, who.tenant_id, open_ids, held)
            # The name goes with the claim too, so the lock can be said in the device's
            # language (domain/decide.py); a name too long for it keeps the English text.
            hint = who.name if len(who.name) <= MAX_HINT else ""
            new = [Claim(secrets.token_hex(16), d, ClaimKind.ORGANIZATION, who.tenant_id, now,
                         holder_hint=hint, message=organization_message(who.name),
                         contact=who.contact)
                   for d in open_ids if d in allowed]
            tx.claims.add_many(new)
            tx.audit.record_many("claim.organization.added", who.actor, now, [
                (f"device:{c.device_id}", {"claim": c.claim_id, "tenant": who.tenant_id})
                for c in new])
            for c in new:
                if owner_claim(held.get(c.device_id, ())) is not None:
                    email = owner_email(tx, held[c.device_id])
                    if email is not None:
                        notices.tenant_claim_added(tx, email, c.device_id, who.name, KIND, now)
            done = mine | {c.device_id for c in new}
            return ClaimOutcome([d for d in wanted if d in done],
                                [d for d in wanted if d not in done])

        return self.uow.run(work)

    def show(self, key: str | None, device_id: str) -> dict[str, Any]:
        with self.uow(readonly=True) as tx:
            who = require_tenant(tx, key, KIND)
            claim = held_claim(tx, who, device_id, ClaimKind.ORGANIZATION)
            stored = tx.devices.get(device_id)
            code = tx.bypass_codes.get(device_id)
        seen = [stored.last_checkin_at if stored else None,
                self.last_seen.pending(device_id) if self.last_seen else None]
        known = [t for t in seen if t is not None]
        current = code is not None and code.spent_at is None and code.tenant_id == who.tenant_id
        return {"device_id": device_id, "claimed_at": claim.created_at,
                "last_checkin": max(known) if known else None,
                "code_issued_at": code.issued_at if current and code else None}

    def release(self, key: str | None, device_id: str) -> None:
        def work(tx: Tx) -> None:
            now = self.clock.now()
            who = require_tenant(tx, key, KIND)
            claim = held_claim(tx, who, device_id, ClaimKind.ORGANIZATION)
            release_tenant_claim(tx, claim, who.name, now, actor=who.actor,
                                 how=Phrase.of(N_("released by %(name)s"), name=who.name))

        self.uow.run(work)

    def issue_code(self, key: str | None, device_id: str) -> tuple[str, int]:
        """A new bypass code for a held device, shown once; the previous one stops working."""
        def work(tx: Tx) -> tuple[str, int]:
            now = self.clock.now()
            who = require_tenant(tx, key, KIND)
            claim = held_claim(tx, who, device_id, ClaimKind.ORGANIZATION)
            code = bypass.new_code(tx, claim, now)
            tx.audit.record(f"device:{device_id}", "bypass_code.issued", actor=who.actor,
                            at=now, claim=claim.claim_id)
            return code, now

        return self.uow.run(work)
