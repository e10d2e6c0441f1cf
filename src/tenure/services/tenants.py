"""The operator's tenants: `tenure tenant create|list|show|assign|disable`.

A tenant is an organization (a fleet owner), a creditor (device financing) or a retailer;
its API keys act for it (services/apikeys.py) and it may claim the devices the operator
assigned to it from the maker's sales records, or whose owner consented. Disabling a
tenant revokes its keys and releases every claim it holds, each owner told by mail.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput, NotFound
from tenure.domain.provisioning import is_device_id
from tenure.domain.text import clean_text
from tenure.domain.wording import N_, Phrase

from .ports import TenantRow, Tx, UnitOfWork
from .tenant_access import release_tenant_claim

KINDS = ("organization", "creditor", "retailer")
MAX_URL = 2048
CHUNK = 10_000  # device ids looked up per query while checking an assignment file


def check_webhook_url(url: str, allow_insecure: bool) -> str:
    """An absolute https URL with a host (http too when the operator allows it, for
    development and tests: TENURE_WEBHOOK_ALLOW_INSECURE=1). Where it resolves to is
    checked on every delivery, not here: DNS can change after creation."""
    url = clean_text(url, "webhook URL", max_length=MAX_URL)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise InvalidInput(f"the webhook URL is not a URL: {exc}") from exc
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in schemes:
        hint = "" if allow_insecure else " (http only with TENURE_WEBHOOK_ALLOW_INSECURE=1)"
        raise InvalidInput(f"the webhook URL must start with https://{hint}")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise InvalidInput("the webhook URL needs a host name and no user or password")
    if parts.fragment or any(c.isspace() for c in url) or port == 0:
        raise InvalidInput("the webhook URL must have no fragment, no spaces and a valid port")
    return url


@dataclass(frozen=True, slots=True)
class AssignReport:
    """What an assignment did: new assignments, ones that already existed, unknown ids."""

    assigned: int
    already: int
    unknown: list[str] = field(default_factory=list)
    committed: bool = True


@dataclass(frozen=True, slots=True)
class DisableReport:
    keys_revoked: int
    claims_released: int


class TenantAdmin:
    def __init__(self, uow: UnitOfWork, clock: Clock, allow_insecure_webhooks: bool) -> None:
        self.uow = uow
        self.clock = clock
        self.allow_insecure = allow_insecure_webhooks

    def create(self, kind: str, name: str, contact: str = "", webhook_url: str = "") -> TenantRow:
        if kind not in KINDS:
            raise InvalidInput(f"unknown tenant kind {kind!r}; choose one of {', '.join(KINDS)}")
        name = clean_text(name, "name", max_length=200)
        contact = clean_text(contact, "contact", max_length=254) if contact else ""
        url = check_webhook_url(webhook_url, self.allow_insecure) if webhook_url else ""
        with self.uow() as tx:
            now = self.clock.now()
            tenant = TenantRow(secrets.token_hex(16), kind, name, contact, url, now)
            tx.tenants.create(tenant)
            tx.audit.record(f"tenant:{tenant.tenant_id}", "tenant.created", actor="operator",
                            at=now, kind=kind, name=name, contact=contact, webhook_url=url)
        return tenant

    def all(self) -> list[TenantRow]:
        with self.uow(readonly=True) as tx:
            return tx.tenants.all()

    def show(self, tenant_id: str) -> TenantRow:
        with self.uow(readonly=True) as tx:
            return self._tenant(tx, tenant_id)

    @staticmethod
    def _tenant(tx: Tx, tenant_id: str) -> TenantRow:
        tenant = tx.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r} (tenure tenant list shows them)")
        return tenant

    def assign(self, tenant_id: str, device_ids: Sequence[str], skip_unknown: bool = False,
               progress: Callable[[int, int], None] | None = None) -> AssignReport:
        """Assign devices to a live tenant, all in one transaction. Ids that name no
        provisioned device are reported; unless `skip_unknown`, nothing is assigned then."""
        ids = list(dict.fromkeys(device_ids))
        bad = [d for d in ids if not is_device_id(d)]
        if bad:
            raise InvalidInput(f"{len(bad)} lines are not device ids, e.g. {bad[0][:80]!r}; "
                               "nothing was assigned")

        def work(tx: Tx) -> AssignReport:
            now = self.clock.now()
            tenant = self._tenant(tx, tenant_id)
            if tenant.disabled_at is not None:
                raise InvalidInput(f"tenant {tenant_id} is disabled")
            known: list[str] = []
            unknown: list[str] = []
            for start in range(0, len(ids), CHUNK):
                part = ids[start:start + CHUNK]
                found = tx.devices.existing_ids(part)
                for device_id in part:
                    (known if device_id in found else unknown).append(device_id)
                if progress is not None:
                    progress(min(start + CHUNK, len(ids)), len(ids))
            if unknown and not skip_unknown:
                return AssignReport(0, 0, unknown, committed=False)
            already: set[str] = set()
            for start in range(0, len(known), CHUNK):
                already |= tx.tenants.assigned(tenant_id, known[start:start + CHUNK])
            fresh = [d for d in known if d not in already]
            tx.tenants.assign(tenant_id, fresh, now)
            for start in range(0, len(fresh), CHUNK):  # each device's trail says who got it
                tx.audit.record_many("tenant.device_assigned", "operator", now, [
                    (f"device:{d}", {"tenant": tenant_id})
                    for d in fresh[start:start + CHUNK]])
            tx.audit.record(f"tenant:{tenant_id}", "tenant.devices_assigned",
                            actor="operator", at=now, assigned=len(fresh),
                            already=len(already), unknown=len(unknown))
            return AssignReport(len(fresh), len(already), unknown)

        report = self.uow.run(work)
        return report

    def disable(self, tenant_id: str) -> DisableReport:
        """Revoke the tenant's keys and release every claim it holds, in one transaction."""

        def work(tx: Tx) -> DisableReport:
            now = self.clock.now()
            tenant = self._tenant(tx, tenant_id)
            if not tx.tenants.disable(tenant_id, now):
                raise InvalidInput(f"tenant {tenant_id} is already disabled")
            keys = tx.api_keys.revoke_for_tenant(tenant_id, now)
            released = sum(
                release_tenant_claim(tx, claim, tenant.name, now, actor="operator",
                                     how=Phrase.of(N_("the operator disabled the tenant")))
                for claim in tx.claims.held_by(tenant_id))
            tx.audit.record(f"tenant:{tenant_id}", "tenant.disabled", actor="operator",
                            at=now, keys_revoked=keys, claims_released=released)
            return DisableReport(len(keys), released)

        return self.uow.run(work)
