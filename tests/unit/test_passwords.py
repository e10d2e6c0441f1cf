"""Password rules (PROTOCOL.md: 12-128 characters, not common) and argon2id storage."""

from __future__ import annotations

import pytest

from tenure.config import load_settings
from tenure.crypto.passwords import (
    DUMMY_PASSWORD,
    STANDARD_DUMMY_HASH,
    Argon2,
    hash_password,
    needs_rehash,
    verify_password,
)
from tenure.domain.errors import WeakPassword
from tenure.domain.passwords import MAX_LENGTH, MIN_LENGTH, check_password
from tenure.http.problems import status_of

GOOD = "Tr0ub4dor&3x"  # 12 characters, not in any list


# -- rules ---------------------------------------------------------------------------------

def test_limits_are_those_of_the_protocol() -> None:
    """The protocol promises 12 to 128; a silent change would break clients' own checks."""
    assert (MIN_LENGTH, MAX_LENGTH) == (12, 128)


@pytest.mark.parametrize("password", [GOOD, "correct horse battery", "é" * 6 + "Zq7!x#",
                                      ("Vx9#kP2m" * 16)])
def test_acceptable_passwords_pass(password: str) -> None:
    """12 characters (and up to 128) that are not common are enough; spaces and accents are fine."""
    assert MIN_LENGTH <= len(password) <= MAX_LENGTH
    check_password(password)


def test_eleven_characters_refused_with_the_minimum_named() -> None:
    """The message says what to fix."""
    with pytest.raises(WeakPassword, match="12"):
        check_password(GOOD[:11])


def test_twelve_characters_accepted() -> None:
    check_password(GOOD[:12])


def test_128_characters_accepted_and_129_refused() -> None:
    """A long passphrase up to the limit works; beyond it the message names the maximum."""
    long = ("Vx9#kP2m" * 17)[:128]
    check_password(long)
    with pytest.raises(WeakPassword, match="128"):
        check_password(long + "q")


@pytest.mark.parametrize(
    "password",
    ["passwordpassword", "PasswordPassword", "PASSWORD1234", "Qwerty123456",
     "CorrectHorseBatteryStaple", "aaaaaaaaaaaa"],
)
def test_common_passwords_refused_case_insensitively(password: str) -> None:
    """Capitalising a breached password does not make it safe."""
    with pytest.raises(WeakPassword) as info:
        check_password(password)
    assert info.value.code == "weak-password"
    assert status_of(type(info.value)) == 422  # the HTTP edge answers 422


@pytest.mark.parametrize("password", ["zzzzzzzzzzzzzzzz", "abababababab", "ABABABABABABAB"])
def test_one_or_two_repeated_characters_refused(password: str) -> None:
    """Long but trivially guessable strings are refused even when not in the list."""
    with pytest.raises(WeakPassword):
        check_password(password)


# -- hashing -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stored() -> str:
    """One hash for the module: argon2id is deliberately slow (~0.1 s)."""
    return hash_password(GOOD)


def test_hash_is_argon2id_and_not_the_password(stored: str) -> None:
    """Only argon2id hashes are stored, never the password itself."""
    assert stored.startswith("$argon2id$")
    assert GOOD not in stored


def test_hashes_are_salted(stored: str) -> None:
    """Two accounts with the same password must not share a hash."""
    assert hash_password(GOOD) != stored


def test_verify_accepts_the_right_password(stored: str) -> None:
    assert verify_password(stored, GOOD) is True


def test_verify_refuses_a_wrong_password(stored: str) -> None:
    assert verify_password(stored, GOOD.upper()) is False



@pytest.mark.parametrize("password", [GOOD, DUMMY_PASSWORD])
def test_verify_without_a_stored_hash_is_false(password: str) -> None:
    """An unknown email (no hash) never signs in, not even with the timing-dummy's password."""
    assert verify_password(None, password) is False


def test_verify_refuses_a_damaged_hash() -> None:
    """A damaged row answers "wrong password", not a server error."""
    assert verify_password("$argon2id$not-a-hash", GOOD) is False


def test_empty_stored_hash_never_verifies() -> None:
    """An empty hash (e.g. a password login disabled by an operator) must not open the account."""
    assert verify_password("", DUMMY_PASSWORD) is False


# -- costs ---------------------------------------------------------------------------------

def test_servers_hash_at_the_standard_cost_unless_told_otherwise(stored: str) -> None:
    """argon2id with RFC 9106's low-memory parameters (t=3, 64 MiB, p=4); the test
    suites' cheap cost is only ever chosen by TENURE_PASSWORD_HASH_COST=test."""
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert load_settings({}).password_hash_cost == "standard"
    assert Argon2().cost == "standard"


def test_the_written_down_dummy_hash_costs_what_a_real_hash_costs() -> None:
    """An unknown email is verified against a hash written into the code: it must have
    the standard parameters, or unknown emails would answer faster than known ones."""
    assert STANDARD_DUMMY_HASH.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not needs_rehash(STANDARD_DUMMY_HASH)
    assert verify_password(STANDARD_DUMMY_HASH, DUMMY_PASSWORD) is True


def test_the_test_cost_is_still_argon2id(stored: str) -> None:
    """Cheaper, not fake: salted argon2id that refuses a wrong password, verifies hashes
    of the standard cost, and asks for those to be rehashed at its own."""
    cheap = Argon2("test")
    mine = cheap.hash(GOOD)
    assert mine.startswith("$argon2id$v=19$m=1024,t=1,p=1$") and GOOD not in mine
    assert cheap.hash(GOOD) != mine
    assert cheap.verify(mine, GOOD) is True and cheap.verify(mine, GOOD.upper()) is False
    assert cheap.verify(None, DUMMY_PASSWORD) is False
    assert cheap.verify(stored, GOOD) is True and cheap.needs_rehash(stored)
    assert not cheap.needs_rehash(mine) and needs_rehash(mine)
    with pytest.raises(ValueError, match="unknown password hash cost"):
        Argon2("none")
