"""decide(): the one pure function that says whether a device may activate or be used.

What a user sees is the decision's status and its locks (the lock screen), so the
tests assert those, plus the reasons an operator reads in the audit log.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain.creditor import Loan, LoanState
from tenure.domain.decide import DecisionInput, decide, organization_message
from tenure.domain.model import (
    Act,
    Claim,
    ClaimKind,
    Credential,
    Decision,
    Device,
    DeviceStatus,
)

NOW = 1_763_700_000
HOUR = 3600
COOLDOWN = 72 * HOUR
OWNER = "acct-owner"
OTHER = "acct-other"
HINT = "a***@e***.com"
DEVICE_ID = "SN-0001"


def make_device(activated_at: int | None = None) -> Device:
    return Device(DEVICE_ID, "Phone X", "PX-128", "DE", ("490154203237518",), activated_at)


def owner_claim(holder: str = OWNER, claim_id: str = "claim-owner") -> Claim:
    return Claim(claim_id, DEVICE_ID, ClaimKind.OWNER, holder, NOW - 30 * 24 * HOUR,
                 holder_hint=HINT)


def lost_claim(claim_id: str = "claim-lost", message: str = "", contact: str = "") -> Claim:
    return Claim(claim_id, DEVICE_ID, ClaimKind.LOST, OWNER, NOW - HOUR,
                 message=message, contact=contact)


def run(
    claims: tuple[Claim, ...] = (),
    credential: Credential | None = None,
    act: Act = Act.ACTIVATE,
    activated_at: int | None = None,
    now: int = NOW,
    cooldown: int = COOLDOWN,
) -> Decision:
    return decide(DecisionInput(
        device=make_device(activated_at), act=act, claims=claims, now=now,
        credential_cooldown=cooldown, credential=credential,
    ))


# -- examples ------------------------------------------------------------------------------

def test_device_without_claims_activates() -> None:
    """A new or released device must set up freely, with a reason for the audit log."""
    decision = run()
    assert decision.status is DeviceStatus.ACTIVATED
    assert not decision.locked
    assert decision.locks == ()
    assert decision.reasons and all(decision.reasons)


def test_owner_claim_blocks_activation_without_credential() -> None:
    """After a reset, nobody sets the device up without signing in (the activation lock)."""
    decision = run((owner_claim(),))
    assert decision.status is DeviceStatus.LOCKED
    assert len(decision.locks) == 1
    lock = decision.locks[0]
    assert lock.kind is ClaimKind.OWNER
    assert lock.message
    assert lock.hint == HINT  # the masked account, so the rightful owner recognises it
    assert lock.until is None  # no waiting helps: a credential is required


def test_owner_claim_blocks_credential_of_another_account() -> None:
    """A thief signing in with their own account does not lift the owner's lock."""
    decision = run((owner_claim(),), Credential(OTHER, password_changed_at=None))
    assert decision.status is DeviceStatus.LOCKED
    assert [lock.kind for lock in decision.locks] == [ClaimKind.OWNER]
    assert decision.cleared == ()


def test_bound_accounts_credential_satisfies_owner_claim() -> None:
    """The owner signing in after a reset gets their device back."""
    claim = owner_claim()
    decision = run((claim,), Credential(OWNER, password_changed_at=NOW - 100 * 24 * HOUR))
    assert decision.status is DeviceStatus.ACTIVATED
    assert decision.locks == ()
    assert decision.cleared == (claim.claim_id,)


def test_password_never_changed_is_accepted() -> None:
    """`password_changed_at=None` means never changed: no cool-down applies."""
    decision = run((owner_claim(),), Credential(OWNER, password_changed_at=None))
    assert decision.status is DeviceStatus.ACTIVATED


def test_password_changed_within_cooldown_keeps_lock_with_until() -> None:
    """A freshly reset password (maybe by a thief with the mailbox) must wait out the cool-down."""
    changed_at = NOW - 5 * HOUR
    decision = run((owner_claim(),), Credential(OWNER, password_changed_at=changed_at))
    assert decision.status is DeviceStatus.LOCKED
    (lock,) = decision.locks
    assert lock.kind is ClaimKind.OWNER
    assert lock.until == changed_at + COOLDOWN
    assert "password" in lock.message.lower()  # tells the owner why signing in did not help
    assert lock.hint == HINT
    assert decision.cleared == ()


@pytest.mark.parametrize(
    ("offset", "locked"),
    [(-1, True), (0, False), (1, False)],
    ids=["one-second-before", "exactly-at", "one-second-after"],
)
def test_cooldown_boundary(offset: int, locked: bool) -> None:
    """`until` is the first second the credential is accepted, as the protocol promises."""
    changed_at = NOW - COOLDOWN - offset
    decision = run((owner_claim(),), Credential(OWNER, password_changed_at=changed_at))
    assert decision.locked is locked
    if locked:
        assert decision.locks[0].until == NOW + 1


def test_use_of_activated_device_is_not_blocked_by_owner_claim() -> None:
    """The owner's own claim must not lock them out of a device they are using."""
    decision = run((owner_claim(),), act=Act.USE, activated_at=NOW - 24 * HOUR)
    assert decision.status is DeviceStatus.ACTIVATED
    assert decision.locks == ()


def test_use_of_reset_device_is_blocked_by_owner_claim() -> None:
    """A device whose activation was refused (reset, no credential) stays locked at check-in."""
    decision = run((owner_claim(),), act=Act.USE, activated_at=None)
    assert decision.status is DeviceStatus.LOCKED
    assert [lock.kind for lock in decision.locks] == [ClaimKind.OWNER]


@pytest.mark.parametrize(("act", "activated_at"),
                         [(Act.ACTIVATE, None), (Act.USE, NOW - HOUR), (Act.USE, None)])
def test_lost_claim_blocks_every_act(act: Act, activated_at: int | None) -> None:
    """A device reported lost shows the owner's message even to the owner's own credential."""
    decision = run((lost_claim(),), Credential(OWNER, None), act=act, activated_at=activated_at)
    assert decision.status is DeviceStatus.LOCKED
    (lock,) = decision.locks
    assert lock.kind is ClaimKind.LOST
    assert lock.message  # a default text when the owner wrote none


def test_lost_claim_shows_owners_message_and_contact() -> None:
    """Whoever finds the device must see how to return it."""
    claim = lost_claim(message="Please return me", contact="+49 30 1234567")
    (lock,) = run((claim,)).locks
    assert lock.message == "Please return me"
    assert lock.contact == "+49 30 1234567"


def test_lost_claim_still_blocks_when_owner_claim_is_satisfied() -> None:
    """Signing in lifts the activation lock but not a lost report."""
    claims = (owner_claim(), lost_claim())
    decision = run(claims, Credential(OWNER, None))
    assert decision.status is DeviceStatus.LOCKED
    assert [lock.kind for lock in decision.locks] == [ClaimKind.LOST]
    assert decision.cleared == ("claim-owner",)


def test_territory_claim_lock_names_the_territory() -> None:
    """A traveller must be told which territory rule applies, to appeal it."""
    claim = Claim("claim-t", DEVICE_ID, ClaimKind.TERRITORY, "policy-7", NOW,
                  message="Not permitted in this territory", territory="UA-43")
    (lock,) = run((claim,), Credential(OWNER, None)).locks
    assert lock.kind is ClaimKind.TERRITORY
    assert lock.territory == "UA-43"
    assert lock.message == "Not permitted in this territory"


def test_reasons_mention_every_claim() -> None:
    """Support reads the reasons to explain a lock; each claim must be accounted for."""
    claims = (
        owner_claim(claim_id="c-1"),
        lost_claim(claim_id="c-2"),
        Claim("c-3", DEVICE_ID, ClaimKind.CREDITOR, "bank-1", NOW, message="Payment overdue"),
        Claim("c-4", DEVICE_ID, ClaimKind.ORGANIZATION, "org-1", NOW, message="Managed"),
        Claim("c-5", DEVICE_ID, ClaimKind.TERRITORY, "policy-1", NOW, territory="XX"),
    )
    decision = decide(DecisionInput(
        device=make_device(), act=Act.ACTIVATE, claims=claims, now=NOW,
        credential_cooldown=COOLDOWN, credential=Credential(OWNER, None),
        creditor=Loan(LoanState.LOCKED, lock_message="Payment overdue")))
    assert all(reason.strip() for reason in decision.reasons)
    for claim in claims:
        assert any(claim.claim_id in reason for reason in decision.reasons), claim.claim_id
    # The owner claim was satisfied, the four others block.
    assert sorted(lock.kind.value for lock in decision.locks) == sorted(
        ["lost", "creditor", "organization", "territory"])


def test_owner_reasons_distinguish_missing_and_foreign_credentials() -> None:
    """An operator must be able to tell "no sign-in" from "wrong account" in the audit log."""
    def owner_reason(decision: Decision) -> str:
        (reason,) = [r for r in decision.reasons if "claim-owner" in r]
        return reason

    no_credential = owner_reason(run((owner_claim(),)))
    foreign = owner_reason(run((owner_claim(),), Credential(OTHER, None)))
    assert no_credential != foreign


# -- properties ----------------------------------------------------------------------------

ACCOUNTS = st.sampled_from(["acct-a", "acct-b", "acct-c"])
TIMES = st.integers(min_value=0, max_value=2**33)
COOLDOWNS = st.integers(min_value=0, max_value=30 * 24 * HOUR)
CREDENTIALS = st.none() | st.builds(Credential, ACCOUNTS, st.none() | TIMES)


@st.composite
def claim_sets(draw: st.DrawFn) -> tuple[Claim, ...]:
    kinds = draw(st.lists(st.sampled_from(list(ClaimKind)), max_size=5))
    return tuple(
        Claim(f"c-{i}", DEVICE_ID, kind, draw(ACCOUNTS), draw(TIMES),
              holder_hint=HINT, message=draw(st.sampled_from(["", "msg"])))
        for i, kind in enumerate(kinds)
    )


@settings(max_examples=150, deadline=None)
@given(claims=claim_sets(), credential=CREDENTIALS, act=st.sampled_from(list(Act)),
       activated_at=st.none() | TIMES, now=TIMES, cooldown=COOLDOWNS,
       loan_state=st.sampled_from(list(LoanState)))
def test_status_is_locked_exactly_when_locks_are_shown(
    claims: tuple[Claim, ...], credential: Credential | None, act: Act,
    activated_at: int | None, now: int, cooldown: int, loan_state: LoanState,
) -> None:
    """PROTOCOL.md: `status` is `locked` exactly when `locks` is non-empty."""
    decision = decide(DecisionInput(
        device=make_device(activated_at), act=act, claims=claims, now=now,
        credential_cooldown=cooldown, credential=credential, creditor=Loan(loan_state)))
    assert (decision.status is DeviceStatus.LOCKED) == bool(decision.locks)
    assert decision.locked == bool(decision.locks)
    # Every claim is either shown as a lock or accounted as not blocking, never both or neither.
    assert len(decision.locks) + len(decision.cleared) == len(claims)
    # No credential lifts a non-owner claim (an organization's locks only activation);
    # a creditor claim locks only when `locked`.
    non_owner = [c for c in claims if c.kind is not ClaimKind.OWNER
                 and not (c.kind is ClaimKind.ORGANIZATION and act is Act.USE)
                 and (c.kind is not ClaimKind.CREDITOR or loan_state is LoanState.LOCKED)]
    assert len([lock for lock in decision.locks if lock.kind is not ClaimKind.OWNER]) == len(
        non_owner)
    assert decision.reasons and all(decision.reasons)
    for claim in claims:
        assert any(claim.claim_id in reason for reason in decision.reasons)


@settings(max_examples=300, deadline=None)
@given(holder=ACCOUNTS, credential=CREDENTIALS, now=TIMES, cooldown=COOLDOWNS)
def test_only_bound_account_outside_cooldown_lifts_owner_lock(
    holder: str, credential: Credential | None, now: int, cooldown: int,
) -> None:
    """The activation lock opens for the bound account's credential once it has cooled down."""
    decision = run((owner_claim(holder=holder),), credential, now=now, cooldown=cooldown)
    is_holder = credential is not None and credential.account_id == holder
    changed = credential.password_changed_at if credential is not None else None
    cooled = changed is None or now >= changed + cooldown
    assert (not decision.locked) == (is_holder and cooled)
    if decision.locked:
        (lock,) = decision.locks
        assert lock.kind is ClaimKind.OWNER
        assert lock.hint == HINT
        # Waiting helps only the bound account; then the lock says until when.
        expected_until = changed + cooldown if is_holder and changed is not None else None
        assert lock.until == expected_until


# -- organization ----------------------------------------------------------------------------

def org_claim() -> Claim:
    return Claim("c-org", DEVICE_ID, ClaimKind.ORGANIZATION, "tenant-1", NOW,
                 message=organization_message("Acme Fleet"), contact="it@acme.example")


def test_an_organization_locks_activation_without_its_code() -> None:
    (lock,) = run((org_claim(),)).locks
    assert lock.kind is ClaimKind.ORGANIZATION
    assert lock.message == ("This device belongs to Acme Fleet. Enter the code your "
                            "administrator gave you.")
    assert lock.contact == "it@acme.example" and lock.hint == ""


def test_the_current_code_opens_activation_and_use_is_never_locked() -> None:
    opened = decide(DecisionInput(device=make_device(None), act=Act.ACTIVATE,
                                  claims=(org_claim(),), now=NOW, credential_cooldown=COOLDOWN,
                                  bypass_accepted=True))
    assert not opened.locked and opened.cleared == ("c-org",)
    assert not run((org_claim(),), act=Act.USE, activated_at=NOW).locked
    assert not run((org_claim(),), act=Act.USE, activated_at=None).locked


def test_the_code_lifts_only_the_organization_lock() -> None:
    decision = decide(DecisionInput(device=make_device(None), act=Act.ACTIVATE,
                                    claims=(owner_claim(), org_claim()), now=NOW,
                                    credential_cooldown=COOLDOWN, bypass_accepted=True))
    assert [lock.kind for lock in decision.locks] == [ClaimKind.OWNER]
