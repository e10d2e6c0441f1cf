"""The transactional outbox: mail is written with the change it reports, sent afterwards."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from tenure.services.ports.deliveries import MailEntry, QueueCounts
from tenure.services.ports.rows import OutboxMessage

from . import tables as t


class Outbox:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def enqueue(self, to_addr: str, subject: str, body: str, now: int) -> None:
        self.conn.execute(insert(t.outbox).values(
            message_id=secrets.token_hex(16), created_at=now, to_addr=to_addr,
            subject=subject, body=body, next_attempt_at=now))

    def forget_sent_to(self, address: str) -> None:
        """Delete the mail already sent to an address (a deleted account's history);
        mail not sent yet (the goodbye) still goes out."""
        self.conn.execute(delete(t.outbox).where(t.outbox.c.to_addr == address,
                                                 t.outbox.c.sent_at.is_not(None)))

    def due(self, now: int, limit: int = 100) -> list[OutboxMessage]:
        rows = self.conn.execute(
            select(t.outbox).where(t.outbox.c.sent_at.is_(None), t.outbox.c.next_attempt_at <= now)
            .order_by(t.outbox.c.created_at).limit(limit))
        return [OutboxMessage(r.message_id, r.to_addr, r.subject, r.body, r.attempts) for r in rows]

    def lease(self, message_id: str, now: int, seconds: int) -> bool:
        """Take a due message for `seconds`; False when another dispatcher has it."""
        return self.conn.execute(
            update(t.outbox).where(t.outbox.c.message_id == message_id,
                                   t.outbox.c.sent_at.is_(None),
                                   t.outbox.c.next_attempt_at <= now)
            .values(next_attempt_at=now + seconds)).rowcount == 1

    def mark_sent(self, message_id: str, now: int) -> bool:
        """Claim the message as sent; False when another dispatcher already did."""
        return self.conn.execute(
            update(t.outbox).where(t.outbox.c.message_id == message_id,
                                   t.outbox.c.sent_at.is_(None))
            .values(sent_at=now)).rowcount == 1

    def mark_failed(self, message_id: str, attempts: int, retry_at: int, error: str) -> None:
        self.conn.execute(
            update(t.outbox).where(t.outbox.c.message_id == message_id)
            .values(attempts=attempts, next_attempt_at=retry_at, last_error=error[:2000]))

    def listing(self, failed_only: bool, limit: int) -> list[MailEntry]:
        """Unsent messages (only those whose last attempt failed), oldest first."""
        o = t.outbox.c
        query = select(o.message_id, o.subject, o.created_at, o.attempts, o.next_attempt_at,
                       o.last_error, o.sent_at).where(o.sent_at.is_(None))
        if failed_only:
            query = query.where(o.last_error.is_not(None))
        rows = self.conn.execute(query.order_by(o.created_at, o.message_id).limit(limit))
        return [MailEntry(r.message_id, r.subject, r.created_at, r.attempts,
                          r.next_attempt_at, r.last_error, r.sent_at) for r in rows]

    def counts(self, since: int) -> QueueCounts:
        o = t.outbox.c

        def count(*where: Any) -> int:
            return int(self.conn.execute(
                select(func.count()).select_from(t.outbox).where(*where)).scalar() or 0)

        return QueueCounts(pending=count(o.sent_at.is_(None)),
                           failed=count(o.sent_at.is_(None), o.last_error.is_not(None)),
                           delivered_recently=count(o.sent_at >= since))

    def requeue(self, message_ids: list[str] | None, now: int) -> int:
        """Unsent messages that failed before: due now, their back-off started over."""
        o = t.outbox.c
        query = update(t.outbox).where(o.sent_at.is_(None), o.last_error.is_not(None))
        if message_ids is not None:
            query = query.where(o.message_id.in_(message_ids))
        return int(self.conn.execute(query.values(next_attempt_at=now, attempts=0)).rowcount)
