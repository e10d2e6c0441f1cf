"""In-memory retail sales and retailer licences for the service-level unit tests (the
port RetailSales over `State`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tenure.domain.retail import License
from tenure.services.ports import RetailSaleRow

from .fake_repositories import LostRace, _Repo

__all__ = ["FakeRetail"]


class FakeRetail(_Repo):
    def sales(self, device_ids: Sequence[str]) -> dict[str, RetailSaleRow]:
        return {d: self.s.retail_sales[d] for d in device_ids if d in self.s.retail_sales}

    def put_many(self, rows: Sequence[RetailSaleRow]) -> None:
        for row in rows:
            if row.device_id not in self.s.devices:
                raise LostRace(f"foreign key: no device {row.device_id}")
            self.s.retail_sales[row.device_id] = row

    def licenses(self, tenant_id: str) -> list[License]:
        return sorted((lic for tenant, lic in self.s.licenses if tenant == tenant_id),
                      key=lambda lic: (lic.territory, lic.granted_at))

    def grant(self, tenant_id: str, territory: str, now: int) -> bool:
        mine = [(i, lic) for i, (tenant, lic) in enumerate(self.s.licenses)
                if tenant == tenant_id and lic.territory == territory]
        if any(lic.revoked_at is None for _, lic in mine):
            return False
        for i, lic in mine:
            if lic.granted_at == now:
                self.s.licenses[i] = (tenant_id, replace(lic, revoked_at=None))
                return True
        self.s.licenses.append((tenant_id, License(territory, now)))
        return True

    def revoke(self, tenant_id: str, territories: Sequence[str] | None,
               now: int) -> list[str]:
        ended = []
        for i, (tenant, lic) in enumerate(self.s.licenses):
            if (tenant == tenant_id and lic.revoked_at is None
                    and (territories is None or lic.territory in territories)):
                self.s.licenses[i] = (tenant, replace(lic, revoked_at=now))
                ended.append(lic.territory)
        return sorted(ended)
