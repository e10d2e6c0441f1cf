"""Lost mode: the owner reports a device lost; it shows their message and contact.

A `lost` claim blocks every act (activation and use) and bootloader unlock, and only
its holder — the bound account — releases it.
"""

from __future__ import annotations

import secrets

from tenure.clock import Clock
from tenure.domain.model import Claim, ClaimKind
from tenure.domain.text import clean_text

from .authn import require_session
from .ownership import owned_claim
from .ports import Tx, UnitOfWork


class LostMode:
    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def report(self, token: str | None, device_id: str, message: object,
               contact: object) -> None:
        text = clean_text(message, "message", max_length=500, multiline=True)
        reach = clean_text(contact, "contact", max_length=255, required=False)

        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            owned_claim(tx, session, device_id)
            if any(c.kind is ClaimKind.LOST for c in tx.claims.active(device_id)):
                return  # already lost: reporting again changes nothing
            tx.claims.add(Claim(claim_id=secrets.token_hex(16), device_id=device_id,
                                kind=ClaimKind.LOST, holder=session.account_id,
                                created_at=now, message=text, contact=reach))
            tx.audit.record(f"device:{device_id}", "claim.lost.reported",
                            actor=f"account:{session.account_id}", at=now)

        self.uow.run(work)

    def found(self, token: str | None, device_id: str) -> None:
        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            owned_claim(tx, session, device_id)  # 404 unless the device is this account's
            for claim in tx.claims.active(device_id):
                if claim.kind is ClaimKind.LOST and claim.holder == session.account_id:
                    tx.claims.release(claim.claim_id, now, by=f"account:{session.account_id}")
                    tx.audit.record(f"device:{device_id}", "claim.lost.released",
                                    actor=f"account:{session.account_id}", at=now)

        self.uow.run(work)
