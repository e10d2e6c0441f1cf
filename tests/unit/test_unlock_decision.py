"""decide_unlock(): may this owner unlock this device's bootloader now?

An owner sees the decision as a grant with an expiry, or a refusal that says why and,
when waiting helps, from when (`retry_after`). A wrong grant hands a thief an unlocked
bootloader; a wrong `retry_after` sends an owner back on a day that is refused again.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain.model import Claim, ClaimKind
from tenure.domain.unlock import (
    BLOCKING,
    UnlockDecision,
    UnlockInput,
    UnlockRules,
    decide_unlock,
    eligible_from,
    quota_left,
)

HOUR, DAY = 3600, 86400
NOW = 1_763_700_000
OWNER = "acct-owner"
OTHER = "acct-other"
DEVICE = "SN-0001"
RULES = UnlockRules(wait_seconds=168 * HOUR, quota=1, quota_seconds=365 * DAY,
                    valid_seconds=14 * DAY)
BOUND_LONG_AGO = NOW - 30 * DAY

# What a refusal for each blocking claim must name, in words the owner understands.
NAMED = {
    ClaimKind.LOST: "reported lost",
    ClaimKind.CREDITOR: "financing company",
    ClaimKind.ORGANIZATION: "managed by an organization",
    ClaimKind.TERRITORY: "territory policy",
}


def owner(holder: str = OWNER, since: int = BOUND_LONG_AGO) -> Claim:
    return Claim("claim-owner", DEVICE, ClaimKind.OWNER, holder, since, holder_hint="a***@e***.com")


def blocking(kind: ClaimKind, since: int = NOW - HOUR) -> Claim:
    return Claim(f"claim-{kind.value}", DEVICE, kind, f"holder-{kind.value}", since,
                 message=f"{kind.value} message")


def ask(*claims: Claim, grants: tuple[tuple[str, int], ...] = (), now: int = NOW,
        rules: UnlockRules = RULES, account: str = OWNER, device: str = DEVICE
        ) -> UnlockInput:
    return UnlockInput(account_id=account, claims=claims, granted_devices=grants,
                       device_id=device, now=now, rules=rules)


def decide(*claims: Claim, **kwargs: object) -> UnlockDecision:
    return decide_unlock(ask(*claims, **kwargs))  # type: ignore[arg-type]


def test_every_blocking_kind_is_named_by_the_tests() -> None:
    """Guards the table below: a new blocking kind must get its own refusal test."""
    assert set(BLOCKING) == set(NAMED)
    assert ClaimKind.OWNER not in BLOCKING


# ------------------------------------------------------------------------------ binding


def test_an_unbound_device_is_refused_without_retry() -> None:
    """Nobody holds the device: waiting will not help, so no retry_after."""
    decision = decide()
    assert not decision.allowed
    assert "not bound to your account" in decision.reason
    assert decision.retry_after is None and decision.expires_at is None


def test_a_device_bound_to_another_account_is_refused() -> None:
    """A thief's (or a buyer's) account must never unlock someone else's device."""
    decision = decide(owner(holder=OTHER))
    assert not decision.allowed
    assert "not bound to your account" in decision.reason
    assert decision.retry_after is None


def test_a_device_bound_to_another_account_is_refused_even_if_it_has_granted_before() -> None:
    """The other account's age of binding must not leak into this account's decision."""
    decision = decide(owner(holder=OTHER, since=NOW - 400 * DAY), account=OWNER,
                      grants=((DEVICE, NOW - DAY),))
    assert not decision.allowed and "not bound" in decision.reason


# ------------------------------------------------------------------------------ claims


@pytest.mark.parametrize("kind", sorted(BLOCKING, key=str))
def test_each_blocking_claim_refuses_and_names_itself(kind: ClaimKind) -> None:
    """Lost, financed, managed or territory-locked devices stay locked, whatever the wait."""
    decision = decide(owner(), blocking(kind))
    assert not decision.allowed
    assert NAMED[kind] in decision.reason
    for other in set(NAMED) - {kind}:
        assert NAMED[other] not in decision.reason
    assert decision.retry_after is None  # waiting does not lift someone else's claim


def test_several_blocking_claims_are_all_named() -> None:
    """The owner learns every reason at once, not one per attempt."""
    decision = decide(owner(), blocking(ClaimKind.LOST), blocking(ClaimKind.CREDITOR),
                      blocking(ClaimKind.TERRITORY))
    assert not decision.allowed
    for kind in (ClaimKind.LOST, ClaimKind.CREDITOR, ClaimKind.TERRITORY):
        assert NAMED[kind] in decision.reason
    assert NAMED[ClaimKind.ORGANIZATION] not in decision.reason


def test_a_blocking_claim_wins_over_the_waiting_period() -> None:
    """A freshly bound lost device must not be told it will unlock after the wait."""
    decision = decide(owner(since=NOW - HOUR), blocking(ClaimKind.LOST))
    assert not decision.allowed
    assert NAMED[ClaimKind.LOST] in decision.reason
    assert decision.retry_after is None


# ------------------------------------------------------------------------------ waiting


def test_before_the_waiting_period_retry_after_is_binding_plus_wait() -> None:
    bound = NOW - 10 * HOUR
    decision = decide(owner(since=bound))
    assert not decision.allowed
    assert "168 hours" in decision.reason
    assert decision.retry_after == bound + 168 * HOUR
    assert decision.retry_after == eligible_from(bound, RULES)


def test_one_second_before_the_boundary_is_still_refused() -> None:
    bound = NOW - 168 * HOUR + 1
    decision = decide(owner(since=bound))
    assert not decision.allowed
    assert decision.retry_after == NOW + 1


def test_at_the_boundary_it_is_granted() -> None:
    """retry_after is a promise: asking exactly then must succeed."""
    bound = NOW - 168 * HOUR
    decision = decide(owner(since=bound))
    assert decision.allowed
    assert decision.expires_at == NOW + 14 * DAY


def test_after_the_wait_it_is_granted_for_the_valid_window() -> None:
    rules = UnlockRules(wait_seconds=HOUR, quota=1, quota_seconds=DAY, valid_seconds=3 * DAY)
    decision = decide(owner(since=NOW - 2 * HOUR), rules=rules)
    assert decision == UnlockDecision(True, "granted", expires_at=NOW + 3 * DAY)
    assert decision.retry_after is None


def test_retry_after_from_a_refusal_is_granted_when_reached() -> None:
    bound = NOW - 5 * DAY
    first = decide(owner(since=bound))
    assert first.retry_after is not None
    assert decide(owner(since=bound), now=first.retry_after).allowed


def test_eligible_from_is_binding_plus_wait() -> None:
    rules = UnlockRules(wait_seconds=1440 * HOUR, quota=1, quota_seconds=DAY, valid_seconds=DAY)
    assert eligible_from(1_000, rules) == 1_000 + 1440 * HOUR


# ------------------------------------------------------------------------------ quota


def test_a_grant_for_another_device_uses_the_quota() -> None:
    """One device per account per year: the second device waits for the first grant to age."""
    granted = NOW - 100 * DAY
    decision = decide(owner(), grants=(("SN-OTHER", granted),))
    assert not decision.allowed
    assert "quota" in decision.reason
    assert decision.retry_after == granted + 365 * DAY


def test_retry_after_is_the_oldest_grant_plus_the_period() -> None:
    rules = UnlockRules(wait_seconds=0, quota=2, quota_seconds=365 * DAY, valid_seconds=DAY)
    oldest, newer = NOW - 300 * DAY, NOW - 10 * DAY
    decision = decide(owner(), grants=(("SN-B", newer), ("SN-A", oldest)), rules=rules)
    assert not decision.allowed
    assert decision.retry_after == oldest + 365 * DAY
    assert decide(owner(), grants=(("SN-B", newer), ("SN-A", oldest)), rules=rules,
                  now=oldest + 365 * DAY).allowed


def test_several_grants_of_one_device_count_once_from_the_first() -> None:
    """Unlocking the same phone twice is one device of the quota, freed a year after the
    first grant."""
    first, second = NOW - 200 * DAY, NOW - 5 * DAY
    given = ask(owner(), grants=(("SN-A", second), ("SN-A", first)))
    assert quota_left(given) == (0, first + 365 * DAY)


def test_a_grant_for_this_device_does_not_use_quota() -> None:
    """Re-unlocking a phone already unlocked (new boot, new token) must not be refused."""
    decision = decide(owner(), grants=((DEVICE, NOW - DAY),))
    assert decision.allowed
    assert quota_left(ask(owner(), grants=((DEVICE, NOW - DAY),))) == (1, None)


def test_grants_older_than_the_period_do_not_count() -> None:
    decision = decide(owner(), grants=(("SN-OLD", NOW - 365 * DAY), ("SN-OLDER", NOW - 400 * DAY)))
    assert decision.allowed
    assert quota_left(ask(owner(), grants=(("SN-OLD", NOW - 365 * DAY),))) == (1, None)


def test_a_grant_one_second_inside_the_period_counts() -> None:
    decision = decide(owner(), grants=(("SN-A", NOW - 365 * DAY + 1),))
    assert not decision.allowed
    assert decision.retry_after == NOW + 1


def test_quota_two_allows_a_second_device_but_not_a_third() -> None:
    rules = UnlockRules(wait_seconds=168 * HOUR, quota=2, quota_seconds=365 * DAY,
                        valid_seconds=14 * DAY)
    one = (("SN-A", NOW - DAY),)
    assert decide(owner(), grants=one, rules=rules).allowed
    assert quota_left(ask(owner(), grants=one, rules=rules))[0] == 1
    two = (*one, ("SN-B", NOW - HOUR))
    refused = decide(owner(), grants=two, rules=rules)
    assert not refused.allowed and "2 device(s)" in refused.reason
    assert refused.retry_after == NOW - DAY + 365 * DAY


def test_quota_left_never_goes_negative() -> None:
    grants = tuple((f"SN-{i}", NOW - i * DAY - 1) for i in range(3))
    left, frees_at = quota_left(ask(owner(), grants=grants))
    assert left == 0 and frees_at is not None


def test_a_quota_of_zero_refuses_without_a_time_to_retry() -> None:
    """TENURE_UNLOCK_QUOTA=0 switches unlocking off; with an earlier grant on the account
    this used to index past the grants (an IndexError, a 500 on POST /v1/unlocks)."""
    rules = UnlockRules(wait_seconds=0, quota=0, quota_seconds=DAY, valid_seconds=DAY)
    given = ask(owner(), grants=(("SN-A", NOW - HOUR),), rules=rules)
    assert quota_left(given) == (0, None)
    decision = decide_unlock(given)
    assert not decision.allowed and decision.retry_after is None


def test_retry_after_covers_the_quota_when_both_wait_and_quota_block() -> None:
    """Bound yesterday, quota used last month: the first moment it can be granted is when
    the quota frees, and retry_after must say so (it is 'from when it may be granted')."""
    bound, granted = NOW - DAY, NOW - 30 * DAY
    decision = decide(owner(since=bound), grants=(("SN-OTHER", granted),))
    assert not decision.allowed
    assert decision.retry_after is not None
    assert decide(owner(since=bound), grants=(("SN-OTHER", granted),),
                  now=decision.retry_after).allowed


def test_retry_after_is_honoured_when_the_account_is_over_its_quota() -> None:
    """Three devices unlocked under an earlier quota of 3; the operator lowers it to 1.
    A place frees only when two of the three grants have aged out."""
    grants = (("SN-A", NOW - 300 * DAY), ("SN-B", NOW - 200 * DAY), ("SN-C", NOW - 100 * DAY))
    decision = decide(owner(), grants=grants)
    assert not decision.allowed and decision.retry_after is not None
    assert decide(owner(), grants=grants, now=decision.retry_after).allowed


# ------------------------------------------------------------------------------ property

kinds = st.sampled_from(list(ClaimKind))
accounts = st.sampled_from([OWNER, OTHER])
times = st.integers(min_value=NOW - 800 * DAY, max_value=NOW)


@st.composite
def claim_sets(draw: st.DrawFn) -> tuple[Claim, ...]:
    out = []
    if draw(st.booleans()):
        out.append(owner(holder=draw(accounts), since=draw(times)))
    for kind in draw(st.lists(st.sampled_from(sorted(BLOCKING, key=str)), max_size=3,
                              unique=True)):
        out.append(blocking(kind, since=draw(times)))
    return tuple(draw(st.permutations(out)))


@st.composite
def rule_sets(draw: st.DrawFn) -> UnlockRules:
    return UnlockRules(wait_seconds=draw(st.integers(0, 1440)) * HOUR,
                       quota=draw(st.integers(0, 3)),
                       quota_seconds=draw(st.integers(1, 400)) * DAY,
                       valid_seconds=draw(st.integers(1, 30)) * DAY)


grant_lists = st.lists(
    st.tuples(st.sampled_from([DEVICE, "SN-A", "SN-B", "SN-C"]), times), max_size=5)


@settings(max_examples=300, deadline=None)
@given(claims=claim_sets(), rules=rule_sets(), grants=grant_lists,
       now=st.integers(NOW, NOW + 400 * DAY))
def test_a_grant_implies_every_rule_holds(claims: tuple[Claim, ...], rules: UnlockRules,
                                          grants: list[tuple[str, int]], now: int) -> None:
    """Whatever the claims, rules and history: granted only to the bound owner, with no
    blocking claim, after the wait, within quota; and a refusal's retry_after is future."""
    given_ = ask(*claims, grants=tuple(grants), now=now, rules=rules)
    decision = decide_unlock(given_)
    bound = [c for c in claims if c.kind is ClaimKind.OWNER]
    if decision.allowed:
        assert len(bound) == 1 and bound[0].holder == OWNER
        assert not any(c.kind in BLOCKING for c in claims)
        assert now >= eligible_from(bound[0].created_at, rules)
        assert quota_left(given_)[0] > 0
        assert decision.expires_at == now + rules.valid_seconds
        assert decision.retry_after is None
    else:
        assert decision.reason and decision.expires_at is None
        if decision.retry_after is not None:
            assert decision.retry_after > now


def test_a_quota_of_zero_refuses_without_a_retry_time() -> None:
    """TENURE_UNLOCK_QUOTA=0 switches unlocks off; with an earlier grant on record the
    quota computation indexed past its list (found by the property test below)."""
    rules = UnlockRules(wait_seconds=0, quota=0, quota_seconds=365 * DAY, valid_seconds=DAY)
    refused = decide(owner(), grants=(("SN-A", NOW - DAY),), rules=rules)
    assert not refused.allowed and refused.retry_after is None
    assert "0 device(s)" in refused.reason
