"""Signing in, with throttling that slows guessing without locking owners out for good.

Attempts are counted per email address (known or not, so the answers do not reveal
which accounts exist) and per client address — counted *before* the password is
checked, in one atomic statement, so that a burst of simultaneous guesses cannot all
slip past a check that has not yet seen the others (store/limits_repo.py). The attempt
that reaches `ACCOUNT_THRESHOLD` for one email (or `ADDRESS_THRESHOLD` from one
address) pauses sign-in at once, pessimistically, for a delay that doubles with each
further failure up to one hour; while paused, attempts are refused with 429 and not
counted, and no password is checked. A success clears the email's count and takes back
its own attempt from the address's; counts whose last attempt is a day old start
again, so a shared office address is not paused forever. The owner is mailed when
their account's sign-in is first paused.

An account with its second factor on also needs `totp` (a code or a recovery code):
only once the password was right is a missing one `401 totp-required`, and a wrong
one is `401 invalid-credentials`; both leave the attempt counted, like a wrong
password, so the second factor cannot be guessed past the throttle either.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import InvalidCredentials, InvalidInput, TooManyAttempts, TotpRequired

from . import notices
from .accounts import normalise_email
from .hashing import PasswordHashing
from .ports import AccountRow, Tx, UnitOfWork
from .tokens import digest, new_token
from .totp import accepted_factor, is_on

ACCOUNT_THRESHOLD = 5
ADDRESS_THRESHOLD = 50
BASE_DELAY = 30
MAX_DELAY = 3600
FORGET_AFTER = 24 * 3600  # attempts this old no longer count (shared addresses recover)


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """One admitted attempt: its number for each key, the pause it set (if it reached a
    threshold), and the account the email names (None: unknown)."""

    keys: tuple[str, str]
    counts: tuple[int, int]
    pauses: tuple[int | None, int | None]
    account: AccountRow | None
    totp_on: bool = False


def delay_after(failures: int, threshold: int) -> int:
    """Seconds to pause after this many consecutive failures (0 below the threshold)."""
    if failures < threshold:
        return 0
    return int(min(MAX_DELAY, BASE_DELAY * 2 ** min(failures - threshold, 16)))


class SignIn:
    def __init__(self, uow: UnitOfWork, clock: Clock, session_ttl: int,
                 hashing: PasswordHashing | None = None) -> None:
        self.uow = uow
        self.clock = clock
        self.ttl = session_ttl
        self.hashing = hashing or PasswordHashing()

    def __call__(self, email: object, password: object, client_address: str,
                 totp: object = None) -> NewSession:
        address = normalise_email(email)
        if not isinstance(password, str) or not password:
            raise InvalidInput("'password' must be a non-empty string.")
        if totp is not None and not isinstance(totp, str):
            raise InvalidInput("'totp' must be a string.")
        keys = (f"email:{address}", f"ip:{client_address}")
        attempt = self.uow.run(lambda tx: self._admit(tx, keys, address))
        account = attempt.account
        ok = self.hashing.verify(account.password_hash if account else None, password[:1024])
        if not ok or account is None:
            self.uow.run(lambda tx: self._failed(tx, attempt))
            raise InvalidCredentials("The email or password is not correct.")
        if attempt.totp_on and not totp:
            self.uow.run(lambda tx: self._failed(tx, attempt))
            raise TotpRequired("This account has a second factor on; send 'totp' with a "
                               "code from the authenticator or a recovery code.")
        token = new_token()
        rehash = (self.hashing.hash(password) if self.hashing.needs_rehash(account.password_hash)
                  else None)

        def succeed(tx: Tx) -> NewSession | None:
            now = self.clock.now()
            factor = "password"
            if attempt.totp_on:
                factor = accepted_factor(tx, account.account_id, str(totp), now) or ""
                if not factor:
                    return None
            tx.throttle.clear(keys[0])
            tx.throttle.forgive(keys[1], attempt.pauses[1])
            if rehash:
                tx.accounts.rehash(account.account_id, rehash)
            tx.sessions.create(digest(token), account.account_id, now, now + self.ttl, factor)
            return NewSession(token, now + self.ttl)

        session = self.uow.run(succeed)
        if session is None:
            self.uow.run(lambda tx: self._failed(tx, attempt))
            raise InvalidCredentials("The second-factor code is not correct.")
        return session

    def sign_out(self, token: str) -> None:
        """Ends this one session (the web's sign-out); other devices stay signed in."""
        if isinstance(token, str) and token and len(token) <= 512:
            self.uow.run(lambda tx: tx.sessions.revoke(digest(token), self.clock.now()))

    def _admit(self, tx: Tx, keys: tuple[str, str], address: str) -> Attempt:
        """Count this attempt on both keys, or refuse it (counting nothing: the
        transaction rolls back) while either is paused."""
        now = self.clock.now()
        counts: list[int] = []
        pauses: list[int | None] = []
        for key, threshold in zip(keys, (ACCOUNT_THRESHOLD, ADDRESS_THRESHOLD), strict=True):
            count = tx.throttle.admit(key, now, now - FORGET_AFTER)
            if count is None:
                raise TooManyAttempts("Too many failed sign-in attempts; try again later.",
                                      retry_after=tx.throttle.blocked_until(key) - now)
            pause = None
            if count >= threshold:  # assume it fails: concurrent attempts must wait
                pause = now + delay_after(count, threshold)
                tx.throttle.block(key, pause)
            counts.append(count)
            pauses.append(pause)
        account = tx.accounts.by_email(address)
        return Attempt(keys, (counts[0], counts[1]), (pauses[0], pauses[1]), account,
                       account is not None and is_on(tx, account.account_id))

    def _failed(self, tx: Tx, attempt: Attempt) -> None:
        """The attempt was already counted; tell the owner when it paused their sign-in."""
        until = attempt.pauses[0]
        if attempt.counts[0] != ACCOUNT_THRESHOLD or until is None or attempt.account is None:
            return
        now = self.clock.now()
        account = attempt.account
        notices.sign_in_throttled(tx, account.email, ACCOUNT_THRESHOLD, until, now)
        tx.audit.record(f"account:{account.account_id}", "account.sign_in_paused",
                        actor="system", at=now, failures=ACCOUNT_THRESHOLD, until=until)
