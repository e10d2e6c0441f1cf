"""Territory evidence for a device request, and the policy's effect on the device.

Gathers the three sources (request IP, SIM MCCs, GNSS), lets the domain place the
device and pick the applicable rule, then stores what follows: the device's
whereabouts, a warning command, a territory claim made or released.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tenure.clock import Clock
from tenure.domain.errors import Malformed, UnknownTerritory
from tenure.domain.in_use import (
    LockInUse,
    Release,
    TerritoryOutcome,
    TerritoryState,
    Unchanged,
    Warn,
    territory_outcome,
    track,
    warned,
)
from tenure.domain.model import Claim, ClaimKind, TerritoryEvidence
from tenure.domain.policy import Verdict, verdict
from tenure.domain.retail import sale_exemptions
from tenure.domain.territory import Presence, is_within, locate
from tenure.geo.ip import IpLocator
from tenure.geo.mcc import country_for_mcc
from tenure.geo.territories import normalise_territory

from .lock_text import reading_order, say
from .notices import when
from .policy import PolicyStore
from .ports import StoredDevice, Tx
from .retail_sales import sale_input


@dataclass(frozen=True, slots=True)
class Assessment:
    presence: Presence
    verdict: Verdict | None
    policy_version: int
    outcome: TerritoryOutcome = Unchanged()
    exemptions: tuple[str, ...] = ()  # rules a licensed sale let the device through

    @property
    def claims_changed(self) -> bool:
        """A territory claim was made or released: the caller reads claims again."""
        return isinstance(self.outcome, LockInUse | Release)

    @property
    def commands_changed(self) -> bool:
        """A warning command was queued: the caller reads pending commands again."""
        return isinstance(self.outcome, Warn)


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

    def at_activation(self, tx: Tx, stored: StoredDevice, signals: dict[str, Any],
                      source_ip: str | None, now: int, claims: tuple[Claim, ...],
                      locale: str | None = None) -> Assessment:
        """The verdict refuses activation by itself; a stored in-use lock that no longer
        applies (policy changed, device moved) is released here as at check-in."""
        return self._assess(tx, stored, signals, source_ip, now, claims, False, locale)

    def at_checkin(self, tx: Tx, stored: StoredDevice, signals: dict[str, Any],
                   source_ip: str | None, now: int, claims: tuple[Claim, ...],
                   locale: str | None = None) -> Assessment:
        """`claims` are the device's active claims, read once by the caller; `locale`:
        the device's language, that of a warning queued now (services/lock_text.py)."""
        return self._assess(tx, stored, signals, source_ip, now, claims, True, locale)

    def _assess(self, tx: Tx, stored: StoredDevice, signals: dict[str, Any],
                source_ip: str | None, now: int, claims: tuple[Claim, ...],
                in_use: bool, locale: str | None) -> Assessment:
        active = self.policies.current(tx)
        ip_territory = self.locator.locate(source_ip) if source_ip else None
        presence = locate(read_evidence(signals, ip_territory), active.policy.evidence)
        found = verdict(active.policy, stored.device, presence, exempt=stored.exemptions)
        exemptions: tuple[str, ...] = ()
        if found is not None and active.policy.exempts_sales:
            # Only a restricted device under a policy that exempts licensed sales costs
            # the extra lookup; every other check-in stays as lean as it was.
            sale = sale_input(tx, stored.device.device_id)
            if sale is not None and sale.licensed:
                found = verdict(active.policy, stored.device, presence, sale,
                                exempt=stored.exemptions)
                exemptions = sale_exemptions(active.policy, stored.device, presence, sale)
        state = track(stored.territory, presence, found, now)
        if state != stored.territory:
            tx.territory.put(stored.device.device_id, state, now,
                             first=not stored.whereabouts_stored)
        held = tuple(c for c in claims if c.kind is ClaimKind.TERRITORY)
        outcome = territory_outcome(found, state, held, now, in_use)
        assessment = Assessment(presence, found, active.version, outcome, exemptions)
        self._apply(tx, stored.device.device_id, state, assessment, now, locale)
        return assessment

    def _apply(self, tx: Tx, device_id: str, state: TerritoryState, assessment: Assessment,
               now: int, locale: str | None) -> None:
        """Store the outcome: the notice, the claim made, or the claims released."""
        outcome, found = assessment.outcome, assessment.verdict
        if isinstance(outcome, Unchanged):
            return  # the usual check-in: nothing more to write
        context = {"evidence": assessment.presence.explain(),
                   "policy_version": assessment.policy_version}
        if isinstance(outcome, Warn) and found is not None:
            # Queued in the language of the device that reports the presence (or the
            # territory's): the warning is read on this device, before its lock.
            notice = (say(found.notice_phrase.with_values(when=when(outcome.lock_at)),
                          reading_order(locale, found.territory)[0])
                      if found.notice_phrase else found.in_use_message)
            tx.commands.add(device_id, "message", {"message": notice,
                                                   "lock_at": outcome.lock_at}, now)
            tx.territory.put(device_id, warned(state, found, now), now)
            tx.audit.record(f"device:{device_id}", "territory.notice_sent", actor="policy",
                            at=now, rule=found.rule_id, territory=found.territory,
                            lock_at=outcome.lock_at, **context)
        elif isinstance(outcome, LockInUse) and found is not None:
            tx.claims.add(Claim(
                claim_id=secrets.token_hex(16), device_id=device_id, kind=ClaimKind.TERRITORY,
                holder=f"policy:{found.rule_id}", created_at=now, message=found.in_use_message,
                contact=found.contact, territory=found.territory))
            tx.audit.record(f"device:{device_id}", "claim.territory.locked", actor="policy",
                            at=now, rule=found.rule_id, territory=found.territory, **context)
        elif isinstance(outcome, Release):
            for claim in outcome.claims:
                tx.claims.release(claim.claim_id, now, by="policy")
                tx.audit.record(f"device:{device_id}", "claim.territory.released",
                                actor="policy", at=now, claim=claim.claim_id, **context)
