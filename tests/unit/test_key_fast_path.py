"""The import's fast key check (public_key_type_der) accepts exactly what cryptography
accepts, with the same type and DER, and refuses with cryptography's own message."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.crypto.keys import KeyError_, load_public_key_der, public_key_type_der

P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d03010703420004")
ED_PREFIX = bytes.fromhex("302a300506032b6570032100")


def b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def same_answer(text: str) -> None:
    try:
        key, der = load_public_key_der(text)
    except KeyError_ as refused:
        with pytest.raises(KeyError_) as fast:
            public_key_type_der(text)
        assert str(fast.value) == str(refused)
        return
    assert public_key_type_der(text) == (key.key_type, der)


def point(key: ec.EllipticCurvePublicKey) -> tuple[int, int]:
    numbers = key.public_numbers()
    return numbers.x, numbers.y


@given(st.binary(min_size=32, max_size=32))
@settings(max_examples=300)
def test_any_32_bytes_are_an_ed25519_key_to_both(raw: bytes) -> None:
    same_answer(b64(ED_PREFIX + raw))


@given(st.integers(0, 2**256 - 1), st.integers(0, 2**256 - 1))
@settings(max_examples=300)
def test_random_p256_coordinates_agree(x: int, y: int) -> None:
    same_answer(b64(P256_PREFIX + x.to_bytes(32, "big") + y.to_bytes(32, "big")))


@pytest.mark.parametrize("variant", ["as is", "y negated", "x + p", "y + p", "y + 1"])
def test_points_on_and_off_the_curve_agree(variant: str) -> None:
    for _ in range(20):
        x, y = point(ec.generate_private_key(ec.SECP256R1()).public_key())
        x, y = {"as is": (x, y), "y negated": (x, P - y), "x + p": (x + P, y),
                "y + p": (x, y + P), "y + 1": (x, (y + 1) % P)}[variant]
        if max(x, y) >= 2**256:
            continue
        same_answer(b64(P256_PREFIX + x.to_bytes(32, "big") + y.to_bytes(32, "big")))


def test_real_keys_and_near_misses() -> None:
    ed = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    es = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for text in (b64(ed), b64(es), f"  {b64(es)}\n", b64(ed)[:-2] + "A=", b64(es)[:-4] + "****",
                 b64(es[:-1]), b64(es + b"\0"), b64(ed + b"\0")):
        same_answer(text)
    assert public_key_type_der(b64(es)) == ("P-256", es)
    assert public_key_type_der(b64(ed)) == ("Ed25519", ed)


def small_x_point() -> tuple[int, int]:
    """A point of P-256 with a small x (p ≡ 3 mod 4: a square root is a power)."""
    b = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
    for x in range(100):
        rhs = (x**3 - 3 * x + b) % P
        y = pow(rhs, (P + 1) // 4, P)
        if y * y % P == rhs:
            return x, y
    raise AssertionError("no point with x < 100")


def test_coordinates_at_or_above_the_prime_are_refused() -> None:
    """x + p names the same point modulo p; OpenSSL refuses such an encoding, and so
    must the fast path (an attacker can find such points)."""
    from tenure.crypto.keys import _on_p256

    x, y = small_x_point()
    same_answer(b64(P256_PREFIX + x.to_bytes(32, "big") + y.to_bytes(32, "big")))
    same_answer(b64(P256_PREFIX + (x + P).to_bytes(32, "big") + y.to_bytes(32, "big")))
    assert _on_p256(x, y) and not _on_p256(x + P, y) and not _on_p256(x, y + P)
