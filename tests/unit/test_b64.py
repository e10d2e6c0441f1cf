"""base64url without padding (RFC 7515 §2), the encoding of every JWS part and nonce.

Strict decoding matters: one value must have one spelling, or a nonce or token stored
as text can be presented again under another spelling.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.crypto.b64 import b64u_decode, b64u_encode


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_round_trip_without_padding(data: bytes) -> None:
    text = b64u_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64u_decode(text) == data
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("text", ["AA==", "AAA=", "A", "AAAAA", "a+b/", "ab cd", "ab\ncd",
                                  "AA\n", "\u0661\u0662"])
def test_refuses_padding_other_alphabets_and_impossible_lengths(text: str) -> None:
    with pytest.raises(ValueError):
        b64u_decode(text)


@pytest.mark.parametrize("value", [None, b"AAAA", 12])
def test_refuses_non_text(value: object) -> None:
    with pytest.raises(ValueError):
        b64u_decode(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("canonical", "other"), [("AQ", "AR"), ("AAE", "AAF"), ("AA", "AB")])
def test_refuses_non_canonical_spelling(canonical: str, other: str) -> None:
    """Only the spelling b64u_encode produces is accepted (RFC 4648 §3.5 'canonical')."""
    assert b64u_encode(b64u_decode(canonical)) == canonical
    with pytest.raises(ValueError):
        b64u_decode(other)
