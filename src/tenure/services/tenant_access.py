"""Who a tenant call acts for, and what a tenant may claim and see (docs/protocol.md
Part 2, "Tenants"; docs/organizations.md).

A tenant call carries `Authorization: Bearer <api key>`: `401` without a live key, `403`
for a key of another role. A tenant may claim a device only if the operator assigned it
to the tenant, or the device's bound owner consented; it sees only devices it holds a
claim on, and a device it may not see answers exactly like one that does not exist —
the same problem, the same words — so that probing reveals nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tenure.domain.errors import Forbidden, NotFound, Unauthorized
from tenure.domain.model import Claim, ClaimKind, owner_claim
from tenure.domain.provisioning import is_device_id
from tenure.domain.wording import Phrase

from . import notices
from .apikeys import live_key
from .ports import TenantRow, Tx


@dataclass(frozen=True, slots=True)
class TenantPrincipal:
    tenant_id: str
    kind: str
    name: str
    contact: str
    key_id: str

    @property
    def actor(self) -> str:
        """How audit events name the caller: by opaque id."""
        return f"tenant:{self.tenant_id}"


def require_tenant(tx: Tx, presented: str | None, kind: str) -> TenantPrincipal:
    """The tenant of kind `kind` the presented key acts for."""
    row = live_key(tx, presented)
    if row.role != kind or row.tenant_id is None:
        raise Forbidden(f"This API key has the role {row.role!r}; this needs {kind!r}.")
    tenant = tx.tenants.get(row.tenant_id)
    if tenant is None or tenant.disabled_at is not None:  # disabling revokes keys too
        raise Unauthorized("The API key is unknown or revoked.")
    return TenantPrincipal(tenant.tenant_id, tenant.kind, tenant.name, tenant.contact,
                           row.key_id)


def live_tenant(tx: Tx, tenant_id: object) -> TenantRow:
    """A tenant that is not disabled; an unknown or disabled one is `404`."""
    tenant = (tx.tenants.get(tenant_id)
              if isinstance(tenant_id, str) and 0 < len(tenant_id) <= 64 else None)
    if tenant is None or tenant.disabled_at is not None:
        raise NotFound(f"There is no tenant {str(tenant_id)[:64]!r}.")
    return tenant


def claimable(tx: Tx, tenant_id: str, device_ids: Sequence[str],
              claims: Mapping[str, Sequence[Claim]]) -> set[str]:
    """Which of these devices the tenant may claim: assigned to it, or consented by the
    account that is the device's bound owner now. Two queries for any number of devices;
    `claims` are the devices' held claims, which the caller has already read."""
    assigned = tx.tenants.assigned(tenant_id, device_ids)
    rest = [d for d in device_ids if d not in assigned]
    consents = tx.tenants.consents(tenant_id, rest) if rest else {}
    allowed = set(assigned)
    for device_id, accounts in consents.items():
        owner = owner_claim(claims.get(device_id, ()))
        if owner is not None and owner.holder in accounts:
            allowed.add(device_id)
    return allowed


def may_claim(tx: Tx, tenant: TenantPrincipal, device_id: str) -> bool:
    """May this tenant claim this one device (assigned, or consented by its owner)?"""
    if not is_device_id(device_id):
        return False
    claims = {device_id: tx.claims.active(device_id)}
    return device_id in claimable(tx, tenant.tenant_id, [device_id], claims)


def not_visible(device_id: str) -> NotFound:
    """The one answer for a device a tenant may not see, and for one that does not exist."""
    return NotFound(f"There is no device {device_id[:64]!r} among this tenant's devices.")


def held_claim(tx: Tx, tenant: TenantPrincipal, device_id: str, kind: ClaimKind) -> Claim:
    """The tenant's held claim of `kind` on the device; `404` exactly like an unknown
    device when there is none (another holder's device, a released claim, no device)."""
    claims = tx.claims.active(device_id) if is_device_id(device_id) else ()
    found = next((c for c in claims if c.kind is kind and c.holder == tenant.tenant_id), None)
    if found is None:
        raise not_visible(device_id)
    return found


def owner_email(tx: Tx, claims: Sequence[Claim]) -> str | None:
    """The bound owner's address among a device's held claims (None: not bound)."""
    owner = owner_claim(claims)
    account = tx.accounts.by_id(owner.holder) if owner is not None else None
    return account.email if account is not None else None


def release_tenant_claim(tx: Tx, claim: Claim, tenant_name: str, now: int, actor: str,
                         how: Phrase) -> bool:
    """Release a tenant's claim: audit it on the device's stream (`how` in English) and
    mail the bound owner in their language (docs/protocol.md Part 2). False when it was
    already released."""
    if not tx.claims.release(claim.claim_id, now, by=actor):
        return False
    tx.audit.record(f"device:{claim.device_id}", f"claim.{claim.kind.value}.released",
                    actor=actor, at=now, claim=claim.claim_id, tenant=claim.holder,
                    how=how.english())
    if claim.kind is ClaimKind.ORGANIZATION:
        tx.bypass_codes.drop(claim.device_id)
    email = owner_email(tx, tx.claims.active(claim.device_id))
    if email is not None:
        notices.tenant_claim_released(tx, email, claim.device_id, tenant_name, now, how)
    return True
