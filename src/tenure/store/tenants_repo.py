"""Tenants, their device assignments and owners' consents, the tenants' webhook event
outbox, and organization bypass codes.

The batch reads take a list of device ids and answer in one query (`_among`: one array
parameter on PostgreSQL), so that a fleet claim of 10,000 devices is a handful of
statements, not thousands of round trips.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from tenure.services.ports.rows import BypassCodeRow, TenantRow

from . import tables as t
from .repositories import _among, insert_ignoring_duplicates


def _tenant(r: Any) -> TenantRow:
    return TenantRow(r.tenant_id, r.kind, r.name, r.contact, r.webhook_url, r.created_at,
                     r.disabled_at)


class TenantRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, tenant: TenantRow) -> None:
        self.conn.execute(insert(t.tenants).values(
            tenant_id=tenant.tenant_id, kind=tenant.kind, name=tenant.name,
            contact=tenant.contact, webhook_url=tenant.webhook_url,
            created_at=tenant.created_at, disabled_at=tenant.disabled_at))

    def get(self, tenant_id: str) -> TenantRow | None:
        r = self.conn.execute(select(t.tenants).where(t.tenants.c.tenant_id == tenant_id)).first()
        return None if r is None else _tenant(r)

    def all(self) -> list[TenantRow]:
        rows = self.conn.execute(select(t.tenants).order_by(t.tenants.c.created_at,
                                                            t.tenants.c.tenant_id))
        return [_tenant(r) for r in rows]

    def disable(self, tenant_id: str, now: int) -> bool:
        return self.conn.execute(
            update(t.tenants).where(t.tenants.c.tenant_id == tenant_id,
                                    t.tenants.c.disabled_at.is_(None))
            .values(disabled_at=now)).rowcount == 1

    def assign(self, tenant_id: str, device_ids: Sequence[str], now: int) -> int:
        """Assign devices (known ones: the caller checked); returns how many were new."""
        ids = list(dict.fromkeys(device_ids))
        if not ids:
            return 0
        already = self.assigned(tenant_id, ids)
        fresh = [d for d in ids if d not in already]
        if fresh:
            self.conn.execute(insert(t.tenant_devices), [
                {"device_id": d, "tenant_id": tenant_id, "assigned_at": now} for d in fresh])
        return len(fresh)

    def assigned(self, tenant_id: str, device_ids: Sequence[str]) -> set[str]:
        if not device_ids:
            return set()
        td = t.tenant_devices.c
        rows = self.conn.execute(select(td.device_id).where(
            td.tenant_id == tenant_id, _among(self.conn, td.device_id, list(device_ids))))
        return {r.device_id for r in rows}

    def consent(self, device_id: str, tenant_id: str, account_id: str, now: int) -> None:
        insert_ignoring_duplicates(self.conn, t.consents, {
            "device_id": device_id, "tenant_id": tenant_id, "account_id": account_id,
            "at": now})

    def consents(self, tenant_id: str, device_ids: Sequence[str]) -> dict[str, set[str]]:
        """The accounts that consented, per device, among these devices."""
        found: dict[str, set[str]] = {}
        if not device_ids:
            return found
        c = t.consents.c
        rows = self.conn.execute(select(c.device_id, c.account_id).where(
            c.tenant_id == tenant_id, _among(self.conn, c.device_id, list(device_ids))))
        for r in rows:
            found.setdefault(r.device_id, set()).add(r.account_id)
        return found


class EventRepo:
    """Rows for the webhook dispatcher: `seq` orders a (tenant, device)'s events; two
    emits racing for one number collide on the unique index and the unit of work
    retries the loser."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def emit(self, tenant_id: str, event: str, device_id: str, at: int,
             fields: Mapping[str, Any]) -> str:
        e = t.tenant_events.c
        last = self.conn.execute(select(func.max(e.seq)).where(
            e.tenant_id == tenant_id, e.device_id == device_id)).scalar()
        event_id = secrets.token_hex(16)
        payload = {**fields, "id": event_id, "aud": tenant_id, "event": event,
                   "device_id": device_id, "at": at}
        self.conn.execute(insert(t.tenant_events).values(
            event_id=event_id, tenant_id=tenant_id, device_id=device_id,
            seq=int(last or 0) + 1, event=event,
            payload=json.dumps(payload, sort_keys=True, separators=(",", ":")),
            created_at=at, next_attempt_at=at, attempts=0))
        return event_id


class BypassCodeRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, device_id: str) -> BypassCodeRow | None:
        r = self.conn.execute(select(t.bypass_codes)
                              .where(t.bypass_codes.c.device_id == device_id)).first()
        return None if r is None else BypassCodeRow(r.device_id, r.tenant_id, r.code_hash,
                                                    r.issued_at, r.spent_at)

    def put(self, row: BypassCodeRow) -> None:
        """The device's new code, replacing the previous one (which stops working)."""
        self.drop(row.device_id)
        self.conn.execute(insert(t.bypass_codes).values(
            device_id=row.device_id, tenant_id=row.tenant_id, code_hash=row.code_hash,
            issued_at=row.issued_at, spent_at=row.spent_at))

    def spend(self, device_id: str, code_hash: str, now: int) -> bool:
        b = t.bypass_codes.c
        return self.conn.execute(
            update(t.bypass_codes)
            .where(b.device_id == device_id, b.code_hash == code_hash, b.spent_at.is_(None))
            .values(spent_at=now)).rowcount == 1

    def drop(self, device_id: str) -> None:
        self.conn.execute(delete(t.bypass_codes).where(t.bypass_codes.c.device_id == device_id))
