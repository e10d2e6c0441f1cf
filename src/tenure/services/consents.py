"""An owner lets a tenant claim their device: `POST /v1/me/devices/{id}/consents`.

Consenting moves part of the device's control to someone else, so it needs the full
owner-action rule (fresh sign-in, outside the credential cool-down): whoever takes over
the mailbox cannot hand the device to a creditor or organization of their choosing.
A consent counts only while the consenting account is the device's bound owner.
"""

from __future__ import annotations

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput

from . import notices
from .authn import OwnerActions, require_session
from .ownership import owned_claim
from .ports import Tx, UnitOfWork
from .tenant_access import live_tenant


class OwnerConsent:
    def __init__(self, uow: UnitOfWork, clock: Clock, rule: OwnerActions) -> None:
        self.uow = uow
        self.clock = clock
        self.rule = rule

    def give(self, token: str | None, device_id: str, tenant_id: object) -> None:
        if not isinstance(tenant_id, str) or not tenant_id:
            raise InvalidInput("'tenant_id' is required: the id of the tenant to allow.")

        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            self.rule.require_weakening(session, now)
            owned_claim(tx, session, device_id)  # 404 unless bound to this account
            tenant = live_tenant(tx, tenant_id)
            tx.tenants.consent(device_id, tenant.tenant_id, session.account_id, now)
            tx.audit.record(f"device:{device_id}", "consent.given",
                            actor=f"account:{session.account_id}", at=now,
                            tenant=tenant.tenant_id)
            notices.consent_given(tx, session.email, device_id, tenant.name, now)

        self.uow.run(work)
