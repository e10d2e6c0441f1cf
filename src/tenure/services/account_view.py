"""What an owner sees of their own account (the portal's account page and its
re-authentication prompt): the address, the state of the second factor, and when a
password changed by a reset may again weaken a device's protection.

A read only: nothing here decides; it shows the state the rules of `authn` and `totp`
act on, so the page can say *before* an action is refused what will refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.decide import credential_accepted_from

from .authn import OwnerActions, require_session
from .ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class AccountSummary:
    email: str
    second_factor: str  # "off", "pending" (enrolled, not confirmed) or "on"
    recovery_codes_left: int
    signed_in_at: int
    fresh_until: int  # until when this sign-in counts as recent (re-authentication)
    cooldown_until: int | None  # a reset password may weaken protection from then on


class AccountView:
    def __init__(self, uow: UnitOfWork, clock: Clock, owner_actions: OwnerActions) -> None:
        self.uow = uow
        self.clock = clock
        self.rule = owner_actions

    def __call__(self, token: str | None) -> AccountSummary:
        with self.uow(readonly=True) as tx:
            now = self.clock.now()
            session = require_session(tx, token, now)
            row = tx.second_factors.get(session.account_id)
            state = "off" if row is None else ("on" if row.enabled_at is not None
                                               else "pending")
            left = len(tx.second_factors.unused_recovery(session.account_id)) if (
                state == "on") else 0
        settled = credential_accepted_from(session.credential(), self.rule.cooldown_seconds)
        return AccountSummary(
            email=session.email, second_factor=state, recovery_codes_left=left,
            signed_in_at=session.authenticated_at,
            fresh_until=session.authenticated_at + self.rule.reauth_seconds,
            cooldown_until=settled if settled is not None and settled > now else None)
