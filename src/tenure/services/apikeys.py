"""Admin API keys: role-scoped, shown once, stored as digests."""

from __future__ import annotations

import hmac
import secrets

from tenure.clock import Clock
from tenure.domain.errors import Forbidden, InvalidInput, Unauthorized
from tenure.domain.text import clean_text

from .ports import ApiKeyRow, UnitOfWork
from .tokens import digest

ROLES = ("factory", "policy", "support", "admin")
PREFIX = "tnr_"


class ApiKeys:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def create(self, role: str, name: str) -> str:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        name = clean_text(name, "name", max_length=200)
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.uow() as tx:
            now = self.clock.now()
            tx.api_keys.create(key_id, digest(secret), role, name, now)
            tx.audit.record("system", "apikey.created", actor="operator", at=now,
                            key_id=key_id, role=role, name=name)
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
        if (not presented or not presented.startswith(PREFIX)
                or "_" not in presented[len(PREFIX):]):
            raise Unauthorized("An admin API key is required (Authorization: Bearer tnr_...).")
        key_id, _, secret = presented[len(PREFIX):].partition("_")
        with self.uow(readonly=True) as tx:
            row = tx.api_keys.get(key_id)
        if row is None or row.revoked_at is not None or not hmac.compare_digest(
            row.secret_hash, digest(secret)
        ):
            raise Unauthorized("The API key is unknown or revoked.")
        if row.role not in (role, "admin"):
            raise Forbidden(f"This API key has the role {row.role!r}; this needs {role!r}.")
        return row
