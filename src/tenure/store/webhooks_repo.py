"""The delivery side of the webhook outbox (`tenant_events`): heads, leases, outcomes,
and what the operator sees.

A lease is one conditional UPDATE — the event is open, due, and no open event of the
same (tenant, device) comes before it — that pushes `next_attempt_at` past the lease.
Of two dispatchers (or replicas) racing for an event one row count is 1, the other's 0,
on SQLite (one writer) and PostgreSQL alike (the second UPDATE re-reads the row after
the first commits, and no longer finds it due).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, exists, func, select, update
from sqlalchemy.sql import ColumnElement

from tenure.services.ports.deliveries import GIVE_UP_SECONDS, QueueCounts, WebhookEvent

from . import tables as t

E = t.tenant_events.c
MAX_ERROR = 2000


def _event(r: Any) -> WebhookEvent:
    give_up = r.give_up_at if r.give_up_at is not None else r.created_at + GIVE_UP_SECONDS
    return WebhookEvent(r.event_id, r.tenant_id, r.device_id, int(r.seq), r.event, r.payload,
                        r.created_at, r.next_attempt_at, r.attempts, r.last_error,
                        r.delivered_at, r.failed_at, int(give_up), r.webhook_url or "",
                        r.disabled_at is not None)


def _open() -> ColumnElement[bool]:
    return and_(E.delivered_at.is_(None), E.failed_at.is_(None))


def _no_open_before() -> ColumnElement[bool]:
    """No open event of the same (tenant, device) with a lower seq: this one is the head."""
    before = t.tenant_events.alias("before")
    b = before.c
    return ~exists().where(b.tenant_id == E.tenant_id, b.device_id == E.device_id,
                           b.seq < E.seq, b.delivered_at.is_(None), b.failed_at.is_(None))


def _select() -> Any:
    return (select(t.tenant_events, t.tenants.c.webhook_url, t.tenants.c.disabled_at)
            .join(t.tenants, t.tenants.c.tenant_id == E.tenant_id))


class WebhookRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def due_tenants(self, now: int, limit: int) -> list[str]:
        """Tenants with a due head, the longest waiting first."""
        rows = self.conn.execute(
            select(E.tenant_id).where(_open(), E.next_attempt_at <= now, _no_open_before())
            .group_by(E.tenant_id).order_by(func.min(E.next_attempt_at)).limit(limit))
        return [r.tenant_id for r in rows]

    def heads(self, now: int, limit: int, tenant_id: str | None = None
              ) -> list[WebhookEvent]:
        """Due heads (of one tenant), oldest first."""
        query = _select().where(_open(), E.next_attempt_at <= now, _no_open_before())
        if tenant_id is not None:
            query = query.where(E.tenant_id == tenant_id)
        rows = self.conn.execute(query.order_by(E.next_attempt_at, E.created_at, E.seq)
                                 .limit(limit))
        return [_event(r) for r in rows]

    def head(self, tenant_id: str, device_id: str, now: int) -> WebhookEvent | None:
        """The (tenant, device)'s head when it is due."""
        r = self.conn.execute(
            _select().where(E.tenant_id == tenant_id, E.device_id == device_id, _open())
            .order_by(E.seq).limit(1)).first()
        if r is None or r.next_attempt_at > now:
            return None
        return _event(r)

    def lease(self, event: WebhookEvent, now: int, seconds: int) -> bool:
        return self.conn.execute(
            update(t.tenant_events)
            .where(E.event_id == event.event_id, _open(), E.next_attempt_at <= now,
                   _no_open_before())
            .values(next_attempt_at=now + seconds)).rowcount == 1

    def delivered(self, event_id: str, now: int) -> bool:
        return self.conn.execute(
            update(t.tenant_events).where(E.event_id == event_id, E.delivered_at.is_(None))
            .values(delivered_at=now, failed_at=None)).rowcount == 1

    def retry_at(self, event_id: str, attempts: int, at: int, error: str) -> None:
        self.conn.execute(
            update(t.tenant_events).where(E.event_id == event_id, _open())
            .values(attempts=attempts, next_attempt_at=at, last_error=error[:MAX_ERROR]))

    def failed(self, event_id: str, attempts: int, now: int, error: str) -> None:
        self.conn.execute(
            update(t.tenant_events).where(E.event_id == event_id, _open())
            .values(attempts=attempts, failed_at=now, last_error=error[:MAX_ERROR]))

    def get(self, event_id: str) -> WebhookEvent | None:
        r = self.conn.execute(_select().where(E.event_id == event_id)).first()
        return None if r is None else _event(r)

    def listing(self, failed_only: bool, tenant_id: str | None,
                limit: int) -> list[WebhookEvent]:
        """Open events (or failed ones only), oldest first."""
        which = E.failed_at.is_not(None) if failed_only else E.delivered_at.is_(None)
        query = _select().where(which)
        if tenant_id is not None:
            query = query.where(E.tenant_id == tenant_id)
        rows = self.conn.execute(query.order_by(E.created_at, E.tenant_id, E.device_id,
                                                E.seq).limit(limit))
        return [_event(r) for r in rows]

    def counts(self, since: int, tenant_id: str | None) -> QueueCounts:
        def count(*where: ColumnElement[bool]) -> int:
            query = select(func.count()).select_from(t.tenant_events).where(*where)
            if tenant_id is not None:
                query = query.where(E.tenant_id == tenant_id)
            return int(self.conn.execute(query).scalar() or 0)

        return QueueCounts(pending=count(_open()), failed=count(E.failed_at.is_not(None)),
                           delivered_recently=count(E.delivered_at >= since))

    def requeue(self, event_ids: list[str] | None, tenant_id: str | None, now: int,
                give_up_at: int) -> int:
        """Failed events back in the queue, due now, with a fresh give-up time."""
        query = update(t.tenant_events).where(E.failed_at.is_not(None),
                                              E.delivered_at.is_(None))
        if event_ids is not None:
            query = query.where(E.event_id.in_(event_ids))
        if tenant_id is not None:
            query = query.where(E.tenant_id == tenant_id)
        return int(self.conn.execute(query.values(
            failed_at=None, next_attempt_at=now, attempts=0, give_up_at=give_up_at)).rowcount)
