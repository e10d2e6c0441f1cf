"""Forgotten passwords: a mailed single-use token, and the cool-down that follows.

The new password works for signing in at once, but lifts no activation lock until the
cool-down has passed (decide() enforces it from `password_changed_at`): a thief who
takes over the mailbox cannot immediately unlock a stolen phone.
"""

from __future__ import annotations

from tenure.clock import Clock
from tenure.crypto.passwords import hash_password
from tenure.domain.errors import InvalidInput, InvalidToken
from tenure.domain.passwords import check_password

from . import notices
from .accounts import normalise_email
from .ports import Tx, UnitOfWork
from .tokens import digest, new_token


class PasswordReset:
    def __init__(self, uow: UnitOfWork, clock: Clock, token_ttl_minutes: int,
                 cooldown_hours: float) -> None:
        self.uow = uow
        self.clock = clock
        self.ttl_minutes = token_ttl_minutes
        self.cooldown_hours = cooldown_hours

    def request(self, email: object) -> None:
        """Always succeeds, so that the answer does not reveal whether the account exists."""
        address = normalise_email(email)
        token = new_token()

        def work(tx: Tx) -> None:
            account = tx.accounts.by_email(address)
            if account is None:
                return
            now = self.clock.now()
            tx.resets.create(digest(token), account.account_id, now, now + self.ttl_minutes * 60)
            tx.audit.record(f"account:{account.account_id}", "account.password_reset_requested",
                            actor="anonymous", at=now)
            notices.password_reset_link(tx, account.email, token, now, self.ttl_minutes)

        self.uow.run(work)

    def confirm(self, token: object, new_password: object) -> None:
        if not isinstance(token, str) or not token or len(token) > 512:
            raise InvalidInput("'token' must be the token from the reset email.")
        if not isinstance(new_password, str):
            raise InvalidInput("'new_password' must be a string.")
        check_password(new_password)
        password_hash = hash_password(new_password)

        def work(tx: Tx) -> None:
            now = self.clock.now()
            account_id = tx.resets.redeem(digest(token), now)
            if account_id is None:
                raise InvalidToken(
                    "This reset token is unknown, used or expired; ask for a new one.")
            account = tx.accounts.by_id(account_id)
            assert account is not None
            tx.accounts.set_password(account_id, password_hash, now)
            tx.sessions.revoke_all(account_id, now)
            tx.resets.invalidate_for(account_id, now)
            tx.throttle.clear(f"email:{account.email}")
            tx.audit.record(f"account:{account_id}", "account.password_changed",
                            actor=f"account:{account_id}", at=now, via="reset")
            notices.password_changed(tx, account.email, now, self.cooldown_hours)

        self.uow.run(work)
