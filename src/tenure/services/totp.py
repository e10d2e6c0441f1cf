"""The accounts' second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of
drift either way) with 10 single-use recovery codes (docs/protocol.md Part 2, Accounts).

Enrolling needs a fresh sign-in, so a stolen long-lived token cannot bind the account to
an attacker's authenticator. The secret is shown once and never logged (decision 0013).
Every code is accepted once: the account stores the last time-step it accepted and
takes only later ones, in one atomic update; recovery codes are kept as SHA-256 hashes
(they carry 80 random bits, so a fast hash is enough) and marked used atomically.
Time-steps come from the injected clock only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput, NotFound, TotpEnabled

from . import notices, redress_notices
from .authn import OwnerActions, require_session
from .ports import Tx, UnitOfWork

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
ISSUER = "Tenure"


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def matching_step(secret: str, code: str, now: int) -> int | None:
    """The time-step within the drift window whose code this is, or None."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = now // STEP_SECONDS
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in "- ")


def recovery_hash(code: str) -> str:
    return hashlib.sha256(normalise_recovery(code).encode()).hexdigest()


def new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 80 bits, 16 characters
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4)).lower()


def accept_code(tx: Tx, account_id: str, code: str, now: int) -> bool:
    """Accept a current TOTP code or an unused recovery code, once, for an account whose
    second factor is on; False for anything else."""
    return accepted_factor(tx, account_id, code, now) is not None


def accepted_factor(tx: Tx, account_id: str, code: str, now: int) -> str | None:
    """As accept_code, telling which factor it was: "totp", "recovery" or None. A session
    records it: the support role needs one opened with a second factor."""
    row = tx.second_factors.get(account_id)
    if row is None or row.enabled_at is None or len(code) > 64:
        return None
    step = matching_step(row.secret, code, now)
    if step is not None:
        return "totp" if tx.second_factors.use_step(account_id, step) else None
    wanted = recovery_hash(code)
    match = None
    for stored in tx.second_factors.unused_recovery(account_id):
        if hmac.compare_digest(stored, wanted):
            match = stored
    if match is not None and tx.second_factors.use_recovery(account_id, match, now):
        return "recovery"
    return None


def is_on(tx: Tx, account_id: str) -> bool:
    row = tx.second_factors.get(account_id)
    return row is not None and row.enabled_at is not None


class SecondFactor:
    def __init__(self, uow: UnitOfWork, clock: Clock, owner_actions: OwnerActions) -> None:
        self.uow = uow
        self.clock = clock
        self.owner_actions = owner_actions

    def enroll(self, token: str | None) -> Enrolment:
        """A new pending secret (replacing one not confirmed yet); `409` once it is on."""
        secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends

        def work(tx: Tx) -> Enrolment:
            now = self.clock.now()
            session = require_session(tx, token, now)
            self.owner_actions.require_fresh(session, now)
            tx.accounts.lock(session.account_id)
            if is_on(tx, session.account_id):
                raise TotpEnabled("The second factor is already on for this account.")
            tx.second_factors.set_pending(session.account_id, secret, now)
            uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
                name=session.email, issuer_name=ISSUER)
            return Enrolment(secret, uri)

        return self.uow.run(work)

    def confirm(self, token: str | None, code: object) -> list[str]:
        """Turn the pending secret on with a current code; the 10 recovery codes, once."""
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]

        def work(tx: Tx) -> list[str]:
            now = self.clock.now()
            session = require_session(tx, token, now)
            account_id = session.account_id
            if not isinstance(code, str) or not code:
                raise InvalidInput("'code' must be a string of 6 digits.")
            tx.accounts.lock(account_id)
            row = tx.second_factors.get(account_id)
            if row is not None and row.enabled_at is not None:
                raise TotpEnabled("The second factor is already on for this account.")
            if row is None:
                raise InvalidInput("No second factor is being set up; "
                                   "start with POST /v1/me/totp.")
            step = matching_step(row.secret, code, now)
            if step is None or not tx.second_factors.enable(account_id, step, now):
                raise InvalidInput("The code is not correct for the secret being set up.")
            tx.second_factors.add_recovery(account_id, [recovery_hash(c) for c in codes])
            tx.audit.record(f"account:{account_id}", "account.totp_enabled",
                            actor=f"account:{account_id}", at=now)
            notices.totp_enabled(tx, session.email, now)
            return codes

        return self.uow.run(work)

    def disable(self, token: str | None, code: object) -> None:
        """`DELETE /v1/me/totp` (our extension): fresh token + a current code → off."""
        def work(tx: Tx) -> None:
            account_id, email, now = self._checked(tx, token, code)
            tx.second_factors.remove(account_id)
            tx.audit.record(f"account:{account_id}", "account.totp_disabled",
                            actor=f"account:{account_id}", at=now)
            redress_notices.totp_changed(tx, email, "off", now)

        self.uow.run(work)

    def regenerate(self, token: str | None, code: object) -> list[str]:
        """`POST /v1/me/totp/recovery-codes` (our extension): 10 new recovery codes, shown
        once; every earlier one stops working."""
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]

        def work(tx: Tx) -> list[str]:
            account_id, email, now = self._checked(tx, token, code)
            tx.second_factors.replace_recovery(account_id, [recovery_hash(c) for c in codes])
            tx.audit.record(f"account:{account_id}", "account.totp_recovery_regenerated",
                            actor=f"account:{account_id}", at=now)
            redress_notices.totp_changed(tx, email, "recovery", now)
            return codes

        return self.uow.run(work)

    def _checked(self, tx: Tx, token: str | None, code: object) -> tuple[str, str, int]:
        now = self.clock.now()
        session = require_session(tx, token, now)
        self.owner_actions.require_fresh(session, now)
        if not isinstance(code, str) or not code:
            raise InvalidInput("'code' must be a current code of your authenticator, or "
                               "an unused recovery code.")
        tx.accounts.lock(session.account_id)
        if not is_on(tx, session.account_id):
            raise NotFound("The second factor is not on for this account.")
        if not accept_code(tx, session.account_id, code, now):
            raise InvalidInput("The code is not correct (or was already used).")
        return session.account_id, session.email, now
