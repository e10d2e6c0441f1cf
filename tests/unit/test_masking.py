"""mask_email(): the hint on a lock screen, which a finder or buyer also sees.

It must let the owner recognise their account and tell a stranger nothing more than
first letters and the top-level domain.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tenure.domain.masking import mask_email


@pytest.mark.parametrize(
    ("email", "hint"),
    [
        ("alice@example.com", "a***@e***.com"),
        ("bob.smith@mail.secretcorp.co.uk", "b***@m***.uk"),
        ("Zoe@Example.ORG", "Z***@E***.ORG"),
        ("x@y.de", "x***@y***.de"),
        ("carol@localhost", "c***@l***"),
    ],
)
def test_hint_shows_first_letters_and_tld(email: str, hint: str) -> None:
    """The documented shape `a***@e***.com`, whatever the length of the parts."""
    assert mask_email(email) == hint


def test_hint_hides_length_of_the_parts() -> None:
    """Short and long names look alike, so the hint does not narrow the guess by length."""
    assert mask_email("al@ex.com") == mask_email("alexander@exceptional.com")


LABEL_CHARS = string.ascii_lowercase + string.digits
labels = st.text(alphabet=LABEL_CHARS, min_size=1, max_size=20)
locals_ = st.text(alphabet=LABEL_CHARS + "._+-", min_size=2, max_size=30)


@settings(max_examples=200, deadline=None)
@given(local=locals_, names=st.lists(labels, min_size=1, max_size=3),
       tld=st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6))
def test_hint_never_contains_local_part_or_domain_name(
    local: str, names: list[str], tld: str,
) -> None:
    """No local part or domain label of two or more characters appears in the hint.

    The TLD is shown on purpose, so a part that is itself a piece of the TLD is skipped.
    """
    email = f"{local}@{'.'.join(names)}.{tld}"
    hint = mask_email(email)
    assert hint == f"{local[0]}***@{names[0][0]}***.{tld}"
    parts = [local, ".".join(names), *names]
    for secret in (part for part in parts if len(part) >= 2):
        assume(secret not in f".{tld}")
        assert secret not in hint
