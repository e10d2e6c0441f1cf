"""A small JWS layer (RFC 7515) for the algorithms the protocol allows, and nothing else.

Why our own: the allow-list (`Ed25519`, `EdDSA`, `ES256`) and the key-type match are
the security boundary of the device protocol, so they are explicit here rather than
spread across a general JOSE library's options; and the device hot path does one
parse, one verify and one sign with no further layers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tenure.domain.errors import JWSError as JWSError  # re-exported: part of the one tree
from tenure.domain.jsonread import JsonRejected, read_json_object

from .b64 import b64u_decode, b64u_encode
from .keys import ALGS_FOR_KEY, SigningKey, VerifyingKey

ALLOWED_ALGS = frozenset({"Ed25519", "EdDSA", "ES256"})
# Header parameters RFC 7515 §4.1 defines; `crit` may not name them (§4.1.11).
REGISTERED = frozenset({"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ",
                        "cty", "crit"})
# Extensions this implementation understands and may be marked critical: none.
UNDERSTOOD_EXTENSIONS: frozenset[str] = frozenset()


def media_type(typ: object) -> str | None:
    """A `typ` value as the media type it names (RFC 7515 §4.1.9): "application/" is
    implied when the value has no "/", and media types compare case-insensitively."""
    if not isinstance(typ, str) or not typ:
        return None
    lowered = typ.lower()
    return lowered if "/" in lowered else f"application/{lowered}"


def typ_matches(typ: object, expected: str) -> bool:
    """True when a header's `typ` names the media type `expected` (either spelling)."""
    found = media_type(typ)
    return found is not None and found == media_type(expected)


@dataclass(frozen=True, slots=True)
class ParsedJWS:
    header: dict[str, Any]
    payload_bytes: bytes
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else ""

    def payload(self) -> dict[str, Any]:
        try:
            return read_json_object(self.payload_bytes)
        except JsonRejected as exc:
            raise JWSError(f"payload: {exc}") from exc

    def has_type(self, expected: str) -> bool:
        return typ_matches(self.header.get("typ"), expected)

    def verify_with(self, key: VerifyingKey) -> bool:
        """True when `alg` is allowed for this key's type and the signature verifies."""
        if self.alg not in ALGS_FOR_KEY[key.key_type]:
            return False
        return key.verify(self.signature, self.signing_input)


# Built once: `json.dumps` with options builds an encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _json_b64(value: dict[str, Any]) -> str:
    return b64u_encode(_ENCODER.encode(value).encode())


def _check_crit(header: dict[str, Any]) -> None:
    """RFC 7515 §4.1.11: `crit` lists extensions the recipient must understand; one it
    does not understand (here: any) makes the JWS invalid."""
    if "crit" not in header:
        return
    crit = header["crit"]
    if not isinstance(crit, list) or not crit or not all(isinstance(n, str) for n in crit):
        raise JWSError("crit must be a non-empty list of header parameter names")
    for name in crit:
        shown = repr(name[:40])
        if name in REGISTERED:
            raise JWSError(f"crit may not name the registered parameter {shown}")
        if name not in header:
            raise JWSError(f"crit names {shown}, which the header does not have")
        if name not in UNDERSTOOD_EXTENSIONS:
            raise JWSError(f"crit names the extension {shown}, which is not supported")


def _decode_header(encoded: str) -> dict[str, Any]:
    try:
        header = read_json_object(b64u_decode(encoded))
    except ValueError as exc:  # not base64url, or JsonRejected
        raise JWSError(f"protected header is not base64url JSON ({exc})") from exc
    _check_crit(header)
    return header


def _parse(protected: str, payload: str, signature: str) -> ParsedJWS:
    header = _decode_header(protected)
    try:
        payload_bytes = b64u_decode(payload)
        sig = b64u_decode(signature)
    except ValueError as exc:
        raise JWSError("payload or signature is not base64url") from exc
    return ParsedJWS(header, payload_bytes, f"{protected}.{payload}".encode("ascii"), sig)


def parse_flattened(body: bytes | dict[str, Any]) -> ParsedJWS:
    """Parse a flattened JSON serialization (RFC 7515 §7.2.2)."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = read_json_object(body)
        except JsonRejected as exc:
            raise JWSError(f"body: {exc}") from exc
    if not isinstance(body, dict):
        raise JWSError("body is not a JSON object")
    parts = [body.get(name) for name in ("protected", "payload", "signature")]
    if not all(isinstance(part, str) for part in parts):
        raise JWSError("a flattened JWS needs string members protected, payload and signature")
    if "header" in body:
        raise JWSError("unprotected header members are not accepted")
    return _parse(*parts)  # type: ignore[arg-type]


def parse_compact(token: str) -> ParsedJWS:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise JWSError("not a compact JWS")
    return _parse(*parts)


def sign_compact(header: dict[str, Any], payload: dict[str, Any], key: SigningKey) -> str:
    signing_input = f"{_json_b64({**header, 'alg': key.alg})}.{_json_b64(payload)}"
    return f"{signing_input}.{b64u_encode(key.sign(signing_input.encode('ascii')))}"


def sign_flattened(
    header: dict[str, Any], payload: dict[str, Any], key: SigningKey, alg: str | None = None
) -> dict[str, str]:
    protected = _json_b64({**header, "alg": alg or key.alg})
    encoded = _json_b64(payload)
    signature = key.sign(f"{protected}.{encoded}".encode("ascii"))
    return {"protected": protected, "payload": encoded, "signature": b64u_encode(signature)}
