"""PROTOCOL.md from the device's side, written from the document and not from the server
code: flattened JWS requests signed with the device key, records verified against the
server's JWKS. Kept small because it runs in the load generator's hot loop."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

JOSE = "application/jose+json"
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def sign(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ECDSA_SHA256))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def signed_body(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey, kid: str,
                nonce: str, url: str, payload: dict[str, Any]) -> bytes:
    """The request body: `{"protected", "payload", "signature"}` (RFC 7515 §7.2.2)."""
    alg = "Ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "ES256"
    protected = b64u(_json({"alg": alg, "kid": kid, "nonce": nonce, "url": url}))
    encoded = b64u(_json(payload))
    signature = sign(key, f"{protected}.{encoded}".encode("ascii"))
    return _json({"protected": protected, "payload": encoded, "signature": b64u(signature)})


class RecordInvalid(Exception):
    pass


def jwks_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    """kid -> public key, for the keys a device would pin."""
    keys: dict[str, Any] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            keys[jwk["kid"]] = ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(jwk["x"]))
        elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            keys[jwk["kid"]] = ec.EllipticCurvePublicNumbers(
                int.from_bytes(b64u_decode(jwk["x"]), "big"),
                int.from_bytes(b64u_decode(jwk["y"]), "big"), ec.SECP256R1()).public_key()
    return keys


def verify_record(record: str, pinned: dict[str, Any], device_id: str, nonce: str,
                  now: float) -> dict[str, Any]:
    """What a device checks before trusting an answer (PROTOCOL.md, "Records")."""
    parts = record.split(".")
    if len(parts) != 3:
        raise RecordInvalid("not a compact JWS")
    header = json.loads(b64u_decode(parts[0]))
    if header.get("typ") != "tenure-record+jwt":
        raise RecordInvalid(f"typ {header.get('typ')!r}")
    key = pinned.get(header.get("kid"))
    if key is None:
        raise RecordInvalid(f"kid {header.get('kid')!r} is not pinned")
    data, signature = f"{parts[0]}.{parts[1]}".encode("ascii"), b64u_decode(parts[2])
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if header.get("alg") not in ("Ed25519", "EdDSA"):
                raise RecordInvalid(f"alg {header.get('alg')!r} for an Ed25519 key")
            key.verify(signature, data)
        else:
            if header.get("alg") != "ES256" or len(signature) != 64:
                raise RecordInvalid("bad ES256 signature")
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                       int.from_bytes(signature[32:], "big"))
            key.verify(der, data, ECDSA_SHA256)
    except InvalidSignature as exc:
        raise RecordInvalid("signature does not verify") from exc
    payload: dict[str, Any] = json.loads(b64u_decode(parts[1]))
    if payload.get("sub") != device_id:
        raise RecordInvalid(f"sub {payload.get('sub')!r} is not {device_id}")
    if payload.get("nonce") != nonce:
        raise RecordInvalid("nonce mismatch")
    exp = payload.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise RecordInvalid("expired")
    if (payload.get("status") == "locked") != bool(payload.get("locks")):
        raise RecordInvalid("status and locks disagree")
    return payload
