"""Forgotten passwords: a mailed single-use token, and the cool-down that follows.

The new password works for signing in at once, but lifts no activation lock until the
cool-down has passed (decide() enforces it from `password_changed_at`): a thief who
takes over the mailbox cannot immediately unlock a stolen phone.

Asking for a reset must not tell whether an account exists, not even by its timing: the
request only writes one uniform row to a queue (`reset_requests`), the same for every
address; looking the account up, making the token and writing the mail happen in the
background (`process_pending`, run by the server's maintenance loop and by
`tenure mail dispatch`). Requests are limited per client address (429 with
Retry-After) and per email address: past that limit the request is dropped silently, so
the answer stays the same and a mailbox cannot be flooded (docs/security.md).
"""

from __future__ import annotations

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput, InvalidToken, RateLimitExceeded
from tenure.domain.passwords import check_password
from tenure.domain.wording import N_

from . import notices
from .accounts import normalise_email
from .hashing import PasswordHashing
from .limits import Limit
from .ports import Tx, UnitOfWork
from .tokens import digest, new_token
from .transfers import cancel_pending_from


class PasswordReset:
    def __init__(self, uow: UnitOfWork, clock: Clock, token_ttl_minutes: int,
                 cooldown_hours: float, hashing: PasswordHashing | None = None,
                 per_address: Limit | None = None, per_email: Limit | None = None,
                 public_url: str = "") -> None:
        self.uow = uow
        self.public_url = public_url  # where the mailed link opens the portal's reset page
        self.clock = clock
        self.ttl_minutes = token_ttl_minutes
        self.cooldown_hours = cooldown_hours
        self.hashing = hashing or PasswordHashing()
        self.per_address = per_address or Limit("reset-ip", 0, 3600)
        self.per_email = per_email or Limit("reset-email", 0, 3600)

    def request(self, email: object, client_address: str) -> None:
        """Queue a reset; the same work and the same answer whether or not the account
        exists. Raises RateLimitExceeded past the per-address limit."""
        address = normalise_email(email)

        def work(tx: Tx) -> None:
            now = self.clock.now()
            wait = self.per_address.over(tx, client_address, now)
            if wait is not None:
                raise RateLimitExceeded("Too many password resets were asked from your address; "
                                  "try again later.", retry_after=wait)
            if self.per_email.over(tx, address, now) is None:
                tx.reset_requests.add(address, now)

        self.uow.run(work)

    def process_pending(self, limit: int = 100) -> int:
        """Turn queued requests into mailed tokens (for addresses with an account).
        Safe on several workers at once: each request is taken by exactly one."""
        with self.uow(readonly=True) as tx:
            due = tx.reset_requests.due(limit)
        for request_id, address in due:
            token = new_token()

            def work(tx: Tx, request_id: str = request_id, address: str = address,
                     token: str = token) -> None:
                if not tx.reset_requests.take(request_id):
                    return  # another worker has it
                account = tx.accounts.by_email(address)
                if account is None:
                    return
                now = self.clock.now()
                tx.resets.create(digest(token), account.account_id, now,
                                 now + self.ttl_minutes * 60)
                tx.audit.record(f"account:{account.account_id}",
                                "account.password_reset_requested", actor="anonymous", at=now)
                notices.password_reset_link(tx, account.email, token, now, self.ttl_minutes,
                                            self.public_url)

            self.uow.run(work)
        return len(due)

    def confirm(self, token: object, new_password: object) -> None:
        if not isinstance(token, str) or not token or len(token) > 512:
            raise InvalidInput("'token' must be the token from the reset email.")
        if not isinstance(new_password, str):
            raise InvalidInput("'new_password' must be a string.")
        check_password(new_password)
        password_hash = self.hashing.hash(new_password)

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
            cancel_pending_from(tx, account_id, now, N_("the seller's password was reset."))
            tx.throttle.clear(f"email:{account.email}")
            tx.audit.record(f"account:{account_id}", "account.password_changed",
                            actor=f"account:{account_id}", at=now, via="reset")
            notices.password_changed(tx, account.email, now, self.cooldown_hours)
            self._cancel_wipes(tx, account_id, account.email, now)

        self.uow.run(work)

    @staticmethod
    def _cancel_wipes(tx: Tx, account_id: str, email: str, now: int) -> None:
        """docs/protocol.md Part 2: a reset cancels the account's pending wipe commands —
        whoever took over the mailbox must not be able to wipe the owner's devices
        with a command queued before (or by) the takeover."""
        cancelled = tx.commands.cancel_issued(account_id, "wipe", now)
        for command_id, device_id in cancelled:
            tx.audit.record(f"device:{device_id}", "command.wipe.cancelled",
                            actor=f"account:{account_id}", at=now, command=command_id,
                            via="password-reset")
        if cancelled:
            notices.wipes_cancelled(tx, email, sorted({d for _, d in cancelled}), now)
