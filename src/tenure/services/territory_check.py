"""Territory evidence for a device request, and the policy's effect on the device.

Gathers the three sources (request IP, SIM MCCs, GNSS), lets the domain place the
device and pick the applicable rule, then stores what follows: the device's
whereabouts, a warning command, a territory claim made or released.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from tenure.clock import Clock
from tenure.domain.errors import Malformed, UnknownTerritory
from tenure.domain.in_use import TerritoryState, plan_in_use, track, warned
from tenure.domain.model import Claim, ClaimKind, TerritoryEvidence
from tenure.domain.policy import Verdict, verdict
from tenure.domain.territory import Presence, is_within, locate
from tenure.geo.ip import IpLocator
from tenure.geo.mcc import country_for_mcc
from tenure.geo.territories import normalise_territory
from tenure.store.rows import StoredDevice
from tenure.store.uow import Tx

from .notices import when
from .policy import PolicyStore


@dataclass(frozen=True, slots=True)
class Assessment:
    presence: Presence
    verdict: Verdict | None
    policy_version: int
    claims_changed: bool = False  # a territory claim was made or released
    commands_changed: bool = False  # a warning command was queued


def read_evidence(signals: dict[str, Any], ip_territory: str | None) -> TerritoryEvidence:
    """The request's territory evidence; malformed signals are refused, unknown MCCs ignored."""
    sources: list[tuple[str, str]] = []
    if ip_territory:
        sources.append(("ip", ip_territory))
    mccs = signals.get("sim_mcc", [])
    if mccs is None:
        mccs = []
    if not isinstance(mccs, list) or not all(
        isinstance(m, str) and len(m) == 3 and m.isdigit() for m in mccs
    ):
        raise Malformed("signals.sim_mcc must be a list of 3-digit mobile country codes.")
    for mcc in mccs[:4]:
        country = country_for_mcc(mcc)
        if country:
            sources.append(("sim", country))
    gnss = signals.get("gnss")
    if gnss is not None:
        sources.append(("gnss", _gnss(gnss)))
    return TerritoryEvidence(tuple(sources))


def _gnss(gnss: object) -> str:
    if not isinstance(gnss, dict) or not isinstance(gnss.get("country"), str):
        raise Malformed('signals.gnss must be {"country": "DE", "subdivision": "DE-BE"}.')
    try:
        country = normalise_territory(gnss["country"])
        subdivision = gnss.get("subdivision")
        if subdivision is None:
            return country
        if not isinstance(subdivision, str):
            raise ValueError("gnss subdivision must be a string")
        code = normalise_territory(subdivision)
    except ValueError as exc:
        raise UnknownTerritory(f"signals.gnss: {exc}") from exc
    if "-" in country or not is_within(code, country):
        raise UnknownTerritory(f"signals.gnss: {code} is not a subdivision of {country}.")
    return code


class TerritoryCheck:
    def __init__(self, policies: PolicyStore, locator: IpLocator, clock: Clock) -> None:
        self.policies = policies
        self.locator = locator
        self.clock = clock

    def _assess(self, tx: Tx, stored: StoredDevice, signals: dict[str, Any],
                source_ip: str | None) -> Assessment:
        active = self.policies.current(tx)
        ip_territory = self.locator.locate(source_ip) if source_ip else None
        presence = locate(read_evidence(signals, ip_territory), active.policy.evidence)
        found = verdict(active.policy, stored.device, presence)
        return Assessment(presence, found, active.version)

    def at_activation(self, tx: Tx, stored: StoredDevice, signals: dict[str, Any],
                      source_ip: str | None, now: int, claims: tuple[Claim, ...]) -> Assessment:
        """The verdict refuses activation by itself; a stored in-use lock that no longer
        applies (policy changed, device moved) is released here as at check-in."""
        assessment = self._assess(tx, stored, signals, source_ip)
        self._remember(tx, stored, assessment, now)
        held = [c for c in claims if c.kind is ClaimKind.TERRITORY]
        released = self._release_if_lifted(tx, stored, assessment, now, held)
        return replace(assessment, claims_changed=released)

    def at_checkin(self, tx: Tx, stored: StoredDevice, signals: dict[str, Any],
                   source_ip: str | None, now: int, claims: tuple[Claim, ...]) -> Assessment:
        """`claims` are the device's active claims, read once by the caller."""
        assessment = self._assess(tx, stored, signals, source_ip)
        state = self._remember(tx, stored, assessment, now)
        found = assessment.verdict
        plan = plan_in_use(found, state, now)
        device_id = stored.device.device_id
        if plan.warn and found is not None:
            tx.commands.add(device_id, "message", {
                "message": found.notice.replace("{when}", when(plan.lock_at or now)),
                "lock_at": plan.lock_at}, now)
            tx.territory.put(device_id, warned(state, found, now), now)
            tx.audit.record(f"device:{device_id}", "territory.notice_sent", actor="policy",
                            at=now, rule=found.rule_id, territory=found.territory,
                            lock_at=plan.lock_at, evidence=assessment.presence.explain(),
                            policy_version=assessment.policy_version)
        held = [c for c in claims if c.kind is ClaimKind.TERRITORY]
        changed = False
        if plan.lock and found is not None and not held:
            changed = True
            tx.claims.add(Claim(
                claim_id=secrets.token_hex(16), device_id=device_id, kind=ClaimKind.TERRITORY,
                holder=f"policy:{found.rule_id}", created_at=now, message=found.in_use_message,
                contact=found.contact, territory=found.territory))
            tx.audit.record(f"device:{device_id}", "claim.territory.locked", actor="policy",
                            at=now, rule=found.rule_id, territory=found.territory,
                            evidence=assessment.presence.explain(),
                            policy_version=assessment.policy_version)
        changed = self._release_if_lifted(tx, stored, assessment, now, held) or changed
        return replace(assessment, claims_changed=changed, commands_changed=plan.warn)

    def _remember(self, tx: Tx, stored: StoredDevice, assessment: Assessment,
                  now: int) -> TerritoryState:
        device_id = stored.device.device_id
        before = stored.territory
        after = track(before, assessment.presence, assessment.verdict, now)
        if after != before:
            tx.territory.put(device_id, after, now)
        return after

    def _release_if_lifted(self, tx: Tx, stored: StoredDevice, assessment: Assessment,
                           now: int, held: list[Claim]) -> bool:
        found = assessment.verdict
        if not held or (found is not None and found.effect == "lock_in_use"):
            return False
        device_id = stored.device.device_id
        for claim in held:
            tx.claims.release(claim.claim_id, now, by="policy")
            tx.audit.record(f"device:{device_id}", "claim.territory.released", actor="policy",
                            at=now, claim=claim.claim_id, evidence=assessment.presence.explain(),
                            policy_version=assessment.policy_version)
        return True
