"""Public and private keys of the two families the protocol allows: Ed25519 and P-256."""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tenure.domain.errors import KeyRejected

from .b64 import b64u_encode

KeyType = Literal["Ed25519", "P-256"]
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

# JWS alg names each key type may be used with (RFC 9864 `Ed25519`, RFC 8037 `EdDSA`).
ALGS_FOR_KEY: dict[KeyType, frozenset[str]] = {
    "Ed25519": frozenset({"Ed25519", "EdDSA"}),
    "P-256": frozenset({"ES256"}),
}
SIGNING_ALG: dict[KeyType, str] = {"Ed25519": "Ed25519", "P-256": "ES256"}


# A key that is not one the protocol accepts: part of the one error tree.
KeyError_ = KeyRejected


@dataclass(frozen=True)
class VerifyingKey:
    key_type: KeyType
    key: PublicKey

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Verify a JWS signature (ES256 as raw R‖S, 64 bytes)."""
        try:
            if isinstance(self.key, ed25519.Ed25519PublicKey):
                self.key.verify(signature, data)
            else:
                if len(signature) != 64:
                    return False
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                self.key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True

    def spki_der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, str]:
        if isinstance(self.key, ed25519.Ed25519PublicKey):
            raw = self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}
        numbers = self.key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u_encode(numbers.x.to_bytes(32, "big")),
            "y": b64u_encode(numbers.y.to_bytes(32, "big")),
        }


@dataclass(frozen=True)
class SigningKey:
    key_type: KeyType
    key: PrivateKey

    @classmethod
    def generate(cls, key_type: KeyType = "Ed25519") -> SigningKey:
        if key_type == "Ed25519":
            return cls(key_type, ed25519.Ed25519PrivateKey.generate())
        return cls(key_type, ec.generate_private_key(ec.SECP256R1()))

    @property
    def alg(self) -> str:
        return SIGNING_ALG[self.key_type]

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public(self) -> VerifyingKey:
        return VerifyingKey(self.key_type, self.key.public_key())

    def to_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return cls("Ed25519", key)
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return cls("P-256", key)
        raise KeyError_("only Ed25519 and P-256 private keys are supported")


def _from_public(key: object) -> VerifyingKey:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return VerifyingKey("Ed25519", key)
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyError_(f"EC curve {key.curve.name} is not allowed (only P-256)")
        return VerifyingKey("P-256", key)
    raise KeyError_(f"{type(key).__name__.removeprefix('_')} keys are not allowed")


def load_public_key(text: str) -> VerifyingKey:
    """Parse a device public key given as PEM or base64 DER SubjectPublicKeyInfo."""
    return load_public_key_der(text)[0]


def load_public_key_der(text: str) -> tuple[VerifyingKey, bytes]:
    """The key and its DER SubjectPublicKeyInfo (what is stored), parsed once."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = _from_public(serialization.load_pem_public_key(text.encode("ascii")))
            return key, key.spki_der()
        der = base64.b64decode(text.replace("\n", "") if "\n" in text else text, validate=True)
        return _from_public(serialization.load_der_public_key(der)), der
    except (ValueError, binascii.Error, TypeError, UnicodeEncodeError) as exc:
        if isinstance(exc, KeyError_):
            raise
        raise KeyError_("public_key is not a PEM or base64 DER SubjectPublicKeyInfo") from exc


# An Ed25519 SubjectPublicKeyInfo is these 12 bytes and the 32-byte key (RFC 8410), i.e.
# 60 base64 characters starting with this text. Any 32 bytes load as an Ed25519 public
# key (cryptography checks nothing more), so the prefix is the whole check.
_ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")
_ED25519_SPKI_B64 = "MCowBQYDK2VwAyEA"
# A P-256 key with an uncompressed point (RFC 5480): these 27 bytes, then X and Y, 124
# base64 characters. Such a point is valid when both coordinates are below the field
# prime and y² = x³ − 3x + b (with cofactor 1, every such point has the group's
# order): the checks OpenSSL makes, a property test holds them equal.
_P256_SPKI = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004")
_P256_SPKI_B64 = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"
_P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
_P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B


def _on_p256(x: int, y: int) -> bool:
    p = _P256_P
    return x < p and y < p and (y * y - (x * x * x - 3 * x + _P256_B)) % p == 0


def public_key_type_der(text: str) -> tuple[KeyType, bytes]:
    """What a provisioning import stores of a key: its type and DER, without building
    a key object for the usual base64 Ed25519 or P-256 key (a tenth of the cost of
    parsing it; imports read millions). Anything else, and every refusal, as
    load_public_key_der."""
    text = text.strip()
    if len(text) == 60 and text.startswith(_ED25519_SPKI_B64):
        der = _b64_or_empty(text)
        if len(der) == 44 and der.startswith(_ED25519_SPKI):
            return "Ed25519", der
    elif len(text) == 124 and text.startswith(_P256_SPKI_B64):
        der = _b64_or_empty(text)
        if len(der) == 91 and der.startswith(_P256_SPKI) and _on_p256(
                int.from_bytes(der[27:59], "big"), int.from_bytes(der[59:], "big")):
            return "P-256", der
    key, der = load_public_key_der(text)
    return key.key_type, der


def _b64_or_empty(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return b""


@functools.lru_cache(maxsize=100_000)
def load_spki_der(der: bytes) -> VerifyingKey:
    """Parsed keys are cached by their bytes: a device's registered key never changes,
    and parsing DER costs as much as a third of a signature check."""
    return _from_public(serialization.load_der_public_key(der))


def verifying_key_from_jwk(jwk: dict[str, str]) -> VerifyingKey:
    """Build a key from a JWKS entry (how a device pins server keys)."""
    from .b64 import b64u_decode

    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        return VerifyingKey(
            "Ed25519", ed25519.Ed25519PublicKey.from_public_bytes(b64u_decode(jwk["x"]))
        )
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64u_decode(jwk["x"]), "big"),
            int.from_bytes(b64u_decode(jwk["y"]), "big"),
            ec.SECP256R1(),
        )
        return VerifyingKey("P-256", numbers.public_key())
    raise KeyError_("unsupported JWK")
