"""Deleting an account (`DELETE /v1/me`, docs/protocol.md Part 2; what "gone" means is
written for users in docs/redress.md, "Deleting your account").

Refused with `409 claims-held` while the account holds any claim: a deleted holder
would leave a lock nobody can lift. Otherwise, in one transaction, everything that is
personal goes: sessions, the password hash, the email address, the second factor and
its recovery codes, reset tokens, sign-in throttle state, mail already sent to the
address, and the account's reach through the message relay. The account row stays as
a tombstone holding only its opaque id and dates, because audit events, released
claims and unlock grants name that id and must keep verifying; the address becomes
free to register again. Pending transfers the account started are cancelled.
"""

from __future__ import annotations

from tenure.clock import Clock
from tenure.domain.errors import ClaimsHeld
from tenure.domain.wording import N_

from . import redress_notices as mail
from .authn import OwnerActions, require_session
from .notices import mail_language
from .ports import Tx, UnitOfWork
from .transfers import cancel_pending_from


class AccountDeletion:
    def __init__(self, uow: UnitOfWork, clock: Clock, owner_actions: OwnerActions) -> None:
        self.uow = uow
        self.clock = clock
        self.rule = owner_actions

    def __call__(self, token: str | None) -> None:
        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            self.rule.require_weakening(session, now)
            account_id, email = session.account_id, session.email
            tx.accounts.lock(account_id)  # no bind can slip in between the check and the erase
            if tx.claims.held_by(account_id):  # any kind, any device
                raise ClaimsHeld("This account still holds devices; remove or transfer "
                                 "them (and lift lost mode) first.")
            cancel_pending_from(tx, account_id, now, N_("the seller deleted their account."))
            tx.sessions.delete_all(account_id)
            tx.second_factors.remove(account_id)
            tx.resets.delete_all(account_id)
            tx.relay.forget_owner(account_id)
            tx.throttle.clear(f"email:{email}")
            tx.outbox.forget_sent_to(email)
            language = mail_language(tx, email)  # the last mail, before the row forgets it
            tx.accounts.erase(account_id, now)
            tx.audit.record(f"account:{account_id}", "account.deleted",
                            actor=f"account:{account_id}", at=now)
            mail.account_deleted(tx, email, now, language)

        self.uow.run(work)
