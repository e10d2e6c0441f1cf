"""Registered retail sales and retailers' territory licences (docs/retailers.md).

A report of 10,000 sales is a handful of statements: one batched read of the devices'
current sales, one delete of the ones being replaced and one multi-row insert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from tenure.domain.retail import License
from tenure.services.ports.rows import RetailSaleRow

from . import tables as t
from .repositories import _among


def _sale(r: Any) -> RetailSaleRow:
    return RetailSaleRow(r.device_id, r.tenant_id, r.sold_on, r.territory, bool(r.licensed),
                         r.registered_at)


class RetailRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def sales(self, device_ids: Sequence[str]) -> dict[str, RetailSaleRow]:
        if not device_ids:
            return {}
        s = t.retail_sales.c
        rows = self.conn.execute(select(t.retail_sales).where(
            _among(self.conn, s.device_id, list(device_ids))))
        return {r.device_id: _sale(r) for r in rows}

    def put_many(self, rows: Sequence[RetailSaleRow]) -> None:
        """Store these sales, replacing each device's previous one."""
        if not rows:
            return
        s = t.retail_sales.c
        self.conn.execute(delete(t.retail_sales).where(
            _among(self.conn, s.device_id, [r.device_id for r in rows])))
        self.conn.execute(insert(t.retail_sales), [
            {"device_id": r.device_id, "tenant_id": r.tenant_id, "sold_on": r.sold_on,
             "territory": r.territory, "licensed": r.licensed,
             "registered_at": r.registered_at} for r in rows])

    def licenses(self, tenant_id: str) -> list[License]:
        lic = t.retailer_licenses.c
        rows = self.conn.execute(select(t.retailer_licenses).where(lic.tenant_id == tenant_id)
                                 .order_by(lic.territory, lic.granted_at))
        return [License(r.territory, r.granted_at, r.revoked_at) for r in rows]

    def grant(self, tenant_id: str, territory: str, now: int) -> bool:
        """A licence from now; False when one for that territory is already in force."""
        lic = t.retailer_licenses.c
        current = self.conn.execute(select(lic.granted_at).where(
            lic.tenant_id == tenant_id, lic.territory == territory,
            lic.revoked_at.is_(None))).first()
        if current is not None:
            return False
        if self.conn.execute(update(t.retailer_licenses).where(
                lic.tenant_id == tenant_id, lic.territory == territory,
                lic.granted_at == now).values(revoked_at=None)).rowcount:
            return True  # revoked and granted again within one second: one licence
        self.conn.execute(insert(t.retailer_licenses).values(
            tenant_id=tenant_id, territory=territory, granted_at=now, revoked_at=None))
        return True

    def revoke(self, tenant_id: str, territories: Sequence[str] | None,
               now: int) -> list[str]:
        """End the licences in force (for these territories, or all); the territories
        whose licence ended."""
        lic = t.retailer_licenses.c
        where = [lic.tenant_id == tenant_id, lic.revoked_at.is_(None)]
        if territories is not None:
            where.append(lic.territory.in_(list(territories)))
        ended = [r.territory for r in self.conn.execute(select(lic.territory).where(*where))]
        if ended:
            self.conn.execute(update(t.retailer_licenses).where(*where).values(revoked_at=now))
        return sorted(ended)
