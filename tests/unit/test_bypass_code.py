"""Organization bypass codes: format, reading typed input, and the stored hash
(docs/protocol.md Part 2, "Organization")."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.domain import bypass_code as bc

SHAPE = re.compile(r"^[0-9ACDEFGHJKLMNPQRTUVWXYZ]{5}-[0-9ACDEFGHJKLMNPQRTUVWXYZ]{5}"
                   r"(-[0-9ACDEFGHJKLMNPQRTUVWXYZ]{4}){4}$")
SALT = b"s" * 16


def test_the_alphabet_has_32_characters_without_look_alikes() -> None:
    assert len(bc.ALPHABET) == len(set(bc.ALPHABET)) == 32
    assert not set("BIOS") & set(bc.ALPHABET)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(min_size=16, max_size=16))
def test_every_16_bytes_make_one_grouped_code_and_back(raw: bytes) -> None:
    code = bc.format_code(raw)
    assert SHAPE.match(code), code
    canonical = bc.normalise(code)
    assert canonical == code.replace("-", "")
    number = 0
    for c in canonical:
        number = number * 32 + bc.ALPHABET.index(c)
    assert number.to_bytes(16, "big") == raw  # no bit of randomness lost


def test_extreme_values() -> None:
    assert bc.format_code(bytes(16)) == "00000-00000-0000-0000-0000-0000"
    top = bc.format_code(b"\xff" * 16)
    assert top.startswith("7") and bc.normalise(top) is not None
    assert bc.normalise("8" + "0" * 25) is None  # past 128 bits: no code has it


def test_input_is_case_insensitive_and_dashes_are_optional() -> None:
    code = bc.format_code(bytes(range(16)))
    stored = bc.hash_code(code, SALT)
    for typed in (code, code.lower(), code.replace("-", ""), f"  {code.lower()}\n",
                  code.replace("-", "").lower()):
        assert bc.matches(typed, stored), typed


@pytest.mark.parametrize("typed", ["", "O" * 26, "B" * 26, "1234", "0" * 27, "0" * 25,
                                   "0" * 13 + " " + "0" * 13, "x" * 1000])
def test_what_cannot_be_a_code(typed: str) -> None:
    assert bc.normalise(typed) is None
    assert not bc.matches(typed, bc.hash_code(bc.format_code(bytes(16)), SALT))


def test_only_a_salted_hash_is_kept_and_only_its_code_matches() -> None:
    code = bc.format_code(bytes(range(16)))
    other = bc.format_code(bytes(range(1, 17)))
    stored = bc.hash_code(code, SALT)
    assert code.replace("-", "") not in stored and code not in stored
    assert stored.startswith("pbkdf2_sha256$10000$")
    assert bc.hash_code(code, b"t" * 16) != stored  # a salt per code
    assert not bc.matches(other, stored)
    assert not bc.matches(code, "garbage")
    assert not bc.matches(code, stored.replace("pbkdf2_sha256", "md5"))
