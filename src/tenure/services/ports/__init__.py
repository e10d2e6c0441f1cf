"""Ports: what the use cases need from the outside world, as small Protocols.

Use cases import only these (and the domain, clock, crypto and geo); adapters satisfy
them structurally: the SQL unit of work and repositories in `tenure.store`, Redis and
mail in `tenure.adapters`, in-memory fakes in the unit tests. `tenure.bootstrap` picks
the adapters and hands them to the use cases.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from email.message import EmailMessage
from typing import Any, Protocol, TypeVar

from .deliveries import (
    GIVE_UP_SECONDS,
    MailEntry,
    QueueCounts,
    WebhookEvent,
    Webhooks,
    WebhookSender,
)
from .repositories import (
    Accounts,
    ApiKeys,
    Audit,
    BypassCodes,
    Cases,
    Claims,
    Commands,
    Creditors,
    Devices,
    Events,
    Idempotency,
    Nonces,
    Outbox,
    Policies,
    RateLimits,
    Relay,
    ResetRequests,
    Resets,
    RetailSales,
    SecondFactors,
    Sessions,
    SupportAgents,
    Tenants,
    Territory,
    Throttle,
    Transfers,
    Unlocks,
)
from .rows import (
    PENDING,
    AccountRow,
    ApiKeyRow,
    AuditEntry,
    AuditFilter,
    BypassCodeRow,
    CaseDecision,
    CaseEntry,
    CaseRow,
    ChainCheck,
    ClaimEntry,
    CommandRow,
    EvidenceRow,
    LoanRow,
    OutboxMessage,
    OwnedDevice,
    PolicyVersion,
    RelayMessage,
    RetailSaleRow,
    SessionRow,
    StoredDevice,
    StoredResponse,
    TenantRow,
    ThrottleRow,
    TotpRow,
    TransferRow,
)

T = TypeVar("T")


class Tx(Protocol):
    """Every repository, on one transaction."""

    @property
    def devices(self) -> Devices: ...
    @property
    def claims(self) -> Claims: ...
    @property
    def accounts(self) -> Accounts: ...
    @property
    def sessions(self) -> Sessions: ...
    @property
    def nonces(self) -> Nonces: ...
    @property
    def throttle(self) -> Throttle: ...
    @property
    def resets(self) -> Resets: ...
    @property
    def audit(self) -> Audit: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def api_keys(self) -> ApiKeys: ...
    @property
    def idempotency(self) -> Idempotency: ...
    @property
    def policies(self) -> Policies: ...
    @property
    def territory(self) -> Territory: ...
    @property
    def commands(self) -> Commands: ...
    @property
    def unlocks(self) -> Unlocks: ...
    @property
    def rate_limits(self) -> RateLimits: ...
    @property
    def reset_requests(self) -> ResetRequests: ...
    @property
    def second_factors(self) -> SecondFactors: ...
    @property
    def tenants(self) -> Tenants: ...
    @property
    def events(self) -> Events: ...
    @property
    def bypass_codes(self) -> BypassCodes: ...
    @property
    def transfers(self) -> Transfers: ...
    @property
    def relay(self) -> Relay: ...
    @property
    def retail(self) -> RetailSales: ...
    @property
    def support_agents(self) -> SupportAgents: ...
    @property
    def cases(self) -> Cases: ...
    @property
    def creditors(self) -> Creditors: ...
    @property
    def webhooks(self) -> Webhooks: ...


class ImportStaging(Protocol):
    """A bulk import's rows kept outside the shared write path until `switch_in`
    moves them all at once (store/staging.py); nothing staged is visible before."""

    def chunk(self) -> AbstractContextManager[Tx]: ...
    def add(self, devices: list[tuple[Any, ...]], imeis: list[tuple[str, str]]) -> None: ...
    def switch_in(self, finish: Callable[[Tx], None]) -> None: ...


class UnitOfWork(Protocol):
    """`with uow() as tx:` commits when the block ends and rolls back on an exception;
    `run(work)` does the same, again from the start when the transaction lost a race
    (a unique-key collision or a serialization failure)."""

    def __call__(self, readonly: bool = False,
                 wait: float | None = None) -> AbstractContextManager[Tx]: ...
    def run(self, work: Callable[[Tx], T], attempts: int = 4,
            wait: float | None = None) -> T: ...
    def batch(self, works: Sequence[Callable[[Tx], T]], attempts: int = 4,
              wait: float | None = None) -> list[T | Exception]: ...
    def staging(self) -> AbstractContextManager[ImportStaging]: ...


class MailSink(Protocol):
    """Delivers one message now; raises OSError (SMTP errors are OSErrors too) when it
    could not, so the dispatcher retries later."""

    def send(self, mail: EmailMessage) -> None: ...


class EvidenceFiles(Protocol):
    """Where evidence files live, outside the database, named by their SHA-256."""

    def put(self, data: bytes) -> str: ...
    def read(self, sha256: str) -> bytes | None: ...


class UsedNonces(Protocol):
    """Where used replay nonces are remembered, shared by every replica."""

    transactional: bool  # True: a use is undone if the request's transaction rolls back

    def use(self, tx: Tx, nonce: str, expires_at: int, remaining: int) -> bool: ...


__all__ = [
    "PENDING", "AccountRow", "Accounts", "ApiKeyRow", "ApiKeys", "Audit", "BypassCodeRow",
    "BypassCodes", "Claims", "CommandRow", "Commands", "Creditors", "Devices", "Events",
    "Idempotency", "ImportStaging", "LoanRow",
    "MailSink", "Nonces", "Outbox", "OutboxMessage", "OwnedDevice", "Policies",
    "PolicyVersion", "RateLimits", "Relay", "RelayMessage", "ResetRequests", "Resets",
    "RetailSaleRow", "RetailSales", "SecondFactors", "SessionRow", "Sessions", "StoredDevice",
    "StoredResponse", "TenantRow", "Tenants", "Territory", "Throttle", "ThrottleRow", "TotpRow",
    "TransferRow", "Transfers", "Tx", "UnitOfWork", "Unlocks", "UsedNonces",
    "CaseDecision", "CaseEntry", "CaseRow", "Cases", "EvidenceFiles", "EvidenceRow",
    "SupportAgents", "AuditEntry", "AuditFilter", "ChainCheck", "ClaimEntry",
    "GIVE_UP_SECONDS", "MailEntry", "QueueCounts", "WebhookEvent", "WebhookSender", "Webhooks",
]
