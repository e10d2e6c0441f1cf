"""Ports of the outboxes' delivery side: the webhook events the dispatcher leases and
posts, what the operator sees of both outboxes (`tenure outbox`), and the sender.

Kept apart from the repositories that write events and mail (`Events`, `Outbox`):
writing is every use case's business, delivering is the dispatcher's and the operator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

GIVE_UP_SECONDS = 3 * 24 * 3600  # an event is retried for 3 days, then marked failed


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One row of the webhook outbox, with where its tenant wants it."""

    event_id: str
    tenant_id: str
    device_id: str
    seq: int  # 1, 2, ... per (tenant, device): the delivery order
    event: str
    payload: str  # the JSON claims to sign
    created_at: int
    next_attempt_at: int
    attempts: int
    last_error: str | None
    delivered_at: int | None
    failed_at: int | None
    give_up_at: int  # the last attempt is made at or after this; failing it marks failed
    webhook_url: str  # "" when the tenant has none
    tenant_disabled: bool


@dataclass(frozen=True, slots=True)
class MailEntry:
    """What the operator sees of one queued message: never its address or body."""

    message_id: str
    subject: str
    created_at: int
    attempts: int
    next_attempt_at: int
    last_error: str | None
    sent_at: int | None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    pending: int
    failed: int  # webhooks: given up; mail: pending after a failed attempt (retrying)
    delivered_recently: int


class Webhooks(Protocol):
    """The dispatcher's view of the webhook outbox. An event is *open* until delivered
    or failed; the *head* of a (tenant, device) is its open event of the lowest `seq`,
    and only a head is ever leased, so event n+1 never leaves before n is delivered."""

    def due_tenants(self, now: int, limit: int) -> list[str]: ...
    def heads(self, now: int, limit: int, tenant_id: str | None = None
              ) -> list[WebhookEvent]: ...
    def head(self, tenant_id: str, device_id: str, now: int) -> WebhookEvent | None: ...
    def lease(self, event: WebhookEvent, now: int, seconds: int) -> bool: ...
    def delivered(self, event_id: str, now: int) -> bool: ...
    def retry_at(self, event_id: str, attempts: int, at: int, error: str) -> None: ...
    def failed(self, event_id: str, attempts: int, now: int, error: str) -> None: ...
    def get(self, event_id: str) -> WebhookEvent | None: ...
    def listing(self, failed_only: bool, tenant_id: str | None,
                limit: int) -> list[WebhookEvent]: ...
    def counts(self, since: int, tenant_id: str | None) -> QueueCounts: ...
    def requeue(self, event_ids: list[str] | None, tenant_id: str | None, now: int,
                give_up_at: int) -> int: ...


class WebhookSender(Protocol):
    """POSTs one body; None when the receiver answered 2xx, else the reason, in one
    line that names no secret (the URL's path and query may be one)."""

    def post(self, url: str, body: bytes, content_type: str) -> str | None: ...
