"""argon2id password hashing; the only form in which a password is ever stored.

Two costs exist. `standard` is argon2-cffi's RFC 9106 low-memory profile (t=3, 64 MiB,
p=4: about 0.2 s of CPU a hash), the only one a server should use. `test` is still
argon2id, with the lowest time and memory (t=1, 1 MiB, p=1): test suites create
thousands of accounts, and at the standard cost they spent most of their time hashing.
`TENURE_PASSWORD_HASH_COST` picks one (docs/operator-guide.md: testing only).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

COSTS = ("standard", "test")
DUMMY_PASSWORD = "tenure-timing-equaliser-not-a-password"  # noqa: S105 - public on purpose
# A hash of DUMMY_PASSWORD at the standard cost, made once and written down: verified
# against when an email is unknown, so that the answer takes the same time whether or
# not the account exists. Computing it at import cost every process (each CLI command)
# a full hash; tests/unit/test_passwords.py checks that it still has the standard cost.
STANDARD_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$H0eDzJAVDY7i93mhE7n2Yw$"
                   "t87y8dt5MEu79JxAE7TRBUHo7Qm+DiLgYrmT8SiOsJg")


class Argon2:
    """argon2id at one cost: hash, verify (timing-equalised), and say when to rehash."""

    def __init__(self, cost: str = "standard") -> None:
        if cost not in COSTS:
            raise ValueError(f"unknown password hash cost {cost!r}")
        self.cost = cost
        if cost == "standard":
            self._hasher = PasswordHasher()  # argon2id with the library's RFC 9106 defaults
            self._dummy = STANDARD_DUMMY_HASH
        else:
            self._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            self._dummy = self._hasher.hash(DUMMY_PASSWORD)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """False for a missing or empty hash too, after the same amount of work."""
        usable = bool(stored_hash)
        try:
            password.encode("utf-8")
        except UnicodeEncodeError:
            password, usable = "\ufffd", False  # same work, never a match
        try:
            matched = self._hasher.verify(stored_hash if stored_hash else self._dummy,
                                          password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and usable

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than this cost's."""
        return self._hasher.check_needs_rehash(stored_hash)


STANDARD = Argon2("standard")


def hash_password(password: str) -> str:
    return STANDARD.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """False for a missing or empty hash too, after the same amount of work."""
    return STANDARD.verify(stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    return STANDARD.needs_rehash(stored_hash)
