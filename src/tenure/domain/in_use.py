"""Locking devices in use: grace for travellers, notice before the lock, release after.

A device is locked in use only after `grace_hours` of continuous corroborated presence
in a territory where a `lock_in_use` rule applies, and — when the rule sets
`notice_hours` — no sooner than `notice_hours` after it was warned. Presence resets
when the device is seen elsewhere or the evidence no longer places it anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
