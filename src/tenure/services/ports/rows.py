"""Values the store hands to use cases where a domain entity is not the right shape.

Plain frozen data: the SQL adapters build them from rows, the in-memory fakes of the
unit tests build them from dicts, and the use cases read them without knowing which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenure.domain.creditor import Loan
from tenure.domain.in_use import TerritoryState
from tenure.domain.model import Claim, Device


@dataclass(frozen=True, slots=True)
class StoredDevice:
    device: Device
    key_type: str
    public_key: bytes  # DER SubjectPublicKeyInfo
    last_checkin_at: int | None
    territory: TerritoryState = TerritoryState()
    bootloader: str | None = None  # as the device last reported it
    claims: tuple[Claim, ...] = ()  # active, read with the device
    commands: tuple[dict[str, Any], ...] = ()  # pending, read with the device
    exemptions: tuple[str, ...] = ()  # territory rules an appeal exempted it from
    whereabouts_stored: bool = True  # False: none yet, `territory` is the empty state


@dataclass(frozen=True, slots=True)
class OwnedDevice:
    """One line of an owner's device list: what the portal shows, read in one query."""

    device_id: str
    model: str
    last_checkin_at: int | None
    bootloader: str | None
    owned_since: int  # when the owner claim was made


@dataclass(frozen=True, slots=True)
class AccountRow:
    account_id: str
    email: str
    password_hash: str
    password_changed_at: int | None
    created_at: int
    locale: str | None = None  # the language its mail is written in (None: English)


@dataclass(frozen=True, slots=True)
class SessionRow:
    account_id: str
    authenticated_at: int
    expires_at: int
    revoked_at: int | None
    factor: str | None = None  # how it was signed in: password, totp or recovery


@dataclass(frozen=True, slots=True)
class ThrottleRow:
    failures: int
    blocked_until: int
    last_failure_at: int


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    to_addr: str
    subject: str
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    key_id: str
    secret_hash: str
    role: str
    name: str
    revoked_at: int | None
    tenant_id: str | None = None  # the tenant a key of a tenant role acts for


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """An Idempotency-Key's row: reserved (`pending`, status 0) while the first request
    with the key runs, then the answer to replay."""

    request_hash: str
    status: int  # PENDING while the first request with the key is still running
    body: bytes
    content_type: str
    created_at: int = 0

    @property
    def pending(self) -> bool:
        return self.status == PENDING


PENDING = 0


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version: int
    document: str
    sha256: str
    author: str
    reason: str
    created_at: int
    rollback_of: int | None


@dataclass(frozen=True, slots=True)
class TotpRow:
    """An account's second factor: pending until `enabled_at` is set."""

    account_id: str
    secret: str  # base32 (RFC 4648), as shown once at enrolment
    enabled_at: int | None
    last_step: int | None  # the last time-step accepted: a code works once


@dataclass(frozen=True, slots=True)
class TenantRow:
    """An organization, creditor or retailer the operator created (docs/organizations.md)."""

    tenant_id: str
    kind: str  # organization | creditor | retailer
    name: str
    contact: str
    webhook_url: str  # "" when the tenant takes no webhooks
    created_at: int
    disabled_at: int | None = None


@dataclass(frozen=True, slots=True)
class BypassCodeRow:
    """A device's current organization bypass code, as a hash (domain/bypass_code.py)."""

    device_id: str
    tenant_id: str
    code_hash: str
    issued_at: int
    spent_at: int | None


@dataclass(frozen=True, slots=True)
class CommandRow:
    """One command as its issuer sees it (the owner's device list)."""

    command_id: str
    device_id: str
    kind: str
    created_at: int
    acked_at: int | None
    cancelled_at: int | None

    @property
    def state(self) -> str:
        """Acknowledged wins: a device may carry out a command cancelled after it got it."""
        if self.acked_at is not None:
            return "acknowledged"
        return "cancelled" if self.cancelled_at is not None else "pending"


@dataclass(frozen=True, slots=True)
class TransferRow:
    """An ownership transfer (docs/protocol.md Part 2): pending until the buyer accepts,
    the seller cancels, five wrong codes void it, or it expires."""

    transfer_id: str
    device_id: str
    from_account: str
    to_email: str
    code_hash: str
    created_at: int
    expires_at: int
    failures: int
    state: str  # pending | accepted | cancelled | voided | expired


@dataclass(frozen=True, slots=True)
class RelayMessage:
    """A message to whoever holds a device, from a sender who proved their address."""

    message_id: str
    device_id: str
    from_addr: str
    body: str
    created_at: int
    expires_at: int
    confirmed_at: int | None
    owner_account: str | None
    replies: int


@dataclass(frozen=True, slots=True)
class RetailSaleRow:
    """A device's registered retail sale (docs/retailers.md): one per device."""

    device_id: str
    tenant_id: str  # the retailer
    sold_on: str  # YYYY-MM-DD
    territory: str
    licensed: bool  # the retailer was licensed for the territory on that day
    registered_at: int


@dataclass(frozen=True, slots=True)
class CaseRow:
    """An appeal case as stored (domain/cases.py has its rules)."""

    case_id: str
    device_id: str
    kind: str
    applicant_id: str
    claim_id: str | None
    rules: tuple[str, ...] | None
    statement: str
    purchase: dict[str, str]
    state: str
    round: int
    approvals: tuple[str, ...]
    opened_at: int
    window_ends_at: int | None


@dataclass(frozen=True, slots=True)
class CaseEntry:
    """One line of a case's history."""

    at: int
    state: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class CaseDecision:
    """An agent's decision, or a holder's objection (`decision` "objection")."""

    at: int
    actor: str
    decision: str
    reason: str | None
    round: int


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    evidence_id: str
    case_id: str
    sha256: str
    content_type: str
    size: int
    added_at: int


@dataclass(frozen=True, slots=True)
class LoanRow:
    """A creditor claim's loan: who, which loan, the device's terms, and its state."""

    claim_id: str
    device_id: str
    tenant_id: str
    loan_id: str
    contact: str
    offline_lock_days: int
    notice_command_id: str
    created_at: int
    loan: Loan


@dataclass(frozen=True, slots=True)
class ClaimEntry:
    """A claim as support sees it in a device's history: held, or released when and by
    whom (a holder, a case, an operator)."""

    claim: Claim
    released_at: int | None
    released_by: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event of the audit trail, its data as the canonical JSON that was hashed."""

    stream: str
    seq: int
    at: int
    actor: str
    action: str
    data: str


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events of the audit trail to read: every member that is set must match.
    `action` matches as a prefix (`case.` finds every case event); `until` is
    exclusive; `before` continues a listing after its last (at, stream, seq)."""

    stream: str | None = None
    action: str | None = None
    actor: str | None = None
    since: int | None = None
    until: int | None = None
    before: tuple[int, str, int] | None = None


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """One stream's hash chain walked: the events checked and the first broken link;
    `complete` is False when the stream was longer than the walk was allowed to be."""

    events: int
    broken: str | None
    complete: bool = True
