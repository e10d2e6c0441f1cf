"""Admin API keys and idempotency records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from tenure.services.ports.rows import PENDING, ApiKeyRow, StoredResponse

from . import tables as t
from .repositories import insert_ignoring_duplicates


def _key(r: Any) -> ApiKeyRow:
    return ApiKeyRow(r.key_id, r.secret_hash, r.role, r.name, r.revoked_at, r.tenant_id)


class ApiKeyRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, key_id: str, secret_hash: str, role: str, name: str, now: int,
               tenant_id: str | None = None) -> None:
        self.conn.execute(insert(t.api_keys).values(
            key_id=key_id, secret_hash=secret_hash, role=role, name=name, created_at=now,
            tenant_id=tenant_id))

    def get(self, key_id: str) -> ApiKeyRow | None:
        r = self.conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
        return None if r is None else _key(r)

    def all(self) -> list[ApiKeyRow]:
        rows = self.conn.execute(select(t.api_keys).order_by(t.api_keys.c.created_at))
        return [_key(r) for r in rows]

    def revoke_for_tenant(self, tenant_id: str, now: int) -> list[str]:
        """Revoke every live key of the tenant; the ids revoked."""
        k = t.api_keys.c
        ids = list(self.conn.execute(select(k.key_id).where(
            k.tenant_id == tenant_id, k.revoked_at.is_(None))).scalars())
        if ids:
            self.conn.execute(update(t.api_keys).where(k.key_id.in_(ids),
                                                       k.revoked_at.is_(None))
                              .values(revoked_at=now))
        return ids

    def revoke(self, key_id: str, now: int) -> bool:
        return self.conn.execute(
            update(t.api_keys).where(t.api_keys.c.key_id == key_id,
                                     t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount == 1


class IdempotencyRepo:
    """One row per (scope, key): reserved (status 0) before the work runs, so that a
    concurrent duplicate finds it taken, then completed with the answer to replay."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _where(self, scope: str, key: str) -> Any:
        return and_(t.idempotency_keys.c.scope == scope, t.idempotency_keys.c.key == key)

    def get(self, scope: str, key: str) -> StoredResponse | None:
        r = self.conn.execute(select(t.idempotency_keys).where(self._where(scope, key))).first()
        return None if r is None else StoredResponse(r.request_hash, r.status, r.body,
                                                     r.content_type, r.created_at)

    def reserve(self, scope: str, key: str, request_hash: str, now: int) -> bool:
        """Take the key for one execution; False when a row for it exists."""
        return insert_ignoring_duplicates(self.conn, t.idempotency_keys, {
            "scope": scope, "key": key, "request_hash": request_hash, "status": PENDING,
            "body": b"", "content_type": "", "created_at": now})

    def take_over(self, scope: str, key: str, stale_before: int, request_hash: str,
                  now: int) -> bool:
        """Take a reservation whose request died before finishing (its worker crashed)."""
        c = t.idempotency_keys.c
        return self.conn.execute(
            update(t.idempotency_keys)
            .where(self._where(scope, key), c.status == PENDING, c.created_at < stale_before)
            .values(request_hash=request_hash, created_at=now)).rowcount == 1

    def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        c = t.idempotency_keys.c
        self.conn.execute(
            update(t.idempotency_keys).where(self._where(scope, key), c.status == PENDING)
            .values(status=response.status, body=response.body,
                    content_type=response.content_type))

    def release(self, scope: str, key: str) -> None:
        """Free a reservation whose execution failed, so that a retry runs it again."""
        self.conn.execute(delete(t.idempotency_keys).where(
            self._where(scope, key), t.idempotency_keys.c.status == PENDING))

    def purge(self, before: int) -> None:
        self.conn.execute(
            delete(t.idempotency_keys).where(t.idempotency_keys.c.created_at < before))
