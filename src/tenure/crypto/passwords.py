"""argon2id password hashing; the only form in which a password is ever stored."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's RFC 9106 defaults
# A valid hash of a random string: verified against when an email is unknown, so that
# the answer takes the same time whether or not the account exists.
_DUMMY_HASH = _HASHER.hash("tenure-timing-equaliser-not-a-password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """False for a missing or empty hash too, after the same amount of work."""
    usable = bool(stored_hash)
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        password, usable = "\ufffd", False  # same work, never a match
    try:
        matched = _HASHER.verify(stored_hash if stored_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and usable


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)
