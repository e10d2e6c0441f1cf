"""The one rule for text that people type and other people (or databases) read.

JSON lets a client send what no database or screen should receive: an unpaired
surrogate (`"\\ud800"`: not a character, cannot be encoded as UTF-8, so the write
fails), a NUL (PostgreSQL text cannot hold it), and other control characters that
rewrite a lock screen or a log line. Every field a person enters — lost-mode
message and contact, email addresses, policy texts, reasons — goes through
`clean_text` (or `text_problem` where the caller collects problems) before it is
stored or shown.

Allowed: any Unicode scalar value except the C0 controls (U+0000-U+001F), DEL and
the C1 controls (U+0080-U+009F); newline and tab only in multi-line fields. Carriage
returns are never kept: a multi-line field's CRLF and CR become LF first.
"""

from __future__ import annotations

import re

from .errors import InvalidInput

SINGLE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: object, *, max_length: int, multiline: bool = False,
                 required: bool = True) -> str | None:
    """Why `value` is not acceptable text, or None. Length counts characters after
    surrounding whitespace is removed."""
    if not isinstance(value, str):
        return "must be a string"
    stripped = value.strip()
    if required and not stripped:
        return "must not be empty"
    if len(stripped) > max_length:
        return f"must be at most {max_length} characters"
    bad = (_MULTI_LINE_BAD if multiline else SINGLE_LINE_BAD).search(
        stripped.replace("\r\n", "\n").replace("\r", "\n") if multiline else stripped)
    if bad is None:
        return None
    char = bad.group()
    if "\ud800" <= char <= "\udfff":
        return "contains an unpaired surrogate (not a character)"
    if char == "\n":
        return "must be a single line"
    return f"contains the control character U+{ord(char):04X}"


def clean_text(value: object, field: str, *, max_length: int, multiline: bool = False,
               required: bool = True) -> str:
    """The text stripped of surrounding whitespace (line breaks normalised to LF in a
    multi-line field); InvalidInput naming the field and the reason otherwise."""
    if value is None and not required:
        return ""
    problem = text_problem(value, max_length=max_length, multiline=multiline,
                           required=required)
    if problem is not None:
        raise InvalidInput(f"{field!r} {problem}.")
    assert isinstance(value, str)
    stripped = value.strip()
    return stripped.replace("\r\n", "\n").replace("\r", "\n") if multiline else stripped
