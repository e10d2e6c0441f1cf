"""Who is calling: account sessions (bearer tokens), their freshness, and the one rule
for owner actions that weaken a device's protection (`OwnerActions`)."""

from __future__ import annotations

from dataclasses import dataclass

from tenure.domain.decide import credential_accepted_from
from tenure.domain.errors import CredentialCoolingDown, ReauthenticationRequired, Unauthorized
from tenure.domain.model import Credential

from .ports import Tx
from .tokens import digest


@dataclass(frozen=True, slots=True)
class AccountSession:
    account_id: str
    email: str
    authenticated_at: int
    password_changed_at: int | None
    factor: str | None = None  # how the session was signed in (password, totp, recovery)

    def credential(self) -> Credential:
        return Credential(self.account_id, self.password_changed_at)

    def require_settled(self, now: int, cooldown: int) -> None:
        """A password changed by reset may not release or bypass a lock during the
        cool-down: otherwise whoever takes over the mailbox could free a stolen device
        through the portal at once, which the activation lock itself refuses."""
        accepted_from = credential_accepted_from(self.credential(), cooldown)
        if accepted_from is not None and now < accepted_from:
            raise CredentialCoolingDown(
                "The password of this account was changed recently; for the owner's "
                "protection it cannot be used for this until the cool-down has passed.",
                until=accepted_from)

    def require_fresh(self, now: int, max_age: int) -> None:
        """Removing a device or unlocking a bootloader needs a sign-in of the last minutes."""
        if now - self.authenticated_at > max_age:
            raise ReauthenticationRequired(
                f"This action needs a sign-in from the last {max_age // 60} minutes; "
                "sign in again and retry.")


@dataclass(frozen=True, slots=True)
class OwnerActions:
    """docs/protocol.md Part 2: every owner action that weakens a device's protection or
    moves it to someone else — removing a device, unbinding it, lifting lost mode,
    unlocking its bootloader — needs a fresh sign-in (`401 reauthentication-required`)
    AND a password not changed by a reset within the cool-down
    (`403 credential-cooldown` with `until`). One rule, so that no action can forget
    half of it; a new weakening action calls `require_weakening` and nothing else."""

    reauth_seconds: int
    cooldown_seconds: int

    def require_fresh(self, session: AccountSession, now: int) -> None:
        """For actions that need a recent sign-in but protect the device (lost mode on)."""
        session.require_fresh(now, self.reauth_seconds)

    def require_weakening(self, session: AccountSession, now: int) -> None:
        session.require_fresh(now, self.reauth_seconds)
        session.require_settled(now, self.cooldown_seconds)


def session_for(tx: Tx, token: str | None, now: int) -> AccountSession | None:
    """The live session a bearer token names, or None (unknown, expired or revoked)."""
    if not token or not isinstance(token, str) or len(token) > 512:
        return None
    row = tx.sessions.get(digest(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    account = tx.accounts.by_id(row.account_id)
    if account is None:
        return None
    return AccountSession(account.account_id, account.email, row.authenticated_at,
                          account.password_changed_at, row.factor)


def require_session(tx: Tx, token: str | None, now: int) -> AccountSession:
    found = session_for(tx, token, now)
    if found is None:
        raise Unauthorized("A valid account token is required; sign in with POST /v1/sessions.")
    return found
