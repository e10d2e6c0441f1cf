"""An independent client for the Tenure device protocol, version 1.

Written only from ``PROTOCOL.md`` (the public wire contract), deliberately without
importing anything from the ``tenure`` package: it plays the part of a device maker's
firmware and of an owner's app, so that the end-to-end tests catch every place where
the server deviates from the document rather than from its own code.

Dependencies: ``httpx``, ``cryptography`` and the standard library only.

Main pieces:

* :class:`DeviceIdentity` -- a factory-made device key (Ed25519 or ECDSA P-256) and the
  provisioning CSV row for it (:func:`write_provisioning_csv`).
* :func:`build_flattened_jws` / :func:`signed_body` -- the signed request bodies.
* :class:`TenureClient` -- nonces, signed device calls (with the single retry on
  ``bad-nonce``), record verification against ``GET /v1/keys``, and the account API.
* :class:`ProtocolViolation` -- raised whenever an answer of the server breaks the
  contract (bad record, missing ``Replay-Nonce``, malformed problem document, ...).
* :class:`ProblemError` -- raised by the high-level calls when the server answers a
  well-formed problem document (a legitimate refusal).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

# --------------------------------------------------------------------------- constants

JOSE_JSON = "application/jose+json"
PROBLEM_JSON = "application/problem+json"
PROBLEM_PREFIX = "urn:tenure:problem:"
RECORD_TYP = "tenure-record+jwt"

NONCE_PATH = "/v1/device/nonce"
KEYS_PATH = "/v1/keys"
ACTIVATION_PATH = "/v1/device/activation"
BIND_PATH = "/v1/device/bind"
UNBIND_PATH = "/v1/device/unbind"
CHECKIN_PATH = "/v1/device/checkin"
ACCOUNTS_PATH = "/v1/accounts"
SESSIONS_PATH = "/v1/sessions"
MY_DEVICES_PATH = "/v1/me/devices"

MAX_BODY_BYTES = 64 * 1024  # "413 too-large (body over 64 KiB)"
MIN_NONCE_BYTES = 16

CSV_HEADER = ("device_id", "imei", "model", "sku", "market", "public_key")

KEY_TYPES = ("Ed25519", "ES256")
LOCK_KINDS = frozenset({"owner", "lost", "organization", "creditor", "territory"})
COMMAND_TYPES = frozenset({"message", "ring", "wipe"})
RECORD_STATUSES = frozenset({"activated", "locked"})

_B64U_RE = re.compile(r"^[A-Za-z0-9_-]*$")


# --------------------------------------------------------------------------- errors


class ProtocolViolation(AssertionError):
    """The server's answer does not follow PROTOCOL.md.

    Subclasses ``AssertionError`` so pytest reports it as a test failure with its
    message, not as an error inside the test machinery.
    """


class RecordVerificationError(ProtocolViolation):
    """A record (compact JWS answered by a device endpoint) failed verification."""


@dataclass(frozen=True)
class Problem:
    """A parsed RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    body: Mapping[str, Any]

    @property
    def name(self) -> str:
        """``bad-nonce`` for ``urn:tenure:problem:bad-nonce``."""
        if self.type.startswith(PROBLEM_PREFIX):
            return self.type[len(PROBLEM_PREFIX) :]
        return self.type


class ProblemError(Exception):
    """The server refused a request with a well-formed problem document."""

    def __init__(self, problem: Problem, response: httpx.Response) -> None:
        self.problem = problem
        self.response = response
        super().__init__(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code} {problem.type}: {problem.title} ({problem.detail})"
        )

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def type(self) -> str:
        return self.problem.type

    @property
    def name(self) -> str:
        return self.problem.name


def media_type(response: httpx.Response) -> str:
    """The media type of the response, without parameters, lower-cased."""
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _describe(response: httpx.Response) -> str:
    body = response.text
    if len(body) > 300:
        body = body[:300] + "..."
    return (
        f"{response.request.method} {response.request.url.path} -> "
        f"{response.status_code} [{response.headers.get('content-type', '-')}] {body!r}"
    )


def parse_problem(response: httpx.Response) -> Problem:
    """Parse and validate a problem document; raise :class:`ProtocolViolation` if malformed.

    Checks: content type ``application/problem+json``; a JSON object with the members
    ``type`` (``urn:tenure:problem:<name>``), ``title``, ``status`` (= the HTTP status)
    and ``detail``.
    """
    if media_type(response) != PROBLEM_JSON:
        raise ProtocolViolation(
            f"problem answer must have Content-Type {PROBLEM_JSON}: {_describe(response)}"
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise ProtocolViolation(f"problem body is not JSON: {_describe(response)}") from exc
    if not isinstance(body, dict):
        raise ProtocolViolation(f"problem body is not a JSON object: {_describe(response)}")
    missing = [m for m in ("type", "title", "status", "detail") if m not in body]
    if missing:
        raise ProtocolViolation(f"problem body lacks {missing}: {_describe(response)}")
    ptype, title, status, detail = body["type"], body["title"], body["status"], body["detail"]
    if not isinstance(ptype, str) or not ptype.startswith(PROBLEM_PREFIX):
        raise ProtocolViolation(
            f"problem type must be '{PROBLEM_PREFIX}<name>': {_describe(response)}"
        )
    if not isinstance(title, str) or not isinstance(detail, str):
        raise ProtocolViolation(f"problem title/detail must be strings: {_describe(response)}")
    if not _is_int(status) or status != response.status_code:
        raise ProtocolViolation(
            f"problem member status ({status!r}) must equal the HTTP status: {_describe(response)}"
        )
    return Problem(type=ptype, title=title, status=status, detail=detail, body=body)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- encodings


def b64u_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Strict base64url-without-padding decoding; raises ``ValueError`` on anything else."""
    if not isinstance(text, str) or not _B64U_RE.match(text) or len(text) % 4 == 1:
        raise ValueError(f"not base64url without padding: {text!r}")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - guarded by the regex
        raise ValueError(f"not base64url: {text!r}") from exc


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def der_to_raw_signature(der: bytes, size: int = 32) -> bytes:
    """ECDSA DER signature -> raw ``R || S`` (each ``size`` bytes, big-endian)."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def raw_to_der_signature(raw: bytes) -> bytes:
    """Raw ``R || S`` -> ECDSA DER signature."""
    if len(raw) % 2:
        raise ValueError("raw ECDSA signature has odd length")
    half = len(raw) // 2
    return encode_dss_signature(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    )


# --------------------------------------------------------------------------- IMEI / Luhn


def luhn_check_digit(partial: str) -> str:
    """The Luhn check digit to append to ``partial`` (a string of digits)."""
    if not partial.isdigit():
        raise ValueError(f"not digits: {partial!r}")
    total = 0
    # Walking from the right of the partial number, the first digit is the one that
    # will sit immediately left of the check digit: it is doubled, then every other one.
    for index, char in enumerate(reversed(partial)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return len(number) >= 2 and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def make_imei(tac: str | None = None) -> str:
    """A random 15-digit Luhn-valid IMEI (8-digit TAC + 6-digit serial + check digit)."""
    if tac is None:
        tac = "35" + "".join(secrets.choice("0123456789") for _ in range(6))
    if len(tac) != 8 or not tac.isdigit():
        raise ValueError("TAC must be 8 digits")
    body = tac + "".join(secrets.choice("0123456789") for _ in range(6))
    return body + luhn_check_digit(body)


# --------------------------------------------------------------------------- device keys

Signer = Callable[[bytes], bytes]


def sign_ed25519(key: ed25519.Ed25519PrivateKey) -> Signer:
    return key.sign


def sign_es256(key: ec.EllipticCurvePrivateKey) -> Signer:
    def _sign(data: bytes) -> bytes:
        return der_to_raw_signature(key.sign(data, ec.ECDSA(hashes.SHA256())), 32)

    return _sign


def sign_es256_der(key: ec.EllipticCurvePrivateKey) -> Signer:
    """A *wrong* ES256 signer emitting DER instead of raw R||S (for negative tests)."""

    def _sign(data: bytes) -> bytes:
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    return _sign


def sign_hs256(secret: bytes) -> Signer:
    """HMAC-SHA256 signer (for alg-confusion negative tests)."""

    def _sign(data: bytes) -> bytes:
        return hmac.new(secret, data, hashlib.sha256).digest()

    return _sign


def sign_none(_data: bytes) -> bytes:
    return b""


@dataclass
class DeviceIdentity:
    """A device as made at the factory: an id, its IMEI(s), catalogue data and its key."""

    device_id: str
    key_type: str  # "Ed25519" or "ES256"
    private_key: Any
    imeis: list[str] = field(default_factory=list)
    model: str = "Conformance Phone 1"
    sku: str = "CP1-128-BLK"
    market: str = "DE"

    @classmethod
    def generate(
        cls,
        key_type: str = "Ed25519",
        *,
        device_id: str | None = None,
        imeis: Sequence[str] | None = None,
        model: str = "Conformance Phone 1",
        sku: str = "CP1-128-BLK",
        market: str = "DE",
    ) -> DeviceIdentity:
        if key_type == "Ed25519":
            key: Any = ed25519.Ed25519PrivateKey.generate()
        elif key_type == "ES256":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"unsupported key type {key_type!r}")
        if device_id is None:
            device_id = f"ic-{key_type.lower()}-{secrets.token_hex(6)}"
        if imeis is None:
            imeis = [make_imei()]
        for imei in imeis:
            if len(imei) != 15 or not luhn_valid(imei):
                raise ValueError(f"not a 15-digit Luhn-valid IMEI: {imei!r}")
        return cls(
            device_id=device_id,
            key_type=key_type,
            private_key=key,
            imeis=list(imeis),
            model=model,
            sku=sku,
            market=market,
        )

    # ---- keys

    @property
    def default_alg(self) -> str:
        return "Ed25519" if self.key_type == "Ed25519" else "ES256"

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def public_key_der(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_key_b64(self) -> str:
        """Standard base64 (with padding, no newlines) of the DER SubjectPublicKeyInfo."""
        return base64.b64encode(self.public_key_der()).decode("ascii")

    @property
    def signer(self) -> Signer:
        """The correct signer for this device's key type (raw R||S for ES256)."""
        if self.key_type == "Ed25519":
            return sign_ed25519(self.private_key)
        return sign_es256(self.private_key)

    def sign(self, data: bytes) -> bytes:
        return self.signer(data)

    def verify(self, data: bytes, signature: bytes) -> None:
        """Verify a signature of this key's type; raises ``InvalidSignature``."""
        if self.key_type == "Ed25519":
            self.public_key.verify(signature, data)
        else:
            if len(signature) != 64:
                raise InvalidSignature("ES256 signature must be 64 bytes")
            self.public_key.verify(raw_to_der_signature(signature), data, ec.ECDSA(hashes.SHA256()))

    # ---- provisioning

    def csv_row(self) -> dict[str, str]:
        return {
            "device_id": self.device_id,
            "imei": ";".join(self.imeis),
            "model": self.model,
            "sku": self.sku,
            "market": self.market,
            "public_key": self.public_key_b64(),
        }


def provisioning_csv(devices: Iterable[DeviceIdentity]) -> str:
    """The provisioning CSV text: header ``device_id,imei,model,sku,market,public_key``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_HEADER), lineterminator="\n")
    writer.writeheader()
    for device in devices:
        writer.writerow(device.csv_row())
    return out.getvalue()


def write_provisioning_csv(path: str | Path, devices: Iterable[DeviceIdentity]) -> Path:
    path = Path(path)
    path.write_text(provisioning_csv(devices), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- JWS


def build_flattened_jws(header: Mapping[str, Any], payload: Any, signer: Signer) -> dict[str, str]:
    """Flattened JWS JSON serialization (RFC 7515 section 7.2.2).

    ``payload`` is a JSON-able object, or ``bytes`` used verbatim (for negative tests).
    The signature covers ``b64u(header) + "." + b64u(payload)``.
    """
    protected = b64u_encode(json_bytes(dict(header)))
    payload_bytes = payload if isinstance(payload, bytes) else json_bytes(payload)
    encoded_payload = b64u_encode(payload_bytes)
    signing_input = f"{protected}.{encoded_payload}".encode("ascii")
    return {
        "protected": protected,
        "payload": encoded_payload,
        "signature": b64u_encode(signer(signing_input)),
    }


def signed_body(
    device: DeviceIdentity,
    *,
    nonce: str,
    url: str,
    payload: Any,
    alg: str | None = None,
    kid: str | None = None,
    signer: Signer | None = None,
    extra_header: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The body of a device request per PROTOCOL.md; every part overridable for tests."""
    header: dict[str, Any] = {
        "alg": alg or device.default_alg,
        "kid": kid if kid is not None else device.device_id,
        "nonce": nonce,
        "url": url,
    }
    if extra_header:
        header.update(extra_header)
    return build_flattened_jws(header, payload, signer or device.signer)


def verify_flattened_jws(body: Mapping[str, str], device: DeviceIdentity) -> tuple[dict, Any]:
    """Verify a flattened JWS with a device key (used to self-check this client)."""
    signing_input = f"{body['protected']}.{body['payload']}".encode("ascii")
    device.verify(signing_input, b64u_decode(body["signature"]))
    return json.loads(b64u_decode(body["protected"])), json.loads(b64u_decode(body["payload"]))


# --------------------------------------------------------------------------- server keys


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Any:
    """Ed25519 (``OKP``) or P-256 (``EC``) public key from a JWK; ``ProtocolViolation`` else."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    try:
        if kty == "OKP" and crv == "Ed25519":
            x = b64u_decode(jwk["x"])
            if len(x) != 32:
                raise ValueError("Ed25519 x must be 32 bytes")
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
        if kty == "EC" and crv == "P-256":
            x, y = b64u_decode(jwk["x"]), b64u_decode(jwk["y"])
            if len(x) != 32 or len(y) != 32:
                raise ValueError("P-256 x and y must be 32 bytes")
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
            )
            return numbers.public_key()
    except (KeyError, ValueError) as exc:
        raise ProtocolViolation(f"unusable JWK {dict(jwk)!r}: {exc}") from exc
    raise ProtocolViolation(f"JWK with unsupported kty/crv {kty!r}/{crv!r}: {dict(jwk)!r}")


def validate_jwks(jwks: Any) -> dict[str, dict[str, Any]]:
    """Check the JWKS shape promised by PROTOCOL.md; return the keys by ``kid``.

    ``{"keys": [{"kty", "crv", "x", ("y"), "kid", "alg", "use": "sig"}]}``; Ed25519 keys are
    ``OKP``/``Ed25519`` with ``alg`` ``Ed25519``, P-256 keys ``EC``/``P-256`` with ``alg``
    ``ES256`` and a ``y``.  No private member may be present.
    """
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ProtocolViolation(f'JWKS must be {{"keys": [...]}}, got {jwks!r}')
    if not jwks["keys"]:
        raise ProtocolViolation("JWKS has no keys")
    by_kid: dict[str, dict[str, Any]] = {}
    for jwk in jwks["keys"]:
        if not isinstance(jwk, dict):
            raise ProtocolViolation(f"JWKS entry is not an object: {jwk!r}")
        for member in ("kty", "crv", "x", "kid", "alg", "use"):
            if not isinstance(jwk.get(member), str) or not jwk[member]:
                raise ProtocolViolation(f"JWK lacks string member {member!r}: {jwk!r}")
        private = {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)
        if private:
            raise ProtocolViolation(f"JWKS publishes private key material {sorted(private)}")
        if jwk["use"] != "sig":
            raise ProtocolViolation(f"JWK use must be 'sig': {jwk!r}")
        if jwk["kty"] == "OKP":
            if jwk["crv"] != "Ed25519" or jwk["alg"] != "Ed25519":
                raise ProtocolViolation(f"OKP key must be crv/alg Ed25519: {jwk!r}")
            if "y" in jwk:
                raise ProtocolViolation(f"OKP key must not have y: {jwk!r}")
        elif jwk["kty"] == "EC":
            if jwk["crv"] != "P-256" or jwk["alg"] != "ES256":
                raise ProtocolViolation(f"EC key must be crv P-256, alg ES256: {jwk!r}")
            if not isinstance(jwk.get("y"), str):
                raise ProtocolViolation(f"EC key lacks y: {jwk!r}")
        else:
            raise ProtocolViolation(f"unsupported kty {jwk['kty']!r}: {jwk!r}")
        public_key_from_jwk(jwk)  # must decode to a real key
        if jwk["kid"] in by_kid:
            raise ProtocolViolation(f"duplicate kid {jwk['kid']!r} in JWKS")
        by_kid[jwk["kid"]] = jwk
    return by_kid


@dataclass(frozen=True)
class Record:
    """A verified record: the compact JWS, its header and payload."""

    compact: str
    header: dict[str, Any]
    payload: dict[str, Any]
    nonce: str  # the nonce of the request it answers
    response: httpx.Response | None = None

    @property
    def status(self) -> str:
        return self.payload["status"]

    @property
    def locks(self) -> list[dict[str, Any]]:
        return self.payload["locks"]

    @property
    def owner(self) -> dict[str, Any] | None:
        return self.payload["owner"]

    def lock(self, kind: str) -> dict[str, Any] | None:
        return next((lock for lock in self.locks if lock.get("kind") == kind), None)


def verify_record(
    compact: str,
    keys_by_kid: Mapping[str, Mapping[str, Any]],
    *,
    device_id: str,
    nonce: str,
    now: float | None = None,
    strict_schema: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a record exactly as a device does; return ``(header, payload)``.

    Raises :class:`RecordVerificationError` on: not a compact JWS, header ``typ`` not
    ``tenure-record+jwt``, ``alg`` not Ed25519/ES256 or not matching the key, unknown
    ``kid``, bad signature, ``sub`` != device id, ``nonce`` != the nonce sent, ``exp`` not
    in the future, ``status`` not ``locked`` exactly when ``locks`` is non-empty, and (with
    ``strict_schema``) any payload member missing or of the wrong shape.
    """

    def fail(message: str) -> RecordVerificationError:
        return RecordVerificationError(f"record rejected: {message}; record={compact!r}")

    if not isinstance(compact, str):
        raise fail("record is not a string")
    parts = compact.split(".")
    if len(parts) != 3:
        raise fail("not a compact JWS (need 3 dot-separated parts)")
    try:
        header = json.loads(b64u_decode(parts[0]))
        payload = json.loads(b64u_decode(parts[1]))
        signature = b64u_decode(parts[2])
    except ValueError as exc:
        raise fail(f"undecodable part: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise fail("header and payload must be JSON objects")

    if header.get("typ") != RECORD_TYP:
        raise fail(f"header typ is {header.get('typ')!r}, expected {RECORD_TYP!r}")
    alg = header.get("alg")
    if alg not in KEY_TYPES:
        raise fail(f"header alg {alg!r} is not Ed25519 or ES256")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys_by_kid:
        raise fail(f"header kid {kid!r} is not in the JWKS ({sorted(keys_by_kid)})")
    jwk = keys_by_kid[kid]
    if jwk.get("alg") != alg:
        raise fail(f"header alg {alg!r} does not match the JWK alg {jwk.get('alg')!r}")
    key = public_key_from_jwk(jwk)
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    try:
        if alg == "Ed25519":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise fail("alg Ed25519 but the JWKS key is not Ed25519")
            key.verify(signature, signing_input)
        else:
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise fail("alg ES256 but the JWKS key is not P-256")
            if len(signature) != 64:
                raise fail(f"ES256 signature must be raw R||S of 64 bytes, got {len(signature)}")
            key.verify(raw_to_der_signature(signature), signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise fail(f"signature does not verify with server key {kid!r}") from exc

    if payload.get("sub") != device_id:
        raise fail(f"sub is {payload.get('sub')!r}, expected {device_id!r}")
    if payload.get("nonce") != nonce:
        raise fail(f"nonce is {payload.get('nonce')!r}, expected the nonce sent {nonce!r}")
    now = time.time() if now is None else now
    exp = payload.get("exp")
    if not _is_int(exp):
        raise fail(f"exp must be integer Unix seconds, got {exp!r}")
    if exp <= now:
        raise fail(f"exp {exp} is not in the future (now {int(now)})")
    status, locks = payload.get("status"), payload.get("locks")
    if status not in RECORD_STATUSES:
        raise fail(f"status {status!r} is not 'activated' or 'locked'")
    if not isinstance(locks, list):
        raise fail(f"locks must be a list, got {locks!r}")
    if (status == "locked") != bool(locks):
        raise fail(f"status {status!r} with locks {locks!r}: locked iff locks non-empty")

    if strict_schema:
        _check_record_schema(payload, now, fail)
    return header, payload


def _check_record_schema(
    payload: Mapping[str, Any], now: float, fail: Callable[[str], RecordVerificationError]
) -> None:
    for member in ("iss", "iat", "owner", "commands", "next_checkin", "policy_version"):
        if member not in payload:
            raise fail(f"payload lacks {member!r}")
    if not isinstance(payload["iss"], str) or not payload["iss"]:
        raise fail("iss must be a non-empty string")
    iat = payload["iat"]
    if not _is_int(iat):
        raise fail(f"iat must be integer Unix seconds, got {iat!r}")
    if iat > payload["exp"]:
        raise fail("iat is after exp")
    if iat > now + 300:
        raise fail(f"iat {iat} is in the future (now {int(now)})")
    for lock in payload["locks"]:
        if not isinstance(lock, dict):
            raise fail(f"lock is not an object: {lock!r}")
        kind = lock.get("kind")
        if kind not in LOCK_KINDS:
            raise fail(f"lock kind {kind!r} not one of {sorted(LOCK_KINDS)}")
        if not isinstance(lock.get("message"), str):
            raise fail(f"lock lacks a string message: {lock!r}")
        if kind == "owner" and not isinstance(lock.get("hint"), str):
            raise fail(f"owner lock lacks a string hint: {lock!r}")
        if kind == "territory" and not isinstance(lock.get("territory"), str):
            raise fail(f"territory lock lacks a territory code: {lock!r}")
        if (
            "contact" in lock
            and lock["contact"] is not None
            and not isinstance(lock["contact"], str)
        ):
            raise fail(f"lock contact must be a string: {lock!r}")
        if "until" in lock and lock["until"] is not None and not _is_int(lock["until"]):
            raise fail(f"lock until must be integer Unix seconds: {lock!r}")
    owner = payload["owner"]
    if owner is not None and not (isinstance(owner, dict) and isinstance(owner.get("hint"), str)):
        raise fail(f'owner must be null or {{"hint": "..."}}, got {owner!r}')
    commands = payload["commands"]
    if not isinstance(commands, list):
        raise fail(f"commands must be a list, got {commands!r}")
    for command in commands:
        if not isinstance(command, dict) or not isinstance(command.get("id"), str):
            raise fail(f"command lacks a string id: {command!r}")
        if command.get("type") not in COMMAND_TYPES:
            raise fail(f"command type not one of {sorted(COMMAND_TYPES)}: {command!r}")
    if not _is_int(payload["next_checkin"]) or payload["next_checkin"] < 0:
        raise fail(
            f"next_checkin must be non-negative integer seconds: {payload['next_checkin']!r}"
        )
    if not _is_int(payload["policy_version"]):
        raise fail(f"policy_version must be an integer: {payload['policy_version']!r}")


def check_nonce_format(nonce: str | None, where: str = "Replay-Nonce") -> str:
    """A nonce is b64u of >= 16 bytes; raise :class:`ProtocolViolation` otherwise."""
    if not nonce:
        raise ProtocolViolation(f"{where}: missing or empty nonce")
    try:
        raw = b64u_decode(nonce)
    except ValueError as exc:
        raise ProtocolViolation(
            f"{where}: nonce {nonce!r} is not base64url without padding"
        ) from exc
    if len(raw) < MIN_NONCE_BYTES:
        raise ProtocolViolation(
            f"{where}: nonce {nonce!r} decodes to {len(raw)} bytes, need >= {MIN_NONCE_BYTES}"
        )
    return nonce


# --------------------------------------------------------------------------- the client


@dataclass(frozen=True)
class Exchange:
    """One signed device request and the server's answer."""

    path: str
    nonce: str  # the nonce this request carried
    body: bytes
    response: httpx.Response

    @property
    def status_code(self) -> int:
        return self.response.status_code


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: int
    response: httpx.Response


class TenureClient:
    """Device and account client for a Tenure server at ``base_url``.

    The client keeps the ``Replay-Nonce`` of the last answer and uses it for the next
    signed request; only when it has none does it ask ``HEAD /v1/device/nonce``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        strict_schema: bool = True,
    ) -> None:
        kwargs: dict[str, Any] = {"base_url": base_url, "timeout": timeout}
        if transport is not None:
            kwargs["transport"] = transport
        self.http = httpx.Client(follow_redirects=False, **kwargs)
        self.nonce: str | None = None
        self.strict_schema = strict_schema
        self.exchanges: list[Exchange] = []
        self._keys_by_kid: dict[str, dict[str, Any]] | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TenureClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- nonces

    def nonce_response(self, method: str = "HEAD") -> httpx.Response:
        """The raw answer of ``GET``/``HEAD /v1/device/nonce`` (also remembers the nonce)."""
        response = self.http.request(method, NONCE_PATH)
        self._remember_nonce(response)
        return response

    def fetch_nonce(self, method: str = "HEAD") -> str:
        """A fresh nonce from the nonce endpoint, checked against the contract."""
        response = self.nonce_response(method)
        allowed = (200,) if method.upper() == "GET" else (200, 204)
        if response.status_code not in allowed:
            raise ProtocolViolation(f"{method} {NONCE_PATH}: status {response.status_code}")
        nonce = check_nonce_format(response.headers.get("replay-nonce"), f"{method} {NONCE_PATH}")
        directives = {
            d.strip().lower() for d in response.headers.get("cache-control", "").split(",")
        }
        if "no-store" not in directives:
            raise ProtocolViolation(
                f"{method} {NONCE_PATH}: Cache-Control is "
                f"{response.headers.get('cache-control')!r}, expected no-store"
            )
        return nonce

    def take_nonce(self) -> str:
        """The nonce for the next request: the last Replay-Nonce, else a fetched one."""
        nonce = self.nonce
        self.nonce = None
        if nonce is None:
            nonce = self.fetch_nonce("HEAD")
            self.nonce = None
        return nonce

    def _remember_nonce(self, response: httpx.Response) -> None:
        fresh = response.headers.get("replay-nonce")
        if fresh:
            self.nonce = fresh

    # ---- raw signed requests

    def post_raw(self, path: str, body: bytes, *, content_type: str = JOSE_JSON) -> httpx.Response:
        """POST bytes verbatim to a device endpoint; remembers the answer's Replay-Nonce."""
        response = self.http.post(path, content=body, headers={"Content-Type": content_type})
        self._remember_nonce(response)
        return response

    def signed_request(
        self,
        device: DeviceIdentity,
        path: str,
        payload: Any,
        *,
        nonce: str | None = None,
        alg: str | None = None,
        kid: str | None = None,
        url: str | None = None,
        signer: Signer | None = None,
        extra_header: Mapping[str, Any] | None = None,
        retry_bad_nonce: bool = True,
        body_hook: Callable[[bytes], bytes] | None = None,
    ) -> Exchange:
        """Sign ``payload`` for ``device`` and POST it to ``path``.

        On ``400 urn:tenure:problem:bad-nonce`` the request is rebuilt once with the
        fresh ``Replay-Nonce`` of that answer (unless ``retry_bad_nonce`` is false).
        ``body_hook`` may rewrite the serialized body (negative tests).
        """

        def attempt(use_nonce: str) -> Exchange:
            body = signed_body(
                device,
                nonce=use_nonce,
                url=path if url is None else url,
                payload=payload,
                alg=alg,
                kid=kid,
                signer=signer,
                extra_header=extra_header,
            )
            raw = json_bytes(body)
            if body_hook is not None:
                raw = body_hook(raw)
            response = self.post_raw(path, raw)
            exchange = Exchange(path=path, nonce=use_nonce, body=raw, response=response)
            self.exchanges.append(exchange)
            return exchange

        exchange = attempt(nonce if nonce is not None else self.take_nonce())
        if retry_bad_nonce and is_problem(exchange.response, "bad-nonce", 400):
            fresh = exchange.response.headers.get("replay-nonce")
            if fresh:
                self.nonce = None
                exchange = attempt(fresh)
        return exchange

    # ---- verified device calls

    def device_call(
        self, device: DeviceIdentity, path: str, payload: Mapping[str, Any], **kwargs: Any
    ) -> Record:
        """A signed device call that must succeed with a valid record.

        Raises :class:`ProblemError` for a well-formed problem answer and
        :class:`ProtocolViolation` for anything that breaks the contract.
        """
        exchange = self.signed_request(device, path, payload, **kwargs)
        response = exchange.response
        require_replay_nonce(response)
        if response.status_code != 200:
            raise ProblemError(parse_problem(response), response)
        if media_type(response) != "application/json":
            raise ProtocolViolation(
                f"record answer must be application/json: {_describe(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolViolation(f"record answer is not JSON: {_describe(response)}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("record"), str):
            raise ProtocolViolation(f'answer must be {{"record": "<JWS>"}}: {_describe(response)}')
        header, record_payload = self.verify_record(
            body["record"], device_id=device.device_id, nonce=exchange.nonce
        )
        return Record(
            compact=body["record"],
            header=header,
            payload=record_payload,
            nonce=exchange.nonce,
            response=response,
        )

    def activation(
        self,
        device: DeviceIdentity,
        *,
        signals: Mapping[str, Any] | None = None,
        account_token: str | None = None,
        bypass_code: str | None = None,
        **kwargs: Any,
    ) -> Record:
        payload: dict[str, Any] = {"signals": dict(signals or {})}
        if account_token is not None:
            payload["account_token"] = account_token
        if bypass_code is not None:
            payload["bypass_code"] = bypass_code
        return self.device_call(device, ACTIVATION_PATH, payload, **kwargs)

    def bind(self, device: DeviceIdentity, account_token: str, **kwargs: Any) -> Record:
        return self.device_call(device, BIND_PATH, {"account_token": account_token}, **kwargs)

    def unbind(self, device: DeviceIdentity, account_token: str, **kwargs: Any) -> Record:
        return self.device_call(device, UNBIND_PATH, {"account_token": account_token}, **kwargs)

    def checkin(
        self,
        device: DeviceIdentity,
        *,
        signals: Mapping[str, Any] | None = None,
        acks: Sequence[str] = (),
        **kwargs: Any,
    ) -> Record:
        payload = {"signals": dict(signals or {}), "acks": list(acks)}
        return self.device_call(device, CHECKIN_PATH, payload, **kwargs)

    # ---- server keys and records

    def jwks_response(self) -> httpx.Response:
        return self.http.get(KEYS_PATH)

    def jwks(self) -> dict[str, Any]:
        """``GET /v1/keys``, checked against the documented shape."""
        response = self.jwks_response()
        if response.status_code != 200:
            raise ProtocolViolation(f"GET {KEYS_PATH}: {_describe(response)}")
        try:
            jwks = response.json()
        except ValueError as exc:
            raise ProtocolViolation(f"GET {KEYS_PATH} is not JSON: {_describe(response)}") from exc
        self._keys_by_kid = validate_jwks(jwks)
        return jwks

    def keys_by_kid(self, *, refresh: bool = False) -> dict[str, dict[str, Any]]:
        if self._keys_by_kid is None or refresh:
            self.jwks()
        assert self._keys_by_kid is not None
        return self._keys_by_kid

    def verify_record(
        self, compact: str, *, device_id: str, nonce: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        keys = self.keys_by_kid()
        try:
            kid = json.loads(b64u_decode(compact.split(".")[0])).get("kid")
        except (ValueError, AttributeError):
            kid = None
        if kid is not None and kid not in keys:
            keys = self.keys_by_kid(refresh=True)  # the key ring may have rotated
        return verify_record(
            compact,
            keys,
            device_id=device_id,
            nonce=nonce,
            strict_schema=self.strict_schema,
        )

    # ---- accounts

    def post_json(self, path: str, obj: Any, *, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.post(path, json=obj, headers=headers)
        self._remember_nonce(response)
        return response

    def create_account(self, email: str, password: str) -> httpx.Response:
        response = self.post_json(ACCOUNTS_PATH, {"email": email, "password": password})
        return _expect(response, 201)

    def create_session(self, email: str, password: str, totp: str | None = None) -> Session:
        obj: dict[str, Any] = {"email": email, "password": password}
        if totp is not None:
            obj["totp"] = totp
        response = _expect(self.post_json(SESSIONS_PATH, obj), 201)
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolViolation(f"session answer is not JSON: {_describe(response)}") from exc
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("token"), str)
            or not body["token"]
        ):
            raise ProtocolViolation(f"session answer lacks a token: {_describe(response)}")
        if not _is_int(body.get("expires_at")):
            raise ProtocolViolation(
                f"session expires_at must be Unix seconds: {_describe(response)}"
            )
        return Session(token=body["token"], expires_at=body["expires_at"], response=response)

    def my_devices(self, token: str) -> list[dict[str, Any]]:
        response = _expect(
            self.http.get(MY_DEVICES_PATH, headers={"Authorization": f"Bearer {token}"}), 200
        )
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolViolation(
                f"GET {MY_DEVICES_PATH} not JSON: {_describe(response)}"
            ) from exc
        if not isinstance(body, dict) or not isinstance(body.get("devices"), list):
            raise ProtocolViolation(f'expected {{"devices": [...]}}: {_describe(response)}')
        for entry in body["devices"]:
            if not isinstance(entry, dict):
                raise ProtocolViolation(f"device entry is not an object: {entry!r}")
            missing = [
                m for m in ("device_id", "model", "claims", "last_checkin") if m not in entry
            ]
            if missing:
                raise ProtocolViolation(f"device entry lacks {missing}: {entry!r}")
            if not isinstance(entry["claims"], list):
                raise ProtocolViolation(f"device entry claims must be a list: {entry!r}")
        return body["devices"]

    def release_device(self, token: str, device_id: str) -> httpx.Response:
        response = self.http.delete(
            f"{MY_DEVICES_PATH}/{device_id}", headers={"Authorization": f"Bearer {token}"}
        )
        return _expect(response, 204)


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code == status:
        return response
    if 400 <= response.status_code < 600:
        raise ProblemError(parse_problem(response), response)
    raise ProtocolViolation(f"expected {status}: {_describe(response)}")


def is_problem(response: httpx.Response, name: str, status: int | None = None) -> bool:
    """Whether ``response`` is the problem ``urn:tenure:problem:<name>`` (loosely checked)."""
    if status is not None and response.status_code != status:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("type") == PROBLEM_PREFIX + name


def require_replay_nonce(response: httpx.Response) -> str:
    """Every device endpoint answer carries a fresh, well-formed ``Replay-Nonce``."""
    return check_nonce_format(
        response.headers.get("replay-nonce"),
        f"Replay-Nonce of {response.request.method} {response.request.url.path} "
        f"({response.status_code})",
    )


def assert_problem(
    response: httpx.Response, name: str, status: int, *, device: bool = False
) -> Problem:
    """Assert ``response`` is exactly problem ``name`` with ``status``.

    With ``device=True`` also asserts the answer carries a well-formed ``Replay-Nonce``.
    """
    if response.status_code != status or not is_problem(response, name):
        raise ProtocolViolation(
            f"expected {status} {PROBLEM_PREFIX}{name}, got {_describe(response)}"
        )
    problem = parse_problem(response)
    if device:
        require_replay_nonce(response)
    return problem
