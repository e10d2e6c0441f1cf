"""Organization bypass codes (docs/protocol.md Part 2, "Organization"): their format,
how typed input is read, and the hash the server keeps.

A code is 16 random bytes written as 26 characters of `0123456789ACDEFGHJKLMNPQRTUVWXYZ`
(base 32 without B, I, O and S, which read like 8, 1, 0 and 5), grouped
`XXXXX-XXXXX-XXXX-XXXX-XXXX-XXXX` for reading aloud. Input is case-insensitive and its
dashes are optional.

Why PBKDF2-SHA256 with few iterations: the contract names argon2id or PBKDF2-SHA256, and
PBKDF2 is in the standard library. A code carries 128 random bits, so nothing about
guessing it offline depends on the stretch — even a bare SHA-256 of it could not be
searched — and guessing online is what the wrong-code throttle stops. A per-code random
salt keeps equal hashes from ever showing equal codes; the modest iteration count keeps
the check cheap inside a device's activation request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

ALPHABET = "0123456789ACDEFGHJKLMNPQRTUVWXYZ"
RAW_BYTES = 16
LENGTH = 26  # ceil(128 / 5)
GROUPS = (5, 5, 4, 4, 4, 4)
ITERATIONS = 10_000
SCHEME = "pbkdf2_sha256"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def format_code(raw: bytes) -> str:
    """16 random bytes as the grouped code a person reads."""
    if len(raw) != RAW_BYTES:
        raise ValueError("a bypass code is made of 16 bytes")
    number = int.from_bytes(raw, "big")
    digits = []
    for _ in range(LENGTH):
        number, digit = divmod(number, 32)
        digits.append(ALPHABET[digit])
    text = "".join(reversed(digits))
    parts, start = [], 0
    for size in GROUPS:
        parts.append(text[start:start + size])
        start += size
    return "-".join(parts)


def normalise(presented: str) -> str | None:
    """The 26 characters of a typed code (upper case, dashes and surrounding blanks
    dropped), or None when it cannot be a code at all."""
    if len(presented) > 64:
        return None
    text = presented.strip().upper().replace("-", "")
    if len(text) != LENGTH or any(c not in _VALUE for c in text):
        return None
    number = 0
    for c in text:
        number = number * 32 + _VALUE[c]
    return text if number < 1 << (8 * RAW_BYTES) else None


def hash_code(code: str, salt: bytes, iterations: int = ITERATIONS) -> str:
    """`pbkdf2_sha256$<iterations>$<salt>$<hash>` of the normalised code."""
    canonical = normalise(code)
    if canonical is None:
        raise ValueError("not a bypass code")
    derived = hashlib.pbkdf2_hmac("sha256", canonical.encode(), salt, iterations)
    return "$".join((SCHEME, str(iterations), _b64(salt), _b64(derived)))


def matches(presented: str, stored: str) -> bool:
    """Whether a typed code is the one `stored` is the hash of (constant-time compare)."""
    canonical = normalise(presented)
    try:
        scheme, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
        salt_bytes = base64.urlsafe_b64decode(salt + "=" * (-len(salt) % 4))
    except ValueError:
        return False
    if canonical is None or scheme != SCHEME or not 0 < rounds <= 10 * ITERATIONS:
        return False
    return hmac.compare_digest(hash_code(canonical, salt_bytes, rounds), stored)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
