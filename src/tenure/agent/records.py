"""Verifying server records the way a device must: pinned keys, sub, nonce, expiry, typ."""

from __future__ import annotations

import time
from typing import Any

from tenure import protocol
from tenure.crypto.jws import JWSError, parse_compact
from tenure.crypto.keys import KeyError_, VerifyingKey, verifying_key_from_jwk


class RecordRejected(Exception):
    """The answer is not a record this device may trust; its previous state stands."""


def pinned_keys(jwks: list[dict[str, Any]]) -> dict[str, VerifyingKey]:
    keys = {}
    for jwk in jwks:
        try:
            keys[jwk["kid"]] = verifying_key_from_jwk(jwk)
        except (KeyError, KeyError_, ValueError):
            continue
    return keys


def verify_token(token: str, typ: str, pinned: dict[str, VerifyingKey]) -> dict[str, Any]:
    """Verify a compact JWS signed by a pinned key; return its payload."""
    try:
        jws = parse_compact(token)
        payload = jws.payload()
    except JWSError as exc:
        raise RecordRejected(f"not a signed token: {exc}") from exc
    if not jws.has_type(typ):
        raise RecordRejected(f"wrong token type {jws.header.get('typ')!r}, expected {typ}")
    key = pinned.get(str(jws.header.get("kid")))
    if key is None:
        raise RecordRejected(f"signed by key {jws.header.get('kid')!r}, which is not pinned")
    if not jws.verify_with(key):
        raise RecordRejected("the signature does not verify with the pinned key")
    return payload


def verify_record(token: str, pinned: dict[str, VerifyingKey], device_id: str, nonce: str,
                  now: float | None = None) -> dict[str, Any]:
    payload = verify_token(token, protocol.RECORD_TYP, pinned)
    if payload.get("sub") != device_id:
        raise RecordRejected(f"the record is for {payload.get('sub')!r}, not this device")
    if payload.get("nonce") != nonce:
        raise RecordRejected("the record answers another request (nonce mismatch): a replay")
    exp = payload.get("exp")
    if not isinstance(exp, int) or exp <= (time.time() if now is None else now):
        raise RecordRejected("the record has expired")
    locks = payload.get("locks")
    if not isinstance(locks, list) or (payload.get("status") == "locked") != bool(locks):
        raise RecordRejected("the record's status and locks disagree")
    return payload
