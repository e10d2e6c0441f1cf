"""The order and the completeness of a record's locks (PROTOCOL.md Part 2, "What locks a
device"): locks appear in the order lost, creditor, organization, territory, owner,
whatever order the claims were made in; a record is `locked` exactly when it lists a
lock; the decision's reasons name every claim; a lost device shows its lost lock at
activation and in use, before anything else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain.decide import PRECEDENCE, DecisionInput, decide, in_precedence
from tenure.domain.model import Act, Claim, ClaimKind, Credential, Device, DeviceStatus, Lock
from tenure.domain.policy import Verdict

NOW = 1_763_700_000
COOLDOWN = 72 * 3600
DEVICE = "SN-PREC-1"
OWNER = "acct-owner"


def device(activated: bool) -> Device:
    return Device(DEVICE, "Phone X", "PX-128", "DE", (), NOW - 86400 if activated else None)


@st.composite
def claim_sets(draw: st.DrawFn) -> tuple[Claim, ...]:
    """Claims of every kind, made in any order and at any time (one owner at most)."""
    kinds = draw(st.lists(st.sampled_from(list(ClaimKind)), max_size=6))
    if kinds.count(ClaimKind.OWNER) > 1:
        kinds = [k for k in kinds if k is not ClaimKind.OWNER] + [ClaimKind.OWNER]
    claims = []
    for i, kind in enumerate(kinds):
        claims.append(Claim(
            f"claim-{i}", DEVICE, kind, OWNER if kind in (ClaimKind.OWNER, ClaimKind.LOST)
            else f"holder-{i}", NOW - draw(st.integers(0, 10**6)), holder_hint="a***@e***.com",
            message=f"message {i}", contact="+1 555 0101",
            territory="IR" if kind is ClaimKind.TERRITORY else ""))
    return tuple(claims)


VERDICTS = st.one_of(st.none(), st.builds(
    lambda effect: Verdict(effect=effect, rule_id="sanctions", territory="IR",
                           message="Not here.", contact=""),
    st.sampled_from(["deny_activation", "lock_in_use", "allow"])))


def given_input(claims: tuple[Claim, ...], act: Act, activated: bool,
                signed_in: bool, verdict: Verdict | None) -> DecisionInput:
    return DecisionInput(device=device(activated), act=act, claims=claims, now=NOW,
                         credential_cooldown=COOLDOWN,
                         credential=Credential(OWNER, None) if signed_in else None,
                         verdict=verdict)


ANY_INPUT = dict(claims=claim_sets(), act=st.sampled_from(list(Act)), activated=st.booleans(),
                 signed_in=st.booleans(), verdict=VERDICTS)


@settings(max_examples=300, deadline=None)
@given(**ANY_INPUT)
def test_locks_come_in_the_protocols_order(claims: tuple[Claim, ...], act: Act,
                                           activated: bool, signed_in: bool,
                                           verdict: Verdict | None) -> None:
    decision = decide(given_input(claims, act, activated, signed_in, verdict))
    ranks = [PRECEDENCE.index(lock.kind) for lock in decision.locks]
    assert ranks == sorted(ranks)


@settings(max_examples=300, deadline=None)
@given(**ANY_INPUT)
def test_locked_exactly_when_there_are_locks_and_every_claim_is_reasoned(
        claims: tuple[Claim, ...], act: Act, activated: bool, signed_in: bool,
        verdict: Verdict | None) -> None:
    decision = decide(given_input(claims, act, activated, signed_in, verdict))
    assert (decision.status is DeviceStatus.LOCKED) == bool(decision.locks)
    assert decision.locked == bool(decision.locks)
    for claim in claims:
        assert any(claim.claim_id in reason for reason in decision.reasons), claim


@settings(max_examples=200, deadline=None)
@given(**ANY_INPUT)
def test_a_held_lost_or_territory_claim_always_shows_and_lost_comes_first(
        claims: tuple[Claim, ...], act: Act, activated: bool, signed_in: bool,
        verdict: Verdict | None) -> None:
    """Neither the owner's own sign-in nor being activated lifts them: only their holder."""
    decision = decide(given_input(claims, act, activated, signed_in, verdict))
    kinds = [lock.kind for lock in decision.locks]
    for kind in (ClaimKind.LOST, ClaimKind.TERRITORY):
        assert kinds.count(kind) >= sum(c.kind is kind for c in claims)
    if any(c.kind is ClaimKind.LOST for c in claims):
        assert kinds[0] is ClaimKind.LOST


@given(st.permutations([Lock(kind, f"{kind.value} {i}") for i in range(2)
                        for kind in ClaimKind]))
def test_ordering_is_by_kind_and_stable_within_a_kind(locks: list[Lock]) -> None:
    ordered = in_precedence(locks)
    assert [lock.kind for lock in ordered] == [k for k in PRECEDENCE for _ in range(2)]
    for kind in ClaimKind:
        assert ([lock for lock in ordered if lock.kind is kind]
                == [lock for lock in locks if lock.kind is kind])


def test_a_lost_device_made_lost_before_binding_still_lists_lost_first() -> None:
    """Claims are stored in the order they were made; the record follows the protocol."""
    lost = Claim("c-lost", DEVICE, ClaimKind.LOST, OWNER, NOW - 50, message="Call me",
                 contact="+1 555 0101")
    territory = Claim("c-terr", DEVICE, ClaimKind.TERRITORY, "policy:sanctions", NOW - 100,
                      message="Not here.", territory="IR")
    owner = Claim("c-owner", DEVICE, ClaimKind.OWNER, OWNER, NOW - 200,
                  holder_hint="a***@e***.com")
    decision = decide(given_input((owner, territory, lost), Act.ACTIVATE, False, False, None))
    assert [lock.kind for lock in decision.locks] == [
        ClaimKind.LOST, ClaimKind.TERRITORY, ClaimKind.OWNER]
    assert decision.locks[0].message == "Call me"
    in_use = decide(given_input((owner, territory, lost), Act.USE, True, False, None))
    assert [lock.kind for lock in in_use.locks] == [ClaimKind.LOST, ClaimKind.TERRITORY]
