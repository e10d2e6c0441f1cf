"""Password rules of docs/protocol.md: 12 to 128 characters and not a commonly used password."""

from __future__ import annotations

from .errors import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 128

# Common passwords of at least 12 characters (breach corpora), compared case-insensitively.
_COMMON = frozenset(
    [
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456789123",
        "1234567891011",
        "111111111111",
        "000000000000",
        "123123123123",
        "qwertyuiopasdfgh",
        "qwertyuiop123",
        "qwertyuiopasdfghjkl",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "qazwsxedcrfv",
        "passwordpassword",
        "password1234",
        "password12345",
        "password123456",
        "password123!",
        "password@123",
        "iloveyou1234",
        "administrator",
        "administrator1",
        "letmein12345",
        "welcome12345",
        "welcome123456",
        "changeme1234",
        "abcdefghijkl",
        "abc123abc123",
        "aaaaaaaaaaaa",
        "asdfghjklqwerty",
        "qwerty123456",
        "qwertyqwerty",
        "1q2w3e4r5t6y7u",
        "football1234",
        "baseball1234",
        "superman1234",
        "trustno1trustno1",
        "princess1234",
        "sunshine1234",
        "starwars1234",
        "monkey123456",
        "dragon123456",
        "master123456",
        "michael12345",
        "jennifer1234",
        "computer1234",
        "internet1234",
        "whatever1234",
        "iloveyouiloveyou",
        "987654321098",
        "098765432109",
        "147258369147",
        "zxcvbnm12345",
        "zxcvbnmasdfghjkl",
        "p@ssw0rd1234",
        "p@ssword1234",
        "passw0rd1234",
        "mypassword123",
        "mypassword12",
        "secretpassword",
        "securepassword",
        "correcthorsebatterystaple",
    ]
)


def is_storable(text: str) -> bool:
    """UTF-8 encodable and free of NUL: what every database and hash can take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def check_password(password: str) -> None:
    """Raise WeakPassword with the reason a user can fix."""
    if not is_storable(password):
        raise WeakPassword("The password contains characters that cannot be used "
                           "(a NUL or an unpaired surrogate).")
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password must have at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"The password must have at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _COMMON or len(set(lowered)) <= 2:
        raise WeakPassword("This password is commonly used; choose another one.")
