"""Where is the device? Territory evidence combined into presence, explainably.

Each source (the request's IP, the SIM MCCs, the device's GNSS fix) reports a
territory — an ISO 3166-1 country like `UA` or an ISO 3166-2 subdivision like `UA-43`
— or nothing. "Unknown" is never "restricted".

A source is *relevant* to a territory T when it reports at T's precision: any report
speaks to a country (compared at country level), but only subdivision-precise reports
speak to a subdivision (a SIM's MCC says `UA`, which cannot tell Crimea from Kyiv). A
source *agrees* with T when its report lies within T.

- mode `any`: the device is present in T when one relevant source agrees.
- mode `corroborated` (default): when two independent sources agree, or when exactly
  one relevant source exists and it agrees. A VPN that moves only the IP to a
  restricted country is outvoted by the SIM and GNSS that disagree.

Either way, a device is in a subdivision only if it is also in that subdivision's
country by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import TerritoryEvidence

MODES = ("any", "corroborated")


def country_of(code: str) -> str:
    return code.split("-", 1)[0]


def is_subdivision(code: str) -> bool:
    return "-" in code


def is_within(code: str, territory: str) -> bool:
    """`UA-43` is within `UA` and within itself; `UA` is not within `UA-43`."""
    return code == territory or (not is_subdivision(territory) and country_of(code) == territory)


@dataclass(frozen=True, slots=True)
class Presence:
    """The territories the device is taken to be in, finest first, and why."""

    territories: tuple[str, ...]
    mode: str
    evidence: tuple[tuple[str, str], ...]

    def explain(self) -> list[str]:
        return [f"{source}:{territory}" for source, territory in self.evidence]


def _reports(evidence: TerritoryEvidence) -> dict[str, set[str]]:
    """Territories per source; a source may report several (two SIMs)."""
    found: dict[str, set[str]] = {}
    for source, territory in evidence.sources:
        if territory:
            found.setdefault(source.split(":", 1)[0], set()).add(territory)
    return found


def present_in(territory: str, evidence: TerritoryEvidence, mode: str) -> bool:
    reports = _reports(evidence)
    needs_subdivision = is_subdivision(territory)
    # A subdivision is only as credible as the country around it: an IP in Crimea is
    # no evidence of Crimea when the SIM and GNSS both say Germany.
    if needs_subdivision and not present_in(country_of(territory), evidence, mode):
        return False
    relevant = {
        source for source, codes in reports.items()
        if not needs_subdivision or any(is_subdivision(c) for c in codes)
    }
    agreeing = {
        source for source in relevant if any(is_within(c, territory) for c in reports[source])
    }
    if mode == "any":
        return bool(agreeing)
    return len(agreeing) >= 2 or (len(relevant) == 1 and len(agreeing) == 1)


def locate(evidence: TerritoryEvidence, mode: str = "corroborated") -> Presence:
    """Every territory (countries and subdivisions) the evidence places the device in,
    keeping only the finest: `UA-43` makes `UA` redundant."""
    candidates: set[str] = set()
    for _, territory in evidence.sources:
        if territory:
            candidates.update({territory, country_of(territory)})
    present = {t for t in candidates if present_in(t, evidence, mode)}
    finest = {t for t in present if not any(o != t and is_within(o, t) for o in present)}
    ordered = tuple(sorted(finest, key=lambda t: (not is_subdivision(t), t)))
    return Presence(ordered, mode, tuple(sorted(evidence.sources)))
