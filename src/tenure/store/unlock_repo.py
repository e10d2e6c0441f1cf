"""Bootloader unlock grants, and the bootloader state devices report."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from . import tables as t
from .repositories import insert_ignoring_duplicates


class UnlockRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def grants_of(self, account_id: str, since: int) -> tuple[tuple[str, int], ...]:
        rows = self.conn.execute(
            select(t.unlock_grants.c.device_id, t.unlock_grants.c.granted_at)
            .where(t.unlock_grants.c.account_id == account_id,
                   t.unlock_grants.c.granted_at > since))
        return tuple((r.device_id, r.granted_at) for r in rows)

    def add(self, grant_id: str, device_id: str, account_id: str, bl_nonce: str, now: int,
            expires_at: int) -> None:
        self.conn.execute(insert(t.unlock_grants).values(
            grant_id=grant_id, device_id=device_id, account_id=account_id, bl_nonce=bl_nonce,
            granted_at=now, expires_at=expires_at))

    def report_bootloader(self, device_id: str, state: str, now: int,
                          current: str | None) -> None:
        """Store what the device says; `current` is the stored state, read with the device."""
        if current == state:
            return
        if current is None and insert_ignoring_duplicates(
            self.conn, t.device_bootloader,
            {"device_id": device_id, "state": state, "reported_at": now},
        ):
            return
        self.conn.execute(
            update(t.device_bootloader).where(t.device_bootloader.c.device_id == device_id)
            .values(state=state, reported_at=now))

    def bootloader(self, device_id: str) -> str | None:
        row = self.conn.execute(
            select(t.device_bootloader.c.state)
            .where(t.device_bootloader.c.device_id == device_id)).first()
        return None if row is None else str(row.state)
