"""Lost mode: the owner reports a device lost; it shows their message and contact.

A `lost` claim blocks every act (activation and use) and bootloader unlock, and only
its holder — the bound account — releases it. Reporting needs a fresh sign-in; lifting
it weakens the device's protection, so it needs the full owner-action rule (fresh AND
outside the credential cool-down): whoever took over the mailbox and reset the password
may correct the message and contact (report again) but cannot lift the lock.
"""

from __future__ import annotations

import re
import secrets

from tenure.clock import Clock
from tenure.domain.errors import InvalidInput
from tenure.domain.model import Claim, ClaimKind
from tenure.domain.text import clean_text

from . import notices
from .authn import OwnerActions, require_session
from .ownership import owned_claim
from .ports import Tx, UnitOfWork

MAX_MESSAGE = 350  # docs/protocol.md Part 2
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{2,30}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def _checked(message: object, contact: object) -> tuple[str, str]:
    """The message (multi-line, at most 350 characters) and the contact (required: a
    phone number or an email address), by the one text rule (domain/text.py)."""
    text = clean_text(message, "message", max_length=MAX_MESSAGE, multiline=True)
    reach = clean_text(contact, "contact", max_length=254)
    if not (_PHONE.match(reach) or _EMAIL.match(reach)):
        raise InvalidInput("'contact' is required: a phone number or an email address.")
    return text, reach


class LostMode:
    def __init__(self, uow: UnitOfWork, clock: Clock, rule: OwnerActions) -> None:
        self.uow = uow
        self.clock = clock
        self.rule = rule

    def report(self, token: str | None, device_id: str, message: object,
               contact: object) -> None:
        """Put the device in lost mode, or change the message and contact it shows."""
        text, reach = _checked(message, contact)

        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            self.rule.require_fresh(session, now)
            owned_claim(tx, session, device_id)
            actor = f"account:{session.account_id}"
            held = next((c for c in tx.claims.active(device_id)
                         if c.kind is ClaimKind.LOST and c.holder == session.account_id), None)
            if held is not None:
                if (held.message, held.contact) != (text, reach):
                    tx.claims.set_text(held.claim_id, text, reach)
                    tx.audit.record(f"device:{device_id}", "claim.lost.updated", actor=actor,
                                    at=now)
                    notices.lost_mode(tx, session.email, device_id, "changed", now)
                return
            tx.claims.add(Claim(claim_id=secrets.token_hex(16), device_id=device_id,
                                kind=ClaimKind.LOST, holder=session.account_id,
                                created_at=now, message=text, contact=reach))
            tx.audit.record(f"device:{device_id}", "claim.lost.reported", actor=actor, at=now)
            notices.lost_mode(tx, session.email, device_id, "on", now)

        self.uow.run(work)

    def found(self, token: str | None, device_id: str) -> None:
        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            self.rule.require_weakening(session, now)
            owned_claim(tx, session, device_id)  # 404 unless the device is this account's
            for claim in tx.claims.active(device_id):
                if claim.kind is ClaimKind.LOST and claim.holder == session.account_id:
                    tx.claims.release(claim.claim_id, now, by=f"account:{session.account_id}")
                    tx.audit.record(f"device:{device_id}", "claim.lost.released",
                                    actor=f"account:{session.account_id}", at=now)
                    notices.lost_mode(tx, session.email, device_id, "off", now)

        self.uow.run(work)
