"""Locking devices in use: travellers get grace, users get notice before a lock.

A device already in someone's hands is locked only after `grace_hours` of continuous
presence where a `lock_in_use` rule applies and, when the rule says so, only
`notice_hours` after its user was warned — even when the rule arrives late. These tests
follow the state a server keeps between check-ins (track → plan_in_use → warned).
"""

from __future__ import annotations

import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain.in_use import (
    LockInUse,
    Release,
    TerritoryState,
    Unchanged,
    Warn,
    plan_in_use,
    territory_outcome,
    track,
    warned,
)
from tenure.domain.model import Claim, ClaimKind, Device
from tenure.domain.policy import Verdict, parse_policy, verdict
from tenure.domain.territory import Presence
from tenure.geo.territories import normalise_territory

T0 = 1_763_700_000
HOUR = 3600
PHONE = Device("SN-1", "TP1", "TP1-64", "eu")


def restriction(effect: str = "lock_in_use", grace: float = 72, notice: float = 0,
                rule_id: str = "sanctions", territory: str = "IR") -> Verdict:
    """The verdict a real policy gives for PHONE in `territory`."""
    hours = f"grace_hours = {grace}\nnotice_hours = {notice}\n" if effect == "lock_in_use" else ""
    text = (f'[[rules]]\nid = "{rule_id}"\neffect = "{effect}"\n'
            f'territories = ["{territory}"]\n{hours}')
    policy = parse_policy(tomllib.loads(text), normalise_territory)
    found = verdict(policy, PHONE, Presence((territory,), "corroborated", ()))
    assert found is not None
    return found


def present(*territories: str) -> Presence:
    return Presence(tuple(territories), "corroborated", ())


def staying(since: int = T0, territory: str = "IR") -> TerritoryState:
    return TerritoryState(territory=territory, since=since)


# -- grace -------------------------------------------------------------------------------


def test_no_lock_before_grace_has_passed() -> None:
    """A traveller passing through is not locked."""
    plan = plan_in_use(restriction(grace=72), staying(), T0 + 72 * HOUR - 1)
    assert not plan.lock and not plan.warn
    assert plan.lock_at == T0 + 72 * HOUR


def test_lock_once_grace_has_passed_without_notice() -> None:
    plan = plan_in_use(restriction(grace=72), staying(), T0 + 72 * HOUR)
    assert plan.lock and not plan.warn
    assert plan.lock_at == T0 + 72 * HOUR


def test_zero_grace_locks_at_once() -> None:
    assert plan_in_use(restriction(grace=0), staying(), T0).lock


def test_fractional_grace_hours() -> None:
    rule = restriction(grace=0.5)
    assert not plan_in_use(rule, staying(), T0 + 1799).lock
    assert plan_in_use(rule, staying(), T0 + 1800).lock


# -- notice ------------------------------------------------------------------------------


def test_warning_comes_notice_hours_before_the_lock() -> None:
    rule = restriction(grace=72, notice=24)
    early = plan_in_use(rule, staying(), T0 + 48 * HOUR - 1)
    assert not early.warn and not early.lock
    due_notice = plan_in_use(rule, staying(), T0 + 48 * HOUR)
    assert due_notice.warn and not due_notice.lock
    assert due_notice.lock_at == T0 + 72 * HOUR


def test_after_the_warning_the_lock_comes_when_due() -> None:
    rule = restriction(grace=72, notice=24)
    state = warned(staying(), rule, T0 + 48 * HOUR)
    before = plan_in_use(rule, state, T0 + 72 * HOUR - 1)
    assert not before.lock and not before.warn  # warned once, not again
    assert plan_in_use(rule, state, T0 + 72 * HOUR).lock


def test_without_a_warning_there_is_no_lock_even_long_after_grace() -> None:
    rule = restriction(grace=72, notice=24)
    plan = plan_in_use(rule, staying(), T0 + 30 * 24 * HOUR)
    assert plan.warn and not plan.lock


def test_a_rule_applied_late_still_gives_full_notice() -> None:
    """A device that has been there for 100 h when the rule arrives is warned, then locked
    24 h later — not at once because its grace ran out before anyone told it."""
    rule = restriction(grace=72, notice=24)
    now = T0 + 100 * HOUR
    first = plan_in_use(rule, staying(), now)
    assert first.warn and not first.lock
    assert first.lock_at == now + 24 * HOUR
    state = warned(staying(), rule, now)
    assert not plan_in_use(rule, state, now + 24 * HOUR - 1).lock
    assert plan_in_use(rule, state, now + 24 * HOUR).lock


def test_warned_state_is_per_rule() -> None:
    """A warning sent under another rule (say, before the policy changed) is no notice for
    this one: the user is warned again and gets the full notice."""
    rule = restriction(grace=72, notice=24, rule_id="sanctions-2027")
    old = warned(staying(), restriction(grace=72, notice=24, rule_id="sanctions"), T0 + 48 * HOUR)
    now = T0 + 80 * HOUR
    plan = plan_in_use(rule, old, now)
    assert plan.warn and not plan.lock
    assert plan.lock_at == now + 24 * HOUR


def test_warned_records_when_and_under_which_rule() -> None:
    rule = restriction(grace=72, notice=24)
    state = warned(staying(), rule, T0 + 50 * HOUR)
    assert (state.territory, state.since) == ("IR", T0)
    assert (state.warned_at, state.warned_rule) == (T0 + 50 * HOUR, "sanctions")


# -- what never locks --------------------------------------------------------------------


def test_deny_activation_never_locks_a_device_in_use() -> None:
    rule = restriction(effect="deny_activation")
    plan = plan_in_use(rule, staying(), T0 + 365 * 24 * HOUR)
    assert not plan.lock and not plan.warn and plan.lock_at is None


def test_no_restriction_no_lock() -> None:
    plan = plan_in_use(None, staying(), T0 + 365 * 24 * HOUR)
    assert not plan.lock and not plan.warn


def test_no_current_presence_no_lock() -> None:
    plan = plan_in_use(restriction(grace=0), TerritoryState(territory="IR"), T0)
    assert not plan.lock and not plan.warn


# -- tracking presence -------------------------------------------------------------------


def test_first_sighting_starts_the_stay() -> None:
    rule = restriction()
    assert track(TerritoryState(), present("IR"), rule, T0) == staying(T0)


def test_staying_keeps_the_start_and_the_warning() -> None:
    rule = restriction(notice=24)
    state = warned(staying(), rule, T0 + 48 * HOUR)
    assert track(state, present("IR"), rule, T0 + 60 * HOUR) == state


def test_leaving_the_territory_resets_since_and_warnings() -> None:
    rule = restriction(notice=24)
    state = warned(staying(), rule, T0 + 48 * HOUR)
    now = T0 + 60 * HOUR
    moved = track(state, present("DE"), None, now)
    assert moved == TerritoryState(territory="DE", since=now)
    back = track(moved, present("IR"), rule, now + HOUR)
    assert back == TerritoryState(territory="IR", since=now + HOUR)
    assert not plan_in_use(rule, back, now + HOUR + 71 * HOUR).lock


def test_evidence_fading_clears_since_but_keeps_the_last_territory() -> None:
    """The dry-run reports by last known territory; the grace clock needs presence now."""
    rule = restriction(grace=72)
    faded = track(staying(), present(), None, T0 + 10 * HOUR)
    assert faded == TerritoryState(territory="IR", since=None)
    assert not plan_in_use(rule, faded, T0 + 100 * HOUR).lock
    again = track(faded, present("IR"), rule, T0 + 100 * HOUR)
    assert again == TerritoryState(territory="IR", since=T0 + 100 * HOUR)
    assert not plan_in_use(rule, again, T0 + 100 * HOUR).lock


def test_the_tracked_territory_is_the_restricted_one() -> None:
    """In two places at once (`any` evidence), the stay that counts is where the rule is."""
    rule = restriction(territory="IR")
    assert track(TerritoryState(), present("DE", "IR"), rule, T0).territory == "IR"
    assert track(TerritoryState(), present("DE", "IR"), None, T0).territory == "DE"


def test_a_traveller_who_keeps_leaving_is_never_locked() -> None:
    """Two days in, one day out, two days in: never 72 h of continuous presence."""
    rule = restriction(grace=72)
    state = TerritoryState()
    for hour in range(0, 24 * 8, 6):
        inside = (hour // 24) % 3 != 2
        state = track(state, present("IR" if inside else "TR"), rule if inside else None,
                      T0 + hour * HOUR)
        assert not plan_in_use(rule if inside else None, state, T0 + hour * HOUR).lock


# -- property: a check-in loop never locks early -----------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    grace=st.integers(min_value=0, max_value=100),
    notice=st.integers(min_value=0, max_value=50),
    gaps=st.lists(st.integers(min_value=1, max_value=40 * HOUR), min_size=1, max_size=30),
    inside=st.lists(st.booleans(), min_size=30, max_size=30),
)
def test_checkins_never_lock_before_grace_and_notice(
    grace: int, notice: int, gaps: list[int], inside: list[bool]
) -> None:
    rule = restriction(grace=grace, notice=notice)
    state = TerritoryState()
    now = T0
    warned_at: int | None = None
    for gap, here in zip(gaps, inside, strict=False):
        now += gap
        found = rule if here else None
        state = track(state, present("IR" if here else "DE"), found, now)
        plan = plan_in_use(found, state, now)
        if plan.warn:
            assert found is not None
            state = warned(state, found, now)
            warned_at = now
        if plan.lock:
            assert state.since is not None
            assert now >= state.since + grace * HOUR
            if notice:
                assert warned_at is not None and state.warned_at == warned_at
                assert now >= warned_at + notice * HOUR
            return
        if not here:
            warned_at = None


# -- one outcome per request ----------------------------------------------------------------


def territory_claim() -> Claim:
    return Claim("c1", "SN-1", ClaimKind.TERRITORY, "policy:sanctions", T0, territory="IR")


def test_outcome_is_a_warning_when_the_notice_is_due() -> None:
    found = restriction(grace=72, notice=24)
    now = T0 + 48 * HOUR
    assert territory_outcome(found, staying(), (), now, in_use=True) == Warn(T0 + 72 * HOUR)


def test_outcome_locks_once_grace_is_over_and_not_twice() -> None:
    found = restriction(grace=72)
    now = T0 + 72 * HOUR
    assert territory_outcome(found, staying(), (), now, in_use=True) == LockInUse()
    held = (territory_claim(),)
    assert territory_outcome(found, staying(), held, now, in_use=True) == Unchanged()


def test_outcome_releases_a_lock_the_policy_no_longer_backs() -> None:
    held = (territory_claim(),)
    assert territory_outcome(None, staying(), held, T0, in_use=True) == Release(held)
    deny = restriction(effect="deny_activation")
    assert territory_outcome(deny, staying(), held, T0, in_use=False) == Release(held)


def test_activation_neither_warns_nor_locks_in_use() -> None:
    found = restriction(grace=0)
    assert territory_outcome(found, staying(), (), T0 + HOUR, in_use=False) == Unchanged()
