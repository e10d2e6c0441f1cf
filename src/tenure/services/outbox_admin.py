"""What the operator sees of the two outboxes, and putting failed deliveries back in
the queue: `tenure outbox list|retry` (docs/operator-guide.md, "Outboxes").

Mail is retried for as long as it takes (its back-off caps at an hour), so "failed"
mail is mail whose last attempt failed; a webhook event is given up after 3 days of
retries and marked failed. A retried event gets 3 more days; it is posted when it is
again the first open event of its device, so it may arrive after later events of that
device that were delivered while it was failed (receivers order by `at`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput, NotFound

from .ports import GIVE_UP_SECONDS, MailEntry, QueueCounts, Tx, UnitOfWork, WebhookEvent

RECENT_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class OutboxReport:
    mail: QueueCounts | None  # None when the listing is about one tenant
    webhooks: QueueCounts
    mail_entries: list[MailEntry]
    events: list[WebhookEvent]


class OutboxAdmin:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def report(self, failed_only: bool = False, tenant_id: str | None = None,
               limit: int = 100) -> OutboxReport:
        """Counts of both outboxes (delivered: the last 24 hours) and their open entries
        (failed ones only with `failed_only`); a tenant's webhook events only with
        `tenant_id`."""
        since = self.clock.now() - RECENT_SECONDS
        with self.uow(readonly=True) as tx:
            if tenant_id is not None:
                self._tenant(tx, tenant_id)
                return OutboxReport(None, tx.webhooks.counts(since, tenant_id), [],
                                    tx.webhooks.listing(failed_only, tenant_id, limit))
            return OutboxReport(tx.outbox.counts(since), tx.webhooks.counts(since, None),
                                tx.outbox.listing(failed_only, limit),
                                tx.webhooks.listing(failed_only, None, limit))

    def retry(self, entry_id: str, actor: str = "operator") -> str:
        """Requeue one failed webhook event or one failed message; says which it was.
        `actor`: who asked, for the audit trail (the console names the operator's key)."""

        def work(tx: Tx) -> str:
            now = self.clock.now()
            event = tx.webhooks.get(entry_id)
            if event is not None:
                if event.failed_at is None:
                    state = "delivered" if event.delivered_at is not None else "still queued"
                    raise InvalidInput(f"webhook event {entry_id} has not failed ({state})")
                tx.webhooks.requeue([entry_id], None, now, now + GIVE_UP_SECONDS)
                tx.audit.record(f"tenant:{event.tenant_id}", "webhook.requeued",
                                actor=actor, at=now, events=1)
                return "webhook event"
            if tx.outbox.requeue([entry_id], now) == 1:
                tx.audit.record("system", "mail.requeued", actor=actor, at=now,
                                messages=1)
                return "message"
            raise NotFound(f"no failed webhook event or message {entry_id[:64]!r} "
                           "(tenure outbox list --failed shows them)")

        return self.uow.run(work)

    def retry_all_failed(self, tenant_id: str | None = None,
                         actor: str = "operator") -> tuple[int, int]:
        """Requeue every failed webhook event (of one tenant) and, without a tenant,
        every failed message. Returns (events, messages)."""

        def work(tx: Tx) -> tuple[int, int]:
            now = self.clock.now()
            if tenant_id is not None:
                self._tenant(tx, tenant_id)
            events = tx.webhooks.requeue(None, tenant_id, now, now + GIVE_UP_SECONDS)
            messages = tx.outbox.requeue(None, now) if tenant_id is None else 0
            if events:
                tx.audit.record(f"tenant:{tenant_id}" if tenant_id else "system",
                                "webhook.requeued", actor=actor, at=now, events=events)
            if messages:
                tx.audit.record("system", "mail.requeued", actor=actor, at=now,
                                messages=messages)
            return events, messages

        return self.uow.run(work)

    @staticmethod
    def _tenant(tx: Tx, tenant_id: str) -> None:
        if tx.tenants.get(tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id[:64]!r} (tenure tenant list shows them)")
