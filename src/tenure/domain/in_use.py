"""Locking devices in use: grace for travellers, notice before the lock, release after.

A device is locked in use only after `grace_hours` of continuous corroborated presence
in a territory where a `lock_in_use` rule applies, and — when the rule sets
`notice_hours` — no sooner than `notice_hours` after it was warned. Presence resets
when the device is seen elsewhere or the evidence no longer places it anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .model import Claim
from .policy import Verdict
from .territory import Presence


@dataclass(frozen=True, slots=True)
class TerritoryState:
    """What the server remembers of a device's whereabouts between check-ins."""

    territory: str | None = None  # last corroborated territory (kept when evidence fades)
    since: int | None = None  # start of continuous presence there; None: not present now
    warned_at: int | None = None  # when the lock notice was sent for the current stay
    warned_rule: str | None = None


def track(state: TerritoryState, presence: Presence, verdict: Verdict | None,
          now: int) -> TerritoryState:
    here = verdict.territory if verdict else (presence.territories or (None,))[0]
    if here is None:
        return TerritoryState(territory=state.territory)
    if here == state.territory and state.since is not None:
        return state
    return TerritoryState(territory=here, since=now)


@dataclass(frozen=True, slots=True)
class InUsePlan:
    lock: bool
    warn: bool
    lock_at: int | None


def plan_in_use(verdict: Verdict | None, state: TerritoryState, now: int) -> InUsePlan:
    if verdict is None or verdict.effect != "lock_in_use" or state.since is None:
        return InUsePlan(False, False, None)
    due = state.since + int(verdict.grace_hours * 3600)
    notice = int(verdict.notice_hours * 3600)
    if notice <= 0:
        return InUsePlan(now >= due, False, due)
    warned = state.warned_at if state.warned_rule == verdict.rule_id else None
    if warned is None:
        if now >= due - notice:
            return InUsePlan(False, True, max(due, now + notice))
        return InUsePlan(False, False, due)
    lock_at = max(due, warned + notice)
    return InUsePlan(now >= lock_at, False, lock_at)


def warned(state: TerritoryState, verdict: Verdict, now: int) -> TerritoryState:
    return replace(state, warned_at=now, warned_rule=verdict.rule_id)


# -- what follows for the device: exactly one outcome per request ---------------------------

@dataclass(frozen=True, slots=True)
class Unchanged:
    """Nothing to store beyond the whereabouts."""


@dataclass(frozen=True, slots=True)
class Warn:
    """Send the lock notice now; the lock follows at `lock_at` unless the device leaves."""

    lock_at: int


@dataclass(frozen=True, slots=True)
class LockInUse:
    """Make a territory claim: the grace (and notice) have run out."""


@dataclass(frozen=True, slots=True)
class Release:
    """Release the territory claims held: the rule no longer locks the device here."""

    claims: tuple[Claim, ...]


TerritoryOutcome = Unchanged | Warn | LockInUse | Release


def territory_outcome(verdict: Verdict | None, state: TerritoryState,
                      held: tuple[Claim, ...], now: int, in_use: bool) -> TerritoryOutcome:
    """What the verdict does to a device holding the territory claims `held`, given its
    whereabouts `state` (after this request). At activation (`in_use` False) the verdict
    refuses by itself, so only a stale lock is released. A warning and a release cannot
    coincide (one needs a `lock_in_use` rule, the other its absence), nor a warning and a
    lock (plan_in_use gives one or the other)."""
    locking = verdict is not None and verdict.effect == "lock_in_use"
    if held and not locking:
        return Release(held)
    if not in_use:
        return Unchanged()
    plan = plan_in_use(verdict, state, now)
    if plan.warn:
        return Warn(plan.lock_at if plan.lock_at is not None else now)
    if plan.lock and not held:
        return LockInUse()
    return Unchanged()
