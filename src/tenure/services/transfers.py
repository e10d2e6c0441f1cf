"""Ownership transfer: a sale without a reset (docs/protocol.md Part 2, "Buyers and redress").

The seller (fresh sign-in, outside the credential cool-down: moving a device to someone
else weakens its protection as much as removing it) names the buyer's address; the buyer
is mailed a code and accepts with it while signed in to that address's account. The
owner claim then moves in ONE transaction that re-checks everything the start checked,
because days may pass in between: the seller must still hold the owner claim and no
`lost`, `creditor` or `organization` claim may be held. Only a hash of the code is kept
(PBKDF2-SHA256, salted with the transfer id), five wrong codes void the transfer, and a
transfer another account may not see answers exactly like one that does not exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from tenure.clock import Clock
from tenure.domain.errors import DeviceHeld, InvalidInput, NotFound, TransferPending
from tenure.domain.masking import mask_email
from tenure.domain.model import Claim, ClaimKind, owner_claim
from tenure.domain.wording import N_, Phrase

from . import redress_notices as mail
from .accounts import normalise_email
from .authn import AccountSession, OwnerActions, require_session
from .notices import mail_language
from .ownership import owned_claim
from .ports import Tx, UnitOfWork
from .ports.rows import TransferRow

TTL_SECONDS = 7 * 86400
MAX_FAILURES = 5
CODE_ALPHABET = "0123456789ACDEFGHJKLMNPQRTUVWXYZ"  # no B, I, O, S: unambiguous when typed
CODE_LENGTH = 10  # 50 bits: five guesses cannot find it
PBKDF2_ROUNDS = 100_000
BLOCKING = (ClaimKind.LOST, ClaimKind.CREDITOR, ClaimKind.ORGANIZATION)


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch not in "- ")


def code_hash(transfer_id: str, code: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", normalise_code(code).encode(),
                                 transfer_id.encode(), PBKDF2_ROUNDS)
    return f"pbkdf2-sha256${PBKDF2_ROUNDS}${digest.hex()}"


def _require_free(claims: tuple[Claim, ...]) -> None:
    held = [c.kind.value for c in claims if c.kind in BLOCKING]
    if held:
        raise DeviceHeld(f"The device holds a {held[0]} claim; it can change hands only once "
                         "that is released.")


def _model(tx: Tx, device_id: str) -> str:
    stored = tx.devices.get(device_id)
    return stored.device.model if stored else "device"


@dataclass(frozen=True, slots=True)
class Started:
    transfer_id: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Offer:
    """What the buyer sees before accepting: which device, and until when."""

    transfer_id: str
    device_id: str
    model: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class Accepted:
    transfer_id: str
    device_id: str
    owner_hint: str


def cancel_pending_from(tx: Tx, account_id: str, now: int, why: str) -> int:
    """Cancel the account's pending transfers (a password reset: whoever took over the
    mailbox must not be able to finish a sale the owner did not mean). Mails both sides.
    `why`: a catalog message (audited in English, mailed in each side's language)."""
    seller = tx.accounts.by_id(account_id)
    cancelled = 0
    for row in tx.transfers.pending_from(account_id, now):
        if tx.transfers.finish(row.transfer_id, "cancelled", now):
            cancelled += 1
            tx.audit.record(f"device:{row.device_id}", "transfer.cancelled",
                            actor=f"account:{account_id}", at=now,
                            transfer=row.transfer_id, why=why)
            model = _model(tx, row.device_id)
            mail.transfer_ended(tx, row.to_email, row.device_id, model, Phrase.of(why), now)
            if seller is not None:
                mail.transfer_ended(tx, seller.email, row.device_id, model, Phrase.of(why),
                                    now)
    return cancelled


class Transfers:
    def __init__(self, uow: UnitOfWork, clock: Clock, owner_actions: OwnerActions,
                 ttl_seconds: int = TTL_SECONDS, public_url: str = "") -> None:
        self.uow = uow
        self.public_url = public_url  # where the buyer's mail links to (the portal)
        self.clock = clock
        self.rule = owner_actions
        self.ttl = ttl_seconds

    def start(self, token: str | None, device_id: str, to_email: object) -> Started:
        """`201 {"transfer_id", "expires_at"}`; the buyer is mailed the code."""
        try:
            to = normalise_email(to_email)
        except InvalidInput:
            raise InvalidInput("'to_email' must be the buyer's email address.") from None
        transfer_id = secrets.token_hex(16)
        code = new_code()
        hashed = code_hash(transfer_id, code)  # slow on purpose: outside the transaction

        def work(tx: Tx) -> Started:
            now = self.clock.now()
            session = require_session(tx, token, now)
            self.rule.require_weakening(session, now)
            owned_claim(tx, session, device_id)  # 404 unless the device is this account's
            if to == session.email:
                raise InvalidInput("'to_email' is this account's own address; name the "
                                   "buyer's account.")
            _require_free(tx.claims.active(device_id))
            tx.transfers.expire(device_id, now)
            expires_at = now + self.ttl
            if not tx.transfers.add(TransferRow(transfer_id, device_id, session.account_id,
                                                to, hashed, now, expires_at, 0, "pending")):
                raise TransferPending("This device already has a pending transfer; cancel "
                                      "it or wait for it to end.")
            tx.audit.record(f"device:{device_id}", "transfer.started",
                            actor=f"account:{session.account_id}", at=now,
                            transfer=transfer_id, expires_at=expires_at)
            model = _model(tx, device_id)
            # The buyer may have no account yet: then the seller's language.
            mail.transfer_code(tx, to, model, code, expires_at, now, transfer_id,
                               self.public_url, fallback=mail_language(tx, session.email))
            mail.transfer_started(tx, session.email, device_id, model, expires_at, now)
            return Started(transfer_id, expires_at)

        return self.uow.run(work)

    def cancel(self, token: str | None, device_id: str, transfer_id: str) -> None:
        """The seller withdraws a pending transfer; `404` for any other."""
        def work(tx: Tx) -> None:
            now = self.clock.now()
            session = require_session(tx, token, now)
            row = tx.transfers.get(transfer_id, lock=True)
            if (row is None or row.from_account != session.account_id
                    or row.device_id != device_id or row.state != "pending"
                    or row.expires_at <= now):
                raise NotFound(f"No pending transfer {transfer_id!r} of this device.")
            tx.transfers.finish(transfer_id, "cancelled", now)
            tx.audit.record(f"device:{device_id}", "transfer.cancelled",
                            actor=f"account:{session.account_id}", at=now,
                            transfer=transfer_id, why="by the seller")
            model = _model(tx, device_id)
            mail.transfer_ended(tx, row.to_email, device_id, model,
                                Phrase.of(N_("the seller cancelled it.")), now)
            mail.transfer_ended(tx, session.email, device_id, model,
                                Phrase.of(N_("you cancelled it.")), now)

        self.uow.run(work)

    def offer(self, token: str | None, transfer_id: str) -> Offer:
        """The pending transfer addressed to the signed-in account (the portal's page for
        the mailed link); `404` for anything else, as `accept` answers."""
        with self.uow(readonly=True) as tx:
            now = self.clock.now()
            session = require_session(tx, token, now)
            row = self._visible(tx, session, transfer_id, now, lock=False)
            return Offer(row.transfer_id, row.device_id, _model(tx, row.device_id),
                         row.expires_at)

    def accept(self, token: str | None, transfer_id: str, code: object) -> Accepted:
        """Move the owner claim to the buyer. A wrong code is counted (and the fifth
        voids the transfer) in a transaction of its own, then refused: `422`."""
        if not isinstance(code, str) or not code or len(code) > 64:
            raise InvalidInput("'code' must be the code from the transfer mail.")
        outcome = self.uow.run(lambda tx: self._accept(tx, token, transfer_id, code))
        if isinstance(outcome, int):
            if outcome <= 0:
                raise NotFound("Five wrong codes voided this transfer; the seller can "
                               "start a new one.")
            raise InvalidInput(f"The code is not correct; {outcome} attempts left.")
        return outcome

    def _accept(self, tx: Tx, token: str | None, transfer_id: str,
                code: str) -> Accepted | int:
        now = self.clock.now()
        session = require_session(tx, token, now)
        row = self._visible(tx, session, transfer_id, now)
        if not hmac.compare_digest(code_hash(transfer_id, code), row.code_hash):
            failures = tx.transfers.count_failure(transfer_id)
            if failures >= MAX_FAILURES:
                tx.transfers.finish(transfer_id, "voided", now)
                tx.audit.record(f"device:{row.device_id}", "transfer.voided",
                                actor=f"account:{session.account_id}", at=now,
                                transfer=transfer_id)
                seller = tx.accounts.by_id(row.from_account)
                if seller is not None:
                    mail.transfer_ended(tx, seller.email, row.device_id,
                                        _model(tx, row.device_id),
                                        Phrase.of(N_("five wrong codes were entered.")), now)
            return MAX_FAILURES - failures
        claims = tx.claims.active(row.device_id)
        owner = owner_claim(claims)
        if owner is None or owner.holder != row.from_account:
            raise NotFound("This transfer is no longer valid: the seller no longer holds "
                           "the device.")
        _require_free(claims)
        if not tx.transfers.finish(transfer_id, "accepted", now, session.account_id):
            raise NotFound(f"No pending transfer {transfer_id!r} for your account.")
        return self._move(tx, row, owner, session, now)

    @staticmethod
    def _visible(tx: Tx, session: AccountSession, transfer_id: str, now: int,
                 lock: bool = True) -> TransferRow:
        """The pending transfer addressed to this account; anything else is 404, the same
        answer for a transfer that does not exist and one meant for someone else."""
        row = tx.transfers.get(transfer_id, lock=lock) if len(transfer_id) <= 64 else None
        if row is None or row.to_email != session.email:
            raise NotFound(f"No pending transfer {transfer_id!r} for your account.")
        if row.state != "pending" or row.expires_at <= now:
            raise NotFound(f"The transfer {transfer_id!r} is no longer pending (accepted, "
                           "cancelled, voided or expired).")
        return row

    @staticmethod
    def _move(tx: Tx, row: TransferRow, owner: Claim, session: AccountSession,
              now: int) -> Accepted:
        buyer, seller_id = session.account_id, row.from_account
        tx.claims.release(owner.claim_id, now, by=f"transfer:{row.transfer_id}")
        hint = mask_email(session.email)
        tx.claims.add(Claim(claim_id=secrets.token_hex(16), device_id=row.device_id,
                            kind=ClaimKind.OWNER, holder=buyer, created_at=now,
                            holder_hint=hint))
        cancelled = tx.commands.cancel_pending(row.device_id, now)
        tx.audit.record(f"device:{row.device_id}", "claim.owner.transferred",
                        actor=f"account:{buyer}", at=now, transfer=row.transfer_id,
                        seller=f"account:{seller_id}", buyer=f"account:{buyer}",
                        commands_cancelled=cancelled)
        tx.audit.record(f"account:{seller_id}", "transfer.completed.seller",
                        actor=f"account:{buyer}", at=now, transfer=row.transfer_id,
                        device=row.device_id)
        tx.audit.record(f"account:{buyer}", "transfer.completed.buyer",
                        actor=f"account:{buyer}", at=now, transfer=row.transfer_id,
                        device=row.device_id)
        model = _model(tx, row.device_id)
        seller = tx.accounts.by_id(seller_id)
        if seller is not None:
            mail.transfer_completed_seller(tx, seller.email, row.device_id, model, now)
        mail.transfer_completed_buyer(tx, session.email, row.device_id, model, now)
        return Accepted(row.transfer_id, row.device_id, hint)
