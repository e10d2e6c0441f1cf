"""Bootloader unlock authorization (docs/protocol.md, "Bootloader unlock").

The bootloader shows a token signed by the device key over a fresh nonce; the bound
owner, freshly signed in, sends it here; if decide_unlock() allows, the server signs
an unlock token bound to that device and nonce, which only that bootloader, in that
boot, will accept. Grants and refusals of signed-in owners are audited.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from tenure import protocol
from tenure.clock import Clock
from tenure.crypto.jws import JWSError, parse_compact, sign_compact
from tenure.crypto.keyring import KeyRing
from tenure.crypto.keys import load_spki_der
from tenure.domain.errors import Malformed, UnlockNotPermitted
from tenure.domain.provisioning import is_device_id
from tenure.domain.unlock import UnlockDecision, UnlockInput, UnlockRules, decide_unlock

from .authn import AccountSession, OwnerActions, require_session
from .ports import Tx, UnitOfWork

BL_TYP = protocol.BL_TOKEN_TYP
UNLOCK_TYP = protocol.UNLOCK_TYP
_B64U_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
MAX_TOKEN_AGE = 3600  # a bootloader token older than this is from another boot session
CLOCK_SKEW = 300


@dataclass(frozen=True, slots=True)
class BootloaderToken:
    device_id: str
    nonce: str
    issued_at: int
    jws: Any


def read_bootloader_token(token: object) -> BootloaderToken:
    if not isinstance(token, str) or len(token) > 4096:
        raise Malformed("'bootloader_token' must be the token the bootloader shows.")
    try:
        jws = parse_compact(token)
        payload = jws.payload()
    except JWSError as exc:
        raise Malformed(f"'bootloader_token' is not a compact JWS: {exc}.") from exc
    sub, nonce, iat = payload.get("sub"), payload.get("nonce"), payload.get("iat")
    if not (isinstance(sub, str) and isinstance(nonce, str) and _B64U_NONCE.fullmatch(nonce)
            and isinstance(iat, int) and not isinstance(iat, bool)):
        raise Malformed("The bootloader token needs 'sub', 'nonce' (b64u, 16-128 characters) "
                        "and 'iat' (integer).")
    return BootloaderToken(sub, nonce, iat, jws)


class UnlockAuthorization:
    def __init__(self, uow: UnitOfWork, keyring: KeyRing, clock: Clock, issuer: str,
                 rules: UnlockRules, rule: OwnerActions) -> None:
        self.uow = uow
        self.keyring = keyring
        self.clock = clock
        self.issuer = issuer
        self.rules = rules
        self.rule = rule

    def __call__(self, bearer: str | None, bootloader_token: object) -> str:
        token = read_bootloader_token(bootloader_token)
        decision, answer = self.uow.run(lambda tx: self._decide(tx, bearer, token))
        if not decision.allowed:
            extra = {"retry_after": decision.retry_after} if decision.retry_after else {}
            raise UnlockNotPermitted(decision.reason, **extra)
        assert answer is not None
        return answer

    def _decide(self, tx: Tx, bearer: str | None,
                token: BootloaderToken) -> tuple[UnlockDecision, str | None]:
        now = self.clock.now()
        session = require_session(tx, bearer, now)
        self.rule.require_weakening(session, now)
        if not token.jws.has_type(BL_TYP):
            return self._refuse(tx, session, token, now, UnlockDecision(
                False, f"This is not a bootloader token (typ must be {BL_TYP})."))
        stored = tx.devices.get(token.device_id) if is_device_id(token.device_id) else None
        if stored is None or not token.jws.verify_with(load_spki_der(stored.public_key)):
            return self._refuse(tx, session, token, now, UnlockDecision(
                False, f"The bootloader token was not signed by device {token.device_id!r}."))
        if token.issued_at < now - MAX_TOKEN_AGE or token.issued_at > now + CLOCK_SKEW:
            return self._refuse(tx, session, token, now, UnlockDecision(
                False, "The bootloader token is stale; restart the bootloader's unlock mode "
                       "for a fresh one."))
        tx.accounts.lock(session.account_id)  # concurrent requests must see each grant
        decision = decide_unlock(UnlockInput(
            account_id=session.account_id, claims=tx.claims.active(token.device_id),
            granted_devices=tx.unlocks.grants_of(session.account_id,
                                                 now - self.rules.quota_seconds),
            device_id=token.device_id, now=now, rules=self.rules))
        if not decision.allowed:
            return self._refuse(tx, session, token, now, decision)
        assert decision.expires_at is not None
        tx.unlocks.add(secrets.token_hex(16), token.device_id, session.account_id, token.nonce,
                       now, decision.expires_at)
        tx.audit.record(f"device:{token.device_id}", "bootloader.unlock_granted",
                        actor=f"account:{session.account_id}", at=now,
                        expires_at=decision.expires_at)
        active = self.keyring.active
        unlock_token = sign_compact({"kid": active.kid, "typ": UNLOCK_TYP}, {
            "iss": self.issuer, "sub": token.device_id, "bl_nonce": token.nonce,
            "iat": now, "exp": decision.expires_at}, active.key)
        return decision, unlock_token

    def _refuse(self, tx: Tx, session: AccountSession, token: BootloaderToken, now: int,
                decision: UnlockDecision) -> tuple[UnlockDecision, None]:
        known = is_device_id(token.device_id) and tx.devices.get(token.device_id)
        stream = (f"device:{token.device_id}" if known
                  else f"account:{session.account_id}")
        tx.audit.record(stream, "bootloader.unlock_refused",
                        actor=f"account:{session.account_id}", at=now,
                        device=token.device_id if known else "(not a device id)",
                        reason=decision.reason,
                        retry_after=decision.retry_after)
        return decision, None


def rules_from(wait_hours: float, quota: int, quota_days: float,
               valid_days: float) -> UnlockRules:
    return UnlockRules(int(wait_hours * 3600), quota, int(quota_days * 86400),
                       int(valid_days * 86400))
