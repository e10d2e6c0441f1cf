"""The one text rule for fields people type: no surrogates, no control characters."""

from __future__ import annotations

import pytest

from tenure.domain.errors import InvalidInput
from tenure.domain.text import clean_text, text_problem


@pytest.mark.parametrize("text", ["Please call Ann", "Bitte anrufen: +49 30 1234567",
                                  "ارجع الهاتف", "見つけたら連絡してください 📱", "a\u200fb"])
def test_ordinary_text_in_any_script_is_accepted(text: str) -> None:
    assert text_problem(text, max_length=100) is None
    assert clean_text(f"  {text} ", "message", max_length=100) == text


@pytest.mark.parametrize(("text", "reason"), [
    ("\ud800", "surrogate"), ("a\udfffb", "surrogate"), ("a\x00b", "U+0000"),
    ("bell\x07", "U+0007"), ("\x1b[2J", "U+001B"), ("del\x7f", "U+007F"),
    ("n\x85el", "U+0085"), ("csi\x9b", "U+009B"), ("tab\there", "U+0009"),
])
def test_surrogates_and_control_characters_are_refused(text: str, reason: str) -> None:
    problem = text_problem(text, max_length=100)
    assert problem is not None and reason in problem
    with pytest.raises(InvalidInput, match="'contact'"):
        clean_text(text, "contact", max_length=100)


def test_line_breaks_only_in_multi_line_fields() -> None:
    assert text_problem("one\ntwo", max_length=100) == "must be a single line"
    assert clean_text("one\r\n\ttwo\rthree", "message", max_length=100,
                      multiline=True) == "one\n\ttwo\nthree"
    assert "U+0000" in (text_problem("one\n\x00", max_length=100, multiline=True) or "")


def test_length_is_counted_after_trimming() -> None:
    assert clean_text("  " + "m" * 10 + "  ", "message", max_length=10) == "m" * 10
    assert text_problem("m" * 11, max_length=10) == "must be at most 10 characters"


@pytest.mark.parametrize("value", [None, 7, ["a"], b"bytes"])
def test_non_strings_are_refused(value: object) -> None:
    assert text_problem(value, max_length=10) == "must be a string"


def test_required_and_optional_fields() -> None:
    assert text_problem("   ", max_length=10) == "must not be empty"
    assert text_problem("", max_length=10, required=False) is None
    assert clean_text(None, "contact", max_length=10, required=False) == ""
    with pytest.raises(InvalidInput):
        clean_text(None, "message", max_length=10)
