"""Binding a device to its owner's account (the activation lock), and releasing it."""

from __future__ import annotations

import secrets

from tenure.clock import Clock
from tenure.domain.decide import DecisionInput, decide
from tenure.domain.errors import AlreadyBound, NotActivated, ReauthenticationRequired
from tenure.domain.masking import mask_email
from tenure.domain.model import Act, Claim, ClaimKind, owner_claim, owner_hint
from tenure.domain.wording import N_

from . import notices
from .authn import OwnerActions, require_session, session_for
from .creditor_device import creditor_terms, offline_lock_days
from .device_auth import DeviceRequest
from .device_payload import required_str
from .ownership import release_owner
from .ports import Tx
from .records import RecordSigner


class Binding:
    def __init__(self, signer: RecordSigner, clock: Clock, rule: OwnerActions) -> None:
        """`rule`: the owner-action rule bound once in bootstrap (unbind weakens
        protection); its cool-down is also the one activation records honour."""
        self.signer = signer
        self.clock = clock
        self.rule = rule
        self.cooldown = rule.cooldown_seconds

    def _answer(self, tx: Tx, request: DeviceRequest, now: int, changed: bool) -> str:
        """The record after the change; claims are read again only if it changed them."""
        claims = tx.claims.active(request.device_id) if changed else request.device.claims
        terms = creditor_terms(tx, claims, (), now)
        decision = decide(DecisionInput(request.device.device, Act.USE, claims, now,
                                        self.cooldown, creditor=terms.loan if terms else None))
        return self.signer.sign(request.device_id, request.nonce, decision, owner_hint(claims),
                                offline_lock_days=offline_lock_days(terms), locale=request.locale)

    def bind(self, tx: Tx, request: DeviceRequest) -> str:
        now = self.clock.now()
        session = require_session(tx, required_str(request.payload, "account_token"), now)
        device = request.device.device
        if device.activated_at is None:
            raise NotActivated("The device must be activated before it can be bound.")
        owner = owner_claim(request.device.claims)
        if owner is not None and owner.holder != session.account_id:
            raise AlreadyBound("The device is bound to another account.")
        if owner is None:
            # An account being deleted (services/account_deletion.py) holds its row
            # locked; once it is ours, the session must still exist, so no claim can be
            # added for an account that checked it held none and is gone.
            tx.accounts.lock(session.account_id)
            require_session(tx, required_str(request.payload, "account_token"), now)
            tx.claims.add(Claim(
                claim_id=secrets.token_hex(16), device_id=device.device_id,
                kind=ClaimKind.OWNER, holder=session.account_id, created_at=now,
                holder_hint=mask_email(session.email)))
            tx.audit.record(f"device:{device.device_id}", "claim.owner.bound",
                            actor=f"account:{session.account_id}", at=now,
                            account=session.account_id)
            notices.device_bound(tx, session.email, device.device_id, device.model, now)
        return self._answer(tx, request, now, changed=owner is None)

    def unbind(self, tx: Tx, request: DeviceRequest) -> str:
        now = self.clock.now()
        token = required_str(request.payload, "account_token")
        session = session_for(tx, token, now)
        if session is None:
            raise ReauthenticationRequired(
                "The account token is not valid; sign in again and retry.")
        self.rule.require_weakening(session, now)
        owner = owner_claim(request.device.claims)
        if owner is not None:
            if owner.holder != session.account_id:
                raise ReauthenticationRequired(
                    "Only a fresh sign-in of the bound account can unbind this device.")
            release_owner(tx, owner, session, now, how=N_("on the device"))
        return self._answer(tx, request, now, changed=owner is not None)
