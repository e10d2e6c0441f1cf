"""The operator licenses a retailer to sell into territories: `tenure tenant license`.

A licence matters to territory rules with `exempt_licensed_sales` (docs/policy.md): a
sale registered by a retailer licensed for its territory on its day exempts the device
there. Licences keep their history: revoking one ends it from now on, and sales dated
while it was in force stay licensed (their buyers bought lawfully).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput
from tenure.domain.retail import License
from tenure.geo.territories import normalise_territory

from .ports import TenantRow, Tx, UnitOfWork
from .tenant_access import live_tenant


@dataclass(frozen=True, slots=True)
class LicenseChange:
    changed: list[str]  # territories granted (or revoked) now
    unchanged: list[str]  # already so


def territories(codes: Sequence[str]) -> list[str]:
    """ISO 3166 codes, normalised; every bad one named at once."""
    found, bad = [], []
    for code in codes:
        try:
            found.append(normalise_territory(code.strip()))
        except ValueError:
            bad.append(code.strip()[:16])
    if bad:
        raise InvalidInput(f"not ISO 3166 territory codes: {', '.join(map(repr, bad))}")
    return list(dict.fromkeys(found))


class RetailerLicenses:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    @staticmethod
    def _retailer(tx: Tx, tenant_id: str) -> TenantRow:
        tenant = live_tenant(tx, tenant_id)
        if tenant.kind != "retailer":
            raise InvalidInput(f"tenant {tenant_id} is a {tenant.kind}; only retailers are "
                               "licensed for territories")
        return tenant

    def grant(self, tenant_id: str, codes: Sequence[str]) -> LicenseChange:
        wanted = territories(codes)
        if not wanted:
            raise InvalidInput("name the territories to license (--territory IR,CU)")

        def work(tx: Tx) -> LicenseChange:
            self._retailer(tx, tenant_id)
            now = self.clock.now()
            granted = [code for code in wanted if tx.retail.grant(tenant_id, code, now)]
            if granted:
                tx.audit.record(f"tenant:{tenant_id}", "retailer.licensed", actor="operator",
                                at=now, territories=granted)
            return LicenseChange(granted, [c for c in wanted if c not in granted])

        return self.uow.run(work)

    def revoke(self, tenant_id: str, codes: Sequence[str] | None) -> LicenseChange:
        """End the licences for these territories (None: every licence in force)."""
        wanted = territories(codes) if codes is not None else None

        def work(tx: Tx) -> LicenseChange:
            self._retailer(tx, tenant_id)
            now = self.clock.now()
            ended = tx.retail.revoke(tenant_id, wanted, now)
            if ended:
                tx.audit.record(f"tenant:{tenant_id}", "retailer.license_revoked",
                                actor="operator", at=now, territories=ended)
            return LicenseChange(ended, [c for c in wanted or () if c not in ended])

        return self.uow.run(work)

    def history(self, tenant_id: str) -> list[License]:
        with self.uow(readonly=True) as tx:
            self._retailer(tx, tenant_id)
            return tx.retail.licenses(tenant_id)
