"""API keys: role-scoped, shown once, stored as digests. Admin roles (factory, policy,
admin) act for the operator; tenant roles (organization, creditor, retailer) act for one
tenant of the matching kind, named at creation (docs/organizations.md)."""

from __future__ import annotations

import hmac
import secrets

from tenure.clock import Clock
from tenure.domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from tenure.domain.text import clean_text

from .ports import ApiKeyRow, Tx, UnitOfWork
from .tokens import digest

ADMIN_ROLES = ("factory", "policy", "support", "admin")
TENANT_ROLES = ("organization", "creditor", "retailer")  # each the kind of tenant it serves
ROLES = ADMIN_ROLES + TENANT_ROLES
PREFIX = "tnr_"


def live_key(tx: Tx, presented: str | None) -> ApiKeyRow:
    """The live key an `Authorization: Bearer tnr_...` value names (401 otherwise)."""
    if (not presented or not presented.startswith(PREFIX)
            or "_" not in presented[len(PREFIX):] or len(presented) > 256):
        raise Unauthorized("An API key is required (Authorization: Bearer tnr_...).")
    key_id, _, secret = presented[len(PREFIX):].partition("_")
    row = tx.api_keys.get(key_id)
    if row is None or row.revoked_at is not None or not hmac.compare_digest(
        row.secret_hash, digest(secret)
    ):
        raise Unauthorized("The API key is unknown or revoked.")
    return row


class ApiKeys:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def create(self, role: str, name: str, tenant_id: str | None = None) -> str:
        """A new key, shown once. A tenant role needs a live tenant of that kind; an
        admin role takes none."""
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        if role in TENANT_ROLES and not tenant_id:
            raise InvalidInput(f"a key of role {role!r} acts for a tenant: pass --tenant "
                               "TENANT_ID (tenure tenant list shows them)")
        if role not in TENANT_ROLES and tenant_id:
            raise InvalidInput(f"a key of role {role!r} is the operator's: it takes no tenant")
        name = clean_text(name, "name", max_length=200)
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.uow() as tx:
            now = self.clock.now()
            if tenant_id is not None:
                tenant = tx.tenants.get(tenant_id)
                if tenant is None or tenant.disabled_at is not None:
                    raise NotFound(f"no live tenant {tenant_id!r}")
                if tenant.kind != role:
                    raise InvalidInput(f"tenant {tenant_id} is a {tenant.kind}; a key of "
                                       f"role {role!r} needs a tenant of kind {role!r}")
            tx.api_keys.create(key_id, digest(secret), role, name, now, tenant_id)
            tx.audit.record("system", "apikey.created", actor="operator", at=now,
                            key_id=key_id, role=role, name=name, tenant=tenant_id)
        return f"{PREFIX}{key_id}_{secret}"

    def revoke(self, key_id: str) -> bool:
        with self.uow() as tx:
            now = self.clock.now()
            done = tx.api_keys.revoke(key_id, now)
            if done:
                tx.audit.record("system", "apikey.revoked", actor="operator", at=now,
                                key_id=key_id)
            return done

    def all_keys(self) -> list[ApiKeyRow]:
        with self.uow(readonly=True) as tx:
            return tx.api_keys.all()

    def require_role(self, presented: str | None, role: str) -> ApiKeyRow:
        """The admin key presented, if it is live and has `role` (or `admin`)."""
        with self.uow(readonly=True) as tx:
            row = live_key(tx, presented)
        if row.role not in (role, "admin"):
            raise Forbidden(f"This API key has the role {row.role!r}; this needs {role!r}.")
        return row
