"""The support role: accounts an operator names on the CLI (`tenure support add EMAIL`).

The role works only for a session opened with a second factor, on an account whose
second factor is on: a support agent can release other people's devices, so a stolen
password alone must not be enough (docs/redress.md). Everything else is refused with
`403 forbidden`, saying what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import Forbidden, NotFound

from .accounts import normalise_email
from .authn import AccountSession, require_session
from .ports import Tx, UnitOfWork
from .totp import is_on

SECOND_FACTORS = ("totp", "recovery")


@dataclass(frozen=True, slots=True)
class Agent:
    account_id: str
    email: str
    added_at: int
    totp_on: bool


def require_agent(tx: Tx, token: str | None, now: int) -> AccountSession:
    session = require_session(tx, token, now)
    if not tx.support_agents.has(session.account_id):
        raise Forbidden("This account is not a support agent.")
    if not is_on(tx, session.account_id):
        raise Forbidden("The support role works only once this account has its second "
                        "factor on (POST /v1/me/totp).")
    if session.factor not in SECOND_FACTORS:
        raise Forbidden("The support role needs a session signed in with a second-factor "
                        "code; sign in again with 'totp'.")
    return session


class SupportRole:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def add(self, email: object) -> Agent:
        def work(tx: Tx) -> Agent:
            now = self.clock.now()
            account = tx.accounts.by_email(normalise_email(email))
            if account is None:
                raise NotFound("No account with this email; the person signs up first.")
            if tx.support_agents.add(account.account_id, now):
                tx.audit.record(f"account:{account.account_id}", "support.role_added",
                                actor="operator", at=now)
            return Agent(account.account_id, account.email, now,
                         is_on(tx, account.account_id))

        return self.uow.run(work)

    def remove(self, email: object) -> bool:
        def work(tx: Tx) -> bool:
            now = self.clock.now()
            account = tx.accounts.by_email(normalise_email(email))
            if account is None:
                raise NotFound("No account with this email.")
            removed = tx.support_agents.remove(account.account_id)
            if removed:
                tx.audit.record(f"account:{account.account_id}", "support.role_removed",
                                actor="operator", at=now)
            return removed

        return self.uow.run(work)

    def list(self) -> list[Agent]:
        with self.uow(readonly=True) as tx:
            return [Agent(a, e, at, is_on(tx, a)) for a, e, at in tx.support_agents.all()]
