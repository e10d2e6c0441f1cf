"""Owner accounts: registration, limited per client address (each sign-up costs an
argon2 hash and a row; see docs/security.md)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import EmailTaken, InvalidInput, RateLimitExceeded
from tenure.domain.passwords import check_password
from tenure.domain.text import text_problem
from tenure.i18n import supported

from .hashing import PasswordHashing
from .limits import Limit
from .ports import UnitOfWork

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s.\x00-\x1f\x7f]+"
                    r"(\.[^@\s.\x00-\x1f\x7f]+)+$")


def normalise_email(email: object) -> str:
    if (not isinstance(email, str) or text_problem(email, max_length=254) is not None
            or not _EMAIL.match(email.strip())):
        raise InvalidInput("'email' must be an email address.")
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class NewAccount:
    account_id: str
    email: str  # as stored: trimmed and lower-cased


class Registration:
    def __init__(self, uow: UnitOfWork, clock: Clock, hashing: PasswordHashing | None = None,
                 limit: Limit | None = None) -> None:
        self.uow = uow
        self.clock = clock
        self.hashing = hashing or PasswordHashing()
        self.limit = limit or Limit("signup-ip", 0, 3600)  # hits 0: off

    def __call__(self, email: object, password: object,
                 client_address: str = "", locale: str | None = None) -> NewAccount:
        """`locale`: the language of the sign-up (the API's `Accept-Language`, the web
        page's locale); the account's mail is written in it. One without a catalog
        here, or none, is English."""
        address = normalise_email(email)
        if not isinstance(password, str):
            raise InvalidInput("'password' must be a string.")
        check_password(password)
        limit = self.limit
        wait = (self.uow.run(lambda tx: limit.over(tx, client_address, self.clock.now()))
                if limit.hits > 0 else None)
        if wait is not None:
            raise RateLimitExceeded("Too many accounts were created from your address; "
                              "try again later.", retry_after=wait)
        password_hash = self.hashing.hash(password)  # slow: before the transaction
        account_id = secrets.token_hex(16)
        with self.uow() as tx:
            now = self.clock.now()
            if not tx.accounts.create(account_id, address, password_hash, now,
                                      supported(locale)):
                raise EmailTaken("An account with this email already exists.")
            tx.audit.record(f"account:{account_id}", "account.created",
                            actor=f"account:{account_id}", at=now)
        return NewAccount(account_id, address)
