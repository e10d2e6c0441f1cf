"""The texts of territory policy: the default messages a restricted device shows, the
placeholders a maker's own message may use (`{maker}`, `{contact}`, `{territory}`), and a
rule's message per language (docs/policy.md, "Messages in several languages").

The defaults are catalog messages (`%(name)s` placeholders, translated where shown); a
maker's own messages use `{name}` placeholders, filled here, and are shown as written.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from string import Formatter
from typing import Any

from .text import text_problem
from .wording import N_, Phrase

DEFAULT_MESSAGE = N_(
    "The policy of %(maker)s does not permit sale or provision of the product to the "
    "territory in which you have attempted to activate it. Please contact %(contact)s "
    "directly for additional information."
)
IN_USE_MESSAGE = N_(
    "The policy of %(maker)s does not permit use of the product in the territory in which "
    "it is being used. Please contact %(contact)s directly for additional information."
)
NOTICE_MESSAGE = N_(
    "The policy of %(maker)s does not permit use of this product in %(territory)s. Unless "
    "the device leaves it, it will be locked from %(when)s. Contact %(contact)s for more "
    "information."
)

PLACEHOLDERS = ("maker", "contact", "territory")
MAX_MESSAGE = 1000
MAX_CONTACT = 255


def fill_placeholders(template: str, values: Mapping[str, str]) -> str:
    """Replace {maker}, {contact}, {territory} literally: braces inside the values are
    text, never format fields."""
    for name in PLACEHOLDERS:
        template = template.replace("{" + name + "}", values[name])
    return template


def placeholder_problems(template: str) -> list[str]:
    try:
        fields = [f for _, f, spec, conv in Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return [f"unbalanced braces ({exc})"]
    return [f"unknown placeholder {{{f}}}" for f in fields if f not in PLACEHOLDERS]


def checked_text(value: Any, where: str, problems: list[str], max_length: int,
          multiline: bool = False) -> str:
    """A text of the document, checked like every text people enter (domain/text.py)."""
    problem = text_problem(value, max_length=max_length, multiline=multiline, required=False)
    if problem is not None:
        problems.append(f"{where}: {problem}")
        return ""
    assert isinstance(value, str)
    return value


def _message(value: Any, where: str, problems: list[str]) -> str:
    message = checked_text(value, where, problems, MAX_MESSAGE, multiline=True)
    for problem in placeholder_problems(message):
        problems.append(f"{where}: {problem}; only {{maker}}, {{contact}} and "
                        "{territory} may be used")
    return message


def read_texts(raw: Mapping[str, Any], where: str, languages: Collection[str],
               problems: list[str]) -> dict[str, Any]:
    """A rule's `message` (English), `contact` and `messages` (language → message, each
    language one the server has a catalog for, other than English)."""
    texts: dict[str, Any] = {
        "message": _message(raw.get("message", ""), f"{where}.message", problems),
        "contact": checked_text(raw.get("contact", ""), f"{where}.contact", problems, MAX_CONTACT),
    }
    raw_messages = raw.get("messages", {})
    messages: list[tuple[str, str]] = []
    if not isinstance(raw_messages, dict):
        problems.append(f"{where}.messages: must be a table of language = \"message\"")
        raw_messages = {}
    if raw_messages and not texts["message"].strip():
        problems.append(f"{where}.messages: give `message` too: the English text, shown "
                        "when the reader's language has none here")
    for language, text in raw_messages.items():
        if language == "en":
            problems.append(f"{where}.messages: English is the rule's `message`; remove 'en'")
            continue
        if language not in languages:
            known = ", ".join(lang for lang in languages if lang != "en") or "none"
            problems.append(f"{where}.messages: {language[:20]!r} is not a language this "
                            f"server has messages for (use a lower-case code of: {known})")
            continue
        message = _message(text, f"{where}.messages.{language}", problems)
        if message.strip():
            messages.append((language, message))
    texts["messages"] = tuple(sorted(messages))
    return texts


def verdict_texts(message: str, messages: tuple[tuple[str, str], ...],
                  fill: Mapping[str, str]) -> dict[str, Any]:
    """What a restricted device shows, for Verdict: the rule's own message (placeholders
    filled) or else the catalog defaults, and the rule's message in each language."""
    own = fill_placeholders(message, fill) if message else ""
    refusal = None if own else Phrase.of(DEFAULT_MESSAGE, **fill)
    in_use = None if own else Phrase.of(IN_USE_MESSAGE, **fill)
    return {
        "message": own or (refusal.english() if refusal else ""),
        "in_use_message": own or (in_use.english() if in_use else ""),
        "phrase": refusal, "in_use_phrase": in_use,
        "notice_phrase": Phrase.of(NOTICE_MESSAGE, **fill),
        "wordings": tuple((lang, fill_placeholders(text, fill)) for lang, text in messages),
    }
