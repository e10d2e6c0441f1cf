"""Admin API keys and idempotency records."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from tenure.services.ports.rows import ApiKeyRow, StoredResponse

from . import tables as t
from .repositories import insert_ignoring_duplicates


class ApiKeyRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, key_id: str, secret_hash: str, role: str, name: str, now: int) -> None:
        self.conn.execute(insert(t.api_keys).values(
            key_id=key_id, secret_hash=secret_hash, role=role, name=name, created_at=now))

    def get(self, key_id: str) -> ApiKeyRow | None:
        r = self.conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
        return None if r is None else ApiKeyRow(r.key_id, r.secret_hash, r.role, r.name,
                                                r.revoked_at)

    def all(self) -> list[ApiKeyRow]:
        rows = self.conn.execute(select(t.api_keys).order_by(t.api_keys.c.created_at))
        return [ApiKeyRow(r.key_id, r.secret_hash, r.role, r.name, r.revoked_at) for r in rows]

    def revoke(self, key_id: str, now: int) -> bool:
        return self.conn.execute(
            update(t.api_keys).where(t.api_keys.c.key_id == key_id,
                                     t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount == 1


class IdempotencyRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, scope: str, key: str) -> StoredResponse | None:
        r = self.conn.execute(select(t.idempotency_keys).where(
            t.idempotency_keys.c.scope == scope, t.idempotency_keys.c.key == key)).first()
        return None if r is None else StoredResponse(r.request_hash, r.status, r.body,
                                                     r.content_type)

    def put(self, scope: str, key: str, response: StoredResponse, now: int) -> bool:
        return insert_ignoring_duplicates(self.conn, t.idempotency_keys, {
            "scope": scope, "key": key, "request_hash": response.request_hash,
            "status": response.status, "body": response.body,
            "content_type": response.content_type, "created_at": now})

    def purge(self, before: int) -> None:
        self.conn.execute(
            delete(t.idempotency_keys).where(t.idempotency_keys.c.created_at < before))
