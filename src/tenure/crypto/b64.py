"""base64url without padding (RFC 7515 §2), strict on input."""

from __future__ import annotations

import base64
import binascii
import re

_B64U = re.compile(r"^[A-Za-z0-9_-]*$")


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode, refusing padding, other alphabets and impossible lengths."""
    if not isinstance(text, str) or not _B64U.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    # One spelling per byte string: otherwise the unused low bits of the last character
    # give a nonce (or a signature) several spellings that compare unequal as text.
    if b64u_encode(data) != text:
        raise ValueError("not canonical base64url")
    return data
