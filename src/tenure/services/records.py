"""Signed activation records: the server's answer, which the device verifies offline."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tenure import protocol
from tenure.clock import Clock
from tenure.crypto.jws import sign_compact
from tenure.crypto.keyring import KeyRing
from tenure.domain.model import ClaimKind, Decision, Lock

from .commands_text import localize_commands
from .lock_text import lock_message, released_if

RECORD_TYP = protocol.RECORD_TYP


def way_out(lock: Lock, device_id: str, public_url: str,
            locale: str | None = None) -> dict[str, Any]:
    """Extension members (docs/protocol.md, "Ways out of a lock"): where a person at the
    lock screen goes next. Independent clients ignore them; the reference agent shows
    them. An owner lock points at the public status check and at appeals; a territory
    lock at appeals and says what releases it; a creditor's way out is its `contact`."""
    base = public_url.rstrip("/")
    out: dict[str, Any] = {}
    if lock.kind is ClaimKind.OWNER and base:
        out["status_url"] = f"{base}/v1/public/status?device_id={quote(device_id)}"
        out["appeal_url"] = f"{base}/v1/cases"
    if lock.kind is ClaimKind.TERRITORY:
        if base:
            out["appeal_url"] = f"{base}/v1/cases"
        if lock.released_if:
            out["released_if"] = released_if(lock, locale)
    return out


def lock_json(lock: Lock, locale: str | None = None) -> dict[str, Any]:
    """Only the members the protocol defines for this kind of lock, and no empty ones;
    the message in the device's language (services/lock_text.py)."""
    out: dict[str, Any] = {"kind": lock.kind.value, "message": lock_message(lock, locale)}
    if lock.hint:
        out["hint"] = lock.hint
    if lock.contact:
        out["contact"] = lock.contact
    if lock.territory:
        out["territory"] = lock.territory
    if lock.until is not None:
        out["until"] = lock.until
    if lock.rule:  # extension: which policy rule and evidence (docs/protocol.md)
        out["rule"] = lock.rule
    if lock.evidence:
        out["evidence"] = list(lock.evidence)
    if lock.allows:
        out["allows"] = list(lock.allows)
    return out


class RecordSigner:
    def __init__(self, keyring: KeyRing, clock: Clock, issuer: str, ttl_seconds: int,
                 next_checkin_seconds: int, public_url: str = "") -> None:
        self.keyring = keyring
        self.clock = clock
        self.issuer = issuer
        self.ttl = ttl_seconds
        self.next_checkin = next_checkin_seconds
        self.public_url = public_url

    def sign(self, device_id: str, nonce: str, decision: Decision, owner_hint: str | None,
             commands: list[dict[str, Any]] | None = None, policy_version: int = 0,
             exemptions: tuple[str, ...] = (), offline_lock_days: int | None = None,
             locale: str | None = None) -> str:
        """`exemptions`: territory rules a granted appeal exempted the device from, as the
        `exemptions` extension member (docs/protocol.md); absent when there are none.
        `offline_lock_days`: set while a creditor claim is in force or locked; the
        record then carries `offline_lock_at` = `iat` + that many days.
        `locale`: the language the device asked for (None: it named none we speak);
        the texts a person reads are said in it, the codes stay as they are."""
        now = self.clock.now()
        payload = {
            "iss": self.issuer,
            "sub": device_id,
            "nonce": nonce,
            "iat": now,
            "exp": now + self.ttl,
            "status": decision.status.value,
            "locks": [{**lock_json(lock, locale),
                       **way_out(lock, device_id, self.public_url, locale)}
                      for lock in decision.locks],
            "owner": {"hint": owner_hint} if owner_hint else None,
            "commands": localize_commands(commands or [], locale),
            "next_checkin": self.next_checkin,
            "policy_version": policy_version,
        }
        if exemptions:
            payload["exemptions"] = list(exemptions)
        if offline_lock_days is not None:
            payload["offline_lock_at"] = now + offline_lock_days * 86400
        active = self.keyring.active
        return sign_compact({"kid": active.kid, "typ": RECORD_TYP}, payload, active.key)
