"""The accounts' second factor: TOTP secrets (pending or on) and recovery-code hashes.

The secret is stored as given (decision 0013): it must be readable to check codes, and
no code path logs it. Recovery codes are stored only as SHA-256 hashes."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, or_, select, update

from tenure.services.ports import TotpRow

from . import tables as t


class SecondFactorRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, account_id: str) -> TotpRow | None:
        row = self.conn.execute(select(t.account_totp)
                                .where(t.account_totp.c.account_id == account_id)).first()
        return None if row is None else TotpRow(row.account_id, row.secret, row.enabled_at,
                                                row.last_step)

    def set_pending(self, account_id: str, secret: str, now: int) -> None:
        """Insert, or replace a secret not confirmed yet (a second row loses the race on
        the primary key, and the unit of work retries)."""
        c = t.account_totp.c
        done = self.conn.execute(
            update(t.account_totp)
            .where(c.account_id == account_id, c.enabled_at.is_(None))
            .values(secret=secret, created_at=now, last_step=None)).rowcount
        if not done:
            self.conn.execute(insert(t.account_totp).values(
                account_id=account_id, secret=secret, created_at=now, enabled_at=None,
                last_step=None))

    def enable(self, account_id: str, step: int, now: int) -> bool:
        c = t.account_totp.c
        return bool(self.conn.execute(
            update(t.account_totp)
            .where(c.account_id == account_id, c.enabled_at.is_(None))
            .values(enabled_at=now, last_step=step)).rowcount)

    def use_step(self, account_id: str, step: int) -> bool:
        c = t.account_totp.c
        return bool(self.conn.execute(
            update(t.account_totp)
            .where(c.account_id == account_id, or_(c.last_step.is_(None), c.last_step < step))
            .values(last_step=step)).rowcount)

    def add_recovery(self, account_id: str, code_hashes: list[str]) -> None:
        self.conn.execute(insert(t.totp_recovery_codes), [
            {"account_id": account_id, "code_hash": h, "used_at": None} for h in code_hashes])

    def unused_recovery(self, account_id: str) -> list[str]:
        c = t.totp_recovery_codes.c
        return [r.code_hash for r in self.conn.execute(
            select(c.code_hash).where(c.account_id == account_id, c.used_at.is_(None)))]

    def use_recovery(self, account_id: str, code_hash: str, now: int) -> bool:
        c = t.totp_recovery_codes.c
        return bool(self.conn.execute(
            update(t.totp_recovery_codes)
            .where(c.account_id == account_id, c.code_hash == code_hash, c.used_at.is_(None))
            .values(used_at=now)).rowcount)

    def replace_recovery(self, account_id: str, code_hashes: list[str]) -> None:
        """New recovery codes; every earlier one, used or not, stops working."""
        self.conn.execute(delete(t.totp_recovery_codes)
                          .where(t.totp_recovery_codes.c.account_id == account_id))
        self.add_recovery(account_id, code_hashes)

    def remove(self, account_id: str) -> None:
        """Turn the second factor off: the secret and every recovery code are deleted."""
        self.conn.execute(delete(t.totp_recovery_codes)
                          .where(t.totp_recovery_codes.c.account_id == account_id))
        self.conn.execute(delete(t.account_totp)
                          .where(t.account_totp.c.account_id == account_id))
