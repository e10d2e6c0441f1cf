"""Signing in, with throttling that slows guessing without locking owners out for good.

Failures are counted per email address (known or not, so the answers do not reveal
which accounts exist) and per client address. After `ACCOUNT_THRESHOLD` consecutive
failures for one email, or `ADDRESS_THRESHOLD` from one address, sign-in pauses for a
delay that doubles with each further failure, up to one hour. A success clears the
email's count; counts whose last failure is a day old start again, so a shared office
address is not paused forever. The owner is mailed when their account's sign-in is
first paused.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.crypto.passwords import hash_password, needs_rehash, verify_password
from tenure.domain.errors import InvalidCredentials, InvalidInput, TooManyAttempts

from . import notices
from .accounts import normalise_email
from .ports import Tx, UnitOfWork
from .tokens import digest, new_token

ACCOUNT_THRESHOLD = 5
ADDRESS_THRESHOLD = 50
BASE_DELAY = 30
MAX_DELAY = 3600
FORGET_AFTER = 24 * 3600  # failures this old no longer count (shared addresses recover)


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    expires_at: int


def delay_after(failures: int, threshold: int) -> int:
    """Seconds to pause after this many consecutive failures (0 below the threshold)."""
    if failures < threshold:
        return 0
    return int(min(MAX_DELAY, BASE_DELAY * 2 ** min(failures - threshold, 16)))


class SignIn:
    def __init__(self, uow: UnitOfWork, clock: Clock, session_ttl: int) -> None:
        self.uow = uow
        self.clock = clock
        self.ttl = session_ttl

    def __call__(self, email: object, password: object, client_address: str) -> NewSession:
        address = normalise_email(email)
        if not isinstance(password, str) or not password:
            raise InvalidInput("'password' must be a non-empty string.")
        keys = (f"email:{address}", f"ip:{client_address}")
        with self.uow(readonly=True) as tx:
            self._refuse_if_paused(tx, keys)
            account = tx.accounts.by_email(address)
        ok = verify_password(account.password_hash if account else None, password[:1024])
        if not ok or account is None:
            self.uow.run(lambda tx: self._count_failure(tx, keys, address))
            raise InvalidCredentials("The email or password is not correct.")
        token = new_token()
        rehash = hash_password(password) if needs_rehash(account.password_hash) else None

        def succeed(tx: Tx) -> NewSession:
            now = self.clock.now()
            tx.throttle.clear(keys[0])
            if rehash:
                tx.accounts.rehash(account.account_id, rehash)
            tx.sessions.create(digest(token), account.account_id, now, now + self.ttl)
            return NewSession(token, now + self.ttl)

        return self.uow.run(succeed)

    def _refuse_if_paused(self, tx: Tx, keys: tuple[str, ...]) -> None:
        now = self.clock.now()
        rows = tx.throttle.get_many(keys)
        until = max((r.blocked_until for r in rows.values()), default=0)
        if until > now:
            raise TooManyAttempts(
                "Too many failed sign-in attempts; try again later.", retry_after=until - now)

    def _count_failure(self, tx: Tx, keys: tuple[str, ...], address: str) -> None:
        now = self.clock.now()
        for key, threshold in zip(keys, (ACCOUNT_THRESHOLD, ADDRESS_THRESHOLD), strict=True):
            failures = tx.throttle.record_failure(key, now, now - FORGET_AFTER)
            if failures < threshold:
                continue
            until = now + delay_after(failures, threshold)
            tx.throttle.block(key, until)
            if key == keys[0] and failures == threshold:
                account = tx.accounts.by_email(address)
                if account is not None:
                    notices.sign_in_throttled(tx, account.email, failures, until, now)
                    tx.audit.record(f"account:{account.account_id}", "account.sign_in_paused",
                                    actor="system", at=now, failures=failures, until=until)
