"""Entities of the activation-lock domain, as plain immutable values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .wording import Phrase


class ClaimKind(StrEnum):
    """Who may stand between a device and its use (docs/architecture.md, "Locks are claims")."""

    OWNER = "owner"
    LOST = "lost"
    ORGANIZATION = "organization"
    CREDITOR = "creditor"
    TERRITORY = "territory"


class DeviceStatus(StrEnum):
    ACTIVATED = "activated"
    LOCKED = "locked"


class Act(StrEnum):
    """What the device asks to do; claims block some acts and not others."""

    ACTIVATE = "activate"
    USE = "use"  # check-in of an activated device


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    model: str
    sku: str
    market: str
    imeis: tuple[str, ...] = ()
    activated_at: int | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A lock held by someone on a device; only its holder (or support) releases it."""

    claim_id: str
    device_id: str
    kind: ClaimKind
    holder: str  # account id, organization id, creditor id or policy id
    created_at: int
    # Who holds it, as the lock screen names them: the owner's masked email, an
    # organization's name.
    holder_hint: str = ""
    message: str = ""
    contact: str = ""
    territory: str = ""


MAX_HINT = 128  # characters of `holder_hint` the store keeps

_KIND_RANK = {kind: rank for rank, kind in enumerate(ClaimKind)}


def claim_order(claim: Claim) -> tuple[int, int, str]:
    """Claims in the order they were made; within one second, in the order of
    ClaimKind (an owner binds before reporting the device lost), then by id."""
    return (claim.created_at, _KIND_RANK[claim.kind], claim.claim_id)


def owner_claim(claims: Iterable[Claim]) -> Claim | None:
    """The owner claim among a device's active claims (there is at most one)."""
    return next((c for c in claims if c.kind is ClaimKind.OWNER), None)


def owner_hint(claims: Iterable[Claim]) -> str | None:
    """The masked owner identity a record shows, if the device is bound."""
    owner = owner_claim(claims)
    return owner.holder_hint if owner else None


@dataclass(frozen=True, slots=True)
class TerritoryEvidence:
    """Territory signals gathered for one request; empty until a policy consumes them."""

    sources: tuple[tuple[str, str], ...] = ()  # (source, territory code)


@dataclass(frozen=True, slots=True)
class Sale:
    """A device's registered retail sale (docs/retailers.md): who sold it, when, where,
    and whether that retailer was licensed by the operator for that territory on that
    day. A territory rule with `exempt_licensed_sales` lets a licensed sale through."""

    retailer: str  # the retailer tenant's opaque id
    sold_on: str  # YYYY-MM-DD
    territory: str  # ISO 3166-1 or -2 code, normalised
    licensed: bool


@dataclass(frozen=True, slots=True)
class Credential:
    """An account credential presented with a request (an authenticated session).

    `password_changed_at` matters because a credential changed recently is not
    trusted to lift an activation lock (the reset cool-down, as in Android FRP).
    """

    account_id: str
    password_changed_at: int | None  # None: never changed since the account was created


@dataclass(frozen=True, slots=True)
class Lock:
    """One reason the device is not usable, as shown on its lock screen."""

    kind: ClaimKind
    message: str
    hint: str = ""
    contact: str = ""
    territory: str = ""
    until: int | None = None
    rule: str = ""  # the policy rule behind a territory lock
    evidence: tuple[str, ...] = ()  # the territory evidence that placed the device
    allows: tuple[str, ...] = ()  # what still works while locked (creditor: emergency calls...)
    released_if: str = ""  # the way out: what releases this lock (territory locks)
    # How `message` can be said in the reader's language (services/lock_text.py): the
    # catalog messages it was made of (None: a person's own words, shown as written),
    # and the versions its author wrote per language (a policy rule's `messages`).
    phrase: Phrase | None = None
    wordings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    status: DeviceStatus
    locks: tuple[Lock, ...]
    reasons: tuple[str, ...]
    cleared: tuple[str, ...] = field(default=())  # claims that do not block this act

    @property
    def locked(self) -> bool:
        return self.status is DeviceStatus.LOCKED
