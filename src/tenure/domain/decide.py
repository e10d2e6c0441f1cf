"""The one function that decides whether a device may do what it asks.

Everything else gathers its inputs (device, active claims, territory evidence,
presented credential, now) and stores or signs its outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .creditor import LOCK_ALLOWS, Loan, locks_device
from .model import (
    Act,
    Claim,
    ClaimKind,
    Credential,
    Decision,
    Device,
    DeviceStatus,
    Lock,
)
from .policy import Verdict
from .territory import Presence
from .wording import N_, Phrase

# What the lock screen says: catalog messages (docs/operator-guide.md, "Languages"),
# written here in English and translated into the device's language where the record
# is signed (services/lock_text.py).
OWNER_LOCK_MESSAGE = N_(
    "This device is linked to an account. Sign in with the account that was "
    "previously used on this device to continue setting it up."
)
COOLDOWN_MESSAGE = N_(
    "The password of this account was changed recently. To protect the owner, the new "
    "password can unlock this device only after a waiting period."
)
LOST_MESSAGE = N_("This device has been reported lost by its owner.")
# The way out of a territory lock (record extension `released_if`, docs/protocol.md). An
# activation refusal ends when the device is activated where the policy permits it; a
# lock in use is released at the first check-in whose evidence places the device where
# the rule does not apply (domain/in_use.py: no waiting period on the way out).
RELEASED_IF_ACTIVATION = N_("the device is activated in a permitted territory")
RELEASED_IF_IN_USE = N_("the device checks in from a territory where this rule does not "
                        "apply; the next check-in there releases the lock")
ORGANIZATION_MESSAGE = N_(
    "This device belongs to %(name)s. Enter the code your administrator gave you.")
SOME_ORGANIZATION_MESSAGE = N_(
    "This device belongs to an organization. Enter the code your administrator gave you.")
CREDITOR_MESSAGE = N_("This device is locked by the company that finances it.")


def organization_message(name: str) -> str:
    """What an organization's activation lock says, in English (stored on its claim when
    made; the claim also keeps the name, so the lock can be said in any language)."""
    return Phrase.of(ORGANIZATION_MESSAGE, name=name).english()


def said(kind: ClaimKind, phrase: Phrase, **lock: Any) -> Lock:
    """A lock whose message is made of catalog messages."""
    return Lock(kind, phrase.english(), phrase=phrase, **lock)


@dataclass(frozen=True, slots=True)
class DecisionInput:
    device: Device
    act: Act
    claims: tuple[Claim, ...]
    now: int
    credential_cooldown: int  # seconds a changed password waits before lifting an owner lock
    credential: Credential | None = None
    verdict: Verdict | None = None  # the territory policy's word on where the device is
    presence: Presence | None = None
    # The organization's current bypass code came with this activation (services check it).
    bypass_accepted: bool = False
    exemptions: tuple[str, ...] = ()  # why a territory rule let the device through
    creditor: Loan | None = None  # the state of the device's creditor claim, if one is held


def decide(given: DecisionInput) -> Decision:
    """Return the status, the locks to show, and a reason for every claim considered."""
    locks: list[Lock] = []
    reasons: list[str] = []
    cleared: list[str] = []
    for claim in given.claims:
        if claim.kind is ClaimKind.OWNER:
            lock, reason = _owner(claim, given)
        elif claim.kind is ClaimKind.ORGANIZATION:
            lock, reason = _organization(claim, given)
        elif claim.kind is ClaimKind.LOST:
            lock = (Lock(ClaimKind.LOST, claim.message, contact=claim.contact) if claim.message
                    else said(ClaimKind.LOST, Phrase.of(LOST_MESSAGE), contact=claim.contact))
            reason = f"{claim.kind.value} claim {claim.claim_id} blocks every act"
        elif claim.kind is ClaimKind.CREDITOR:
            lock, reason = _creditor(claim, given)
        else:
            lock = _held_territory(claim, given.verdict)
            reason = f"{claim.kind.value} claim {claim.claim_id} blocks {given.act.value}"
        reasons.append(reason)
        if lock is None:
            cleared.append(claim.claim_id)
        else:
            locks.append(lock)
    territory_lock, reason = _territory(given)
    reasons.append(reason)
    reasons.extend(given.exemptions)
    if territory_lock is not None:
        locks.append(territory_lock)
    if not given.claims:
        reasons.append("no claims on this device")
    ordered = in_precedence(locks)
    status = DeviceStatus.LOCKED if ordered else DeviceStatus.ACTIVATED
    return Decision(status, ordered, tuple(reasons), tuple(cleared))


# docs/protocol.md Part 2, "What locks a device": the order in which a record lists its
# locks, whatever order the claims were made in. A device shows the first one on its
# lock screen, so the most urgent comes first: the owner's lost-mode message, then what
# the device's other holders ask, and the activation lock last (its remedy, signing in,
# is useless while anything above it still holds).
PRECEDENCE = (ClaimKind.LOST, ClaimKind.CREDITOR, ClaimKind.ORGANIZATION,
              ClaimKind.TERRITORY, ClaimKind.OWNER)
_RANK = {kind: rank for rank, kind in enumerate(PRECEDENCE)}


def in_precedence(locks: Iterable[Lock]) -> tuple[Lock, ...]:
    """The locks in PRECEDENCE order; locks of one kind keep their order (stable)."""
    return tuple(sorted(locks, key=lambda lock: _RANK[lock.kind]))


def credential_accepted_from(credential: Credential, cooldown: int) -> int | None:
    """When a changed password starts to count for lifting locks (None: it already does)."""
    changed = credential.password_changed_at
    return None if changed is None else changed + cooldown


def _held_territory(claim: Claim, verdict: Verdict | None) -> Lock:
    """A territory claim shows the text stored with it; while the policy's verdict is
    still its rule's, the lock also carries that rule's texts, so that it can be said in
    the device's language (or the territory's)."""
    rule = claim.holder.removeprefix("policy:") if claim.kind is ClaimKind.TERRITORY else ""
    same = verdict is not None and rule and verdict.rule_id == rule
    return Lock(claim.kind, claim.message, contact=claim.contact, territory=claim.territory,
                rule=rule, released_if=RELEASED_IF_IN_USE if rule else "",
                phrase=verdict.in_use_phrase if same and verdict else None,
                wordings=verdict.wordings if same and verdict else ())


def _territory(given: DecisionInput) -> tuple[Lock | None, str]:
    """Activation where the policy restricts it is refused; use is blocked only by a
    stored territory claim (made after grace and notice), which the claims loop shows."""
    verdict = given.verdict
    evidence = tuple(given.presence.explain()) if given.presence else ()
    where = ", ".join(given.presence.territories) if given.presence else ""
    if verdict is None:
        return None, f"territory policy: no restriction where the device is ({where or 'unknown'})"
    summary = f"territory policy rule {verdict.rule_id!r} ({verdict.effect}) in {verdict.territory}"
    held = any(c.kind is ClaimKind.TERRITORY for c in given.claims)
    if given.act is Act.ACTIVATE and verdict.refuses_activation and not held:
        lock = Lock(ClaimKind.TERRITORY, verdict.message, contact=verdict.contact,
                    territory=verdict.territory, rule=verdict.rule_id, evidence=evidence,
                    released_if=RELEASED_IF_ACTIVATION, phrase=verdict.phrase,
                    wordings=verdict.wordings)
        return lock, f"{summary}: activation refused on evidence {', '.join(evidence)}"
    return None, f"{summary}: does not block {given.act.value} now"


def _organization(claim: Claim, given: DecisionInput) -> tuple[Lock | None, str]:
    """docs/protocol.md Part 2: a held organization claim locks activation unless the
    device's current bypass code came with it; once activated, it does not lock use."""
    subject = f"organization claim {claim.claim_id}"
    if given.act is Act.USE:
        return None, f"{subject}: does not block use"
    if given.bypass_accepted:
        return None, f"{subject}: the organization's current bypass code was presented"
    if claim.holder_hint:  # the organization's name, kept with its claim
        lock = said(ClaimKind.ORGANIZATION, Phrase.of(ORGANIZATION_MESSAGE,
                                                      name=claim.holder_hint),
                    contact=claim.contact)
    elif claim.message:  # a claim made before the name was kept: as it was stored
        lock = Lock(ClaimKind.ORGANIZATION, claim.message, contact=claim.contact)
    else:
        lock = said(ClaimKind.ORGANIZATION, Phrase.of(SOME_ORGANIZATION_MESSAGE),
                    contact=claim.contact)
    return lock, f"{subject}: blocks activation without the organization's bypass code"


def _creditor(claim: Claim, given: DecisionInput) -> tuple[Lock | None, str]:
    """A creditor claim locks (activation and use alike) only in state `locked`; it
    always lets the user call emergency services and the creditor, and reach a network
    to fetch the record that unlocks it."""
    subject = f"creditor claim {claim.claim_id}"
    loan = given.creditor
    if loan is None or not locks_device(loan):
        state = loan.state.value if loan is not None else "unknown"
        return None, f"{subject}: {state}, does not lock the device"
    lock = (Lock(ClaimKind.CREDITOR, loan.lock_message, contact=claim.contact,
                 allows=LOCK_ALLOWS) if loan.lock_message
            else said(ClaimKind.CREDITOR, Phrase.of(CREDITOR_MESSAGE), contact=claim.contact,
                      allows=LOCK_ALLOWS))
    return lock, f"{subject}: locked by the creditor, blocks {given.act.value}"


def _owner(claim: Claim, given: DecisionInput) -> tuple[Lock | None, str]:
    """An activation lock: only the bound account's credential, outside the cool-down, lifts it.

    An activated device in use is not blocked by its owner's claim; a device whose
    last activation was refused (it has been reset) is blocked for every act.
    """
    subject = f"owner claim {claim.claim_id}"
    if given.act is Act.USE and given.device.activated_at is not None:
        return None, f"{subject}: device activated, in use by its owner"
    lock = said(ClaimKind.OWNER, Phrase.of(OWNER_LOCK_MESSAGE), hint=claim.holder_hint)
    credential = given.credential
    if credential is None:
        return lock, f"{subject}: no account credential presented"
    if credential.account_id != claim.holder:
        return lock, f"{subject}: credential of another account presented"
    accepted_from = credential_accepted_from(credential, given.credential_cooldown)
    if accepted_from is not None and given.now < accepted_from:
        cooling = said(ClaimKind.OWNER, Phrase.of(OWNER_LOCK_MESSAGE, COOLDOWN_MESSAGE),
                       hint=claim.holder_hint, until=accepted_from)
        return cooling, (
            f"{subject}: password changed within the cool-down, accepted from {accepted_from}")
    return None, f"{subject}: satisfied by the bound account's credential"
