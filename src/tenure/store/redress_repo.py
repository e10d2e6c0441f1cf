"""SQL adapters of the redress ports: ownership transfers and the message relay."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update

from tenure.services.ports.rows import RelayMessage, TransferRow

from . import tables as t
from .repositories import insert_ignoring_duplicates

PENDING = "pending"


def _transfer(row: Any) -> TransferRow:
    return TransferRow(row.transfer_id, row.device_id, row.from_account, row.to_email,
                       row.code_hash, row.created_at, row.expires_at, row.failures, row.state)


class TransferRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, row: TransferRow) -> bool:
        """Insert a pending transfer; False when the device already has one (the partial
        unique index `uq_transfers_one_pending` decides, also between racing sellers)."""
        return insert_ignoring_duplicates(self.conn, t.transfers, {
            "transfer_id": row.transfer_id, "device_id": row.device_id,
            "from_account": row.from_account, "to_email": row.to_email,
            "code_hash": row.code_hash, "created_at": row.created_at,
            "expires_at": row.expires_at, "failures": 0, "state": PENDING})

    def get(self, transfer_id: str, lock: bool = False) -> TransferRow | None:
        query = select(t.transfers).where(t.transfers.c.transfer_id == transfer_id)
        if lock:  # FOR UPDATE on PostgreSQL: racing accepts take turns
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _transfer(row)

    def expire(self, device_id: str, now: int) -> None:
        """Pending transfers of the device past their time become `expired`."""
        c = t.transfers.c
        self.conn.execute(update(t.transfers)
                          .where(c.device_id == device_id, c.state == PENDING,
                                 c.expires_at <= now)
                          .values(state="expired", ended_at=now))

    def count_failure(self, transfer_id: str) -> int:
        c = t.transfers.c
        self.conn.execute(update(t.transfers).where(c.transfer_id == transfer_id)
                          .values(failures=c.failures + 1))
        return int(self.conn.execute(select(c.failures)
                                     .where(c.transfer_id == transfer_id)).scalar_one())

    def finish(self, transfer_id: str, state: str, now: int,
               to_account: str | None = None) -> bool:
        c = t.transfers.c
        return self.conn.execute(
            update(t.transfers).where(c.transfer_id == transfer_id, c.state == PENDING)
            .values(state=state, ended_at=now, to_account=to_account)).rowcount == 1

    def pending_from(self, account_id: str, now: int) -> list[TransferRow]:
        c = t.transfers.c
        rows = self.conn.execute(select(t.transfers)
                                 .where(c.from_account == account_id, c.state == PENDING,
                                        c.expires_at > now)
                                 .order_by(c.created_at, c.transfer_id))
        return [_transfer(r) for r in rows]


def _message(row: Any) -> RelayMessage:
    return RelayMessage(row.message_id, row.device_id, row.from_addr, row.body, row.created_at,
                        row.expires_at, row.confirmed_at, row.owner_account, row.replies)


class RelayRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, message: RelayMessage, token_hash: str, client: str) -> None:
        self.conn.execute(t.relay_messages.insert().values(
            message_id=message.message_id, device_id=message.device_id,
            from_addr=message.from_addr, body=message.body, token_hash=token_hash,
            client=client, created_at=message.created_at, expires_at=message.expires_at))

    def by_token(self, token_hash: str) -> RelayMessage | None:
        row = self.conn.execute(select(t.relay_messages)
                                .where(t.relay_messages.c.token_hash == token_hash)).first()
        return None if row is None else _message(row)

    def get(self, message_id: str) -> RelayMessage | None:
        row = self.conn.execute(select(t.relay_messages)
                                .where(t.relay_messages.c.message_id == message_id)).first()
        return None if row is None else _message(row)

    def confirm(self, message_id: str, now: int, recipients: int,
                owner_account: str | None) -> bool:
        c = t.relay_messages.c
        return self.conn.execute(
            update(t.relay_messages)
            .where(c.message_id == message_id, c.confirmed_at.is_(None))
            .values(confirmed_at=now, recipients=recipients,
                    owner_account=owner_account)).rowcount == 1

    def replied(self, message_id: str) -> None:
        c = t.relay_messages.c
        self.conn.execute(update(t.relay_messages).where(c.message_id == message_id)
                          .values(replies=c.replies + 1))

    def recent(self, since: int, limit: int) -> list[dict[str, Any]]:
        """Per sender since `since`: messages asked, confirmed, relayed to nobody, replies
        — what an operator needs to see abuse (many unconfirmed: someone else's address)."""
        c = t.relay_messages.c
        confirmed = func.count(c.confirmed_at)
        rows = self.conn.execute(
            select(c.from_addr, func.count().label("asked"), confirmed.label("confirmed"),
                   func.count(c.device_id.distinct()).label("devices"),
                   func.coalesce(func.sum(c.replies), 0).label("replies"),
                   func.max(c.created_at).label("last"))
            .where(c.created_at >= since).group_by(c.from_addr)
            .order_by(func.count().desc(), c.from_addr).limit(limit))
        return [{"from": r.from_addr, "asked": int(r.asked), "confirmed": int(r.confirmed),
                 "devices": int(r.devices), "replies": int(r.replies), "last": int(r.last)}
                for r in rows]

    def forget_owner(self, account_id: str) -> None:
        """A deleted account can no longer be reached through (or reply to) the relay."""
        c = t.relay_messages.c
        self.conn.execute(update(t.relay_messages).where(c.owner_account == account_id)
                          .values(owner_account=None))
